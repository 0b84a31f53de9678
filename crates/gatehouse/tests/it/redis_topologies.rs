//! The real binary on a Redis Cluster and on a master behind Sentinel: `gatehouse serve all`
//! with `REDIS_URL=redis+cluster://…` (and `redis+sentinel://…` whose Sentinels require a
//! password of their own), the durable store on its default SQLite file. Readiness reports the
//! topology up; a whole authorization-code flow with PKCE runs through the login UI (its
//! challenges, sessions and codes live in Redis), then the tokens are refreshed, introspected
//! and revoked over HTTP. Each test starts its topology once.

use reqwest::StatusCode;
use serde_json::Value;

use crate::faults::{
    assert_no_panic, http, ready_becomes, redeem, refresh_token_of, token_request,
};
use crate::flow::{Browser, code_form, refresh_form};
use crate::gatehouse;
use gatehouse_testkit::e2e::{Partner, Server};
use gatehouse_testkit::redis_servers::{RedisCluster, RedisSentinel};

const CALLBACK: &str = "http://127.0.0.1:5555/callback";

/// `/admin/oauth2/introspect` (what resource servers inside the perimeter call) on `token`.
async fn introspect(server: &Server, token: &str) -> Value {
    let answer = http()
        .post(Server::url(server.admin, "/admin/oauth2/introspect"))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspection");
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.expect("introspection JSON")
}

/// The whole flow on a `serve all` whose short-lived store is `redis_url`.
async fn flow_on_redis(redis_url: &str, tag: &str) {
    let server = gatehouse()
        .server("all")
        .env("REDIS_URL", redis_url)
        .start();
    let ready: Value = serde_json::from_str(
        &ready_becomes(&server, 200, std::time::Duration::from_secs(20)).await,
    )
    .expect("readiness JSON");
    assert_eq!(ready["status"], "ok", "{ready}");
    let partner = Partner::register(&server, CALLBACK, None);
    let base = Server::url(server.public, "");

    // Authorization code with PKCE, through the login and consent pages.
    let code = Browser::new(&base)
        .code(&partner, tag)
        .await
        .unwrap_or_else(|hop| panic!("the flow stopped at {hop:?}"));
    let tokens = redeem(server.public, &partner, &code).await;
    let (status, again) = token_request(&http(), server.public, &code_form(&partner, &code)).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant")),
        "a code redeems once: {again}"
    );
    // The replay ends the grant: start a fresh one for the rest.
    let code = Browser::new(&base)
        .code(&partner, &format!("{tag}-2"))
        .await
        .unwrap_or_else(|hop| panic!("the second flow stopped at {hop:?}"));
    let tokens_2 = redeem(server.public, &partner, &code).await;
    assert_ne!(tokens["access_token"], tokens_2["access_token"]);
    let access = tokens_2["access_token"].as_str().expect("an access token");
    let introspected = introspect(&server, access).await;
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(
        introspected["client_id"], partner.client_id,
        "{introspected}"
    );

    // Refresh: a new pair; the new refresh token is active.
    let (status, rotated) = token_request(
        &http(),
        server.public,
        &refresh_form(&partner, &refresh_token_of(&tokens_2)),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let refresh = refresh_token_of(&rotated);
    assert_eq!(introspect(&server, &refresh).await["active"], true);

    // Revocation (RFC 7009) as the public client: the refresh token is dead, and refused.
    let revoked = http()
        .post(Server::url(server.public, "/oauth2/revoke"))
        .form(&[
            ("token", refresh.as_str()),
            ("client_id", partner.client_id),
        ])
        .send()
        .await
        .expect("revocation");
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(introspect(&server, &refresh).await["active"], false);
    let (status, refused) =
        token_request(&http(), server.public, &refresh_form(&partner, &refresh)).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_grant")),
        "a revoked refresh token: {refused}"
    );

    assert_no_panic(&server);
    let (status, logs) = server.terminate_with_logs();
    assert!(status.success(), "{status}\n{logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_flow_on_a_redis_cluster() {
    let Some(cluster) = RedisCluster::start("a_whole_flow_on_a_redis_cluster").await else {
        return;
    };
    assert!(cluster.url().starts_with("redis+cluster://"));
    flow_on_redis(&cluster.url(), "cluster").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_flow_behind_password_protected_sentinels() {
    let Some(setup) =
        RedisSentinel::start("a_whole_flow_behind_password_protected_sentinels").await
    else {
        return;
    };
    assert!(setup.url().contains("sentinel_password="));
    flow_on_redis(&setup.url(), "sentinel").await;
}
