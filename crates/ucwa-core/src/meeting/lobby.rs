//! Entering the meeting: join, lobby, admit, and the ways a join fails (docs/protocol.md,
//! onlineMeetingInvitation and lobby).

use std::sync::Arc;

use super::Meeting;
use super::command::{Join, MeetingError};
use super::notice::{NoticeKind, Notices, View};
use super::policy::{self, Admission};
use super::roster::Departure;
use super::session::{ConversationState, Direction, Invitation, InvitationState, Session};

impl Meeting {
    pub(super) fn join(&mut self, join: Join, now_ms: i64, out: &mut Notices) -> Result<(), MeetingError> {
        // A two-party conversation is only entered by invitation.
        if self.kind == super::MeetingKind::TwoParty {
            return Err(MeetingError::Forbidden);
        }
        if now_ms >= self.settings.expiration_ms {
            return Err(MeetingError::Ended);
        }
        if self.sessions.contains_key(&join.session_id) {
            return Err(MeetingError::Conflict);
        }
        let Join { session_id: id, app_id, identity, invitation, lobby_timeout_ms } = join;
        let admission = policy::admission(&self.settings, &identity, &invitation);
        let participant_key = self.free_participant_key(&identity.uri, None);
        let session = Session {
            app_id,
            participant_key,
            role: policy::initial_role(&self.settings, &identity),
            identity,
            state: ConversationState::Connecting,
            lobby_deadline_ms: None,
            invitation: Invitation::connecting(invitation),
            disconnect_reason: None,
            messaging: Default::default(),
            messaging_operation: None,
            participant_invitations: Vec::new(),
            sent_messages: Vec::new(),
            typing: None,
        };
        self.sessions.insert(id.clone(), Arc::new(session));

        out.push(&id, NoticeKind::InvitationStarted);
        out.push(&id, NoticeKind::ConversationAdded { state: ConversationState::Connecting });
        out.push(&id, NoticeKind::LocalParticipantAdded);
        match admission {
            Admission::Direct => self.enter_conference(&id, out),
            Admission::Lobby => {
                let deadline_ms = now_ms.saturating_add_unsigned(lobby_timeout_ms);
                self.enter_lobby(&id, deadline_ms, out);
            }
        }
        Ok(())
    }

    pub(super) fn admit(&mut self, actor: &str, target: &str, out: &mut Notices) -> Result<(), MeetingError> {
        self.check_lobby_action(actor, target)?;
        self.enter_conference(target, out);
        Ok(())
    }

    pub(super) fn reject(&mut self, actor: &str, target: &str, out: &mut Notices) -> Result<(), MeetingError> {
        self.check_lobby_action(actor, target)?;
        self.disconnect(target, Departure::Rejected, out);
        Ok(())
    }

    pub(super) fn cancel(&mut self, id: &str, out: &mut Notices) -> Result<(), MeetingError> {
        let session = self.sessions.get(id).ok_or(MeetingError::NotFound)?;
        // Only outgoing invitations have `cancel`; incoming ones are declined.
        if session.invitation.state != InvitationState::Connecting
            || session.invitation.direction != Direction::Outgoing
        {
            return Err(MeetingError::Conflict);
        }
        self.disconnect(id, Departure::Cancelled, out);
        Ok(())
    }

    /// Fails waiters whose deadline has passed, earliest first.
    pub(super) fn expire_lobbies(&mut self, now_ms: i64, out: &mut Notices) {
        let mut due: Vec<(i64, String)> = self
            .waiters()
            .filter_map(|(id, s)| s.lobby_deadline_ms.map(|deadline| (deadline, id.clone())))
            .filter(|(deadline, _)| *deadline <= now_ms)
            .collect();
        due.sort();
        for (_, id) in due {
            self.disconnect(&id, Departure::TimedOut, out);
        }
    }

    /// Admit and reject: a leader in the roster acting on someone in the lobby.
    fn check_lobby_action(&self, actor: &str, target: &str) -> Result<(), MeetingError> {
        self.ensure_leader(actor)?;
        let target = self.visible_target(actor, target)?;
        if target.is_waiting() { Ok(()) } else { Err(MeetingError::Conflict) }
    }

    fn enter_lobby(&mut self, id: &str, deadline_ms: i64, out: &mut Notices) {
        let Some(session) = self.sessions.get_mut(id).map(Arc::make_mut) else {
            return;
        };
        session.state = ConversationState::InLobby;
        session.lobby_deadline_ms = Some(deadline_ms);

        out.push(id, NoticeKind::conversation_updated(ConversationState::InLobby));
        // The invitation stays Connecting; the update lets a client that only watches the
        // invitation learn that its participant is now in the lobby.
        out.push(id, NoticeKind::InvitationUpdated);
        for (viewer, _) in self.lobby_viewers(id) {
            out.push(viewer, NoticeKind::added(id, View::Lobby));
        }
    }

    /// Puts a joiner (new or waiting) into the roster and completes its invitation, which
    /// therefore succeeds only after its participant is in the roster.
    pub(super) fn enter_conference(&mut self, id: &str, out: &mut Notices) {
        let Some(session) = self.sessions.get_mut(id).map(Arc::make_mut) else {
            return;
        };
        let was_waiting = session.is_waiting();
        session.state = ConversationState::Conferenced;
        session.lobby_deadline_ms = None;
        session.invitation.state = InvitationState::Connected;
        let (shown, view, leads) = (session.is_shown(), session.view(), session.leads());

        out.push(id, NoticeKind::conversation_updated(ConversationState::Conferencing));
        out.push(id, NoticeKind::conversation_updated(ConversationState::Conferenced));
        out.push(id, NoticeKind::OnlineMeetingAdded);
        out.push(id, NoticeKind::LocalParticipantAdded);

        if shown {
            for (viewer, other) in self.roster_viewers(id) {
                if was_waiting && other.can_lead() {
                    // Leaders saw the joiner in the lobby: it moves, and their admit and
                    // reject capabilities on it are gone.
                    out.push(viewer, NoticeKind::deleted(id, Some(View::Lobby), None));
                    out.push(viewer, NoticeKind::added(id, view));
                    out.push(viewer, NoticeKind::updated(id));
                } else {
                    out.push(viewer, NoticeKind::added(id, view));
                }
            }
        }

        // Success once the joiner's own participant is in the roster (its second
        // `localParticipant` `added` above), before the others are listed: with a thousand
        // in the roster the joiner learns it is in without reading a thousand events first,
        // and the engine can deliver it before the meeting's fan-out (docs/protocol.md).
        out.push(id, NoticeKind::completed(InvitationState::Connected));
        for (member_id, member) in self.shown_members(id) {
            out.push(id, NoticeKind::added(member_id, member.view()));
        }
        if leads {
            for (waiter, _) in self.waiters() {
                out.push(id, NoticeKind::added(waiter, View::Lobby));
            }
        }
    }
}
