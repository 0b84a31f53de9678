//! `/admin/registration-requests`: the reviewers' queue, approve (with edits), reject and
//! request changes, on every backend pair.

use axum::http::StatusCode;
use gatehouse_core::client::TokenEndpointAuthMethod;
use gatehouse_core::protocol::GrantType;
use gatehouse_core::registration_request::{AppRequest, RegistrationRequest, RequestStatus};
use gatehouse_testkit::admin::{Harness, assert_error, harnesses};
use gatehouse_testkit::fixtures::user;
use gatehouse_token::admin::seed_default_scopes;
use serde_json::{Value, json};

fn app(name: &str) -> AppRequest {
    AppRequest {
        name: name.into(),
        description: "Syncs projects".into(),
        website: format!("https://{}.example", name.to_lowercase()),
        contact_name: "Ada".into(),
        reason: "customers asked".into(),
        redirect_uris: vec!["https://acme.example/callback".into()],
        scopes: vec!["openid".into(), "offline".into(), "profile".into()],
        confidential: true,
        logo_uri: String::new(),
    }
}

/// Two partners (alice, carol) and the default catalogue.
async fn seed(h: &Harness) {
    seed_default_scopes(h.store()).await.unwrap();
    for (id, name) in [("user-alice", "alice"), ("user-carol", "carol")] {
        h.store().create_user(&user(id, name)).await.unwrap();
    }
}

/// A pending request of `owner`, created `age` seconds before the harness's start.
async fn request(h: &Harness, owner: &str, name: &str, age: i64) -> RegistrationRequest {
    let at = gatehouse_testkit::admin::start_time() - time::Duration::seconds(age);
    let r = RegistrationRequest::new(owner, app(name), RequestStatus::Pending, at);
    h.store().create_registration_request(&r).await.unwrap();
    r
}

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_queue_is_listed_filtered_searched_and_paged() {
    for h in harnesses().await {
        seed(&h).await;
        let a = request(&h, "user-alice", "Acme", 30).await;
        let b = request(&h, "user-carol", "Bravo", 20).await;
        let c = request(&h, "user-alice", "Charlie", 10).await;
        h.post(
            &format!("/admin/registration-requests/{}/reject", b.id),
            json!({"reason": "no"}),
        )
        .await;

        let all = h.get("/admin/registration-requests").await;
        assert_eq!(all.status, StatusCode::OK, "{}: {:?}", h.name, all.body);
        assert_eq!(ids(&all.body), [a.id.clone(), b.id.clone(), c.id.clone()]);
        let first = &all.body[0];
        assert_eq!(
            first["owner"],
            json!({"id": "user-alice", "username": "alice"})
        );
        assert_eq!(first["status"], "pending");
        assert_eq!(first["app"]["name"], "Acme");
        assert_eq!(first["app"]["confidential"], true);
        assert_eq!(
            first["app"]["redirect_uris"],
            json!(["https://acme.example/callback"])
        );
        assert_eq!(first["client_id"], Value::Null);
        assert_eq!(first["reviewed_by"], "");
        assert!(first["created_at"].as_str().unwrap().ends_with('Z'));

        let pending = h.get("/admin/registration-requests?status=pending").await;
        assert_eq!(ids(&pending.body), [a.id.clone(), c.id.clone()]);
        let rejected = h.get("/admin/registration-requests?status=rejected").await;
        assert_eq!(ids(&rejected.body), std::slice::from_ref(&b.id));
        assert_eq!(rejected.body[0]["review_reason"], "no");
        assert_eq!(rejected.body[0]["reviewed_by"], "admin API");
        let carols = h.get("/admin/registration-requests?owner=user-carol").await;
        assert_eq!(ids(&carols.body), std::slice::from_ref(&b.id));
        let search = h.get("/admin/registration-requests?search=CHARL").await;
        assert_eq!(ids(&search.body), std::slice::from_ref(&c.id));

        let page = h
            .get("/admin/registration-requests?status=pending&page_size=1")
            .await;
        assert_eq!(ids(&page.body), std::slice::from_ref(&a.id));
        let link = page.header("link").unwrap().to_owned();
        assert!(link.contains("status=pending"), "{link}");
        let next = link.trim_start_matches('<').split('>').next().unwrap();
        let rest = h.get(next).await;
        assert_eq!(ids(&rest.body), std::slice::from_ref(&c.id));
        assert!(rest.header("link").is_none());

        let bad = h.get("/admin/registration-requests?status=approve").await;
        assert_error(
            &bad,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "bad status",
        );
        let one = h
            .get(&format!("/admin/registration-requests/{}", c.id))
            .await;
        assert_eq!(one.status, StatusCode::OK);
        assert_eq!(one.body["id"], c.id.as_str());
        let none = h.get("/admin/registration-requests/rr_nothing").await;
        assert_error(&none, StatusCode::NOT_FOUND, "not_found", "unknown");
    }
}

