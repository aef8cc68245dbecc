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
pub mod projection;
pub mod service;
pub mod token;

use ucwa_core::meeting::{Meeting, Session, Surface};
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

    pub fn participant_href(&self, subject: &str) -> String {
        self.urls.participant(self.id, subject)
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
