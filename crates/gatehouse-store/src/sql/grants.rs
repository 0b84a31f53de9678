//! What users granted: remembered consents and refresh-token rotation families.

use async_trait::async_trait;
use gatehouse_core::store::{
    Consent, ConsentStore, RefreshToken, RefreshTokenState, RefreshTokenStore, RotateOutcome,
    StoreResult,
};
use sqlx::{Postgres, Sqlite};
use time::OffsetDateTime;

use super::SqlStore;
use super::rows::{
    self, ConsentRow, RefreshRow, RefreshStateRow, consent_columns, refresh_columns,
};
use crate::error::db_error;

/// Why an active-token `UPDATE` matched nothing: `(family_id, rotated_at, family revoked_at)`.
type SpentCheckRow = (String, Option<i64>, Option<i64>);

macro_rules! impl_grants {
    ($db:ty, $backend:literal) => {
        #[async_trait]
        impl ConsentStore for SqlStore<$db> {
            async fn put_consent(&self, consent: &Consent) -> StoreResult<()> {
                sqlx::query(concat!(
                    "INSERT INTO consents (",
                    consent_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (subject, client_id) DO UPDATE SET \
                     scope = excluded.scope, granted_at = excluded.granted_at, expires_at = excluded.expires_at"
                ))
                .bind(&consent.subject)
                .bind(consent.client_id.as_str())
                .bind(consent.scope.to_string())
                .bind(rows::unix(consent.granted_at))
                .bind(rows::unix_opt(consent.expires_at))
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(())
            }

            async fn get_consent(&self, subject: &str, client_id: &str) -> StoreResult<Option<Consent>> {
                sqlx::query_as::<_, ConsentRow>(concat!(
                    "SELECT ",
                    consent_columns!(),
                    " FROM consents WHERE subject = $1 AND client_id = $2"
                ))
                .bind(subject)
                .bind(client_id)
                .fetch_optional(self.db())
                .await
                .map_err(|e| db_error($backend, e))?
                .map(rows::consent)
                .transpose()
            }

            async fn list_consents(&self, subject: &str) -> StoreResult<Vec<Consent>> {
                sqlx::query_as::<_, ConsentRow>(concat!(
                    "SELECT ",
                    consent_columns!(),
                    " FROM consents WHERE subject = $1 ORDER BY granted_at DESC, client_id"
                ))
                .bind(subject)
                .fetch_all(self.db())
                .await
                .map_err(|e| db_error($backend, e))?
                .into_iter()
                .map(rows::consent)
                .collect()
            }

            async fn delete_consent(&self, subject: &str, client_id: &str) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM consents WHERE subject = $1 AND client_id = $2")
                    .bind(subject)
                    .bind(client_id)
                    .execute(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?;
                Ok(done.rows_affected() > 0)
            }
        }

        #[async_trait]
        impl RefreshTokenStore for SqlStore<$db> {
            /// Creates the family row too; an existing family (a retried insert) is kept.
            async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
                let mut tx = self.begin_write().await.map_err(|e| db_error($backend, e))?;
                sqlx::query(
                    "INSERT INTO refresh_families (family_id, client_id, subject, revoked_at, created_at) \
                     VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (family_id) DO NOTHING",
                )
                .bind(&token.family_id)
                .bind(token.client_id.as_str())
                .bind(&token.subject)
                .bind(rows::unix(token.issued_at))
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error($backend, e))?;
                sqlx::query(concat!(
                    "INSERT INTO refresh_tokens (",
                    refresh_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ))
                .bind(&token.token_hash)
                .bind(&token.family_id)
                .bind(token.client_id.as_str())
                .bind(&token.client_incarnation)
                .bind(&token.subject)
                .bind(token.scope.to_string())
                .bind(rows::unix_opt(token.auth_time))
                .bind(rows::unix(token.issued_at))
                .bind(rows::unix(token.expires_at))
                .bind(rows::resources_column(&token.resources))
                .bind(&token.dpop_jkt)
                .bind(rows::session_claims_column(&token.session_claims)?)
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error($backend, e))?;
                tx.commit().await.map_err(|e| db_error($backend, e))
            }

            async fn get_refresh_token(
                &self,
                token_hash: &str,
            ) -> StoreResult<Option<(RefreshToken, RefreshTokenState)>> {
                sqlx::query_as::<_, RefreshStateRow>(concat!(
                    "SELECT ",
                    refresh_columns!(),
                    ", rotated_at, (SELECT f.revoked_at FROM refresh_families f \
                     WHERE f.family_id = refresh_tokens.family_id) FROM refresh_tokens WHERE token_hash = $1"
                ))
                .bind(token_hash)
                .fetch_optional(self.db())
                .await
                .map_err(|e| db_error($backend, e))?
                .map(rows::refresh_token_with_state)
                .transpose()
            }

            /// RFC 9700 §4.14.2 rotation with reuse detection, exactly once under concurrency: the
            /// guarded `UPDATE ... WHERE rotated_at IS NULL` is the single point of decision. On
            /// Postgres a concurrent caller blocks on the row lock and then sees the row already
            /// rotated; on SQLite the write transaction is `IMMEDIATE`, so callers run one by one.
            async fn rotate_refresh_token(
                &self,
                old_hash: &str,
                successor: &RefreshToken,
                now: OffsetDateTime,
            ) -> StoreResult<RotateOutcome> {
                let now = rows::unix(now);
                let mut tx = self.begin_write().await.map_err(|e| db_error($backend, e))?;
                let spent = sqlx::query_as::<_, RefreshRow>(concat!(
                    "UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1 AND rotated_at IS NULL \
                     AND expires_at > $2 AND EXISTS (SELECT 1 FROM refresh_families f \
                     WHERE f.family_id = refresh_tokens.family_id AND f.revoked_at IS NULL) RETURNING ",
                    refresh_columns!()
                ))
                .bind(old_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| db_error($backend, e))?;

                if let Some(spent) = spent {
                    let previous = rows::refresh_token(spent)?;
                    sqlx::query(concat!(
                        "INSERT INTO refresh_tokens (",
                        refresh_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                    ))
                    .bind(&successor.token_hash)
                    .bind(&previous.family_id)
                    .bind(successor.client_id.as_str())
                    .bind(&previous.client_incarnation)
                    .bind(&successor.subject)
                    .bind(successor.scope.to_string())
                    .bind(rows::unix_opt(successor.auth_time))
                    .bind(rows::unix(successor.issued_at))
                    .bind(rows::unix(successor.expires_at))
                    .bind(rows::resources_column(&previous.resources))
                    .bind(&previous.dpop_jkt)
                    .bind(rows::session_claims_column(&previous.session_claims)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error($backend, e))?;
                    tx.commit().await.map_err(|e| db_error($backend, e))?;
                    return Ok(RotateOutcome::Rotated { previous });
                }

                // Nothing was spent: find out why.
                let found = sqlx::query_as::<_, SpentCheckRow>(
                    "SELECT family_id, rotated_at, (SELECT f.revoked_at FROM refresh_families f \
                     WHERE f.family_id = refresh_tokens.family_id) FROM refresh_tokens WHERE token_hash = $1",
                )
                .bind(old_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| db_error($backend, e))?;
                let outcome = match found {
                    None => RotateOutcome::NotFound,
                    Some((_, _, Some(_revoked_at))) => RotateOutcome::Inactive,
                    Some((family_id, Some(_rotated_at), None)) => {
                        // A spent token came back: someone holds a copy. End the whole family.
                        sqlx::query(
                            "UPDATE refresh_families SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
                        )
                        .bind(&family_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| db_error($backend, e))?;
                        RotateOutcome::ReuseDetected { family_id }
                    }
                    // Live family, never rotated: it expired.
                    Some((_, None, None)) => RotateOutcome::Inactive,
                };
                tx.commit().await.map_err(|e| db_error($backend, e))?;
                Ok(outcome)
            }

            async fn revoke_family(&self, family_id: &str) -> StoreResult<bool> {
                let done =
                    sqlx::query("UPDATE refresh_families SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL")
                        .bind(family_id)
                        .bind(rows::unix(OffsetDateTime::now_utc()))
                        .execute(self.db())
                        .await
                        .map_err(|e| db_error($backend, e))?;
                Ok(done.rows_affected() > 0)
            }

            async fn revoke_families_of_client(&self, client_id: &str) -> StoreResult<u64> {
                let done = sqlx::query(
                    "UPDATE refresh_families SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL",
                )
                .bind(client_id)
                .bind(rows::unix(OffsetDateTime::now_utc()))
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(done.rows_affected())
            }

            async fn revoke_families_of(&self, subject: &str, client_id: Option<&str>) -> StoreResult<Vec<String>> {
                sqlx::query_scalar::<_, String>(
                    "UPDATE refresh_families SET revoked_at = $3 WHERE subject = $1 \
                     AND ($2 IS NULL OR client_id = $2) AND revoked_at IS NULL RETURNING family_id",
                )
                .bind(subject)
                .bind(client_id)
                .bind(rows::unix(OffsetDateTime::now_utc()))
                .fetch_all(self.db())
                .await
                .map_err(|e| db_error($backend, e))
            }

            /// One bounded batch, so no lock is held for long; the caller loops while the count
            /// equals `batch`. Families left without any token are dropped in the same bounded way.
            async fn purge_expired_refresh_tokens(&self, now: OffsetDateTime, batch: u32) -> StoreResult<u64> {
                let now = rows::unix(now);
                let batch = i64::from(batch);
                let done = sqlx::query(
                    "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens \
                     WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)",
                )
                .bind(now)
                .bind(batch)
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                sqlx::query(
                    "DELETE FROM refresh_families WHERE family_id IN (SELECT f.family_id FROM refresh_families f \
                     WHERE f.created_at < $1 AND NOT EXISTS (SELECT 1 FROM refresh_tokens t \
                     WHERE t.family_id = f.family_id) LIMIT $2)",
                )
                .bind(now)
                .bind(batch)
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(done.rows_affected())
            }
        }
    };
}

impl_grants!(Postgres, "postgres");
impl_grants!(Sqlite, "sqlite");
