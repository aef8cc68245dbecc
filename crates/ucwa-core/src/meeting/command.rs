//! What may be asked of a meeting, and why it may be refused.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::session::{Content, Identity, InvitationRequest, ParticipantInvitationRequest, SessionId};

/// A request to the meeting. `actor` is the session acting; `target` the one acted upon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// `joinOnlineMeeting` (or the accept of an incoming invitation): boxed because it is
    /// much larger than the other variants.
    Join(Box<Join>),
    /// A leader admits a lobby participant.
    Admit {
        actor: SessionId,
        target: SessionId,
    },
    /// A leader rejects a lobby participant.
    Reject {
        actor: SessionId,
        target: SessionId,
    },
    /// The joiner cancels its invitation while it is `Connecting`.
    Cancel {
        session: SessionId,
    },
    /// The application deletes its conversation.
    Leave {
        session: SessionId,
    },
    Promote {
        actor: SessionId,
        target: SessionId,
    },
    Demote {
        actor: SessionId,
        target: SessionId,
    },
    Eject {
        actor: SessionId,
        target: SessionId,
    },
    /// Fails every lobby wait, and every incoming invitation nobody answered, whose deadline
    /// is at or before `now_ms`; ends typing that was not renewed in time.
    ExpireLobbies,
    /// `addParticipant`: a roster member invites a user, ringing each of its applications.
    /// On a two-party conversation the conversation first becomes an ad hoc meeting.
    Invite(Box<Invite>),
    /// `startMessaging`: opens a two-party conversation in this (new, empty) meeting and rings
    /// the callee's applications.
    Call(Box<Call>),
    /// The invitee answers its incoming invitation.
    Accept {
        session: SessionId,
    },
    /// The invitee declines; `local_only` (CallDeclineReason `Local`) declines on this
    /// application only, anything else for all of the user's applications.
    Decline {
        session: SessionId,
        local_only: bool,
    },
    /// The inviter cancels a `participantInvitation` that is still `Connecting`.
    CancelParticipantInvitation {
        actor: SessionId,
        invitation: String,
    },
    /// `addMessaging` in a meeting conversation.
    AddMessaging {
        session: SessionId,
        operation_id: Option<String>,
    },
    /// `stopMessaging`. Ends a two-party conversation, whose only modality it is.
    StopMessaging {
        session: SessionId,
    },
    /// `sendMessage`: delivered to every other roster member with messaging connected.
    SendMessage {
        session: SessionId,
        message: MessageRequest,
    },
    /// `setIsTyping`: the session shows as typing to the others for a short while.
    SetTyping {
        session: SessionId,
    },
    /// The meeting was deleted or expired: every live session is disconnected.
    End,
    /// Drops a disconnected session once its resources need no longer answer GET.
    Forget {
        session: SessionId,
    },
}

/// The fields of a join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Join {
    pub session_id: SessionId,
    pub app_id: String,
    pub identity: Identity,
    pub invitation: InvitationRequest,
    /// How long the joiner may wait in the lobby before failing with `Timeout`.
    pub lobby_timeout_ms: u64,
}

/// The fields of an `addParticipant`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub actor: SessionId,
    pub invitation: ParticipantInvitationRequest,
    /// One new session per application of the invited user (none: it fails as unreachable).
    pub invitees: Vec<Invitee>,
    /// How long the invitation rings before failing unanswered.
    pub answer_timeout_ms: u64,
}

/// A session to create for one application of the invited user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitee {
    pub session_id: SessionId,
    pub app_id: String,
    pub identity: Identity,
}

/// The fields of a `startMessaging`: the caller's own session plus the callee's sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub session_id: SessionId,
    pub app_id: String,
    pub identity: Identity,
    /// Kind `Messaging`, direction `Outgoing`, with `to` and an optional first message.
    pub invitation: InvitationRequest,
    pub invitees: Vec<Invitee>,
    pub answer_timeout_ms: u64,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRequest {
    /// Chosen by the caller; the same for the sender's and every receiver's copy.
    pub id: String,
    pub operation_id: Option<String>,
    pub content: Content,
}

impl From<Join> for Command {
    fn from(join: Join) -> Self {
        Command::Join(Box::new(join))
    }
}

/// Why a command was refused. The meeting is unchanged whenever one is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MeetingError {
    /// The actor lacks the capability (HTTP 403).
    #[error("the session may not do this")]
    Forbidden,
    /// No such session, or one hidden from the actor (HTTP 404).
    #[error("no such session in this meeting")]
    NotFound,
    /// The target is not in a state where this applies, e.g. admit after cancel (HTTP 409).
    #[error("the session is not in a state where this applies")]
    Conflict,
    /// The meeting has ended or expired (HTTP 404 `DestinationNotFound` for a join).
    #[error("the meeting has ended")]
    Ended,
}

impl From<Invite> for Command {
    fn from(invite: Invite) -> Self {
        Command::Invite(Box::new(invite))
    }
}
