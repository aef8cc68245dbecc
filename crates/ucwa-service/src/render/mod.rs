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

/// The rel namespace of a surface: `ms:rtc:saas:` for service applications.
pub fn namespace(surface: &Surface) -> Namespace {
    match surface {
        Surface::Service { .. } => Namespace::Saas,
        Surface::Ucwa | Surface::PsAnon => Namespace::Ucwa,
    }
}

/// The enum spellings the wire uses (PascalCase, as the variants are named).
pub fn wire<T: std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}
