//! The meeting aggregate: lobby, roster and join invitations as a pure state machine.
//!
//! A [`Meeting`] holds one [`Session`] per application conversation in the conference. The
//! server turns each HTTP request (join, admit, cancel, conversation DELETE, ...) or timer into
//! a [`Command`] and calls [`Meeting::handle`], which either refuses it with a
//! [`MeetingError`] and leaves the meeting untouched, or applies it and returns the
//! [`Notice`]s each session must see, in the order it must see them. The server renders those
//! into per-application UCWA events (hrefs, rels, embedded resources) from the meeting as it is
//! after the command, and the store persists the changed sessions (one JSON row each) and the
//! events in the same transaction.
//!
//! Nothing here reads the clock or performs I/O: time is the `now_ms` argument and every id
//! is chosen by the caller, so the same command on the same meeting always gives the same
//! result.
//!
//! # Policy choices
//! - Admission and roles follow docs/protocol.md, lobby (`policy`); trusted joins are hidden Leaders.
//! - A lobby participant waits until admitted, rejected, cancelled, timed out or the meeting
//!   ends. Leaders leaving (even the organizer or the last leader) do not release or fail the
//!   lobby: waiters keep their deadline, and a leader who joins later sees and can admit them.
//! - When the meeting ends, each session only sees its own conversation end; nobody is told
//!   about the others leaving, since every roster is going away at once.
//!
//! # Two-party conversations and invitations
//! A person-to-person IM conversation (`startMessaging`) is modelled as a `Meeting` of kind
//! [`MeetingKind::TwoParty`]: the caller's session and one session per application of the
//! callee, of which the one that answers stays. This reuses the sessions, notices,
//! projection, storage and per-meeting locking of meetings unchanged, and makes the
//! escalation of `addParticipant` (docs/protocol.md, participantInvitation) a change of kind in place: the conversation
//! hrefs both parties hold stay valid as it becomes an ad hoc conference.
//!
//! An invitation (a meeting's `addParticipant`, or a call) creates one `Incoming` session
//! per application of the invited user, each with a [`Ring`] naming the outgoing
//! invitation. The first to accept wins and the other copies end ("answered elsewhere");
//! a decline with reason `Local` ends only that copy, any other decline all of them; the
//! outgoing invitation fails once no copy rings any more. Every invitation, outgoing or
//! incoming, completes exactly once.
//!
//! # Layout
//! - `settings`: organizer policy and SIP URI comparisons.
//! - `session`: a session, its identity and its invitation.
//! - `policy`: who waits in the lobby and who leads.
//! - `command`: commands and errors.
//! - `notice`: what the sessions are told.
//! - `lobby` and `roster`: the transitions.
//! - `invite`: addParticipant, calls, accept, decline and rings.
//! - `messaging`: the messaging modality and messages.
//! - `storage`: what stores derive on save (changed sessions, when a meeting finished).
//! - `tests` (trace and policy unit tests) and `proptests` (invariants over random runs).

mod command;
mod invite;
mod lobby;
mod messaging;
mod notice;
mod policy;
mod roster;
mod session;
mod settings;
mod storage;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use command::{Call, Command, Invite, Invitee, Join, MeetingError, MessageRequest};
pub use notice::{Message, Notice, NoticeKind, View};
pub use session::{
    Content, ConversationState, Direction, Identity, Importance, Invitation, InvitationKind, InvitationRequest,
    InvitationState, ModalityOperation, ModalityState, ParticipantInvitation, ParticipantInvitationRequest, Reason,
    Ring, Role, SENT_MESSAGES_KEPT, SentMessage, Session, SessionId, Surface, Typing, address_key,
};
pub use settings::{AccessLevel, AutomaticLeaderAssignment, MeetingSettings, Toggle, same_uri, sip_domain};
pub use storage::SessionChanges;

use notice::Notices;

