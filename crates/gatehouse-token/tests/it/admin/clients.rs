//! `/admin/clients`: create, defaults, Hydra import, list, get, replace, patch, delete.

use axum::http::StatusCode;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::{neoncli, web_client, with};
use gatehouse_testkit::admin::{assert_error, harnesses, start_time};

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn seed_public_client_is_created_as_given_without_a_secret() {
    for h in harnesses().await {
        let created = h.post("/admin/clients", neoncli()).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            h.name,
            created.body
        );
        let c = &created.body;
        assert_eq!(c["client_id"], "neoncli");
        assert_eq!(c["client_name"], "Neon CLI");
        assert_eq!(
            c["redirect_uris"],
            json!(["http://127.0.0.1:5555/callback"])
        );
        assert_eq!(
            c["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(c["response_types"], json!(["code"]));
        assert_eq!(
            c["scope"],
            "openid offline offline_access urn:neoncloud:projects:read"
        );
        assert_eq!(c["token_endpoint_auth_method"], "none");
        assert!(
            c.get("client_secret").is_none(),
            "{}: public clients get no secret",
            h.name
        );
        assert_eq!(c["created_at"], "2026-01-01T00:00:00Z");
        assert_eq!(created.header("cache-control"), Some("no-store"));

        let stored = h.store().get_client("neoncli").await.unwrap().unwrap();
        assert!(stored.secret.is_none());
        let read = h.get("/admin/clients/neoncli").await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(
            read.body, created.body,
            "{}: a read answers what the create answered",
            h.name
        );
    }
}

#[tokio::test]
async fn omitted_fields_take_hydras_defaults_and_a_secret_is_generated_once() {
    for h in harnesses().await {
        let body =
            json!({"client_name": "Minimal", "redirect_uris": ["https://app.example.com/cb"]});
        let created = h.post("/admin/clients", body).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            h.name,
            created.body
        );
        let c = &created.body;
        let id = c["client_id"].as_str().unwrap();
        let uuid = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(uuid.get_version_num(), 4, "generated ids are UUID v4");
        assert_eq!(c["grant_types"], json!(["authorization_code"]));
        assert_eq!(c["response_types"], json!(["code"]));
        assert_eq!(c["scope"], "openid offline offline_access");
        assert_eq!(c["token_endpoint_auth_method"], "client_secret_basic");
        assert_eq!(c["access_token_strategy"], "opaque");
        assert_eq!(c["skip_consent"], false);
        assert_eq!(c["metadata"], json!({}));
        for list in ["contacts", "post_logout_redirect_uris", "audience"] {
            assert_eq!(c[list], json!([]), "{list}");
        }
        for text in ["logo_uri", "client_uri", "policy_uri", "tos_uri"] {
            assert_eq!(c[text], "", "{text}");
        }
        OffsetDateTime::parse(c["created_at"].as_str().unwrap(), &Rfc3339).unwrap();
        OffsetDateTime::parse(c["updated_at"].as_str().unwrap(), &Rfc3339).unwrap();

        let secret = c["client_secret"].as_str().unwrap();
        assert_eq!(secret.len(), 43, "256 bits, base64url");
        assert!(
            secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(c["client_secret_expires_at"], 0);

        let stored = h.store().get_client(id).await.unwrap().unwrap();
        assert!(gatehouse_token::admin::verify_client_secret(
            &stored,
            secret,
            &h.hasher,
            start_time()
        ));
        let read = h.get(&format!("/admin/clients/{id}")).await;
        assert!(
            read.body.get("client_secret").is_none(),
            "{}: the secret is shown only once",
            h.name
        );
        assert!(read.body.get("client_secret_expires_at").is_none());
    }
}

#[tokio::test]
async fn client_credentials_client_gets_no_response_types() {
    for h in harnesses().await {
        let body = json!({"client_id": "billing-worker", "grant_types": ["client_credentials"], "scope": "billing:read"});
        let created = h.post("/admin/clients", body).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            h.name,
            created.body
        );
        assert_eq!(created.body["response_types"], json!([]));
        assert!(created.body["client_secret"].is_string());
    }
}

