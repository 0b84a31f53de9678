//! The partner portal's RPCs over real gRPC: submitting, listing and viewing requests, the
//! client an approval makes, the owner rule, the one-time secret reveal (also under
//! concurrency), rotation, edits of an approved app, logos, and the three approval modes.

use gatehouse_core::client::TokenEndpointAuthMethod;
use gatehouse_core::error::ErrorCode;
use gatehouse_core::protocol::GrantType;
use gatehouse_core::registration::{client_secret_hasher, verify_client_secret};
use gatehouse_core::scope::{ScopeDefinition, ScopeName};
use gatehouse_proto::status::oauth_from_status;
use gatehouse_proto::token::v1 as pb;
use gatehouse_token::TokenSettings;
use gatehouse_token::partners::ApprovalMode;
use tonic::Code;

use super::{ALICE, BOB, Grpc, ISSUER, PROJECTS, servers, servers_with};

const CAROL: &str = "user-carol";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";

fn app(confidential: bool) -> pb::PartnerApp {
    pb::PartnerApp {
        name: "Acme Projects".into(),
        description: "Syncs your projects".into(),
        website: "https://acme.example".into(),
        contact_name: "Ada".into(),
        reason: "Our customers asked for it".into(),
        redirect_uris: vec![
            "https://acme.example/callback".into(),
            "http://127.0.0.1/callback".into(),
        ],
        scopes: vec!["openid".into(), "offline_access".into(), PROJECTS.into()],
        confidential,
        logo_uri: String::new(),
    }
}

fn settings(mode: ApprovalMode) -> TokenSettings {
    let mut settings = TokenSettings::for_issuer(ISSUER);
    settings.partners.approval = mode;
    settings
}

async fn submit(
    g: &Grpc,
    subject: &str,
    app: pb::PartnerApp,
) -> Result<pb::PartnerRequest, tonic::Status> {
    let mut raw = g.raw().await;
    raw.submit_registration_request(pb::SubmitRegistrationRequestRequest {
        subject: subject.into(),
        app: Some(app),
        id: None,
    })
    .await
    .map(|r| r.into_inner().request.unwrap())
}

