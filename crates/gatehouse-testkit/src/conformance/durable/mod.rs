//! The durable-store conformance suite: what every adapter of
//! [`DurableStore`](gatehouse_core::store::DurableStore) must do. Each test function takes a
//! fresh, migrated, empty store; [`durable_store_conformance!`](crate::durable_store_conformance)
//! generates one `#[tokio::test]` per function for one adapter.

pub mod audit;
pub mod directory;
pub mod factors;
pub mod grants;
pub mod keys;
pub mod registration;
pub mod requests;
pub mod usage;

use std::future::Future;

use crate::DurableBackend;

/// Runs one conformance test on the store `backend` opens; `None` (a backend this run does not
/// configure, never in CI) skips it with a line on stderr.
pub async fn run<B, F, Fut>(adapter: &str, backend: B, test: F)
where
    B: Future<Output = Option<DurableBackend>>,
    F: FnOnce(DurableBackend) -> Fut,
    Fut: Future<Output = ()>,
{
    match backend.await {
        Some(backend) => test(backend).await,
        None => crate::skipped(adapter, "its backend"),
    }
}

/// Generates the whole durable-store conformance suite for one adapter, as a module `$adapter`
/// with one `#[tokio::test]` per conformance test (e.g. `on_sqlite::rotation_spends_…`).
///
/// `$backend` is an expression of type `impl Future<Output = Option<DurableBackend>>`, evaluated
/// anew in every test, so each test gets a fresh, migrated, empty store: e.g.
/// `gatehouse_testkit::durable_backend(DurableKind::Sqlite)`, or a function of the calling module
/// that wraps one (the generated module sees the caller's items through `use super::*`). `None`
/// skips the test (only where the backend is not configured; never in CI).
///
/// ```ignore
/// gatehouse_testkit::durable_store_conformance!(on_sqlite, durable_backend(DurableKind::Sqlite));
/// ```
///
/// The caller needs `tokio` (with the `macros` and `rt-multi-thread` features) as a
/// dependency of its tests.
#[macro_export]
macro_rules! durable_store_conformance {
    ($adapter:ident, $backend:expr $(,)?) => {
        $crate::__durable_store_conformance!(
            $adapter,
            $backend,
            directory::client_round_trips_and_updates,
            directory::duplicate_client_id_conflicts,
            directory::clients_paginate_in_id_order,
            directory::delete_client_ends_what_was_granted_to_it,
            directory::delete_user_ends_what_the_user_granted,
            directory::missing_rows_are_not_found,
            directory::scope_catalogue_crud,
            directory::scope_claims_round_trip,
            directory::users_round_trip_and_are_found_by_username_ignoring_case,
            directory::users_are_found_by_email_ignoring_case_in_id_order,
            directory::user_metadata_round_trips,
            directory::users_import_all_or_nothing_and_skip_taken_ones,
            directory::duplicate_username_conflicts_ignoring_case,
            directory::users_are_searched_and_paginated,
            grants::consents_upsert_list_and_delete,
            grants::rotation_spends_the_old_token_and_stores_the_successor,
            grants::a_bound_family_keeps_its_key_through_rotation,
            grants::session_claims_round_trip_and_survive_rotation,
            grants::reusing_a_rotated_token_revokes_the_family,
            grants::concurrent_rotation_of_one_token_rotates_exactly_once,
            grants::expired_revoked_and_unknown_tokens_do_not_rotate,
            grants::families_are_revoked_by_id_and_by_subject,
            grants::families_are_revoked_by_client,
            grants::expired_tokens_are_purged_in_batches,
            keys::signing_keys_lifecycle,
            keys::ping_names_the_backend_and_migrations_are_idempotent,
            registration::registration_tokens_lifecycle,
            registration::concurrent_uses_never_exceed_max_uses,
            requests::registration_requests_round_trip_and_update_with_a_status_guard,
            requests::registration_requests_are_filtered_searched_and_paged,
            requests::concurrent_secret_reveals_claim_exactly_once,
            requests::logos_round_trip,
            usage::usage_adds_up_per_client_from_a_day_on,
            usage::deleting_a_client_forgets_its_usage,
            directory::user_roles_round_trip_and_filter_lists,
            audit::audit_events_round_trip_newest_first,
            audit::audit_events_are_filtered,
            audit::audit_events_paginate_through_ties,
            factors::factors_are_confirmed_once_and_abandoned_enrolments_replaced,
            factors::a_step_is_used_once_and_never_an_earlier_one,
            factors::recovery_codes_are_replaced_used_once_and_go_with_the_last_factor,
            factors::deleting_a_user_deletes_their_factors_and_codes,
            factors::passkeys_are_found_by_credential_id_which_is_unique,
            factors::a_passkeys_sealed_secret_is_replaced_only_for_its_user,
        );
    };
}

/// The expansion of [`durable_store_conformance!`]; not to be called directly.
#[doc(hidden)]
#[macro_export]
macro_rules! __durable_store_conformance {
    ($adapter:ident, $backend:expr, $($module:ident :: $test:ident),* $(,)?) => {
        mod $adapter {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::conformance::durable::run(
                        concat!(module_path!(), "::", stringify!($test)),
                        $backend,
                        $crate::conformance::durable::$module::$test,
                    )
                    .await;
                }
            )*
        }
    };
}
