//! Secrets stay secret: a whole flow against the real binary, logging at `trace` for every
//! Gatehouse crate in JSON, leaves none of the secrets it used in any log line (the sign-in's
//! second factor included: the TOTP key shown at enrolment, its codes, recovery codes, and the
//! mailed password reset link); and the signing keys in the database are sealed, readable only
//! with the system secret.

use std::sync::Arc;

use gatehouse_core::store::SigningKeyRecord;
use gatehouse_jose::{KeyEncryption, KeyRing};
use reqwest::StatusCode;
use reqwest::cookie::CookieStore as _;
use sqlx::Row as _;

use crate::flow::{Browser, code_form, form, input, refresh_form};
use gatehouse_testkit::e2e::{Partner, Server, run};
use gatehouse_testkit::fixtures::PKCE_VERIFIER;

use crate::gatehouse;

/// Every Gatehouse crate at `trace`, the HTTP layer at `debug`.
const VERBOSE: &str = "info,gatehouse=trace,gatehouse_token=trace,gatehouse_login=trace,\
gatehouse_store=trace,gatehouse_core=trace,gatehouse_jose=trace,gatehouse_proto=trace,\
tower_http=debug,sqlx=warn";

const CALLBACK: &str = "http://127.0.0.1:5555/callback";

#[tokio::test]
async fn a_full_flow_logged_at_trace_leaks_no_secret() {
    // The in-process login UI reaches the token service over mutual TLS, with certificates from
    // `gatehouse certs grpc`: their private keys join the secrets searched for.
    let pki = tempfile::tempdir().unwrap();
    let out = run(gatehouse().command(pki.path()).args([
        "certs",
        "grpc",
        "--out",
        &pki.path().display().to_string(),
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = |name: &str| pki.path().join(name).display().to_string();
    let server = gatehouse()
        .server("all")
        .env("GATEHOUSE_LOG", VERBOSE)
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .env("GATEHOUSE_GRPC_TLS_CERT", file("token.crt"))
        .env("GATEHOUSE_GRPC_TLS_KEY", file("token.key"))
        .env("GATEHOUSE_GRPC_CLIENT_CA", file("ca.crt"))
        .env("GATEHOUSE_TOKEN_GRPC_CA", file("ca.crt"))
        .env("GATEHOUSE_TOKEN_GRPC_CLIENT_CERT", file("login.crt"))
        .env("GATEHOUSE_TOKEN_GRPC_CLIENT_KEY", file("login.key"))
        .start();
    let base = Server::url(server.public, "");
    let http = reqwest::Client::new();
    // (what, value) of every secret the run handles.
    let mut secrets: Vec<(String, String)> = Vec::new();
    let mut keep = |what: &str, value: &str| {
        assert!(!value.is_empty(), "{what} is empty");
        secrets.push((what.to_owned(), value.to_owned()));
    };
    for key in ["ca.key", "token.key", "login.key"] {
        let pem = std::fs::read_to_string(pki.path().join(key)).unwrap();
        for line in pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 24)
        {
            keep(&format!("{key} (PEM line)"), line);
        }
    }

    // The operator: scopes, a public client and a user whose password goes through stdin…
    let partner = Partner::register(&server, CALLBACK, None);
    keep("user password", partner.password);
    keep("PKCE verifier", PKCE_VERIFIER);
    // …and a confidential client whose secret the CLI generates and shows once.
    let created = server.admin_cli(
        &[
            "clients",
            "create",
            "--name",
            "Leak check",
            "--id",
            "leak-check",
            "--callbacks",
            "https://app.example.com/callback",
            "--grant-types",
            "client_credentials",
            "--scope",
            "urn:neoncloud:projects:read",
            "--token-endpoint-auth-method",
            "client_secret_basic",
        ],
        None,
    );
    let client_secret = created
        .lines()
        .find_map(|l| l.strip_prefix("OAuth 2.0 Client Secret: "))
        .unwrap_or_else(|| panic!("no secret in: {created}"))
        .trim()
        .to_owned();
    keep("client secret", &client_secret);

    // The end user: authorize → login → consent → callback, CSRF tokens read from the forms.
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let browser = Browser::with_jar(&base, Arc::clone(&jar));
    let mut hop = browser.start(&partner, "leak-state").await;
    let mut callback = None;
    for _ in 0..8 {
        if hop.status == StatusCode::SEE_OTHER {
            let to = hop.location.clone().unwrap_or_default();
            if to.starts_with(CALLBACK) {
                callback = Some(to);
                break;
            }
            hop = browser.get(&to).await;
        } else if hop.body.contains("<form id=\"login-form\"") {
            let f = form(&hop.body, "login-form");
            let (csrf, challenge) = (input(f, "csrf_token"), input(f, "challenge"));
            keep("login CSRF token", &csrf);
            hop = browser
                .post(
                    "/ui/login",
                    &[
                        ("csrf_token", csrf.as_str()),
                        ("challenge", challenge.as_str()),
                        ("username", partner.username),
                        ("password", partner.password),
                        ("remember", "1"),
                    ],
                )
                .await;
        } else if hop.body.contains("<form id=\"consent-form\"") {
            let f = form(&hop.body, "consent-form");
            let (csrf, challenge) = (input(f, "csrf_token"), input(f, "challenge"));
            keep("consent CSRF token", &csrf);
            hop = browser
                .post(
                    "/ui/consent",
                    &[
                        ("csrf_token", csrf.as_str()),
                        ("challenge", challenge.as_str()),
                        ("remember", "1"),
                        ("decision", "allow"),
                    ],
                )
                .await;
        } else {
            panic!("unexpected hop: {hop:?}");
        }
    }
    let callback = url::Url::parse(&callback.expect("the flow reached the callback")).unwrap();
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    keep("authorization code", &code);
    let cookies = jar
        .cookies(&url::Url::parse(&base).unwrap())
        .expect("the login UI set cookies");
    for cookie in cookies.to_str().unwrap().split("; ") {
        let (name, value) = cookie.split_once('=').unwrap();
        keep(&format!("cookie {name}"), value);
    }

    // The partner app: code → tokens → refresh → userinfo → introspect → revoke.
    let token_endpoint = format!("{base}/oauth2/token");
    let tokens: serde_json::Value = http
        .post(&token_endpoint)
        .form(&code_form(&partner, &code))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in ["access_token", "refresh_token", "id_token"] {
        keep(field, tokens[field].as_str().unwrap_or_default());
    }
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let rotated: serde_json::Value = http
        .post(&token_endpoint)
        .form(&refresh_form(&partner, refresh))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in ["access_token", "refresh_token", "id_token"] {
        keep(
            &format!("rotated {field}"),
            rotated[field].as_str().unwrap_or_default(),
        );
    }
    let access = rotated["access_token"].as_str().unwrap();
    let userinfo = http
        .get(format!("{base}/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), StatusCode::OK);
    // The confidential client: its own token, then introspection of both.
    let own: serde_json::Value = http
        .post(&token_endpoint)
        .basic_auth("leak-check", Some(&client_secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "urn:neoncloud:projects:read"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    keep(
        "client_credentials access_token",
        own["access_token"].as_str().unwrap_or_default(),
    );
    for token in [access, own["access_token"].as_str().unwrap()] {
        let answer = http
            .post(format!("{base}/oauth2/introspect"))
            .basic_auth("leak-check", Some(&client_secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
    // A wrong secret and a replayed refresh token: failures log too.
    let wrong = http
        .post(&token_endpoint)
        .basic_auth(
            "leak-check",
            Some("not-the-secret-but-long-enough-0123456789"),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    keep(
        "wrong client secret",
        "not-the-secret-but-long-enough-0123456789",
    );
    let replay = http
        .post(&token_endpoint)
        .form(&refresh_form(&partner, refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    let revoked = http
        .post(format!("{base}/oauth2/revoke"))
        .form(&[
            ("token", rotated["refresh_token"].as_str().unwrap()),
            ("client_id", partner.client_id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);

    secrets.extend(second_factor_and_password_reset(&server, &base, &browser, &partner).await);

    // Stop the server (SIGTERM, then wait for it to exit) before reading the log: whatever the
    // process still buffered is written by then, so every line it logged is searched.
    let (status, logs) = server.terminate_with_logs();
    assert!(
        status.success(),
        "gatehouse did not exit cleanly after SIGTERM: {status}\n{logs}"
    );
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    // JSON lines, and the startup banner on standard output (it names the listeners).
    let json = lines
        .iter()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        .count();
    for line in lines.iter().filter(|l| !l.starts_with('{')) {
        assert!(
            line.starts_with("Gatehouse ") || line.starts_with("  "),
            "a log line that is neither JSON nor the banner: {line}"
        );
    }
    assert!(json > 10, "too few log lines to prove anything:\n{logs}");
    let verbose = lines
        .iter()
        .filter(|l| l.contains("\"level\":\"DEBUG\"") || l.contains("\"level\":\"TRACE\""))
        .count();
    assert!(verbose > 0, "no debug or trace line was logged:\n{logs}");

    // The search reads the right log: what is not secret does appear.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"client_id\":\"leak-check\"")),
        "the confidential client's requests are not in the log:\n{logs}"
    );
    let mut needles: Vec<(String, String)> = Vec::new();
    for (what, value) in &secrets {
        needles.push((what.clone(), value.clone()));
        // As a form or a query would carry it.
        let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        needles.push((format!("{what} (form-encoded)"), encoded));
        // Each part of a JWT long enough to be unique (the signature, the claims).
        for part in value.split('.').filter(|p| p.len() >= 24) {
            needles.push((format!("{what} (JWT part)"), part.to_owned()));
        }
    }
    let mut found = Vec::new();
    for line in &lines {
        for (what, needle) in &needles {
            if line.contains(needle.as_str()) {
                found.push(format!("{what} in: {line}"));
            }
        }
    }
    eprintln!(
        "leak check: {} log lines ({verbose} debug/trace), {} secrets ({} forms searched), {} found",
        lines.len(),
        secrets.len(),
        needles.len(),
        found.len()
    );
    assert!(
        found.is_empty(),
        "secrets in the logs:\n{}",
        found.join("\n")
    );
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The TOTP key as the enrolment page shows it, as bytes.
fn totp_key(display: &str) -> Vec<u8> {
    let secret = totp_rs::Secret::try_from_base32(display.replace(' ', "")).expect("base32");
    AsRef::<[u8]>::as_ref(&secret).to_vec()
}

/// The text of the element with `id` (up to its first `<`).
fn element_text<'a>(html: &'a str, id: &str) -> &'a str {
    let marker = format!("id=\"{id}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in:\n{html}"))
        + marker.len();
    let end = start + html[start..].find('<').expect("an end tag");
    &html[start..end]
}

/// The recovery codes a page lists.
fn recovery_codes(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .filter_map(|rest| rest.split('<').next())
        .map(str::to_owned)
        .collect()
}

/// The signed-in user of `browser` adds an authenticator app on the security page, proves it
/// with a code for new recovery codes, signs in again with a code and then a recovery code
/// (and a wrong code), and finally asks for a password reset link by mail and uses it. Answers
/// every secret this handled: the key shown, the codes typed and shown, the link's token.
async fn second_factor_and_password_reset(
    server: &Server,
    base: &str,
    browser: &Browser,
    partner: &Partner,
) -> Vec<(String, String)> {
    let mut secrets: Vec<(String, String)> = Vec::new();
    let mut keep = |what: &str, value: &str| {
        assert!(!value.is_empty(), "{what} is empty");
        secrets.push((what.to_owned(), value.to_owned()));
    };
    // Not within the last seconds of a 30 s step: the codes computed here stay current.
    while unix_now().rem_euclid(30) >= 25 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let page = browser.get("/account/security").await;
    // Every form of the page carries the same CSRF token.
    let csrf = input(page.page("security"), "csrf_token");
    let enrolment = browser
        .post("/account/security/totp", &[("csrf_token", csrf.as_str())])
        .await;
    let html = enrolment.page("TOTP enrolment");
    let shown = element_text(html, "totp-secret").to_owned();
    keep("TOTP key (as shown)", &shown);
    keep("TOTP key (base32)", &shown.replace(' ', ""));
    let key = totp_key(&shown);
    let factor_id = input(form(html, "second-factor-form"), "factor_id");
    // The first code is the previous step's, so the current one is still unused after it.
    let first = gatehouse_core::factor::totp_code(&key, unix_now() - 30).unwrap();
    keep("TOTP code (enrolment)", &first);
    let codes_page = browser
        .post(
            "/account/security/totp/confirm",
            &[
                ("csrf_token", csrf.as_str()),
                ("factor_id", factor_id.as_str()),
                ("code", first.as_str()),
            ],
        )
        .await;
    let codes = recovery_codes(codes_page.page("recovery codes"));
    assert_eq!(codes.len(), 10, "{}", codes_page.body);
    for code in &codes {
        keep("recovery code", code);
    }
    // New recovery codes, proven with a code of the app.
    let now_code = gatehouse_core::factor::totp_code(&key, unix_now()).unwrap();
    keep("TOTP code (proof)", &now_code);
    let fresh = browser
        .post(
            "/account/security/recovery-codes",
            &[("csrf_token", csrf.as_str()), ("code", now_code.as_str())],
        )
        .await;
    let fresh = recovery_codes(fresh.page("new recovery codes"));
    assert_eq!(fresh.len(), 10);
    for code in &fresh {
        keep("new recovery code", code);
    }

    // Signing in again in another browser: the password, a wrong code, then a recovery code.
    let other = Browser::new(base);
    let mut hop = other.start(partner, "leak-mfa").await;
    let mut wrong_sent = false;
    for _ in 0..10 {
        if hop.status == StatusCode::SEE_OTHER {
            let to = hop.location.clone().unwrap_or_default();
            if to.starts_with(CALLBACK) {
                break;
            }
            hop = other.get(&to).await;
        } else if hop.body.contains("<form id=\"login-form\"") {
            let f = form(&hop.body, "login-form");
            let (csrf, challenge) = (input(f, "csrf_token"), input(f, "challenge"));
            hop = other
                .post(
                    "/ui/login",
                    &[
                        ("csrf_token", csrf.as_str()),
                        ("challenge", challenge.as_str()),
                        ("username", partner.username),
                        ("password", partner.password),
                    ],
                )
                .await;
        } else if hop.body.contains("<form id=\"second-factor-form\"") {
            let f = form(&hop.body, "second-factor-form");
            let (csrf, pending) = (input(f, "csrf_token"), input(f, "pending"));
            keep("second-factor CSRF token", &csrf);
            let code = if wrong_sent {
                fresh[0].clone()
            } else {
                wrong_sent = true;
                // A wrong code, close to a right one: a failure logs too.
                let wrong = "98765-43210".replace('-', "");
                keep("wrong code", &wrong);
                wrong
            };
            hop = other
                .post(
                    "/ui/login/second-factor",
                    &[
                        ("csrf_token", csrf.as_str()),
                        ("pending", pending.as_str()),
                        ("code", code.as_str()),
                    ],
                )
                .await;
        } else if hop.body.contains("<form id=\"consent-form\"") {
            break;
        } else {
            panic!("unexpected hop: {hop:?}");
        }
    }
    assert!(wrong_sent, "the second-factor page was never shown");

    // "Forgot password?": the mailed link's token, and using it.
    let page = browser.get("/ui/forgot-password").await;
    let f = form(page.page("forgot password"), "forgot-form");
    let mut fields = vec![
        ("csrf_token".to_owned(), input(f, "csrf_token")),
        ("login".to_owned(), partner.username.to_owned()),
    ];
    if f.contains("name=\"challenge\"") {
        fields.push(("challenge".to_owned(), input(f, "challenge")));
    }
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let sent = browser.post("/ui/forgot-password", &fields).await;
    assert!(sent.status.is_success() || sent.status == StatusCode::SEE_OTHER);
    let mail_dir = server.data_dir.path().join("mail");
    let mut link = None;
    for _ in 0..100 {
        link = std::fs::read_dir(&mail_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| std::fs::read(entry.path()).ok())
            .filter_map(|raw| gatehouse_testkit::mail::parse(&raw))
            .find_map(|mail| mail.link("/ui/reset-password"));
        if link.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let link = url::Url::parse(&link.expect("a mailed reset link")).unwrap();
    let token = link
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .expect("the link's token");
    keep("password reset token", &token);
    let page = browser
        .get(&format!(
            "{}?{}",
            link.path(),
            link.query().unwrap_or_default()
        ))
        .await;
    let f = form(page.page("reset password"), "reset-form");
    let (csrf, token_field) = (input(f, "csrf_token"), input(f, "token"));
    let new_password = "a brand new passphrase for alice";
    keep("new password", new_password);
    let done = browser
        .post(
            "/ui/reset-password",
            &[
                ("csrf_token", csrf.as_str()),
                ("token", token_field.as_str()),
                ("new_password", new_password),
                ("confirm_password", new_password),
            ],
        )
        .await;
    assert!(
        done.body.contains("id=\"password-changed\""),
        "{}",
        done.body
    );
    secrets
}

#[tokio::test]
async fn signing_keys_are_sealed_at_rest_and_open_only_with_the_system_secret() {
    let server = gatehouse().server("all").start();
    // The JWKS is served once the keys exist.
    let jwks: serde_json::Value =
        reqwest::get(Server::url(server.public, "/.well-known/jwks.json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let published = jwks["keys"].as_array().expect("keys").len();
    assert!(published > 0, "{jwks}");

    let system_secret = std::fs::read_to_string(server.data_dir.path().join("system-secret"))
        .expect("the dev system secret");
    let system_secret = system_secret.trim();
    let db = server.data_dir.path().join("gatehouse.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&db);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT kid, alg, encrypted_private_key, public_jwk FROM signing_keys ORDER BY created_at DESC",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), published, "every stored key is published");

    let right = KeyEncryption::new(&[system_secret.as_bytes()]).unwrap();
    let wrong =
        KeyEncryption::new(&[b"another-system-secret-of-sufficient-length".as_slice()]).unwrap();
    for row in rows {
        let kid: String = row.get("kid");
        let alg: String = row.get("alg");
        let sealed: Vec<u8> = row.get("encrypted_private_key");
        let public_jwk: String = row.get("public_jwk");

        // Not a private key in clear, at the start or after a nonce-sized prefix.
        for offset in [0, 12, 16, 24] {
            let Some(tail) = sealed.get(offset..) else {
                continue;
            };
            assert!(
                aws_lc_rs::rsa::KeyPair::from_pkcs8(tail).is_err()
                    && aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                        tail
                    )
                    .is_err()
                    && aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(tail).is_err()
                    && aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(tail)
                        .is_err(),
                "{kid}: the stored blob parses as a PKCS#8 key at offset {offset}"
            );
        }
        assert!(
            !String::from_utf8_lossy(&sealed).contains("PRIVATE KEY"),
            "{kid}: PEM in clear"
        );
        assert!(
            !public_jwk.contains("\"d\""),
            "{kid}: private parameters in the public JWK"
        );

        // Only the system secret opens it, and what it opens is the published key's private half.
        assert!(
            wrong.open(&sealed).is_err(),
            "{kid}: opened with another secret"
        );
        let der = right.open(&sealed).expect("opens with the system secret");
        assert!(der.len() >= 32, "{kid}");
        assert!(
            !sealed.windows(16).any(|w| der.windows(16).any(|d| d == w)),
            "{kid}: 16 bytes of the private key appear in the blob"
        );
        let record = SigningKeyRecord {
            kid: kid.clone(),
            alg,
            encrypted_private_key: sealed,
            public_jwk,
            created_at: time::OffsetDateTime::now_utc(),
            retired_at: None,
        };
        // Checks that the opened private key derives the stored public JWK.
        KeyRing::from_records(std::slice::from_ref(&record), &right)
            .unwrap_or_else(|e| panic!("{kid}: {e}"));
        assert!(KeyRing::from_records(&[record], &wrong).is_err());
    }
    pool.close().await;
    server.terminate();
}
