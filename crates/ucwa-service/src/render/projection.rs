//! From the meeting's notices to per-application UCWA events (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/eventsinucwa>):
//! invitation and conversation events come from sender `communication`, participant and
//! meeting events from sender `conversation`; every invitation event embeds the invitation,
//! conversation `added`/`updated` embed the conversation, `deleted` carries no body.
//! All meeting events are High priority (docs/protocol.md, `## events`).

use ucwa_core::channel::Priority;
use ucwa_core::meeting::{InvitationState, MeetingKind, Notice, NoticeKind, Reason, Surface};
use ucwa_core::model::{MeetingRecord, NewEvent};
use ucwa_proto::error::ErrorBody;
use ucwa_proto::model::{AnyResource, Embedded, Embeds, Event, EventLink, EventType, Status};
use ucwa_proto::{Namespace, RelName};

use super::Viewer;
use super::conversation::{conversation, view_rel};
use super::invitation::{invitation_href, invitation_in, messaging_operation, participant_invitation};
use super::messaging::{message, messaging, participant_messaging};
use super::online_meeting::online_meeting;
use super::participant::participant;
use crate::urls::child;

pub fn reason_body(reason: &Reason) -> ErrorBody {
    ErrorBody::new(&reason.code, Some(&reason.subcode), reason.message.clone())
}

/// A rel + href pair with the rel spelled in `ns`.
fn rel_link(ns: Namespace, name: RelName, href: String) -> EventLink {
    EventLink::new(ns.rel_of(name), href)
}

/// An event about `link` that embeds `resource` under its own rel.
fn embedding(kind: EventType, link: EventLink, resource: impl Into<AnyResource>) -> Event {
    let resource = resource.into();
    let mut embedded = Embedded::default();
    if let Some(rel) = resource.rel().cloned() {
        embedded.insert(rel, Embeds::One(Box::new(resource)));
    }
    Event { embedded: Some(embedded), ..Event::new(kind, link) }
}

/// Renders every notice against the meeting as it is after the command.
pub fn project(record: &MeetingRecord, notices: &[Notice]) -> Vec<NewEvent> {
    notices.iter().filter_map(|n| render(record, n)).collect()
}

