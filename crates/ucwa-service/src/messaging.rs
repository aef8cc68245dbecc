//! Messaging (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/sendanim>; the
//! recorded `Event_Messaging*` / `Event_Message*` payloads): `startMessaging` (a two-party
//! conversation), `addMessaging` (messaging in a meeting conversation), `sendMessage`, the
//! `message` operation and `stopMessaging`.
//!
//! `POST communication/messagingInvitations` is `startMessaging` without a `conversation`
//! parameter and `addMessaging` with one (the shape real servers advertise). A message is
//! the raw request body, `text/plain` or `text/html` (UTF-8, also when no charset is given).

use serde_json::Value;
use ucwa_core::credentials::new_id;
use ucwa_core::meeting::{Call, Command, Content, InvitationKind, InvitationRequest, Meeting, MessageRequest};
use ucwa_core::model::Application;
use ucwa_proto::input::{PropertyBag, Validator, text};

use crate::Services;
use crate::conversations::SessionRef;
use crate::error::{ServiceError, ServiceResult};
use crate::invitations::{ensure_signed_in, invitees};
use crate::join::identity_of;
use crate::render::messaging::sent_message;
use crate::validate::{IMPORTANCE, content, importance, sip_target};

/// The text of a `sendMessage` body of media type `content_type`: `text/plain` or
/// `text/html`, UTF-8, at most `max_chars` characters (every receiver gets a copy).
fn message_body(content_type: Option<&str>, body: &[u8], max_chars: usize) -> ServiceResult<Content> {
    let mut params = content_type.unwrap_or("").split(';').map(str::trim);
    let mime = params.next().unwrap_or("").to_ascii_lowercase();
    if mime != "text/plain" && mime != "text/html" {
        return Err(ServiceError::UnsupportedMediaType);
    }
    let charset_ok = params
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .all(|(_, cs)| {
            ["utf-8", "utf8", "us-ascii"].contains(&cs.trim().trim_matches('"').to_ascii_lowercase().as_str())
        });
    if !charset_ok {
        return Err(ServiceError::UnsupportedMediaType);
    }
    let mut v = Validator::new();
    let text = match std::str::from_utf8(body) {
        Ok("") => {
            v.fail("message", "must not be empty");
            String::new()
        }
        Ok(text) if text.chars().count() > max_chars => {
            v.fail("message", format!("longer than {max_chars} characters"));
            String::new()
        }
        Ok(text) => text.to_owned(),
        Err(_) => {
            v.fail("message", "must be UTF-8 text");
            String::new()
        }
    };
    v.finish()?;
    Ok(Content::new(mime, text))
}

impl Services {
    /// `POST communication/messagingInvitations[?conversation=<id>]`: returns the session
    /// whose `messagingInvitation` tracks it.
    pub async fn start_messaging(&self, app: &Application, base: &str, input: &PropertyBag) -> ServiceResult<String> {
        if input.contains("conversation") {
            return self.add_messaging(app, input).await;
        }
        let mut v = Validator::new();
        let to = sip_target(&mut v, input);
        let operation_id = v.check(input.string("operationId", 50));
        let subject = v.check(input.string("subject", 250));
        let importance_value = v.check(input.enumeration("importance", IMPORTANCE));
        let thread_id = v.check(input.string("threadId", 250));
        let message = content(&mut v, input, "message", true, self.limits.max_invitation_message_chars);
        v.finish()?;
        let to = to.unwrap_or_default();
        ensure_signed_in(app)?;
        let _retry_guard = self.operation_lock(app, operation_id.as_deref()).await;
        if let Some(started) = self.started_operation(app, operation_id.as_deref(), InvitationKind::Messaging).await? {
            return Ok(started);
        }
        let user = self.invited_user(&to).await?;
        // The caller's own other applications ring too when calling oneself, but not this one.
        let apps: Vec<_> =
            self.store.online_applications(&user.uri).await?.into_iter().filter(|a| a.id != app.id).collect();
        // The conversation is a two-party meeting aggregate; the settings apply if it is ever
        // escalated (the caller then organizes the ad hoc meeting).
        let mut settings = self.new_meeting_settings(&app.owner_uri);
        settings.subject = subject.clone().unwrap_or_default();
        let record = self.create_meeting(base, settings, Meeting::two_party).await?;
        let session_id = new_id();
        let call = Call {
            session_id: session_id.clone(),
            app_id: app.id.clone(),
            identity: identity_of(app),
            invitation: InvitationRequest {
                operation_id: operation_id.clone(),
                subject,
                importance: importance(importance_value),
                thread_id: Some(thread_id.unwrap_or_else(new_id)),
                kind: InvitationKind::Messaging,
                to: Some(user.uri.clone()),
                message,
                ..InvitationRequest::outgoing(session_id.clone())
            },
            invitees: invitees(&user, &apps, None),
            answer_timeout_ms: self.limits.invitation_timeout_ms(),
        };
        let started = self.meetings.command(record.meeting.id(), Command::Call(Box::new(call))).await;
        self.settle_operation(app, operation_id.as_deref(), InvitationKind::Messaging, session_id, started).await
    }

