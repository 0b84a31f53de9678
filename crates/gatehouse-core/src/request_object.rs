//! Request objects (RFC 9101, OpenID Connect Core §6.1): the authorization request's parameters
//! as the claims of a JWT the client signed, sent by value in `request` at `/oauth2/auth` or
//! `/oauth2/par`.
//!
//! The token service verifies the signature with the client's keys (or, for a
//! `client_secret_jwt` client, its secret); unsigned (`alg: none`) objects are refused, since
//! an unsigned object proves nothing a plain query would not. The rules here are the claim
//! checks of RFC 9101 §4 and §6.3 and the one way parameters are read from a verified object.

use serde_json::Value;

use crate::authorize::AuthorizationParams;
use crate::client_assertion::LEEWAY_SECS;
use crate::error::{ErrorCode, OAuthError};

fn invalid(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequestObject, description)
}

/// RFC 9101 on a request object whose signature was verified: `iss` is the client, `aud` names
/// this server's issuer (alone or in a list), a `client_id` claim (when present) is the client,
/// `exp` (when present) has not passed and `nbf` (when present) has come, each with
/// [`LEEWAY_SECS`] of skew; and it nests no `request` or `request_uri` (§4). `now` is in
/// seconds since the Unix epoch.
pub fn check_claims(
    claims: &Value,
    client_id: &str,
    issuer: &str,
    now: i64,
) -> Result<(), OAuthError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client_id) {
        return Err(invalid("the request object's iss must be the client_id"));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == issuer,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(issuer)),
        _ => false,
    };
    if !audience_ok {
        return Err(invalid(
            "the request object's aud must be this server's issuer",
        ));
    }
    if claims
        .get("client_id")
        .is_some_and(|c| c.as_str() != Some(client_id))
    {
        return Err(invalid(
            "the request object's client_id differs from the request's",
        ));
    }
    let date = |name: &str| -> Result<Option<i64>, OAuthError> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| invalid(format!("the request object's {name} is not a number"))),
        }
    };
    if date("exp")?.is_some_and(|exp| exp + LEEWAY_SECS <= now) {
        return Err(invalid("the request object has expired"));
    }
    if date("nbf")?.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
        return Err(invalid("the request object is not valid yet (nbf)"));
    }
    if claims.get("request").is_some() || claims.get("request_uri").is_some() {
        return Err(invalid(
            "a request object must not contain request or request_uri",
        ));
    }
    Ok(())
}