#[tokio::test]
async fn hydra_cli_client_credentials_export_with_code_response_type_imports() {
    // Hydra's CLI writes response_types ["code"] on every client; such an export must import.
    for h in harnesses().await {
        let body = json!({"client_id": "hydra-worker", "grant_types": ["client_credentials"], "response_types": ["code"], "scope": "billing:read"});
        let created = h.post("/admin/clients", body).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            h.name,
            created.body
        );
        assert_eq!(created.body["response_types"], json!([]));
    }
}

#[tokio::test]
async fn operator_chosen_secret_of_32_characters_is_accepted_and_verifies() {
    for h in harnesses().await {
        let secret = "an-operator-chosen-secret-of-32c";
        assert_eq!(secret.len(), 32);
        let created = h
            .post(
                "/admin/clients",
                with(&web_client("chosen"), "client_secret", json!(secret)),
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            h.name,
            created.body
        );
        assert_eq!(created.body["client_secret"], secret);
        let stored = h.store().get_client("chosen").await.unwrap().unwrap();
        assert!(gatehouse_token::admin::verify_client_secret(
            &stored,
            secret,
            &h.hasher,
            start_time()
        ));
        assert!(!gatehouse_token::admin::verify_client_secret(
            &stored,
            "an-operator-chosen-secret-of-32C",
            &h.hasher,
            start_time()
        ));
    }
}

#[tokio::test]
async fn duplicate_client_id_is_a_conflict() {
    for h in harnesses().await {
        assert_eq!(
            h.post("/admin/clients", neoncli()).await.status,
            StatusCode::CREATED
        );
        let again = h
            .post(
                "/admin/clients",
                with(&neoncli(), "client_name", json!("Other")),
            )
            .await;
        assert_error(&again, StatusCode::CONFLICT, "conflict", &h.name);
        let stored = h.get("/admin/clients/neoncli").await;
        assert_eq!(
            stored.body["client_name"], "Neon CLI",
            "{}: the first client is untouched",
            h.name
        );
    }
}

/// A client as `hydra get client --format json` prints it: nulls, empty strings, and fields
/// Gatehouse does not know.
fn hydra_export() -> Value {
    json!({
        "access_token_strategy": "jwt",
        "allowed_cors_origins": ["https://console.neon.tech"],
        "audience": ["https://api.neon.example"],
        "authorization_code_grant_access_token_lifespan": null,
        "authorization_code_grant_id_token_lifespan": null,
        "authorization_code_grant_refresh_token_lifespan": null,
        "backchannel_logout_session_required": false,
        "backchannel_logout_uri": "",
        "client_credentials_grant_access_token_lifespan": null,
        "client_id": "8c2a4b1e-6f7d-4e0a-9b3c-2d1e5f6a7b8c",
        "client_name": "Neon Console",
        "client_secret_expires_at": 0,
        "client_uri": "https://console.neon.example",
        "contacts": ["platform@neon.example"],
        "created_at": "2024-03-11T09:15:42Z",
        "frontchannel_logout_session_required": false,
        "frontchannel_logout_uri": "",
        "grant_types": ["authorization_code", "refresh_token"],
        "implicit_grant_access_token_lifespan": null,
        "jwks": {},
        "jwks_uri": "",
        "logo_uri": "https://console.neon.example/logo.png",
        "metadata": {"team": "console", "tier": 1},
        "owner": "Neon",
        "policy_uri": "",
        "post_logout_redirect_uris": null,
        "redirect_uris": ["https://console.neon.example/api/auth/callback/neon"],
        "refresh_token_grant_access_token_lifespan": null,
        "request_object_signing_alg": "",
        "request_uris": null,
        "response_types": ["code"],
        "scope": "openid offline_access profile email urn:neoncloud:projects:read",
        "sector_identifier_uri": "",
        "skip_consent": true,
        "skip_logout_consent": false,
        "subject_type": "public",
        "token_endpoint_auth_method": "client_secret_post",
        "token_endpoint_auth_signing_alg": "",
        "tos_uri": "",
        "updated_at": "2024-05-02T17:01:09.482113Z",
        "userinfo_signed_response_alg": "none"
    })
}