    /// `addMessaging` of a meeting conversation.
    async fn add_messaging(&self, app: &Application, input: &PropertyBag) -> ServiceResult<String> {
        let mut v = Validator::new();
        let conversation = v.check(input.required_string("conversation", 100));
        let operation_id = v.check(input.string("operationId", 50));
        v.finish()?;
        let meeting_id = self.locate(app, &SessionRef::unread(&conversation)).await?;
        self.meetings
            .command(&meeting_id, Command::AddMessaging { session: conversation.clone(), operation_id })
            .await?;
        Ok(conversation)
    }

    /// `POST <messaging>/messages` (`sendMessage`): returns the new message's id. Refused with
    /// 409 unless this conversation's messaging is connected. A retry with the `operationId`
    /// of a message the conversation still keeps returns that message's id and sends nothing:
    /// a client that lost the answer (a node died, the database was cut over) sends again
    /// without the others seeing the message twice. The check runs inside the meeting
    /// command, so two copies racing on two nodes are settled by the save's compare-and-swap.
    pub async fn send_message(
        &self,
        app: &Application,
        session: &SessionRef,
        operation_id: Option<String>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> ServiceResult<String> {
        let mut v = Validator::new();
        if let Some(o) = &operation_id {
            v.check(text("operationId", o, 50));
        }
        v.finish()?;
        let content = message_body(content_type, body, self.limits.max_message_chars)?;
        let meeting_id = self.locate(app, session).await?;
        let id = new_id();
        let message = MessageRequest { id: id.clone(), operation_id, content };
        let sender = session.id();
        self.meetings
            .run(&meeting_id, |record, now| {
                // A retry: the message this operationId sent (nothing changes), as for
                // `addParticipant`.
                if let Some(op) = &message.operation_id
                    && let Some(first) = record.meeting.session(sender).and_then(|s| s.sent_with_operation(op))
                {
                    return Ok((first.id.clone(), Vec::new()));
                }
                let send = Command::SendMessage { session: sender.to_owned(), message: message.clone() };
                Ok((id.clone(), record.meeting.handle(send, now)?))
            })
            .await
    }

    /// `GET <messaging>/messages/{id}`: one of the session's recently sent messages.
    pub async fn sent_message(
        &self,
        app: &Application,
        session: &SessionRef,
        message_id: &str,
    ) -> ServiceResult<Value> {
        self.view(app, session, |v| {
            let sent =
                v.session.sent_messages.iter().find(|m| m.id == message_id).ok_or_else(ServiceError::not_found)?;
            Ok(sent_message(v, &sent.id, sent.operation_id.as_deref(), sent.at_ms).into_value())
        })
        .await
    }

    /// `POST <messaging>/typing` (`setIsTyping`): the session shows as typing to the others
    /// for a few seconds (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/setistyping_ref>);
    /// 409 unless its messaging is connected.
    pub async fn set_typing(&self, app: &Application, session: &SessionRef) -> ServiceResult<()> {
        let meeting_id = self.locate(app, session).await?;
        self.meetings.command(&meeting_id, Command::SetTyping { session: session.id().to_owned() }).await
    }

    /// `GET <messaging>/typingParticipants`.
    pub async fn typing_participants(&self, app: &Application, session: &SessionRef) -> ServiceResult<Value> {
        self.view(app, session, |v| Ok(crate::render::messaging::typing_participants(v).into_value())).await
    }

    /// `POST <messaging>/terminate` (`stopMessaging`).
    pub async fn stop_messaging(&self, app: &Application, session: &SessionRef) -> ServiceResult<()> {
        let meeting_id = self.locate(app, session).await?;
        self.meetings.command(&meeting_id, Command::StopMessaging { session: session.id().to_owned() }).await
    }
}
