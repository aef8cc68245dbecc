//! Joining: an outgoing invitation (`joinOnlineMeeting`, `startOnlineMeeting`,
//! `startMessaging`) followed from `201 Created` to its one completion
//! ([onlineMeetingInvitation](https://learn.microsoft.com/en-us/skype-sdk/ucwa/onlinemeetinginvitation_ref),
//! [operation resource](https://learn.microsoft.com/en-us/skype-sdk/ucwa/operationresource);
//! docs/protocol.md, onlineMeetingInvitation, messagingInvitation).
//!
//! The states come from events: the invitation `started` (Connecting), the conversation
//! `updated` to `InLobby`, the invitation `completed` with `Success` (Connected) or `Failure`
//! and a reason. A `resync` makes the handle read the invitation and conversation again.

use ucwa_proto::error::{ErrorBody, ErrorSubcode};
use ucwa_proto::model::{self, AnyResource, EventType, Hal, Status};
use ucwa_proto::request::{JoinOnlineMeeting, StartMessaging};
use ucwa_proto::values::{ConversationState, InvitationState};
use ucwa_proto::{RelName, SipUri};

use crate::application::Application;
use crate::client::MeetingAddress;
use crate::conversation::Conversation;
use crate::error::{Error, Result};
use crate::events::ChannelItem;
use crate::http::Body;
use crate::hub::Notifications;

/// Where a join stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinState {
    /// The server is connecting the application.
    Connecting,
    /// Waiting in the meeting's lobby for a leader to admit it.
    InLobby,
    /// In the meeting (or the call was answered).
    Connected,
    /// It failed; nothing follows.
    Failed(JoinFailure),
}

/// Why a join failed (docs/protocol.md, errors: the reasons of failed operations).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureReason {
    /// A leader rejected it from the lobby (`Denied`).
    Rejected,
    /// Nobody admitted it, or nobody answered, in time (`Timeout`, `Missed`).
    TimedOut,
    /// The joiner cancelled (`Canceled`).
    Cancelled,
    /// The meeting was deleted or expired (`Ended`).
    MeetingEnded,
    /// The callee declined (`Declined`).
    Declined,
    /// The callee has no application online (`TemporarilyUnavailable`).
    Unavailable,
    /// The event channel ended before the join did.
    ChannelEnded,
    /// Another reason; see [`JoinFailure::error`].
    Other,
}

/// A failed join: the reason, and the server's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinFailure {
    /// The documented reason.
    pub reason: FailureReason,
    /// The `reason` body of the failed completion.
    pub error: Option<ErrorBody>,
    /// A description for people.
    pub message: String,
}

impl JoinFailure {
    fn from_reason(error: Option<ErrorBody>) -> Self {
        let reason = match error.as_ref().and_then(|e| e.subcode.as_ref()) {
            Some(ErrorSubcode::Denied) => FailureReason::Rejected,
            Some(ErrorSubcode::Timeout | ErrorSubcode::Missed) => FailureReason::TimedOut,
            Some(ErrorSubcode::Canceled) => FailureReason::Cancelled,
            Some(ErrorSubcode::Ended) => FailureReason::MeetingEnded,
            Some(ErrorSubcode::Declined) => FailureReason::Declined,
            Some(ErrorSubcode::TemporarilyUnavailable | ErrorSubcode::Unavailable) => FailureReason::Unavailable,
            _ => FailureReason::Other,
        };
        let message = match (&reason, error.as_ref().and_then(ErrorBody::message)) {
            (_, Some(text)) => text.to_owned(),
            (FailureReason::Rejected, None) => "a leader turned the join away".into(),
            (FailureReason::TimedOut, None) => "nobody let the join in in time".into(),
            (FailureReason::Cancelled, None) => "the join was cancelled".into(),
            (FailureReason::MeetingEnded, None) => "the meeting ended".into(),
            _ => "the join failed".into(),
        };
        Self { reason, error, message }
    }
}

impl std::fmt::Display for JoinFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JoinFailure {}

impl From<JoinFailure> for Error {
    fn from(failure: JoinFailure) -> Self {
        Error::Failed { operation: format!("the join ({})", failure.message), reason: failure.error.map(Box::new) }
    }
}

/// An outgoing invitation on its way: a join of a meeting, or a call. Read its states with
/// [`Join::next_state`] (or [`Join::connected`]); [`Join::cancel`] withdraws it.
pub struct Join {
    app: Application,
    invitation: String,
    operation_id: String,
    rel: RelName,
    conversation: Option<String>,
    events: Notifications,
    last: Option<JoinState>,
}

