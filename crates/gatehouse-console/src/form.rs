//! A posted form as name/value pairs (repeated names kept: roles, scopes).

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The fields of an `application/x-www-form-urlencoded` body.
#[derive(Debug, Default, Clone)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed (`""` when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    /// Whether a checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// The lines of a textarea, trimmed, empty ones left out.
    pub fn lines(&self, name: &str) -> Vec<String> {
        self.get(name)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<Vec<(String, String)>>::from_request(request, state).await {
            Ok(axum::Form(pairs)) => Ok(Self(pairs)),
            Err(rejection) => Err((
                StatusCode::BAD_REQUEST,
                format!("the form cannot be read: {rejection}"),
            )
                .into_response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_and_lines_are_kept() {
        let f = Fields::from_pairs(&[
            ("role", "admin"),
            ("role", " reviewer "),
            ("uris", "https://a/cb\r\n\r\n https://b/cb "),
        ]);
        assert_eq!(f.get("role"), "admin");
        assert_eq!(f.all("role"), ["admin", "reviewer"]);
        assert_eq!(f.lines("uris"), ["https://a/cb", "https://b/cb"]);
        assert!(!f.checked("missing"));
    }
}
