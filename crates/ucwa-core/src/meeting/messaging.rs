//! The messaging modality of a conversation and its messages (`addMessaging`,
//! `stopMessaging`, `sendMessage`) and who is typing (`setIsTyping`). In a meeting, a message reaches every other roster
//! member whose messaging is connected; lobby participants and unanswered invitations get
//! nothing. Message content is data only and is never interpreted.

use std::sync::Arc;

use super::command::{MeetingError, MessageRequest};
use super::notice::{Message, NoticeKind, Notices};
use super::session::{InvitationState, ModalityOperation, ModalityState, SENT_MESSAGES_KEPT, SentMessage, Typing};
use super::{Meeting, MeetingKind};

/// How long one `setIsTyping` shows a participant as typing. The reference page says only
/// "a short timer"; clients re-send it every few seconds while the user types.
pub const TYPING_MS: i64 = 10_000;

impl Meeting {
    /// `addMessaging` in a meeting conversation: its `messagingInvitation` completes once
    /// messaging is connected.
    pub(super) fn add_messaging(
        &mut self,
        id: &str,
        operation_id: Option<String>,
        out: &mut Notices,
    ) -> Result<(), MeetingError> {
        let session = self.sessions.get_mut(id).map(Arc::make_mut).ok_or(MeetingError::NotFound)?;
        if !session.in_roster() || session.messaging != ModalityState::Disconnected {
            return Err(MeetingError::Conflict);
        }
        session.messaging_operation = Some(ModalityOperation { operation_id, state: InvitationState::Connecting });
        session.messaging = ModalityState::Connected;
        let shown = !session.identity.trusted;
        out.push(id, NoticeKind::MessagingInvitationStarted);
        out.push(id, NoticeKind::MessagingUpdated { state: ModalityState::Connecting });
        out.push(id, NoticeKind::MessagingUpdated { state: ModalityState::Connected });
        out.push(id, NoticeKind::ParticipantMessagingAdded { subject: id.to_owned() });
        let others: Vec<(String, bool)> = self
            .roster_viewers(id)
            .filter(|(_, s)| s.receives_messages())
            .map(|(other, s)| (other.clone(), !s.identity.trusted))
            .collect();
        for (other, other_shown) in others {
            if other_shown {
                out.push(id, NoticeKind::ParticipantMessagingAdded { subject: other.clone() });
            }
            if shown {
                out.push(&other, NoticeKind::ParticipantMessagingAdded { subject: id.to_owned() });
            }
        }
        if let Some(op) = self.sessions.get_mut(id).map(Arc::make_mut).and_then(|s| s.messaging_operation.as_mut()) {
            op.state = InvitationState::Connected;
        }
        out.push(id, NoticeKind::MessagingInvitationCompleted);
        Ok(())
    }

    /// `stopMessaging`: a two-party conversation ends with it; in a meeting the session
    /// stays, without messaging.
    pub(super) fn stop_messaging(&mut self, id: &str, out: &mut Notices) -> Result<(), MeetingError> {
        let session = self.sessions.get_mut(id).map(Arc::make_mut).ok_or(MeetingError::NotFound)?;
        if session.messaging != ModalityState::Connected {
            return Err(MeetingError::Conflict);
        }
        if self.kind == MeetingKind::TwoParty {
            return self.leave(id, out);
        }
        self.stop_typing(id, out);
        self.forget_typing_viewer(id);
        let Some(session) = self.sessions.get_mut(id).map(Arc::make_mut) else { return Ok(()) };
        session.messaging = ModalityState::Disconnected;
        let shown = !session.identity.trusted;
        out.push(id, NoticeKind::MessagingUpdated { state: ModalityState::Disconnected });
        if shown {
            let others: Vec<String> =
                self.roster_viewers(id).filter(|(_, s)| s.receives_messages()).map(|(o, _)| o.clone()).collect();
            for other in others {
                out.push(&other, NoticeKind::ParticipantMessagingDeleted { subject: id.to_owned() });
            }
        }
        Ok(())
    }

