//! The meeting aggregate: lobby, roster and join invitations as a pure state machine.
//!
//! A [`Meeting`] holds one [`Session`] per application conversation in the conference. The
//! server turns each HTTP request (join, admit, cancel, conversation DELETE, ...) or timer into
//! a [`Command`] and calls [`Meeting::handle`], which either refuses it with a
//! [`MeetingError`] and leaves the meeting untouched, or applies it and returns the
//! [`Notice`]s each session must see, in the order it must see them. The server renders those
//! into per-application UCWA events (hrefs, rels, embedded resources) from the meeting as it is
//! after the command, and the store persists the meeting as JSON in the same transaction.
//!
//! Nothing here reads the clock or performs I/O: time is the `now_ms` argument and every id
//! is chosen by the caller, so the same command on the same meeting always gives the same
//! result.
//!
//! # Policy choices
//! - Admission and roles follow spec §10.2 (`policy`); trusted joins are hidden Leaders.
//! - A lobby participant waits until admitted, rejected, cancelled, timed out or the meeting
//!   ends. Leaders leaving (even the organizer or the last leader) do not release or fail the
//!   lobby: waiters keep their deadline, and a leader who joins later sees and can admit them.
//! - When the meeting ends, each session only sees its own conversation end; nobody is told
//!   about the others leaving, since every roster is going away at once.
//!
//! # Layout
//! - `settings`: organizer policy and SIP URI comparisons.
//! - `session`: a session, its identity and its invitation.
//! - `policy`: who waits in the lobby and who leads.
//! - `command`: commands and errors.
//! - `notice`: what the sessions are told.
//! - `lobby` and `roster`: the transitions.
//! - `tests` (trace and policy unit tests) and `proptests` (invariants over random runs).

mod command;
mod lobby;
mod notice;
mod policy;
mod roster;
mod session;
mod settings;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use command::{Command, Join, MeetingError};
pub use notice::{Notice, NoticeKind, View};
pub use session::{
    ConversationState, Direction, Identity, Importance, Invitation, InvitationRequest, InvitationState, Reason, Role,
    Session, SessionId, Surface,
};
pub use settings::{AccessLevel, AutomaticLeaderAssignment, MeetingSettings, Toggle, same_uri, sip_domain};

use notice::Notices;

/// One online meeting (conference) and every application conversation in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    /// The `onlineMeetingId`.
    id: String,
    settings: MeetingSettings,
    sessions: BTreeMap<SessionId, Session>,
    ended: bool,
    /// Incremented by every successful command, for optimistic concurrency in the store.
    version: u64,
}

impl Meeting {
    /// A meeting nobody has joined yet. For an ad hoc meeting the caller makes the joiner the
    /// organizer in `settings`, then sends its [`Command::Join`].
    pub fn new(id: impl Into<String>, settings: MeetingSettings) -> Self {
        Self { id: id.into(), settings, sessions: BTreeMap::new(), ended: false, version: 0 }
    }

    /// Reassembles a meeting from what the store kept (see [`Meeting::sessions`] and the
    /// other accessors): the store keeps one row per session, so a command that changes one
    /// participant rewrites one row, not the whole meeting.
    pub fn restore(
        id: impl Into<String>,
        settings: MeetingSettings,
        sessions: BTreeMap<SessionId, Session>,
        ended: bool,
        version: u64,
    ) -> Self {
        Self { id: id.into(), settings, sessions, ended, version }
    }

