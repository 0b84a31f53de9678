//! `populate`: brings records into being through the real endpoints, a fixed number of them, for
//! `bench/capacity`'s bytes-per-record measurement. Each sign-in is a new browser of its own user
//! (`PREFIX0`, `PREFIX1`, …), so every one leaves its own records behind:
//!
//! - `challenge`: the authorization request up to the login page (a pending challenge);
//! - `code`: sign-in and consent up to the code, which is left unredeemed (a login session, a
//!   consent, a live code);
//! - `tokens`: the whole flow, code exchanged (with `offline_access`, a refresh family);
//! - `failed-login`: a wrong password, refused (the failed-login counters).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::bail;
use clap::ValueEnum;

use crate::flow::{FlowConfig, Until, authorize, run_flow};
use crate::http::Client;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Stage {
    Challenge,
    Code,
    Tokens,
    FailedLogin,
}

/// Runs `count` sign-ins of users `prefix{from}` … on `concurrency` workers; returns how many
/// reached their stage. Fails at the first one that does not: a partial population would
/// measure the wrong thing.
pub async fn run(
    cfg: FlowConfig,
    prefix: String,
    from: u64,
    count: u64,
    concurrency: usize,
    stage: Stage,
) -> anyhow::Result<u64> {
    let next = Arc::new(AtomicU64::new(from));
    let end = from + count;
    let cfg = Arc::new(cfg);
    let prefix = Arc::new(prefix);
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let (next, cfg, prefix) = (next.clone(), cfg.clone(), prefix.clone());
        workers.push(tokio::spawn(async move {
            let mut client = Client::default();
            let mut done = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    return anyhow::Ok(done);
                }
                let mut user = FlowConfig::clone(&cfg);
                user.username = format!("{prefix}{i}");
                let until = match stage {
                    Stage::Tokens => {
                        run_flow(&mut client, &user).await?;
                        done += 1;
                        continue;
                    }
                    Stage::Challenge => Until::LoginPage,
                    Stage::Code => Until::Code,
                    Stage::FailedLogin => Until::RefusedLogin,
                };
                // A challenge S256 accepts; the verifier is never used: the code stays unredeemed.
                let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
                let code = authorize(&mut client, &user, challenge, "populate", until).await?;
                if (stage == Stage::Code) != code.is_some() {
                    bail!(
                        "user {}: the browser part stopped at the wrong place",
                        user.username
                    );
                }
                done += 1;
            }
        }));
    }
    let mut total = 0;
    for w in workers {
        total += w.await??;
    }
    Ok(total)
}
