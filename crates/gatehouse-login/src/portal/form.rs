//! The app request form: reading it (multipart with a logo, or a plain form), and checking
//! every field before anything reaches the token service, with errors per field and the input
//! kept. The token service checks again (`gatehouse_core`'s registration rules under the
//! operator's policy); what it refuses is shown above the form, the input kept as well.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use gatehouse_core::redirect::validate_registered;

use crate::form::Fields;
use crate::token_client::AppFields;

/// Bounds of the free-text fields, in characters.
pub const MAX_NAME: usize = 100;
pub const MAX_TEXT: usize = 2000;
pub const MAX_URL: usize = 2000;
pub const MAX_REDIRECT_URIS: usize = 20;
/// The whole request body: the logo and the fields.
pub const MAX_BODY_BYTES: usize = crate::portal::logo::MAX_LOGO_BYTES + 64 * 1024;

/// What the partner typed, as typed (shown again when something is wrong).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppForm {
    pub name: String,
    pub description: String,
    pub website: String,
    pub contact_name: String,
    pub reason: String,
    /// One per line.
    pub redirect_uris: String,
    pub scopes: Vec<String>,
    /// `None` until the partner chose.
    pub confidential: Option<bool>,
    pub logo_uri: String,
}

/// A field's problem: the field's name and the message key (`developers.error_*`), with the
/// offending value when the message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub key: &'static str,
    pub value: Option<String>,
}

impl FieldError {
    fn new(field: &'static str, key: &'static str) -> Self {
        Self {
            field,
            key,
            value: None,
        }
    }
}

impl AppForm {
    pub fn from_fields(fields: &Fields) -> Self {
        let text = |name: &str| fields.get(name).unwrap_or_default().trim().to_owned();
        Self {
            name: text("name"),
            description: text("description"),
            website: text("website"),
            contact_name: text("contact_name"),
            reason: text("reason"),
            redirect_uris: fields.get("redirect_uris").unwrap_or_default().to_owned(),
            scopes: fields.get_all("scopes"),
            confidential: match fields.get("confidential") {
                Some("true") => Some(true),
                Some("false") => Some(false),
                _ => None,
            },
            logo_uri: text("logo_uri"),
        }
    }

    /// The form filled with an existing request's fields, for editing.
    pub fn from_app(app: &AppFields) -> Self {
        Self {
            name: app.name.clone(),
            description: app.description.clone(),
            website: app.website.clone(),
            contact_name: app.contact_name.clone(),
            reason: app.reason.clone(),
            redirect_uris: app.redirect_uris.join("\n"),
            scopes: app.scopes.clone(),
            confidential: Some(app.confidential),
            logo_uri: app.logo_uri.clone(),
        }
    }