    /// Replaces the organizer's settings (`PUT myOnlineMeeting`). They govern joins from now
    /// on; people already in the meeting or its lobby keep their place.
    pub fn update_settings(&mut self, settings: MeetingSettings) -> Result<(), MeetingError> {
        if self.ended {
            return Err(MeetingError::Ended);
        }
        self.settings = settings;
        self.version = self.version.saturating_add(1);
        Ok(())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn settings(&self) -> &MeetingSettings {
        &self.settings
    }

    /// Every session, live or disconnected but not yet forgotten.
    pub fn sessions(&self) -> &BTreeMap<SessionId, Session> {
        &self.sessions
    }

    pub fn session(&self, id: &str) -> Option<&Session> {
        self.sessions.get(id)
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// The earliest lobby deadline, for the store's timer index; the store then sends
    /// [`Command::ExpireLobbies`] at that instant.
    pub fn next_deadline(&self) -> Option<i64> {
        self.sessions.values().filter(|s| s.is_waiting()).filter_map(|s| s.lobby_deadline_ms).min()
    }

    /// Applies `cmd` at `now_ms`. On `Err` the meeting is unchanged; on `Ok` the version has
    /// increased and the notices are in delivery order.
    pub fn handle(&mut self, cmd: Command, now_ms: i64) -> Result<Vec<Notice>, MeetingError> {
        let mut out = Notices::default();
        match cmd {
            Command::Forget { session } => self.forget(&session)?,
            _ if self.ended => return Err(MeetingError::Ended),
            Command::Join(join) => self.join(*join, now_ms, &mut out)?,
            Command::Admit { actor, target } => self.admit(&actor, &target, &mut out)?,
            Command::Reject { actor, target } => self.reject(&actor, &target, &mut out)?,
            Command::Cancel { session } => self.cancel(&session, &mut out)?,
            Command::Leave { session } => self.leave(&session, &mut out)?,
            Command::Promote { actor, target } => self.promote(&actor, &target, &mut out)?,
            Command::Demote { actor, target } => self.demote(&actor, &target, &mut out)?,
            Command::Eject { actor, target } => self.eject(&actor, &target, &mut out)?,
            Command::ExpireLobbies => self.expire_lobbies(now_ms, &mut out),
            Command::End => self.end(&mut out),
        }
        // Saturating: 2^64 commands are out of reach, and overflow must not panic.
        self.version = self.version.saturating_add(1);
        Ok(out.into_vec())
    }

    /// The actor may use leader capabilities.
    fn ensure_leader(&self, actor: &str) -> Result<(), MeetingError> {
        let session = self.sessions.get(actor).ok_or(MeetingError::NotFound)?;
        if session.leads() { Ok(()) } else { Err(MeetingError::Forbidden) }
    }

    /// The target as the actor can see it: hidden (trusted) sessions exist only for themselves.
    fn visible_target(&self, actor: &str, target: &str) -> Result<&Session, MeetingError> {
        self.sessions.get(target).filter(|t| !t.identity.trusted || actor == target).ok_or(MeetingError::NotFound)
    }

    /// Sessions other than `except` that have a roster, i.e. receive participant events.
    fn roster_viewers<'a>(&'a self, except: &'a str) -> impl Iterator<Item = (&'a SessionId, &'a Session)> {
        self.sessions.iter().filter(move |(id, s)| id.as_str() != except && s.in_roster())
    }

    /// Sessions other than `except` that see the lobby: leaders in the roster.
    fn lobby_viewers<'a>(&'a self, except: &'a str) -> impl Iterator<Item = (&'a SessionId, &'a Session)> {
        self.roster_viewers(except).filter(|(_, s)| s.can_lead())
    }

    /// Roster members other than `except` that others may see.
    fn shown_members<'a>(&'a self, except: &'a str) -> impl Iterator<Item = (&'a SessionId, &'a Session)> {
        self.roster_viewers(except).filter(|(_, s)| !s.identity.trusted)
    }

    fn waiters(&self) -> impl Iterator<Item = (&SessionId, &Session)> {
        self.sessions.iter().filter(|(_, s)| s.is_waiting())
    }

    fn forget(&mut self, id: &str) -> Result<(), MeetingError> {
        let session = self.sessions.get(id).ok_or(MeetingError::NotFound)?;
        if session.state != ConversationState::Disconnected {
            return Err(MeetingError::Conflict);
        }
        self.sessions.remove(id);
        Ok(())
    }
}
