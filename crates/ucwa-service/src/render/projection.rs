//! From the meeting's notices to per-application UCWA events (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/eventsinucwa>):
//! invitation and conversation events come from sender `communication`, participant and
//! meeting events from sender `conversation`; every invitation event embeds the invitation,
//! conversation `added`/`updated` embed the conversation, `deleted` carries no body.
//! All meeting events are High priority (docs/protocol.md, `## events`).

use ucwa_core::channel::Priority;
use ucwa_core::meeting::{InvitationState, MeetingKind, Notice, NoticeKind, Reason, Surface};
use ucwa_core::model::{MeetingRecord, NewEvent};
use ucwa_proto::error::ErrorBody;
use ucwa_proto::event::{Event, EventType, RelLink, Status};

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

/// Renders every notice against the meeting as it is after the command.
pub fn project(record: &MeetingRecord, notices: &[Notice]) -> Vec<NewEvent> {
    notices.iter().filter_map(|n| render(record, n)).collect()
}

fn render(record: &MeetingRecord, notice: &Notice) -> Option<NewEvent> {
    let v = Viewer::new(record, &notice.to)?;
    let ns = v.ns;
    let communication = RelLink::new(ns.rel("communication"), v.urls.communication());
    let conversation_sender = RelLink::new(ns.rel("conversation"), v.conversation_href());
    let conversation_link = || RelLink::new(ns.rel("conversation"), v.conversation_href());
    let invitation_event = |kind: EventType, state: InvitationState| {
        let resource = invitation_in(&v, state);
        let rel = resource.rel().to_owned();
        Event::new(kind, RelLink::new(rel.clone(), invitation_href(&v))).embedding(&rel, resource.into_value())
    };
    // Operation events embed the operation and link to it (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/operationresource>).
    let operation_event = |kind: EventType, resource: ucwa_proto::Resource| {
        let rel = resource.rel().to_owned();
        let href = resource.self_href().unwrap_or_default().to_owned();
        Event::new(kind, RelLink::new(rel.clone(), href)).embedding(&rel, resource.into_value())
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
    let participant_event = |kind: EventType, subject: &str, rel: &str| {
        let mut link = RelLink::new(ns.rel(rel), v.participant_href(subject));
        link.title = record.meeting.session(subject).map(|s| s.identity.display_name.clone());
        let event = Event::new(kind, link);
        if kind == EventType::Deleted {
            event
        } else {
            let resource = participant(&v, subject, rel);
            let key = resource.rel().to_owned();
            event.embedding(&key, resource.into_value())
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
            let resource = conversation(&v, *state);
            let rel = resource.rel().to_owned();
            (communication, Event::new(kind, conversation_link()).embedding(&rel, resource.into_value()))
        }
        NoticeKind::ConversationDeleted => {
            let mut event = Event::new(EventType::Deleted, conversation_link());
            event.reason = v.session.disconnect_reason.as_ref().map(reason_body);
            (communication, event)
        }
        NoticeKind::LocalParticipantAdded => {
            (conversation_sender, participant_event(EventType::Added, v.id, "localParticipant"))
        }
        NoticeKind::LocalParticipantUpdated => {
            (conversation_sender, participant_event(EventType::Updated, v.id, "localParticipant"))
        }
        NoticeKind::OnlineMeetingAdded => {
            let resource = online_meeting(&v);
            let rel = resource.rel().to_owned();
            let link = RelLink::new(rel.clone(), child(&v.conversation_href(), "onlineMeeting"));
            (conversation_sender, Event::new(EventType::Added, link).embedding(&rel, resource.into_value()))
        }
        NoticeKind::ParticipantAdded { subject, in_view } => {
            let mut event = participant_event(EventType::Added, subject, "participant");
            // A two-party conversation has no roster views to be `in`.
            event.in_ = in_view
                .filter(|_| record.meeting.kind() == MeetingKind::Conference)
                .map(|view| in_link(&v, Some(view)));
            (conversation_sender, event)
        }
        NoticeKind::ParticipantUpdated { subject } => {
            (conversation_sender, participant_event(EventType::Updated, subject, "participant"))
        }
        NoticeKind::ParticipantDeleted { subject, in_view, reason } => {
            let mut event = participant_event(EventType::Deleted, subject, "participant");
            event.in_ = in_view.map(|view| in_link(&v, Some(view)));
            event.reason = reason.as_ref().map(reason_body);
            (conversation_sender, event)
        }
        NoticeKind::ParticipantInvitationStarted { id } | NoticeKind::ParticipantInvitationCompleted { id } => {
            let pinv = v.session.participant_invitations.iter().find(|p| &p.id == id)?;
            let event = if matches!(notice.kind, NoticeKind::ParticipantInvitationStarted { .. }) {
                operation_event(EventType::Started, participant_invitation(&v, pinv, InvitationState::Connecting))
            } else {
                let event = operation_event(EventType::Completed, participant_invitation(&v, pinv, pinv.state));
                completion(event, pinv.state, pinv.reason.as_ref())
            };
            (communication, event)
        }
        NoticeKind::MessagingInvitationStarted | NoticeKind::MessagingInvitationCompleted => {
            let op = v.session.messaging_operation.as_ref()?;
            let event = if notice.kind == NoticeKind::MessagingInvitationStarted {
                operation_event(EventType::Started, messaging_operation(&v, op, InvitationState::Connecting))
            } else {
                let event = operation_event(EventType::Completed, messaging_operation(&v, op, op.state));
                completion(event, op.state, None)
            };
            (communication, event)
        }
        NoticeKind::MessagingUpdated { state } => {
            let resource = messaging(&v, *state);
            let rel = resource.rel().to_owned();
            let link = RelLink::new(rel.clone(), v.urls.messaging(v.id));
            (conversation_sender, Event::new(EventType::Updated, link).embedding(&rel, resource.into_value()))
        }
        NoticeKind::ParticipantMessagingAdded { subject } | NoticeKind::ParticipantMessagingDeleted { subject } => {
            let resource = participant_messaging(&v, subject);
            let rel = resource.rel().to_owned();
            let in_rel = if subject == v.id { "localParticipant" } else { "participant" };
            let mut in_ = RelLink::new(ns.rel(in_rel), v.participant_href(subject));
            in_.title = record.meeting.session(subject).map(|s| s.identity.display_name.clone());
            let link = RelLink::new(rel.clone(), child(&v.participant_href(subject), "messaging"));
            let mut event = if matches!(notice.kind, NoticeKind::ParticipantMessagingAdded { .. }) {
                Event::new(EventType::Added, link).embedding(&rel, resource.into_value())
            } else {
                Event::new(EventType::Deleted, link)
            };
            event.in_ = Some(in_);
            (conversation_sender, event)
        }
        NoticeKind::MessageStarted { message: m } => {
            (conversation_sender, operation_event(EventType::Started, message(&v, m)))
        }
        NoticeKind::MessageCompleted { message: m } | NoticeKind::MessageReceived { message: m } => {
            // A received message is one `completed` event (as recorded): clients act once
            // per Incoming message event.
            let mut event = operation_event(EventType::Completed, message(&v, m));
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
            let mut link = RelLink::new(ns.rel("participant"), v.participant_href(subject));
            link.title = record.meeting.session(subject).map(|s| s.identity.display_name.clone());
            let mut event = Event::new(kind, link);
            event.in_ = Some(RelLink::new(ns.rel("typingParticipants"), v.urls.typing_participants(v.id)));
            (conversation_sender, event)
        }
    };
    Some(NewEvent {
        app_id: v.session.app_id.clone(),
        priority: Priority::High,
        sender_rel: sender.rel,
        sender_href: sender.href,
        body: event.to_value(),
        // Only service applications' conversations can have a callback route; for everyone
        // else the store need not look one up.
        conversation: matches!(v.session.identity.surface, Surface::Service { .. }).then(|| notice.to.clone()),
    })
}

fn in_link(v: &Viewer<'_>, view: Option<ucwa_core::meeting::View>) -> RelLink {
    let rel = view_rel(view);
    RelLink::new(v.ns.rel(rel), child(&v.conversation_href(), rel))
}