fn render(record: &MeetingRecord, notice: &Notice) -> Option<NewEvent> {
    let v = Viewer::new(record, &notice.to)?;
    let ns = v.ns;
    let communication = rel_link(ns, RelName::Communication, v.urls.communication());
    let conversation_sender = rel_link(ns, RelName::Conversation, v.conversation_href());
    let conversation_link = || rel_link(ns, RelName::Conversation, v.conversation_href());
    // Operation events embed the operation and link to it (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/operationresource>).
    let operation_event = |kind: EventType, resource: AnyResource| Event::about(kind, resource);
    let invitation_event = |kind: EventType, state: InvitationState| {
        let resource = invitation_in(&v, state);
        let rel = resource.rel().cloned().unwrap_or_else(|| ns.rel_of(RelName::OnlineMeetingInvitation));
        embedding(kind, EventLink::new(rel, invitation_href(&v)), resource)
    };
    let completion = |mut event: Event, state: InvitationState, reason: Option<&Reason>| {
        if state == InvitationState::Connected {
            event.status = Some(Status::Success);
        } else {
            event.status = Some(Status::Failure);
            event.reason = reason.map(reason_body);
        }
        event
    };
    let participant_event = |kind: EventType, subject: &str, name: RelName| {
        let mut link = rel_link(ns, name.clone(), v.participant_href(subject));
        link.title = record.meeting.session(subject).map(|s| s.identity.display_name.clone());
        if kind == EventType::Deleted {
            Event::new(kind, link)
        } else {
            embedding(kind, link, participant(&v, subject, name))
        }
    };
    let (sender, event) = match &notice.kind {
        NoticeKind::InvitationStarted => {
            (communication, invitation_event(EventType::Started, InvitationState::Connecting))
        }
        NoticeKind::InvitationUpdated => {
            (communication, invitation_event(EventType::Updated, InvitationState::Connecting))
        }
        NoticeKind::InvitationCompleted { state } => {
            let event = invitation_event(EventType::Completed, *state);
            (communication, completion(event, *state, v.session.invitation.reason.as_ref()))
        }
        NoticeKind::ConversationAdded { state } | NoticeKind::ConversationUpdated { state } => {
            let kind = if matches!(notice.kind, NoticeKind::ConversationAdded { .. }) {
                EventType::Added
            } else {
                EventType::Updated
            };
            (communication, embedding(kind, conversation_link(), conversation(&v, *state)))
        }
        NoticeKind::ConversationDeleted => {
            let mut event = Event::new(EventType::Deleted, conversation_link());
            event.reason = v.session.disconnect_reason.as_ref().map(reason_body);
            (communication, event)
        }
        NoticeKind::LocalParticipantAdded => {
            (conversation_sender, participant_event(EventType::Added, v.id, RelName::LocalParticipant))
        }
        NoticeKind::LocalParticipantUpdated => {
            (conversation_sender, participant_event(EventType::Updated, v.id, RelName::LocalParticipant))
        }
        NoticeKind::OnlineMeetingAdded => {
            let link = rel_link(ns, RelName::OnlineMeeting, child(&v.conversation_href(), "onlineMeeting"));
            (conversation_sender, embedding(EventType::Added, link, online_meeting(&v)))
        }
        NoticeKind::ParticipantAdded { subject, in_view } => {
            let mut event = participant_event(EventType::Added, subject, RelName::Participant);
            // A two-party conversation has no roster views to be `in`.
            event.in_ = in_view
                .filter(|_| record.meeting.kind() == MeetingKind::Conference)
                .map(|view| in_link(&v, Some(view)));
            (conversation_sender, event)
        }
        NoticeKind::ParticipantUpdated { subject } => {
            (conversation_sender, participant_event(EventType::Updated, subject, RelName::Participant))
        }
        NoticeKind::ParticipantDeleted { subject, in_view, reason } => {
            let mut event = participant_event(EventType::Deleted, subject, RelName::Participant);
            event.in_ = in_view.map(|view| in_link(&v, Some(view)));
            event.reason = reason.as_ref().map(reason_body);
            (conversation_sender, event)
        }
        NoticeKind::ParticipantInvitationStarted { id } | NoticeKind::ParticipantInvitationCompleted { id } => {
            let pinv = v.session.participant_invitations.iter().find(|p| &p.id == id)?;
            let event = if matches!(notice.kind, NoticeKind::ParticipantInvitationStarted { .. }) {
                operation_event(
                    EventType::Started,
                    participant_invitation(&v, pinv, InvitationState::Connecting).into(),
                )
            } else {
                let event = operation_event(EventType::Completed, participant_invitation(&v, pinv, pinv.state).into());
                completion(event, pinv.state, pinv.reason.as_ref())
            };
            (communication, event)
        }
        NoticeKind::MessagingInvitationStarted | NoticeKind::MessagingInvitationCompleted => {
            let op = v.session.messaging_operation.as_ref()?;
            let event = if notice.kind == NoticeKind::MessagingInvitationStarted {
                operation_event(EventType::Started, messaging_operation(&v, op, InvitationState::Connecting).into())
            } else {
                let event = operation_event(EventType::Completed, messaging_operation(&v, op, op.state).into());
                completion(event, op.state, None)
            };
            (communication, event)
        }
        NoticeKind::MessagingUpdated { state } => {
            let link = rel_link(ns, RelName::Messaging, v.urls.messaging(v.id));
            (conversation_sender, embedding(EventType::Updated, link, messaging(&v, *state)))
        }
        NoticeKind::ParticipantMessagingAdded { subject } | NoticeKind::ParticipantMessagingDeleted { subject } => {
            let in_rel = if subject == v.id { RelName::LocalParticipant } else { RelName::Participant };
            let mut in_ = rel_link(ns, in_rel, v.participant_href(subject));
            in_.title = record.meeting.session(subject).map(|s| s.identity.display_name.clone());
            let link = rel_link(ns, RelName::ParticipantMessaging, child(&v.participant_href(subject), "messaging"));
            let mut event = if matches!(notice.kind, NoticeKind::ParticipantMessagingAdded { .. }) {
                embedding(EventType::Added, link, participant_messaging(&v, subject))
            } else {
                Event::new(EventType::Deleted, link)
            };
            event.in_ = Some(in_);
            (conversation_sender, event)
        }
        NoticeKind::MessageStarted { message: m } => {
            (conversation_sender, operation_event(EventType::Started, message(&v, m).into()))
        }
        NoticeKind::MessageCompleted { message: m } | NoticeKind::MessageReceived { message: m } => {
            // A received message is one `completed` event (as recorded): clients act once
            // per Incoming message event.
            let mut event = operation_event(EventType::Completed, message(&v, m).into());
            event.status = Some(Status::Success);
            (conversation_sender, event)
        }
        NoticeKind::TypingStarted { subject } | NoticeKind::TypingStopped { subject } => {
            // `participant` `added` / `deleted` `in` typingParticipants, no body
            // (https://learn.microsoft.com/en-us/skype-sdk/ucwa/typingparticipants_ref).
            let kind = if matches!(notice.kind, NoticeKind::TypingStarted { .. }) {
                EventType::Added
            } else {
                EventType::Deleted
            };
            let mut link = rel_link(ns, RelName::Participant, v.participant_href(subject));
            link.title = record.meeting.session(subject).map(|s| s.identity.display_name.clone());
            let mut event = Event::new(kind, link);
            event.in_ = Some(rel_link(ns, RelName::TypingParticipants, v.urls.typing_participants(v.id)));
            (conversation_sender, event)
        }
    };
    Some(NewEvent {
        app_id: v.session.app_id.clone(),
        priority: Priority::High,
        sender_rel: sender.rel.to_string(),
        sender_href: sender.href,
        body: super::json(&event),
        // Only service applications' conversations can have a callback route; for everyone
        // else the store need not look one up.
        conversation: matches!(v.session.identity.surface, Surface::Service { .. }).then(|| notice.to.clone()),
    })
}

fn in_link(v: &Viewer<'_>, view: Option<ucwa_core::meeting::View>) -> EventLink {
    let name = view_rel(view);
    let href = child(&v.conversation_href(), name.as_str());
    rel_link(v.ns, name, href)
}