/// What kind of conversation a meeting aggregate is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MeetingKind {
    /// An online meeting (scheduled or ad hoc): roster, lobby, onlineMeeting.
    #[default]
    Conference,
    /// A person-to-person conversation; becomes a `Conference` when escalated.
    TwoParty,
}

/// One online meeting (conference) and every application conversation in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    /// The `onlineMeetingId`.
    id: String,
    settings: MeetingSettings,
    /// Shared, copy-on-write: the server keeps the meeting before a command to compare and
    /// to fall back on, and with a thousand people in a lobby a deep copy per command was
    /// the largest cost of an admit. A command copies only the sessions it changes.
    sessions: BTreeMap<SessionId, Arc<Session>>,
    ended: bool,
    /// Incremented by every successful command, for optimistic concurrency in the store.
    version: u64,
    #[serde(default)]
    kind: MeetingKind,
}

impl Meeting {
    /// A meeting nobody has joined yet. For an ad hoc meeting the caller makes the joiner the
    /// organizer in `settings`, then sends its [`Command::Join`].
    pub fn new(id: impl Into<String>, settings: MeetingSettings) -> Self {
        Self {
            id: id.into(),
            settings,
            sessions: BTreeMap::new(),
            ended: false,
            version: 0,
            kind: MeetingKind::Conference,
        }
    }

    /// An empty two-party conversation, for [`Command::Call`]. `settings` name the caller as
    /// organizer; they apply if the conversation is escalated.
    pub fn two_party(id: impl Into<String>, settings: MeetingSettings) -> Self {
        Self { kind: MeetingKind::TwoParty, ..Self::new(id, settings) }
    }

