//! Invitations of others: `addParticipant` in a meeting (docs/protocol.md,
//! participantInvitation), two-party calls (`startMessaging`, messagingInvitation), and the answers to them. An outgoing invitation rings one
//! `Incoming` session per application of the invited user (see the module docs of
//! [`super`]); this file keeps exactly one completion per invitation on both sides.

use std::sync::Arc;

use super::command::{Call, Invite, Invitee, MeetingError};
use super::notice::{NoticeKind, Notices};
use super::policy;
use super::roster::Departure;
use super::session::{
    ConversationState, Direction, Invitation, InvitationKind, InvitationRequest, InvitationState, ModalityState,
    ParticipantInvitation, Ring, Session, SessionId,
};
use super::{Meeting, MeetingKind};

impl Meeting {
    /// `addParticipant`: the actor must be in the roster. A two-party conversation is first
    /// escalated into an ad hoc conference (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/addparticipant_ref>).
    pub(super) fn invite(&mut self, invite: Invite, now_ms: i64, out: &mut Notices) -> Result<(), MeetingError> {
        let Invite { actor, invitation: request, invitees, answer_timeout_ms } = invite;
        let inviter = self.sessions.get(&actor).ok_or(MeetingError::NotFound)?;
        if !inviter.in_roster() {
            return Err(MeetingError::Conflict);
        }
        self.check_new_ids(&request.id, &invitees)?;
        let (from, thread_id) = (inviter.identity.clone(), inviter.invitation.thread_id.clone());
        if self.kind == MeetingKind::TwoParty {
            self.escalate(out);
        }
        let pinv = ParticipantInvitation {
            id: request.id.clone(),
            operation_id: request.operation_id,
            to: request.to,
            subject: request.subject,
            importance: request.importance,
            message: request.message,
            custom_content: request.custom_content,
            state: InvitationState::Connecting,
            reason: None,
            accepted_by: None,
        };
        let invitation = Invitation {
            direction: Direction::Incoming,
            thread_id,
            subject: pinv.subject.clone(),
            importance: pinv.importance,
            to: Some(pinv.to.clone()),
            message: pinv.message.clone(),
            custom_content: pinv.custom_content.clone(),
            ring: Some(Ring {
                offer: pinv.id.clone(),
                inviter: actor.clone(),
                from,
                deadline_ms: now_ms.saturating_add_unsigned(answer_timeout_ms),
            }),
            ..Invitation::connecting(InvitationRequest::outgoing(String::new()))
        };
        let id = pinv.id.clone();
        if let Some(inviter) = self.sessions.get_mut(&actor).map(Arc::make_mut) {
            inviter.participant_invitations.push(pinv);
        }
        out.push(&actor, NoticeKind::ParticipantInvitationStarted { id: id.clone() });
        if invitees.is_empty() {
            self.fail_outgoing(&actor, &id, Departure::Unreachable, out);
        }
        for invitee in invitees {
            self.ring(invitee, invitation.clone(), out);
        }
        Ok(())
    }

    /// `startMessaging` into this new two-party conversation.
    pub(super) fn call(&mut self, call: Call, now_ms: i64, out: &mut Notices) -> Result<(), MeetingError> {
        if self.kind != MeetingKind::TwoParty || !self.sessions.is_empty() {
            return Err(MeetingError::Conflict);
        }
        self.check_new_ids(&call.session_id, &call.invitees)?;
        let Call { session_id: id, app_id, identity, invitation: request, invitees, answer_timeout_ms } = call;
        let caller = Invitation::connecting(InvitationRequest { kind: InvitationKind::Messaging, ..request });
        let incoming = Invitation {
            direction: Direction::Incoming,
            ring: Some(Ring {
                offer: caller.id.clone(),
                inviter: id.clone(),
                from: identity.clone(),
                deadline_ms: now_ms.saturating_add_unsigned(answer_timeout_ms),
            }),
            ..caller.clone()
        };
        let mut session = self.new_session(app_id, identity, caller, ConversationState::Connecting);
        session.messaging = ModalityState::Connecting;
        self.sessions.insert(id.clone(), Arc::new(session));
        out.push(&id, NoticeKind::InvitationStarted);
        out.push(&id, NoticeKind::ConversationAdded { state: ConversationState::Connecting });
        out.push(&id, NoticeKind::LocalParticipantAdded);
        out.push(&id, NoticeKind::MessagingUpdated { state: ModalityState::Connecting });
        if invitees.is_empty() {
            self.disconnect(&id, Departure::Unreachable, out);
        }
        for invitee in invitees {
            let invitation = Invitation { to: Some(invitee.identity.uri.clone()), ..incoming.clone() };
            self.ring(invitee, invitation, out);
        }
        Ok(())
    }

