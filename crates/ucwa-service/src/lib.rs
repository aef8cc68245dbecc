//! OpenUCWA's use cases, free of HTTP: what the server does when a client signs in,
//! creates an application, joins a meeting, waits in or rules over a lobby, invites,
//! messages, schedules meetings or acts as a Trusted Application API service application;
//! the event channel; and the background work (housekeeping and callback delivery).
//!
//! Everything hangs off [`Services`], which holds the store, the clock, the limits, the
//! caches and the meeting engine. The server (`ucwa-server`) parses a request, calls one
//! method here and renders what it returns; every failure is a [`ServiceError`] that it
//! maps to a UCWA error body in one place. Use cases take validated-on-the-spot input as a
//! [`PropertyBag`](ucwa_proto::input::PropertyBag) (case-insensitive, from a JSON body and
//! the query) and name each bad parameter in their error.
//!
//! # Layout
//! One module per domain, each adding methods to [`Services`]:
//! - [`tokens`]: sign-in (password, anonymous meeting grant, client credentials), bearer
//!   token lookup with its cache, the sign-in rate limit, password hashing.
//! - [`applications`]: create, read, delete, `makeMeAvailable`, `reportMyActivity`.
//! - [`meetings`]: `myOnlineMeetings` (schedule, list, update, delete) and the one
//!   [`is_joinable`](meetings::is_joinable) rule.
//! - [`join`]: `joinOnlineMeeting` / `startOnlineMeeting`.
//! - [`operations`]: idempotent retries of operations by their `operationId`.
//! - [`conversations`]: a conversation and its roster, lobby and participant actions.
//! - [`invitations`]: `addParticipant`, accepting, declining and cancelling invitations.
//! - [`messaging`]: `startMessaging`, `addMessaging`, messages, `stopMessaging`.
//! - [`people`]: presence, note and location; contacts, search, presence subscriptions.
//! - [`service_apps`]: the Trusted Application API (`adhocMeetings`, service joins).
//! - [`anonymous`]: `anonApplicationTokens` and the applications of `psat` guests.
//! - [`admin`]: what the command line does (`user add`, `service-app add`).
//! - [`events`]: the long-poll event channel.
//! - [`engine`]: the meeting engine (one command at a time per meeting, events written with
//!   the state in one transaction); [`render`] and [`urls`] turn meetings into UCWA
//!   resources and events and build their hrefs.
//! - [`housekeeping`], [`retention`], [`callbacks`], [`supervise`]: background tasks and
//!   their supervisor; retention deletes what finished long ago.
//! - [`validate`]: input rules several use cases share.
//! - [`metrics`]: what the use cases count and time for operators.

pub mod admin;
pub mod anonymous;
pub mod applications;
pub mod callbacks;
pub mod conversations;
pub mod engine;
pub mod error;
pub mod events;
pub mod housekeeping;
pub mod invitations;
pub mod join;
pub mod limits;
pub mod meetings;
pub mod messaging;
pub mod metrics;
pub mod operations;
pub mod people;
pub mod render;
pub mod retention;
pub mod service_apps;
pub mod supervise;
pub mod tokens;
pub mod urls;
pub mod validate;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use ucwa_core::DynStore;
use ucwa_core::channel::ChannelLimits;
use ucwa_core::clock::DynClock;

pub use crate::callbacks::{CallbackTransport, DynTransport};
pub use crate::error::{ServiceError, ServiceResult};
pub use crate::limits::Limits;
pub use crate::metrics::Metrics;

use crate::applications::RenderedApplications;
use crate::callbacks::DeliveryProgress;
use crate::engine::MeetingEngine;
use crate::events::EventChannels;
use crate::housekeeping::SweepProgress;
use crate::operations::OperationLocks;
use crate::tokens::{Hashing, TokenCache};

/// What [`Services::new`] needs.
pub struct ServiceOptions {
    pub store: DynStore,
    pub clock: DynClock,
    pub limits: Limits,
    /// How callbacks reach service applications (HTTP in the server).
    pub transport: DynTransport,
    /// Cancelled when the server stops: releases parked event requests.
    pub shutdown: CancellationToken,
    /// Where the use cases' metrics go ([`Metrics::disabled`] for nowhere).
    pub metrics: Metrics,
}

/// The use cases and what they share. Cheap to clone: one `Arc` around everything.
#[derive(Clone)]
pub struct Services(Arc<Shared>);

pub struct Shared {
    pub store: DynStore,
    pub clock: DynClock,
    pub limits: Limits,
    pub channel_limits: ChannelLimits,
    pub meetings: MeetingEngine,
    pub channels: EventChannels,
    pub tokens: TokenCache,
    /// Serialises the start of operations with an `operationId`, per application.
    pub operation_locks: OperationLocks,
    /// The cap on concurrent password and client-secret checks.
    pub hashing: Hashing,
    pub rendered_apps: RenderedApplications,
    pub transport: DynTransport,
    /// How far housekeeping has got (tests wait on it after moving a manual clock).
    pub sweeps: SweepProgress,
    /// How far callback delivery has got (likewise).
    pub deliveries: DeliveryProgress,
    pub metrics: Metrics,
    /// This process's name among the nodes sharing the database: it holds callback delivery
    /// leases and event-channel claims under it.
    pub node: String,
}

impl std::ops::Deref for Services {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Services {
    pub fn new(options: ServiceOptions) -> Self {
        let limits = options.limits;
        let channel_limits = ChannelLimits {
            timeout_min_s: limits.events_min_timeout_secs,
            hold_min_s: limits.events_min_hold_secs,
            ..ChannelLimits::default()
        };
        let hashing = Hashing::new(limits.hash_concurrency);
        Services(Arc::new(Shared {
            meetings: MeetingEngine::new(
                options.store.clone(),
                options.clock.clone(),
                options.metrics.clone(),
                limits.lobby_timeout_ms(),
            ),
            channels: EventChannels::new(options.shutdown),
            store: options.store,
            clock: options.clock,
            limits,
            channel_limits,
            tokens: TokenCache::default(),
            hashing,
            operation_locks: OperationLocks::default(),
            rendered_apps: RenderedApplications::default(),
            transport: options.transport,
            sweeps: SweepProgress::default(),
            deliveries: DeliveryProgress::default(),
            metrics: options.metrics,
            node: ucwa_core::credentials::new_id(),
        }))
    }

    /// The current time of the injected clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
