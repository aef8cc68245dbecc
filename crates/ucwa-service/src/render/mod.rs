//! Renders meetings as UCWA resources and events, each from one viewer's perspective: the
//! hrefs are under the viewer's application and capability links follow the viewer's role.
//!
//! One module per resource; [`projection`] turns the meeting's notices into per-application
//! events. Resources that are not seen through a meeting (applications, service
//! applications, token answers) are rendered here too, so every wire shape the server sends
//! is built in this module.

pub mod application;
pub mod conversation;
pub mod discovery;
pub mod invitation;
pub mod messaging;
pub mod online_meeting;
pub mod participant;
pub mod people;
pub mod projection;
pub mod service;
pub mod token;

use ucwa_core::meeting::{Identity, Meeting, Session, Surface, address_key};
use ucwa_core::model::MeetingRecord;
use ucwa_proto::Namespace;

use crate::urls::AppUrls;

/// One session looking at its meeting.
pub struct Viewer<'a> {
    pub record: &'a MeetingRecord,
    pub id: &'a str,
    pub session: &'a Session,
    pub urls: AppUrls,
    pub ns: Namespace,
}

impl<'a> Viewer<'a> {
    /// The viewer `id` of `record`, if that session exists.
    pub fn new(record: &'a MeetingRecord, id: &'a str) -> Option<Self> {
        let session = record.meeting.session(id)?;
        let urls = AppUrls::of_session(session);
        let ns = namespace(&session.identity.surface);
        Some(Self { record, id, session, urls, ns })
    }

    pub fn meeting(&self) -> &'a Meeting {
        &self.record.meeting
    }

    pub fn conversation_href(&self) -> String {
        self.urls.conversation(self.id)
    }

    /// The address key of `who`'s `contact` (`bob@example.com`), when there is one for this
    /// viewer: the viewer's application has `people` (a signed-in UCWA user's) and `who` is a
    /// signed-in user too. Guests, service endpoints and the Trusted Application API surface
    /// have no contacts (the recorded TAP participants and messages link none).
    pub fn contact_key(&self, who: &Identity) -> Option<String> {
        let is_person = who.surface == Surface::Ucwa && !who.anonymous;
        (self.has_people() && is_person).then(|| address_key(&who.uri))
    }

    /// Whether the viewer's application has `people` (contacts): a signed-in UCWA user's.
    pub fn has_people(&self) -> bool {
        let viewer = &self.session.identity;
        viewer.surface == Surface::Ucwa && !viewer.anonymous
    }

    /// Session `subject`'s participant as this viewer sees it, named by its participant key
    /// (`participants/bob@example.com`).
    pub fn participant_href(&self, subject: &str) -> String {
        self.urls.participant(self.id, self.meeting().participant_key(subject))
    }

    /// The participant of someone who may have left the meeting already (an inviter): by
    /// its session while it is there, else by the key of the address it had.
    pub fn participant_href_of(&self, subject: &str, uri: &str) -> String {
        match self.meeting().session(subject) {
            Some(_) => self.participant_href(subject),
            None => self.urls.participant(self.id, &ucwa_core::meeting::address_key(uri)),
        }
    }
}

/// A wire body that is not a HAL resource (token answers) as JSON.
pub fn json(body: &impl serde::Serialize) -> serde_json::Value {
    // Cannot fail: plain structs with string keys.
    serde_json::to_value(body).unwrap_or(serde_json::Value::Null)
}

/// The rel namespace of a surface: `ms:rtc:saas:` for service applications.
pub fn namespace(surface: &Surface) -> Namespace {
    match surface {
        Surface::Service { .. } => Namespace::Saas,
        Surface::Ucwa | Surface::PsAnon => Namespace::Ucwa,
    }
}

/// The core's enumerations as the wire model spells them (`ucwa_proto::values`): the core
/// knows nothing of the wire, and the wire spells each value once, in ucwa-proto.
pub mod values {
    use ucwa_core::meeting as core;
    use ucwa_proto::values as wire;

    pub fn conversation_state(state: core::ConversationState) -> wire::ConversationState {
        match state {
            core::ConversationState::Incoming => wire::ConversationState::Incoming,
            core::ConversationState::Connecting => wire::ConversationState::Connecting,
            core::ConversationState::Connected => wire::ConversationState::Connected,
            core::ConversationState::InLobby => wire::ConversationState::InLobby,
            core::ConversationState::Conferencing => wire::ConversationState::Conferencing,
            core::ConversationState::Conferenced => wire::ConversationState::Conferenced,
            core::ConversationState::Disconnected => wire::ConversationState::Disconnected,
        }
    }

    pub fn invitation_state(state: core::InvitationState) -> wire::InvitationState {
        match state {
            core::InvitationState::Connecting => wire::InvitationState::Connecting,
            core::InvitationState::Connected => wire::InvitationState::Connected,
            core::InvitationState::Failed => wire::InvitationState::Failed,
        }
    }

    pub fn modality_state(state: core::ModalityState) -> wire::ModalityState {
        match state {
            core::ModalityState::Disconnected => wire::ModalityState::Disconnected,
            core::ModalityState::Connecting => wire::ModalityState::Connecting,
            core::ModalityState::Connected => wire::ModalityState::Connected,
        }
    }

    pub fn importance(importance: core::Importance) -> wire::Importance {
        match importance {
            core::Importance::Normal => wire::Importance::Normal,
            core::Importance::Urgent => wire::Importance::Urgent,
            core::Importance::Emergency => wire::Importance::Emergency,
            core::Importance::NonUrgent => wire::Importance::NonUrgent,
        }
    }

    pub fn role(role: core::Role) -> wire::Role {
        match role {
            core::Role::Leader => wire::Role::Leader,
            core::Role::Attendee => wire::Role::Attendee,
        }
    }

    pub fn direction(direction: core::Direction) -> wire::Direction {
        match direction {
            core::Direction::Outgoing => wire::Direction::Outgoing,
            core::Direction::Incoming => wire::Direction::Incoming,
        }
    }

    pub fn access_level(level: core::AccessLevel) -> wire::AccessLevel {
        match level {
            core::AccessLevel::Everyone => wire::AccessLevel::Everyone,
            core::AccessLevel::Invited => wire::AccessLevel::Invited,
            core::AccessLevel::SameEnterprise => wire::AccessLevel::SameEnterprise,
            core::AccessLevel::Locked => wire::AccessLevel::Locked,
        }
    }

    pub fn leader_assignment(assignment: core::AutomaticLeaderAssignment) -> wire::AutomaticLeaderAssignment {
        match assignment {
            core::AutomaticLeaderAssignment::Disabled => wire::AutomaticLeaderAssignment::Disabled,
            core::AutomaticLeaderAssignment::SameEnterprise => wire::AutomaticLeaderAssignment::SameEnterprise,
            core::AutomaticLeaderAssignment::Everyone => wire::AutomaticLeaderAssignment::Everyone,
        }
    }

    pub fn toggle(toggle: core::Toggle) -> wire::Toggle {
        match toggle {
            core::Toggle::Disabled => wire::Toggle::Disabled,
            core::Toggle::Enabled => wire::Toggle::Enabled,
        }
    }

    pub fn announcement(toggle: core::Toggle) -> wire::EntryExitAnnouncement {
        match toggle {
            core::Toggle::Disabled => wire::EntryExitAnnouncement::Disabled,
            core::Toggle::Enabled => wire::EntryExitAnnouncement::Enabled,
        }
    }
}
