//! One application's conversation inside a meeting, its invitation, and what it started
//! from there (participant invitations, the messaging modality and its messages).

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

/// The API surface an application speaks (docs/protocol.md, Rel namespace).
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

/// UCWA `ConversationState`, restricted to the states our conversations go through.
/// Between commands a session is `Incoming` (invited, not answered), `Connecting` (a
/// two-party call not yet answered), `Connected` (two-party), `InLobby`, `Conferenced` or
/// `Disconnected`; `Conferencing` only appears in notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConversationState {
    Incoming,
    Connecting,
    Connected,
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

/// Only the states the TAP SDK understands on completion (docs/protocol.md,
/// onlineMeetingInvitation): why a join failed is
/// told by `Invitation::reason`, never by `Declined` / `Cancelled` states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvitationState {
    Connecting,
    Connected,
    Failed,
}

/// Which operation resource a session's own invitation is: a meeting join or invitation
/// (`onlineMeetingInvitation`) or a two-party IM call (`messagingInvitation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvitationKind {
    #[default]
    OnlineMeeting,
    Messaging,
}

/// The state of a modality of one conversation (UCWA `ModalityState`, the values messaging uses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModalityState {
    #[default]
    Disconnected,
    Connecting,
    Connected,
}

/// Non-JSON content carried as a data URI (first messages, custom content, IM text). It is
/// data only: HTML is passed on exactly as sent and never rendered or interpreted here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// `text/plain`, `text/html`, or (custom content) whatever the inviter gave.
    pub mime: String,
    pub text: String,
}

impl Content {
    pub fn new(mime: impl Into<String>, text: impl Into<String>) -> Self {
        Self { mime: mime.into(), text: text.into() }
    }

    pub fn is_html(&self) -> bool {
        self.mime.eq_ignore_ascii_case("text/html")
    }
}

/// How an incoming invitation reached this session: which outgoing invitation rings it,
/// who sent it, and until when it rings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ring {
    /// The outgoing invitation: a `ParticipantInvitation` id of the inviter's session, or the
    /// inviter session's own (two-party `messagingInvitation`) invitation id.
    pub offer: String,
    pub inviter: SessionId,
    /// The inviter as it was when inviting (rendered as `from` even after it left).
    pub from: Identity,
    pub deadline_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Importance {
    Normal,
    Urgent,
    Emergency,
    NonUrgent,
}

/// An asynchronous reason (docs/protocol.md, errors: the table of
/// asynchronous reasons).
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
    /// the deletion (docs/protocol.md, errors).
    pub fn ejected() -> Self {
        Self::new("Informational", "Ejected", "The participant was removed from the conference.")
    }

    /// The invitee declined (its own invitation).
    pub fn declined() -> Self {
        Self::new("LocalFailure", "Declined", "The invitation was declined.")
    }

    /// The invitee declined (the inviter's invitation; as recorded in the wild).
    pub fn remote_declined() -> Self {
        Self::new("RemoteFailure", "Declined", "Your invitation was declined.")
    }

    /// Nobody answered the incoming invitation in time (the invitee's copy).
    pub fn missed() -> Self {
        Self::new("Timeout", "Missed", "The invitation was not answered in time.")
    }

    /// Nobody answered in time (the inviter's invitation).
    pub fn unanswered() -> Self {
        Self::new("Timeout", "Timeout", "The invitation was not answered in time.")
    }

    /// The inviter withdrew the invitation (cancelled it or left) before it was answered.
    pub fn withdrawn() -> Self {
        Self::new("RemoteFailure", "Canceled", "The inviter canceled the invitation.")
    }

    /// Another application of the same user answered first.
    pub fn answered_elsewhere() -> Self {
        Self::new("RemoteFailure", "Canceled", "The invitation was answered on another application.")
    }

    /// The invited user has no application signed in and available.
    pub fn unreachable() -> Self {
        Self::new("RemoteFailure", "TemporarilyUnavailable", "The invited user has no application signed in.")
    }

    /// The other party of a two-party conversation left it.
    pub fn remote_left() -> Self {
        Self::new("RemoteFailure", "Ended", "The other participant left the conversation.")
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
    /// (docs/protocol.md, ms:rtc:saas:application). The caller maps `TrustedParticipant` to `Identity::trusted`.
    pub local_participant_type: Option<String>,
    pub kind: InvitationKind,
    /// The invitation's target URI (two-party calls).
    pub to: Option<String>,
    /// The first message sent with the invitation.
    pub message: Option<Content>,
    /// Custom content the joiner attaches (Trusted Application API `customContent`).
    pub custom_content: Option<Content>,
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
            kind: InvitationKind::OnlineMeeting,
            to: None,
            message: None,
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
    /// Set when the invitation failed.
    pub reason: Option<Reason>,
    #[serde(default)]
    pub kind: InvitationKind,
    #[serde(default)]
    pub to: Option<String>,
    /// The first message of the invitation (incoming: the inviter's; outgoing: our own).
    #[serde(default)]
    pub message: Option<Content>,
    /// Custom content the inviter (incoming) or the joiner (Trusted Application API) attached.
    #[serde(default)]
    pub custom_content: Option<Content>,
    /// Set on incoming invitations.
    #[serde(default)]
    pub ring: Option<Ring>,
    /// Outgoing two-party calls: the callee session that answered.
    #[serde(default)]
    pub accepted_by: Option<SessionId>,
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
            reason: None,
            kind: request.kind,
            to: request.to,
            message: request.message,
            custom_content: request.custom_content,
            ring: None,
            accepted_by: None,
        }
    }
}

