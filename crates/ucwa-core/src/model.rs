//! Records the store keeps: users, tokens, applications and their event log.

use serde_json::Value;

use crate::channel::{ChannelParams, Priority};

/// A local user who signs in with a password (`ucwa-server user add`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct User {
    /// `sip:alice@example.com`, lowercase.
    pub uri: String,
    pub display_name: String,
    /// argon2 PHC string.
    pub password_hash: String,
}

/// Who a bearer token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in user (`grant_type=password`).
    User { uri: String },
    /// An anonymous meeting guest (`grant_type=urn:microsoft.rtc:anonmeeting`): a synthetic
    /// identity that may join exactly one meeting.
    Anonymous { uri: String, meeting_uri: String },
    /// A Trusted Application API service application (`grant_type=client_credentials`):
    /// `uri` is its registered endpoint (`sip:bot@contoso.com`).
    Service { uri: String },
    /// An anonymous guest holding a service application's `psat` token
    /// (`anonApplicationTokens`): bound to one meeting and to the browser origins allowed.
    PsGuest { uri: String, meeting_uri: String, origins: Vec<String> },
}

impl Principal {
    /// The SIP URI the principal acts as.
    pub fn uri(&self) -> &str {
        match self {
            Principal::User { uri }
            | Principal::Anonymous { uri, .. }
            | Principal::Service { uri }
            | Principal::PsGuest { uri, .. } => uri,
        }
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self, Principal::Anonymous { .. } | Principal::PsGuest { .. })
    }

    /// The one meeting an anonymous principal may join.
    pub fn meeting_uri(&self) -> Option<&str> {
        match self {
            Principal::Anonymous { meeting_uri, .. } | Principal::PsGuest { meeting_uri, .. } => Some(meeting_uri),
            _ => None,
        }
    }

    /// The kind of application this principal owns.
    pub fn app_kind(&self) -> AppKind {
        match self {
            Principal::User { .. } | Principal::Anonymous { .. } => AppKind::Ucwa,
            Principal::Service { .. } => AppKind::Service,
            Principal::PsGuest { .. } => AppKind::PsAnon,
        }
    }
}

/// Which surface an application belongs to (docs/protocol.md, Rel namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppKind {
    /// Created by `POST applications` under `/ucwa/oauth/v1` or `/ucwa/anonymous/v1`.
    #[default]
    Ucwa,
    /// The logical per-endpoint application of a service application (`/platformservice`).
    Service,
    /// An anonymous guest's application under `/ucwa/psanon/v1`.
    PsAnon,
}

impl AppKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AppKind::Ucwa => "ucwa",
            AppKind::Service => "service",
            AppKind::PsAnon => "psanon",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ucwa" => Some(AppKind::Ucwa),
            "service" => Some(AppKind::Service),
            "psanon" => Some(AppKind::PsAnon),
            _ => None,
        }
    }
}

/// A stored token: only the SHA-256 of the secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub hash: Vec<u8>,
    pub principal: Principal,
    pub expires_ms: i64,
}

/// What `POST applications` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApplication {
    pub id: String,
    /// The principal's URI; one application per (owner, endpoint id).
    pub owner_uri: String,
    pub anonymous: bool,
    pub display_name: String,
    pub endpoint_id: String,
    pub user_agent: String,
    pub culture: String,
    pub instance_id: Option<String>,
    pub kind: AppKind,
}

/// Lifecycle of an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppStatus {
    Active,
    /// Not polled for longer than the idle limit: answers `410 InactiveApplicationExpired`.
    Expired,
}

/// The last batch the event channel delivered, kept until the client acknowledges it by
/// asking for the next one, so a lost response can be fetched again byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredBatch {
    /// Its `ack` number (0: nothing delivered yet).
    pub no: u64,
    pub body: String,
    /// The highest event sequence number it contains (or contained before it).
    pub max_seq: i64,
}

