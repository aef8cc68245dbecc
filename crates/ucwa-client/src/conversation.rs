//! A conversation the application is in (a meeting or a two-party call), its participants,
//! its lobby and its messages ([conversation](https://learn.microsoft.com/en-us/skype-sdk/ucwa/conversation_ref),
//! [participant](https://learn.microsoft.com/en-us/skype-sdk/ucwa/participant_ref);
//! docs/protocol.md, conversation, participant, participants, lobby, messaging, message).
//!
//! What changes arrives as [`ConversationChange`]s, read with [`Conversation::next_change`]:
//! events whose sender is the conversation (participants, messaging, messages) and the
//! conversation's own `updated`/`deleted` events. Actions follow the capability links the
//! server put on the resources: a leader sees `admit` on a waiting participant, an attendee
//! does not, and asking for a missing one is [`Error::NotAvailable`] without a request.

use std::collections::VecDeque;

use ucwa_proto::error::ErrorBody;
use ucwa_proto::model::{self, Dashboard, Event, EventType, Hal};
use ucwa_proto::request::{AddMessaging, AddParticipant};
use ucwa_proto::values::{ConversationState, Direction, ModalityState, Role};
use ucwa_proto::{RelName, SipUri};

use crate::application::Application;
use crate::error::{Error, Result};
use crate::events::{ChannelEvent, ChannelItem};
use crate::http::{Body, Http};
use crate::hub::Notifications;

/// A participant of a conversation, as the application sees it, with the actions its links
/// allow.
#[derive(Debug, Clone)]
pub struct Participant {
    http: Http,
    href: String,
    resource: Hal<model::Participant>,
}

impl Participant {
    pub(crate) fn new(http: &Http, resource: Hal<model::Participant>) -> Result<Self> {
        let href = resource
            .self_href()
            .ok_or_else(|| Error::NotAvailable { rel: RelName::SelfLink, resource: "a participant".into() })?;
        Ok(Self { href: http.resolve(href)?.to_string(), http: http.clone(), resource })
    }

    /// The participant's absolute URL.
    pub fn href(&self) -> &str {
        &self.href
    }

    /// The resource as last seen.
    pub fn resource(&self) -> &Hal<model::Participant> {
        &self.resource
    }

    /// The display name.
    pub fn name(&self) -> Option<&str> {
        self.resource.props.name.as_deref()
    }

    /// The participant's URI (`sip:` or `tel:`).
    pub fn uri(&self) -> Option<&str> {
        self.resource.props.uri.as_deref()
    }

    /// The participant's SIP URI, when it has one.
    pub fn sip_uri(&self) -> Option<SipUri> {
        self.uri().and_then(|u| SipUri::parse(u).ok())
    }

    /// Whether it is an anonymous guest.
    pub fn is_anonymous(&self) -> bool {
        self.resource.props.anonymous == Some(true)
    }

    /// Whether it waits in the lobby.
    pub fn in_lobby(&self) -> bool {
        self.resource.props.in_lobby == Some(true)
    }

    /// Whether it is the application itself.
    pub fn is_local(&self) -> bool {
        self.resource.props.local == Some(true)
    }

    /// Whether it organizes the meeting.
    pub fn is_organizer(&self) -> bool {
        self.resource.props.organizer == Some(true)
    }

    /// `Leader` or `Attendee`.
    pub fn role(&self) -> Option<&Role> {
        self.resource.props.role.as_ref()
    }

    /// Whether the application may do `action` (`admit`, `reject`, `promote`, `demote`,
    /// `eject`) to this participant now.
    pub fn can(&self, action: RelName) -> bool {
        self.resource.links.href(action).is_some()
    }

    async fn act(&self, action: RelName) -> Result<()> {
        let href = self
            .resource
            .links
            .href(action.clone())
            .ok_or_else(|| Error::NotAvailable { rel: action, resource: self.href.clone() })?;
        self.http.act(href).await
    }

