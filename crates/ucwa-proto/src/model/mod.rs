//! The typed wire model: one definition of every resource and event batch the server sends,
//! shared by the server (which builds them) and clients (which read them), the way ruma's
//! types serve both sides of Matrix.
//!
//! # Shape
//! A resource is a [`Hal<P>`]: typed properties `P` (one struct per kind of resource, e.g.
//! [`Conversation`]) in the HAL envelope of `_links`, `_embedded` and `rel`. Links and embedded
//! resources are keyed by [`Rel`](crate::rel::Rel) and looked up by
//! [`RelName`](crate::rel::RelName), so the same types serve UCWA and the Trusted Application
//! API, whose rels carry the `ms:rtc:saas:` prefix (docs/protocol.md, Rel namespace): the
//! namespace is a property of the resource ([`Hal::ns`]) that spells rels on output, not a
//! second set of types. [`AnyResource`] holds a resource of any kind (what `_embedded` and an
//! event carry), chosen by its `rel`. [`EventBatch`] is the event channel's (and callbacks')
//! body.
//!
//! # Building (server)
//! ```
//! use ucwa_proto::model::{Conversation, Hal};
//! use ucwa_proto::{Namespace, RelName};
//! use ucwa_proto::values::ConversationState;
//!
//! let props = Conversation { state: ConversationState::Conferenced, subject: Some("Weekly".into()),
//!     thread_id: None, importance: None, active_modalities: Some(vec![]), expiration_time: None,
//!     participant_count: Some(2), online_meeting_lobby_status: None };
//! let conversation = Hal::new(Namespace::Saas, RelName::Conversation, "/c/1?endpointId=sip:bot@x.com", props)
//!     .link(RelName::Lobby, "/c/1/lobby?endpointId=sip:bot@x.com");
//! let json = serde_json::to_value(&conversation).unwrap();
//! assert_eq!(json["rel"], "ms:rtc:saas:conversation");
//! assert!(json["_links"]["ms:rtc:saas:lobby"].is_object());
//! ```
//!
//! # Reading (client)
//! ```
//! use ucwa_proto::model::{Conversation, EventBatch, Participant};
//! use ucwa_proto::RelName;
//!
//! let batch: EventBatch = serde_json::from_str(r#"{"_links":{"self":{"href":"/e?ack=2"},"next":{"href":"/e?ack=3"}},
//!   "sender":[{"rel":"conversation","href":"/c/1","events":[{"link":{"rel":"participant","href":"/c/1/participants/2"},
//!   "in":{"rel":"lobby","href":"/c/1/lobby"},"_embedded":{"participant":{"name":"Bob","inLobby":true,
//!   "_links":{"self":{"href":"/c/1/participants/2"},"admit":{"href":"/c/1/participants/2/admit"}},"rel":"participant"}},
//!   "type":"added"}]}]}"#).unwrap();
//! let (_, event) = batch.events().next().unwrap();
//! let bob = event.resource_as::<Participant>().unwrap();
//! assert_eq!(bob.props.name.as_deref(), Some("Bob"));
//! assert_eq!(bob.links.href(RelName::Admit), Some("/c/1/participants/2/admit"));
//! assert_eq!(batch.continuation(), Some("/e?ack=3"));
//! ```
//!
//! # Layout
//! - [`hal`]: the envelope: `Hal`, `Link`, `Links` and `Embedded` (both a `RelMap`).
//! - [`any`]: `AnyResource` and the `Kind` trait.
//! - One module per resource family: [`application`] (application, me, dashboards),
//!   [`communication`], [`invitation`], [`conversation`], [`participant`], [`messaging`],
//!   [`meeting`], [`people`] (presence, notes, contacts, search, subscriptions), [`platform`]
//!   (Trusted Application API entry resources), [`auth`] (token answers).
//! - [`events`]: event batches.

pub mod any;
pub mod application;
pub mod auth;
pub mod communication;
pub mod conversation;
pub mod events;
pub mod hal;
pub mod invitation;
pub mod meeting;
pub mod messaging;
pub mod participant;
pub mod people;
pub mod platform;

pub use any::{AnyResource, Kind};
pub use application::{Application, Dashboard, Me, Policies};
pub use auth::{OAuthError, TokenResponse};
pub use communication::Communication;
pub use conversation::{Conversation, MediaModality};
pub use events::{Event, EventBatch, EventLink, EventType, SenderGroup, Status};
pub use hal::{Embedded, Embeds, Hal, Link, LinkSet, Links, PUT_GUARD_VALUE, RelMap};
pub use invitation::{Invitation, MessagingInvitation, OnlineMeetingInvitation, ParticipantInvitation};
pub use meeting::{
    AdhocMeeting, MeetingProperties, MyOnlineMeeting, OnlineMeeting, OnlineMeetingDefaultValues,
    OnlineMeetingEligibleValues,
};
pub use messaging::{Message, Messaging};
pub use participant::Participant;
pub use people::{Contact, Location, Note, Presence, PresenceSubscription, Search};
pub use platform::{AnonApplicationToken, Discover};
