//! `gatehouse keys list|rotate`: the token service's signing keys.
//!
//! Rotation makes a new key sign from now on; the previous one stays published in the JWKS
//! until every token it signed has expired, so relying parties never see a signature they
//! cannot verify.

use clap::Subcommand;
use serde_json::{Value, json};
use std::io::Write;

use super::http::AdminApi;
use super::output::{emit, flag, items, render, table, text};
use super::{AdminConnection, OutputFormat, one_line};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys (never the private part).
    List,
    /// Generate a new signing key and retire the current one.
    Rotate {
        /// RS256, ES256 or EdDSA; all three when omitted.
        #[arg(long)]
        alg: Option<String>,
    },
}

pub async fn run_keys(conn: &AdminConnection, cmd: KeysCommand) -> anyhow::Result<()> {
    let api = AdminApi::new(conn).map_err(one_line)?;
    execute(&api, conn.format, cmd, &mut std::io::stdout())
        .await
        .map_err(one_line)
}

async fn execute(
    api: &AdminApi,
    format: OutputFormat,
    cmd: KeysCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::List => {
            let keys = api.get(&["admin", "keys"]).await?;
            emit(out, &render(format, &keys, keys_table))
        }
        KeysCommand::Rotate { alg } => {
            let body = match alg {
                Some(a) => json!({ "alg": a }),
                None => json!({}),
            };
            let rotated = api.post(&["admin", "keys", "rotate"], &[], &body).await?;
            emit(
                out,
                &render(format, &rotated, |r| {
                    r.get("rotated")
                        .map(items)
                        .unwrap_or(&[])
                        .iter()
                        .map(|k| format!("Signing key {} ({}) now signs; the previous key stays published.\n", text(k, "kid"), text(k, "alg")))
                        .collect()
                }),
            )
        }
    }
}

fn keys_table(keys: &Value) -> String {
    let rows: Vec<Vec<String>> = items(keys)
        .iter()
        .map(|k| {
            vec![
                text(k, "kid"),
                text(k, "alg"),
                flag(k, "active"),
                text(k, "created_at"),
                text(k, "retired_at"),
            ]
        })
        .collect();
    table(&["KID", "ALG", "ACTIVE", "CREATED AT", "RETIRED AT"], &rows)
}
