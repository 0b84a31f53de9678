//! `/admin/openapi.json`: generated from the handlers, so it lists exactly the routes served.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use gatehouse_testkit::admin::harnesses;

const OPERATIONS: [(&str, &str); 18] = [
    ("/admin/clients", "get"),
    ("/admin/clients", "post"),
    ("/admin/clients/{id}", "delete"),
    ("/admin/clients/{id}", "get"),
    ("/admin/clients/{id}", "patch"),
    ("/admin/clients/{id}", "put"),
    ("/admin/clients/{id}/secret", "post"),
    ("/admin/scopes", "get"),
    ("/admin/scopes", "post"),
    ("/admin/scopes/{name}", "delete"),
    ("/admin/scopes/{name}", "get"),
    ("/admin/scopes/{name}", "put"),
    ("/admin/users", "get"),
    ("/admin/users", "post"),
    ("/admin/users/{id}", "delete"),
    ("/admin/users/{id}", "get"),
    ("/admin/users/{id}", "patch"),
    ("/admin/users/{id}", "put"),
];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert((path.clone(), method.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn document_lists_every_endpoint_and_every_listed_endpoint_is_served() {
    for h in harnesses().await {
        let reply = h.get("/admin/openapi.json").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", h.name);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let doc = reply.body;
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        assert_eq!(doc["info"]["title"], "Gatehouse admin API");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            doc["components"]["securitySchemes"]["admin_token"]["scheme"],
            "bearer"
        );

        let mut expected: BTreeSet<(String, String)> = OPERATIONS
            .iter()
            .map(|(p, m)| ((*p).to_owned(), (*m).to_owned()))
            .collect();
        expected.insert(("/admin/users/{id}/password".to_owned(), "put".to_owned()));
        expected.insert(("/admin/users/{id}/unlock".to_owned(), "post".to_owned()));
        assert_eq!(documented(&doc), expected);

        for (path, method) in documented(&doc) {
            let uri = path
                .replace("{id}", "does-not-exist")
                .replace("{name}", "does-not-exist");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body =
                matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
            let answer = h.call(method.clone(), &uri, body).await;
            assert_ne!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not routed"
            );
            let unrouted = answer.body["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("no such admin endpoint"));
            assert!(!unrouted, "{method} {path} is documented but not routed");
        }
    }
}

#[tokio::test]
async fn write_only_fields_are_marked_and_the_document_matches_the_library_function() {
    let doc = serde_json::to_value(gatehouse_token::admin::openapi_document()).unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ClientRequest"]["properties"]["client_secret"]["writeOnly"],
        true
    );
    assert_eq!(
        schemas["UserRequest"]["properties"]["password"]["writeOnly"],
        true
    );
    assert_eq!(
        schemas["PasswordRequest"]["properties"]["password"]["writeOnly"],
        true
    );
    assert!(
        schemas["UserResponse"]["properties"]
            .get("password")
            .is_none()
    );
    let mut user_fields: Vec<&String> = schemas["UserResponse"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    user_fields.sort_unstable();
    assert_eq!(
        user_fields,
        [
            "created_at",
            "disabled",
            "email",
            "email_verified",
            "id",
            "name",
            "picture",
            "updated_at",
            "username"
        ]
    );
    assert!(schemas["ErrorBody"]["properties"]["error_description"].is_object());
    // OpenAPI requires a description on every response object; generators refuse documents without.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let described = response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty());
                assert!(described, "{method} {path} {status} has no description");
            }
        }
    }

    let h = harnesses().await.into_iter().next().unwrap();
    assert_eq!(h.get("/admin/openapi.json").await.body, doc);
}
