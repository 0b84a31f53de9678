//! `Introspect` (RFC 7662 fields) and `Revoke` (only by the client the token was issued to).

use gatehouse_core::error::ErrorCode;

use super::{ALICE, CLI, ISSUER, PROJECTS, WEB, servers, tokens_for_alice};

#[tokio::test]
async fn introspection_reports_rfc_7662_fields_and_revocation_is_per_client() {
    for g in servers().await {
        let tokens = tokens_for_alice(&g, &format!("openid offline {PROJECTS}")).await;
        let at = g
            .client
            .introspect(&tokens.access_token, Some("access_token"))
            .await
            .unwrap();
        assert!(at.active, "{}", g.name);
        assert_eq!(
            at.scope.as_deref(),
            Some(format!("openid offline {PROJECTS}").as_str())
        );
        assert_eq!(at.client_id.as_deref(), Some(CLI));
        assert_eq!(at.sub.as_deref(), Some(ALICE));
        assert_eq!(at.token_type.as_deref(), Some("Bearer"));
        assert_eq!(at.iss.as_deref(), Some(ISSUER));
        assert!(at.exp.zip(at.iat).is_some_and(|(exp, iat)| exp > iat));

        let refresh = tokens.refresh_token.clone().unwrap();
        let rt = g
            .client
            .introspect(&refresh, Some("refresh_token"))
            .await
            .unwrap();
        assert!(
            rt.active && rt.token_type.as_deref() == Some("refresh_token"),
            "{}: {rt:?}",
            g.name
        );

        let nothing = g
            .client
            .introspect("gh_at_not-a-token", None)
            .await
            .unwrap();
        assert_eq!(
            nothing,
            gatehouse_login::TokenIntrospection::default(),
            "{}",
            g.name
        );
        let empty = g.client.introspect("", None).await;
        assert_eq!(empty.map_err(|e| e.code), Err(ErrorCode::InvalidRequest));

        // Another client's revocation is ignored, and answers the same.
        g.client.revoke(&tokens.access_token, WEB).await.unwrap();
        assert!(
            g.client
                .introspect(&tokens.access_token, None)
                .await
                .unwrap()
                .active,
            "{}",
            g.name
        );
        g.client.revoke(&tokens.access_token, CLI).await.unwrap();
        assert!(
            !g.client
                .introspect(&tokens.access_token, None)
                .await
                .unwrap()
                .active,
            "{}",
            g.name
        );
        assert!(
            g.client.introspect(&refresh, None).await.unwrap().active,
            "revoking an access token leaves the refresh token"
        );
        g.client.revoke(&refresh, CLI).await.unwrap();
        assert!(
            !g.client.introspect(&refresh, None).await.unwrap().active,
            "{}",
            g.name
        );
        g.client.revoke("gh_rt_unknown", CLI).await.unwrap();
    }
}
