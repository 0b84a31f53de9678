//! The partner portal (`/developers`) over a real token service: signing in and back, requesting
//! an app (validation, logo uploads), the review's outcomes, the one-time secret reveal, rotation,
//! edits, another partner's attempts, CSRF, and the approval modes.

use axum::http::StatusCode;
use gatehouse_token::partners::ApprovalMode;

use crate::ui::*;

/// A 1×1 PNG.
const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00,
    0x00, 0x05, 0x00, 0x01, 0xe9, 0xfa, 0xdc, 0xd8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

const READ_SCOPE: &str = "urn:neoncloud:projects:read";
const DELETE_SCOPE: &str = "urn:neoncloud:projects:delete";

/// Signs in through the portal: `/developers` → the login page → back to `/developers`.
async fn sign_in<'a>(b: &mut Browser<'a>, username: &str, password: &str) -> Page {
    let reply = b.get("/developers").await;
    assert_eq!(
        reply.location(),
        "/ui/login?return=%2Fdevelopers",
        "{}",
        b.name()
    );
    let login = b.follow(&reply).await;
    login.assert_page(StatusCode::OK, b.name());
    let after = b.login(&login, username, password, false).await;
    assert_eq!(after.location(), "/developers", "{}", b.name());
    let list = b.follow(&after).await;
    list.assert_page(StatusCode::OK, b.name());
    list
}

fn app_form<'a>(csrf: &'a str, name: &'a str, confidential: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf_token", csrf),
        ("name", name),
        ("description", "Backs up your projects every night"),
        ("website", "https://sync.example.com"),
        ("contact_name", "Ada Lovelace"),
        ("reason", "Nightly backups for our customers"),
        (
            "redirect_uris",
            "https://sync.example.com/callback\r\nhttp://127.0.0.1/callback",
        ),
        ("scopes", READ_SCOPE),
        ("confidential", confidential),
    ]
}

