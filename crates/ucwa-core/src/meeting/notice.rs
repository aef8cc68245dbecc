//! What each session must be told after a command, in order.
//!
//! A notice names a UCWA event and the session whose event channel receives it. It carries
//! only what the renderer cannot read from the meeting afterwards: the conversation state at
//! that moment (one command can pass through `Conferencing` to `Conferenced`), the view a
//! participant entered or left, and reasons on deletions. Everything else (names, roles,
//! capability links, the invitation's reason) is rendered from the meeting after the command.

use serde::{Deserialize, Serialize};

use super::session::{Content, ConversationState, InvitationState, ModalityState, Reason, SessionId};

/// The roster collections of a conversation (`lobby`, `leaders`, `attendees`). The
/// `participants` collection is leaders plus attendees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum View {
    Lobby,
    Leaders,
    Attendees,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The session (conversation) whose application receives the event.
    pub to: SessionId,
    pub kind: NoticeKind,
}

/// One UCWA event. Invitation and conversation events have sender `communication`, the
/// others sender `conversation` (docs/protocol.md, events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoticeKind {
    /// onlineMeetingInvitation `started`; the invitation is `Connecting`.
    InvitationStarted,
    /// onlineMeetingInvitation `updated`, still `Connecting` (sent on entering the lobby).
    InvitationUpdated,
    /// onlineMeetingInvitation `completed`: `Connected` is status Success, `Failed` is status
    /// Failure with the invitation's `reason`.
    InvitationCompleted {
        state: InvitationState,
    },
    ConversationAdded {
        state: ConversationState,
    },
    ConversationUpdated {
        state: ConversationState,
    },
    /// Conversation `deleted`; `Session::disconnect_reason` says why, if the meeting ended it.
    ConversationDeleted,
    LocalParticipantAdded,
    /// The local participant's role, and so its capabilities, changed.
    LocalParticipantUpdated,
    OnlineMeetingAdded,
    /// `subject` entered a view (always named by this state machine): the lobby, or the
    /// roster as a leader or attendee. The first add of a roster member is the one with its
    /// roster view; moves are a delete from the old view followed by an add to the new one.
    ParticipantAdded {
        subject: SessionId,
        in_view: Option<View>,
    },
    /// A property of `subject`, or the receiver's capabilities on it, changed.
    ParticipantUpdated {
        subject: SessionId,
    },
    /// `subject` left a view (`Some`), or left the meeting altogether (`None`). A lobby
    /// participant that is not admitted leaves with a single delete `in` the lobby.
    ParticipantDeleted {
        subject: SessionId,
        in_view: Option<View>,
        reason: Option<Reason>,
    },
    /// participantInvitation `started` (sender `communication`), `Connecting`.
    ParticipantInvitationStarted {
        id: String,
    },
    /// participantInvitation `completed`: status and reason from its state after the command.
    ParticipantInvitationCompleted {
        id: String,
    },
    /// messagingInvitation `started` / `completed` of an `addMessaging` in a meeting.
    MessagingInvitationStarted,
    MessagingInvitationCompleted,
    /// The conversation's `messaging` modality `updated` (sender `conversation`).
    MessagingUpdated {
        state: ModalityState,
    },
    /// `subject` (the receiver itself: `in` localParticipant) now uses messaging.
    ParticipantMessagingAdded {
        subject: SessionId,
    },
    ParticipantMessagingDeleted {
        subject: SessionId,
    },
    /// The sender's own `message` `started` and `completed` (Outgoing, Success).
    MessageStarted {
        message: Message,
    },
    MessageCompleted {
        message: Message,
    },
    /// Another participant's message (one `completed` event, Incoming, Success).
    MessageReceived {
        message: Message,
    },
    /// `subject` started typing: participant `added` `in` typingParticipants.
    TypingStarted {
        subject: SessionId,
    },
    /// `subject` stopped typing (it sent its message, stopped messaging, left, or did not
    /// renew `setIsTyping` in time): participant `deleted` `in` typingParticipants.
    TypingStopped {
        subject: SessionId,
    },
}

/// A message as every copy of it is rendered; carried in the notice because messages are
/// not kept in the meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub sender: SessionId,
    pub operation_id: Option<String>,
    pub content: Content,
    pub at_ms: i64,
}

/// Shorthands for the transitions and tests.
impl NoticeKind {
    pub(crate) fn conversation_updated(state: ConversationState) -> Self {
        Self::ConversationUpdated { state }
    }

    pub(crate) fn completed(state: InvitationState) -> Self {
        Self::InvitationCompleted { state }
    }

    pub(crate) fn added(subject: &str, view: View) -> Self {
        Self::ParticipantAdded { subject: subject.to_owned(), in_view: Some(view) }
    }

    pub(crate) fn updated(subject: &str) -> Self {
        Self::ParticipantUpdated { subject: subject.to_owned() }
    }

    pub(crate) fn deleted(subject: &str, in_view: Option<View>, reason: Option<Reason>) -> Self {
        Self::ParticipantDeleted { subject: subject.to_owned(), in_view, reason }
    }
}

/// Notices in emission order.
#[derive(Debug, Default)]
pub(crate) struct Notices(Vec<Notice>);

impl Notices {
    pub(crate) fn push(&mut self, to: &str, kind: NoticeKind) {
        self.0.push(Notice { to: to.to_owned(), kind });
    }

    pub(crate) fn into_vec(self) -> Vec<Notice> {
        self.0
    }
}
