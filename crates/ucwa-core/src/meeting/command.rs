//! What may be asked of a meeting, and why it may be refused.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::session::{Identity, InvitationRequest, SessionId};

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
    /// Fails every lobby wait whose deadline is at or before `now_ms`.
    ExpireLobbies,
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
