//! `participant`, `localParticipant` and `from` (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/participant_ref>): one session as another
//! sees it, with the capability links the viewer has on it.

use ucwa_core::meeting::{MeetingKind, ModalityState, Role, Session};
use ucwa_proto::Resource;

use super::{Viewer, wire};
use crate::urls::child;

/// Capabilities of the viewer on `subject` (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/admit_ref> and the other actions): leaders in the roster act on others.
pub struct Capabilities {
    pub admit: bool,
    pub promote: bool,
    pub demote: bool,
    pub eject: bool,
}

pub fn capabilities(v: &Viewer<'_>, subject_id: &str, subject: &Session) -> Capabilities {
    // Two-party conversations have no roles or lobby to act on.
    let acts = v.session.leads() && subject_id != v.id && v.meeting().kind() == MeetingKind::Conference;
    let organizer = v.meeting().settings().is_organizer(&subject.identity);
    Capabilities {
        admit: acts && subject.is_waiting(),
        promote: acts && subject.in_roster() && subject.role == Role::Attendee,
        demote: acts && subject.in_roster() && subject.role == Role::Leader && !organizer,
        eject: acts && subject.in_roster(),
    }
}

fn source_network(v: &Viewer<'_>, subject: &Session) -> &'static str {
    if subject.identity.anonymous {
        "Everyone"
    } else if v.meeting().settings().is_same_enterprise(&subject.identity) {
        "SameEnterprise"
    } else {
        "Federated"
    }
}

/// `subject_id` as `v` sees it, under `rel` (`participant`, `localParticipant` or `from`).
/// Returns a bare resource if the subject is gone (deleted events carry no body anyway).
pub fn participant(v: &Viewer<'_>, subject_id: &str, rel: &str) -> Resource {
    let href = v.participant_href(subject_id);
    let Some(subject) = v.meeting().session(subject_id) else {
        return Resource::new(v.ns, rel, href);
    };
    let can = capabilities(v, subject_id, subject);
    Resource::new(v.ns, rel, href.clone())
        .prop("anonymous", subject.identity.anonymous)
        .prop("inLobby", subject.is_waiting())
        .prop("local", subject_id == v.id)
        .prop("name", subject.identity.display_name.as_str())
        .prop("organizer", v.meeting().settings().is_organizer(&subject.identity))
        .prop("role", wire(subject.role))
        .prop("sourceNetwork", source_network(v, subject))
        .prop("uri", subject.identity.uri.as_str())
        .link("conversation", v.conversation_href())
        .link_if(can.admit, "admit", || child(&href, "admit"))
        .link_if(can.admit, "reject", || child(&href, "reject"))
        .link_if(can.promote, "promote", || child(&href, "promote"))
        .link_if(can.demote, "demote", || child(&href, "demote"))
        .link_if(can.eject, "eject", || child(&href, "eject"))
        .link_if(subject.messaging == ModalityState::Connected, "participantMessaging", || child(&href, "messaging"))
}