    /// The invitee answers: the other copies end, then it joins the conference without the
    /// lobby (or connects the two-party call); both invitations succeed once it is listed.
    pub(super) fn accept(&mut self, id: &str, out: &mut Notices) -> Result<(), MeetingError> {
        let session = self.sessions.get(id).ok_or(MeetingError::NotFound)?;
        let ring = session.invitation.ring.clone().filter(|_| session.is_ringing()).ok_or(MeetingError::Conflict)?;
        self.withdraw(&ring.offer, Departure::AnsweredElsewhere, Some(id), out);
        match self.kind {
            MeetingKind::Conference => {
                self.enter_conference(id, out);
                self.complete_participant_invitation(&ring, id, out);
            }
            MeetingKind::TwoParty => self.connect_call(&ring.inviter, id, out),
        }
        Ok(())
    }

    /// The invitee declines this copy (`local_only`) or the invitation as a whole.
    pub(super) fn decline(&mut self, id: &str, local_only: bool, out: &mut Notices) -> Result<(), MeetingError> {
        let session = self.sessions.get(id).ok_or(MeetingError::NotFound)?;
        let ring = session.invitation.ring.clone().filter(|_| session.is_ringing()).ok_or(MeetingError::Conflict)?;
        if !local_only {
            self.withdraw(&ring.offer, Departure::AnsweredElsewhere, Some(id), out);
        }
        self.disconnect(id, Departure::Declined, out);
        Ok(())
    }

    pub(super) fn cancel_participant_invitation(
        &mut self,
        actor: &str,
        invitation: &str,
        out: &mut Notices,
    ) -> Result<(), MeetingError> {
        let session = self.sessions.get(actor).ok_or(MeetingError::NotFound)?;
        let pinv = session.participant_invitations.iter().find(|p| p.id == invitation).ok_or(MeetingError::NotFound)?;
        if pinv.state != InvitationState::Connecting {
            return Err(MeetingError::Conflict);
        }
        self.fail_outgoing(actor, invitation, Departure::Cancelled, out);
        self.withdraw(invitation, Departure::Withdrawn, None, out);
        Ok(())
    }

