//! What comes to the application uninvited: invitations to meetings (someone's
//! `addParticipant`), person-to-person calls (`startMessaging`) and messages in its
//! conversations (docs/protocol.md, onlineMeetingInvitation, messagingInvitation, message).
//! Only applications that called [`Application::make_me_available`] are invited.

use ucwa_proto::RelName;
use ucwa_proto::model::{self, AnyResource, EventType, Status};
use ucwa_proto::request::Decline;
use ucwa_proto::values::Direction;

use crate::application::Application;
use crate::conversation::{Conversation, IncomingMessage};
use crate::error::{Error, Result};
use crate::events::{ChannelEvent, ChannelItem};
use crate::hub::Notifications;

/// Which kind of invitation rings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvitationKind {
    /// An invitation into a meeting.
    Meeting,
    /// A person-to-person messaging call.
    Messaging,
}

/// An invitation ringing on this application, with `accept` and `decline`.
#[derive(Debug, Clone)]
pub struct IncomingInvitation {
    app: Application,
    /// The invitation's absolute URL.
    pub href: String,
    /// Meeting or messaging.
    pub kind: InvitationKind,
    /// The inviter's display name.
    pub from_name: Option<String>,
    /// The inviter's URI.
    pub from_uri: Option<String>,
    /// The invitation's subject.
    pub subject: Option<String>,
    /// The first message, decoded, when the inviter sent one.
    pub message: Option<String>,
    accept: Option<String>,
    decline: Option<String>,
}

impl IncomingInvitation {
    fn of(app: &Application, event: &ChannelEvent) -> Option<Self> {
        let e = &event.event;
        if e.kind != EventType::Started {
            return None;
        }
        let resource = e.resource()?;
        let (kind, invitation) = match resource {
            AnyResource::OnlineMeetingInvitation(i) => (InvitationKind::Meeting, &i.props.invitation),
            AnyResource::MessagingInvitation(i) => (InvitationKind::Messaging, &i.props.invitation),
            _ => return None,
        };
        if invitation.direction != Direction::Incoming {
            return None;
        }
        let http = app.http();
        let link = |name: RelName| resource.links().href(name).and_then(|h| http.resolve(h).ok()).map(String::from);
        let from = resource.embedded().one::<model::Participant>(RelName::From);
        let message =
            resource.links().href(RelName::Message).and_then(ucwa_proto::encode::decode_data_uri).map(|(_, t)| t);
        Some(Self {
            app: app.clone(),
            href: http.resolve(&e.link.href).ok()?.to_string(),
            kind,
            from_name: from
                .and_then(|f| f.props.name.clone())
                .or_else(|| resource.links().get(RelName::From)?.title.clone()),
            from_uri: from.and_then(|f| f.props.uri.clone()),
            subject: invitation.subject.clone(),
            message,
            accept: link(RelName::Accept),
            decline: link(RelName::Decline),
        })
    }

    /// Accepts, and waits until the application is in the conversation.
    pub async fn accept(&self) -> Result<Conversation> {
        let accept = self
            .accept
            .as_deref()
            .ok_or_else(|| Error::NotAvailable { rel: RelName::Accept, resource: self.href.clone() })?;
        let mut events = self.app.subscribe()?;
        self.app.http().act(accept).await?;
        while let Some(item) = events.recv().await {
            let item = item.map_err(|e| Error::Failed { operation: format!("accepting ({e})"), reason: None })?;
            let ChannelItem::Event(event) = &*item else { continue };
            let e = &event.event;
            let ours = e.kind == EventType::Completed
                && self.app.http().resolve(&e.link.href).is_ok_and(|u| u.as_str() == self.href);
            if !ours {
                continue;
            }
            if e.status != Some(Status::Success) {
                return Err(Error::Failed {
                    operation: "accepting the invitation".into(),
                    reason: e.reason.clone().map(Box::new),
                });
            }
            let conversation = e
                .resource()
                .and_then(|r| r.links().href(RelName::Conversation))
                .ok_or_else(|| Error::NotAvailable { rel: RelName::Conversation, resource: self.href.clone() })?;
            let href = self.app.http().resolve(conversation)?.to_string();
            return Ok(Conversation::new(self.app.clone(), href, Some(events)));
        }
        Err(Error::Failed { operation: "accepting the invitation".into(), reason: None })
    }

    /// Declines on every application of the user.
    pub async fn decline(&self) -> Result<()> {
        self.decline_with(None).await
    }

    /// Declines with a CallDeclineReason: `Local` declines only this application's copy.
    pub async fn decline_with(&self, reason: Option<&str>) -> Result<()> {
        let decline = self
            .decline
            .as_deref()
            .ok_or_else(|| Error::NotAvailable { rel: RelName::Decline, resource: self.href.clone() })?;
        self.app.http().act_with(decline, &Decline::new(reason)).await
    }
}

/// Something that came to the application.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum IncomingEvent {
    /// An invitation rings.
    Invitation(IncomingInvitation),
    /// A message arrived in one of its conversations.
    Message(IncomingMessage),
}

/// The stream of [`IncomingEvent`]s of an application, from [`Application::incoming`].
#[derive(Debug)]
pub struct Incoming {
    app: Application,
    events: Notifications,
}

impl Incoming {
    /// The next invitation or message; `Err` when the event channel ended.
    pub async fn next(&mut self) -> Option<Result<IncomingEvent>> {
        loop {
            let item = match self.events.recv().await? {
                Ok(item) => item,
                Err(e) => {
                    return Some(Err(Error::Failed { operation: format!("the event channel ({e})"), reason: None }));
                }
            };
            let ChannelItem::Event(event) = &*item else { continue };
            if let Some(invitation) = IncomingInvitation::of(&self.app, event) {
                return Some(Ok(IncomingEvent::Invitation(invitation)));
            }
            if let Some(message) = IncomingMessage::of(self.app.http(), event) {
                return Some(Ok(IncomingEvent::Message(message)));
            }
        }
    }
}

impl Application {
    /// Invitations and messages that come to the application from now on.
    pub fn incoming(&self) -> Result<Incoming> {
        Ok(Incoming { app: self.clone(), events: self.subscribe()? })
    }
}