    /// Lets a waiting participant in (a leader's action).
    pub async fn admit(&self) -> Result<()> {
        self.act(RelName::Admit).await
    }

    /// Turns a waiting participant away: its join fails with `Denied`.
    pub async fn reject(&self) -> Result<()> {
        self.act(RelName::Reject).await
    }

    /// Makes an attendee a leader.
    pub async fn promote(&self) -> Result<()> {
        self.act(RelName::Promote).await
    }

    /// Makes a leader (not the organizer) an attendee.
    pub async fn demote(&self) -> Result<()> {
        self.act(RelName::Demote).await
    }

    /// Removes a participant from the meeting.
    pub async fn eject(&self) -> Result<()> {
        self.act(RelName::Eject).await
    }

    /// Reads the participant again (its links follow its state).
    pub async fn refresh(&self) -> Result<Participant> {
        let resource = self.http.get(&self.href).await?;
        Participant::new(&self.http, resource)
    }
}

/// A participant known only by its link: what a `deleted` event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantRef {
    /// The participant's absolute URL.
    pub href: String,
    /// Its display name (the link's title), if given.
    pub name: Option<String>,
}

/// Where in a conversation a participant entered or left.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum View {
    /// Waiting for admission.
    Lobby,
    /// The leaders.
    Leaders,
    /// The attendees.
    Attendees,
    /// The conversation itself (two-party conversations have no views; in a meeting, leaving
    /// the conversation).
    Conversation,
}

impl View {
    fn of(event: &Event) -> View {
        match event.in_.as_ref().map(|i| &i.rel.name) {
            Some(RelName::Lobby) => View::Lobby,
            Some(RelName::Leaders) => View::Leaders,
            Some(RelName::Attendees) => View::Attendees,
            _ => View::Conversation,
        }
    }
}

/// An instant message someone sent into a conversation the application is in.
#[derive(Debug, Clone)]
pub struct IncomingMessage {
    http: Http,
    /// The text (HTML is passed on as it came, never interpreted).
    pub text: String,
    /// `text/plain` or `text/html`.
    pub content_type: String,
    /// Who sent it.
    pub from: Option<ParticipantRef>,
    /// The conversation's absolute URL.
    pub conversation: String,
    messaging: Option<String>,
}

impl IncomingMessage {
    /// The message of an event, if it is an incoming message.
    pub(crate) fn of(http: &Http, event: &ChannelEvent) -> Option<Self> {
        let e = &event.event;
        if e.link.rel.name != RelName::Message || e.kind != EventType::Completed {
            return None;
        }
        let message = e.resource_as::<model::Message>()?;
        if message.props.direction != Direction::Incoming {
            return None;
        }
        let data = message.links.href(RelName::PlainMessage).or_else(|| message.links.href(RelName::HtmlMessage))?;
        let (content_type, text) = ucwa_proto::encode::decode_data_uri(data)?;
        let from = message.links.get(RelName::Participant).and_then(|l| {
            Some(ParticipantRef { href: http.resolve(&l.href).ok()?.to_string(), name: l.title.clone() })
        });
        let messaging = message.links.href(RelName::Messaging).and_then(|h| http.resolve(h).ok()).map(String::from);
        Some(Self {
            http: http.clone(),
            text,
            content_type,
            from,
            conversation: http.resolve(&event.sender.href).ok()?.to_string(),
            messaging,
        })
    }

    /// Answers in the same conversation.
    pub async fn reply(&self, text: &str) -> Result<()> {
        let messaging = match &self.messaging {
            Some(href) => href.clone(),
            None => conversation_link(&self.http, &self.conversation, RelName::Messaging).await?,
        };
        send_on(&self.http, &messaging, "text/plain; charset=utf-8", text).await
    }
}

/// The absolute href of the link `name` of the conversation at `href`.
async fn conversation_link(http: &Http, href: &str, name: RelName) -> Result<String> {
    let conversation: Hal<model::Conversation> = http.get(href).await?;
    let link = conversation
        .links
        .href(name.clone())
        .ok_or_else(|| Error::NotAvailable { rel: name, resource: href.into() })?;
    Ok(http.resolve(link)?.to_string())
}

