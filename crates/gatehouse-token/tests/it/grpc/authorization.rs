//! `ValidateAuthorizationRequest` (the request comes back complete, with the client's and the
//! scopes' labels, or an error that redirects only where it may), `DescribeClient` (what the
//! page refusing an unregistered redirect URI names) and `IssueAuthorizationCode` (which checks
//! again what the login UI sends back).

use gatehouse_core::authorize::AuthorizeError;
use gatehouse_core::error::ErrorCode;
use gatehouse_core::scope::ScopeSet;
use gatehouse_proto::token::v1 as pb;
use tonic::Code;

use super::{
    ALICE, BOB, CHALLENGE, CLI, PROJECTS, WEB, WEB_REDIRECT, cli_params, redeem, servers, validated,
};

#[tokio::test]
async fn a_valid_request_comes_back_complete_with_client_and_scope_labels() {
    for g in servers().await {
        let mut params = cli_params(&format!("openid offline {PROJECTS} profile"));
        params.prompt = Some("login consent".into());
        params.max_age = Some("300".into());
        params.login_hint = Some("alice".into());
        params.ui_locales = Some("de en".into());
        let context = g
            .client
            .validate_authorization(&params)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", g.name));
        let r = &context.request;
        assert_eq!(r.client_id, CLI, "{}", g.name);
        assert_eq!(r.redirect_uri, "http://127.0.0.1:5555/callback");
        assert!(r.redirect_uri_given);
        assert_eq!(
            r.scope.to_string(),
            format!("openid offline {PROJECTS} profile")
        );
        assert_eq!(r.state.as_deref(), Some("xyz"));
        assert_eq!(
            r.code_challenge.as_ref().map(|c| c.as_str()),
            Some(CHALLENGE)
        );
        assert_eq!(r.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
        assert!(r.prompt.login && r.prompt.consent && !r.prompt.none);
        assert_eq!(r.max_age, Some(300));
        assert_eq!(r.login_hint.as_deref(), Some("alice"));
        assert_eq!(r.ui_locales.as_deref(), Some("de en"));

        assert_eq!(context.client.client_id, CLI);
        assert_eq!(context.client.name, "Neon CLI");
        assert_eq!(context.client.logo_uri, None);

        let names: Vec<_> = context.scopes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["openid", "offline", PROJECTS, "profile"],
            "{}",
            g.name
        );
        let visible: Vec<_> = context.visible_scopes().map(|s| s.label.as_str()).collect();
        assert_eq!(
            visible,
            ["Read your projects", "Your name and profile picture"],
            "{}",
            g.name
        );

        let mut web = cli_params("openid email");
        web.client_id = Some(WEB.into());
        web.redirect_uri = None; // the only registered one is used
        let context = g.client.validate_authorization(&web).await.unwrap();
        assert_eq!(context.request.redirect_uri, WEB_REDIRECT);
        assert!(!context.request.redirect_uri_given);
        assert_eq!(
            context.client.logo_uri.as_deref(),
            Some("https://app.example.com/logo.png")
        );
        assert_eq!(
            context.client.client_uri.as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            context.client.policy_uri.as_deref(),
            Some("https://app.example.com/privacy")
        );
        assert_eq!(context.client.tos_uri, None);
        assert!(!context.client.skip_consent);
    }
}

#[tokio::test]
async fn unknown_client_and_unregistered_redirect_are_not_redirectable() {
    for g in servers().await {
        let mut params = cli_params("openid");
        params.client_id = Some("no-such-client".into());
        match g.client.validate_authorization(&params).await {
            Err(AuthorizeError::Untrusted(e)) => {
                assert_eq!(e.code, ErrorCode::InvalidClient, "{}", g.name)
            }
            other => panic!("{}: {other:?}", g.name),
        }
        let mut params = cli_params("openid");
        params.redirect_uri = Some("https://evil.example/cb".into());
        match g.client.validate_authorization(&params).await {
            Err(AuthorizeError::Untrusted(e)) => {
                assert_eq!(e.code, ErrorCode::InvalidRequest, "{}", g.name)
            }
            other => panic!("{}: {other:?}", g.name),
        }
    }
}