/// The authorization parameters of a verified request object (RFC 9101 §5): only its claims
/// count, never the query's (which is not merged), except `client_id`, which is the query's
/// (checked to match by [`check_claims`]). String claims are read as they are, numbers (such
/// as `max_age`) as their decimal text, `resource` (RFC 8707, repeatable) also as an array of
/// strings, `claims` (OpenID Connect Core §5.5) also as its JSON object; anything else counts as absent.
pub fn params_from_claims(claims: &Value, client_id: &str) -> AuthorizationParams {
    let params = AuthorizationParams::from_lookup(|name| match claims.get(name) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Array(values)) if name == "resource" => values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        // OpenID Connect Core §6.1: `claims` is a JSON object in a request object.
        Some(value @ Value::Object(_)) if name == "claims" => vec![value.to_string()],
        _ => Vec::new(),
    });
    AuthorizationParams {
        client_id: Some(client_id.to_owned()),
        request: None,
        request_uri: None,
        ..params
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    #[test]
    fn only_claims_may_be_an_object_among_the_parameters() {
        let object = serde_json::json!({
            "state": {"not": "a string"},
            "claims": {"id_token": {"email": null}},
        });
        let params = params_from_claims(&object, "c");
        assert_eq!(params.state, None);
        assert!(params.claims.is_some_and(|c| c.contains("email")));
    }
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const ISSUER: &str = "https://id.example.com";

    fn claims() -> Value {
        json!({
            "iss": "billing", "aud": ISSUER, "client_id": "billing",
            "exp": NOW + 60, "nbf": NOW, "response_type": "code", "scope": "openid",
            "redirect_uri": "https://app.example/cb", "state": "s", "max_age": 600,
        })
    }

    fn with(name: &str, value: Value) -> Value {
        let mut c = claims();
        c[name] = value;
        c
    }

    fn refused(c: &Value) -> String {
        match check_claims(c, "billing", ISSUER, NOW) {
            Ok(()) => panic!("accepted {c}"),
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InvalidRequestObject);
                e.description.to_string()
            }
        }
    }

    #[test]
    fn a_good_request_object_is_accepted() {
        assert_eq!(check_claims(&claims(), "billing", ISSUER, NOW), Ok(()));
        let mut minimal = claims();
        if let Some(map) = minimal.as_object_mut() {
            map.remove("exp");
            map.remove("nbf");
            map.remove("client_id");
        }
        assert_eq!(check_claims(&minimal, "billing", ISSUER, NOW), Ok(()));
        assert_eq!(
            check_claims(&with("aud", json!(["x", ISSUER])), "billing", ISSUER, NOW),
            Ok(())
        );
    }

    #[test]
    fn iss_aud_and_client_id_must_name_the_client_and_this_server() {
        assert!(refused(&with("iss", json!("other"))).contains("iss"));
        assert!(refused(&with("aud", json!("https://other.example"))).contains("aud"));
        refused(&with("aud", json!(["https://other.example"])));
        refused(&with("aud", json!(1)));
        assert!(refused(&with("client_id", json!("other"))).contains("client_id"));
        refused(&with("client_id", json!(5)));
    }

    #[test]
    fn exp_and_nbf_are_checked_with_leeway() {
        assert!(refused(&with("exp", json!(NOW - LEEWAY_SECS))).contains("expired"));
        assert_eq!(
            check_claims(
                &with("exp", json!(NOW - LEEWAY_SECS + 1)),
                "billing",
                ISSUER,
                NOW
            ),
            Ok(())
        );
        assert!(refused(&with("nbf", json!(NOW + LEEWAY_SECS + 1))).contains("nbf"));
        assert_eq!(
            check_claims(
                &with("nbf", json!(NOW + LEEWAY_SECS)),
                "billing",
                ISSUER,
                NOW
            ),
            Ok(())
        );
        refused(&with("exp", json!("later")));
        assert_eq!(
            check_claims(
                &with("exp", json!((NOW + 5) as f64 + 0.5)),
                "billing",
                ISSUER,
                NOW
            ),
            Ok(())
        );
        assert_eq!(
            check_claims(&with("exp", Value::Null), "billing", ISSUER, NOW),
            Ok(())
        );
    }

    #[test]
    fn nested_request_objects_are_refused() {
        refused(&with("request", json!("eyJ...")));
        refused(&with(
            "request_uri",
            json!("urn:ietf:params:oauth:request_uri:x"),
        ));
    }

    #[test]
    fn parameters_come_from_the_object_only_with_the_query_client_id() {
        let p = params_from_claims(&with("request_uri", json!("x")), "billing");
        assert_eq!(p.client_id.as_deref(), Some("billing"));
        assert_eq!(p.response_type.as_deref(), Some("code"));
        assert_eq!(p.scope.as_deref(), Some("openid"));
        assert_eq!(p.redirect_uri.as_deref(), Some("https://app.example/cb"));
        assert_eq!(p.state.as_deref(), Some("s"));
        assert_eq!(p.max_age.as_deref(), Some("600"));
        assert_eq!(p.nonce, None);
        assert_eq!(p.request, None);
        assert_eq!(p.request_uri, None);
        let odd = params_from_claims(&json!({"scope": ["openid"], "state": true}), "b");
        assert_eq!(odd.scope, None);
        assert_eq!(odd.state, None);
        assert_eq!(odd.client_id.as_deref(), Some("b"));
        // Never a request object inside one, whatever the claims say.
        let nested = params_from_claims(&with("request", json!("eyJ.nested.jwt")), "billing");
        assert_eq!((nested.request, nested.request_uri), (None, None));
        let claimed = params_from_claims(
            &json!({"claims": {"id_token": {"email": {"essential": true}}}}),
            "b",
        );
        assert_eq!(
            claimed.claims.as_deref(),
            Some(r#"{"id_token":{"email":{"essential":true}}}"#)
        );
        let one = params_from_claims(&json!({"resource": "https://a.example"}), "b");
        assert_eq!(one.resource, vec!["https://a.example".to_owned()]);
        let two = params_from_claims(
            &json!({"resource": ["https://a.example", 7, "https://b.example"]}),
            "b",
        );
        assert_eq!(
            two.resource,
            vec![
                "https://a.example".to_owned(),
                "https://b.example".to_owned()
            ]
        );
    }
}