/// POSTs a message to the `sendMessage` link of the messaging resource at `messaging`.
async fn send_on(http: &Http, messaging: &str, content_type: &'static str, text: &str) -> Result<()> {
    let resource: Hal<model::Messaging> = http.get(messaging).await?;
    let send = resource
        .links
        .href(RelName::SendMessage)
        .ok_or_else(|| Error::NotAvailable { rel: RelName::SendMessage, resource: messaging.into() })?;
    http.start(send, Body::Text { content_type, text: text.to_owned() }).await.map(drop)
}

/// A change in a conversation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConversationChange {
    /// A participant entered a view: the lobby (someone is waiting), the leaders or the
    /// attendees (joined, admitted, promoted, demoted), or a two-party conversation.
    Entered {
        /// Who.
        participant: Participant,
        /// Where.
        view: View,
    },
    /// A participant left a view (admitted, rejected or gone from the lobby; promoted out of
    /// the attendees; left the meeting). `reason` tells an ejection.
    Left {
        /// Who.
        participant: ParticipantRef,
        /// Where from.
        view: View,
        /// Why, when the server says (`Ejected`).
        reason: Option<ErrorBody>,
    },
    /// A participant's properties or the application's capabilities on it changed.
    Updated(Participant),
    /// Someone sent a message.
    Message(IncomingMessage),
    /// The messaging modality changed state.
    Messaging(ModalityState),
    /// A participant's messaging connected or ended: only participants with messaging
    /// connected receive messages.
    ParticipantMessaging {
        /// Who.
        participant: ParticipantRef,
        /// Whether it is connected now.
        connected: bool,
    },
    /// The conversation changed state.
    State(ConversationState),
    /// The conversation ended for the application; `reason` says why when someone else ended
    /// it (`Ended` when the meeting was deleted, `Ejected`, ...). Nothing follows.
    Ended {
        /// Why.
        reason: Option<ErrorBody>,
    },
    /// The event channel answered `resync`: changes may have been missed; read the state again.
    Resync,
    /// The event channel ended (see [`Notifications`]). Nothing follows.
    ChannelEnded(String),
}

/// A conversation of the application.
pub struct Conversation {
    app: Application,
    href: String,
    /// Subscribed on the first read of changes, so a handle used only for requests (admit
    /// from another process) does not start the event channel reader.
    events: Option<Notifications>,
    /// Changes read while waiting for something else, handed out first.
    backlog: VecDeque<ConversationChange>,
    ended: bool,
}

impl std::fmt::Debug for Conversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conversation").field("href", &self.href).finish_non_exhaustive()
    }
}

impl Conversation {
    pub(crate) fn new(app: Application, href: String, events: Option<Notifications>) -> Self {
        Self { app, href, events, backlog: VecDeque::new(), ended: false }
    }

    /// The conversation at `href` (from [`Application::conversations`] or an event). Its
    /// changes are followed from the first call that reads them ([`Conversation::next_change`],
    /// [`Conversation::start_messaging`]); requests alone do not read the event channel.
    pub fn open(app: &Application, href: &str) -> Result<Self> {
        let href = app.http().resolve(href)?.to_string();
        Ok(Self::new(app.clone(), href, None))
    }

    /// The conversation's absolute URL.
    pub fn href(&self) -> &str {
        &self.href
    }

    /// The application the conversation belongs to.
    pub fn application(&self) -> &Application {
        &self.app
    }

    /// Reads the conversation resource.
    pub async fn resource(&self) -> Result<Hal<model::Conversation>> {
        self.app.http().get(&self.href).await
    }

    async fn link(&self, name: RelName) -> Result<String> {
        conversation_link(self.app.http(), &self.href, name).await
    }