async fn reveal(
    g: &Grpc,
    subject: &str,
    id: &str,
) -> Result<pb::RevealClientSecretResponse, tonic::Status> {
    g.raw()
        .await
        .reveal_client_secret(pb::RevealClientSecretRequest {
            subject: subject.into(),
            id: id.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Approves through the same rules the admin API calls.
async fn approve(g: &Grpc, id: &str) -> gatehouse_core::registration_request::RegistrationRequest {
    g.service
        .partners()
        .approve(id, None, "operator")
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", g.name))
}

/// Whether the stored client accepts `secret` now.
async fn accepts(g: &Grpc, client_id: &str, secret: &str) -> bool {
    let client = g
        .service
        .durable()
        .get_client(client_id)
        .await
        .unwrap()
        .unwrap();
    let hasher = client_secret_hasher(g.server.system_secret.as_bytes());
    verify_client_secret(&client, secret, &hasher, time::OffsetDateTime::now_utc())
}

fn assert_code(
    result: Result<impl std::fmt::Debug, tonic::Status>,
    code: Code,
    what: &str,
) -> ErrorCode {
    match result {
        Ok(answer) => panic!("{what}: expected {code:?}, got {answer:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{what}: {status:?}");
            ErrorCode::parse(&oauth_from_status(&status).error).unwrap()
        }
    }
}

#[tokio::test]
async fn a_request_is_submitted_listed_and_approved_into_the_client_it_asked_for() {
    for g in servers().await {
        let mut raw = g.raw().await;
        let settings = raw
            .get_partner_settings(pb::GetPartnerSettingsRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(settings.approval_mode, "manual");
        g.service
            .durable()
            .create_scope(&ScopeDefinition {
                name: ScopeName::parse("internal:admin").unwrap(),
                label: "Internal".into(),
                description: String::new(),
                hidden: true,
                claims: vec![],
            })
            .await
            .unwrap();
        let scopes = raw
            .list_partner_scopes(pb::ListPartnerScopesRequest {})
            .await
            .unwrap()
            .into_inner()
            .scopes;
        let names: Vec<&str> = scopes.iter().map(|s| s.name.as_str()).collect();
        assert!(
            names.contains(&PROJECTS) && names.contains(&"openid"),
            "{names:?}"
        );
        assert!(
            !names.contains(&"internal:admin"),
            "{}: a hidden scope listed",
            g.name
        );
        let projects = scopes.iter().find(|s| s.name == PROJECTS).unwrap();
        assert_eq!(projects.label, "Read your projects");

        let submitted = submit(&g, ALICE, app(true)).await.unwrap();
        assert!(submitted.id.starts_with("rr_"));
        assert_eq!(submitted.status, "pending");
        assert_eq!(submitted.client_id, None);
        let listed = raw
            .list_registration_requests(pb::ListRegistrationRequestsRequest {
                subject: ALICE.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .requests;
        assert_eq!(listed, vec![submitted.clone()], "{}", g.name);

        let approved = approve(&g, &submitted.id).await;
        let client_id = approved.client_id.clone().unwrap();
        let seen = raw
            .get_registration_request(pb::GetRegistrationRequestRequest {
                subject: ALICE.into(),
                id: submitted.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .request
            .unwrap();
        assert_eq!(seen.status, "approved");
        assert_eq!(seen.client_id.as_deref(), Some(client_id.as_str()));
        assert!(!seen.secret_revealed);

        let client = g
            .service
            .durable()
            .get_client(&client_id)
            .await
            .unwrap()
            .unwrap();
        let m = &client.metadata;
        assert_eq!(m.client_name, "Acme Projects");
        assert_eq!(m.client_uri, "https://acme.example");
        assert_eq!(m.owner, ALICE);
        assert_eq!(m.redirect_uris.len(), 2);
        assert_eq!(
            m.scope.to_string(),
            format!("openid offline_access {PROJECTS}")
        );
        assert_eq!(
            m.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(
            m.token_endpoint_auth_method,
            TokenEndpointAuthMethod::ClientSecretBasic
        );
        assert_eq!(m.metadata["registration_request"], submitted.id.as_str());
        assert!(
            client.secret.is_some(),
            "a confidential client holds a (never shown) secret"
        );
    }
}

#[tokio::test]
async fn invalid_apps_are_refused_naming_the_field() {
    for g in servers().await {
        let mut insecure = app(true);
        insecure.redirect_uris = vec!["http://acme.example/callback".into()];
        let code = assert_code(
            submit(&g, ALICE, insecure).await,
            Code::InvalidArgument,
            "http redirect",
        );
        assert_eq!(code, ErrorCode::InvalidRedirectUri);

        let mut unknown = app(true);
        unknown.scopes = vec!["openid".into(), "payments:write".into()];
        let code = assert_code(
            submit(&g, ALICE, unknown).await,
            Code::InvalidArgument,
            "unknown scope",
        );
        assert_eq!(code, ErrorCode::InvalidScope);

        let mut unnamed = app(true);
        unnamed.name = "  ".into();
        assert_code(
            submit(&g, ALICE, unnamed).await,
            Code::InvalidArgument,
            "no name",
        );

        let mut no_scopes = app(true);
        no_scopes.scopes.clear();
        assert_code(
            submit(&g, ALICE, no_scopes).await,
            Code::InvalidArgument,
            "no scopes",
        );

        let mut script_logo = app(true);
        script_logo.logo_uri = "javascript:alert(1)".into();
        assert_code(
            submit(&g, ALICE, script_logo).await,
            Code::InvalidArgument,
            "script logo",
        );

        // A disabled account may not register apps.
        assert_code(
            submit(&g, BOB, app(true)).await,
            Code::PermissionDenied,
            "disabled partner",
        );
        assert_code(
            submit(&g, "user-nobody", app(true)).await,
            Code::PermissionDenied,
            "unknown partner",
        );
    }
}

/// Partner B (carol) tries everything on partner A's (alice's) request: each answer is
/// NOT_FOUND, exactly as for a request that does not exist, and nothing changes.
#[tokio::test]
async fn another_partner_cannot_see_or_act_on_a_request() {
    for g in servers().await {
        let mine = submit(&g, ALICE, app(true)).await.unwrap();
        approve(&g, &mine.id).await;
        let mut raw = g.raw().await;
        let theirs = raw
            .list_registration_requests(pb::ListRegistrationRequestsRequest {
                subject: CAROL.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .requests;
        assert!(theirs.is_empty(), "{}: {theirs:?}", g.name);
        let get = raw
            .get_registration_request(pb::GetRegistrationRequestRequest {
                subject: CAROL.into(),
                id: mine.id.clone(),
            })
            .await;
        assert_code(get, Code::NotFound, "get");
        assert_code(reveal(&g, CAROL, &mine.id).await, Code::NotFound, "reveal");
        let rotate = raw
            .rotate_client_secret(pb::RotateClientSecretRequest {
                subject: CAROL.into(),
                id: mine.id.clone(),
            })
            .await;
        assert_code(rotate, Code::NotFound, "rotate");
        let update = raw
            .update_partner_app(pb::UpdatePartnerAppRequest {
                subject: CAROL.into(),
                id: mine.id.clone(),
                redirect_uris_set: true,
                redirect_uris: vec!["https://evil.example/steal".into()],
                ..Default::default()
            })
            .await;
        assert_code(update, Code::NotFound, "update");
        let resubmit = raw
            .submit_registration_request(pb::SubmitRegistrationRequestRequest {
                subject: CAROL.into(),
                app: Some(app(true)),
                id: Some(mine.id.clone()),
            })
            .await;
        assert_code(resubmit, Code::NotFound, "resubmit");

        // Alice's request is untouched: the secret is still hers to reveal, once.
        let stored = g.service.partners().get(&mine.id).await.unwrap();
        assert!(!stored.secret_revealed);
        assert_eq!(stored.owner, ALICE);
        let client = g
            .service
            .durable()
            .get_client(stored.client_id.unwrap().as_str())
            .await
            .unwrap()
            .unwrap();
        assert!(
            !client
                .metadata
                .redirect_uris
                .iter()
                .any(|u| u.contains("evil"))
        );
        assert!(reveal(&g, ALICE, &mine.id).await.is_ok());
    }
}

#[tokio::test]
async fn the_secret_is_revealed_once_and_rotation_keeps_the_old_one_for_the_grace() {
    for g in servers().await {
        let request = submit(&g, ALICE, app(true)).await.unwrap();
        // Not approved yet: nothing to reveal.
        assert_code(
            reveal(&g, ALICE, &request.id).await,
            Code::FailedPrecondition,
            "pending",
        );
        approve(&g, &request.id).await;

        let shown = reveal(&g, ALICE, &request.id).await.unwrap();
        assert_eq!(shown.client_secret.len(), 43);
        assert!(
            accepts(&g, &shown.client_id, &shown.client_secret).await,
            "{}",
            g.name
        );
        let again = reveal(&g, ALICE, &request.id).await;
        assert_code(again, Code::FailedPrecondition, "second reveal");
        assert!(
            accepts(&g, &shown.client_id, &shown.client_secret).await,
            "{}: a refused reveal changed the secret",
            g.name
        );
        let seen = g.service.partners().get(&request.id).await.unwrap();
        assert!(seen.secret_revealed);

        let rotated = g
            .raw()
            .await
            .rotate_client_secret(pb::RotateClientSecretRequest {
                subject: ALICE.into(),
                id: request.id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_ne!(rotated.client_secret, shown.client_secret);
        assert!(accepts(&g, &rotated.client_id, &rotated.client_secret).await);
        assert!(
            accepts(&g, &rotated.client_id, &shown.client_secret).await,
            "{}: the previous secret ended before its grace",
            g.name
        );
        let grace_end = rotated.previous_secret_expires_at.unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert!(
            (now + 23 * 3600..=now + 25 * 3600).contains(&grace_end),
            "{grace_end}"
        );
        // Secrets are never kept in the request.
        let stored = format!("{:?}", g.service.partners().get(&request.id).await.unwrap());
        assert!(!stored.contains(&rotated.client_secret) && !stored.contains(&shown.client_secret));
    }
}

/// A reveal that fails after claiming (the client's new secret cannot be written: a database
/// outage) gives the reveal back: the partner's retry shows the secret.
#[tokio::test]
async fn a_reveal_answered_with_an_error_in_an_outage_works_on_the_retry() {
    for g in servers().await {
        if g.server.durable_backend().kind != gatehouse_testkit::DurableKind::Sqlite {
            continue;
        }
        let request = submit(&g, ALICE, app(true)).await.unwrap();
        approve(&g, &request.id).await;
        let pool = sqlx::sqlite::SqlitePool::connect(&g.server.durable_backend().url)
            .await
            .unwrap();
        sqlx::query(
            "CREATE TRIGGER clients_unwritable BEFORE UPDATE ON clients \
             BEGIN SELECT RAISE(ABORT, 'the database is read-only'); END",
        )
        .execute(&pool)
        .await
        .unwrap();
        let failed = reveal(&g, ALICE, &request.id).await;
        assert!(failed.is_err(), "{}: the reveal cannot succeed", g.name);
        sqlx::query("DROP TRIGGER clients_unwritable")
            .execute(&pool)
            .await
            .unwrap();
        let shown = reveal(&g, ALICE, &request.id)
            .await
            .unwrap_or_else(|e| panic!("{}: the retry after the outage: {e:?}", g.name));
        assert!(
            accepts(&g, &shown.client_id, &shown.client_secret).await,
            "{}",
            g.name
        );
        assert_code(
            reveal(&g, ALICE, &request.id).await,
            Code::FailedPrecondition,
            "a reveal after the successful one",
        );
    }
}

#[tokio::test]
async fn concurrent_reveals_give_the_secret_to_exactly_one() {
    for g in servers().await {
        let request = submit(&g, ALICE, app(true)).await.unwrap();
        approve(&g, &request.id).await;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let mut raw = g.raw().await;
            let id = request.id.clone();
            tasks.spawn(async move {
                raw.reveal_client_secret(pb::RevealClientSecretRequest {
                    subject: ALICE.into(),
                    id,
                })
                .await
                .map(tonic::Response::into_inner)
            });
        }
        let mut won = Vec::new();
        while let Some(result) = tasks.join_next().await {
            match result.unwrap() {
                Ok(shown) => won.push(shown),
                Err(status) => assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}"),
            }
        }
        assert_eq!(won.len(), 1, "{}: {} reveals succeeded", g.name, won.len());
        assert!(accepts(&g, &won[0].client_id, &won[0].client_secret).await);
    }
}

#[tokio::test]
async fn a_public_app_gets_a_pkce_client_without_a_secret() {
    for g in servers().await {
        let request = submit(&g, ALICE, app(false)).await.unwrap();
        let approved = approve(&g, &request.id).await;
        let client = g
            .service
            .durable()
            .get_client(approved.client_id.unwrap().as_str())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            client.metadata.token_endpoint_auth_method,
            TokenEndpointAuthMethod::None
        );
        assert!(client.secret.is_none());
        assert_code(
            reveal(&g, ALICE, &request.id).await,
            Code::FailedPrecondition,
            "public reveal",
        );
    }
}

#[tokio::test]
async fn changes_requested_are_resubmitted_and_a_rejection_keeps_its_reason() {
    for g in servers().await {
        let mut raw = g.raw().await;
        let request = submit(&g, ALICE, app(true)).await.unwrap();
        // Resubmitting a pending request is the wrong status.
        let early = raw
            .submit_registration_request(pb::SubmitRegistrationRequestRequest {
                subject: ALICE.into(),
                app: Some(app(true)),
                id: Some(request.id.clone()),
            })
            .await;
        assert_code(early, Code::FailedPrecondition, "resubmit while pending");

        let partners = g.service.partners();
        assert!(
            partners
                .request_changes(&request.id, " ", "operator")
                .await
                .is_err()
        );
        partners
            .request_changes(&request.id, "Please use your production domain", "operator")
            .await
            .unwrap();
        let seen = raw
            .get_registration_request(pb::GetRegistrationRequestRequest {
                subject: ALICE.into(),
                id: request.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .request
            .unwrap();
        assert_eq!(seen.status, "changes_requested");
        assert_eq!(seen.review_reason, "Please use your production domain");

        let mut edited = app(true);
        edited.redirect_uris = vec!["https://prod.acme.example/callback".into()];
        let resubmitted = raw
            .submit_registration_request(pb::SubmitRegistrationRequestRequest {
                subject: ALICE.into(),
                app: Some(edited),
                id: Some(request.id.clone()),
            })
            .await
            .unwrap()
            .into_inner()
            .request
            .unwrap();
        assert_eq!(resubmitted.id, request.id);
        assert_eq!(resubmitted.status, "pending");
        assert_eq!(resubmitted.review_reason, "");
        assert_eq!(
            resubmitted.app.unwrap().redirect_uris,
            vec!["https://prod.acme.example/callback".to_owned()]
        );

        partners
            .reject(
                &request.id,
                "We do not offer this API to resellers",
                "operator",
            )
            .await
            .unwrap();
        let rejected = partners.get(&request.id).await.unwrap();
        assert_eq!(rejected.status.as_str(), "rejected");
        assert_eq!(
            rejected.review_reason,
            "We do not offer this API to resellers"
        );
        assert!(rejected.client_id.is_none());
        // A decided request cannot be decided again.
        assert!(
            partners
                .approve(&request.id, None, "operator")
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn an_approved_app_is_edited_directly_and_a_scope_change_goes_back_to_review() {
    for g in servers().await {
        let mut raw = g.raw().await;
        let request = submit(&g, ALICE, app(true)).await.unwrap();
        let client_id = approve(&g, &request.id).await.client_id.unwrap();
        let updated = raw
            .update_partner_app(pb::UpdatePartnerAppRequest {
                subject: ALICE.into(),
                id: request.id.clone(),
                description: Some("Now with calendars".into()),
                logo_uri: Some("https://acme.example/logo.png".into()),
                redirect_uris_set: true,
                redirect_uris: vec!["https://acme.example/v2/callback".into()],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .request
            .unwrap();
        assert_eq!(updated.status, "approved");
        let client = g
            .service
            .durable()
            .get_client(&client_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(client.metadata.logo_uri, "https://acme.example/logo.png");
        assert_eq!(client.metadata.redirect_uris.len(), 1);
        assert_eq!(
            client.metadata.redirect_uris[0].as_str(),
            "https://acme.example/v2/callback"
        );

        // An invalid edit changes nothing.
        let bad = raw
            .update_partner_app(pb::UpdatePartnerAppRequest {
                subject: ALICE.into(),
                id: request.id.clone(),
                redirect_uris_set: true,
                redirect_uris: vec!["javascript:alert(1)".into()],
                ..Default::default()
            })
            .await;
        assert_code(bad, Code::InvalidArgument, "bad redirect");

        let rescoped = raw
            .update_partner_app(pb::UpdatePartnerAppRequest {
                subject: ALICE.into(),
                id: request.id.clone(),
                scopes_set: true,
                scopes: vec!["openid".into(), "profile".into(), PROJECTS.into()],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .request
            .unwrap();
        assert_eq!(rescoped.status, "pending");
        assert_eq!(rescoped.client_id.as_deref(), Some(client_id.as_str()));
        let client = g
            .service
            .durable()
            .get_client(&client_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            client.metadata.scope.to_string(),
            format!("openid offline_access {PROJECTS}"),
            "{}: the client changed before the review",
            g.name
        );
        // While in review the app cannot be edited again.
        let busy = raw
            .update_partner_app(pb::UpdatePartnerAppRequest {
                subject: ALICE.into(),
                id: request.id.clone(),
                description: Some("x".into()),
                ..Default::default()
            })
            .await;
        assert_code(busy, Code::FailedPrecondition, "edit while pending");

        let approved = approve(&g, &request.id).await;
        assert_eq!(
            approved.client_id.as_ref().map(|c| c.as_str()),
            Some(client_id.as_str())
        );
        let client = g
            .service
            .durable()
            .get_client(&client_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            client.metadata.scope.to_string(),
            format!("openid profile {PROJECTS}")
        );
        assert_eq!(
            client.metadata.grant_types,
            vec![GrantType::AuthorizationCode]
        );
        assert_eq!(
            client.metadata.redirect_uris[0].as_str(),
            "https://acme.example/v2/callback"
        );
    }
}

#[tokio::test]
async fn a_rejected_scope_change_leaves_the_app_as_it_was() {
    for g in servers().await {
        let request = submit(&g, ALICE, app(true)).await.unwrap();
        let client_id = approve(&g, &request.id).await.client_id.unwrap();
        g.raw()
            .await
            .update_partner_app(pb::UpdatePartnerAppRequest {
                subject: ALICE.into(),
                id: request.id.clone(),
                scopes_set: true,
                scopes: vec!["openid".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        let back = g
            .service
            .partners()
            .reject(&request.id, "Keep the scopes you have", "operator")
            .await
            .unwrap();
        assert_eq!(back.status.as_str(), "approved");
        assert_eq!(back.review_reason, "Keep the scopes you have");
        assert_eq!(
            back.client_id.as_ref().map(|c| c.as_str()),
            Some(client_id.as_str())
        );
        assert_eq!(back.app.scopes.len(), 3, "{:?}", back.app.scopes);
    }
}

#[tokio::test]
async fn logos_are_checked_stored_and_served() {
    for g in servers().await {
        let mut raw = g.raw().await;
        let put = |content_type: &str, data: Vec<u8>| pb::PutLogoRequest {
            subject: ALICE.into(),
            content_type: content_type.into(),
            data,
        };
        let id = raw
            .put_logo(put("image/png", PNG.to_vec()))
            .await
            .unwrap()
            .into_inner()
            .logo_id;
        assert!(id.starts_with("logo_"));
        let logo = raw
            .get_logo(pb::GetLogoRequest { id: id.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(logo.content_type, "image/png");
        assert_eq!(logo.data, PNG);

        assert_code(
            raw.put_logo(put("image/gif", b"GIF89a".to_vec())).await,
            Code::InvalidArgument,
            "gif",
        );
        assert_code(
            raw.put_logo(put("image/png", b"<svg onload=alert(1)>".to_vec()))
                .await,
            Code::InvalidArgument,
            "not a png",
        );
        let mut big = PNG.to_vec();
        big.resize(256 * 1024 + 1, 0);
        assert_code(
            raw.put_logo(put("image/png", big)).await,
            Code::InvalidArgument,
            "too big",
        );
        let bob = pb::PutLogoRequest {
            subject: BOB.into(),
            ..put("image/png", PNG.to_vec())
        };
        assert_code(
            raw.put_logo(bob).await,
            Code::PermissionDenied,
            "disabled uploader",
        );
        assert_code(
            raw.get_logo(pb::GetLogoRequest {
                id: "logo_unknown".into(),
            })
            .await,
            Code::NotFound,
            "unknown logo",
        );
    }
}

#[tokio::test]
async fn automatic_mode_approves_at_once() {
    for g in servers_with(settings(ApprovalMode::Automatic)).await {
        let mut raw = g.raw().await;
        let mode = raw
            .get_partner_settings(pb::GetPartnerSettingsRequest {})
            .await
            .unwrap()
            .into_inner()
            .approval_mode;
        assert_eq!(mode, "automatic");
        let request = submit(&g, ALICE, app(true)).await.unwrap();
        assert_eq!(request.status, "approved", "{}", g.name);
        let client_id = request.client_id.clone().unwrap();
        let shown = reveal(&g, ALICE, &request.id).await.unwrap();
        assert_eq!(shown.client_id, client_id);
        assert!(accepts(&g, &client_id, &shown.client_secret).await);
        let stored = g.service.partners().get(&request.id).await.unwrap();
        assert_eq!(stored.reviewed_by, "automatic approval");
    }
}

#[tokio::test]
async fn off_mode_refuses_every_partner_operation() {
    for g in servers_with(settings(ApprovalMode::Off)).await {
        let mut raw = g.raw().await;
        let mode = raw
            .get_partner_settings(pb::GetPartnerSettingsRequest {})
            .await
            .unwrap()
            .into_inner()
            .approval_mode;
        assert_eq!(mode, "off");
        let code = assert_code(
            submit(&g, ALICE, app(true)).await,
            Code::Unavailable,
            "submit",
        );
        assert_eq!(code, ErrorCode::TemporarilyUnavailable);
        assert_code(
            raw.list_partner_scopes(pb::ListPartnerScopesRequest {})
                .await,
            Code::Unavailable,
            "scopes",
        );
        assert_code(
            raw.list_registration_requests(pb::ListRegistrationRequestsRequest {
                subject: ALICE.into(),
            })
            .await,
            Code::Unavailable,
            "list",
        );
        assert_code(reveal(&g, ALICE, "rr_x").await, Code::Unavailable, "reveal");
        assert_code(
            raw.put_logo(pb::PutLogoRequest {
                subject: ALICE.into(),
                content_type: "image/png".into(),
                data: PNG.to_vec(),
            })
            .await,
            Code::Unavailable,
            "logo",
        );
    }
}
