//! The authorization request: an arbitrary query string, read the way the HTTP layer reads
//! `/oauth2/auth` (RFC 6749 §3.1: repeated parameters are noted), validated against a fixed
//! client. Whatever the input, `validate` must not panic, and a redirect it asks for must go to
//! a registered redirect URI.
#![no_main]

use std::sync::OnceLock;

use gatehouse_core::authorize::{
    AuthorizationParams, AuthorizeError, AuthorizePolicy, MAX_STATE_LEN, validate,
};
use gatehouse_core::client::{Client, ClientMetadata};
use libfuzzer_sys::fuzz_target;

fn client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let metadata: ClientMetadata = match serde_json::from_value(serde_json::json!({
            "client_name": "Fuzz app",
            "redirect_uris": [
                "https://app.example.com/callback",
                "http://127.0.0.1/cb",
                "com.example.app:/oauth2redirect"
            ],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "openid profile email offline_access",
            "token_endpoint_auth_method": "none"
        })) {
            Ok(m) => m,
            Err(e) => panic!("fixed client metadata: {e}"),
        };
        Client {
            id: gatehouse_core::client::ClientId::parse("fuzz-app")
                .unwrap_or_else(|e| panic!("{e}")),
            incarnation: "fuzz-incarnation".into(),
            metadata,
            secret: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    })
}

fn params(query: &[u8]) -> AuthorizationParams {
    let mut p = AuthorizationParams::default();
    for (k, v) in url::form_urlencoded::parse(query) {
        let slot = match k.as_ref() {
            "client_id" => &mut p.client_id,
            "redirect_uri" => &mut p.redirect_uri,
            "response_type" => &mut p.response_type,
            "scope" => &mut p.scope,
            "state" => &mut p.state,
            "code_challenge" => &mut p.code_challenge,
            "code_challenge_method" => &mut p.code_challenge_method,
            "nonce" => &mut p.nonce,
            "prompt" => &mut p.prompt,
            "max_age" => &mut p.max_age,
            "login_hint" => &mut p.login_hint,
            "ui_locales" => &mut p.ui_locales,
            "response_mode" => &mut p.response_mode,
            "request" => &mut p.request,
            "request_uri" => &mut p.request_uri,
            _ => continue,
        };
        if slot.is_some() {
            p.duplicate.get_or_insert_with(|| k.clone().into_owned());
        }
        *slot = Some(v.into_owned());
    }
    p
}

fuzz_target!(|data: &[u8]| {
    let client = client();
    let p = params(data);
    for policy in [
        AuthorizePolicy::default(),
        AuthorizePolicy { require_pkce: true },
    ] {
        let registered = &client.metadata.redirect_uris;
        let found = validate(&p, Some(client), policy);
        match &found {
            Ok(v) => {
                assert!(
                    gatehouse_core::redirect::find_match(registered, &v.redirect_uri).is_some(),
                    "accepted an unregistered redirect_uri"
                );
                assert!(v.state.as_ref().is_none_or(|s| s.len() <= MAX_STATE_LEN));
                assert!(p.duplicate.is_none(), "accepted a repeated parameter");
            }
            Err(AuthorizeError::Redirect {
                redirect_uri,
                state,
                ..
            }) => {
                assert!(
                    gatehouse_core::redirect::find_match(registered, redirect_uri).is_some(),
                    "redirected an error to an unregistered redirect_uri"
                );
                assert!(state.as_ref().is_none_or(|s| s.len() <= MAX_STATE_LEN));
            }
            Err(AuthorizeError::Untrusted(_)) => {}
        }
        // An unknown client is never trusted.
        assert!(matches!(
            validate(&p, None, policy),
            Err(AuthorizeError::Untrusted(_))
        ));
    }
});