    /// Sets the kind of a meeting reassembled with [`Meeting::restore`].
    pub fn with_kind(mut self, kind: MeetingKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn kind(&self) -> MeetingKind {
        self.kind
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
        let sessions = sessions.into_iter().map(|(id, s)| (id, Arc::new(s))).collect();
        Self { id: id.into(), settings, sessions, ended, version, kind: MeetingKind::Conference }
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
    pub fn sessions(&self) -> &BTreeMap<SessionId, Arc<Session>> {
        &self.sessions
    }

    pub fn session(&self, id: &str) -> Option<&Session> {
        self.sessions.get(id).map(|s| &**s)
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Counts a change made outside [`Meeting::handle`] (the second save of a command, see
    /// `MeetingRecord::pending`), so other nodes' cached copies are seen to be stale.
    pub fn bump_version(&mut self) {
        self.version = self.version.saturating_add(1);
    }

    /// The key that names session `id`'s participant in hrefs: its [`Session::participant_key`],
    /// or the id itself (a session stored before keys existed, or one already gone).
    pub fn participant_key<'a>(&'a self, id: &'a str) -> &'a str {
        match self.sessions.get(id) {
            Some(s) if !s.participant_key.is_empty() => &s.participant_key,
            _ => id,
        }
    }

    /// The session a participant href names: by its key (a live session before one that
    /// ended in the same command), or (hrefs handed out before keys existed) by its id.
    pub fn participant_session<'a>(&'a self, key: &str) -> Option<&'a SessionId> {
        let mut holders = self.sessions.iter().filter(|(_, s)| s.participant_key == key);
        let by_key =
            holders.clone().find(|(_, s)| s.state != ConversationState::Disconnected).or_else(|| holders.next());
        by_key.map(|(id, _)| id).or_else(|| self.sessions.get_key_value(key).map(|(id, _)| id))
    }

    /// A key for a new participant with address `uri` that no other session holds: the plain
    /// [`address_key`], else with `~2`, `~3`... Sessions ringing for the same `offer` (one
    /// invitee's several applications) may share it: at most one of them survives, and the
    /// one that answers must not end up as `~2`.
    fn free_participant_key(&self, uri: &str, offer: Option<&str>) -> String {
        let sibling = |s: &Session| {
            offer.is_some_and(|o| s.is_ringing() && s.invitation.ring.as_ref().is_some_and(|r| r.offer == o))
        };
        let taken = |key: &str| {
            self.sessions
                .values()
                .any(|s| s.participant_key == key && s.state != ConversationState::Disconnected && !sibling(s))
        };
        let plain = address_key(uri);
        if !taken(&plain) {
            return plain;
        }
        // Fewer sessions than numbers tried: one of these is free.
        (2..=self.sessions.len() + 2).map(|n| format!("{plain}~{n}")).find(|k| !taken(k)).unwrap_or(plain)
    }

    /// The earliest lobby, ringing or typing deadline, for the store's timer index; the store
    /// then sends [`Command::ExpireLobbies`] at that instant.
    pub fn next_deadline(&self) -> Option<i64> {
        let lobby = self.sessions.values().filter(|s| s.is_waiting()).filter_map(|s| s.lobby_deadline_ms);
        let rings = self.sessions.values().filter(|s| s.is_ringing()).filter_map(|s| s.invitation.ring.as_ref());
        let typing = self.sessions.values().filter_map(|s| s.typing.as_ref().map(|t| t.until_ms));
        lobby.chain(rings.map(|r| r.deadline_ms)).chain(typing).min()
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
            Command::ExpireLobbies => {
                self.expire_lobbies(now_ms, &mut out);
                self.expire_rings(now_ms, &mut out);
                self.expire_typing(now_ms, &mut out);
            }
            Command::Invite(invite) => self.invite(*invite, now_ms, &mut out)?,
            Command::Call(call) => self.call(*call, now_ms, &mut out)?,
            Command::Accept { session } => self.accept(&session, &mut out)?,
            Command::Decline { session, local_only } => self.decline(&session, local_only, &mut out)?,
            Command::CancelParticipantInvitation { actor, invitation } => {
                self.cancel_participant_invitation(&actor, &invitation, &mut out)?
            }
            Command::AddMessaging { session, operation_id } => self.add_messaging(&session, operation_id, &mut out)?,
            Command::StopMessaging { session } => self.stop_messaging(&session, &mut out)?,
            Command::SendMessage { session, message } => self.send_message(&session, message, now_ms, &mut out)?,
            Command::SetTyping { session } => self.set_typing(&session, now_ms, &mut out)?,
            Command::End => self.end(&mut out),
        }
        // Saturating: 2^64 commands are out of reach, and overflow must not panic.
        self.version = self.version.saturating_add(1);
        Ok(out.into_vec())
    }

    /// The actor may use leader capabilities.
    fn ensure_leader(&self, actor: &str) -> Result<(), MeetingError> {
        // Two-party conversations have no leader capabilities (no lobby, roles or eject).
        if self.kind == MeetingKind::TwoParty {
            return Err(MeetingError::Forbidden);
        }
        let session = self.sessions.get(actor).ok_or(MeetingError::NotFound)?;
        if session.leads() { Ok(()) } else { Err(MeetingError::Forbidden) }
    }

    /// The target as the actor can see it: hidden (trusted) sessions exist only for themselves.
    fn visible_target(&self, actor: &str, target: &str) -> Result<&Session, MeetingError> {
        self.sessions
            .get(target)
            .map(|s| &**s)
            .filter(|t| !t.identity.trusted || actor == target)
            .ok_or(MeetingError::NotFound)
    }

    /// Sessions other than `except` that have a roster, i.e. receive participant events.
    fn roster_viewers<'a>(&'a self, except: &'a str) -> impl Iterator<Item = (&'a SessionId, &'a Session)> {
        self.all().filter(move |(id, s)| id.as_str() != except && s.in_roster())
    }

    /// Every session, borrowed through its shared pointer.
    fn all(&self) -> impl Iterator<Item = (&SessionId, &Session)> {
        self.sessions.iter().map(|(id, s)| (id, &**s))
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
        self.all().filter(|(_, s)| s.is_waiting())
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
