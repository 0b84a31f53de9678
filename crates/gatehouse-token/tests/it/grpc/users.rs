//! `AuthenticateUser` (only the right password of an enabled user, and the failed-login limits
//! for any caller) and `GetUser`.

use gatehouse_core::error::ErrorCode;
use gatehouse_core::secret::SecretString;
use gatehouse_login::SignIn;
use gatehouse_proto::token::v1 as pb;
use tonic::Code;

use super::{ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, servers};

#[tokio::test]
async fn authenticate_user_answers_only_for_the_right_password_of_an_enabled_user() {
    for g in servers().await {
        let ok = g
            .client
            .authenticate_user("alice", &SecretString::new(ALICE_PASSWORD), "198.51.100.1")
            .await
            .unwrap();
        let SignIn::Authenticated(alice, _) = ok else {
            panic!("{}: alice refused: {ok:?}", g.name)
        };
        assert_eq!(
            (alice.id.as_str(), alice.username.as_str()),
            (ALICE, "alice")
        );
        assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
        assert!(alice.email_verified && !alice.disabled);
        assert_eq!(
            alice.picture.as_deref(),
            Some("https://pics.example.com/alice.png")
        );

        for (username, password) in [
            ("alice", "wrong"),
            ("nobody", ALICE_PASSWORD),
            ("bob", BOB_PASSWORD),
            ("carol", ""),
            ("", ""),
        ] {
            let answer = g
                .client
                .authenticate_user(username, &SecretString::new(password), "198.51.100.1")
                .await;
            // Only a disabled user with the right password is told apart (the UI decides whether
            // to say so); every other refusal looks the same.
            let disabled = username == "bob";
            assert!(
                matches!(answer, Ok(SignIn::Refused { disabled: d, .. }) if d == disabled),
                "{}: {username}: {answer:?}",
                g.name
            );
        }
    }
}

/// The failed-login limits hold for any caller of AuthenticateUser, not only for the login UI:
/// a direct caller that guesses six times is locked out before the right password, and an
/// oversized password is refused before anything is hashed.
#[tokio::test]
async fn authenticate_user_enforces_the_lockout_for_any_caller() {
    for g in servers().await {
        let mut raw = g.raw().await;
        let attempt = |password: &str| pb::AuthenticateUserRequest {
            username: "alice".into(),
            password: password.into(),
            ..Default::default()
        };
        for i in 0..6 {
            let answer = raw
                .authenticate_user(attempt(&format!("guess-{i}")))
                .await
                .unwrap()
                .into_inner();
            assert!(answer.user.is_none(), "{}", g.name);
        }
        let answer = raw
            .authenticate_user(attempt(ALICE_PASSWORD))
            .await
            .unwrap()
            .into_inner();
        assert!(
            answer.user.is_none(),
            "{}: the right password was accepted after six failures",
            g.name
        );
        assert_eq!(answer.locked(), pb::Lockout::Username, "{}", g.name);
        let status = raw
            .authenticate_user(attempt(&"p".repeat(2_000)))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{}: {status:?}",
            g.name
        );
        // Past the message limit the transport refuses it before any handler runs.
        let status = raw
            .authenticate_user(attempt(&"p".repeat(300_000)))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::OutOfRange, "{}: {status:?}", g.name);
    }
}

#[tokio::test]
async fn get_user_finds_users_by_id_and_says_none_otherwise() {
    for g in servers().await {
        let bob = g
            .client
            .user(BOB)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{}: bob missing", g.name));
        assert_eq!(bob.username, "bob");
        assert!(bob.disabled);
        assert_eq!(bob.name.as_deref(), Some("User bob"));
        assert_eq!(g.client.user("user-nobody").await, Ok(None), "{}", g.name);
        let empty = g.client.user("").await;
        assert_eq!(
            empty.map_err(|e| e.code),
            Err(ErrorCode::InvalidRequest),
            "{}",
            g.name
        );
    }
}
