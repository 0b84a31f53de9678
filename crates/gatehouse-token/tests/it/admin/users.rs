//! `/admin/users`: accounts, passwords, search, disabling.

use std::time::Duration as StdDuration;

use axum::http::StatusCode;
use gatehouse_core::Clock as _;
use gatehouse_core::secret::SecretString;
use gatehouse_core::store::{Consent, Namespace, RefreshToken, RefreshTokenState};
use gatehouse_token::password::verify_password;
use serde_json::{Value, json};
use time::Duration;

use super::{with, without};
use gatehouse_testkit::admin::{Harness, assert_error, harnesses, start_time};

fn alice() -> Value {
    json!({
        "username": "Alice", "email": "alice@neon.example", "email_verified": true, "name": "Alice Liddell",
        "picture": "https://cdn.neon.example/alice.png", "password": "correct horse battery staple"
    })
}

async fn create(h: &Harness, body: Value) -> String {
    let created = h.post("/admin/users", body).await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "{}: {:?}",
        h.name,
        created.body
    );
    created.body["id"].as_str().unwrap().to_owned()
}

async fn password_matches(h: &Harness, id: &str, password: &str) -> bool {
    let user = h.store().get_user(id).await.unwrap().unwrap();
    let hash = user.password_hash.expect("a password is set");
    verify_password(SecretString::new(password), hash)
        .await
        .unwrap()
}

#[tokio::test]
async fn created_user_has_exactly_the_documented_fields_and_a_hashed_password() {
    for h in harnesses().await {
        let created = h.post("/admin/users", alice()).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            h.name,
            created.body
        );
        let u = &created.body;
        let mut keys: Vec<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
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
        let id = u["id"].as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
        assert_eq!(u["username"], "Alice");
        assert_eq!(u["email"], "alice@neon.example");
        assert_eq!(u["email_verified"], true);
        assert_eq!(u["name"], "Alice Liddell");
        assert_eq!(u["picture"], "https://cdn.neon.example/alice.png");
        assert_eq!(u["disabled"], false);
        assert_eq!(u["created_at"], "2026-01-01T00:00:00Z");

        let stored = h.store().get_user(id).await.unwrap().unwrap();
        let hash = stored.password_hash.clone().unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "OWASP parameters: {hash}"
        );
        assert!(password_matches(&h, id, "correct horse battery staple").await);
        assert!(!password_matches(&h, id, "Correct horse battery staple").await);
        assert_eq!(
            h.get(&format!("/admin/users/{id}")).await.body,
            created.body
        );
    }
}

#[tokio::test]
async fn minimal_user_has_no_password_and_null_profile_fields() {
    for h in harnesses().await {
        let id = create(&h, json!({"username": "bob", "email": ""})).await;
        let read = h.get(&format!("/admin/users/{id}")).await.body;
        assert_eq!(read["email"], Value::Null);
        assert_eq!(read["name"], Value::Null);
        assert_eq!(read["picture"], Value::Null);
        assert_eq!(read["email_verified"], false);
        assert!(
            h.store()
                .get_user(&id)
                .await
                .unwrap()
                .unwrap()
                .password_hash
                .is_none()
        );
    }
}

#[tokio::test]
async fn usernames_are_unique_case_insensitively() {
    for h in harnesses().await {
        create(&h, alice()).await;
        let clash = h
            .post("/admin/users", with(&alice(), "username", json!("aLICE")))
            .await;
        assert_error(&clash, StatusCode::CONFLICT, "conflict", &h.name);
        let bob = create(&h, json!({"username": "bob"})).await;
        let rename = h
            .put(&format!("/admin/users/{bob}"), json!({"username": "ALICE"}))
            .await;
        assert_error(&rename, StatusCode::CONFLICT, "conflict", &h.name);
        assert_eq!(
            h.get(&format!("/admin/users/{bob}")).await.body["username"],
            "bob",
            "{}: unchanged",
            h.name
        );
    }
}

