//! `/admin/users/{id}/factors`: a user's second factors, listed without their secrets, and
//! removing one.

use axum::http::{Method, StatusCode};

use crate::oauth::{SUBJECT, envs};

#[tokio::test]
async fn factors_are_listed_without_secrets_and_removed() {
    for env in envs().await {
        let listed = env
            .admin_call(
                Method::GET,
                &format!("/admin/users/{SUBJECT}/factors"),
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
        assert_eq!(listed.body, serde_json::json!([]), "{}", env.name);

        let enrolment = env
            .service
            .begin_totp_enrolment(SUBJECT, "Phone", "", None)
            .await
            .unwrap();
        let listed = env
            .admin_call(
                Method::GET,
                &format!("/admin/users/{SUBJECT}/factors"),
                None,
            )
            .await;
        let factors = listed.body.as_array().unwrap();
        assert_eq!(factors.len(), 1, "{}", listed.body);
        let factor = &factors[0];
        assert_eq!(factor["id"], enrolment.factor_id.as_str());
        assert_eq!(factor["kind"], "totp");
        assert_eq!(factor["label"], "Phone");
        assert_eq!(factor["confirmed"], false);
        assert_eq!(factor["last_used_at"], serde_json::Value::Null);
        let mut keys: Vec<_> = factor.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "confirmed",
                "created_at",
                "id",
                "kind",
                "label",
                "last_used_at"
            ]
        );
        // The attacker's search: the secret is nowhere in the answer.
        let compact = enrolment.secret.replace(' ', "");
        assert!(!listed.body.to_string().contains(&compact), "{}", env.name);

        let path = format!("/admin/users/{SUBJECT}/factors/{}", enrolment.factor_id);
        let removed = env.admin_call(Method::DELETE, &path, None).await;
        assert_eq!(
            removed.status,
            StatusCode::NO_CONTENT,
            "{}: {}",
            env.name,
            removed.body
        );
        let again = env.admin_call(Method::DELETE, &path, None).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", env.name);
        let nobody = env
            .admin_call(Method::GET, "/admin/users/no-such-user/factors", None)
            .await;
        assert_eq!(nobody.status, StatusCode::NOT_FOUND, "{}", env.name);
    }
}
