//! Per-client, per-day usage counts.

use async_trait::async_trait;
use gatehouse_core::store::{ClientUsage, StoreError, StoreResult, UsageDelta, UsageStore};
use sqlx::{Postgres, Sqlite};

use super::SqlStore;
use crate::error::db_error;

/// `YYYY-MM-DD`: days compare as text in both dialects.
fn day_text(day: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

fn count(value: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("client_usage {what} is {value}")))
}

macro_rules! impl_usage {
    ($db:ty, $backend:literal) => {
        #[async_trait]
        impl UsageStore for SqlStore<$db> {
            async fn add_client_usage(&self, deltas: &[UsageDelta]) -> StoreResult<()> {
                let mut tx = self.begin_tx().await.map_err(|e| db_error($backend, e))?;
                for delta in deltas {
                    sqlx::query(
                        "INSERT INTO client_usage (client_id, day, tokens_issued, logins) \
                         VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (client_id, day) DO UPDATE SET \
                           tokens_issued = client_usage.tokens_issued + excluded.tokens_issued, \
                           logins = client_usage.logins + excluded.logins",
                    )
                    .bind(&delta.client_id)
                    .bind(day_text(delta.day))
                    .bind(i64::try_from(delta.usage.tokens_issued).unwrap_or(i64::MAX))
                    .bind(i64::try_from(delta.usage.logins).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error($backend, e))?;
                }
                tx.commit().await.map_err(|e| db_error($backend, e))
            }

            async fn client_usage(
                &self,
                client_id: &str,
                since: time::Date,
            ) -> StoreResult<ClientUsage> {
                let (tokens, logins): (i64, i64) = sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(tokens_issued), 0) AS BIGINT), \
                            CAST(COALESCE(SUM(logins), 0) AS BIGINT) \
                     FROM client_usage WHERE client_id = $1 AND day >= $2",
                )
                .bind(client_id)
                .bind(day_text(since))
                .fetch_one(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(ClientUsage {
                    tokens_issued: count(tokens, "tokens_issued")?,
                    logins: count(logins, "logins")?,
                })
            }
        }
    };
}

impl_usage!(Postgres, "postgres");
impl_usage!(Sqlite, "sqlite");
