//! `/admin/scopes` and the default catalogue seeding.

use axum::http::StatusCode;
use gatehouse_token::admin::seed_default_scopes;
use serde_json::{Value, json};

use gatehouse_testkit::admin::{assert_error, harnesses};

fn by_name<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing from {list}"))
}

#[tokio::test]
async fn seeding_is_idempotent_and_hides_the_technical_scopes() {
    for h in harnesses().await {
        assert_eq!(
            seed_default_scopes(h.store()).await.unwrap(),
            5,
            "{}",
            h.name
        );
        assert_eq!(
            seed_default_scopes(h.store()).await.unwrap(),
            0,
            "{}: a second start-up inserts nothing",
            h.name
        );
        let listed = h.get("/admin/scopes").await;
        assert_eq!(listed.status, StatusCode::OK);
        assert_eq!(listed.body.as_array().unwrap().len(), 5);
        for technical in ["openid", "offline", "offline_access"] {
            assert_eq!(
                by_name(&listed.body, technical)["hidden"],
                true,
                "{}: {technical}",
                h.name
            );
        }
        let profile = by_name(&listed.body, "profile");
        assert_eq!(profile["label"], "Your name and profile picture");
        assert_eq!(profile["hidden"], false);
        assert_eq!(
            by_name(&listed.body, "email")["label"],
            "Your email address"
        );
        let keys: Vec<&String> = profile.as_object().unwrap().keys().collect();
        assert_eq!(
            keys.len(),
            5,
            "exactly name, label, description, hidden, claims: {keys:?}"
        );
        // The standard scopes release their OpenID Connect claims without naming custom ones.
        assert_eq!(profile["claims"], json!([]));
    }
}

#[tokio::test]
async fn seeding_keeps_what_the_operator_edited() {
    for h in harnesses().await {
        seed_default_scopes(h.store()).await.unwrap();
        let edited = h
            .put(
                "/admin/scopes/profile",
                json!({"label": "Your Neon profile", "description": "Name and avatar"}),
            )
            .await;
        assert_eq!(
            edited.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            edited.body
        );
        assert_eq!(
            h.delete("/admin/scopes/email").await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            seed_default_scopes(h.store()).await.unwrap(),
            1,
            "{}: only the deleted one returns",
            h.name
        );
        assert_eq!(
            h.get("/admin/scopes/profile").await.body["label"],
            "Your Neon profile"
        );
    }
}

#[tokio::test]
async fn scope_lifecycle() {
    for h in harnesses().await {
        let body = json!({"name": "urn:neoncloud:projects:read", "label": "Read projects", "description": "List and read your projects"});
        let created = h.post("/admin/scopes", body.clone()).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            h.name,
            created.body
        );
        assert_eq!(
            created.body,
            json!({"name": "urn:neoncloud:projects:read", "label": "Read projects", "description": "List and read your projects", "hidden": false, "claims": []})
        );
        assert_error(
            &h.post("/admin/scopes", body).await,
            StatusCode::CONFLICT,
            "conflict",
            &h.name,
        );

        let read = h.get("/admin/scopes/urn:neoncloud:projects:read").await;
        assert_eq!(read.body, created.body);

        let replaced = h
            .put(
                "/admin/scopes/urn:neoncloud:projects:read",
                json!({"label": "See projects", "hidden": true}),
            )
            .await;
        assert_eq!(
            replaced.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            replaced.body
        );
        assert_eq!(
            replaced.body,
            json!({"name": "urn:neoncloud:projects:read", "label": "See projects", "description": "", "hidden": true, "claims": []})
        );
        assert_eq!(h.get("/admin/scopes").await.body, json!([replaced.body]));

        let renamed = h
            .put(
                "/admin/scopes/urn:neoncloud:projects:read",
                json!({"name": "other", "label": "x"}),
            )
            .await;
        assert_error(
            &renamed,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &h.name,
        );

        assert_eq!(
            h.delete("/admin/scopes/urn:neoncloud:projects:read")
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_error(
            &h.get("/admin/scopes/urn:neoncloud:projects:read").await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
        assert_error(
            &h.delete("/admin/scopes/urn:neoncloud:projects:read").await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
        assert_error(
            &h.put("/admin/scopes/nope", json!({"label": "x"})).await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
    }
}

#[tokio::test]
async fn invalid_scopes_are_refused() {
    for h in harnesses().await {
        seed_default_scopes(h.store()).await.unwrap();
        let cases = [
            (
                "quote in the name",
                h.post("/admin/scopes", json!({"name": "bad\"name", "label": "x"}))
                    .await,
            ),
            (
                "space in the name",
                h.post("/admin/scopes", json!({"name": "two words", "label": "x"}))
                    .await,
            ),
            (
                "no name",
                h.post("/admin/scopes", json!({"label": "x"})).await,
            ),
            (
                "no label",
                h.post("/admin/scopes", json!({"name": "projects"})).await,
            ),
            (
                "blank label",
                h.post("/admin/scopes", json!({"name": "projects", "label": "  "}))
                    .await,
            ),
            (
                "label of the wrong type",
                h.post("/admin/scopes", json!({"name": "projects", "label": 5}))
                    .await,
            ),
            (
                "technical scope shown",
                h.put(
                    "/admin/scopes/openid",
                    json!({"label": "Sign in", "hidden": false}),
                )
                .await,
            ),
            (
                "technical scope deleted",
                h.delete("/admin/scopes/offline_access").await,
            ),
        ];
        for (case, reply) in cases {
            assert_error(
                &reply,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("{}: {case}", h.name),
            );
        }
        assert_eq!(
            h.get("/admin/scopes").await.body.as_array().unwrap().len(),
            5,
            "{}: nothing changed",
            h.name
        );
        let relabelled = h
            .put(
                "/admin/scopes/openid",
                json!({"label": "Confirm who you are", "hidden": true}),
            )
            .await;
        assert_eq!(
            relabelled.status,
            StatusCode::OK,
            "{}: technical scopes may be relabelled",
            h.name
        );
    }
}
