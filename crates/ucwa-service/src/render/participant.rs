//! `participant`, `localParticipant` and `from` (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/participant_ref>): one session as another
//! sees it, with the capability links the viewer has on it.

use ucwa_core::meeting::{Identity, MeetingKind, ModalityState, Role, Session};
use ucwa_proto::{Namespace, Resource};

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

/// `sourceNetwork` of someone as `v` sees it.
pub fn source_network_of(v: &Viewer<'_>, who: &Identity) -> &'static str {
    if who.anonymous {
        "Everyone"
    } else if v.meeting().settings().is_same_enterprise(who) {
        "SameEnterprise"
    } else {
        "Federated"
    }
}

/// The links to the person behind a participant, as recorded
/// (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/receiveanim>): one's own participant
/// links `me` (not on the Trusted Application API, which has no `me`); someone else's links
/// its `contact`, `contactPresence` and `contactPhoto` when it has a contact.
pub fn with_person_links(v: &Viewer<'_>, r: Resource, local: bool, who: &Identity) -> Resource {
    if local {
        return r.link_if(v.ns == Namespace::Ucwa, "me", || v.urls.me());
    }
    match v.contact_key(who) {
        Some(key) => r
            .link("contact", v.urls.contact(&key))
            .link("contactPresence", v.urls.contact_part(&key, "presence"))
            .link("contactPhoto", v.urls.photo(&key)),
        None => r,
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
    let r = Resource::new(v.ns, rel, href.clone())
        .prop("anonymous", subject.identity.anonymous)
        .prop("inLobby", subject.is_waiting())
        .prop("local", subject_id == v.id)
        .prop("name", subject.identity.display_name.as_str())
        .prop("organizer", v.meeting().settings().is_organizer(&subject.identity))
        .prop("role", wire(subject.role))
        .prop("sourceNetwork", source_network_of(v, &subject.identity))
        .prop("uri", subject.identity.uri.as_str())
        .link("conversation", v.conversation_href());
    with_person_links(v, r, subject_id == v.id, &subject.identity)
        .link_if(can.admit, "admit", || child(&href, "admit"))
        .link_if(can.admit, "reject", || child(&href, "reject"))
        .link_if(can.promote, "promote", || child(&href, "promote"))
        .link_if(can.demote, "demote", || child(&href, "demote"))
        .link_if(can.eject, "eject", || child(&href, "eject"))
        .link_if(subject.messaging == ModalityState::Connected, "participantMessaging", || child(&href, "messaging"))
}