#[tokio::test]
async fn invalid_users_are_refused_without_echoing_passwords() {
    for h in harnesses().await {
        let cases = [
            (
                "password of 7 characters",
                with(&alice(), "password", json!("1234567")),
            ),
            (
                "password over 1024 characters",
                with(&alice(), "password", json!("x".repeat(1025))),
            ),
            (
                "password that is not a string",
                with(&alice(), "password", json!(98765432109876u64)),
            ),
            (
                "username with a space",
                with(&alice(), "username", json!("alice liddell")),
            ),
            ("empty username", with(&alice(), "username", json!(""))),
            ("no username", without(&alice(), "username")),
            (
                "email without @",
                with(&alice(), "email", json!("alice.neon.example")),
            ),
            (
                "email with a space",
                with(&alice(), "email", json!("alice @neon.example")),
            ),
            (
                "javascript: picture",
                with(&alice(), "picture", json!("javascript:alert(1)")),
            ),
            (
                "relative picture",
                with(&alice(), "picture", json!("/alice.png")),
            ),
            (
                "name with a control character",
                with(&alice(), "name", json!("Alice\u{7}")),
            ),
            (
                "disabled of the wrong type",
                with(&alice(), "disabled", json!("no")),
            ),
        ];
        for (case, body) in cases {
            let reply = h.post("/admin/users", body).await;
            assert_error(
                &reply,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("{}: {case}", h.name),
            );
            let description = reply.body["error_description"].as_str().unwrap();
            assert!(
                !description.contains("98765432109876") && !description.contains("1234567"),
                "{case}: {description}"
            );
        }
        assert_eq!(
            h.get("/admin/users").await.body,
            json!([]),
            "{}: nothing stored",
            h.name
        );
        // Eight characters is enough, counted as characters, not bytes.
        create(&h, with(&alice(), "password", json!("pässwörd"))).await;
    }
}

#[tokio::test]
async fn list_searches_username_and_email_and_pages_with_the_filter() {
    for h in harnesses().await {
        for (name, email) in [
            ("alice", "alice@neon.example"),
            ("bob", "bob@neon.example"),
            ("carol", "carol@other.example"),
            ("NeonBot", ""),
        ] {
            create(&h, json!({"username": name, "email": email})).await;
        }
        let by_email = h.get("/admin/users?search=NEON.example").await;
        let mut names: Vec<&str> = by_email
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["alice", "bob"], "{}", h.name);
        let by_username = h.get("/admin/users?search=neon").await;
        assert_eq!(
            by_username.body.as_array().unwrap().len(),
            3,
            "{}: two emails and NeonBot",
            h.name
        );

        let first = h.get("/admin/users?search=neon&page_size=2").await;
        assert_eq!(first.body.as_array().unwrap().len(), 2);
        let link = first.header("link").expect("a next page");
        assert!(link.contains("search=neon"), "{link}");
        let next = link.trim_start_matches('<').split('>').next().unwrap();
        let second = h.get(next).await;
        assert_eq!(second.body.as_array().unwrap().len(), 1, "{}", h.name);
        assert!(second.header("link").is_none());
        assert_eq!(
            h.get("/admin/users").await.body.as_array().unwrap().len(),
            4
        );
    }
}

