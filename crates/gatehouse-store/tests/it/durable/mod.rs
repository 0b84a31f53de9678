//! The durable-store conformance suite. Each test function takes a fresh, migrated, empty store
//! and is generated once per backend by `durable_tests!` (e.g. `durable::on_postgres::rotation`).

mod directory;
mod grants;
mod keys;

use std::future::Future;

use gatehouse_testkit::{DurableBackend, DurableKind};

async fn run<F, Fut>(kind: DurableKind, test: F)
where
    F: FnOnce(DurableBackend) -> Fut,
    Fut: Future<Output = ()>,
{
    match gatehouse_testkit::durable_backend(kind).await {
        Some(backend) => test(backend).await,
        None => eprintln!("skipped: {} is not configured", kind.name()),
    }
}

macro_rules! durable_tests {
    ($($tests:tt)*) => {
        durable_tests_for!(on_sqlite, DurableKind::Sqlite, $($tests)*);
        durable_tests_for!(on_postgres, DurableKind::Postgres, $($tests)*);
    };
}

macro_rules! durable_tests_for {
    ($kind_mod:ident, $kind:expr, $($module:ident :: $test:ident),* $(,)?) => {
        mod $kind_mod {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    run($kind, $module::$test).await;
                }
            )*
        }
    };
}

durable_tests!(
    directory::client_round_trips_and_updates,
    directory::duplicate_client_id_conflicts,
    directory::clients_paginate_in_id_order,
    directory::delete_client_ends_what_was_granted_to_it,
    directory::delete_user_ends_what_the_user_granted,
    directory::missing_rows_are_not_found,
    directory::scope_catalogue_crud,
    directory::users_round_trip_and_are_found_by_username_ignoring_case,
    directory::duplicate_username_conflicts_ignoring_case,
    directory::users_are_searched_and_paginated,
    grants::consents_upsert_list_and_delete,
    grants::rotation_spends_the_old_token_and_stores_the_successor,
    grants::reusing_a_rotated_token_revokes_the_family,
    grants::concurrent_rotation_of_one_token_rotates_exactly_once,
    grants::expired_revoked_and_unknown_tokens_do_not_rotate,
    grants::families_are_revoked_by_id_and_by_subject,
    grants::expired_tokens_are_purged_in_batches,
    keys::signing_keys_lifecycle,
    keys::ping_names_the_backend_and_migrations_are_idempotent,
);
