//! Signing keys, and the `DurableStore` umbrella trait.

use async_trait::async_trait;
use gatehouse_core::store::{DurableStore, SigningKeyRecord, SigningKeyStore, StoreResult};
use sqlx::{Postgres, Sqlite};
use time::OffsetDateTime;

use super::rows::{self, SigningKeyRow, signing_key_columns};
use super::{SqlStore, affected_one};
use crate::error::db_error;

macro_rules! impl_keys {
    ($db:ty, $backend:literal) => {
        #[async_trait]
        impl SigningKeyStore for SqlStore<$db> {
            async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
                sqlx::query(concat!(
                    "INSERT INTO signing_keys (",
                    signing_key_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6)"
                ))
                .bind(&key.kid)
                .bind(&key.alg)
                .bind(&key.encrypted_private_key)
                .bind(&key.public_jwk)
                .bind(rows::unix(key.created_at))
                .bind(rows::unix_opt(key.retired_at))
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(())
            }

            async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
                sqlx::query_as::<_, SigningKeyRow>(concat!(
                    "SELECT ",
                    signing_key_columns!(),
                    " FROM signing_keys ORDER BY created_at DESC, kid DESC"
                ))
                .fetch_all(self.db())
                .await
                .map_err(|e| db_error($backend, e))?
                .into_iter()
                .map(rows::signing_key)
                .collect()
            }

            async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> StoreResult<()> {
                let done = sqlx::query("UPDATE signing_keys SET retired_at = $2 WHERE kid = $1")
                    .bind(kid)
                    .bind(rows::unix(at))
                    .execute(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?;
                affected_one(done.rows_affected())
            }

            async fn delete_signing_key(&self, kid: &str) -> StoreResult<()> {
                let done = sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
                    .bind(kid)
                    .execute(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?;
                affected_one(done.rows_affected())
            }
        }

        #[async_trait]
        impl DurableStore for SqlStore<$db> {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1")
                    .execute(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?;
                Ok(())
            }
        }
    };
}

impl_keys!(Postgres, "postgres");
impl_keys!(Sqlite, "sqlite");