#[tokio::test]
async fn approval_creates_the_client_as_requested_or_as_edited() {
    for h in harnesses().await {
        seed(&h).await;
        let plain = request(&h, "user-alice", "Acme", 10).await;
        let approved = h
            .call(
                axum::http::Method::POST,
                &format!("/admin/registration-requests/{}/approve", plain.id),
                None,
            )
            .await;
        assert_eq!(
            approved.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            approved.body
        );
        assert_eq!(approved.body["status"], "approved");
        assert_eq!(approved.body["reviewed_by"], "admin API");
        let client_id = approved.body["client_id"].as_str().unwrap().to_owned();
        let client = h.get(&format!("/admin/clients/{client_id}")).await;
        assert_eq!(client.body["client_name"], "Acme");
        assert_eq!(client.body["client_uri"], "https://acme.example");
        assert_eq!(client.body["owner"], "user-alice");
        assert_eq!(client.body["scope"], "openid offline profile");
        assert_eq!(
            client.body["grant_types"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(client.body["response_types"], json!(["code"]));
        assert_eq!(
            client.body["token_endpoint_auth_method"],
            "client_secret_basic"
        );
        assert_eq!(
            client.body["metadata"]["registration_request"],
            plain.id.as_str()
        );
        // The secret is for the partner's one-time reveal: never in an admin answer.
        assert!(client.body.get("client_secret").is_none_or(Value::is_null));
        assert!(!approved.body.to_string().contains("secret\":\""));

        let again = h
            .post(
                &format!("/admin/registration-requests/{}/approve", plain.id),
                json!({}),
            )
            .await;
        assert_error(&again, StatusCode::CONFLICT, "conflict", "approved twice");

        let edited = request(&h, "user-carol", "Bravo", 5).await;
        let reply = h
            .post(
                &format!("/admin/registration-requests/{}/approve", edited.id),
                json!({"app": {"name": "Bravo Sync", "scopes": ["openid"], "confidential": false}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {:?}", h.name, reply.body);
        assert_eq!(reply.body["app"]["name"], "Bravo Sync");
        let stored = h
            .store()
            .get_client(reply.body["client_id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.metadata.client_name, "Bravo Sync");
        assert_eq!(stored.metadata.scope.to_string(), "openid");
        assert_eq!(
            stored.metadata.grant_types,
            vec![GrantType::AuthorizationCode]
        );
        assert_eq!(
            stored.metadata.token_endpoint_auth_method,
            TokenEndpointAuthMethod::None
        );
        assert!(stored.secret.is_none());

        // Edits are checked like the partner's own fields, and a refused edit changes nothing.
        let third = request(&h, "user-carol", "Charlie", 1).await;
        let refused = h
            .post(
                &format!("/admin/registration-requests/{}/approve", third.id),
                json!({"app": {"redirect_uris": ["http://charlie.example/cb"]}}),
            )
            .await;
        assert_error(
            &refused,
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            "http redirect",
        );
        let hidden = h
            .post(
                &format!("/admin/registration-requests/{}/approve", third.id),
                json!({"app": {"scopes": ["no-such-scope"]}}),
            )
            .await;
        assert_error(
            &hidden,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "unknown scope",
        );
        let unknown_field = h
            .post(
                &format!("/admin/registration-requests/{}/approve", third.id),
                json!({"app": {"client_secret": "chosen"}}),
            )
            .await;
        assert_error(
            &unknown_field,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unknown field",
        );
        let still = h
            .get(&format!("/admin/registration-requests/{}", third.id))
            .await;
        assert_eq!(still.body["status"], "pending");
        let missing = h
            .post("/admin/registration-requests/rr_nothing/approve", json!({}))
            .await;
        assert_error(&missing, StatusCode::NOT_FOUND, "not_found", "unknown");
    }
}

/// Two reviewers act on one request at once: exactly one decision is taken, one client made.
#[tokio::test]
async fn concurrent_reviews_decide_a_request_once() {
    for h in harnesses().await {
        seed(&h).await;
        let r = request(&h, "user-alice", "Acme", 1).await;
        let approve_path = format!("/admin/registration-requests/{}/approve", r.id);
        let reject_path = format!("/admin/registration-requests/{}/reject", r.id);
        let approve = h.post(&approve_path, json!({}));
        let reject = h.post(&reject_path, json!({"reason": "duplicate"}));
        let approve2 = h.post(&approve_path, json!({}));
        let (a, b, c) = tokio::join!(approve, reject, approve2);
        let ok = [&a, &b, &c]
            .iter()
            .filter(|reply| reply.status == StatusCode::OK)
            .count();
        assert_eq!(ok, 1, "{}: {:?} {:?} {:?}", h.name, a.body, b.body, c.body);
        for reply in [&a, &b, &c] {
            if reply.status != StatusCode::OK {
                assert_error(reply, StatusCode::CONFLICT, "conflict", "the loser");
            }
        }
        let clients = h.get("/admin/clients").await;
        let made = clients
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["metadata"]["registration_request"] == r.id.as_str())
            .count();
        assert!(made <= 1, "{}: {made} clients for one request", h.name);
    }
}

#[tokio::test]
async fn reject_and_request_changes_need_a_reason_and_a_pending_request() {
    for h in harnesses().await {
        seed(&h).await;
        let r = request(&h, "user-alice", "Acme", 1).await;
        let path = |action: &str| format!("/admin/registration-requests/{}/{action}", r.id);
        for action in ["reject", "request-changes"] {
            let empty = h.post(&path(action), json!({"reason": "  "})).await;
            assert_error(&empty, StatusCode::BAD_REQUEST, "invalid_request", action);
            let none = h.post(&path(action), json!({})).await;
            assert_error(&none, StatusCode::BAD_REQUEST, "invalid_request", action);
        }
        let changes = h
            .post(
                &path("request-changes"),
                json!({"reason": "Use your production domain"}),
            )
            .await;
        assert_eq!(
            changes.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            changes.body
        );
        assert_eq!(changes.body["status"], "changes_requested");
        assert_eq!(changes.body["review_reason"], "Use your production domain");
        for (action, body) in [
            ("approve", json!({})),
            ("reject", json!({"reason": "x"})),
            ("request-changes", json!({"reason": "x"})),
        ] {
            let late = h.post(&path(action), body).await;
            assert_error(&late, StatusCode::CONFLICT, "conflict", action);
        }
    }
}