/// Where an application's event channel stands: the number and highest sequence number of
/// its last [`DeliveredBatch`]. The body is left out: every request reads its application,
/// and only a replay needs the body ([`crate::Store::delivered_batch`]), which can be as
/// large as a batch may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchMark {
    /// The batch's `ack` number (0: nothing delivered yet).
    pub no: u64,
    /// The highest event sequence number it contains (or contained before it).
    pub max_seq: i64,
}

impl DeliveredBatch {
    /// Where the channel stands once this batch is saved.
    pub fn mark(&self) -> BatchMark {
        BatchMark { no: self.no, max_seq: self.max_seq }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: String,
    pub owner_uri: String,
    pub anonymous: bool,
    pub display_name: String,
    pub endpoint_id: String,
    pub user_agent: String,
    pub culture: String,
    pub instance_id: Option<String>,
    pub kind: AppKind,
    pub status: AppStatus,
    /// `makeMeAvailable` was called.
    pub available: bool,
    pub created_ms: i64,
    /// Last event-channel activity, for idle expiry.
    pub last_seen_ms: i64,
    pub channel: ChannelParams,
    pub delivered: BatchMark,
}

/// An event to append to one application's log. `body` is the rendered UCWA event
/// (`{"link":..,"_embedded":..,"type":..}`), already in that application's namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub app_id: String,
    pub priority: Priority,
    pub sender_rel: String,
    pub sender_href: String,
    pub body: Value,
    /// The session (conversation) the event is about, if any: a service application's
    /// conversation with a callback URL receives it as a callback instead of in the log.
    pub conversation: Option<String>,
}

/// An event as read back from the log.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub priority: Priority,
    pub created_ms: i64,
    pub sender_rel: String,
    pub sender_href: String,
    /// The body as stored, JSON text checked but not parsed into a tree: a poll splices it
    /// into its batch as it is, and a fan-out delivers thousands of them.
    pub body: Box<serde_json::value::RawValue>,
}

/// What a user published about itself: the availability it chose, its personal note and its
/// location (`me/presence`, `me/note`, `me/location`). `None`: never set, or reset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Publication {
    /// The PreferredAvailability spelling (`Online`, `Busy`, ..., `Offwork`).
    pub availability: Option<String>,
    pub note: Option<String>,
    pub location: Option<String>,
}

/// One change to a [`Publication`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicationChange {
    Availability(Option<String>),
    Note(Option<String>),
    Location(Option<String>),
}

impl Publication {
    /// This publication with `change` applied.
    pub fn with(mut self, change: &PublicationChange) -> Self {
        match change {
            PublicationChange::Availability(v) => self.availability = v.clone(),
            PublicationChange::Note(v) => self.note = v.clone(),
            PublicationChange::Location(v) => self.location = v.clone(),
        }
        self
    }
}

/// A presence subscription: an application watching some people's presence, note and
/// location until it expires (`people/presenceSubscriptions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceSubscription {
    pub id: String,
    pub app_id: String,
    /// The SIP URIs watched, in the order given.
    pub uris: Vec<String>,
    pub expires_ms: i64,
}

/// A meeting with what the store keeps beside the aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRecord {
    pub meeting: crate::meeting::Meeting,
    /// The https join URL handed out at creation (under the server's public URL then).
    pub join_url: String,
    pub created_ms: i64,
    /// Bumped by every settings change; the `myOnlineMeeting` ETag. Joins and lobby moves do
    /// not change it, so an organizer's PUT is not refused because someone joined.
    pub settings_revision: u64,
    /// Notices of the last command whose events are not appended yet. A command that tells
    /// many sessions is saved twice: first its state with the events of the sessions it
    /// changed (the joiner learns first) and these notices, then the events of everyone
    /// else with this emptied. Empty between commands; after a crash between the two saves,
    /// whoever loads the meeting next renders and appends them before anything else.
    pub pending: Vec<crate::meeting::Notice>,
}