#[tokio::test]
async fn bad_scope_and_missing_pkce_redirect_with_state() {
    for g in servers().await {
        match g
            .client
            .validate_authorization(&cli_params("openid admin"))
            .await
        {
            Err(AuthorizeError::Redirect {
                redirect_uri,
                error,
                state,
            }) => {
                assert_eq!(redirect_uri, "http://127.0.0.1:5555/callback", "{}", g.name);
                assert_eq!(error.code, ErrorCode::InvalidScope);
                assert_eq!(state.as_deref(), Some("xyz"));
            }
            other => panic!("{}: {other:?}", g.name),
        }
        let mut params = cli_params("openid");
        params.code_challenge = None;
        params.code_challenge_method = None;
        params.state = None;
        match g.client.validate_authorization(&params).await {
            Err(AuthorizeError::Redirect {
                error, state: None, ..
            }) => assert_eq!(error.code, ErrorCode::InvalidRequest),
            other => panic!("{}: {other:?}", g.name),
        }
        let mut params = cli_params("openid");
        params.duplicate = Some("scope".into());
        assert!(
            matches!(
                g.client.validate_authorization(&params).await,
                Err(AuthorizeError::Redirect { .. })
            ),
            "{}",
            g.name
        );
    }
}

/// Whoever asks, a public client's code carries an S256 challenge: a caller that skips the
/// authorization request's checks cannot mint a code a thief could redeem without the verifier.
#[tokio::test]
async fn issue_authorization_code_refuses_a_public_client_without_pkce() {
    for g in servers().await {
        let mut raw = g.raw().await;
        let request = |challenge: Option<&str>| pb::IssueAuthorizationCodeRequest {
            request: Some(pb::AuthorizationRequest {
                client_id: CLI.into(),
                redirect_uri: "http://127.0.0.1:5555/callback".into(),
                redirect_uri_given: true,
                scope: "openid".into(),
                code_challenge: challenge.map(str::to_owned),
                ..Default::default()
            }),
            subject: ALICE.into(),
            granted_scope: "openid".into(),
            auth_time: 1_767_225_600,
            session_id: None,
            ..Default::default()
        };
        let status = raw
            .issue_authorization_code(request(None))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{}: {status:?}",
            g.name
        );
        let issued = raw
            .issue_authorization_code(request(Some(CHALLENGE)))
            .await
            .unwrap()
            .into_inner();
        assert!(issued.code.starts_with("gh_ac_"), "{}", g.name);
    }
}

