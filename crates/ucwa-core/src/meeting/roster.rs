//! Life in the roster: leaving, role changes, ejection, the end of the meeting, and the one
//! path by which any session is disconnected.

use std::sync::Arc;

use super::command::MeetingError;
use super::notice::{NoticeKind, Notices, View};
use super::session::{ConversationState, Direction, InvitationKind, InvitationState, ModalityState, Reason, Role};
use super::{Meeting, MeetingKind};

/// Why a session is disconnected; decides the reasons it and the others are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Departure {
    /// Deleted its conversation after being admitted.
    Left,
    /// Cancelled, or deleted its conversation, while still joining.
    Cancelled,
    Rejected,
    TimedOut,
    Ejected,
    MeetingEnded,
    /// The invitee declined its incoming invitation (or deleted its conversation unanswered).
    Declined,
    /// Nobody answered the incoming invitation in time.
    Missed,
    /// The inviter cancelled, or left, before the invitation was answered.
    Withdrawn,
    /// Another application of the invited user answered (or declined for all) first.
    AnsweredElsewhere,
    /// A two-party caller whose callee declined.
    RemoteDeclined,
    /// A two-party caller whose callee did not answer in time.
    Unanswered,
    /// A two-party caller whose callee has no application online.
    Unreachable,
    /// The other party of a two-party conversation left it.
    RemoteLeft,
}

impl Departure {
    pub(super) fn reason(self) -> Reason {
        match self {
            Departure::Left | Departure::Cancelled => Reason::canceled(),
            Departure::Rejected => Reason::denied(),
            Departure::TimedOut => Reason::lobby_timeout(),
            Departure::Ejected => Reason::ejected(),
            Departure::MeetingEnded => Reason::meeting_ended(),
            Departure::Declined => Reason::declined(),
            Departure::Missed => Reason::missed(),
            Departure::Withdrawn => Reason::withdrawn(),
            Departure::AnsweredElsewhere => Reason::answered_elsewhere(),
            Departure::RemoteDeclined => Reason::remote_declined(),
            Departure::Unanswered => Reason::unanswered(),
            Departure::Unreachable => Reason::unreachable(),
            Departure::RemoteLeft => Reason::remote_left(),
        }
    }

    /// Leaving on one's own is the normal end of a conversation and needs no explanation.
    fn shown_reason(self) -> Option<Reason> {
        (self != Departure::Left).then(|| self.reason())
    }
}

impl Meeting {
    /// Conversation DELETE: before admission it is a cancel, before answering an incoming
    /// invitation a decline (of this application's copy only). Leaving a two-party
    /// conversation ends it for the other party too.
    pub(super) fn leave(&mut self, id: &str, out: &mut Notices) -> Result<(), MeetingError> {
        let session = self.sessions.get(id).ok_or(MeetingError::NotFound)?;
        let departure = match session.state {
            // Its conversation was already deleted.
            ConversationState::Disconnected => return Err(MeetingError::NotFound),
            _ if session.is_ringing() => Departure::Declined,
            _ if session.invitation.state == InvitationState::Connecting => Departure::Cancelled,
            _ => Departure::Left,
        };
        self.disconnect(id, departure, out);
        if departure == Departure::Left && self.kind == MeetingKind::TwoParty {
            let others: Vec<String> =
                self.sessions.iter().filter(|(_, s)| s.in_roster()).map(|(other, _)| other.clone()).collect();
            for other in others {
                self.disconnect(&other, Departure::RemoteLeft, out);
            }
        }
        Ok(())
    }

    pub(super) fn promote(&mut self, actor: &str, target: &str, out: &mut Notices) -> Result<(), MeetingError> {
        self.ensure_leader(actor)?;
        let subject = self.visible_target(actor, target)?;
        if !(subject.in_roster() && subject.role == Role::Attendee) {
            return Err(MeetingError::Conflict);
        }
        self.change_role(target, Role::Leader, out);
        Ok(())
    }

    pub(super) fn demote(&mut self, actor: &str, target: &str, out: &mut Notices) -> Result<(), MeetingError> {
        self.ensure_leader(actor)?;
        let subject = self.visible_target(actor, target)?;
        if !(subject.in_roster() && subject.role == Role::Leader) {
            return Err(MeetingError::Conflict);
        }
        // The organizer always leads; a trusted join is a leader by construction.
        if self.settings.is_organizer(&subject.identity) || subject.identity.trusted {
            return Err(MeetingError::Forbidden);
        }
        self.change_role(target, Role::Attendee, out);
        Ok(())
    }

    pub(super) fn eject(&mut self, actor: &str, target: &str, out: &mut Notices) -> Result<(), MeetingError> {
        self.ensure_leader(actor)?;
        if actor == target {
            // Leaving is a conversation DELETE.
            return Err(MeetingError::Forbidden);
        }
        if !self.visible_target(actor, target)?.in_roster() {
            return Err(MeetingError::Conflict);
        }
        self.disconnect(target, Departure::Ejected, out);
        Ok(())
    }

