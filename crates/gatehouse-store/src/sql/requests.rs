//! Partners' registration requests and their uploaded logos.

use async_trait::async_trait;
use gatehouse_core::registration_request::{
    Logo, RegistrationRequest, RegistrationRequestQuery, RequestStatus,
};
use gatehouse_core::store::{
    LogoStore, Page, PageRequest, RegistrationRequestStore, StoreError, StoreResult,
};
use sqlx::{Postgres, Sqlite};

use super::SqlStore;
use super::rows::{self, RegistrationRequestRow, registration_request_columns};
use crate::error::db_error;

/// The page key of a request: its `created_at` and id, which order the list.
fn page_key(request: &RegistrationRequest) -> String {
    format!("{}.{}", rows::unix(request.created_at), request.id)
}

/// Reads a page key back; a key this store did not write is `None` (the first page).
fn parse_page_key(key: Option<&str>) -> (Option<i64>, Option<String>) {
    key.and_then(|k| k.split_once('.'))
        .and_then(|(at, id)| at.parse::<i64>().ok().map(|at| (at, id.to_owned())))
        .map_or((None, None), |(at, id)| (Some(at), Some(id)))
}

macro_rules! impl_requests {
    ($db:ty, $backend:literal) => {
        #[async_trait]
        impl RegistrationRequestStore for SqlStore<$db> {
            async fn create_registration_request(
                &self,
                request: &RegistrationRequest,
            ) -> StoreResult<()> {
                sqlx::query(concat!(
                    "INSERT INTO registration_requests (",
                    registration_request_columns!(),
                    ", search_text) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ))
                .bind(&request.id)
                .bind(&request.owner)
                .bind(request.status.as_str())
                .bind(rows::app_json(&request.app)?)
                .bind(&request.review_reason)
                .bind(&request.reviewed_by)
                .bind(request.client_id.as_ref().map(|c| c.as_str()))
                .bind(request.secret_revealed)
                .bind(rows::unix(request.created_at))
                .bind(rows::unix(request.updated_at))
                .bind(rows::request_search_text(&request.app))
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(())
            }

            async fn get_registration_request(
                &self,
                id: &str,
            ) -> StoreResult<Option<RegistrationRequest>> {
                sqlx::query_as::<_, RegistrationRequestRow>(concat!(
                    "SELECT ",
                    registration_request_columns!(),
                    " FROM registration_requests WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.db())
                .await
                .map_err(|e| db_error($backend, e))?
                .map(rows::registration_request)
                .transpose()
            }

            async fn list_registration_requests(
                &self,
                query: &RegistrationRequestQuery,
                page: &PageRequest,
            ) -> StoreResult<Page<RegistrationRequest>> {
                let pattern = query
                    .search
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .map(rows::contains_pattern);
                let (after_at, after_id) = parse_page_key(page.after.as_deref());
                let found = sqlx::query_as::<_, RegistrationRequestRow>(concat!(
                    "SELECT ",
                    registration_request_columns!(),
                    " FROM registration_requests \
                     WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR owner = $2) \
                       AND ($3 IS NULL OR search_text LIKE $3 ESCAPE '\\') \
                       AND ($4 IS NULL OR created_at > $4 OR (created_at = $4 AND id > $5)) \
                     ORDER BY created_at, id LIMIT $6"
                ))
                .bind(query.status.map(RequestStatus::as_str))
                .bind(query.owner.as_deref())
                .bind(pattern)
                .bind(after_at)
                .bind(after_id)
                .bind(rows::limit_plus_one(page.size))
                .fetch_all(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                let items = found
                    .into_iter()
                    .map(rows::registration_request)
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(rows::page(items, page.size, page_key))
            }

            async fn update_registration_request(
                &self,
                request: &RegistrationRequest,
                expected: RequestStatus,
            ) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE registration_requests SET owner = $2, status = $3, app = $4, \
                     review_reason = $5, reviewed_by = $6, client_id = $7, updated_at = $8, \
                     search_text = $9 WHERE id = $1 AND status = $10",
                )
                .bind(&request.id)
                .bind(&request.owner)
                .bind(request.status.as_str())
                .bind(rows::app_json(&request.app)?)
                .bind(&request.review_reason)
                .bind(&request.reviewed_by)
                .bind(request.client_id.as_ref().map(|c| c.as_str()))
                .bind(rows::unix(request.updated_at))
                .bind(rows::request_search_text(&request.app))
                .bind(expected.as_str())
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                let exists: Option<String> =
                    sqlx::query_scalar("SELECT id FROM registration_requests WHERE id = $1")
                        .bind(&request.id)
                        .fetch_optional(self.db())
                        .await
                        .map_err(|e| db_error($backend, e))?;
                Err(if exists.is_some() {
                    StoreError::Conflict
                } else {
                    StoreError::NotFound
                })
            }

            async fn claim_secret_reveal(&self, id: &str) -> StoreResult<bool> {
                // One statement: racing claims queue on the row lock, and each re-checks the
                // flag the previous one left.
                let done = sqlx::query(
                    "UPDATE registration_requests SET secret_revealed = TRUE \
                     WHERE id = $1 AND status = 'approved' AND secret_revealed = FALSE",
                )
                .bind(id)
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_secret_reveal(&self, id: &str) -> StoreResult<()> {
                sqlx::query("UPDATE registration_requests SET secret_revealed = FALSE WHERE id = $1")
                    .bind(id)
                    .execute(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?;
                Ok(())
            }
        }

        #[async_trait]
        impl LogoStore for SqlStore<$db> {
            async fn put_logo(&self, id: &str, content_type: &str, bytes: &[u8]) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO logos (id, content_type, bytes, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(content_type)
                .bind(bytes)
                .bind(rows::unix(time::OffsetDateTime::now_utc()))
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(())
            }

            async fn get_logo(&self, id: &str) -> StoreResult<Option<Logo>> {
                let found: Option<(String, Vec<u8>)> =
                    sqlx::query_as("SELECT content_type, bytes FROM logos WHERE id = $1")
                        .bind(id)
                        .fetch_optional(self.db())
                        .await
                        .map_err(|e| db_error($backend, e))?;
                Ok(found.map(|(content_type, bytes)| Logo {
                    content_type,
                    bytes,
                }))
            }
        }
    };
}

impl_requests!(Postgres, "postgres");
impl_requests!(Sqlite, "sqlite");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_keys_round_trip_and_foreign_keys_start_over() {
        assert_eq!(
            parse_page_key(Some("17.rr_a.b")),
            (Some(17), Some("rr_a.b".to_owned()))
        );
        assert_eq!(parse_page_key(Some("x.rr_a")), (None, None));
        assert_eq!(parse_page_key(None), (None, None));
    }
}
