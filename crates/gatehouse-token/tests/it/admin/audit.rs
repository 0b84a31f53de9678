//! The audit log: an entry for every change through the admin listener, its actors, its
//! filters and pages, and never a secret in it.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use gatehouse_core::audit::{ActorKind, AuditActor};
use gatehouse_core::registration::client_secret_hasher;
use gatehouse_core::secret::SecretString;
use gatehouse_testkit::http::{Reply, send};
use gatehouse_token::admin::{AdminConfig, READ_ONLY_POSTS};
use serde_json::{Value, json};

use crate::oauth::{Env, envs};

/// A request to `router` with a JSON body (or none), extra headers and, when given, an
/// `AuditActor` extension as the in-process console adds it.
async fn call(
    router: &Router,
    method: Method,
    uri: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
    actor: Option<AuditActor>,
) -> Reply {
    // Writes are JSON, `{}` when there is nothing to send (the browser guard's rule).
    let body = match (&method, body) {
        (&Method::GET, body) => body,
        (_, body) => Some(body.unwrap_or_else(|| json!({}))),
    };
    let mut request = Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    if let Some(actor) = actor {
        request.extensions_mut().insert(actor);
    }
    send(router, request).await
}

/// Every audit event matching `query` (e.g. `action=client.create`), newest first, following
/// the `Link` header page after page.
async fn events(router: &Router, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut uri = format!("/admin/audit-events?{query}");
    loop {
        let reply = call(router, Method::GET, &uri, None, &[], None).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
        out.extend(reply.body.as_array().unwrap().iter().cloned());
        match reply.header("link") {
            Some(link) => {
                uri = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_owned();
            }
            None => return out,
        }
    }
}

async fn latest(router: &Router) -> Value {
    let reply = call(
        router,
        Method::GET,
        "/admin/audit-events?page_size=1",
        None,
        &[],
        None,
    )
    .await;
    reply.body[0].clone()
}

/// The admin listener of `env`'s service as `gatehouse serve` mounts it with an admin token.
fn listener_with_token(env: &Env, token: &str) -> Router {
    gatehouse_token::admin::listener(
        Arc::clone(&env.service),
        client_secret_hasher(&env.system_secret),
        AdminConfig {
            password_hash: gatehouse_testkit::fixtures::cheap_password_params(64),
            ..AdminConfig::default()
        },
        Some(SecretString::new(token)),
    )
}