    pub(super) fn end(&mut self, out: &mut Notices) {
        let live: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.state != ConversationState::Disconnected)
            .map(|(id, _)| id.clone())
            .collect();
        for id in live {
            self.disconnect(&id, Departure::MeetingEnded, out);
        }
        self.ended = true;
    }

    /// Ends a live session's conversation: its invitation fails if still joining (or
    /// ringing), its own pending invitations of others fail and stop ringing, its messaging
    /// disconnects, then the conversation goes `Disconnected` and is deleted; whoever saw it
    /// is told it left.
    pub(super) fn disconnect(&mut self, id: &str, departure: Departure, out: &mut Notices) {
        if self.sessions.get(id).is_some_and(|s| s.state != ConversationState::Disconnected) {
            // Whoever saw it typing sees that end before it leaves.
            self.stop_typing(id, out);
            self.forget_typing_viewer(id);
        }
        let Some(session) = self.sessions.get_mut(id).map(Arc::make_mut) else {
            return;
        };
        if session.state == ConversationState::Disconnected {
            return;
        }
        let (was_waiting, was_shown) = (session.is_waiting(), session.is_shown());
        let joining = session.invitation.state == InvitationState::Connecting;
        let ring = if joining { session.invitation.ring.clone() } else { None };
        // A two-party caller's own invitation is what rings the callee.
        let calling = joining
            && session.invitation.direction == Direction::Outgoing
            && session.invitation.kind == InvitationKind::Messaging;
        let mut offers: Vec<String> = calling.then(|| session.invitation.id.clone()).into_iter().collect();
        if joining {
            session.invitation.state = InvitationState::Failed;
            session.invitation.reason = Some(departure.reason());
            out.push(id, NoticeKind::completed(InvitationState::Failed));
        }
        let withdrawn_because =
            if departure == Departure::MeetingEnded { Reason::meeting_ended() } else { Reason::canceled() };
        for pinv in session.participant_invitations.iter_mut().filter(|p| p.state == InvitationState::Connecting) {
            pinv.state = InvitationState::Failed;
            pinv.reason = Some(withdrawn_because.clone());
            out.push(id, NoticeKind::ParticipantInvitationCompleted { id: pinv.id.clone() });
            offers.push(pinv.id.clone());
        }
        if session.messaging != ModalityState::Disconnected {
            session.messaging = ModalityState::Disconnected;
            out.push(id, NoticeKind::MessagingUpdated { state: ModalityState::Disconnected });
        }
        session.state = ConversationState::Disconnected;
        session.lobby_deadline_ms = None;
        session.disconnect_reason = departure.shown_reason();
        out.push(id, NoticeKind::conversation_updated(ConversationState::Disconnected));
        out.push(id, NoticeKind::ConversationDeleted);

        let withdrawal = if departure == Departure::MeetingEnded { departure } else { Departure::Withdrawn };
        for offer in offers {
            self.withdraw(&offer, withdrawal, None, out);
        }
        if let Some(ring) = ring {
            self.after_ring_ended(&ring, departure, out);
        }
        if departure == Departure::MeetingEnded {
            return;
        }
        let reason = departure.shown_reason();
        if was_waiting {
            for (viewer, _) in self.lobby_viewers(id) {
                out.push(viewer, NoticeKind::deleted(id, Some(View::Lobby), reason.clone()));
            }
        }
        if was_shown {
            for (viewer, _) in self.roster_viewers(id) {
                out.push(viewer, NoticeKind::deleted(id, None, reason.clone()));
            }
        }
    }

    /// Moves a visible roster member between the leaders and attendees views (promote and
    /// demote never reach a hidden one). The member's capabilities change with its role: it
    /// gains or loses the lobby, and its links on everyone else change.
    fn change_role(&mut self, id: &str, role: Role, out: &mut Notices) {
        let Some(session) = self.sessions.get_mut(id).map(Arc::make_mut) else {
            return;
        };
        let old_view = session.view();
        session.role = role;
        let (new_view, leads) = (session.view(), session.leads());

        out.push(id, NoticeKind::LocalParticipantUpdated);
        for (member, _) in self.shown_members(id) {
            out.push(id, NoticeKind::updated(member));
        }
        for (waiter, _) in self.waiters() {
            let kind = if leads {
                NoticeKind::added(waiter, View::Lobby)
            } else {
                NoticeKind::deleted(waiter, Some(View::Lobby), None)
            };
            out.push(id, kind);
        }

        for (viewer, _) in self.roster_viewers(id) {
            out.push(viewer, NoticeKind::deleted(id, Some(old_view), None));
            out.push(viewer, NoticeKind::added(id, new_view));
            out.push(viewer, NoticeKind::updated(id));
        }
    }
}