#[tokio::test]
async fn put_replaces_the_profile_and_keeps_the_password_unless_given() {
    for h in harnesses().await {
        let id = create(&h, alice()).await;
        h.clock.advance(Duration::minutes(1));
        let replaced = h
            .put(
                &format!("/admin/users/{id}"),
                json!({"username": "alice", "name": "Alice L."}),
            )
            .await;
        assert_eq!(
            replaced.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            replaced.body
        );
        assert_eq!(replaced.body["username"], "alice");
        assert_eq!(
            replaced.body["email"],
            Value::Null,
            "omitted fields are cleared"
        );
        assert_eq!(replaced.body["email_verified"], false);
        assert_eq!(replaced.body["created_at"], "2026-01-01T00:00:00Z");
        assert_eq!(replaced.body["updated_at"], "2026-01-01T00:01:00Z");
        assert!(
            password_matches(&h, &id, "correct horse battery staple").await,
            "{}",
            h.name
        );

        let with_password = h
            .put(
                &format!("/admin/users/{id}"),
                json!({"username": "alice", "password": "a brand new password"}),
            )
            .await;
        assert_eq!(with_password.status, StatusCode::OK);
        assert!(
            password_matches(&h, &id, "a brand new password").await,
            "{}",
            h.name
        );

        assert_error(
            &h.put("/admin/users/nope", json!({"username": "x"})).await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
        assert_error(
            &h.get("/admin/users/nope").await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
    }
}

#[tokio::test]
async fn set_password_replaces_the_hash() {
    for h in harnesses().await {
        let id = create(&h, json!({"username": "bob"})).await;
        let set = h
            .put(
                &format!("/admin/users/{id}/password"),
                json!({"password": "hunter2hunter2"}),
            )
            .await;
        assert_eq!(
            set.status,
            StatusCode::NO_CONTENT,
            "{}: {:?}",
            h.name,
            set.body
        );
        assert!(password_matches(&h, &id, "hunter2hunter2").await);

        let short = h
            .put(
                &format!("/admin/users/{id}/password"),
                json!({"password": "short"}),
            )
            .await;
        assert_error(&short, StatusCode::BAD_REQUEST, "invalid_request", &h.name);
        let missing = h
            .put(&format!("/admin/users/{id}/password"), json!({}))
            .await;
        assert_error(
            &missing,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &h.name,
        );
        assert!(
            password_matches(&h, &id, "hunter2hunter2").await,
            "{}: unchanged",
            h.name
        );
        let unknown = h
            .put(
                "/admin/users/nope/password",
                json!({"password": "long enough password"}),
            )
            .await;
        assert_error(&unknown, StatusCode::NOT_FOUND, "not_found", &h.name);
    }
}

/// Gives `subject` a live refresh-token family with one opaque access token indexed under it.
async fn grant(h: &Harness, subject: &str, family: &str) {
    let now = start_time();
    let token = RefreshToken {
        token_hash: format!("rt-{family}"),
        family_id: family.to_owned(),
        client_id: gatehouse_testkit::fixtures::client_id("neoncli"),
        client_incarnation: "neoncli-1".to_owned(),
        subject: subject.to_owned(),
        scope: gatehouse_testkit::fixtures::scopes("openid offline"),
        auth_time: Some(now),
        issued_at: now,
        expires_at: now + Duration::days(30),
        resources: Vec::new(),
        dpop_jkt: String::new(),
        session_claims: Default::default(),
    };
    h.store().insert_refresh_token(&token).await.unwrap();
    let ttl = StdDuration::from_secs(3600);
    h.short()
        .put(
            &Namespace::AccessToken.key(&format!("at-{family}")),
            b"{}",
            ttl,
        )
        .await
        .unwrap();
    h.short()
        .set_add(
            &Namespace::AccessTokenIndex.key(family),
            &format!("at-{family}"),
            ttl,
        )
        .await
        .unwrap();
}

/// Whether the refresh family is live, and whether an access token the user authorized a
/// second ago still passes the revocation check.
async fn grant_is_live(h: &Harness, subject: &str, family: &str) -> (bool, bool) {
    let (_, state) = h
        .store()
        .get_refresh_token(&format!("rt-{family}"))
        .await
        .unwrap()
        .unwrap();
    let ended = h
        .revocations
        .is_ended(
            Some(subject),
            "neoncli",
            "neoncli-1",
            h.clock.unix_ms() - 1000,
        )
        .await
        .unwrap();
    (state == RefreshTokenState::Active, !ended)
}

fn family(prefix: &str) -> String {
    gatehouse_testkit::fixtures::unique_id(prefix)
}

#[tokio::test]
async fn disabling_revokes_refresh_tokens_and_ends_access_tokens() {
    for h in harnesses().await {
        let alice = create(&h, alice()).await;
        let bob = create(&h, json!({"username": "bob"})).await;
        let (alice_family, bob_family) = (family("alice"), family("bob"));
        grant(&h, &alice, &alice_family).await;
        grant(&h, &bob, &bob_family).await;

        let disabled = h
            .patch(&format!("/admin/users/{alice}"), json!({"disabled": true}))
            .await;
        assert_eq!(
            disabled.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            disabled.body
        );
        assert_eq!(disabled.body["disabled"], true);
        assert_eq!(
            disabled.body["email"], "alice@neon.example",
            "a merge patch keeps the rest"
        );
        assert_eq!(
            grant_is_live(&h, &alice, &alice_family).await,
            (false, false),
            "{}",
            h.name
        );
        assert_eq!(
            grant_is_live(&h, &bob, &bob_family).await,
            (true, true),
            "{}: other users keep theirs",
            h.name
        );
        assert!(
            password_matches(&h, &alice, "correct horse battery staple").await,
            "the password survives a patch"
        );

        let enabled = h
            .patch(
                &format!("/admin/users/{alice}"),
                json!([{"op": "replace", "path": "/disabled", "value": false}]),
            )
            .await;
        assert_eq!(
            enabled.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            enabled.body
        );
        assert_eq!(enabled.body["disabled"], false);
    }
}

#[tokio::test]
async fn patch_cannot_change_the_id_or_break_a_rule() {
    for h in harnesses().await {
        let id = create(&h, alice()).await;
        let before = h.get(&format!("/admin/users/{id}")).await.body;
        for patch in [
            json!({"id": "someone-else"}),
            json!({"username": "has space"}),
            json!([{"op": "test", "path": "/username", "value": "nobody"}]),
            json!(42),
        ] {
            let reply = h.patch(&format!("/admin/users/{id}"), patch.clone()).await;
            assert_error(
                &reply,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("{}: {patch}", h.name),
            );
        }
        assert_eq!(h.get(&format!("/admin/users/{id}")).await.body, before);
        let unknown = h
            .patch("/admin/users/nope", json!({"disabled": true}))
            .await;
        assert_error(&unknown, StatusCode::NOT_FOUND, "not_found", &h.name);
    }
}

#[tokio::test]
async fn delete_removes_the_user_their_tokens_and_consents() {
    for h in harnesses().await {
        let id = create(&h, alice()).await;
        let fam = family("alice");
        grant(&h, &id, &fam).await;
        let consent = Consent {
            subject: id.clone(),
            client_id: gatehouse_testkit::fixtures::client_id("neoncli"),
            scope: gatehouse_testkit::fixtures::scopes("openid"),
            granted_at: start_time(),
            expires_at: None,
        };
        h.store().put_consent(&consent).await.unwrap();

        assert_eq!(
            h.delete(&format!("/admin/users/{id}")).await.status,
            StatusCode::NO_CONTENT,
            "{}",
            h.name
        );
        assert_error(
            &h.get(&format!("/admin/users/{id}")).await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
        assert_eq!(
            grant_is_live(&h, &id, &fam).await,
            (false, false),
            "{}",
            h.name
        );
        assert!(
            h.store().list_consents(&id).await.unwrap().is_empty(),
            "{}",
            h.name
        );
        assert_error(
            &h.delete(&format!("/admin/users/{id}")).await,
            StatusCode::NOT_FOUND,
            "not_found",
            &h.name,
        );
    }
}

#[tokio::test]
async fn username_query_finds_exactly_one_user_case_insensitively() {
    for h in harnesses().await {
        let id = create(&h, alice()).await;
        create(&h, with(&alice(), "username", json!("alice2"))).await;
        let found = h.get("/admin/users?username=ALICE").await;
        assert_eq!(found.status, StatusCode::OK, "{}", h.name);
        let ids: Vec<&str> = found
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [id.as_str()], "{}", h.name);
        let none = h.get("/admin/users?username=alic").await;
        assert_eq!(none.body, json!([]), "{}: exact, not a substring", h.name);
        let both = h.get("/admin/users?username=alice&search=a").await;
        assert_error(&both, StatusCode::BAD_REQUEST, "invalid_request", &h.name);
    }
}

/// Locks `username` through the token service's sign-in check: five wrong passwords.
async fn lock_by_failed_logins(env: &crate::oauth::Env, username: &str) {
    use gatehouse_token::authorization::Authentication;
    for attempt in 0..5 {
        let answer = env
            .service
            .authenticate_user(
                username,
                SecretString::new("wrong password"),
                &format!("198.51.100.{attempt}"),
            )
            .await
            .unwrap();
        assert!(
            !matches!(answer, Authentication::Authenticated(_)),
            "{}",
            env.name
        );
    }
    let locked = env
        .service
        .authenticate_user(username, SecretString::new(ALICE_PASSWORD), "203.0.113.9")
        .await
        .unwrap();
    assert!(
        matches!(locked, Authentication::Locked(_)),
        "{}: the right password is refused while locked: {locked:?}",
        env.name
    );
}

async fn signs_in(env: &crate::oauth::Env, username: &str) -> bool {
    matches!(
        env.service
            .authenticate_user(username, SecretString::new(ALICE_PASSWORD), "203.0.113.9")
            .await
            .unwrap(),
        gatehouse_token::authorization::Authentication::Authenticated(_)
    )
}

const ALICE_PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn unlock_enable_and_a_new_password_lift_a_failed_login_lock() {
    use axum::http::Method;
    for env in crate::oauth::envs().await {
        let created = env
            .admin_call(
                Method::POST,
                "/admin/users",
                Some(with(&alice(), "username", json!("Dora"))),
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            env.name,
            created.body
        );
        let id = created.body["id"].as_str().unwrap().to_owned();

        lock_by_failed_logins(&env, "dora").await;
        let unlocked = env
            .admin_call(Method::POST, &format!("/admin/users/{id}/unlock"), None)
            .await;
        assert_eq!(
            unlocked.status,
            StatusCode::NO_CONTENT,
            "{}: {:?}",
            env.name,
            unlocked.body
        );
        assert!(signs_in(&env, "DORA").await, "{}: unlocked", env.name);

        // Enabling a disabled user lifts the lock too.
        lock_by_failed_logins(&env, "dora").await;
        let path = format!("/admin/users/{id}");
        let off = env
            .admin_call(Method::PATCH, &path, Some(json!({"disabled": true})))
            .await;
        assert_eq!(off.status, StatusCode::OK, "{}", env.name);
        let on = env
            .admin_call(Method::PATCH, &path, Some(json!({"disabled": false})))
            .await;
        assert_eq!(on.status, StatusCode::OK, "{}", env.name);
        assert!(signs_in(&env, "dora").await, "{}: enabled", env.name);

        // So does a new password.
        lock_by_failed_logins(&env, "dora").await;
        let set = env
            .admin_call(
                Method::PUT,
                &format!("/admin/users/{id}/password"),
                Some(json!({"password": ALICE_PASSWORD})),
            )
            .await;
        assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", env.name);
        assert!(signs_in(&env, "dora").await, "{}: new password", env.name);

        // A profile change of an enabled user does not.
        lock_by_failed_logins(&env, "dora").await;
        let renamed = env
            .admin_call(Method::PATCH, &path, Some(json!({"name": "A."})))
            .await;
        assert_eq!(renamed.status, StatusCode::OK, "{}", env.name);
        assert!(!signs_in(&env, "dora").await, "{}: still locked", env.name);

        let unknown = env
            .admin_call(Method::POST, "/admin/users/does-not-exist/unlock", None)
            .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", env.name);
        assert_eq!(unknown.body["error"], "not_found");
    }
}

/// An operator's metadata object: set on create, answered on every read, replaced by `PUT`
/// (omitted: cleared), merged by a merge patch, changed by a JSON Patch.
#[tokio::test]
async fn metadata_is_set_read_replaced_and_patched() {
    for h in harnesses().await {
        let mut body = alice();
        body["metadata"] = json!({"plan": "pro", "limits": {"seats": 5}});
        let id = create(&h, body).await;
        let read = h.get(&format!("/admin/users/{id}")).await;
        assert_eq!(
            read.body["metadata"],
            json!({"plan": "pro", "limits": {"seats": 5}}),
            "{}",
            h.name
        );

        let merged = h
            .patch(
                &format!("/admin/users/{id}"),
                json!({"metadata": {"limits": {"seats": 6}, "plan": null}}),
            )
            .await;
        assert_eq!(
            merged.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            merged.body
        );
        assert_eq!(merged.body["metadata"], json!({"limits": {"seats": 6}}));

        let patched = h
            .patch(
                &format!("/admin/users/{id}"),
                json!([{"op": "add", "path": "/metadata/tier", "value": 2}]),
            )
            .await;
        assert_eq!(
            patched.body["metadata"],
            json!({"limits": {"seats": 6}, "tier": 2}),
            "{}",
            h.name
        );
        let stored = h.store().get_user(&id).await.unwrap().unwrap();
        assert_eq!(
            Value::Object(stored.metadata),
            json!({"limits": {"seats": 6}, "tier": 2})
        );

        let replaced = h
            .put(&format!("/admin/users/{id}"), json!({"username": "Alice"}))
            .await;
        assert_eq!(
            replaced.status,
            StatusCode::OK,
            "{}: {:?}",
            h.name,
            replaced.body
        );
        assert_eq!(replaced.body["metadata"], json!({}));

        let minimal = create(&h, json!({"username": "bob"})).await;
        assert_eq!(
            h.get(&format!("/admin/users/{minimal}")).await.body["metadata"],
            json!({})
        );
    }
}

/// Attacker: metadata that is not an object, or larger than 16 KiB serialised, is refused with a
/// 400 that says why, on create, replace and patch, and nothing is written.
#[tokio::test]
async fn metadata_that_is_not_a_small_object_is_refused() {
    for h in harnesses().await {
        let big = json!({"blob": "x".repeat(16 * 1024)});
        for (metadata, says) in [
            (json!(["a"]), "metadata must be a JSON object"),
            (json!("text"), "metadata must be a JSON object"),
            (json!(7), "metadata must be a JSON object"),
            (big.clone(), "at most 16384"),
        ] {
            let refused = h
                .post(
                    "/admin/users",
                    json!({"username": "mallory", "metadata": metadata}),
                )
                .await;
            assert_error(
                &refused,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &h.name,
            );
            let description = refused.body["error_description"]
                .as_str()
                .unwrap_or_default();
            assert!(description.contains(says), "{}: {description}", h.name);
        }
        let listed = h.get("/admin/users?username=mallory").await;
        assert_eq!(listed.body, json!([]), "{}", h.name);

        let id = create(&h, json!({"username": "carol", "metadata": {"a": 1}})).await;
        let put = h
            .put(
                &format!("/admin/users/{id}"),
                json!({"username": "carol", "metadata": big}),
            )
            .await;
        assert_error(&put, StatusCode::BAD_REQUEST, "invalid_request", &h.name);
        let patched = h
            .patch(
                &format!("/admin/users/{id}"),
                json!([{"op": "replace", "path": "/metadata", "value": [1]}]),
            )
            .await;
        assert_error(
            &patched,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &h.name,
        );
        let stored = h.store().get_user(&id).await.unwrap().unwrap();
        assert_eq!(
            Value::Object(stored.metadata),
            json!({"a": 1}),
            "{}",
            h.name
        );
    }
}