#[tokio::test]
async fn hydra_export_imports_unchanged() {
    for h in harnesses().await {
        let imported = h.post("/admin/clients", hydra_export()).await;
        assert_eq!(
            imported.status,
            StatusCode::CREATED,
            "{}: {:?}",
            h.name,
            imported.body
        );
        let c = &imported.body;
        let export = hydra_export();
        for field in [
            "client_id",
            "client_name",
            "audience",
            "client_uri",
            "contacts",
            "grant_types",
            "logo_uri",
            "metadata",
            "redirect_uris",
            "response_types",
            "scope",
            "skip_consent",
            "token_endpoint_auth_method",
            "access_token_strategy",
            "policy_uri",
            "tos_uri",
            "allowed_cors_origins",
            "owner",
            "jwks_uri",
        ] {
            assert_eq!(c[field], export[field], "{}: {field}", h.name);
        }
        assert_eq!(
            c["post_logout_redirect_uris"],
            json!([]),
            "null reads as not set"
        );
        assert!(
            c["client_secret"].is_string(),
            "Hydra exports carry no secret, so one is generated"
        );
        assert_eq!(c["id_token_claims"], json!("minimal"), "the default");
        assert!(c["jwks"].is_null(), "Hydra's empty jwks reads as not set");
        assert!(
            c.get("subject_type").is_none(),
            "unknown fields are dropped"
        );

        // A public client exported with the empty secret Hydra writes.
        let public = with(
            &with(&neoncli(), "client_secret", json!("")),
            "metadata",
            Value::Null,
        );
        let public = with(
            &with(&public, "contacts", Value::Null),
            "subject_type",
            json!("public"),
        );
        let created = h.post("/admin/clients", public).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            h.name,
            created.body
        );
        assert_eq!(created.body["metadata"], json!({}));
    }
}

