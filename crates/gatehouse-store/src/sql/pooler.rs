//! Postgres behind a transaction pooler (PgBouncer's `pool_mode = transaction`).
//!
//! A transaction pooler lends a client a server connection for one transaction: as soon as the
//! server reports it idle (a `ReadyForQuery` outside a transaction), the next message may go to
//! another server connection. sqlx runs a statement with arguments in two exchanges, each ended
//! by a `Sync` (`Parse`/`Describe`, then `Bind`/`Execute`), and names the statements it prepares
//! (`sqlx_s_1`, …, counted per client connection). Through a transaction pooler that breaks in
//! two ways: the `Bind` may reach a server connection that never saw the `Parse` ("prepared
//! statement does not exist"), and a name prepared by one client is found again by another on
//! the same server connection ("prepared statement already exists"). PgBouncer before 1.21
//! tracks no prepared statements, so the client must not rely on them.
//!
//! With `pgbouncer=true` in its URL the store therefore:
//! - runs every statement inside a transaction, so both exchanges reach the same server
//!   connection ([`PgTarget`]; the store's own multi-statement transactions already are);
//! - starts every transaction with `DEALLOCATE ALL`, so the statements that an earlier client
//!   (or an aborted transaction) left on that server connection cannot collide with this one's
//!   ([`BEGIN`]);
//! - keeps no statement cache (`statement_cache_capacity(0)`), so no statement is reused in a
//!   later transaction, which may run on another server connection;
//! - sends no `extra_float_digits` start-up parameter, which PgBouncer refuses unless told to
//!   ignore it.
//!
//! The cost is two more round trips per statement (`BEGIN`, `COMMIT`) and a parse each time,
//! which is why it is not the default for a direct connection.

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt as _, TryStreamExt as _};
use sqlx::postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Either, Execute, Executor, Pool, Postgres, SqlStr};

/// The start of every transaction behind a transaction pooler: one round trip.
pub(crate) const BEGIN: &str = "BEGIN; DEALLOCATE ALL";

/// The URL parameter that says the URL names a transaction pooler.
const PARAMETER: &str = "pgbouncer";

/// Splits Gatehouse's own `pgbouncer` parameter off a Postgres URL: the URL for sqlx, and
/// whether it names a transaction pooler. `Err` says what is wrong with the parameter.
pub(crate) fn split_url(url: &str) -> Result<(String, bool), String> {
    let Ok(mut parsed) = url::Url::parse(url) else {
        // sqlx reports what is wrong with it.
        return Ok((url.to_owned(), false));
    };
    let mut pooling = false;
    let mut kept = Vec::new();
    for (key, value) in parsed.query_pairs() {
        if key == PARAMETER {
            pooling = match &*value {
                "true" => true,
                "false" => false,
                other => {
                    return Err(format!(
                        "{PARAMETER}={other:?} is not valid: expected {PARAMETER}=true (the URL \
                         names PgBouncer in transaction pooling mode) or {PARAMETER}=false"
                    ));
                }
            };
        } else {
            kept.push((key.into_owned(), value.into_owned()));
        }
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok((parsed.into(), pooling))
}

/// Where the Postgres store's statements go: straight to the pool, or, behind a transaction
/// pooler, each in a transaction of its own that begins with [`BEGIN`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PgTarget<'p> {
    pool: &'p Pool<Postgres>,
    transaction_pooling: bool,
}

impl<'p> PgTarget<'p> {
    pub(crate) fn new(pool: &'p Pool<Postgres>, transaction_pooling: bool) -> Self {
        Self {
            pool,
            transaction_pooling,
        }
    }
}

impl<'p> Executor<'p> for PgTarget<'p> {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.transaction_pooling {
            return self.pool.fetch_many(query);
        }
        let pool = self.pool;
        // The results are collected before the transaction ends: the store's queries return
        // few rows, and a stream cannot outlive the transaction it reads.
        stream::once(async move {
            let mut tx = pool.begin_with(BEGIN).await?;
            let results: Vec<_> = (&mut *tx).fetch_many(query).try_collect().await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(stream::iter(results.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.transaction_pooling {
            return self.pool.fetch_optional(query);
        }
        let pool = self.pool;
        Box::pin(async move {
            let mut tx = pool.begin_with(BEGIN).await?;
            let row = (&mut *tx).fetch_optional(query).await?;
            tx.commit().await?;
            Ok(row)
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_parameter_is_taken_off_the_url() {
        assert_eq!(
            split_url("postgres://u:p@h:6432/db?pgbouncer=true").unwrap(),
            ("postgres://u:p@h:6432/db".to_owned(), true)
        );
        assert_eq!(
            split_url("postgres://h/db?sslmode=require&pgbouncer=false&application_name=x")
                .unwrap(),
            (
                "postgres://h/db?sslmode=require&application_name=x".to_owned(),
                false
            )
        );
        assert_eq!(
            split_url("postgres://h/db").unwrap(),
            ("postgres://h/db".to_owned(), false)
        );
    }

    #[test]
    fn a_bad_value_is_refused_by_name() {
        let err = split_url("postgres://h/db?pgbouncer=yes").unwrap_err();
        assert!(err.contains("pgbouncer=\"yes\""), "{err}");
        assert!(err.contains("pgbouncer=true"), "{err}");
    }
}
