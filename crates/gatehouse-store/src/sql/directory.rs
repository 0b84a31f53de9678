//! Clients, the scope catalogue and users: the operator-managed directory.

use async_trait::async_trait;
use gatehouse_core::client::Client;
use gatehouse_core::scope::ScopeDefinition;
use gatehouse_core::store::{
    ClientStore, Page, PageRequest, ScopeStore, StoreResult, UserQuery, UserStore,
};
use gatehouse_core::user::User;
use sqlx::types::Json;
use sqlx::{Postgres, Sqlite};

use super::rows::{
    self, ClientRow, ScopeRow, UserRow, client_columns, scope_columns, user_columns,
};
use super::{SqlStore, affected_one};
use crate::error::db_error;

macro_rules! impl_directory {
    ($db:ty, $backend:literal) => {
        #[async_trait]
        impl ClientStore for SqlStore<$db> {
            async fn create_client(&self, client: &Client) -> StoreResult<()> {
                let (secret_hash, previous_hash, previous_expires_at) = rows::client_secret_columns(client);
                sqlx::query(concat!("INSERT INTO clients (", client_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
                    .bind(client.id.as_str())
                    .bind(&client.incarnation)
                    .bind(Json(&client.metadata))
                    .bind(secret_hash)
                    .bind(previous_hash)
                    .bind(previous_expires_at)
                    .bind(rows::unix(client.created_at))
                    .bind(rows::unix(client.updated_at))
                    .execute(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?;
                Ok(())
            }

            async fn get_client(&self, id: &str) -> StoreResult<Option<Client>> {
                sqlx::query_as::<_, ClientRow>(concat!("SELECT ", client_columns!(), " FROM clients WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?
                    .map(rows::client)
                    .transpose()
            }

            async fn list_clients(&self, page: &PageRequest) -> StoreResult<Page<Client>> {
                let found = sqlx::query_as::<_, ClientRow>(concat!(
                    "SELECT ",
                    client_columns!(),
                    " FROM clients WHERE $1 IS NULL OR id > $1 ORDER BY id LIMIT $2"
                ))
                .bind(page.after.as_deref())
                .bind(rows::limit_plus_one(page.size))
                .fetch_all(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                let items = found.into_iter().map(rows::client).collect::<StoreResult<Vec<_>>>()?;
                Ok(rows::page(items, page.size, |c| c.id.to_string()))
            }

            async fn update_client(&self, client: &Client) -> StoreResult<()> {
                let (secret_hash, previous_hash, previous_expires_at) = rows::client_secret_columns(client);
                let done = sqlx::query(
                    "UPDATE clients SET metadata = $2, secret_hash = $3, previous_secret_hash = $4, \
                     previous_secret_expires_at = $5, updated_at = $6, incarnation = $7 WHERE id = $1",
                )
                .bind(client.id.as_str())
                .bind(Json(&client.metadata))
                .bind(secret_hash)
                .bind(previous_hash)
                .bind(previous_expires_at)
                .bind(rows::unix(client.updated_at))
                .bind(&client.incarnation)
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                affected_one(done.rows_affected())
            }

            /// One transaction: the consents given to the client go, its refresh-token families are
            /// revoked (kept, so a presented token is recognised as revoked), and the client goes.
            async fn delete_client(&self, id: &str) -> StoreResult<()> {
                let mut tx = self.begin_tx().await.map_err(|e| db_error($backend, e))?;
                sqlx::query("DELETE FROM consents WHERE client_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error($backend, e))?;
                // A client registered later under the same id starts its counts afresh.
                sqlx::query("DELETE FROM client_usage WHERE client_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error($backend, e))?;
                sqlx::query("UPDATE refresh_families SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(rows::unix(time::OffsetDateTime::now_utc()))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error($backend, e))?;
                let done = sqlx::query("DELETE FROM clients WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error($backend, e))?;
                affected_one(done.rows_affected())?;
                tx.commit().await.map_err(|e| db_error($backend, e))
            }
        }

        #[async_trait]
        impl ScopeStore for SqlStore<$db> {
            async fn create_scope(&self, scope: &ScopeDefinition) -> StoreResult<()> {
                sqlx::query(concat!("INSERT INTO scopes (", scope_columns!(), ") VALUES ($1, $2, $3, $4, $5)"))
                    .bind(scope.name.as_str())
                    .bind(&scope.label)
                    .bind(&scope.description)
                    .bind(scope.hidden)
                    .bind(scope.claims.join(" "))
                    .execute(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?;
                Ok(())
            }

            async fn get_scope(&self, name: &str) -> StoreResult<Option<ScopeDefinition>> {
                sqlx::query_as::<_, ScopeRow>(concat!("SELECT ", scope_columns!(), " FROM scopes WHERE name = $1"))
                    .bind(name)
                    .fetch_optional(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?
                    .map(rows::scope)
                    .transpose()
            }

            async fn list_scopes(&self) -> StoreResult<Vec<ScopeDefinition>> {
                sqlx::query_as::<_, ScopeRow>(concat!("SELECT ", scope_columns!(), " FROM scopes ORDER BY name"))
                    .fetch_all(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?
                    .into_iter()
                    .map(rows::scope)
                    .collect()
            }

            async fn update_scope(&self, scope: &ScopeDefinition) -> StoreResult<()> {
                let done = sqlx::query("UPDATE scopes SET label = $2, description = $3, hidden = $4, claims = $5 WHERE name = $1")
                    .bind(scope.name.as_str())
                    .bind(&scope.label)
                    .bind(&scope.description)
                    .bind(scope.hidden)
                    .bind(scope.claims.join(" "))
                    .execute(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?;
                affected_one(done.rows_affected())
            }

            async fn delete_scope(&self, name: &str) -> StoreResult<()> {
                let done = sqlx::query("DELETE FROM scopes WHERE name = $1")
                    .bind(name)
                    .execute(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?;
                affected_one(done.rows_affected())
            }
        }

        #[async_trait]
        impl UserStore for SqlStore<$db> {
            async fn create_user(&self, user: &User) -> StoreResult<()> {
                sqlx::query(concat!(
                    "INSERT INTO users (",
                    user_columns!(),
                    ", username_normalized) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ))
                .bind(&user.id)
                .bind(&user.username)
                .bind(user.email.as_deref())
                .bind(user.email_verified)
                .bind(user.name.as_deref())
                .bind(user.picture.as_deref())
                .bind(user.disabled)
                .bind(user.password_hash.as_deref())
                .bind(rows::unix(user.created_at))
                .bind(rows::unix(user.updated_at))
                .bind(gatehouse_core::user::metadata_json(&user.metadata))
                .bind(gatehouse_core::user::roles_column(&user.roles))
                .bind(rows::normalize_username(&user.username))
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                Ok(())
            }

            async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
                sqlx::query_as::<_, UserRow>(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.db())
                    .await
                    .map_err(|e| db_error($backend, e))?
                    .map(rows::user)
                    .transpose()
            }

            async fn get_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
                sqlx::query_as::<_, UserRow>(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE username_normalized = $1"
                ))
                .bind(rows::normalize_username(username))
                .fetch_optional(self.db())
                .await
                .map_err(|e| db_error($backend, e))?
                .map(rows::user)
                .transpose()
            }

            async fn find_users_by_email(&self, email: &str, limit: u32) -> StoreResult<Vec<User>> {
                sqlx::query_as::<_, UserRow>(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE LOWER(email) = LOWER($1) ORDER BY id LIMIT $2"
                ))
                .bind(email)
                .bind(i64::from(limit))
                .fetch_all(self.db())
                .await
                .map_err(|e| db_error($backend, e))?
                .into_iter()
                .map(rows::user)
                .collect()
            }

            /// A role is matched as a whole word of the space-separated `roles` column.
            /// The search folds case in Rust for the needle and with SQL `LOWER` for the email,
            /// which SQLite applies to ASCII letters only; usernames are matched on their stored
            /// normalized form, so they fold fully on both backends.
            async fn list_users(&self, query: &UserQuery, page: &PageRequest) -> StoreResult<Page<User>> {
                let pattern = query.search.as_deref().filter(|s| !s.is_empty()).map(rows::contains_pattern);
                let found = sqlx::query_as::<_, UserRow>(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE ($1 IS NULL OR username_normalized LIKE $1 ESCAPE '\\' \
                     OR LOWER(email) LIKE $1 ESCAPE '\\') AND ($2 IS NULL OR id > $2) \
                     AND ($4 IS NULL OR (' ' || roles || ' ') LIKE $4) ORDER BY id LIMIT $3"
                ))
                .bind(pattern)
                .bind(page.after.as_deref())
                .bind(rows::limit_plus_one(page.size))
                .bind(query.role.map(|r| format!("% {} %", r.as_str())))
                .fetch_all(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                let items = found.into_iter().map(rows::user).collect::<StoreResult<Vec<_>>>()?;
                Ok(rows::page(items, page.size, |u| u.id.clone()))
            }

            async fn update_user(&self, user: &User) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE users SET username = $2, username_normalized = $3, email = $4, email_verified = $5, \
                     name = $6, picture = $7, disabled = $8, password_hash = $9, updated_at = $10, metadata = $11, roles = $12 WHERE id = $1",
                )
                .bind(&user.id)
                .bind(&user.username)
                .bind(rows::normalize_username(&user.username))
                .bind(user.email.as_deref())
                .bind(user.email_verified)
                .bind(user.name.as_deref())
                .bind(user.picture.as_deref())
                .bind(user.disabled)
                .bind(user.password_hash.as_deref())
                .bind(rows::unix(user.updated_at))
                .bind(gatehouse_core::user::metadata_json(&user.metadata))
                .bind(gatehouse_core::user::roles_column(&user.roles))
                .execute(self.db())
                .await
                .map_err(|e| db_error($backend, e))?;
                affected_one(done.rows_affected())
            }

            async fn import_users(&self, users: &[User], dry_run: bool) -> StoreResult<Vec<bool>> {
                let mut tx = self.begin_tx().await.map_err(|e| db_error($backend, e))?;
                let mut created = Vec::with_capacity(users.len());
                for user in users {
                    let done = sqlx::query(concat!(
                        "INSERT INTO users (",
                        user_columns!(),
                        ", username_normalized) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                         ON CONFLICT DO NOTHING"
                    ))
                    .bind(&user.id)
                    .bind(&user.username)
                    .bind(user.email.as_deref())
                    .bind(user.email_verified)
                    .bind(user.name.as_deref())
                    .bind(user.picture.as_deref())
                    .bind(user.disabled)
                    .bind(user.password_hash.as_deref())
                    .bind(rows::unix(user.created_at))
                    .bind(rows::unix(user.updated_at))
                    .bind(gatehouse_core::user::metadata_json(&user.metadata))
                    .bind(gatehouse_core::user::roles_column(&user.roles))
                    .bind(rows::normalize_username(&user.username))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error($backend, e))?;
                    created.push(done.rows_affected() == 1);
                }
                if dry_run {
                    tx.rollback().await.map_err(|e| db_error($backend, e))?;
                } else {
                    tx.commit().await.map_err(|e| db_error($backend, e))?;
                }
                Ok(created)
            }

            /// One transaction: the user's consents go, their refresh-token families are revoked
            /// (kept, so a presented token is recognised as revoked), and the user goes.
            async fn delete_user(&self, id: &str) -> StoreResult<()> {
                let mut tx = self.begin_tx().await.map_err(|e| db_error($backend, e))?;
                sqlx::query("DELETE FROM consents WHERE subject = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error($backend, e))?;
                sqlx::query("UPDATE refresh_families SET revoked_at = $2 WHERE subject = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(rows::unix(time::OffsetDateTime::now_utc()))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error($backend, e))?;
                let done = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| db_error($backend, e))?;
                affected_one(done.rows_affected())?;
                tx.commit().await.map_err(|e| db_error($backend, e))
            }
        }
    };
}

impl_directory!(Postgres, "postgres");
impl_directory!(Sqlite, "sqlite");