/// Requests an app named `name` through the form; answers the request's id.
async fn request_app(b: &mut Browser<'_>, name: &str, confidential: &str) -> String {
    let form = b.get("/developers/apps/new").await;
    form.assert_page(StatusCode::OK, b.name());
    let csrf = form.form_field("app-form", "csrf_token");
    let reply = b
        .post("/developers/apps/new", &app_form(&csrf, name, confidential))
        .await;
    assert!(
        reply.location().starts_with("/developers?"),
        "{}: {}",
        b.name(),
        reply.location()
    );
    let list = b.get("/developers").await;
    let marker = "data-request-id=\"";
    let at = list
        .body
        .rfind(&format!("<h2>{name}</h2>"))
        .and_then(|end| list.body[..end].rfind(marker))
        .unwrap_or_else(|| panic!("{name} is not listed: {}", list.body));
    let rest = &list.body[at + marker.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn a_visitor_signs_in_and_returns_to_the_portal_which_says_partner_accounts_come_from_operators()
 {
    for ui in uis().await {
        let mut b = ui.browser();
        let reply = b.get("/developers/apps/new").await;
        assert_eq!(
            reply.location(),
            "/ui/login?return=%2Fdevelopers%2Fapps%2Fnew"
        );
        let login = b.follow(&reply).await;
        assert!(
            login.body.contains("id=\"portal-sign-in-hint\"")
                && login.body.contains("no self-registration"),
            "{}",
            login.body
        );
        assert!(
            login
                .body
                .contains("name=\"return\" value=\"/developers/apps/new\"")
        );
        // Anywhere else is not a place to return to: the account page it is.
        let other = b
            .get("/ui/login?return=https%3A%2F%2Fevil.example%2Fdevelopers")
            .await;
        assert!(!other.body.contains("name=\"return\""), "{}", other.body);
        let list = sign_in(&mut b, "alice", ALICE_PASSWORD).await;
        assert!(list.body.contains("id=\"no-requests\""), "{}", list.body);
        assert!(
            list.header("content-security-policy")
                .is_some_and(|c| c.contains("frame-ancestors 'none'"))
        );
        assert_eq!(list.header("x-frame-options"), Some("DENY"));
        // The account page links the portal.
        let apps = b.get("/account/apps").await;
        assert!(
            apps.body
                .contains("href=\"/developers\" id=\"developer-portal\""),
            "{}",
            apps.body
        );
    }
}

#[tokio::test]
async fn a_partner_requests_an_app_and_sees_it_pending() {
    for ui in uis().await {
        let mut b = ui.browser();
        sign_in(&mut b, "alice", ALICE_PASSWORD).await;
        let form = b.get("/developers/apps/new").await;
        form.assert_page(StatusCode::OK, &ui.name);
        for (name, label, description) in PROJECT_SCOPES {
            assert!(form.body.contains(&format!("value=\"{name}\"")), "{name}");
            assert!(form.body.contains(label) && form.body.contains(description));
        }
        assert!(!form.body.contains("Requests are approved at once"));
        let id = request_app(&mut b, "Neon Sync", "true").await;
        assert!(id.starts_with("rr_"), "{id}");
        let list = b.get("/developers?submitted=1").await;
        assert!(list.body.contains("id=\"portal-notice\""));
        assert!(
            list.body.contains("data-status=\"pending\""),
            "{}",
            list.body
        );
        assert!(list.body.contains("Waiting for review"));
        assert!(!list.body.contains("class=\"client-id\""));
        let stored = ui
            .store()
            .get_registration_request(&id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.owner, ALICE);
        assert_eq!(
            stored.app.redirect_uris,
            [
                "https://sync.example.com/callback",
                "http://127.0.0.1/callback"
            ]
        );
        assert_eq!(stored.app.scopes, [READ_SCOPE]);
        assert!(stored.app.confidential);
    }
}

#[tokio::test]
async fn bad_fields_are_shown_next_to_the_field_with_the_input_kept() {
    for ui in uis().await {
        let mut b = ui.browser();
        sign_in(&mut b, "alice", ALICE_PASSWORD).await;
        let form = b.get("/developers/apps/new").await;
        let csrf = form.form_field("app-form", "csrf_token");
        let mut fields = app_form(&csrf, "Neon Sync", "true");
        fields.retain(|(k, _)| *k != "redirect_uris" && *k != "website");
        fields.push((
            "redirect_uris",
            "https://ok.example.com/cb\njavascript:alert(1)",
        ));
        fields.push(("website", "http://sync.example.com"));
        let page = b.post("/developers/apps/new", &fields).await;
        page.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(
            page.body.contains("id=\"redirect_uris-error\""),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains("cannot be registered: javascript:alert(1)")
        );
        assert!(page.body.contains("id=\"website-error\""));
        assert!(
            page.body.contains("value=\"http://sync.example.com\""),
            "the input is kept"
        );
        assert!(
            page.body
                .contains("https://ok.example.com/cb\njavascript:alert(1)</textarea>")
        );
        assert!(page.body.contains("value=\"Neon Sync\""));
        // A loopback redirect URI on plain http with a port is fine (RFC 8252); a fragment is not.
        let mut fields = app_form(&csrf, "Neon Sync", "true");
        fields.retain(|(k, _)| *k != "redirect_uris");
        fields.push(("redirect_uris", "https://a.example.com/cb#frag"));
        let page = b.post("/developers/apps/new", &fields).await;
        page.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(page.body.contains("id=\"redirect_uris-error\""));

        // Logos: too large, a PNG that is not one, an SVG with a script.
        let mut big = TINY_PNG.to_vec();
        big.resize(300 * 1024, 0);
        let mut not_png = b"\x89PNG\r\n\x1a\n".to_vec();
        not_png.extend_from_slice(b"<script>alert(1)</script>");
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        for (bytes, content_type, message) in [
            (&big[..], "image/png", "larger than 256 KB"),
            (&not_png[..], "image/png", "not a real PNG or JPEG"),
            (&svg[..], "image/svg+xml", "SVG logos are not accepted"),
            (&b"GIF89a"[..], "image/gif", "must be a PNG or JPEG"),
        ] {
            let page = b
                .post_multipart(
                    "/developers/apps/new",
                    &app_form(&csrf, "Neon Sync", "true"),
                    &[("logo_file", "logo", content_type, bytes)],
                )
                .await;
            page.assert_page(StatusCode::BAD_REQUEST, &ui.name);
            assert!(
                page.body.contains("id=\"logo_file-error\""),
                "{}",
                page.body
            );
            assert!(page.body.contains(message), "{message}: {}", page.body);
            assert!(
                page.body.contains("value=\"Ada Lovelace\""),
                "the input is kept"
            );
        }
        // A body far over the limit is a readable page, not a 5xx.
        let huge = vec![0u8; 2 * 1024 * 1024];
        let page = b
            .post_multipart(
                "/developers/apps/new",
                &app_form(&csrf, "Neon Sync", "true"),
                &[("logo_file", "logo.png", "image/png", &huge)],
            )
            .await;
        page.assert_page(StatusCode::PAYLOAD_TOO_LARGE, &ui.name);
        let list = b.get("/developers").await;
        assert!(
            list.body.contains("id=\"no-requests\""),
            "nothing was requested"
        );
    }
}

#[tokio::test]
async fn an_uploaded_logo_is_stored_and_served_as_a_sandboxed_image() {
    for ui in uis().await {
        let mut b = ui.browser();
        sign_in(&mut b, "alice", ALICE_PASSWORD).await;
        let form = b.get("/developers/apps/new").await;
        let csrf = form.form_field("app-form", "csrf_token");
        // Another field is wrong: the logo is kept, as its address.
        let mut fields = app_form(&csrf, "Neon Sync", "true");
        fields.retain(|(k, _)| *k != "name");
        let page = b
            .post_multipart(
                "/developers/apps/new",
                &fields,
                &[("logo_file", "logo.png", "image/png", TINY_PNG)],
            )
            .await;
        page.assert_page(StatusCode::BAD_REQUEST, &ui.name);
        assert!(page.body.contains("id=\"name-error\""));
        let prefix = format!("name=\"logo_uri\" value=\"{ISSUER}/developers/logos/");
        let at = page
            .body
            .find(&prefix)
            .unwrap_or_else(|| panic!("{}", page.body))
            + prefix.len();
        let logo_id = page.body[at..page.body[at..].find('"').unwrap() + at].to_owned();
        assert!(logo_id.starts_with("logo_"), "{logo_id}");

        let (logo, bytes) = b.get_bytes(&format!("/developers/logos/{logo_id}")).await;
        assert_eq!(logo.status, StatusCode::OK);
        assert_eq!(bytes, TINY_PNG);
        assert_eq!(logo.header("content-type"), Some("image/png"));
        assert_eq!(logo.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            logo.header("content-security-policy"),
            Some("default-src 'none'; style-src 'unsafe-inline'; sandbox")
        );
        assert!(
            logo.header("cache-control")
                .is_some_and(|c| c.contains("max-age=31536000"))
        );
        for bad in ["logo_nope", "..%2F..%2Fetc", "a.png"] {
            let (missing, _) = b.get_bytes(&format!("/developers/logos/{bad}")).await;
            assert_eq!(missing.status, StatusCode::NOT_FOUND, "{bad}");
        }

        // Sent again with the name, the request keeps the uploaded logo.
        let mut fields = app_form(&csrf, "Neon Sync", "true");
        let logo_uri = format!("{ISSUER}/developers/logos/{logo_id}");
        fields.push(("logo_uri", &logo_uri));
        let reply = b.post("/developers/apps/new", &fields).await;
        assert_eq!(
            reply.location(),
            "/developers?submitted=1",
            "{}",
            reply.body
        );
        let list = b.get("/developers").await;
        assert!(
            list.body.contains(&format!("src=\"{logo_uri}\"")),
            "{}",
            list.body
        );
    }
}

#[tokio::test]
async fn an_approved_app_shows_its_client_id_and_its_secret_once_then_rotates() {
    for ui in uis().await {
        let mut b = ui.browser();
        sign_in(&mut b, "alice", ALICE_PASSWORD).await;
        let id = request_app(&mut b, "Neon Sync", "true").await;
        let approved = ui
            .service
            .partners()
            .approve(&id, None, "reviewer")
            .await
            .unwrap();
        let client_id = approved.client_id.clone().unwrap().to_string();

        let list = b.get("/developers").await;
        assert!(list.body.contains("data-status=\"approved\""));
        assert!(
            list.body
                .contains(&format!("<code class=\"client-id\">{client_id}</code>")),
            "{}",
            list.body
        );
        assert!(list.body.contains("client_secret_basic"));
        assert!(list.body.contains("https://sync.example.com/callback"));
        let csrf = list.form_field(&format!("reveal-{id}"), "csrf_token");
        let reveal = format!("/developers/apps/{id}/reveal");

        let shown = b.post(&reveal, &[("csrf_token", &csrf)]).await;
        shown.assert_page(StatusCode::OK, &ui.name);
        assert_eq!(shown.header("cache-control"), Some("no-store"));
        let secret = between(
            &shown.body,
            "<code id=\"client-secret\" class=\"secret\" aria-labelledby=\"secret-label\">",
            "</code>",
        );
        assert!(secret.len() >= 32, "{secret}");
        assert!(shown.body.contains("only time the secret is shown"));

        // The second reveal is refused and offers a rotation.
        let again = b.post(&reveal, &[("csrf_token", &csrf)]).await;
        again.assert_page(StatusCode::CONFLICT, &ui.name);
        assert!(again.body.contains("id=\"already-revealed\""));
        assert!(!again.body.contains(&secret));
        assert!(
            again
                .body
                .contains(&format!("href=\"/developers/apps/{id}/rotate\""))
        );
        let list = b.get("/developers").await;
        assert!(!list.body.contains(&format!("id=\"reveal-{id}\"")));

        // Rotation: a confirmation, then a new secret once, and how long the old one works.
        let confirm = b.get(&format!("/developers/apps/{id}/rotate")).await;
        confirm.assert_page(StatusCode::OK, &ui.name);
        let rotate_csrf = confirm.form_field("rotate-form", "csrf_token");
        let unconfirmed = b
            .post(
                &format!("/developers/apps/{id}/rotate"),
                &[("csrf_token", &rotate_csrf)],
            )
            .await;
        assert_eq!(
            unconfirmed.location(),
            format!("/developers/apps/{id}/rotate")
        );
        let rotated = b
            .post(
                &format!("/developers/apps/{id}/rotate"),
                &[("csrf_token", &rotate_csrf), ("confirm", "1")],
            )
            .await;
        rotated.assert_page(StatusCode::OK, &ui.name);
        assert_eq!(rotated.header("cache-control"), Some("no-store"));
        let new_secret = between(
            &rotated.body,
            "aria-labelledby=\"secret-label\">",
            "</code>",
        );
        assert!(new_secret.len() >= 32 && new_secret != secret);
        assert!(
            rotated.body.contains("id=\"old-secret\""),
            "{}",
            rotated.body
        );
        assert!(
            rotated.body.contains("keeps working for 1440 more minutes"),
            "{}",
            rotated.body
        );
    }
}

fn between(body: &str, start: &str, end: &str) -> String {
    let at = body
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {body}"))
        + start.len();
    body[at..at + body[at..].find(end).unwrap()].to_owned()
}

#[tokio::test]
async fn editing_an_approved_app_applies_at_once_and_a_scope_change_goes_back_to_review() {
    for ui in uis().await {
        let mut b = ui.browser();
        sign_in(&mut b, "alice", ALICE_PASSWORD).await;
        let id = request_app(&mut b, "Neon Sync", "false").await;
        let approved = ui
            .service
            .partners()
            .approve(&id, None, "reviewer")
            .await
            .unwrap();
        let client_id = approved.client_id.clone().unwrap();
        let edit = format!("/developers/apps/{id}/edit");
        let form = b.get(&edit).await;
        form.assert_page(StatusCode::OK, &ui.name);
        assert!(form.body.contains("A change of scopes goes back to review"));
        assert!(
            !form.body.contains("id=\"name\""),
            "the name is not editable here"
        );
        let csrf = form.form_field("app-form", "csrf_token");
        let fields = [
            ("csrf_token", csrf.as_str()),
            ("description", "Now with restores"),
            ("redirect_uris", "https://sync.example.com/v2/callback"),
            ("scopes", READ_SCOPE),
            ("name", "Renamed by a tampered form"),
        ];
        let reply = b.post(&edit, &fields).await;
        assert_eq!(reply.location(), "/developers?updated=1", "{}", reply.body);
        let client = ui.store().get_client(&client_id).await.unwrap().unwrap();
        assert_eq!(
            client
                .metadata
                .redirect_uris
                .iter()
                .map(|u| u.as_str())
                .collect::<Vec<_>>(),
            ["https://sync.example.com/v2/callback"]
        );
        assert_eq!(client.metadata.client_name, "Neon Sync");

        let reply = b
            .post(
                &edit,
                &[
                    ("csrf_token", csrf.as_str()),
                    ("description", "Now with restores"),
                    ("redirect_uris", "https://sync.example.com/v2/callback"),
                    ("scopes", READ_SCOPE),
                    ("scopes", DELETE_SCOPE),
                ],
            )
            .await;
        assert_eq!(reply.location(), "/developers?review=1", "{}", reply.body);
        let list = b.follow(&reply).await;
        assert!(list.body.contains("go back to review"), "{}", list.body);
        assert!(
            list.body
                .contains("A change of scopes is waiting for review.")
        );
        assert!(
            list.body
                .contains(&format!("<code class=\"client-id\">{client_id}</code>"))
        );
        let client = ui.store().get_client(&client_id).await.unwrap().unwrap();
        assert!(
            !client.metadata.scope.to_string().contains(DELETE_SCOPE),
            "kept until approved"
        );
    }
}

#[tokio::test]
async fn a_rejection_and_a_change_request_show_the_reason_and_changes_can_be_resubmitted() {
    for ui in uis().await {
        let mut b = ui.browser();
        sign_in(&mut b, "alice", ALICE_PASSWORD).await;
        let rejected = request_app(&mut b, "Neon Spam", "true").await;
        ui.service
            .partners()
            .reject(&rejected, "Not a real product", "reviewer")
            .await
            .unwrap();
        let changes = request_app(&mut b, "Neon Sync", "true").await;
        ui.service
            .partners()
            .request_changes(&changes, "Use https for the callback", "reviewer")
            .await
            .unwrap();
        let list = b.get("/developers").await;
        assert!(
            list.body.contains("Reviewer’s note: Not a real product"),
            "{}",
            list.body
        );
        assert!(
            list.body
                .contains("Reviewer’s note: Use https for the callback")
        );
        assert!(
            list.body.contains("data-status=\"rejected\"")
                && list.body.contains("data-status=\"changes_requested\"")
        );
        assert!(
            !list
                .body
                .contains(&format!("href=\"/developers/apps/{rejected}/edit\""))
        );

        let edit = format!("/developers/apps/{changes}/edit");
        let form = b.get(&edit).await;
        form.assert_page(StatusCode::OK, &ui.name);
        assert!(form.body.contains("Use https for the callback"));
        assert!(form.body.contains("value=\"Neon Sync\""));
        let csrf = form.form_field("app-form", "csrf_token");
        let reply = b.post(&edit, &app_form(&csrf, "Neon Sync 2", "true")).await;
        assert_eq!(
            reply.location(),
            "/developers?submitted=1",
            "{}",
            reply.body
        );
        let stored = ui
            .store()
            .get_registration_request(&changes)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.status.as_str(), "pending");
        assert_eq!(stored.app.name, "Neon Sync 2");
    }
}

#[tokio::test]
async fn another_partner_can_neither_see_nor_act_on_your_app() {
    for ui in uis().await {
        let mut alice = ui.browser();
        sign_in(&mut alice, "alice", ALICE_PASSWORD).await;
        let id = request_app(&mut alice, "Neon Sync", "true").await;
        ui.service
            .partners()
            .approve(&id, None, "reviewer")
            .await
            .unwrap();

        let mut carol = ui.browser_from("198.51.100.9:40000");
        let list = sign_in(&mut carol, "carol", CAROL_PASSWORD).await;
        assert!(!list.body.contains(&id) && !list.body.contains("Neon Sync"));
        let form = carol.get("/developers/apps/new").await;
        let csrf = form.form_field("app-form", "csrf_token");
        for guessed in [id.as_str(), "rr_0000000000000000", "../rr_x"] {
            let edit = carol.get(&format!("/developers/apps/{guessed}/edit")).await;
            assert_eq!(
                edit.status,
                StatusCode::NOT_FOUND,
                "{guessed}: {}",
                edit.body
            );
            let rotate = carol
                .get(&format!("/developers/apps/{guessed}/rotate"))
                .await;
            assert_eq!(rotate.status, StatusCode::NOT_FOUND, "{guessed}");
            let post = carol
                .post(
                    &format!("/developers/apps/{guessed}/edit"),
                    &app_form(&csrf, "Taken over", "true"),
                )
                .await;
            assert_eq!(
                post.status,
                StatusCode::NOT_FOUND,
                "{guessed}: {}",
                post.body
            );
        }
        // Carol's own reveal token on Alice's request: not found, and nothing revealed.
        let carol_list = carol.get("/developers").await;
        assert!(!carol_list.body.contains("reveal-form"));
        let stored = ui
            .store()
            .get_registration_request(&id)
            .await
            .unwrap()
            .unwrap();
        assert!(!stored.secret_revealed);
        assert_eq!(stored.app.name, "Neon Sync");
        // Alice's page still offers the reveal, and it works for her only.
        let alice_list = alice.get("/developers").await;
        let alice_csrf = alice_list.form_field(&format!("reveal-{id}"), "csrf_token");
        let stolen = carol
            .post(
                &format!("/developers/apps/{id}/reveal"),
                &[("csrf_token", &alice_csrf)],
            )
            .await;
        assert_eq!(
            stolen.status,
            StatusCode::FORBIDDEN,
            "another browser's token"
        );
        let shown = alice
            .post(
                &format!("/developers/apps/{id}/reveal"),
                &[("csrf_token", &alice_csrf)],
            )
            .await;
        shown.assert_page(StatusCode::OK, &ui.name);
    }
}

#[tokio::test]
async fn portal_forms_without_their_csrf_token_are_refused() {
    for ui in uis().await {
        let mut b = ui.browser();
        sign_in(&mut b, "alice", ALICE_PASSWORD).await;
        let list = b.get("/developers").await;
        let logout_csrf = list.form_field("sign-out-form", "csrf_token");
        let mut fields = app_form("", "Neon Sync", "true");
        fields.retain(|(k, _)| *k != "csrf_token");
        let refused = b.post("/developers/apps/new", &fields).await;
        refused.assert_page(StatusCode::FORBIDDEN, &ui.name);
        // Another form's token does not do either.
        fields.push(("csrf_token", &logout_csrf));
        let refused = b.post("/developers/apps/new", &fields).await;
        refused.assert_page(StatusCode::FORBIDDEN, &ui.name);
        let refused = b
            .post_multipart(
                "/developers/apps/new",
                &fields,
                &[("logo_file", "l.png", "image/png", TINY_PNG)],
            )
            .await;
        refused.assert_page(StatusCode::FORBIDDEN, &ui.name);
        let list = b.get("/developers").await;
        assert!(list.body.contains("id=\"no-requests\""));

        let id = request_app(&mut b, "Neon Sync", "true").await;
        ui.service
            .partners()
            .approve(&id, None, "reviewer")
            .await
            .unwrap();
        for path in ["reveal", "rotate"] {
            let refused = b
                .post(
                    &format!("/developers/apps/{id}/{path}"),
                    &[("confirm", "1")],
                )
                .await;
            refused.assert_page(StatusCode::FORBIDDEN, &ui.name);
        }
        let stored = ui
            .store()
            .get_registration_request(&id)
            .await
            .unwrap()
            .unwrap();
        assert!(!stored.secret_revealed);
    }
}

#[tokio::test]
async fn with_partner_approval_off_every_portal_route_is_not_found() {
    for ui in uis_with_token(|s| s.partners.approval = ApprovalMode::Off).await {
        let mut b = ui.browser();
        for path in [
            "/developers",
            "/developers/apps/new",
            "/developers/apps/rr_x/edit",
            "/developers/apps/rr_x/rotate",
            "/developers/logos/logo_x",
        ] {
            assert_eq!(b.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        let login = b.get("/ui/login").await;
        b.login(&login, "alice", ALICE_PASSWORD, false).await;
        for path in ["/developers", "/developers/apps/new"] {
            assert_eq!(b.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        for path in ["/developers/apps/new", "/developers/apps/rr_x/reveal"] {
            assert_eq!(
                b.post(path, &[]).await.status,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        let apps = b.get("/account/apps").await;
        apps.assert_page(StatusCode::OK, &ui.name);
        assert!(!apps.body.contains("developer-portal"));
    }
}

#[tokio::test]
async fn in_automatic_mode_a_request_is_approved_at_once() {
    for ui in uis_with_token(|s| s.partners.approval = ApprovalMode::Automatic).await {
        let mut b = ui.browser();
        let list = sign_in(&mut b, "alice", ALICE_PASSWORD).await;
        assert!(
            list.body.contains("Requests are approved at once"),
            "{}",
            list.body
        );
        let form = b.get("/developers/apps/new").await;
        assert!(
            form.body
                .contains("Requests are approved at once on this server.")
        );
        let csrf = form.form_field("app-form", "csrf_token");
        let reply = b
            .post(
                "/developers/apps/new",
                &app_form(&csrf, "Neon Sync", "true"),
            )
            .await;
        assert_eq!(reply.location(), "/developers?approved=1", "{}", reply.body);
        let list = b.follow(&reply).await;
        assert!(list.body.contains("Your app was approved"));
        assert!(list.body.contains("data-status=\"approved\""));
        assert!(list.body.contains("class=\"client-id\""));
    }
}

#[tokio::test]
async fn under_an_issuer_path_the_portal_and_its_way_back_from_sign_in_are_under_it() {
    for ui in uis_with(|c| c.base_path = "/api".into()).await {
        let mut b = ui.browser();
        let reply = b.get("/api/developers").await;
        assert_eq!(
            reply.location(),
            "/api/ui/login?return=%2Fapi%2Fdevelopers",
            "{}",
            ui.name
        );
        let login = b.follow(&reply).await;
        assert!(
            login
                .body
                .contains("name=\"return\" value=\"/api/developers\"")
        );
        let csrf = login.field("csrf_token");
        let after = b
            .post(
                "/api/ui/login",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("username", "alice"),
                    ("password", ALICE_PASSWORD),
                    ("return", "/api/developers"),
                ],
            )
            .await;
        assert_eq!(after.location(), "/api/developers");
        let list = b.follow(&after).await;
        list.assert_page(StatusCode::OK, &ui.name);
        assert!(list.body.contains("href=\"/api/developers/apps/new\""));
        assert_eq!(b.get("/developers").await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_token_service_that_cannot_be_reached_gives_the_friendly_page_not_a_crash() {
    for backends in gatehouse_testkit::backend_pairs().await {
        let port = gatehouse_testkit::http::free_port();
        let client = gatehouse_login::TokenServiceClient::connect_lazy(
            &format!("http://127.0.0.1:{port}"),
            None,
        )
        .unwrap()
        .with_deadline(std::time::Duration::from_millis(500));
        let config = gatehouse_login::LoginConfig::new(
            ISSUER,
            gatehouse_core::secret::SecretString::new(
                gatehouse_testkit::fixtures::random_system_secret("portal-down"),
            ),
        );
        let state = gatehouse_login::LoginState::new(
            client,
            std::sync::Arc::clone(&backends.short_lived.store),
            config,
            std::sync::Arc::new(gatehouse_core::SystemClock),
        );
        let router = gatehouse_login::router(state);
        let mut b = Browser::new(&router, backends.name(), "203.0.113.7:40000");
        for path in [
            "/developers",
            "/developers/apps/new",
            "/developers/logos/logo_x",
        ] {
            let page = b.get(path).await;
            page.assert_page(StatusCode::SERVICE_UNAVAILABLE, path);
            assert!(
                page.body.contains("Temporarily unavailable"),
                "{}",
                page.body
            );
        }
    }
}