#[tokio::test]
async fn list_pages_through_every_client_with_link_headers() {
    for h in harnesses().await {
        for i in 1..=5 {
            let created = h
                .post("/admin/clients", web_client(&format!("client-{i}")))
                .await;
            assert_eq!(created.status, StatusCode::CREATED);
        }
        let mut seen = Vec::new();
        let mut next = Some("/admin/clients?page_size=2".to_owned());
        let mut pages = 0;
        while let Some(uri) = next.take() {
            let page = h.get(&uri).await;
            assert_eq!(page.status, StatusCode::OK, "{}: {:?}", h.name, page.body);
            pages += 1;
            for c in page.body.as_array().unwrap() {
                assert!(c.get("client_secret").is_none());
                seen.push(c["client_id"].as_str().unwrap().to_owned());
            }
            next = page.header("link").map(|link| {
                assert!(link.ends_with(r#">; rel="next""#), "{link}");
                link.trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_owned()
            });
        }
        assert_eq!(
            seen,
            ["client-1", "client-2", "client-3", "client-4", "client-5"],
            "{}",
            h.name
        );
        assert_eq!(pages, 3, "{}: 2 + 2 + 1", h.name);

        let all = h.get("/admin/clients").await;
        assert_eq!(all.body.as_array().unwrap().len(), 5);
        assert!(all.header("link").is_none(), "{}: no next page", h.name);

        assert_error(
            &h.get("/admin/clients?page_size=0").await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &h.name,
        );
        assert_error(
            &h.get("/admin/clients?page_size=x").await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &h.name,
        );
        assert_error(
            &h.get("/admin/clients?page_token=***").await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &h.name,
        );
    }
}

#[tokio::test]
async fn unknown_client_is_not_found_everywhere() {
    for h in harnesses().await {
        assert_error(
            &h.get("/admin/clients/nope").await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
        assert_error(
            &h.put("/admin/clients/nope", web_client("nope")).await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
        let patch = json!([{"op": "replace", "path": "/client_name", "value": "x"}]);
        assert_error(
            &h.patch("/admin/clients/nope", patch).await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
        assert_error(
            &h.delete("/admin/clients/nope").await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
        assert_error(
            &h.post("/admin/clients/nope/secret", json!({})).await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
    }
}

#[tokio::test]
async fn put_replaces_everything_but_id_created_at_and_secret() {
    for h in harnesses().await {
        let created = h
            .post(
                "/admin/clients",
                with(&web_client("web"), "contacts", json!(["a@neon.example"])),
            )
            .await;
        let secret = created.body["client_secret"].as_str().unwrap().to_owned();
        h.clock.advance(Duration::minutes(5));

        // The seed's `update`: a full replacement.
        let replacement = json!({
            "client_name": "Neon Console 2", "redirect_uris": ["https://console.neon.example/cb2"],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], "scope": "openid offline"
        });
        let replaced = h.put("/admin/clients/web", replacement).await;
        assert_eq!(
            replaced.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            replaced.body
        );
        let r = &replaced.body;
        assert_eq!(r["client_name"], "Neon Console 2");
        assert_eq!(r["scope"], "openid offline");
        assert_eq!(r["contacts"], json!([]), "omitted fields are cleared");
        assert_eq!(r["created_at"], "2026-01-01T00:00:00Z");
        assert_eq!(r["updated_at"], "2026-01-01T00:05:00Z");
        assert!(
            r.get("client_secret").is_none(),
            "the secret is kept, not shown"
        );
        let stored = h.store().get_client("web").await.unwrap().unwrap();
        assert!(gatehouse_token::admin::verify_client_secret(
            &stored,
            &secret,
            &h.hasher,
            h_now(&h)
        ));

        let mismatch = h.put("/admin/clients/web", web_client("other-id")).await;
        assert_error(
            &mismatch,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &h.name,
        );

        let invalid = h
            .put(
                "/admin/clients/web",
                with(
                    &web_client("web"),
                    "redirect_uris",
                    json!(["http://evil.example/cb"]),
                ),
            )
            .await;
        assert_error(
            &invalid,
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            &h.name,
        );
        assert_eq!(
            h.get("/admin/clients/web").await.body["client_name"],
            "Neon Console 2",
            "{}: unchanged",
            h.name
        );
    }
}

fn h_now(h: &gatehouse_testkit::admin::Harness) -> OffsetDateTime {
    use gatehouse_core::Clock as _;
    h.clock.now()
}

#[tokio::test]
async fn put_moves_a_client_between_public_and_confidential() {
    for h in harnesses().await {
        assert_eq!(
            h.post("/admin/clients", neoncli()).await.status,
            StatusCode::CREATED
        );
        let confidential = with(
            &neoncli(),
            "token_endpoint_auth_method",
            json!("client_secret_basic"),
        );
        let replaced = h.put("/admin/clients/neoncli", confidential).await;
        assert_eq!(
            replaced.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            replaced.body
        );
        let secret = replaced.body["client_secret"]
            .as_str()
            .expect("a client made confidential gets a secret")
            .to_owned();
        let stored = h.store().get_client("neoncli").await.unwrap().unwrap();
        assert!(gatehouse_token::admin::verify_client_secret(
            &stored,
            &secret,
            &h.hasher,
            h_now(&h)
        ));

        let public = h.put("/admin/clients/neoncli", neoncli()).await;
        assert_eq!(public.status, StatusCode::OK);
        let stored = h.store().get_client("neoncli").await.unwrap().unwrap();
        assert!(
            stored.secret.is_none(),
            "{}: a public client keeps no secret",
            h.name
        );
        assert!(!gatehouse_token::admin::verify_client_secret(
            &stored,
            &secret,
            &h.hasher,
            h_now(&h)
        ));
    }
}

#[tokio::test]
async fn put_with_a_secret_replaces_it_at_once() {
    for h in harnesses().await {
        let created = h.post("/admin/clients", web_client("web")).await;
        let old = created.body["client_secret"].as_str().unwrap().to_owned();
        let new = "a-replacement-secret-chosen-by-the-operator";
        let replaced = h
            .put(
                "/admin/clients/web",
                with(&web_client("web"), "client_secret", json!(new)),
            )
            .await;
        assert_eq!(
            replaced.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            replaced.body
        );
        assert_eq!(replaced.body["client_secret"], new);
        let stored = h.store().get_client("web").await.unwrap().unwrap();
        assert!(gatehouse_token::admin::verify_client_secret(
            &stored,
            new,
            &h.hasher,
            h_now(&h)
        ));
        assert!(!gatehouse_token::admin::verify_client_secret(
            &stored,
            &old,
            &h.hasher,
            h_now(&h)
        ));
    }
}

#[tokio::test]
async fn patch_applies_json_patch_and_merge_patch() {
    for h in harnesses().await {
        assert_eq!(
            h.post("/admin/clients", neoncli()).await.status,
            StatusCode::CREATED
        );
        let ops = json!([
            {"op": "replace", "path": "/client_name", "value": "Neon CLI test 3"},
            {"op": "add", "path": "/redirect_uris/-", "value": "http://127.0.0.1:5556/callback"},
            {"op": "test", "path": "/token_endpoint_auth_method", "value": "none"},
            {"op": "remove", "path": "/grant_types/1"},
            {"op": "replace", "path": "/scope", "value": "openid offline"}
        ]);
        let patched = h.patch("/admin/clients/neoncli", ops).await;
        assert_eq!(
            patched.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            patched.body
        );
        let p = &patched.body;
        assert_eq!(p["client_name"], "Neon CLI test 3");
        assert_eq!(
            strings(&p["redirect_uris"]),
            [
                "http://127.0.0.1:5555/callback",
                "http://127.0.0.1:5556/callback"
            ]
        );
        assert_eq!(p["grant_types"], json!(["authorization_code"]));
        assert_eq!(p["scope"], "openid offline");

        let merged = h
            .patch(
                "/admin/clients/neoncli",
                json!({"skip_consent": true, "metadata": {"owner": "cli-team"}}),
            )
            .await;
        assert_eq!(
            merged.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            merged.body
        );
        assert_eq!(merged.body["skip_consent"], true);
        assert_eq!(merged.body["metadata"], json!({"owner": "cli-team"}));
        assert_eq!(
            merged.body["client_name"], "Neon CLI test 3",
            "merge patch keeps what it does not name"
        );
        assert_eq!(h.get("/admin/clients/neoncli").await.body, merged.body);
    }
}

#[tokio::test]
async fn patch_that_fails_or_breaks_a_rule_changes_nothing() {
    for h in harnesses().await {
        assert_eq!(
            h.post("/admin/clients", neoncli()).await.status,
            StatusCode::CREATED
        );
        let before = h.get("/admin/clients/neoncli").await.body;
        let cases = [
            (
                json!([{"op": "test", "path": "/client_name", "value": "wrong"}]),
                "invalid_request",
            ),
            (
                json!([{"op": "remove", "path": "/no_such_field"}]),
                "invalid_request",
            ),
            (
                json!([{"op": "jump", "path": "/client_name"}]),
                "invalid_request",
            ),
            (
                json!([{"op": "replace", "path": "/client_id", "value": "stolen"}]),
                "invalid_request",
            ),
            (
                json!([{"op": "replace", "path": "/redirect_uris/0", "value": "javascript:alert(1)"}]),
                "invalid_redirect_uri",
            ),
            (
                json!([{"op": "add", "path": "/grant_types/-", "value": "client_credentials"}]),
                "invalid_client_metadata",
            ),
            (
                json!([{"op": "replace", "path": "/redirect_uris", "value": "not-a-list"}]),
                "invalid_client_metadata",
            ),
            (
                json!({"response_types": ["token"]}),
                "invalid_client_metadata",
            ),
            (json!("not a patch"), "invalid_request"),
        ];
        for (patch, code) in cases {
            let reply = h.patch("/admin/clients/neoncli", patch.clone()).await;
            assert_error(
                &reply,
                StatusCode::BAD_REQUEST,
                code,
                &format!("{}: {patch}", h.name),
            );
        }
        assert_eq!(
            h.get("/admin/clients/neoncli").await.body,
            before,
            "{}",
            h.name
        );
    }
}

#[tokio::test]
async fn delete_removes_the_client() {
    for h in harnesses().await {
        assert_eq!(
            h.post("/admin/clients", neoncli()).await.status,
            StatusCode::CREATED
        );
        let deleted = h.delete("/admin/clients/neoncli").await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", h.name);
        assert_eq!(deleted.body, Value::Null);
        assert_error(
            &h.get("/admin/clients/neoncli").await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
        assert_error(
            &h.delete("/admin/clients/neoncli").await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    for h in harnesses().await {
        assert_error(
            &h.get("/admin/nothing-here").await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
        let wrong_method = h
            .call(axum::http::Method::PATCH, "/admin/clients", Some(json!({})))
            .await;
        assert_eq!(
            wrong_method.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{}",
            h.name
        );
        assert_eq!(wrong_method.body["error"], "invalid_request");
    }
}

#[tokio::test]
async fn dry_run_validates_completely_and_writes_nothing() {
    for h in harnesses().await {
        let preview = h.post("/admin/clients?dry_run=true", neoncli()).await;
        assert_eq!(
            preview.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            preview.body
        );
        assert_eq!(preview.body["client_id"], "neoncli");
        assert_eq!(preview.body["response_types"], json!(["code"]));
        assert!(
            h.store().get_client("neoncli").await.unwrap().is_none(),
            "{}: a dry run writes nothing",
            h.name
        );

        // No secret is generated for a confidential client, and a generated id is left empty.
        let confidential = h
            .post(
                "/admin/clients?dry_run=true",
                json!({"grant_types": ["client_credentials"]}),
            )
            .await;
        assert_eq!(confidential.status, StatusCode::OK, "{}", h.name);
        assert!(confidential.body.get("client_secret").is_none());
        assert_eq!(confidential.body["client_id"], "");
        assert_eq!(
            confidential.body["token_endpoint_auth_method"],
            "client_secret_basic"
        );

        let invalid = h
            .post(
                "/admin/clients?dry_run=true",
                json!({"client_id": "bad", "redirect_uris": ["http://evil.example/cb"]}),
            )
            .await;
        assert_error(
            &invalid,
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            &h.name,
        );

        assert_eq!(
            h.post("/admin/clients", neoncli()).await.status,
            StatusCode::CREATED
        );
        let taken = h.post("/admin/clients?dry_run=true", neoncli()).await;
        assert_error(&taken, StatusCode::CONFLICT, "conflict", &h.name);

        let bad_flag = h.post("/admin/clients?dry_run=maybe", neoncli()).await;
        assert_eq!(bad_flag.status, StatusCode::BAD_REQUEST, "{}", h.name);
        assert_eq!(
            h.post("/admin/clients?dry_run=false", web_client("web"))
                .await
                .status,
            StatusCode::CREATED,
            "{}",
            h.name
        );
    }
}

/// RFC 9449 §5.2 client metadata: off unless asked for, kept through reads, replaces and
/// patches, and documented in `/admin/openapi.json`.
#[tokio::test]
async fn dpop_bound_access_tokens_round_trips() {
    for h in harnesses().await {
        let created = h.post("/admin/clients", neoncli()).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", h.name);
        assert_eq!(created.body["dpop_bound_access_tokens"], false);

        let bound = with(&neoncli(), "dpop_bound_access_tokens", json!(true));
        let replaced = h.put("/admin/clients/neoncli", bound).await;
        assert_eq!(
            replaced.status,
            StatusCode::OK,
            "{}: {}",
            h.name,
            replaced.body
        );
        assert_eq!(replaced.body["dpop_bound_access_tokens"], true);
        let stored = h.store().get_client("neoncli").await.unwrap().unwrap();
        assert!(stored.metadata.dpop_bound_access_tokens);
        assert_eq!(
            h.get("/admin/clients/neoncli").await.body["dpop_bound_access_tokens"],
            true
        );

        let patched = h
            .patch(
                "/admin/clients/neoncli",
                json!([{"op": "replace", "path": "/dpop_bound_access_tokens", "value": false}]),
            )
            .await;
        assert_eq!(
            patched.status,
            StatusCode::OK,
            "{}: {}",
            h.name,
            patched.body
        );
        assert_eq!(patched.body["dpop_bound_access_tokens"], false);

        let doc = h.get("/admin/openapi.json").await.body;
        for schema in ["ClientRequest", "ClientResponse"] {
            assert!(
                doc["components"]["schemas"][schema]["properties"]["dpop_bound_access_tokens"]
                    .is_object(),
                "{schema}"
            );
        }
    }
}
