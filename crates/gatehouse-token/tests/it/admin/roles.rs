//! Users' operator-console roles in the admin API: set, answered, filtered, refused by name,
//! kept by import and export.

use axum::http::StatusCode;
use serde_json::{Value, json};

use gatehouse_testkit::admin::{Harness, assert_error, harnesses};

async fn create(h: &Harness, body: Value) -> Value {
    let reply = h.post("/admin/users", body).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}: {}",
        h.name,
        reply.body
    );
    reply.body
}

fn usernames(reply: &Value) -> Vec<&str> {
    reply
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn roles_are_set_sorted_without_duplicates_and_answered_everywhere() {
    for h in harnesses().await {
        let plain = create(&h, json!({"username": "plain"})).await;
        assert_eq!(plain["roles"], json!([]), "{}", h.name);
        let both = create(
            &h,
            json!({"username": "both", "roles": ["reviewer", "admin", "reviewer"]}),
        )
        .await;
        assert_eq!(both["roles"], json!(["admin", "reviewer"]));
        let id = both["id"].as_str().unwrap();
        assert_eq!(
            h.get(&format!("/admin/users/{id}")).await.body["roles"],
            json!(["admin", "reviewer"])
        );
        let stored = h.store().get_user(id).await.unwrap().unwrap();
        assert_eq!(
            stored.roles,
            [
                gatehouse_core::user::Role::Admin,
                gatehouse_core::user::Role::Reviewer
            ]
        );

        // PATCH changes only what it names; PUT replaces the roles when it names them and
        // keeps them when it does not (as the password), so a client unaware of roles cannot
        // take them away by accident.
        let patched = h
            .patch(
                &format!("/admin/users/{id}"),
                json!({"roles": ["reviewer"]}),
            )
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
        assert_eq!(patched.body["roles"], json!(["reviewer"]));
        let patched = h
            .patch(&format!("/admin/users/{id}"), json!({"name": "Both"}))
            .await;
        assert_eq!(
            patched.body["roles"],
            json!(["reviewer"]),
            "a patch keeps the roles it does not name"
        );
        let put = h
            .put(
                &format!("/admin/users/{id}"),
                json!({"username": "both", "roles": ["admin"]}),
            )
            .await;
        assert_eq!(put.body["roles"], json!(["admin"]));
        let put = h
            .put(&format!("/admin/users/{id}"), json!({"username": "both"}))
            .await;
        assert_eq!(put.body["roles"], json!(["admin"]));
        let put = h
            .put(
                &format!("/admin/users/{id}"),
                json!({"username": "both", "roles": null}),
            )
            .await;
        assert_eq!(put.body["roles"], json!(["admin"]));
        let put = h
            .put(
                &format!("/admin/users/{id}"),
                json!({"username": "both", "roles": []}),
            )
            .await;
        assert_eq!(put.body["roles"], json!([]));
        let json_patch = h
            .patch(
                &format!("/admin/users/{id}"),
                json!([{"op": "add", "path": "/roles/-", "value": "admin"}]),
            )
            .await;
        assert_eq!(
            json_patch.body["roles"],
            json!(["admin"]),
            "{}",
            json_patch.body
        );

        // Every list answer carries them.
        let listed = h.get("/admin/users").await;
        for user in listed.body.as_array().unwrap() {
            assert!(user["roles"].is_array(), "{user}");
        }
    }
}

#[tokio::test]
async fn an_unknown_role_is_refused_by_name_and_nothing_changes() {
    for h in harnesses().await {
        for roles in [json!(["admin", "superuser"]), json!(["Admin"]), json!([""])] {
            let reply = h
                .post("/admin/users", json!({"username": "eve", "roles": roles}))
                .await;
            assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_request", &h.name);
        }
        let reply = h
            .post(
                "/admin/users",
                json!({"username": "eve", "roles": ["superuser"]}),
            )
            .await;
        let description = reply.body["error_description"].as_str().unwrap();
        assert!(description.contains("\"superuser\""), "{description}");
        let wrong_type = h
            .post("/admin/users", json!({"username": "eve", "roles": "admin"}))
            .await;
        assert_eq!(
            wrong_type.status,
            StatusCode::BAD_REQUEST,
            "{}",
            wrong_type.body
        );
        assert_eq!(h.get("/admin/users?username=eve").await.body, json!([]));

        let user = create(&h, json!({"username": "mallory", "roles": ["reviewer"]})).await;
        let id = user["id"].as_str().unwrap();
        let refused = h
            .patch(
                &format!("/admin/users/{id}"),
                json!({"roles": ["reviewer", "root"]}),
            )
            .await;
        assert_error(
            &refused,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "patch",
        );
        assert!(
            refused.body["error_description"]
                .as_str()
                .unwrap()
                .contains("root")
        );
        let refused = h
            .put(
                &format!("/admin/users/{id}"),
                json!({"username": "mallory", "roles": ["owner"]}),
            )
            .await;
        assert_error(&refused, StatusCode::BAD_REQUEST, "invalid_request", "put");
        assert_eq!(
            h.get(&format!("/admin/users/{id}")).await.body["roles"],
            json!(["reviewer"])
        );
    }
}

#[tokio::test]
async fn users_are_listed_by_role_page_after_page() {
    for h in harnesses().await {
        for (name, roles) in [
            ("a-admin", json!(["admin"])),
            ("b-plain", json!([])),
            ("c-both", json!(["admin", "reviewer"])),
            ("d-reviewer", json!(["reviewer"])),
            ("e-admin", json!(["admin"])),
        ] {
            create(&h, json!({"username": name, "roles": roles})).await;
        }
        let mut admins = Vec::new();
        let mut uri = "/admin/users?role=admin&page_size=2".to_owned();
        loop {
            let reply = h.get(&uri).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            for user in reply.body.as_array().unwrap() {
                assert!(
                    user["roles"].as_array().unwrap().contains(&json!("admin")),
                    "{user}"
                );
                admins.push(user["username"].as_str().unwrap().to_owned());
            }
            match reply.header("link") {
                Some(link) => {
                    assert!(link.contains("role=admin"), "{link}");
                    uri = link
                        .trim_start_matches('<')
                        .split('>')
                        .next()
                        .unwrap()
                        .to_owned();
                }
                None => break,
            }
        }
        admins.sort();
        assert_eq!(admins, ["a-admin", "c-both", "e-admin"], "{}", h.name);
        let reviewers = h.get("/admin/users?role=reviewer").await;
        let mut names = usernames(&reviewers.body);
        names.sort_unstable();
        assert_eq!(names, ["c-both", "d-reviewer"]);
        let searched = h.get("/admin/users?role=admin&search=both").await;
        assert_eq!(usernames(&searched.body), ["c-both"]);
        let unknown = h.get("/admin/users?role=superuser").await;
        assert_error(
            &unknown,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unknown role",
        );
        let both = h.get("/admin/users?role=admin&username=a-admin").await;
        assert_error(
            &both,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "role with username",
        );
    }
}

#[tokio::test]
async fn import_and_export_keep_roles() {
    for h in harnesses().await {
        let report = h
            .post(
                "/admin/users/import",
                json!([
                    {"id": "i1", "username": "imported-admin", "roles": ["admin"]},
                    {"id": "i2", "username": "imported-plain"},
                    {"id": "i3", "username": "imported-bad", "roles": ["god"]},
                ]),
            )
            .await;
        assert_eq!(report.status, StatusCode::OK, "{}", report.body);
        assert_eq!(report.body["created"].as_array().unwrap().len(), 2);
        assert_eq!(report.body["invalid"][0]["line"], 3);
        assert!(
            report.body["invalid"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("god")
        );
        assert_eq!(
            h.get("/admin/users/i1").await.body["roles"],
            json!(["admin"])
        );

        let request = axum::http::Request::get("/admin/users/export")
            .body(axum::body::Body::empty())
            .unwrap();
        let export = gatehouse_testkit::http::send(&h.router, request).await;
        assert_eq!(export.status, StatusCode::OK);
        let text = String::from_utf8(export.raw.clone()).unwrap();
        let records: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let admin = records.iter().find(|r| r["id"] == "i1").unwrap();
        assert_eq!(admin["roles"], json!(["admin"]));
        let plain = records.iter().find(|r| r["id"] == "i2").unwrap();
        assert_eq!(plain["roles"], json!([]));
    }
}
