//! Users' second factors and recovery codes.

use async_trait::async_trait;
use gatehouse_core::factor::{Factor, FactorKind, RecoveryCode};
use gatehouse_core::store::{FactorStore, StoreError, StoreResult};
use sqlx::{Postgres, Sqlite};
use time::OffsetDateTime;

use super::SqlStore;
use super::rows::{self, time, time_opt};
use crate::error::db_error;

macro_rules! factor_columns {
    () => {
        "id, user_id, kind, label, sealed_secret, created_at, confirmed_at, last_used_step, \
         credential_id"
    };
}

type FactorRow = (
    String,
    String,
    String,
    String,
    Vec<u8>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn factor(row: FactorRow) -> StoreResult<Factor> {
    let (
        id,
        user_id,
        kind,
        label,
        sealed_secret,
        created_at,
        confirmed_at,
        last_used_step,
        credential_id,
    ) = row;
    Ok(Factor {
        kind: FactorKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("user_factors.kind = {kind}")))?,
        id,
        user_id,
        label,
        sealed_secret,
        created_at: time("created_at", created_at)?,
        confirmed_at: time_opt("confirmed_at", confirmed_at)?,
        last_used_step,
        credential_id,
    })
}

macro_rules! impl_factors {
    ($db:ty, $backend:literal) => {
        #[async_trait]
        impl FactorStore for SqlStore<$db> {
            async fn create_factor(&self, factor: &Factor) -> StoreResult<()> {
                let mut tx = self.begin_tx().await.map_err(|e| db_error($backend, e))?;
                sqlx::query(
                    "DELETE FROM user_factors WHERE user_id = $1 AND confirmed_at IS NULL",
                )
                .bind(&factor.user_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error($backend, e))?;
                sqlx::query(concat!(
                    "INSERT INTO user_factors (",
                    factor_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(&factor.id)
                .bind(&factor.user_id)
                .bind(factor.kind.as_str())
                .bind(&factor.label)
                .bind(&factor.sealed_secret)
                .bind(rows::unix(factor.created_at))
                .bind(rows::unix_opt(factor.confirmed_at))
                .bind(factor.last_used_step)
                .bind(&factor.credential_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error($backend, e))?;
                tx.commit().await.map_err(|e| db_error($backend, e))
            }

            async fn list_factors(&self, user_id: &str) -> StoreResult<Vec<Factor>> {
                sqlx::query_as::<_, FactorRow>(concat!(
                    "SELECT ",
                    factor_columns!(),
                    " FROM user_factors WHERE user_id = $1 ORDER BY created_at, id"
                ))
                .bind(user_id)
                .fetch_all(self.db())
                .await
                .map_err(|e| db_error($backend, e))?
                .into_iter()
                .map(factor)
                .collect()
            }

            async fn confirm_factor(
                &self,
                user_id: &str,
                id: &str,
                at: OffsetDateTime,
                step: i64,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE user_factors SET confirmed_at = $3, last_used_step = $4 \
                     WHERE user_id = $1 AND id = $2 AND confirmed_at IS NULL",
                )
                .bind(user_id)
                .bind(id)
                .bind(rows::unix(at))
                .bind(step)
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(done.rows_affected() == 1)
            }

            async fn use_factor_step(
                &self,
                user_id: &str,
                id: &str,
                step: i64,
            ) -> StoreResult<bool> {
                // One conditional UPDATE: the row lock (Postgres) or the write lock (SQLite)
                // lets exactly one of racing calls with the same step through.
                let done = sqlx::query(
                    "UPDATE user_factors SET last_used_step = $3 \
                     WHERE user_id = $1 AND id = $2 AND confirmed_at IS NOT NULL \
                       AND (last_used_step IS NULL OR last_used_step < $3)",
                )
                .bind(user_id)
                .bind(id)
                .bind(step)
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(done.rows_affected() == 1)
            }

            async fn find_factor_by_credential_id(
                &self,
                credential_id: &str,
            ) -> StoreResult<Option<Factor>> {
                sqlx::query_as::<_, FactorRow>(concat!(
                    "SELECT ",
                    factor_columns!(),
                    " FROM user_factors WHERE credential_id = $1"
                ))
                .bind(credential_id)
                .fetch_optional(self.db())
                .await
                .map_err(|e| db_error($backend, e))?
                .map(factor)
                .transpose()
            }

            async fn update_factor_secret(
                &self,
                user_id: &str,
                id: &str,
                sealed_secret: &[u8],
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE user_factors SET sealed_secret = $3 \
                     WHERE user_id = $1 AND id = $2 AND confirmed_at IS NOT NULL",
                )
                .bind(user_id)
                .bind(id)
                .bind(sealed_secret)
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_factor(&self, user_id: &str, id: &str) -> StoreResult<bool> {
                let mut tx = self.begin_tx().await.map_err(|e| db_error($backend, e))?;
                let done = sqlx::query("DELETE FROM user_factors WHERE user_id = $1 AND id = $2")
                    .bind(user_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error($backend, e))?;
                sqlx::query(
                    "DELETE FROM user_recovery_codes WHERE user_id = $1 AND NOT EXISTS \
                     (SELECT 1 FROM user_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL)",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error($backend, e))?;
                tx.commit().await.map_err(|e| db_error($backend, e))?;
                Ok(done.rows_affected() == 1)
            }

            async fn replace_recovery_codes(
                &self,
                user_id: &str,
                hashes: &[String],
                at: OffsetDateTime,
            ) -> StoreResult<()> {
                let mut tx = self.begin_tx().await.map_err(|e| db_error($backend, e))?;
                sqlx::query("DELETE FROM user_recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error($backend, e))?;
                for hash in hashes {
                    sqlx::query(
                        "INSERT INTO user_recovery_codes (user_id, code_hash, created_at) \
                         VALUES ($1, $2, $3)",
                    )
                    .bind(user_id)
                    .bind(hash)
                    .bind(rows::unix(at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error($backend, e))?;
                }
                tx.commit().await.map_err(|e| db_error($backend, e))
            }

            async fn list_recovery_codes(&self, user_id: &str) -> StoreResult<Vec<RecoveryCode>> {
                sqlx::query_as::<_, (String, i64, Option<i64>)>(
                    "SELECT code_hash, created_at, used_at FROM user_recovery_codes \
                     WHERE user_id = $1 ORDER BY code_hash",
                )
                .bind(user_id)
                .fetch_all(self.db())
                .await
                .map_err(|e| db_error($backend, e))?
                .into_iter()
                .map(|(code_hash, created_at, used_at)| {
                    Ok(RecoveryCode {
                        code_hash,
                        created_at: time("created_at", created_at)?,
                        used_at: time_opt("used_at", used_at)?,
                    })
                })
                .collect()
            }

            async fn use_recovery_code(
                &self,
                user_id: &str,
                code_hash: &str,
                at: OffsetDateTime,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE user_recovery_codes SET used_at = $3 \
                     WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
                )
                .bind(user_id)
                .bind(code_hash)
                .bind(rows::unix(at))
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

impl_factors!(Postgres, "postgres");
impl_factors!(Sqlite, "sqlite");