impl std::fmt::Debug for Join {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Join").field("invitation", &self.invitation).field("state", &self.last).finish_non_exhaustive()
    }
}

impl Join {
    /// POSTs `body` to `href` after subscribing, so events that arrive before the `201`
    /// are not missed.
    pub(crate) async fn start(
        app: &Application,
        href: &str,
        rel: RelName,
        operation_id: String,
        body: Body,
    ) -> Result<Self> {
        let events = app.subscribe()?;
        let invitation = app.http().start(href, body).await?;
        Ok(Self { app: app.clone(), invitation, operation_id, rel, conversation: None, events, last: None })
    }

    /// The invitation's absolute URL.
    pub fn invitation(&self) -> &str {
        &self.invitation
    }

    /// The conversation's absolute URL, once known.
    pub fn conversation(&self) -> Option<&str> {
        self.conversation.as_deref()
    }

    /// The state last handed out.
    pub fn state(&self) -> Option<&JoinState> {
        self.last.as_ref()
    }

    /// Withdraws the join (the invitation's `cancel` link, there while it is connecting).
    /// Its state then becomes `Failed` with [`FailureReason::Cancelled`].
    pub async fn cancel(&self) -> Result<()> {
        let invitation: Hal<serde_json::Map<String, serde_json::Value>> = self.app.http().get(&self.invitation).await?;
        let cancel = invitation
            .links
            .href(RelName::Cancel)
            .ok_or_else(|| Error::NotAvailable { rel: RelName::Cancel, resource: self.invitation.clone() })?;
        self.app.http().act(cancel).await
    }

    /// Waits for the join to complete: the conversation on success.
    pub async fn connected(mut self) -> Result<Conversation, JoinFailure> {
        loop {
            let state = match &self.last {
                Some(done @ (JoinState::Connected | JoinState::Failed(_))) => Some(done.clone()),
                _ => self.next_state().await,
            };
            match state {
                Some(JoinState::Connected) => {
                    let href = self.conversation.clone().ok_or_else(|| JoinFailure {
                        reason: FailureReason::Other,
                        error: None,
                        message: "the invitation named no conversation".into(),
                    })?;
                    return Ok(Conversation::new(self.app, href, Some(self.events)));
                }
                Some(JoinState::Failed(failure)) => return Err(failure),
                Some(_) => {}
                None => return Err(channel_ended("the event channel closed".into())),
            }
        }
    }

    /// The next state, or `None` after `Connected` or `Failed` was handed out.
    pub async fn next_state(&mut self) -> Option<JoinState> {
        if matches!(self.last, Some(JoinState::Connected | JoinState::Failed(_))) {
            return None;
        }
        loop {
            let state = match self.events.recv().await {
                None => JoinState::Failed(channel_ended("the event channel closed".into())),
                Some(Err(e)) => JoinState::Failed(channel_ended(e.to_string())),
                Some(Ok(item)) => match &*item {
                    ChannelItem::Event(event) => match self.state_of(&event.event) {
                        Some(state) => state,
                        None => continue,
                    },
                    ChannelItem::Resync => match self.reread().await {
                        Ok(state) => state,
                        Err(e) => JoinState::Failed(channel_ended(e.to_string())),
                    },
                    _ => continue,
                },
            };
            if self.last.as_ref() != Some(&state) {
                self.last = Some(state.clone());
                return Some(state);
            }
        }
    }

    fn resolves_to(&self, href: &str, target: &str) -> bool {
        self.app.http().resolve(href).is_ok_and(|u| u.as_str() == target)
    }

    /// Whether an embedded resource is this join's invitation (the `201` may not be read
    /// yet when its first events are: the operation id tells them apart too).
    fn is_ours(&self, href: &str, resource: Option<&AnyResource>) -> bool {
        if self.resolves_to(href, &self.invitation) {
            return true;
        }
        let operation_id = match resource {
            Some(AnyResource::OnlineMeetingInvitation(i)) => i.props.invitation.operation_id.as_deref(),
            Some(AnyResource::MessagingInvitation(i)) => i.props.invitation.operation_id.as_deref(),
            _ => None,
        };
        operation_id == Some(self.operation_id.as_str())
    }

