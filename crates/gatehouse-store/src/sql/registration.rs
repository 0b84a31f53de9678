//! Initial access tokens for dynamic client registration.

use async_trait::async_trait;
use gatehouse_core::store::{RegistrationToken, RegistrationTokenStore, StoreResult};
use sqlx::{Postgres, Sqlite};
use time::OffsetDateTime;

use super::rows::{self, RegistrationTokenRow, registration_token_columns};
use super::{SqlStore, affected_one};
use crate::error::db_error;

macro_rules! impl_registration_tokens {
    ($db:ty, $backend:literal) => {
        #[async_trait]
        impl RegistrationTokenStore for SqlStore<$db> {
            async fn insert_registration_token(
                &self,
                token: &RegistrationToken,
            ) -> StoreResult<()> {
                sqlx::query(concat!(
                    "INSERT INTO registration_tokens (",
                    registration_token_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6)"
                ))
                .bind(&token.id)
                .bind(&token.token_hash)
                .bind(rows::unix(token.created_at))
                .bind(rows::unix_opt(token.expires_at))
                .bind(token.max_uses.map(i64::from))
                .bind(i64::from(token.uses))
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(())
            }

            async fn use_registration_token(
                &self,
                token_hash: &str,
                now: OffsetDateTime,
            ) -> StoreResult<bool> {
                // One statement: the row lock makes racing uses queue, and each re-checks the
                // count the previous one left.
                let done = sqlx::query(
                    "UPDATE registration_tokens SET uses = uses + 1 \
                     WHERE token_hash = $1 \
                       AND (expires_at IS NULL OR expires_at > $2) \
                       AND (max_uses IS NULL OR uses < max_uses)",
                )
                .bind(token_hash)
                .bind(rows::unix(now))
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(done.rows_affected() == 1)
            }

            async fn unuse_registration_token(&self, token_hash: &str) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE registration_tokens SET uses = uses - 1 \
                     WHERE token_hash = $1 AND uses > 0",
                )
                .bind(token_hash)
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(())
            }

            async fn list_registration_tokens(&self) -> StoreResult<Vec<RegistrationToken>> {
                sqlx::query_as::<_, RegistrationTokenRow>(concat!(
                    "SELECT ",
                    registration_token_columns!(),
                    " FROM registration_tokens ORDER BY created_at DESC, id DESC"
                ))
                .fetch_all(self.db())
                .await
                .map_err(|e| db_error($backend, e))?
                .into_iter()
                .map(rows::registration_token)
                .collect()
            }

            async fn delete_registration_token(&self, id: &str) -> StoreResult<()> {
                let done = sqlx::query("DELETE FROM registration_tokens WHERE id = $1")
                    .bind(id)
                    .execute(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?;
                affected_one(done.rows_affected())
            }
        }
    };
}

impl_registration_tokens!(Postgres, "postgres");
impl_registration_tokens!(Sqlite, "sqlite");
