//! An async SDK for UCWA 2.0 and the Trusted Application API: sign in, create an
//! application, follow its event channel, and drive meetings through handles whose state
//! changes arrive as events, without writing HTTP by hand.
//!
//! It is written against the public protocol only: it discovers everything from the server's
//! root URL and follows links, never building a path, so it works against any UCWA server
//! that answers like Microsoft's did (docs/protocol.md says what OpenUCWA answers). Resources
//! are read into the typed wire model of [`ucwa_proto`], the same definitions the server
//! renders with.
//!
//! # A guide
//! ```no_run
//! use ucwa_client::{Client, ConversationChange, Credentials, JoinState, View};
//!
//! # async fn run() -> ucwa_client::Result<()> {
//! // Discovery and sign-in: the root URL is the only address the SDK is given.
//! let client = Client::new("https://ucwa.example.com")?;
//! let session = client.sign_in(Credentials::password("alice@example.com", "secret")).await?;
//! // An application (idempotent per endpoint id), available for invitations.
//! let app = session.application("lobby-bot").await?;
//! app.make_me_available().await?;
//!
//! // Join a meeting by its URI or join URL; the states arrive as the server sends them.
//! let meeting = client.resolve_meeting("https://ucwa.example.com/meet/alice/JE49B6SO").await?;
//! let mut join = app.join_meeting(&meeting).await?;
//! while let Some(state) = join.next_state().await {
//!     match state {
//!         JoinState::InLobby => println!("waiting for a leader"),
//!         JoinState::Failed(why) => println!("failed: {why}"),
//!         other => println!("{other:?}"),
//!     }
//! }
//!
//! // Or wait for the meeting, then admit whoever enters the lobby.
//! let mut conversation = app.join_meeting(&meeting).await?.connected().await?;
//! while let Some(change) = conversation.next_change().await {
//!     if let ConversationChange::Entered { participant, view: View::Lobby } = change {
//!         participant.admit().await?;
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The `examples/` folder has whole programs: `join_and_wait` (a guest waiting to be let
//! in), `lobby_bot` (admits people of allowed domains, turns the rest away after a while) and
//! `echo_bot` (answers instant messages).
//!
//! # The event channel
//! An application has one event channel. Either read it yourself with
//! [`Application::event_stream`] — a [`Stream`](futures_core::Stream) with an exact
//! acknowledgement contract, see [`events`] — or let the handles read it: the first handle
//! that needs events starts a reader task that hands every event to every handle
//! ([`Application::subscribe`]). Both end with a clear error when another reader takes the
//! channel over ([`Error::Replaced`]) or the application is gone ([`Error::ApplicationGone`]).
//!
//! # Tokens and applications
//! Tokens are renewed before they expire (and once more after a `401`) with the credentials
//! given at sign-in; the application, its conversations and its event channel carry on. An
//! application is deleted when the last handle is dropped (in the background, best effort) or
//! with [`Application::delete`]; [`AppOptions::keep_on_drop`] keeps it.
//!
//! # Layout
//! - [`client`]: [`Client`] (discovery, sign-in), [`Credentials`], [`Session`],
//!   [`MeetingAddress`].
//! - [`application`]: [`Application`] and [`AppOptions`].
//! - [`events`]: [`EventStream`], [`Position`], [`ChannelOptions`]; [`hub`]: the fan-out to
//!   handles ([`Notifications`]).
//! - [`join`]: [`Join`] and [`JoinState`]; [`conversation`]: [`Conversation`],
//!   [`Participant`], [`ConversationChange`]; [`incoming`]: invitations and messages that come
//!   in; [`meetings`]: scheduled meetings.
//! - [`service`]: Trusted Application API service applications; [`webhook`]: callback
//!   signatures and the [`CallbackInbox`].
//! - [`error`]: the [`Error`] type.

#![warn(missing_docs)]

pub mod application;
pub mod client;
pub mod conversation;
pub mod error;
pub mod events;
mod http;
pub mod hub;
pub mod incoming;
pub mod join;
pub mod meetings;
pub mod service;
pub mod webhook;

pub use application::{AppOptions, Application};
pub use client::{Client, Credentials, MeetingAddress, Session, USER_AGENT};
pub use conversation::{Conversation, ConversationChange, IncomingMessage, Participant, ParticipantRef, View};
pub use error::{Error, Result};
pub use events::{ChannelEvent, ChannelItem, ChannelOptions, EventStream, Position};
pub use hub::{Notification, Notifications};
pub use incoming::{Incoming, IncomingEvent, IncomingInvitation, InvitationKind};
pub use join::{FailureReason, Join, JoinFailure, JoinState};
pub use meetings::{MeetingLink, Meetings, ScheduledMeeting};
pub use service::{AdhocMeeting, AnonymousToken, ServiceApplication, ServiceJoin};
pub use webhook::{CallbackInbox, SIGNATURE_HEADER, verify_signature};

/// The wire model the SDK reads resources into.
pub use ucwa_proto as proto;