    /// The redirect URIs, one per non-empty line.
    pub fn redirect_uri_lines(&self) -> Vec<String> {
        self.redirect_uris
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Checks every field; `catalogue` is the visible scopes a partner may request.
    pub fn validate(&self, catalogue: &[String]) -> Result<AppFields, Vec<FieldError>> {
        let mut errors = Vec::new();
        let chars = |s: &str| s.chars().count();
        if self.name.is_empty() {
            errors.push(FieldError::new("name", "developers.error_required"));
        } else if chars(&self.name) > MAX_NAME {
            errors.push(FieldError::new("name", "developers.error_too_long"));
        }
        for (field, value) in [("description", &self.description), ("reason", &self.reason)] {
            if value.is_empty() {
                errors.push(FieldError::new(field, "developers.error_required"));
            } else if chars(value) > MAX_TEXT {
                errors.push(FieldError::new(field, "developers.error_too_long"));
            }
        }
        if self.contact_name.is_empty() {
            errors.push(FieldError::new("contact_name", "developers.error_required"));
        } else if chars(&self.contact_name) > MAX_NAME * 2 {
            errors.push(FieldError::new("contact_name", "developers.error_too_long"));
        }
        if !self.website.is_empty() && !is_https_url(&self.website) {
            errors.push(FieldError::new("website", "developers.error_https"));
        }
        if !self.logo_uri.is_empty() && !is_https_url(&self.logo_uri) {
            errors.push(FieldError::new("logo_uri", "developers.error_https"));
        }
        let uris = self.redirect_uri_lines();
        if uris.is_empty() {
            errors.push(FieldError::new(
                "redirect_uris",
                "developers.error_required",
            ));
        } else if uris.len() > MAX_REDIRECT_URIS {
            errors.push(FieldError::new(
                "redirect_uris",
                "developers.error_too_many_uris",
            ));
        }
        // The registration rules (RFC 6749 §3.1.2, RFC 8252 loopback, no fragment, no
        // javascript:); plain http on other hosts is the operator's policy, which the token
        // service applies.
        if let Some(bad) = uris
            .iter()
            .find(|u| chars(u) > MAX_URL || validate_registered(u, true).is_err())
        {
            errors.push(FieldError {
                field: "redirect_uris",
                key: "developers.error_redirect_uri",
                value: Some(bad.clone()),
            });
        }
        if self.scopes.is_empty() {
            errors.push(FieldError::new("scopes", "developers.error_scopes"));
        } else if self.scopes.iter().any(|s| !catalogue.contains(s)) {
            errors.push(FieldError::new("scopes", "developers.error_unknown_scope"));
        }
        let Some(confidential) = self.confidential else {
            errors.push(FieldError::new("confidential", "developers.error_choose"));
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut scopes = self.scopes.clone();
        scopes.dedup();
        Ok(AppFields {
            name: self.name.clone(),
            description: self.description.clone(),
            website: self.website.clone(),
            contact_name: self.contact_name.clone(),
            reason: self.reason.clone(),
            redirect_uris: uris,
            scopes,
            confidential,
            logo_uri: self.logo_uri.clone(),
        })
    }
}

/// An absolute https URL with a host, short enough to store.
pub fn is_https_url(value: &str) -> bool {
    value.chars().count() <= MAX_URL
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && url::Url::parse(value).is_ok_and(|u| u.scheme() == "https" && u.host().is_some())
}

/// An uploaded file.
pub struct Upload {
    pub bytes: Vec<u8>,
}

/// A submitted form: its fields and the logo file, if one was chosen.
pub struct Submitted {
    pub fields: Fields,
    pub logo: Option<Upload>,
}

/// Why a body could not be read as a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProblem {
    /// Larger than [`MAX_BODY_BYTES`] (the logo is the only thing that can be).
    TooLarge,
    Unreadable,
}

/// Reads a `multipart/form-data` body (with the `logo_file` upload) or an
/// `application/x-www-form-urlencoded` one.
pub async fn read_form(headers: &HeaderMap, body: Body) -> Result<Submitted, BodyProblem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Ok(boundary) = multer::parse_boundary(content_type) else {
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| BodyProblem::TooLarge)?;
        return Ok(Submitted {
            fields: Fields::parse(&bytes),
            logo: None,
        });
    };
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(MAX_BODY_BYTES as u64)
            .per_field(MAX_BODY_BYTES as u64),
    );
    let mut multipart =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut logo = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(problem(&e)),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some();
        let bytes = field.bytes().await.map_err(|e| problem(&e))?;
        if name == "logo_file" {
            if is_file && !bytes.is_empty() {
                logo = Some(Upload {
                    bytes: bytes.to_vec(),
                });
            }
        } else if !is_file {
            let Ok(value) = std::str::from_utf8(&bytes) else {
                return Err(BodyProblem::Unreadable);
            };
            pairs.push((name, value.to_owned()));
        }
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    Ok(Submitted {
        fields: Fields::parse(encoded.as_bytes()),
        logo,
    })
}

fn problem(e: &multer::Error) -> BodyProblem {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            BodyProblem::TooLarge
        }
        _ => BodyProblem::Unreadable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> AppForm {
        AppForm {
            name: "Neon Sync".into(),
            description: "Syncs projects".into(),
            website: "https://sync.example.com".into(),
            contact_name: "Ada".into(),
            reason: "Backups".into(),
            redirect_uris: "https://sync.example.com/cb\r\n\r\nhttp://127.0.0.1/cb\n".into(),
            scopes: vec!["openid".into()],
            confidential: Some(true),
            logo_uri: String::new(),
        }
    }

    fn fields_of(form: &AppForm, catalogue: &[String]) -> Vec<&'static str> {
        form.validate(catalogue)
            .err()
            .unwrap_or_default()
            .iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_good_form_gives_its_fields_with_one_uri_per_line() {
        let app = good().validate(&["openid".into()]);
        assert_eq!(
            app.as_ref().map(|a| a.redirect_uris.clone()),
            Ok(vec![
                "https://sync.example.com/cb".to_owned(),
                "http://127.0.0.1/cb".to_owned()
            ])
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let catalogue = ["openid".to_owned()];
        let form = AppForm {
            website: "http://sync.example.com".into(),
            logo_uri: "javascript:alert(1)".into(),
            redirect_uris: "https://ok.example.com/cb\njavascript:alert(1)".into(),
            scopes: vec!["admin".into()],
            ..good()
        };
        assert_eq!(
            fields_of(&form, &catalogue),
            ["website", "logo_uri", "redirect_uris", "scopes"]
        );
        let empty = AppForm::default();
        assert_eq!(
            fields_of(&empty, &catalogue),
            [
                "name",
                "description",
                "reason",
                "contact_name",
                "redirect_uris",
                "scopes",
                "confidential"
            ]
        );
        for bad in [
            "https://a.example.com/cb#frag",
            "/relative",
            "https://u:p@a.example.com/",
        ] {
            let form = AppForm {
                redirect_uris: bad.into(),
                ..good()
            };
            let errors = form.validate(&catalogue).err().unwrap_or_default();
            assert_eq!(errors.len(), 1, "{bad}");
            assert_eq!(errors[0].value.as_deref(), Some(bad));
        }
        let long = AppForm {
            name: "n".repeat(MAX_NAME + 1),
            ..good()
        };
        assert_eq!(fields_of(&long, &catalogue), ["name"]);
    }
}
