//! `RecordConsent`, `GetConsent`, `ListConsents` and `RevokeConsent`: consents are merged, listed
//! with their clients and scope labels, and revoked with the tokens they granted.

use gatehouse_core::error::ErrorCode;
use gatehouse_core::scope::ScopeSet;

use super::{ALICE, BOB, CLI, PROJECTS, WEB, servers, tokens_for_alice};

#[tokio::test]
async fn consents_are_recorded_merged_listed_and_revoked_with_their_tokens() {
    for g in servers().await {
        assert_eq!(g.client.consent(ALICE, CLI).await, Ok(None), "{}", g.name);
        g.client
            .record_consent(ALICE, CLI, &ScopeSet::parse("openid profile").unwrap())
            .await
            .unwrap();
        let merged = g
            .client
            .record_consent(
                ALICE,
                CLI,
                &ScopeSet::parse(&format!("offline {PROJECTS}")).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            merged.scope.to_string(),
            format!("openid profile offline {PROJECTS}"),
            "{}",
            g.name
        );
        assert!(merged.expires_at.is_some_and(|e| e > merged.granted_at));
        assert_eq!(
            g.client.consent(ALICE, CLI).await.unwrap(),
            Some(merged.clone()),
            "{}",
            g.name
        );
        g.client
            .record_consent(ALICE, WEB, &ScopeSet::parse("openid email").unwrap())
            .await
            .unwrap();

        let mut apps = g.client.list_consents(ALICE).await.unwrap();
        apps.sort_by(|a, b| a.consent.client_id.cmp(&b.consent.client_id));
        assert_eq!(apps.len(), 2, "{}", g.name);
        let cli = &apps[0];
        assert_eq!(cli.consent, merged);
        assert_eq!(
            cli.client.as_ref().map(|c| c.name.as_str()),
            Some("Neon CLI")
        );
        let labels: Vec<_> = cli
            .scopes
            .iter()
            .filter(|s| !s.hidden)
            .map(|s| s.label.as_str())
            .collect();
        assert_eq!(
            labels,
            ["Your name and profile picture", "Read your projects"],
            "{}",
            g.name
        );
        assert_eq!(
            apps[1].client.as_ref().and_then(|c| c.logo_uri.as_deref()),
            Some("https://app.example.com/logo.png")
        );
        assert!(g.client.list_consents(BOB).await.unwrap().is_empty());

        let tokens = tokens_for_alice(&g, &format!("openid offline {PROJECTS}")).await;
        let refresh = tokens
            .refresh_token
            .clone()
            .unwrap_or_else(|| panic!("{}: no refresh token", g.name));
        assert!(g.client.introspect(&refresh, None).await.unwrap().active);
        assert!(
            g.client
                .introspect(&tokens.access_token, None)
                .await
                .unwrap()
                .active
        );

        assert_eq!(
            g.client.revoke_consent(ALICE, CLI).await,
            Ok(true),
            "{}",
            g.name
        );
        assert!(
            !g.client.introspect(&refresh, None).await.unwrap().active,
            "{}: refresh token survived",
            g.name
        );
        assert!(
            !g.client
                .introspect(&tokens.access_token, None)
                .await
                .unwrap()
                .active,
            "{}: access token survived",
            g.name
        );
        assert_eq!(g.client.consent(ALICE, CLI).await, Ok(None));
        assert_eq!(g.client.revoke_consent(ALICE, CLI).await, Ok(false));
        let left: Vec<_> = g
            .client
            .list_consents(ALICE)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.consent.client_id)
            .collect();
        assert_eq!(left, [WEB], "{}", g.name);

        let bad = g.client.record_consent("", CLI, &ScopeSet::default()).await;
        assert_eq!(
            bad.map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::InvalidRequest)
        );
    }
}
