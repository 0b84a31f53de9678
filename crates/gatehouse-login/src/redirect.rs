//! Authorization responses sent back to the client (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207 `iss`),
//! built with `url`'s query serializer: the redirect URI may carry a query of its own, and every
//! value is encoded exactly once.

use gatehouse_core::error::OAuthError;
use url::Url;

/// `base` with `params` appended to its query. `None` when `base` is not an absolute URL (it was
/// registered, so this does not happen in practice).
pub fn with_query(base: &str, params: &[(&str, &str)]) -> Option<String> {
    let mut url = Url::parse(base).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
    }
    Some(url.into())
}

/// RFC 6749 §4.1.2: the code, the granted scope, `state` and `iss`.
pub fn code_params(
    code: &str,
    scope: &str,
    state: Option<&str>,
    issuer: &str,
) -> Vec<(&'static str, String)> {
    let mut params = vec![("code", code.to_owned()), ("scope", scope.to_owned())];
    if let Some(state) = state {
        params.push(("state", state.to_owned()));
    }
    params.push(("iss", issuer.to_owned()));
    params
}

/// RFC 6749 §4.1.2.1: `error`, `error_description`, `state` and `iss`.
pub fn error_params(
    error: &OAuthError,
    state: Option<&str>,
    issuer: &str,
) -> Vec<(&'static str, String)> {
    error_code_params(error.code.as_str(), &error.description, state, issuer)
}

/// As [`error_params`], for an error code `gatehouse_core` has no variant for (an external
/// app's rejection, e.g. `account_selection_required`); the caller checks `code`.
pub fn error_code_params(
    code: &str,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("error", code.to_owned()),
        ("error_description", description.to_owned()),
    ];
    if let Some(state) = state {
        params.push(("state", state.to_owned()));
    }
    params.push(("iss", issuer.to_owned()));
    params
}

/// The response in the query of `redirect_uri` (`response_mode=query`).
pub fn in_query(redirect_uri: &str, params: &[(&'static str, String)]) -> Option<String> {
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    with_query(redirect_uri, &pairs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use gatehouse_core::error::ErrorCode;

    #[test]
    fn a_redirect_uri_with_a_query_keeps_it_and_values_are_encoded_once() {
        let url = in_query(
            "https://app.example.com/cb?tenant=a%20b",
            &code_params(
                "gh_ac_x",
                "openid urn:neoncloud:projects:read",
                Some("s&t=1"),
                "https://id.example.com",
            ),
        )
        .unwrap();
        assert_eq!(
            url,
            "https://app.example.com/cb?tenant=a%20b&code=gh_ac_x&scope=openid+urn%3Aneoncloud%3Aprojects%3Aread&state=s%26t%3D1&iss=https%3A%2F%2Fid.example.com"
        );
    }

    #[test]
    fn errors_carry_description_state_and_issuer() {
        let url = in_query(
            "http://127.0.0.1:5555/callback",
            &error_params(
                &OAuthError::new(ErrorCode::AccessDenied, "the user denied access"),
                None,
                "https://id.example.com",
            ),
        )
        .unwrap();
        assert_eq!(
            url,
            "http://127.0.0.1:5555/callback?error=access_denied&error_description=the+user+denied+access&iss=https%3A%2F%2Fid.example.com"
        );
    }

    #[test]
    fn private_use_schemes_work_too() {
        let url = with_query("com.example.app:/oauth", &[("code", "c")]).unwrap();
        assert_eq!(url, "com.example.app:/oauth?code=c");
    }
}
