//! Keyset pagination for list endpoints: `page_size` and an opaque `page_token` in, the next
//! page's address in an RFC 8288 `Link` header out, as Hydra does it.

use axum::http::HeaderValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_core::store::PageRequest;
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiError;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page: 1 to 500 (larger values are clamped), 100 when omitted.
    pub page_size: Option<u32>,
    /// The token from the previous answer's `Link: <…>; rel="next"` header.
    pub page_token: Option<String>,
}

impl PageParams {
    pub fn to_request(&self) -> Result<PageRequest, ApiError> {
        let size = match self.page_size {
            None => PageRequest::DEFAULT_SIZE,
            Some(0) => return Err(ApiError::invalid_request("page_size must be at least 1")),
            Some(n) => n.min(PageRequest::MAX_SIZE),
        };
        let after = match self.page_token.as_deref() {
            None | Some("") => None,
            Some(token) => Some(decode_token(token)?),
        };
        Ok(PageRequest { size, after })
    }
}

/// Page tokens wrap the store's key so callers treat them as opaque and ids with reserved
/// characters survive the query string.
fn encode_token(after: &str) -> String {
    URL_SAFE_NO_PAD.encode(after)
}

fn decode_token(token: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| ApiError::invalid_request("page_token is not one this server issued"))
}

/// `Link: </admin/clients?page_size=100&page_token=…>; rel="next"`, or `None` on the last page.
/// `extra` carries the list's filters (e.g. `search`) so the next page applies them too.
pub fn next_link(
    path: &str,
    size: u32,
    next: Option<&str>,
    extra: &[(&str, &str)],
) -> Option<HeaderValue> {
    let next = next?;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in extra {
        query.append_pair(key, value);
    }
    query.append_pair("page_size", &size.to_string());
    query.append_pair("page_token", &encode_token(next));
    HeaderValue::from_str(&format!("<{path}?{}>; rel=\"next\"", query.finish())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_any_key() {
        for key in ["neoncli", "a b/c?d&e=f", "ünïcode"] {
            let params = PageParams {
                page_size: Some(2),
                page_token: Some(encode_token(key)),
            };
            assert_eq!(
                params.to_request().ok().and_then(|r| r.after).as_deref(),
                Some(key)
            );
        }
    }

    #[test]
    fn size_is_clamped_and_zero_refused() {
        let big = PageParams {
            page_size: Some(10_000),
            page_token: None,
        };
        assert_eq!(
            big.to_request().ok().map(|r| r.size),
            Some(PageRequest::MAX_SIZE)
        );
        assert!(
            PageParams {
                page_size: Some(0),
                page_token: None
            }
            .to_request()
            .is_err()
        );
        assert!(
            PageParams {
                page_size: None,
                page_token: Some("!!".to_owned())
            }
            .to_request()
            .is_err()
        );
    }

    #[test]
    fn link_keeps_filters_and_is_absent_on_the_last_page() {
        let link = next_link("/admin/users", 10, Some("k"), &[("search", "a&b")]);
        let text = link
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            text,
            "</admin/users?search=a%26b&page_size=10&page_token=aw>; rel=\"next\""
        );
        assert!(next_link("/admin/users", 10, None, &[]).is_none());
    }
}
