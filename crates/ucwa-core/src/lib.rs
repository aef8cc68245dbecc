//! The pure heart of OpenUCWA: domain records, the meeting state machine, the rules of the
//! event channel, credentials, and the [`Store`] port that the storage backends implement.
//!
//! Nothing here performs I/O or reads the clock: time arrives as `now_ms` arguments, so the
//! rules are unit- and property-tested at full speed. The exceptions are the [`doorbell`],
//! an in-process wake-up primitive built on `tokio::sync` that carries no data, and the
//! [`clock`] port with its system and manual implementations.
//!
//! # Layout
//! - [`model`]: users, tokens, applications, stored events.
//! - [`credentials`]: bearer token minting and hashing.
//! - [`conference`]: conference URIs, ids and join URLs.
//! - [`channel`]: event-channel parameters, ack bookkeeping and the release rule.
//! - [`meeting`]: the meeting aggregate (lobby, roster, invitations) as a state machine.
//! - [`service`]: Trusted Application API service applications and their callbacks.
//! - [`store`]: the storage port and its error type.
//! - [`stored`]: the rows both stores keep, and their decoding into the model.
//! - [`doorbell`]: wakes parked event-channel readers after a commit.
//! - [`clock`]: the time port ([`Clock`]): the system clock, and a manual one for tests.

pub mod channel;
pub mod clock;
pub mod conference;
pub mod credentials;
pub mod doorbell;
pub mod meeting;
pub mod model;
pub mod service;
pub mod store;
pub mod stored;

pub use clock::{Clock, DynClock, ManualClock, SystemClock};
pub use doorbell::Doorbell;
pub use store::{DynStore, Store, StoreError};
