//! `GET|POST /userinfo` (OpenID Connect Core §5.3), a bearer-protected resource (RFC 6750).
//!
//! The access token comes from `Authorization: Bearer` (§2.1) or, on POST, from the
//! `access_token` form field (§2.2); never from the query string (§2.3 is a MAY that puts tokens
//! in logs and browser history; such a request is refused with `invalid_request`, and its token
//! is not looked at). Failures carry a `WWW-Authenticate: Bearer` challenge (§3).
//!
//! A DPoP-bound token (RFC 9449 §7) comes as `Authorization: DPoP <token>` with a `DPoP` proof
//! of its key for this request (`htm`, `htu`, `ath`, `iat`, unused `jti`); such a token sent as
//! `Bearer` is refused. Failures of the DPoP scheme carry a `WWW-Authenticate: DPoP` challenge.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use gatehouse_core::error::OAuthError;
use gatehouse_core::token_request::Form;
use serde_json::{Map, Value};

use super::error::BearerError;
use super::form::{declares_form, parse_form};
use super::token::dpop_proof;
use crate::dpop::ProofEndpoint;
use crate::service::TokenService;
use crate::userinfo::Presentation;
use gatehouse_core::dpop::invalid_proof;

type Claims = Json<Map<String, Value>>;

pub(super) async fn userinfo_get(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Claims, BearerError> {
    let token = bearer_token(&headers, &uri, None)?;
    claims(&service, &headers, "GET", token).await
}

pub(super) async fn userinfo_post(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Result<Claims, BearerError> {
    // Only a form body can carry the token (§2.2); any other body is no concern of this endpoint.
    let form = if declares_form(&headers) {
        Some(read_body_form(body)?)
    } else {
        None
    };
    let token = bearer_token(
        &headers,
        &uri,
        form.as_ref().and_then(|f| f.get("access_token")),
    )?;
    claims(&service, &headers, "POST", token).await
}

async fn claims(
    service: &TokenService,
    headers: &HeaderMap,
    method: &str,
    (token, scheme): (&str, Scheme),
) -> Result<Claims, BearerError> {
    match scheme {
        Scheme::Bearer => service
            .userinfo(token)
            .await
            .map(Json)
            .map_err(BearerError::Failed),
        Scheme::Dpop => {
            let proof = dpop_proof(headers)
                .map_err(BearerError::Dpop)?
                .ok_or_else(|| {
                    BearerError::Dpop(invalid_proof("the DPoP scheme needs a DPoP proof header"))
                })?;
            let jkt = service
                .check_dpop_proof(proof, ProofEndpoint::Userinfo, method, Some(token))
                .await
                .map_err(BearerError::Dpop)?;
            service
                .userinfo_presented(token, Presentation::Dpop { jkt: &jkt })
                .await
                .map(Json)
                .map_err(BearerError::Dpop)
        }
    }
}

/// The authentication scheme the access token came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// RFC 6750: the header's `Bearer` scheme or the body.
    Bearer,
    /// RFC 9449 §7.1: the header's `DPoP` scheme.
    Dpop,
}

fn read_body_form(body: Result<Bytes, BytesRejection>) -> Result<Form, BearerError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BearerError::TooLarge
        } else {
            BearerError::Failed(OAuthError::invalid_request(
                "the request body could not be read",
            ))
        }
    })?;
    parse_form(&bytes).map_err(BearerError::Failed)
}

/// The one access token of the request and its scheme (RFC 6750 §2: "MUST NOT use more than one
/// method").
fn bearer_token<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
    from_body: Option<&'a str>,
) -> Result<(&'a str, Scheme), BearerError> {
    let invalid =
        |description: &'static str| BearerError::Failed(OAuthError::invalid_request(description));
    if uri.query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(name, _)| name == "access_token")
    }) {
        return Err(invalid(
            "send the access token in the Authorization header, not in the query string",
        ));
    }
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let from_header = match (values.next(), values.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => return Err(invalid("send one Authorization header")),
        (Some(value), None) => {
            let value = value
                .to_str()
                .map_err(|_| invalid("malformed Authorization header"))?;
            let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
            let scheme = if scheme.eq_ignore_ascii_case("bearer") {
                Some(Scheme::Bearer)
            } else if scheme.eq_ignore_ascii_case("dpop") {
                Some(Scheme::Dpop)
            } else {
                None
            };
            if let Some(scheme) = scheme {
                let token = credentials.trim();
                if token.is_empty() {
                    return Err(invalid("the access token credentials are empty"));
                }
                Some((token, scheme))
            } else {
                // Another scheme is not a bearer token: answered like no token at all.
                None
            }
        }
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(invalid(
            "send the access token either in the Authorization header or in the body, not both",
        )),
        (Some(found), None) => Ok(found),
        (None, Some(token)) => Ok((token, Scheme::Bearer)),
        (None, None) => Err(BearerError::Missing),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use axum::http::HeaderValue;

    fn headers(authorization: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for a in authorization {
            h.append(header::AUTHORIZATION, HeaderValue::from_static(a));
        }
        h
    }

    fn code(r: Result<(&str, Scheme), BearerError>) -> Option<&'static str> {
        match r {
            Err(BearerError::Failed(e)) => Some(e.code.as_str()),
            Err(BearerError::Missing) => None,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn header_or_body_never_query() {
        let uri: Uri = "/userinfo".parse().unwrap();
        assert_eq!(
            bearer_token(&headers(&["Bearer abc"]), &uri, None).unwrap(),
            ("abc", Scheme::Bearer)
        );
        assert_eq!(
            bearer_token(&headers(&["bearer  abc "]), &uri, None).unwrap(),
            ("abc", Scheme::Bearer)
        );
        assert_eq!(
            bearer_token(&headers(&["DPoP abc"]), &uri, None).unwrap(),
            ("abc", Scheme::Dpop)
        );
        assert_eq!(
            code(bearer_token(&headers(&["DPoP abc"]), &uri, Some("def"))),
            Some("invalid_request")
        );
        assert_eq!(
            bearer_token(&headers(&[]), &uri, Some("def")).unwrap(),
            ("def", Scheme::Bearer)
        );
        assert_eq!(code(bearer_token(&headers(&[]), &uri, None)), None);
        assert_eq!(
            code(bearer_token(&headers(&["Basic YTpi"]), &uri, None)),
            None
        );
        assert_eq!(
            code(bearer_token(&headers(&["Bearer abc"]), &uri, Some("def"))),
            Some("invalid_request")
        );
        assert_eq!(
            code(bearer_token(&headers(&["Bearer"]), &uri, None)),
            Some("invalid_request")
        );
        assert_eq!(
            code(bearer_token(
                &headers(&["Bearer a", "Bearer b"]),
                &uri,
                None
            )),
            Some("invalid_request")
        );
        let query: Uri = "/userinfo?access_token=abc".parse().unwrap();
        assert_eq!(
            code(bearer_token(&headers(&["Bearer abc"]), &query, None)),
            Some("invalid_request")
        );
    }
}
