//! The store conformance suite: what every implementation of [`ucwa_core::Store`] must do,
//! written once against the trait and run against each backend (SQLite today, PostgreSQL
//! next) with real databases, never mocks.
//!
//! A backend's test file opens a fresh, empty store per case and invokes the macro:
//!
//! ```ignore
//! async fn open() -> Option<ucwa_store_conformance::Subject> {
//!     let dir = tempfile::tempdir().unwrap();
//!     let url = format!("sqlite://{}", dir.path().join("t.db").display());
//!     let store = ucwa_store_sqlite::SqliteStore::open(&url).await.unwrap();
//!     Some(ucwa_store_conformance::Subject::new(std::sync::Arc::new(store), dir))
//! }
//! ucwa_store_conformance::store_conformance!(open);
//! ```
//!
//! It expands to one `#[tokio::test]` per case (multi-threaded, two workers, so the
//! concurrency cases really run in parallel), grouped in one module per area, so each case
//! passes or fails on its own in nextest. The invoking crate needs `tokio` with the `macros`
//! and `rt-multi-thread` features. A factory that returns `None` (a backend whose database
//! is not configured here) makes every case pass with a notice on stderr.
//!
//! Time only ever enters through the `now_ms` arguments of the trait: the cases drive it
//! from [`support::T0`] and never sleep for it.
//!
//! # Layout
//! - [`support`]: records, events and meeting steps the cases (and backend-specific tests)
//!   share.
//! - [`events`]: the event log: sequence numbers, batches, acknowledgement, the doorbell.
//! - [`meetings`]: meeting records, compare-and-swap saves, sessions and deadlines.
//! - [`callbacks`]: service applications' callback routes and outbox.
//! - [`tenant`]: users, tokens, service applications, applications and idle expiry.
//! - [`presence`]: what users publish, presence subscriptions and their watchers, user search.
//! - [`retention`]: what `purge_finished` deletes and what it keeps.

// This crate is a test suite: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod callbacks;
pub mod events;
pub mod meetings;
pub mod presence;
pub mod retention;
pub mod support;
pub mod tenant;

use std::any::Any;
use std::future::Future;

use ucwa_core::DynStore;

/// A fresh, empty store under test, and whatever must live as long as it does (a
/// temporary directory, a scratch database).
pub struct Subject {
    pub store: DynStore,
    _keep: Box<dyn Any + Send>,
}

impl Subject {
    pub fn new(store: DynStore, keep: impl Any + Send) -> Self {
        Self { store, _keep: Box::new(keep) }
    }
}

/// Runs one case on the store `open` gives, then closes it.
pub async fn run<C, F>(open: impl Future<Output = Option<Subject>>, case: C)
where
    C: FnOnce(DynStore) -> F,
    F: Future<Output = ()>,
{
    let Some(subject) = open.await else {
        eprintln!("skipped: this store is not available here");
        return;
    };
    case(subject.store.clone()).await;
    subject.store.close().await;
}

/// Expands to the whole suite, one test per case, each on a store from `$open` (an `async
/// fn() -> Option<Subject>` in scope at the invocation).
#[macro_export]
macro_rules! store_conformance {
    ($open:path) => {
        async fn __store_conformance_open() -> ::std::option::Option<$crate::Subject> {
            $open().await
        }
        $crate::__store_conformance_cases! {
            events: [
                sequence_numbers_are_per_application_and_gap_free,
                concurrent_appends_are_gap_free_and_in_commit_order,
                events_after_pages_in_order,
                events_for_missing_or_expired_applications_are_dropped,
                appending_rings_the_doorbell_after_commit,
                a_saved_batch_is_replayed_until_the_next_acknowledges_it,
                saving_a_batch_releases_only_its_own_ticket,
                a_claim_reads_the_events_after_its_mark,
                only_one_of_racing_batches_is_saved,
                acknowledged_events_are_deleted_in_bounded_chunks,
                a_cleanup_pass_over_many_applications_says_when_it_left_some_out,
            ],
            meetings: [
                a_new_meeting_reads_back_as_stored,
                a_stale_save_loses_and_appends_nothing,
                a_meeting_is_read_again_only_when_its_version_moved,
                a_save_writes_only_the_sessions_that_changed,
                forgotten_sessions_are_deleted,
                a_meeting_is_deleted_only_at_its_version,
                sessions_are_located_and_listed_per_application,
                operations_are_found_by_application_and_operation_id,
                a_second_session_with_the_same_operation_is_refused,
                meetings_are_due_when_a_deadline_passes,
            ],
            callbacks: [
                events_of_a_routed_conversation_go_to_the_outbox_in_order,
                a_meeting_save_fills_the_outbox_in_the_same_transaction,
                due_conversations_are_claimed_oldest_first_by_one_node_at_a_time,
                a_lease_is_renewed_by_its_holder_and_taken_over_once_expired,
                a_pinned_batch_is_sent_again_unchanged_until_delivered,
                conversations_of_full_applications_are_left_out,
                a_delivered_batch_leaves_the_outbox_and_resets_retries,
                giving_up_drops_the_outbox_and_records_the_failure,
                routes_of_ended_conversations_are_purged,
            ],
            tenant: [
                users_are_added_then_replaced,
                service_applications_are_added_then_replaced,
                tokens_are_found_until_they_expire_then_purged,
                a_token_is_found_with_the_application_and_session_a_request_names,
                tokens_of_a_principal_are_revoked,
                quota_usage_counts_active_applications_and_unfinished_meetings,
                an_endpoint_has_one_active_application_per_kind,
                availability_channel_activity_and_deletion,
                idle_applications_expire_except_busy_and_service_ones,
                failed_sign_ins_are_counted_per_key_in_windows,
            ],
            presence: [
                users_are_found_by_name_or_address,
                publications_are_changed_one_part_at_a_time_with_their_events,
                subscriptions_are_capped_listed_extended_and_deleted,
                watchers_are_active_applications_with_a_live_subscription,
            ],
            retention: [
                finished_two_party_conversations_are_purged_after_retention,
                meetings_someone_is_in_are_kept_however_old,
                scheduled_meetings_are_kept_until_expired_for_the_retention_period,
                expired_applications_are_purged_and_active_ones_kept,
                live_sessions_of_ended_applications_are_reported_as_stranded,
                a_purge_step_is_bounded_by_its_limit,
                old_callback_failures_are_purged,
            ],
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    ($($area:ident: [$($case:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $area {
                $(
                    #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        $crate::run(super::__store_conformance_open(), $crate::$area::$case).await;
                    }
                )*
            }
        )*
    };
}
