//! From the meeting's notices to per-application UCWA events (`ucwa-spec.md` §11.2, §12):
//! invitation and conversation events come from sender `communication`, participant and
//! meeting events from sender `conversation`; every invitation event embeds the invitation,
//! conversation `added`/`updated` embed the conversation, `deleted` carries no body.
//! All meeting events are High priority (§11.4).

use ucwa_core::channel::Priority;
use ucwa_core::meeting::{InvitationState, Notice, NoticeKind, Reason};
use ucwa_core::model::{MeetingRecord, NewEvent};
use ucwa_proto::error::ErrorBody;
use ucwa_proto::event::{Event, EventType, RelLink, Status};

use super::Viewer;
use super::conversation::{conversation, view_rel};
use super::invitation::invitation_in;
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
        Event::new(kind, RelLink::new(rel.clone(), v.urls.invitation(v.id))).embedding(&rel, resource.into_value())
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
            let mut event = invitation_event(EventType::Completed, *state);
            if *state == InvitationState::Connected {
                event.status = Some(Status::Success);
            } else {
                event.status = Some(Status::Failure);
                event.reason = v.session.invitation.reason.as_ref().map(reason_body);
            }
            (communication, event)
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
            event.in_ = in_view.map(|view| in_link(&v, Some(view)));
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
    };
    Some(NewEvent {
        app_id: v.session.app_id.clone(),
        priority: Priority::High,
        sender_rel: sender.rel,
        sender_href: sender.href,
        body: event.to_value(),
        conversation: Some(notice.to.clone()),
    })
}

fn in_link(v: &Viewer<'_>, view: Option<ucwa_core::meeting::View>) -> RelLink {
    let rel = view_rel(view);
    RelLink::new(v.ns.rel(rel), child(&v.conversation_href(), rel))
}
