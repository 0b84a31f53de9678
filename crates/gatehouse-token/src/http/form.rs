//! Reading the requests of the form-posting endpoints: the `application/x-www-form-urlencoded`
//! body (RFC 6749 §3.2 and Appendix B) and the `Authorization` header.
//!
//! The body is parsed here, from bytes, rather than by a generic extractor, because OAuth is
//! stricter than HTML forms: a repeated parameter is an error (RFC 6749 §3.2), and a value that
//! does not decode to UTF-8 is refused rather than silently mangled.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::token_request::Form;

use super::error::EndpointError;

/// The largest accepted form body. Token requests are a few hundred bytes; this leaves room for
/// long JWT-shaped tokens sent to revocation or introspection.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Whether the request declares a form body. A `charset` parameter is ignored (clients send all
/// sorts); the body must be UTF-8 whatever it says.
pub(super) fn declares_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(FORM_CONTENT_TYPE))
}

/// The form of a request to the token, revocation or introspection endpoint.
pub(super) fn read_form(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Form, EndpointError> {
    if !declares_form(headers) {
        return Err(OAuthError::invalid_request(
            "the request body must be application/x-www-form-urlencoded",
        )
        .into());
    }
    let bytes = body.map_err(body_error)?;
    Ok(parse_form(&bytes)?)
}

/// Why a body could not be read: too large (413), or broken off.
pub(super) fn body_error(rejection: BytesRejection) -> EndpointError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        EndpointError::payload_too_large()
    } else {
        OAuthError::invalid_request("the request body could not be read").into()
    }
}

/// Parses a form body. `form_urlencoded` decodes lossily (an invalid UTF-8 sequence becomes
/// U+FFFD), so a decoded U+FFFD is taken as a sequence that was not UTF-8 and refused; no OAuth
/// parameter has a use for that character.
pub(super) fn parse_form(bytes: &[u8]) -> Result<Form, OAuthError> {
    let not_utf8 = || {
        OAuthError::invalid_request("the request body must be UTF-8, also after percent-decoding")
    };
    if std::str::from_utf8(bytes).is_err() {
        return Err(not_utf8());
    }
    let mut pairs = Vec::new();
    for (name, value) in url::form_urlencoded::parse(bytes) {
        if name.contains(char::REPLACEMENT_CHARACTER) || value.contains(char::REPLACEMENT_CHARACTER)
        {
            return Err(not_utf8());
        }
        pairs.push((name.into_owned(), value.into_owned()));
    }
    Form::from_pairs(pairs)
}

/// The `Authorization` header, if one was sent. More than one is `invalid_request`; one that is
/// not visible ASCII cannot be credentials (`invalid_client`, answered with the Basic challenge).
/// A client-authenticated form request: its `Authorization` header (if any) and its form.
pub(super) fn client_request(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Option<&str>, Form), EndpointError> {
    Ok((authorization_header(headers)?, read_form(headers, body)?))
}

pub(super) fn authorization_header(headers: &HeaderMap) -> Result<Option<&str>, EndpointError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(OAuthError::invalid_request("send one Authorization header").into());
    }
    first.to_str().map(Some).map_err(|_| {
        EndpointError::client_auth(
            OAuthError::new(ErrorCode::InvalidClient, "malformed Authorization header"),
            true,
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn decodes_plus_and_percent_and_keeps_utf8() {
        let form =
            parse_form(b"grant_type=client_credentials&scope=a+b%3Ac&name=J%C3%BCrgen").unwrap();
        assert_eq!(form.get("grant_type"), Some("client_credentials"));
        assert_eq!(form.get("scope"), Some("a b:c"));
        assert_eq!(form.get("name"), Some("Jürgen"));
    }

    #[test]
    fn refuses_repeats_and_non_utf8() {
        assert_eq!(
            parse_form(b"scope=a&scope=b").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            parse_form(b"code=%FF").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            parse_form(b"code=%C3").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            parse_form(b"co%FFde=x").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            parse_form(b"code=\xff").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn form_content_type_ignores_parameters_and_case() {
        let mut headers = HeaderMap::new();
        assert!(!declares_form(&headers));
        for (value, ok) in [
            ("application/x-www-form-urlencoded", true),
            ("Application/X-WWW-Form-Urlencoded; charset=UTF-8", true),
            ("application/json", false),
            ("multipart/form-data; boundary=x", false),
        ] {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(declares_form(&headers), ok, "{value}");
        }
    }

    #[test]
    fn one_authorization_header_at_most() {
        let mut headers = HeaderMap::new();
        assert!(authorization_header(&headers).unwrap().is_none());
        headers.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic YTpi"),
        );
        assert_eq!(authorization_header(&headers).unwrap(), Some("Basic YTpi"));
        headers.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic YTpj"),
        );
        assert!(authorization_header(&headers).is_err());
    }
}