    /// Fails unanswered invitations past their deadline, earliest first.
    pub(super) fn expire_rings(&mut self, now_ms: i64, out: &mut Notices) {
        let mut due: Vec<(i64, String)> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.is_ringing())
            .filter_map(|(id, s)| s.invitation.ring.as_ref().map(|r| (r.deadline_ms, id.clone())))
            .filter(|(deadline, _)| *deadline <= now_ms)
            .collect();
        due.sort();
        for (_, id) in due {
            self.disconnect(&id, Departure::Missed, out);
        }
    }

    /// Ends every copy of `offer` that still rings, except `except`.
    pub(super) fn withdraw(&mut self, offer: &str, why: Departure, except: Option<&str>, out: &mut Notices) {
        let ringing: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(id, s)| Some(id.as_str()) != except && s.is_ringing())
            .filter(|(_, s)| s.invitation.ring.as_ref().is_some_and(|r| r.offer == offer))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ringing {
            self.disconnect(&id, why, out);
        }
    }

    /// A copy of an invitation stopped ringing because it was declined or missed: once no
    /// copy rings any more, the outgoing invitation fails for the same cause.
    pub(super) fn after_ring_ended(&mut self, ring: &Ring, why: Departure, out: &mut Notices) {
        let outcome = match why {
            Departure::Declined => Departure::RemoteDeclined,
            Departure::Missed => Departure::Unanswered,
            // Withdrawals and answers elsewhere are settled by whoever caused them.
            _ => return,
        };
        let still_ringing = self
            .sessions
            .values()
            .any(|s| s.is_ringing() && s.invitation.ring.as_ref().is_some_and(|r| r.offer == ring.offer));
        if !still_ringing {
            self.fail_outgoing(&ring.inviter, &ring.offer, outcome, out);
        }
    }

    /// Fails the outgoing side of `offer` if it is still `Connecting`: a participant
    /// invitation completes, a two-party caller's conversation ends with its call.
    fn fail_outgoing(&mut self, inviter: &str, offer: &str, why: Departure, out: &mut Notices) {
        let Some(session) = self.sessions.get_mut(inviter).map(Arc::make_mut) else {
            return;
        };
        if let Some(pinv) =
            session.participant_invitations.iter_mut().find(|p| p.id == offer && p.state == InvitationState::Connecting)
        {
            pinv.state = InvitationState::Failed;
            pinv.reason = Some(why.reason());
            out.push(inviter, NoticeKind::ParticipantInvitationCompleted { id: offer.to_owned() });
        } else if session.invitation.id == offer && session.invitation.state == InvitationState::Connecting {
            self.disconnect(inviter, why, out);
        }
    }

    /// The inviter's participant invitation succeeds: the invitee is in the roster now.
    fn complete_participant_invitation(&mut self, ring: &Ring, accepted_by: &str, out: &mut Notices) {
        let Some(session) = self.sessions.get_mut(&ring.inviter).map(Arc::make_mut) else {
            return;
        };
        if let Some(pinv) = session
            .participant_invitations
            .iter_mut()
            .find(|p| p.id == ring.offer && p.state == InvitationState::Connecting)
        {
            pinv.state = InvitationState::Connected;
            pinv.accepted_by = Some(accepted_by.to_owned());
            out.push(&ring.inviter, NoticeKind::ParticipantInvitationCompleted { id: ring.offer.clone() });
        }
    }

    /// Connects a two-party call, in the order of the documented trace
    /// (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/sendanim>): the
    /// remote participant appears before either invitation completes.
    fn connect_call(&mut self, caller: &str, callee: &str, out: &mut Notices) {
        for (id, answered) in [(callee, true), (caller, false)] {
            if let Some(s) = self.sessions.get_mut(id).map(Arc::make_mut) {
                s.state = ConversationState::Connected;
                s.invitation.state = InvitationState::Connected;
                s.messaging = ModalityState::Connected;
                if !answered {
                    s.invitation.accepted_by = Some(callee.to_owned());
                }
            }
        }
        let view = |m: &Self, id: &str| m.session(id).map(Session::view);
        let (Some(caller_view), Some(callee_view)) = (view(self, caller), view(self, callee)) else {
            return;
        };
        use ConversationState::Connected;
        out.push(callee, NoticeKind::conversation_updated(Connected));
        out.push(callee, NoticeKind::LocalParticipantAdded);
        out.push(callee, NoticeKind::added(caller, caller_view));
        out.push(callee, NoticeKind::MessagingUpdated { state: ModalityState::Connected });
        out.push(callee, NoticeKind::ParticipantMessagingAdded { subject: caller.to_owned() });
        out.push(callee, NoticeKind::ParticipantMessagingAdded { subject: callee.to_owned() });
        out.push(callee, NoticeKind::completed(InvitationState::Connected));

        out.push(caller, NoticeKind::conversation_updated(Connected));
        out.push(caller, NoticeKind::added(callee, callee_view));
        out.push(caller, NoticeKind::ParticipantMessagingAdded { subject: callee.to_owned() });
        out.push(caller, NoticeKind::ParticipantMessagingAdded { subject: caller.to_owned() });
        out.push(caller, NoticeKind::MessagingUpdated { state: ModalityState::Connected });
        out.push(caller, NoticeKind::completed(InvitationState::Connected));
    }

    /// Turns the two-party conversation into an ad hoc conference organized by the caller
    /// (its settings were made for that at the call): both parties become `Conferenced`.
    fn escalate(&mut self, out: &mut Notices) {
        self.kind = MeetingKind::Conference;
        let connected: Vec<SessionId> =
            self.sessions.iter().filter(|(_, s)| s.in_roster()).map(|(id, _)| id.clone()).collect();
        for id in connected {
            if let Some(s) = self.sessions.get_mut(&id).map(Arc::make_mut) {
                s.state = ConversationState::Conferenced;
            }
            out.push(&id, NoticeKind::conversation_updated(ConversationState::Conferencing));
            out.push(&id, NoticeKind::conversation_updated(ConversationState::Conferenced));
            out.push(&id, NoticeKind::OnlineMeetingAdded);
        }
    }

    /// Adds an `Incoming` session for one application of the invited user.
    fn ring(&mut self, invitee: Invitee, invitation: Invitation, out: &mut Notices) {
        let Invitee { session_id: id, app_id, identity } = invitee;
        // An incoming invitation was not started by this application's client, so it gets
        // an operationId of its own (recorded incoming invitations carry one).
        let invitation = Invitation { id: id.clone(), operation_id: Some(id.clone()), ..invitation };
        let session = self.new_session(app_id, identity, invitation, ConversationState::Incoming);
        self.sessions.insert(id.clone(), Arc::new(session));
        out.push(&id, NoticeKind::InvitationStarted);
        out.push(&id, NoticeKind::ConversationAdded { state: ConversationState::Incoming });
    }

    fn new_session(
        &self,
        app_id: String,
        identity: super::Identity,
        invitation: Invitation,
        state: ConversationState,
    ) -> Session {
        let offer = invitation.ring.as_ref().map(|r| r.offer.as_str());
        Session {
            participant_key: self.free_participant_key(&identity.uri, offer),
            app_id,
            role: policy::initial_role(&self.settings, &identity),
            identity,
            state,
            lobby_deadline_ms: None,
            invitation,
            disconnect_reason: None,
            messaging: ModalityState::Disconnected,
            messaging_operation: None,
            participant_invitations: Vec::new(),
            sent_messages: Vec::new(),
            typing: None,
        }
    }

    /// Ids chosen by the caller must be new: sessions, and participant invitations.
    fn check_new_ids(&self, invitation: &str, invitees: &[Invitee]) -> Result<(), MeetingError> {
        let taken = |id: &str| {
            self.sessions.contains_key(id)
                || self.sessions.values().any(|s| s.participant_invitations.iter().any(|p| p.id == id))
        };
        let mut ids: Vec<&str> = invitees.iter().map(|i| i.session_id.as_str()).collect();
        ids.push(invitation);
        let unique = ids.iter().enumerate().all(|(i, id)| !ids[..i].contains(id));
        if unique && !ids.iter().any(|id| taken(id)) { Ok(()) } else { Err(MeetingError::Conflict) }
    }
}