    /// The state an event leads to, if it is about this join.
    fn state_of(&mut self, event: &model::Event) -> Option<JoinState> {
        if event.link.rel.name == self.rel && self.is_ours(&event.link.href, event.resource()) {
            if let Some(conversation) = event.resource().and_then(|r| r.links().href(RelName::Conversation))
                && let Ok(url) = self.app.http().resolve(conversation)
            {
                self.conversation = Some(url.to_string());
            }
            return match (event.kind, event.status) {
                (EventType::Completed, Some(Status::Success)) => Some(JoinState::Connected),
                (EventType::Completed, _) => Some(JoinState::Failed(JoinFailure::from_reason(event.reason.clone()))),
                // Still connecting; a lobby wait stays `InLobby`.
                _ if self.last.is_none() => Some(JoinState::Connecting),
                _ => None,
            };
        }
        let conversation = self.conversation.as_deref()?;
        if event.link.rel.name == RelName::Conversation && self.resolves_to(&event.link.href, conversation) {
            let state = &event.resource_as::<model::Conversation>()?.props.state;
            return match state {
                ConversationState::InLobby => Some(JoinState::InLobby),
                _ => None,
            };
        }
        None
    }

    /// The state as the resources tell it (after a `resync`).
    async fn reread(&mut self) -> Result<JoinState> {
        let http = self.app.http();
        let invitation: Hal<model::OnlineMeetingInvitation> = http.get(&self.invitation).await?;
        if let Some(conversation) = invitation.links.href(RelName::Conversation) {
            self.conversation = Some(http.resolve(conversation)?.to_string());
        }
        Ok(match invitation.props.invitation.state {
            InvitationState::Connected => JoinState::Connected,
            InvitationState::Connecting => {
                let in_lobby = match &self.conversation {
                    Some(href) => {
                        http.get::<model::Conversation>(href).await?.props.state == ConversationState::InLobby
                    }
                    None => false,
                };
                if in_lobby { JoinState::InLobby } else { JoinState::Connecting }
            }
            _ => JoinState::Failed(JoinFailure::from_reason(None)),
        })
    }
}

fn channel_ended(message: String) -> JoinFailure {
    JoinFailure { reason: FailureReason::ChannelEnded, error: None, message }
}

impl Application {
    /// Joins the meeting at `meeting` (`joinOnlineMeeting`). Anonymous guests join with their
    /// display name. Follow the returned handle to learn whether it waits in the lobby, was
    /// let in or turned away.
    pub async fn join_meeting(&self, meeting: &MeetingAddress) -> Result<Join> {
        let mut body = JoinOnlineMeeting::new(Some(meeting.uri.clone()), self.operation_id());
        body.anonymous_display_name = self.guest_name().map(str::to_owned);
        self.join_with(body).await
    }

    /// Sends a join request of the caller's making (subject, importance, Trusted Application
    /// API fields, ...). Without a meeting URI it starts a new ad hoc meeting.
    pub async fn join_with(&self, body: JoinOnlineMeeting) -> Result<Join> {
        let operation_id = body.operation_id.clone().unwrap_or_default();
        let href = self.find_href(RelName::JoinOnlineMeeting)?;
        Join::start(self, &href, RelName::OnlineMeetingInvitation, operation_id, Body::json(&body)?).await
    }

    /// Starts a new ad hoc meeting the user organizes (`startOnlineMeeting`) and joins it.
    pub async fn start_meeting(&self, subject: &str) -> Result<Join> {
        let mut body = JoinOnlineMeeting::new(None, self.operation_id());
        body.subject = Some(subject.to_owned());
        let href = self.find_href(RelName::StartOnlineMeeting)?;
        let operation_id = body.operation_id.clone().unwrap_or_default();
        Join::start(self, &href, RelName::OnlineMeetingInvitation, operation_id, Body::json(&body)?).await
    }

    /// Calls a user for a person-to-person conversation (`startMessaging`), with a first
    /// message. The handle is `Connected` once the callee accepts.
    pub async fn start_messaging(&self, to: SipUri, message: Option<&str>) -> Result<Join> {
        let mut body = StartMessaging::new(to, self.operation_id());
        body.message = message.map(str::to_owned);
        let operation_id = body.operation_id.clone().unwrap_or_default();
        let href = self.find_href(RelName::StartMessaging)?;
        Join::start(self, &href, RelName::MessagingInvitation, operation_id, Body::json(&body)?).await
    }
}