/// What one step of the walk sends and what its entry must say.
struct Step {
    method: Method,
    /// The route template, as the OpenAPI document names it.
    template: &'static str,
    uri: String,
    body: Option<Value>,
    action: &'static str,
    target: (&'static str, Option<String>),
}

fn step(
    method: Method,
    template: &'static str,
    uri: impl Into<String>,
    body: Option<Value>,
    action: &'static str,
    target: (&'static str, Option<&str>),
) -> Step {
    Step {
        method,
        template,
        uri: uri.into(),
        body,
        action,
        target: (target.0, target.1.map(str::to_owned)),
    }
}

/// The secrets the walk sends or is given, which no audit entry may contain.
#[derive(Default)]
struct Secrets(Vec<String>);

impl Secrets {
    fn add(&mut self, value: &Value) {
        if let Some(s) = value.as_str().filter(|s| !s.is_empty()) {
            self.0.push(s.to_owned());
        }
    }
}

/// Every mutating operation of the OpenAPI document (the signing-key and introspection routes
/// of the listener included) is called once with success, and each leaves exactly one entry
/// with its action, target and actor; the read-only `POST`s leave none. A new mutating route
/// without a step here fails this test. Then every entry is searched for every secret, password,
/// password hash, registration token and key the walk used or was given.
#[tokio::test]
async fn every_mutating_admin_route_leaves_an_audit_entry_without_any_secret() {
    // Password-reset mails are written as files, so the walk can send one and then look for
    // its link in the log.
    let mail_dir = tempfile::tempdir().unwrap();
    let mailer = crate::oauth::file_mailer(mail_dir.path());
    for env in crate::oauth::envs_with(|s| s.accounts.mailer = Some(mailer.clone())).await {
        let api = &env.admin_api;
        let doc = call(api, Method::GET, "/admin/openapi.json", None, &[], None)
            .await
            .body;
        let mut mutating = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["post", "put", "patch", "delete"].contains(&method.as_str()) {
                    mutating.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        assert!(mutating.contains(&("POST".to_owned(), "/admin/keys/rotate".to_owned())));

        let mut secrets = Secrets::default();
        let client_secret = "client-secret-chosen-by-the-operator-0123456789";
        let password = "first-password-of-the-user-1";
        let new_password = "second-password-of-the-user-2";
        let patched_password = "third-password-via-patch-3";
        let imported_hash = "$2b$04$abcdefghijklmnopqrstuu5Nq6Sv4.AXPr1bjDSHuZ9ncZqCzTfCq";
        for s in [
            client_secret,
            password,
            new_password,
            patched_password,
            imported_hash,
        ] {
            secrets.0.push(s.to_owned());
        }
        // A user with a consent and a refresh family for the consent revoke.
        let web = env.web_client("consented-app").await;
        secrets.0.extend(web.secret.clone());
        let tokens = env.tokens(&web, "openid offline profile").await;
        secrets.add(&tokens.body["refresh_token"]);
        secrets.add(&tokens.body["access_token"]);
        secrets.add(&tokens.body["id_token"]);
        env.service
            .record_consent(
                crate::oauth::SUBJECT,
                &gatehouse_testkit::fixtures::client_id("consented-app"),
                &gatehouse_testkit::fixtures::scopes("openid profile"),
            )
            .await
            .unwrap();

        let client = json!({
            "client_id": "audited-app",
            "client_name": "Audited",
            "client_secret": client_secret,
            "redirect_uris": ["https://audited.example/cb"],
            "metadata": {"api_key": "metadata-api-key-value", "team": "billing"},
        });
        // Three partner requests for the reviewers' actions.
        let mut reviewed = Vec::new();
        for name in ["Approved App", "Rejected App", "Changed App"] {
            let request = gatehouse_core::registration_request::RegistrationRequest::new(
                crate::oauth::SUBJECT,
                gatehouse_core::registration_request::AppRequest {
                    name: name.into(),
                    redirect_uris: vec!["https://partner.example/cb".into()],
                    scopes: vec!["openid".into()],
                    confidential: true,
                    ..Default::default()
                },
                gatehouse_core::registration_request::RequestStatus::Pending,
                gatehouse_testkit::fixtures::now(),
            );
            env.service
                .durable()
                .create_registration_request(&request)
                .await
                .unwrap();
            reviewed.push(request.id);
        }
        // A factor for the walk to remove.
        let factor_id = env
            .service
            .begin_totp_enrolment(crate::oauth::SUBJECT, "", "", None)
            .await
            .unwrap()
            .factor_id;
        let mut steps = vec![
            step(
                Method::POST,
                "/admin/registration-requests/{id}/approve",
                format!("/admin/registration-requests/{}/approve", reviewed[0]),
                None,
                "registration_request.approve",
                ("registration_request", Some(&reviewed[0])),
            ),
            step(
                Method::POST,
                "/admin/registration-requests/{id}/reject",
                format!("/admin/registration-requests/{}/reject", reviewed[1]),
                Some(json!({"reason": "not for resellers"})),
                "registration_request.reject",
                ("registration_request", Some(&reviewed[1])),
            ),
            step(
                Method::POST,
                "/admin/registration-requests/{id}/request-changes",
                format!(
                    "/admin/registration-requests/{}/request-changes",
                    reviewed[2]
                ),
                Some(json!({"reason": "add a privacy policy"})),
                "registration_request.request_changes",
                ("registration_request", Some(&reviewed[2])),
            ),
            step(
                Method::POST,
                "/admin/clients",
                "/admin/clients",
                Some(client.clone()),
                "client.create",
                ("client", Some("audited-app")),
            ),
            step(
                Method::PUT,
                "/admin/clients/{id}",
                "/admin/clients/audited-app",
                Some(
                    json!({"client_id": "audited-app", "client_name": "Audited 2", "redirect_uris": ["https://audited.example/cb"]}),
                ),
                "client.update",
                ("client", Some("audited-app")),
            ),
            step(
                Method::PATCH,
                "/admin/clients/{id}",
                "/admin/clients/audited-app",
                Some(json!([{"op": "replace", "path": "/client_name", "value": "Audited 3"}])),
                "client.update",
                ("client", Some("audited-app")),
            ),
            step(
                Method::POST,
                "/admin/clients/{id}/secret",
                "/admin/clients/audited-app/secret?grace_seconds=0",
                None,
                "client.secret.rotate",
                ("client", Some("audited-app")),
            ),
            step(
                Method::DELETE,
                "/admin/clients/{id}",
                "/admin/clients/audited-app",
                None,
                "client.delete",
                ("client", Some("audited-app")),
            ),
            step(
                Method::POST,
                "/admin/scopes",
                "/admin/scopes",
                Some(json!({"name": "audited:read", "label": "Read audits"})),
                "scope.create",
                ("scope", Some("audited:read")),
            ),
            step(
                Method::PUT,
                "/admin/scopes/{name}",
                "/admin/scopes/audited:read",
                Some(json!({"label": "Read the audits"})),
                "scope.update",
                ("scope", Some("audited:read")),
            ),
            step(
                Method::DELETE,
                "/admin/scopes/{name}",
                "/admin/scopes/audited:read",
                None,
                "scope.delete",
                ("scope", Some("audited:read")),
            ),
            step(
                Method::POST,
                "/admin/registration-tokens",
                "/admin/registration-tokens",
                Some(json!({"max_uses": 1})),
                "registration_token.create",
                ("registration_token", None),
            ),
            step(
                Method::POST,
                "/admin/keys/rotate",
                "/admin/keys/rotate",
                Some(json!({"alg": "ES256"})),
                "key.rotate",
                ("key", None),
            ),
            step(
                Method::POST,
                "/admin/users/import",
                "/admin/users/import",
                Some(
                    json!([{"id": "imported-1", "username": "imported", "password_hash": imported_hash}]),
                ),
                "user.import",
                ("user", None),
            ),
            step(
                Method::POST,
                "/admin/users",
                "/admin/users",
                Some(
                    json!({"username": "audited-user", "email": "audited@example.com", "password": password, "roles": ["reviewer"]}),
                ),
                "user.create",
                ("user", None),
            ),
        ];
        let mut done = BTreeSet::new();
        let mut user_id = String::new();
        let mut token_id = String::new();
        let mut i = 0;
        while i < steps.len() {
            let s = &steps[i];
            let before = events(api, "").await.len();
            let reply = call(api, s.method.clone(), &s.uri, s.body.clone(), &[], None).await;
            assert!(
                reply.status.is_success(),
                "{}: {} {} answered {}: {}",
                env.name,
                s.method,
                s.uri,
                reply.status,
                reply.body
            );
            for field in ["client_secret", "token", "registration_access_token"] {
                secrets.add(&reply.body[field]);
            }
            let all = events(api, "").await;
            assert_eq!(
                all.len(),
                before + 1,
                "{}: {} {}",
                env.name,
                s.method,
                s.uri
            );
            let entry = &all[0];
            assert_eq!(entry["action"], s.action, "{}: {entry}", s.uri);
            assert_eq!(entry["target"]["kind"], s.target.0, "{}: {entry}", s.uri);
            match (&s.target.1, s.template) {
                (Some(id), _) => assert_eq!(entry["target"]["id"], id.as_str(), "{entry}"),
                (None, "/admin/users") => {
                    user_id = reply.body["id"].as_str().unwrap().to_owned();
                    assert_eq!(entry["target"]["id"], user_id.as_str(), "{entry}");
                }
                (None, "/admin/registration-tokens") => {
                    token_id = reply.body["id"].as_str().unwrap().to_owned();
                    assert_eq!(entry["target"]["id"], token_id.as_str(), "{entry}");
                }
                (None, _) => assert_eq!(entry["target"]["id"], Value::Null, "{entry}"),
            }
            assert_eq!(entry["actor"]["kind"], "loopback", "{entry}");
            let template = s.template;
            done.insert((s.method.to_string(), template.to_owned()));
            if template == "/admin/users" {
                let user = user_id.clone();
                steps.extend([
                    step(Method::PUT, "/admin/users/{id}", format!("/admin/users/{user}"),
                        Some(json!({"username": "audited-user", "email": "audited@example.com", "name": "Audited User", "roles": ["admin"]})),
                        "user.update", ("user", Some(&user))),
                    step(Method::PATCH, "/admin/users/{id}", format!("/admin/users/{user}"),
                        Some(json!({"password": patched_password, "disabled": false})),
                        "user.update", ("user", Some(&user))),
                    step(Method::PUT, "/admin/users/{id}/password", format!("/admin/users/{user}/password"),
                        Some(json!({"password": new_password})),
                        "user.password.set", ("user", Some(&user))),
                    step(Method::POST, "/admin/users/{id}/unlock", format!("/admin/users/{user}/unlock"),
                        None, "user.unlock", ("user", Some(&user))),
                    step(Method::POST, "/admin/users/{id}/password-reset", format!("/admin/users/{user}/password-reset"),
                        None, "user.password_reset", ("user", Some(&user))),
                    step(Method::DELETE, "/admin/users/{id}", format!("/admin/users/{user}"), None,
                        "user.delete", ("user", Some(&user))),
                    step(Method::DELETE, "/admin/users/{id}/consents/{client_id}",
                        format!("/admin/users/{}/consents/consented-app", crate::oauth::SUBJECT), None,
                        "user.consent.revoke", ("user", Some(crate::oauth::SUBJECT))),
                    step(Method::DELETE, "/admin/users/{id}/factors/{factor_id}",
                        format!("/admin/users/{}/factors/{factor_id}", crate::oauth::SUBJECT), None,
                        "user.factor.delete", ("user", Some(crate::oauth::SUBJECT))),
                ]);
            }
            if template == "/admin/registration-tokens" {
                let id = token_id.clone();
                steps.push(step(
                    Method::DELETE,
                    "/admin/registration-tokens/{id}",
                    format!("/admin/registration-tokens/{id}"),
                    None,
                    "registration_token.delete",
                    ("registration_token", Some(&id)),
                ));
            }
            i += 1;
        }

        // The read-only POSTs change nothing and leave nothing.
        for template in READ_ONLY_POSTS {
            let before = events(api, "").await.len();
            let access = tokens.body["access_token"].as_str().unwrap();
            let request = Request::post(*template)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("token={access}")))
                .unwrap();
            let reply = send(api, request).await;
            assert_eq!(reply.status, StatusCode::OK, "{template}: {}", reply.body);
            // Inactive by now: the walk revoked the consent its client's tokens came from.
            assert_eq!(reply.body["active"], false);
            assert_eq!(events(api, "").await.len(), before, "{template}");
            done.insert(("POST".to_owned(), (*template).to_owned()));
        }
        // A dry run changes nothing and is not recorded either.
        let before = events(api, "").await.len();
        let dry = call(
            api,
            Method::POST,
            "/admin/clients?dry_run=true",
            Some(json!({"client_id": "dry", "redirect_uris": ["https://dry.example/cb"]})),
            &[],
            None,
        )
        .await;
        assert!(dry.status.is_success(), "{}", dry.body);
        assert_eq!(events(api, "").await.len(), before);

        // Attacker: a dry_run parameter on a route without dry runs does not hide its change.
        let reply = call(
            api,
            Method::POST,
            "/admin/scopes?dry_run=true",
            Some(json!({"name": "hidden:write", "label": "H"})),
            &[],
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let reply = call(
            api,
            Method::DELETE,
            "/admin/scopes/hidden:write?dry_run=true",
            None,
            &[],
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
        let hidden = events(api, "target=hidden:write").await;
        let actions: Vec<&str> = hidden
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["scope.delete", "scope.create"], "{}", env.name);

        let missing: Vec<_> = mutating.difference(&done).collect();
        assert!(
            missing.is_empty(),
            "{}: mutating admin routes without an audit step in this test: {missing:?}",
            env.name
        );

        // The links the walk mailed (password reset, email verification) are secrets too.
        let mut links = 0;
        for eml in std::fs::read_dir(mail_dir.path()).unwrap().flatten() {
            let mail = gatehouse_testkit::mail::parse(&std::fs::read(eml.path()).unwrap()).unwrap();
            if let Some(link) = mail.link("?token=") {
                secrets
                    .0
                    .push(link.split("token=").nth(1).unwrap().to_owned());
                links += 1;
            }
        }
        assert!(links >= 2, "a reset and a verification link were mailed");

        // The attacker's search: no entry holds a secret, password, hash, token or key.
        let all = events(api, "").await;
        let text = serde_json::to_string(&all).unwrap();
        for secret in &secrets.0 {
            assert!(
                !text.contains(secret.as_str()),
                "{}: a secret is in the audit log: {text}",
                env.name
            );
        }
        for marker in [
            "$2b$",
            "$argon2",
            "-----BEGIN",
            "gh_rt_",
            "gh_at_",
            "metadata-api-key-value",
        ] {
            assert!(
                !text.contains(marker),
                "{}: {marker} in the audit log",
                env.name
            );
        }
        // Redacted fields keep their names, so an auditor sees what was set.
        let created = events(api, "action=client.create").await;
        assert_eq!(created[0]["changes"]["client_secret"], "[redacted]");
        assert_eq!(created[0]["changes"]["metadata"]["api_key"], "[redacted]");
        assert_eq!(created[0]["changes"]["metadata"]["team"], "billing");
        assert_eq!(created[0]["changes"]["client_name"], "Audited");
        let set = events(api, "action=user.password.set").await;
        assert_eq!(set[0]["changes"], json!({"password": "[redacted]"}));
        let patched = events(api, &format!("action=user.update&target={user_id}")).await;
        assert_eq!(patched.len(), 2);
        assert_eq!(patched[0]["changes"]["password"], "[redacted]");
        assert_eq!(patched[1]["changes"]["roles"], json!(["admin"]));
        let imported = events(api, "action=user.import").await;
        assert_eq!(imported[0]["changes"], json!({"records": 1}));
        let rotated = events(api, "action=client.secret.rotate").await;
        assert_eq!(rotated[0]["changes"], json!({"grace_seconds": "0"}));
        let revoked = events(api, "action=user.consent.revoke").await;
        assert_eq!(revoked[0]["changes"], json!({"client_id": "consented-app"}));
    }
}

#[tokio::test]
async fn the_actor_is_the_console_user_the_admin_token_the_cli_or_loopback() {
    for env in envs().await {
        let open = &env.admin_api;
        let token = "admin-token-for-the-actor-test-0123456789";
        let guarded = listener_with_token(&env, token);
        let bearer = format!("Bearer {token}");
        let scope = |n: u32| Some(json!({"name": format!("actor:{n}"), "label": "L"}));
        // (listener, headers, the console's extension, the entry's actor)
        type Case<'a> = (
            &'a Router,
            Vec<(&'a str, &'a str)>,
            Option<AuditActor>,
            Value,
        );
        let cases: Vec<Case> = vec![
            (
                open,
                vec![("user-agent", "gatehouse-cli/0.1.0")],
                None,
                json!({"kind": "cli", "id": null, "name": "gatehouse-cli/0.1.0"}),
            ),
            (
                open,
                vec![("user-agent", "curl/8.5.0")],
                None,
                json!({"kind": "loopback", "id": null, "name": "curl/8.5.0"}),
            ),
            (
                open,
                vec![],
                None,
                json!({"kind": "loopback", "id": null, "name": null}),
            ),
            (
                &guarded,
                vec![
                    ("authorization", bearer.as_str()),
                    ("user-agent", "gatehouse-cli/0.1.0"),
                ],
                None,
                json!({"kind": "admin_token", "id": null, "name": null}),
            ),
            (
                open,
                vec![("user-agent", "gatehouse-cli/0.1.0")],
                Some(AuditActor::user("user-7", "olivia")),
                json!({"kind": "user", "id": "user-7", "name": "olivia"}),
            ),
            (
                &guarded,
                vec![("authorization", bearer.as_str())],
                Some(AuditActor::user("user-8", "oscar")),
                json!({"kind": "user", "id": "user-8", "name": "oscar"}),
            ),
        ];
        for (n, (router, headers, actor, expected)) in cases.into_iter().enumerate() {
            let reply = call(
                router,
                Method::POST,
                "/admin/scopes",
                scope(n as u32),
                &headers,
                actor,
            )
            .await;
            assert_eq!(
                reply.status,
                StatusCode::CREATED,
                "{}: case {n}: {}",
                env.name,
                reply.body
            );
            let entry = latest(open).await;
            assert_eq!(entry["actor"], expected, "{}: case {n}", env.name);
            assert_eq!(entry["target"]["id"], format!("actor:{n}"));
        }
        // Without the token the guarded listener changes nothing, and so records nothing.
        let before = events(open, "").await.len();
        let refused = call(
            &guarded,
            Method::POST,
            "/admin/scopes",
            scope(99),
            &[],
            None,
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(events(open, "").await.len(), before);
    }
}

/// An attacker on the network cannot name themselves an operator: no header makes an entry's
/// actor a user, or another user, and an actor header cannot turn the admin token's entry into
/// someone else's.
#[tokio::test]
async fn no_header_chooses_the_actor() {
    for env in envs().await {
        let token = "admin-token-for-the-header-test-0123456789";
        let guarded = listener_with_token(&env, token);
        let bearer = format!("Bearer {token}");
        let forged = [
            ("authorization", bearer.as_str()),
            (
                "x-audit-actor",
                r#"{"kind":"user","id":"root","name":"root"}"#,
            ),
            ("x-forwarded-user", "root"),
            ("x-remote-user", "root"),
            ("x-actor-kind", "user"),
            ("user-agent", "gatehouse-console"),
        ];
        let reply = call(
            &guarded,
            Method::POST,
            "/admin/scopes",
            Some(json!({"name": "forged", "label": "F"})),
            &forged,
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let entry = latest(&env.admin_api).await;
        assert_eq!(entry["actor"]["kind"], ActorKind::AdminToken.as_str());
        assert_eq!(entry["actor"]["id"], Value::Null);
        let reply = call(
            &env.admin_api,
            Method::DELETE,
            "/admin/scopes/forged",
            None,
            &forged[1..],
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        let entry = latest(&env.admin_api).await;
        assert_eq!(entry["actor"]["kind"], "loopback");
        assert!(!entry.to_string().contains("root"), "{entry}");
    }
}

#[tokio::test]
async fn audit_events_are_filtered_and_paged() {
    for env in envs().await {
        let api = &env.admin_api;
        let olivia = || Some(AuditActor::user("user-olivia", "olivia"));
        for n in 0..5 {
            let reply = call(
                api,
                Method::POST,
                "/admin/scopes",
                Some(json!({"name": format!("paged:{n}"), "label": "P"})),
                &[],
                olivia(),
            )
            .await;
            assert_eq!(reply.status, StatusCode::CREATED);
        }
        env.clock.advance(time::Duration::hours(2));
        let cut = time::OffsetDateTime::from_unix_timestamp(env.unix())
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let reply = call(
            api,
            Method::DELETE,
            "/admin/scopes/paged:0",
            None,
            &[("user-agent", "gatehouse-cli/0.1.0")],
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);

        let ids = |events: &[Value]| {
            events
                .iter()
                .map(|e| e["target"]["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        // Newest first, in pages of two that neither skip nor repeat.
        let first = call(
            api,
            Method::GET,
            "/admin/audit-events?page_size=2&actor=olivia",
            None,
            &[],
            None,
        )
        .await;
        assert_eq!(first.body.as_array().unwrap().len(), 2);
        let link = first.header("link").unwrap();
        assert!(
            link.contains("actor=olivia") && link.ends_with("rel=\"next\""),
            "{link}"
        );
        let all = events(api, "page_size=2&actor=olivia").await;
        assert_eq!(
            ids(&all),
            ["paged:4", "paged:3", "paged:2", "paged:1", "paged:0"]
        );
        let at = all[0]["at"].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).is_ok()
        );
        assert!(uuid::Uuid::parse_str(all[0]["id"].as_str().unwrap()).is_ok());

        assert_eq!(events(api, "actor=user-olivia").await.len(), 5);
        assert_eq!(events(api, "actor=user").await.len(), 5);
        assert_eq!(ids(&events(api, "actor=cli").await), ["paged:0"]);
        assert_eq!(ids(&events(api, "target=paged:3").await), ["paged:3"]);
        assert_eq!(events(api, "target=scope").await.len(), 6);
        assert_eq!(ids(&events(api, "action=scope.delete").await), ["paged:0"]);
        assert_eq!(events(api, "action=scope.*").await.len(), 6);
        assert_eq!(
            ids(&events(api, &format!("since={cut}")).await),
            ["paged:0"]
        );
        assert_eq!(
            events(api, &format!("until={cut}&actor=olivia"))
                .await
                .len(),
            5
        );
        assert_eq!(
            events(api, &format!("since={cut}&actor=olivia"))
                .await
                .len(),
            0
        );
        for bad in [
            "since=yesterday",
            "until=2026-13-01T00:00:00Z",
            "page_token=%21%21",
            "page_size=0",
        ] {
            let reply = call(
                api,
                Method::GET,
                &format!("/admin/audit-events?{bad}"),
                None,
                &[],
                None,
            )
            .await;
            gatehouse_testkit::admin::assert_error(
                &reply,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                bad,
            );
        }
        // A page token of another list is no key of this one.
        let other = call(
            api,
            Method::GET,
            "/admin/audit-events?page_token=bm9wZQ",
            None,
            &[],
            None,
        )
        .await;
        gatehouse_testkit::admin::assert_error(
            &other,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "foreign token",
        );
    }
}

/// A change that succeeded stays a success when its audit entry cannot be written: the entry's
/// loss is logged and counted, and the operator is not invited to repeat the change.
#[tokio::test]
async fn a_failed_audit_write_does_not_fail_the_change() {
    for env in envs().await {
        let backend = env.durable_backend();
        drop_audit_table(backend).await;
        let reply = call(
            &env.admin_api,
            Method::POST,
            "/admin/scopes",
            Some(json!({"name": "unaudited", "label": "U"})),
            &[],
            None,
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{}: {}",
            env.name,
            reply.body
        );
        assert!(
            env.service
                .durable()
                .get_scope("unaudited")
                .await
                .unwrap()
                .is_some(),
            "{}",
            env.name
        );
    }
}

async fn drop_audit_table(backend: &gatehouse_testkit::DurableBackend) {
    match backend.kind {
        gatehouse_testkit::DurableKind::Sqlite => {
            let pool = sqlx::sqlite::SqlitePool::connect(&backend.url)
                .await
                .unwrap();
            sqlx::query("DROP TABLE audit_events")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        gatehouse_testkit::DurableKind::Postgres => {
            let pool = sqlx::postgres::PgPool::connect(&backend.url).await.unwrap();
            sqlx::query("DROP TABLE audit_events")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}