/// Whoever calls, extra claims of an external consent app cannot name a reserved claim (`sub`,
/// `iss`, `aud`, …) nor be anything but a JSON object.
#[tokio::test]
async fn extra_token_claims_cannot_override_reserved_claims() {
    for g in servers().await {
        let mut raw = g.raw().await;
        let request = |id_token: Option<&str>, access_token: Option<&str>| {
            pb::IssueAuthorizationCodeRequest {
                request: Some(pb::AuthorizationRequest {
                    client_id: CLI.into(),
                    redirect_uri: "http://127.0.0.1:5555/callback".into(),
                    redirect_uri_given: true,
                    scope: "openid".into(),
                    code_challenge: Some(CHALLENGE.into()),
                    ..Default::default()
                }),
                subject: ALICE.into(),
                granted_scope: "openid".into(),
                auth_time: 1_767_225_600,
                id_token_claims: id_token.map(str::to_owned),
                access_token_claims: access_token.map(str::to_owned),
                ..Default::default()
            }
        };
        for (id_token, access_token) in [
            (Some(r#"{"sub":"mallory"}"#), None),
            (Some(r#"{"iss":"https://evil.example"}"#), None),
            (Some(r#"{"aud":"other-client"}"#), None),
            (Some(r#"["not", "an object"]"#), None),
            (None, Some(r#"{"client_id":"other"}"#)),
        ] {
            let status = raw
                .issue_authorization_code(request(id_token, access_token))
                .await
                .unwrap_err();
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{}: {id_token:?} {access_token:?}",
                g.name
            );
        }
        let issued = raw
            .issue_authorization_code(request(Some(r#"{"tenant":"acme"}"#), None))
            .await
            .unwrap()
            .into_inner();
        assert!(issued.code.starts_with("gh_ac_"), "{}", g.name);
    }
}

#[tokio::test]
async fn an_issued_code_is_redeemed_once_at_the_token_endpoint() {
    for g in servers().await {
        let context = validated(&g, &format!("openid offline {PROJECTS}")).await;
        let granted = ScopeSet::parse(&format!("openid {PROJECTS}")).unwrap();
        let code = g
            .client
            .issue_authorization_code(&context.request, ALICE, &granted, 1_767_225_600, None)
            .await
            .unwrap();
        assert!(code.expose().starts_with("gh_ac_"), "{}", g.name);
        assert_eq!(format!("{code:?}"), "[redacted]");

        let tokens = redeem(&g, code.expose())
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", g.name));
        assert_eq!(
            tokens.scope.as_deref(),
            Some(format!("openid {PROJECTS}").as_str())
        );
        assert!(tokens.id_token.is_some());
        assert!(tokens.refresh_token.is_none(), "offline was not granted");
        let again = redeem(&g, code.expose()).await;
        assert_eq!(
            again.map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::InvalidGrant),
            "{}",
            g.name
        );
    }
}

#[tokio::test]
async fn issuing_a_code_rechecks_what_the_ui_sends_back() {
    for g in servers().await {
        let context = validated(&g, "openid profile").await;
        let more = ScopeSet::parse("openid profile email").unwrap();
        let wider = g
            .client
            .issue_authorization_code(&context.request, ALICE, &more, 0, None)
            .await;
        assert_eq!(
            wider.map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::InvalidScope),
            "{}",
            g.name
        );

        let mut tampered = context.request.clone();
        tampered.redirect_uri =
            gatehouse_testkit::fixtures::redirect_uri("https://evil.example/cb");
        let r = g
            .client
            .issue_authorization_code(&tampered, ALICE, &context.request.scope, 0, None)
            .await;
        assert_eq!(
            r.map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::InvalidRequest),
            "{}",
            g.name
        );

        let mut tampered = context.request.clone();
        tampered.scope = ScopeSet::parse("openid admin").unwrap();
        let r = g
            .client
            .issue_authorization_code(
                &tampered,
                ALICE,
                &ScopeSet::parse("openid").unwrap(),
                0,
                None,
            )
            .await;
        assert_eq!(
            r.map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::InvalidScope),
            "{}",
            g.name
        );

        let r = g
            .client
            .issue_authorization_code(&context.request, BOB, &context.request.scope, 0, None)
            .await;
        assert_eq!(
            r.map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::AccessDenied),
            "{}: disabled user",
            g.name
        );
    }
}

#[tokio::test]
async fn describe_client_names_the_client_and_matches_redirect_uris_as_requests_do() {
    for g in servers().await {
        let (web, registered) = g
            .client
            .describe_client(WEB, Some(WEB_REDIRECT))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{}: neon-web missing", g.name));
        assert_eq!(web.client_id, WEB);
        assert!(registered, "{}", g.name);
        for (client, uri, expected) in [
            (WEB, Some("https://evil.example/cb"), false),
            (WEB, Some("https://app.example.com/callback/"), false),
            (WEB, None, false),
            // RFC 8252 §7.3: any port on a loopback redirect URI.
            (CLI, Some("http://127.0.0.1:5555/callback"), true),
            (CLI, Some("http://localhost:5555/callback"), false),
        ] {
            let (found, registered) = g
                .client
                .describe_client(client, uri)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(registered, expected, "{}: {client} {uri:?}", g.name);
            if client == CLI {
                assert_eq!(found.name, "Neon CLI");
            }
        }
        assert_eq!(
            g.client.describe_client("nobody", None).await,
            Ok(None),
            "{}",
            g.name
        );
        let empty = g.client.describe_client("", None).await;
        assert_eq!(
            empty.map_err(|e| e.code),
            Err(ErrorCode::InvalidRequest),
            "{}",
            g.name
        );
    }
}