    async fn view(&self, name: RelName) -> Result<Vec<Participant>> {
        let view: Hal<Dashboard> = self.app.http().get(&self.link(name).await?).await?;
        view.embedded
            .many::<model::Participant>(RelName::Participant)
            .map(|p| Participant::new(self.app.http(), p.clone()))
            .collect()
    }

    /// Everyone in the meeting (leaders and attendees), the application included.
    pub async fn participants(&self) -> Result<Vec<Participant>> {
        self.view(RelName::Participants).await
    }

    /// Who waits in the lobby (only leaders see anyone there).
    pub async fn lobby(&self) -> Result<Vec<Participant>> {
        self.view(RelName::Lobby).await
    }

    /// Admits everyone waiting; answers who was admitted (someone who left meanwhile is
    /// skipped).
    pub async fn admit_all(&self) -> Result<Vec<Participant>> {
        let mut admitted = Vec::new();
        for participant in self.lobby().await? {
            match participant.admit().await {
                Ok(()) => admitted.push(participant),
                Err(e) if matches!(e.status(), Some(404 | 409)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(admitted)
    }

    /// The meeting the conversation is in.
    pub async fn online_meeting(&self) -> Result<Hal<model::OnlineMeeting>> {
        self.app.http().get(&self.link(RelName::OnlineMeeting).await?).await
    }

    /// Invites a user into the conversation (`addParticipant`; a two-party conversation
    /// becomes a meeting). Answers the invitation's URL; its outcome arrives as events.
    pub async fn add_participant(&self, to: SipUri) -> Result<String> {
        let body = AddParticipant::new(to, self.app.operation_id());
        self.app.http().start(&self.link(RelName::AddParticipant).await?, Body::json(&body)?).await
    }

    /// Connects messaging in a meeting (`addMessaging`), if it is not connected yet, and waits
    /// until it is (reading the conversation's changes only if the server has not connected it
    /// by the time it answers).
    pub async fn start_messaging(&mut self) -> Result<()> {
        let http = self.app.http().clone();
        let messaging_href = self.link(RelName::Messaging).await?;
        let messaging: Hal<model::Messaging> = http.get(&messaging_href).await?;
        if messaging.props.state == ModalityState::Connected {
            return Ok(());
        }
        let add = messaging
            .links
            .href(RelName::AddMessaging)
            .ok_or_else(|| Error::NotAvailable { rel: RelName::AddMessaging, resource: messaging_href.clone() })?;
        http.start(add, Body::json(&AddMessaging::new(self.app.operation_id()))?).await?;
        // Usually connected by the time the server answers: then no event needs reading (so a
        // handle without its own event reader, say in another process, can send too).
        let messaging: Hal<model::Messaging> = http.get(&messaging_href).await?;
        if messaging.props.state == ModalityState::Connected {
            return Ok(());
        }
        loop {
            match self.read_change().await {
                Some(ConversationChange::Messaging(ModalityState::Connected)) => {
                    self.backlog.push_back(ConversationChange::Messaging(ModalityState::Connected));
                    return Ok(());
                }
                Some(change @ (ConversationChange::Ended { .. } | ConversationChange::ChannelEnded(_))) => {
                    self.backlog.push_back(change);
                    return Err(Error::Failed { operation: "addMessaging".into(), reason: None });
                }
                Some(change) => self.backlog.push_back(change),
                None => return Err(Error::Failed { operation: "addMessaging".into(), reason: None }),
            }
        }
    }

    /// Sends a plain-text message (connecting messaging first in a meeting).
    pub async fn send(&mut self, text: &str) -> Result<()> {
        self.send_as("text/plain; charset=utf-8", text).await
    }

    /// Sends an HTML message.
    pub async fn send_html(&mut self, html: &str) -> Result<()> {
        self.send_as("text/html; charset=utf-8", html).await
    }

    async fn send_as(&mut self, content_type: &'static str, text: &str) -> Result<()> {
        self.start_messaging().await?;
        send_on(self.app.http(), &self.link(RelName::Messaging).await?, content_type, text).await
    }

    /// Leaves the conversation (in the lobby: cancels the join).
    pub async fn leave(self) -> Result<()> {
        self.app.http().delete(&self.href).await
    }

    /// The next change, or `None` once the conversation or the channel has ended.
    pub async fn next_change(&mut self) -> Option<ConversationChange> {
        if let Some(change) = self.backlog.pop_front() {
            return Some(change);
        }
        self.read_change().await
    }

    /// Reads notifications until one is a change of this conversation.
    async fn read_change(&mut self) -> Option<ConversationChange> {
        if self.ended {
            return None;
        }
        loop {
            if self.events.is_none() {
                match self.app.subscribe() {
                    Ok(events) => self.events = Some(events),
                    Err(e) => {
                        self.ended = true;
                        return Some(ConversationChange::ChannelEnded(e.to_string()));
                    }
                }
            }
            let item = match self.events.as_mut()?.recv().await {
                None => return None,
                Some(Err(e)) => {
                    self.ended = true;
                    return Some(ConversationChange::ChannelEnded(e.to_string()));
                }
                Some(Ok(item)) => item,
            };
            let change = match &*item {
                ChannelItem::Event(event) => self.change_of(event),
                ChannelItem::Resync => Some(ConversationChange::Resync),
                _ => None,
            };
            if let Some(change) = change {
                if matches!(change, ConversationChange::Ended { .. }) {
                    self.ended = true;
                }
                return Some(change);
            }
        }
    }

    fn is_self(&self, href: &str) -> bool {
        self.app.http().resolve(href).is_ok_and(|u| u.as_str() == self.href)
    }

    /// The change an event makes to this conversation, if it is about it.
    fn change_of(&self, event: &ChannelEvent) -> Option<ConversationChange> {
        let http = self.app.http();
        let e = &event.event;
        if e.link.rel.name == RelName::Conversation && self.is_self(&e.link.href) {
            return match e.kind {
                EventType::Deleted => Some(ConversationChange::Ended { reason: e.reason.clone() }),
                _ => e.resource_as::<model::Conversation>().map(|c| ConversationChange::State(c.props.state.clone())),
            };
        }
        if !self.is_self(&event.sender.href) {
            return None;
        }
        match (&e.link.rel.name, e.kind) {
            (RelName::Participant, EventType::Added) => {
                let participant = Participant::new(http, e.resource_as::<model::Participant>()?.clone()).ok()?;
                Some(ConversationChange::Entered { participant, view: View::of(e) })
            }
            (RelName::Participant, EventType::Updated) => {
                let participant = Participant::new(http, e.resource_as::<model::Participant>()?.clone()).ok()?;
                Some(ConversationChange::Updated(participant))
            }
            (RelName::Participant, EventType::Deleted) => {
                let participant =
                    ParticipantRef { href: http.resolve(&e.link.href).ok()?.to_string(), name: e.link.title.clone() };
                Some(ConversationChange::Left { participant, view: View::of(e), reason: e.reason.clone() })
            }
            (RelName::ParticipantMessaging, EventType::Added | EventType::Deleted) => {
                let whose = e.in_.as_ref()?;
                let participant =
                    ParticipantRef { href: http.resolve(&whose.href).ok()?.to_string(), name: whose.title.clone() };
                Some(ConversationChange::ParticipantMessaging { participant, connected: e.kind == EventType::Added })
            }
            (RelName::Messaging, EventType::Updated) => {
                e.resource_as::<model::Messaging>().map(|m| ConversationChange::Messaging(m.props.state.clone()))
            }
            (RelName::Message, EventType::Completed) => {
                IncomingMessage::of(http, event).map(ConversationChange::Message)
            }
            _ => None,
        }
    }
}

impl Application {
    /// The application's live conversations.
    pub async fn conversations(&self) -> Result<Vec<Conversation>> {
        let list: Hal<Dashboard> = self.http().get(&self.find_href(RelName::Conversations)?).await?;
        list.links.all(RelName::Conversation).iter().map(|link| Conversation::open(self, &link.href)).collect()
    }
}
