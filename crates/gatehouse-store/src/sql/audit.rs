//! The audit log: appended by the admin API's audit middleware, read newest first.

use async_trait::async_trait;
use gatehouse_core::audit::{AuditEvent, AuditQuery};
use gatehouse_core::store::{AuditStore, Page, PageRequest, StoreResult};
use sqlx::{Postgres, Sqlite};

use super::SqlStore;
use super::rows::{self, AuditEventRow, audit_event_columns};
use crate::error::db_error;

macro_rules! impl_audit {
    ($db:ty, $backend:literal) => {
        #[async_trait]
        impl AuditStore for SqlStore<$db> {
            async fn record_audit_event(&self, event: &AuditEvent) -> StoreResult<()> {
                sqlx::query(concat!(
                    "INSERT INTO audit_events (",
                    audit_event_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(&event.id)
                .bind(rows::unix(event.at))
                .bind(event.actor.kind.as_str())
                .bind(event.actor.id.as_deref())
                .bind(event.actor.name.as_deref())
                .bind(&event.action)
                .bind(&event.target_kind)
                .bind(event.target_id.as_deref())
                .bind(rows::changes_column(&event.changes))
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(())
            }

            /// Keyset pagination on `(at, id)`, both descending; the page key is `"<at>:<id>"`.
            async fn list_audit_events(
                &self,
                query: &AuditQuery,
                page: &PageRequest,
            ) -> StoreResult<Page<AuditEvent>> {
                let filter = rows::AuditFilter::new(query, page)?;
                let found = sqlx::query_as::<_, AuditEventRow>(concat!(
                    "SELECT ",
                    audit_event_columns!(),
                    " FROM audit_events WHERE \
                     ($1 IS NULL OR actor_kind = $1 OR actor_id = $1 OR actor_name = $1) \
                     AND ($2 IS NULL OR target_kind = $2 OR target_id = $2) \
                     AND ($3 IS NULL OR action = $3) \
                     AND ($4 IS NULL OR action LIKE $4 ESCAPE '\\') \
                     AND ($5 IS NULL OR at >= $5) \
                     AND ($6 IS NULL OR at <= $6) \
                     AND ($7 IS NULL OR at < $7 OR (at = $7 AND id < $8)) \
                     ORDER BY at DESC, id DESC LIMIT $9"
                ))
                .bind(filter.actor)
                .bind(filter.target)
                .bind(filter.action_exact)
                .bind(filter.action_prefix)
                .bind(filter.since)
                .bind(filter.until)
                .bind(filter.after_at)
                .bind(filter.after_id)
                .bind(rows::limit_plus_one(page.size))
                .fetch_all(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                let items = found
                    .into_iter()
                    .map(rows::audit_event)
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(rows::page(items, page.size, rows::audit_page_key))
            }
        }
    };
}

impl_audit!(Postgres, "postgres");
impl_audit!(Sqlite, "sqlite");
