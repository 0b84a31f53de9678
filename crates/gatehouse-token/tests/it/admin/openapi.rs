//! `/admin/openapi.json`: generated from the handlers, so it lists exactly the routes served.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use gatehouse_testkit::admin::harnesses;

const OPERATIONS: &[(&str, &str)] = &[
    ("/admin/clients", "get"),
    ("/admin/clients", "post"),
    ("/admin/clients/{id}", "delete"),
    ("/admin/clients/{id}", "get"),
    ("/admin/clients/{id}", "patch"),
    ("/admin/clients/{id}", "put"),
    ("/admin/clients/{id}/secret", "post"),
    ("/admin/clients/{id}/usage", "get"),
    ("/admin/keys", "get"),
    ("/admin/keys/rotate", "post"),
    ("/admin/oauth2/introspect", "post"),
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
    ("/admin/users/{id}/password", "put"),
    ("/admin/users/{id}/unlock", "post"),
    ("/admin/users/{id}/password-reset", "post"),
    ("/admin/users/import", "post"),
    ("/admin/users/export", "get"),
    ("/admin/openapi.json", "get"),
    ("/admin/registration-tokens", "get"),
    ("/admin/registration-tokens", "post"),
    ("/admin/registration-tokens/{id}", "delete"),
    ("/admin/registration-requests", "get"),
    ("/admin/registration-requests/{id}", "get"),
    ("/admin/registration-requests/{id}/approve", "post"),
    ("/admin/registration-requests/{id}/reject", "post"),
    ("/admin/registration-requests/{id}/request-changes", "post"),
    ("/admin/users/{id}/consents", "get"),
    ("/admin/users/{id}/consents/{client_id}", "delete"),
    ("/admin/users/{id}/factors", "get"),
    ("/admin/users/{id}/factors/{factor_id}", "delete"),
    ("/admin/audit-events", "get"),
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

/// Every operation, but the document's own route, which serves the document rather than
/// being described in it.
fn expected_operations() -> BTreeSet<(String, String)> {
    OPERATIONS
        .iter()
        .filter(|(p, _)| *p != "/admin/openapi.json")
        .map(|(p, m)| ((*p).to_owned(), (*m).to_owned()))
        .collect()
}

#[tokio::test]
async fn document_lists_every_endpoint() {
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
        assert_eq!(documented(&doc), expected_operations());
        assert!(doc["components"]["schemas"]["KeyInfo"]["properties"]["kid"].is_object());
    }
}

/// Every documented operation is served by the admin listener as `gatehouse serve` mounts it.
#[tokio::test]
async fn every_documented_endpoint_is_served_by_the_admin_listener() {
    for env in crate::oauth::envs().await {
        let doc = env
            .admin_call(Method::GET, "/admin/openapi.json", None)
            .await
            .body;
        for (path, method) in documented(&doc) {
            let uri = path
                .replace("{id}", "does-not-exist")
                .replace("{name}", "does-not-exist")
                .replace("{client_id}", "does-not-exist");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body =
                matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
            let answer = env.admin_call(method.clone(), &uri, body).await;
            assert_ne!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{}: {method} {path} is documented but not routed",
                env.name
            );
            let unrouted = answer.body["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("no such admin endpoint"));
            assert!(
                !unrouted,
                "{}: {method} {path} is documented but not routed",
                env.name
            );
        }
    }
}

/// The admin routes mounted outside `utoipa_axum::routes!` (which documents what it mounts):
/// every `.route("/admin…", get|post|…(…))` in the token service's sources.
fn routes_mounted_by_hand() -> BTreeSet<(String, String)> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.clone()];
    let mut routes = BTreeSet::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // `.route(` then the path literal, then the method router up to the matching `)`.
        for (at, _) in text.match_indices(".route(") {
            let rest = text[at + ".route(".len()..].trim_start();
            let Some(literal) = rest.strip_prefix('"') else {
                continue;
            };
            let Some(end) = literal.find('"') else {
                continue;
            };
            let route = &literal[..end];
            if !route.starts_with("/admin") {
                continue;
            }
            let mut depth = 1;
            let call: String = literal[end..]
                .chars()
                .take_while(|c| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth > 0
                })
                .collect();
            for method in ["get", "post", "put", "patch", "delete"] {
                if call.contains(&format!("{method}(")) {
                    routes.insert((route.to_owned(), method.to_owned()));
                }
            }
        }
    }
    routes
}

#[test]
fn every_route_mounted_under_admin_is_documented() {
    let doc = serde_json::to_value(gatehouse_token::admin::openapi_document()).unwrap();
    let documented = documented(&doc);
    let by_hand = routes_mounted_by_hand();
    assert!(
        by_hand.contains(&("/admin/keys".to_owned(), "get".to_owned()))
            && by_hand.contains(&("/admin/oauth2/introspect".to_owned(), "post".to_owned())),
        "the scan finds the hand-mounted routes: {by_hand:?}"
    );
    for (path, method) in by_hand {
        assert!(
            path == "/admin/openapi.json" || documented.contains(&(path.clone(), method.clone())),
            "{method} {path} is mounted but missing from /admin/openapi.json: annotate its handler \
             with #[utoipa::path] and list it in admin/openapi.rs"
        );
    }
    let all: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(p, m)| ((*p).to_owned(), (*m).to_owned()))
        .collect();
    assert!(
        documented.is_subset(&all),
        "update OPERATIONS: {documented:?}"
    );
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
            "metadata",
            "name",
            "picture",
            "roles",
            "updated_at",
            "username"
        ]
    );
    assert_eq!(
        schemas["UserResponse"]["properties"]["metadata"]["type"],
        "object"
    );
    assert!(schemas["UserRequest"]["properties"]["metadata"].is_object());
    // A scope's custom claims: a list of names, in and out.
    assert_eq!(
        schemas["ScopeResponse"]["properties"]["claims"]["type"],
        "array"
    );
    assert!(schemas["ScopeRequest"]["properties"]["claims"].is_object());
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