/// What `addParticipant` asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantInvitationRequest {
    /// Chosen by the caller; unique in the meeting.
    pub id: String,
    pub operation_id: Option<String>,
    /// The invited user's SIP URI.
    pub to: String,
    pub subject: Option<String>,
    pub importance: Importance,
    pub message: Option<Content>,
    pub custom_content: Option<Content>,
}

/// The inviter's `participantInvitation` operation resource (docs/protocol.md,
/// participantInvitation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantInvitation {
    pub id: String,
    pub operation_id: Option<String>,
    pub to: String,
    pub subject: Option<String>,
    pub importance: Importance,
    pub message: Option<Content>,
    pub custom_content: Option<Content>,
    pub state: InvitationState,
    pub reason: Option<Reason>,
    /// The invitee's session that accepted, once it is in the roster.
    pub accepted_by: Option<SessionId>,
}

/// The `messagingInvitation` an `addMessaging` started in a meeting conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModalityOperation {
    pub operation_id: Option<String>,
    pub state: InvitationState,
}

/// A message the session sent, kept so its `message` operation resource answers GET.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    pub id: String,
    pub operation_id: Option<String>,
    pub at_ms: i64,
}

/// The participant key of an address: a SIP URI without its `sip:` scheme
/// (`sip:alice@example.com` → `alice@example.com`); any other URI (`tel:+14255550100`) whole.
pub fn address_key(uri: &str) -> String {
    match uri.get(..4) {
        Some(scheme) if scheme.eq_ignore_ascii_case("sip:") => uri[4..].to_owned(),
        _ => uri.to_owned(),
    }
}

/// A session shown as typing (`setIsTyping`): until when, and whom it was announced to
/// (they, and only they, are told when it stops).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typing {
    pub until_ms: i64,
    pub told: Vec<SessionId>,
}

/// How many sent messages a session keeps for GET; older ones answer 404.
pub const SENT_MESSAGES_KEPT: usize = 20;

/// One application's conversation in the meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub app_id: String,
    pub identity: Identity,
    /// How hrefs name this session's participant (`participants/{key}`): its address
    /// (`alice@example.com`, `tel:+14255550100`, a guest's `<id>@anonymous.invalid`), as
    /// Microsoft's servers named participants, made unique in the meeting with `~2`, `~3`...
    /// Assigned once, when the session is created. Empty in meetings stored before keys
    /// existed: those participants keep their session id in hrefs.
    #[serde(default)]
    pub participant_key: String,
    pub role: Role,
    pub state: ConversationState,
    /// Set exactly while `InLobby`.
    pub lobby_deadline_ms: Option<i64>,
    pub invitation: Invitation,
    /// Why the meeting ended this conversation (ejected, meeting ended, lobby failure);
    /// `None` while live or after the application left on its own.
    pub disconnect_reason: Option<Reason>,
    /// The messaging modality of this conversation.
    #[serde(default)]
    pub messaging: ModalityState,
    /// The last `addMessaging` operation (meeting conversations).
    #[serde(default)]
    pub messaging_operation: Option<ModalityOperation>,
    /// `addParticipant` operations this session started, oldest first.
    #[serde(default)]
    pub participant_invitations: Vec<ParticipantInvitation>,
    /// The most recent messages sent, oldest first (at most [`SENT_MESSAGES_KEPT`]).
    #[serde(default)]
    pub sent_messages: Vec<SentMessage>,
    /// Set while the session shows as typing.
    #[serde(default)]
    pub typing: Option<Typing>,
}

impl Session {
    /// The kept message this session sent with `operation_id`, if any: a retried
    /// `sendMessage` answers with it instead of sending again.
    pub fn sent_with_operation(&self, operation_id: &str) -> Option<&SentMessage> {
        self.sent_messages.iter().find(|m| m.operation_id.as_deref() == Some(operation_id))
    }

    /// The `operationId` of the operation this session's application started with it (a
    /// join or `startMessaging`); incoming invitations have none of their own. Stores index
    /// it so that a retried request finds the operation it started
    /// ([`crate::Store::find_operation`]).
    pub fn own_operation_id(&self) -> Option<&str> {
        match self.invitation.direction {
            Direction::Outgoing => self.invitation.operation_id.as_deref(),
            Direction::Incoming => None,
        }
    }

    pub fn is_waiting(&self) -> bool {
        self.state == ConversationState::InLobby
    }

    /// Admitted into the meeting (or connected to the other party of a two-party
    /// conversation): the session has a roster and belongs to it.
    pub fn in_roster(&self) -> bool {
        matches!(self.state, ConversationState::Conferenced | ConversationState::Connected)
    }

    /// An incoming invitation that has not been answered yet.
    pub fn is_ringing(&self) -> bool {
        self.state == ConversationState::Incoming && self.invitation.state == InvitationState::Connecting
    }

    /// Receives meeting messages: in the roster with messaging connected.
    pub fn receives_messages(&self) -> bool {
        self.in_roster() && self.messaging == ModalityState::Connected
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
