//! `/admin/users/{id}/consents`: a user's connected apps, and removing one's access as the
//! account page does.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::oauth::{SUBJECT, envs};

#[tokio::test]
async fn connected_apps_are_listed_and_revoking_one_ends_its_tokens_at_once() {
    for env in envs().await {
        let app = env.web_client("connected-app").await;
        let other = env.web_client("other-app").await;
        let tokens = env.tokens(&app, "openid offline profile").await;
        let access = tokens.str("access_token");
        let refresh = tokens.str("refresh_token");
        let other_access = env
            .tokens(&other, "openid profile")
            .await
            .str("access_token");
        for (client, scope) in [
            ("connected-app", "openid offline profile"),
            ("other-app", "openid"),
        ] {
            env.service
                .record_consent(
                    SUBJECT,
                    &gatehouse_testkit::fixtures::client_id(client),
                    &gatehouse_testkit::fixtures::scopes(scope),
                )
                .await
                .unwrap();
        }

        let listed = env
            .admin_call(
                Method::GET,
                &format!("/admin/users/{SUBJECT}/consents"),
                None,
            )
            .await;
        assert_eq!(
            listed.status,
            StatusCode::OK,
            "{}: {}",
            env.name,
            listed.body
        );
        let mut apps = listed.body.as_array().unwrap().clone();
        apps.sort_by_key(|a| a["client_id"].as_str().unwrap().to_owned());
        assert_eq!(apps.len(), 2, "{}", listed.body);
        let app_entry = &apps[0];
        assert_eq!(app_entry["client_id"], "connected-app");
        assert_eq!(app_entry["client_name"], "Test app");
        assert_eq!(app_entry["scope"], "openid offline profile");
        assert!(
            time::OffsetDateTime::parse(
                app_entry["granted_at"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339
            )
            .is_ok()
        );
        assert!(app_entry.get("expires_at").is_some());
        let mut keys: Vec<_> = app_entry.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "client_id",
                "client_name",
                "expires_at",
                "granted_at",
                "scope"
            ]
        );
        assert!(env.active(&access).await);

        let revoked = env
            .admin_call(
                Method::DELETE,
                &format!("/admin/users/{SUBJECT}/consents/connected-app"),
                None,
            )
            .await;
        assert_eq!(
            revoked.status,
            StatusCode::NO_CONTENT,
            "{}: {}",
            env.name,
            revoked.body
        );
        assert!(
            !env.active(&access).await,
            "{}: the access token still works",
            env.name
        );
        assert!(
            !env.active(&refresh).await,
            "{}: the refresh token still works",
            env.name
        );
        assert!(
            env.active(&other_access).await,
            "{}: another app's access is untouched",
            env.name
        );

        let listed = env
            .admin_call(
                Method::GET,
                &format!("/admin/users/{SUBJECT}/consents"),
                None,
            )
            .await;
        assert_eq!(
            listed.body,
            json!([{
                "client_id": "other-app",
                "client_name": "Test app",
                "scope": "openid",
                "granted_at": apps[1]["granted_at"],
                "expires_at": apps[1]["expires_at"],
            }])
        );
        // Again: nothing left to end, still a success.
        let again = env
            .admin_call(
                Method::DELETE,
                &format!("/admin/users/{SUBJECT}/consents/connected-app"),
                None,
            )
            .await;
        assert_eq!(again.status, StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn consents_of_a_missing_user_or_a_bad_client_id_are_refused() {
    for env in envs().await {
        let missing = env
            .admin_call(Method::GET, "/admin/users/nobody/consents", None)
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
        assert_eq!(missing.body["error"], "not_found");
        let missing = env
            .admin_call(Method::DELETE, "/admin/users/nobody/consents/app", None)
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
        let bad = env
            .admin_call(
                Method::DELETE,
                &format!("/admin/users/{SUBJECT}/consents/has%20space"),
                None,
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
        assert_eq!(bad.body["error"], "invalid_request");
    }
}