    /// `sendMessage`: every other roster member with messaging gets it; the sender's own
    /// `message` operation starts and completes around the deliveries.
    pub(super) fn send_message(
        &mut self,
        id: &str,
        request: MessageRequest,
        now_ms: i64,
        out: &mut Notices,
    ) -> Result<(), MeetingError> {
        let session = self.sessions.get_mut(id).map(Arc::make_mut).ok_or(MeetingError::NotFound)?;
        if !session.receives_messages() {
            return Err(MeetingError::Conflict);
        }
        if session.sent_messages.iter().any(|m| m.id == request.id) {
            return Err(MeetingError::Conflict);
        }
        let MessageRequest { id: message_id, operation_id, content } = request;
        // The message ends its typing, before anyone sees the message.
        self.stop_typing(id, out);
        let Some(session) = self.sessions.get_mut(id).map(Arc::make_mut) else { return Ok(()) };
        session.sent_messages.push(SentMessage {
            id: message_id.clone(),
            operation_id: operation_id.clone(),
            at_ms: now_ms,
        });
        let excess = session.sent_messages.len().saturating_sub(SENT_MESSAGES_KEPT);
        session.sent_messages.drain(..excess);
        let message = Message { id: message_id, sender: id.to_owned(), operation_id, content, at_ms: now_ms };
        out.push(id, NoticeKind::MessageStarted { message: message.clone() });
        let receivers: Vec<String> =
            self.roster_viewers(id).filter(|(_, s)| s.receives_messages()).map(|(r, _)| r.clone()).collect();
        for receiver in receivers {
            out.push(&receiver, NoticeKind::MessageReceived { message: message.clone() });
        }
        out.push(id, NoticeKind::MessageCompleted { message });
        Ok(())
    }

    /// `setIsTyping`: the session shows as typing for [`TYPING_MS`]; another call within
    /// that time only extends it. The others that receive messages are told once when it
    /// starts (hidden trusted sessions are never announced).
    pub(super) fn set_typing(&mut self, id: &str, now_ms: i64, out: &mut Notices) -> Result<(), MeetingError> {
        let session = self.sessions.get(id).ok_or(MeetingError::NotFound)?;
        if !session.receives_messages() {
            return Err(MeetingError::Conflict);
        }
        let until_ms = now_ms.saturating_add(TYPING_MS);
        let told = match &session.typing {
            Some(typing) => typing.told.clone(),
            None if session.identity.trusted => Vec::new(),
            None => {
                let told: Vec<String> =
                    self.roster_viewers(id).filter(|(_, s)| s.receives_messages()).map(|(v, _)| v.clone()).collect();
                for viewer in &told {
                    out.push(viewer, NoticeKind::TypingStarted { subject: id.to_owned() });
                }
                told
            }
        };
        if let Some(session) = self.sessions.get_mut(id).map(Arc::make_mut) {
            session.typing = Some(Typing { until_ms, told });
        }
        Ok(())
    }

    /// Ends `id`'s typing, telling those it was announced to who still receive messages.
    pub(super) fn stop_typing(&mut self, id: &str, out: &mut Notices) {
        let Some(typing) = self.sessions.get_mut(id).map(Arc::make_mut).and_then(|s| s.typing.take()) else {
            return;
        };
        for viewer in typing.told {
            if self.sessions.get(&viewer).is_some_and(|s| s.receives_messages()) {
                out.push(&viewer, NoticeKind::TypingStopped { subject: id.to_owned() });
            }
        }
    }

    /// Ends the typing nobody renewed by `now_ms`.
    pub(super) fn expire_typing(&mut self, now_ms: i64, out: &mut Notices) {
        let due: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.typing.as_ref().is_some_and(|t| t.until_ms <= now_ms))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.stop_typing(&id, out);
        }
    }

    /// `viewer` no longer receives messages: it is not told when others stop typing.
    pub(super) fn forget_typing_viewer(&mut self, viewer: &str) {
        let typists: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.typing.as_ref().is_some_and(|t| t.told.iter().any(|v| v == viewer)))
            .map(|(id, _)| id.clone())
            .collect();
        for typist in typists {
            if let Some(typing) = self.sessions.get_mut(&typist).map(Arc::make_mut).and_then(|s| s.typing.as_mut()) {
                typing.told.retain(|v| v != viewer);
            }
        }
    }
}
