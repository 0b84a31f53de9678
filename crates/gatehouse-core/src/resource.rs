//! Resource indicators (RFC 8707): which protected resources an access token is meant for.
//!
//! A client names them with `resource` (repeatable) at the authorization and token endpoints;
//! each must be an absolute URI without a fragment (§2) that the client is allowed to ask for.
//! An access token's `aud` is then exactly the indicated resources.

use crate::client::ClientMetadata;
use crate::error::{ErrorCode, OAuthError};

/// Why a string is not a resource indicator (RFC 8707 §2), or `None` when it is one.
pub fn indicator_problem(value: &str) -> Option<&'static str> {
    match url::Url::parse(value) {
        Err(_) => Some("a resource must be an absolute URI"),
        Ok(url) if url.fragment().is_some() => Some("a resource must not contain a fragment"),
        Ok(url) if url.cannot_be_a_base() && url.scheme() != "urn" => {
            Some("a resource must be an absolute URI")
        }
        Ok(_) => None,
    }
}

/// Whether `client` may ask for `resource`: it is in the client's `allowed_resources`, or in its
/// `audience` (the audiences an operator allowed before resource indicators, as in Hydra).
pub fn permitted(client: &ClientMetadata, resource: &str) -> bool {
    client.allowed_resources.iter().any(|r| r == resource)
        || client.audience.iter().any(|a| a == resource)
}

/// The resources of an authorization request or a client-credentials request: each must be a
/// resource indicator the client is permitted (`invalid_target` otherwise). Repeats collapse.
pub fn requested(client: &ClientMetadata, resources: &[String]) -> Result<Vec<String>, OAuthError> {
    let mut accepted: Vec<String> = Vec::with_capacity(resources.len());
    for resource in resources {
        if let Some(problem) = indicator_problem(resource) {
            return Err(OAuthError::new(ErrorCode::InvalidTarget, problem));
        }
        if !permitted(client, resource) {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                format!("this client may not ask for the resource {resource}"),
            ));
        }
        if !accepted.contains(resource) {
            accepted.push(resource.clone());
        }
    }
    Ok(accepted)
}

/// The audience of an access token issued from a grant (a code or a refresh token) that was
/// authorized for `granted`: the `requested` resources when every one of them was granted
/// (RFC 8707 §2.2: a token request may only narrow), all of `granted` when none is requested.
pub fn narrowed(granted: &[String], requested: &[String]) -> Result<Vec<String>, OAuthError> {
    if requested.is_empty() {
        return Ok(granted.to_vec());
    }
    let mut audience: Vec<String> = Vec::with_capacity(requested.len());
    for resource in requested {
        if !granted.contains(resource) {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                format!("the resource {resource} was not part of the authorization"),
            ));
        }
        if !audience.contains(resource) {
            audience.push(resource.clone());
        }
    }
    Ok(audience)
}

/// Checks an operator's `allowed_resources`: each must be a resource indicator.
pub fn validate_allowed(resources: &[String]) -> Result<(), OAuthError> {
    for resource in resources {
        if let Some(problem) = indicator_problem(resource) {
            return Err(OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                format!("allowed_resources: {problem}: {resource}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> ClientMetadata {
        ClientMetadata {
            allowed_resources: vec!["https://api.example.com/projects".into()],
            audience: vec!["https://legacy.example.com".into()],
            ..ClientMetadata::default()
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn target_error(r: Result<Vec<String>, OAuthError>) -> String {
        match r {
            Err(e) if e.code == ErrorCode::InvalidTarget => e.description.to_string(),
            other => panic!("expected invalid_target, got {other:?}"),
        }
    }

    #[test]
    fn indicators_are_absolute_uris_without_fragments() {
        assert_eq!(indicator_problem("https://api.example.com/x?y=1"), None);
        assert_eq!(indicator_problem("urn:example:api"), None);
        assert_eq!(
            indicator_problem("api.example.com"),
            Some("a resource must be an absolute URI")
        );
        assert_eq!(
            indicator_problem("mailto:someone@example.com"),
            Some("a resource must be an absolute URI")
        );
        assert_eq!(
            indicator_problem("https://api.example.com/#part"),
            Some("a resource must not contain a fragment")
        );
    }

    #[test]
    fn a_client_may_ask_for_its_allowed_resources_and_audiences_only() {
        let c = client();
        assert!(permitted(&c, "https://api.example.com/projects"));
        assert!(permitted(&c, "https://legacy.example.com"));
        assert!(!permitted(&c, "https://api.example.com/billing"));
        assert!(!permitted(
            &ClientMetadata::default(),
            "https://api.example.com/projects"
        ));
    }

    #[test]
    fn requested_resources_are_checked_and_deduplicated() {
        let c = client();
        assert_eq!(
            requested(
                &c,
                &strings(&[
                    "https://api.example.com/projects",
                    "https://legacy.example.com",
                    "https://api.example.com/projects"
                ])
            ),
            Ok(strings(&[
                "https://api.example.com/projects",
                "https://legacy.example.com"
            ]))
        );
        assert_eq!(requested(&c, &[]), Ok(Vec::new()));
        assert!(
            target_error(requested(
                &c,
                &strings(&["https://api.example.com/billing"])
            ))
            .contains("may not ask for the resource https://api.example.com/billing")
        );
        assert!(target_error(requested(&c, &strings(&["relative/path"]))).contains("absolute"));
    }

    #[test]
    fn a_token_request_may_only_narrow_the_granted_resources() {
        let granted = strings(&["https://a.example.com", "https://b.example.com"]);
        assert_eq!(narrowed(&granted, &[]), Ok(granted.clone()));
        assert_eq!(
            narrowed(
                &granted,
                &strings(&["https://b.example.com", "https://b.example.com"])
            ),
            Ok(strings(&["https://b.example.com"]))
        );
        assert!(
            target_error(narrowed(&granted, &strings(&["https://c.example.com"])))
                .contains("https://c.example.com was not part of the authorization")
        );
        assert!(
            target_error(narrowed(&[], &strings(&["https://a.example.com"]))).contains("not part")
        );
    }

    #[test]
    fn allowed_resources_must_be_indicators() {
        assert_eq!(
            validate_allowed(&strings(&["https://api.example.com", "urn:x:y"])),
            Ok(())
        );
        match validate_allowed(&strings(&["https://api.example.com", "https://x/#f"])) {
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
                assert!(e.description.contains("https://x/#f"), "{}", e.description);
            }
            Ok(()) => panic!("a fragment was allowed"),
        }
    }
}
