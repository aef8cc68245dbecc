//! One application's conversation inside a meeting, and its join invitation.

use serde::{Deserialize, Serialize};

/// Chosen by the caller; doubles as the conversation id in hrefs.
pub type SessionId = String;

/// Who a session speaks for, as the caller authenticated it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `sip:alice@contoso.com`, `tel:+14255550100`, or a synthetic URI for anonymous guests.
    pub uri: String,
    pub display_name: String,
    pub anonymous: bool,
    /// A Trusted Application API trusted join (`joinAdhocMeeting`, `TrustedParticipant`): a
    /// hidden Leader that never waits in the lobby and never appears in anyone's roster.
    pub trusted: bool,
    /// The API surface of the application behind the session, which decides how its events
    /// and resources are spelled (rel namespace, href shapes). Defaulted so meetings stored
    /// before service applications existed still load.
    #[serde(default)]
    pub surface: Surface,
}

/// The API surface an application speaks (`ucwa-spec.md` §0.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Surface {
    /// UCWA 2.0: bare rels, under the user or anonymous prefix (by `Identity::anonymous`).
    #[default]
    Ucwa,
    /// An anonymous guest let in by a service application's `psat` token: bare rels under
    /// `/ucwa/psanon/v1`.
    PsAnon,
    /// A Trusted Application API service application: `ms:rtc:saas:` rels, every href
    /// carrying `endpointId`.
    Service { endpoint_id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Leader,
    Attendee,
}

/// UCWA `ConversationState`, restricted to the states a meeting join goes through.
/// Between commands a session is only ever `InLobby`, `Conferenced` or `Disconnected`;
/// the other two appear in notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConversationState {
    Connecting,
    InLobby,
    Conferencing,
    Conferenced,
    Disconnected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Outgoing,
    Incoming,
}

/// Only the states the TAP SDK understands on completion (spec §6.4): why a join failed is
/// told by `Invitation::reason`, never by `Declined` / `Cancelled` states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvitationState {
    Connecting,
    Connected,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Importance {
    Normal,
    Urgent,
    Emergency,
    NonUrgent,
}

/// An asynchronous reason (spec §11.3, mapping of §13.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub subcode: String,
    pub message: String,
}

impl Reason {
    fn new(code: &str, subcode: &str, message: &str) -> Self {
        Self { code: code.to_owned(), subcode: subcode.to_owned(), message: message.to_owned() }
    }

    /// A leader rejected the lobby participant.
    pub fn denied() -> Self {
        Self::new("Forbidden", "Denied", "The lobby participant was denied from the conference.")
    }

    /// Nobody admitted the lobby participant in time.
    pub fn lobby_timeout() -> Self {
        Self::new("Timeout", "Timeout", "Nobody admitted the participant from the lobby in time.")
    }

    /// The joiner cancelled (or deleted its conversation) before being admitted.
    pub fn canceled() -> Self {
        Self::new("LocalFailure", "Canceled", "The invitation was canceled.")
    }

    /// The meeting was deleted or expired.
    pub fn meeting_ended() -> Self {
        Self::new("RemoteFailure", "Ended", "The conference has ended.")
    }

    /// A leader removed the participant. Not a join failure but an informational reason on
    /// the deletion (spec §11.3).
    pub fn ejected() -> Self {
        Self::new("Informational", "Ejected", "The participant was removed from the conference.")
    }
}

/// What the joiner sent with `joinOnlineMeeting`; echoed on the invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationRequest {
    /// Invitation id (for its href), chosen by the caller.
    pub id: String,
    pub operation_id: Option<String>,
    pub direction: Direction,
    pub subject: Option<String>,
    pub importance: Importance,
    pub thread_id: Option<String>,
    pub anonymous_display_name: Option<String>,
    pub local_participant_uri: Option<String>,
    pub local_participant_display_name: Option<String>,
    /// `GatewayParticipant` marks a phone joiner for `lobby_bypass_for_phone_users`
    /// (spec §15.3). The caller maps `TrustedParticipant` to `Identity::trusted`.
    pub local_participant_type: Option<String>,
    /// Trusted Application API `customContent`, kept as a data URI; echoed as a link.
    #[serde(default)]
    pub custom_content: Option<String>,
}

impl InvitationRequest {
    /// An outgoing `Normal` join with nothing else set.
    pub fn outgoing(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            operation_id: None,
            direction: Direction::Outgoing,
            subject: None,
            importance: Importance::Normal,
            thread_id: None,
            anonymous_display_name: None,
            local_participant_uri: None,
            local_participant_display_name: None,
            local_participant_type: None,
            custom_content: None,
        }
    }
}

/// The `onlineMeetingInvitation` operation resource of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: String,
    pub operation_id: Option<String>,
    pub direction: Direction,
    pub state: InvitationState,
    pub subject: Option<String>,
    pub importance: Importance,
    pub thread_id: Option<String>,
    pub anonymous_display_name: Option<String>,
    pub local_participant_uri: Option<String>,
    pub local_participant_display_name: Option<String>,
    pub local_participant_type: Option<String>,
    #[serde(default)]
    pub custom_content: Option<String>,
    /// Set when the invitation failed.
    pub reason: Option<Reason>,
}

impl Invitation {
    pub(crate) fn connecting(request: InvitationRequest) -> Self {
        Self {
            id: request.id,
            operation_id: request.operation_id,
            direction: request.direction,
            state: InvitationState::Connecting,
            subject: request.subject,
            importance: request.importance,
            thread_id: request.thread_id,
            anonymous_display_name: request.anonymous_display_name,
            local_participant_uri: request.local_participant_uri,
            local_participant_display_name: request.local_participant_display_name,
            local_participant_type: request.local_participant_type,
            custom_content: request.custom_content,
            reason: None,
        }
    }
}

/// One application's conversation in the meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub app_id: String,
    pub identity: Identity,
    pub role: Role,
    pub state: ConversationState,
    /// Set exactly while `InLobby`.
    pub lobby_deadline_ms: Option<i64>,
    pub invitation: Invitation,
    /// Why the meeting ended this conversation (ejected, meeting ended, lobby failure);
    /// `None` while live or after the application left on its own.
    pub disconnect_reason: Option<Reason>,
}

impl Session {
    pub fn is_waiting(&self) -> bool {
        self.state == ConversationState::InLobby
    }

    /// Admitted into the meeting: the session has a roster and belongs to it.
    pub fn in_roster(&self) -> bool {
        self.state == ConversationState::Conferenced
    }

    /// In the roster and visible to others (trusted joins are hidden).
    pub fn is_shown(&self) -> bool {
        self.in_roster() && !self.identity.trusted
    }

    /// Holds the leader capabilities (admit, reject, promote, demote, eject), provided it is
    /// in the roster.
    pub fn can_lead(&self) -> bool {
        self.role == Role::Leader || self.identity.trusted
    }

    /// In the roster as a Leader: sees the lobby and may act on others.
    pub fn leads(&self) -> bool {
        self.in_roster() && self.can_lead()
    }

    /// The roster view the session is listed in.
    pub fn view(&self) -> super::View {
        match self.role {
            Role::Leader => super::View::Leaders,
            Role::Attendee => super::View::Attendees,
        }
    }
}
