//! `participant`, `localParticipant` and `from` (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/participant_ref>): one session as another
//! sees it, with the capability links the viewer has on it.

use ucwa_core::meeting::{Identity, MeetingKind, ModalityState, Role, Session};
use ucwa_proto::model::{Hal, Participant};
use ucwa_proto::values::SourceNetwork;
use ucwa_proto::{Namespace, RelName};

use super::Viewer;
use super::values::role;
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
pub fn source_network_of(v: &Viewer<'_>, who: &Identity) -> SourceNetwork {
    if who.anonymous {
        SourceNetwork::Everyone
    } else if v.meeting().settings().is_same_enterprise(who) {
        SourceNetwork::SameEnterprise
    } else {
        SourceNetwork::Federated
    }
}

/// The links to the person behind a participant, as recorded
/// (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/receiveanim>): one's own participant
/// links `me` (not on the Trusted Application API, which has no `me`); someone else's links
/// its `contact`, `contactPresence` and `contactPhoto` when it has a contact.
pub fn with_person_links<P>(v: &Viewer<'_>, r: Hal<P>, local: bool, who: &Identity) -> Hal<P> {
    if local {
        return r.link_if(v.ns == Namespace::Ucwa, RelName::Me, || v.urls.me());
    }
    match v.contact_key(who) {
        Some(key) => r
            .link(RelName::Contact, v.urls.contact(&key))
            .link(RelName::ContactPresence, v.urls.contact_part(&key, "presence"))
            .link(RelName::ContactPhoto, v.urls.photo(&key)),
        None => r,
    }
}

/// `subject_id` as `v` sees it, under `name` (`participant`, `localParticipant` or `from`).
/// Returns a bare resource if the subject is gone (deleted events carry no body anyway).
pub fn participant(v: &Viewer<'_>, subject_id: &str, name: RelName) -> Hal<Participant> {
    let href = v.participant_href(subject_id);
    let Some(subject) = v.meeting().session(subject_id) else {
        return Hal::new(v.ns, name, href, Participant::default());
    };
    let can = capabilities(v, subject_id, subject);
    let props = Participant {
        anonymous: Some(subject.identity.anonymous),
        in_lobby: Some(subject.is_waiting()),
        local: Some(subject_id == v.id),
        name: Some(subject.identity.display_name.clone()),
        organizer: Some(v.meeting().settings().is_organizer(&subject.identity)),
        role: Some(role(subject.role)),
        source_network: Some(source_network_of(v, &subject.identity)),
        uri: Some(subject.identity.uri.clone()),
    };
    let r = Hal::new(v.ns, name, href.clone(), props).link(RelName::Conversation, v.conversation_href());
    with_person_links(v, r, subject_id == v.id, &subject.identity)
        .link_if(can.admit, RelName::Admit, || child(&href, "admit"))
        .link_if(can.admit, RelName::Reject, || child(&href, "reject"))
        .link_if(can.promote, RelName::Promote, || child(&href, "promote"))
        .link_if(can.demote, RelName::Demote, || child(&href, "demote"))
        .link_if(can.eject, RelName::Eject, || child(&href, "eject"))
        .link_if(subject.messaging == ModalityState::Connected, RelName::ParticipantMessaging, || {
            child(&href, "messaging")
        })
}
