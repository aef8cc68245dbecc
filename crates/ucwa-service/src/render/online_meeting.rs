//! `onlineMeeting` (the read-only view inside a conversation,
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/onlinemeeting_ref>) and `myOnlineMeeting` (the organizer's scheduling
//! resource, <https://learn.microsoft.com/en-us/skype-sdk/ucwa/myonlinemeeting_ref>). Both show the same meeting properties.

use ucwa_core::conference::conference_uri;
use ucwa_core::meeting::MeetingSettings;
use ucwa_core::model::{Application, MeetingRecord};
use ucwa_proto::ids::SipUri;
use ucwa_proto::model::{
    Dashboard, Hal, Link, MeetingProperties, MyOnlineMeeting, OnlineMeeting, OnlineMeetingDefaultValues,
    OnlineMeetingEligibleValues,
};
use ucwa_proto::values::{AccessLevel, AutomaticLeaderAssignment, EntryExitAnnouncement, Toggle, WireDate};
use ucwa_proto::{Namespace, RelName};

use super::Viewer;
use super::values::{access_level, announcement, leader_assignment, toggle};
use crate::meetings::{ACCESS_LEVELS, LEADER_ASSIGNMENTS, TOGGLES};
use crate::urls::{AppUrls, child};

/// The PUT guard property real servers put on PUT-able resources (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/http>). A
/// fixed name per server is enough: clients echo whatever they were given.
pub const PUT_GUARD: &str = "c9b2b8e5-7a3e-4f43-8c5e-0f4e2b1d6a10";

/// The properties shared by `onlineMeeting` and `myOnlineMeeting`.
pub fn meeting_properties(record: &MeetingRecord) -> MeetingProperties {
    let m = &record.meeting;
    let s = m.settings();
    let uris = |uris: &[String]| Some(uris.iter().map(SipUri::from_stored).collect());
    MeetingProperties {
        access_level: Some(access_level(s.access_level)),
        attendees: uris(&s.attendees),
        automatic_leader_assignment: Some(leader_assignment(s.automatic_leader_assignment)),
        conference_id: Some(m.id().to_owned()),
        description: Some(s.description.clone()),
        entry_exit_announcement: Some(announcement(s.entry_exit_announcement)),
        expiration_time: Some(WireDate::from_unix_ms(s.expiration_ms)),
        join_url: Some(record.join_url.clone()),
        leaders: uris(&s.leaders),
        lobby_bypass_for_phone_users: Some(toggle(s.lobby_bypass_for_phone_users)),
        online_meeting_id: Some(m.id().to_owned()),
        online_meeting_uri: Some(SipUri::from_stored(conference_uri(&s.organizer_uri, m.id()))),
        organizer_uri: Some(SipUri::from_stored(s.organizer_uri.as_str())),
        phone_user_admission: Some(toggle(s.phone_user_admission)),
        subject: Some(s.subject.clone()),
    }
}

pub fn online_meeting(v: &Viewer<'_>) -> Hal<OnlineMeeting> {
    let conversation = v.conversation_href();
    let props =
        OnlineMeeting { meeting: meeting_properties(v.record), online_meeting_rel: Some(RelName::MyOnlineMeetings) };
    Hal::new(v.ns, RelName::OnlineMeeting, child(&conversation, "onlineMeeting"), props)
        .link(RelName::Conversation, conversation)
}

/// The ETag of a `myOnlineMeeting`: changes with every settings change only.
pub fn etag(record: &MeetingRecord) -> String {
    format!("\"{}\"", record.settings_revision)
}

pub fn my_online_meeting(urls: &AppUrls, record: &MeetingRecord) -> Hal<MyOnlineMeeting> {
    let props =
        MyOnlineMeeting { meeting: meeting_properties(record), etag: Some(record.settings_revision.to_string()) };
    Hal::new(Namespace::Ucwa, RelName::MyOnlineMeeting, urls.my_meeting(record.meeting.id()), props)
        .put_guard(PUT_GUARD)
}

/// `myOnlineMeetings`: the meetings the owner organizes, linked (titled by subject) and
/// embedded in full, as the reference page's sample has them
/// (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/myonlinemeetings_ref>; clients read
/// `_embedded.myOnlineMeeting`). Both are arrays, empty when there is no meeting.
pub fn my_online_meetings(app: &Application, meetings: &[MeetingRecord]) -> Hal<Dashboard> {
    let urls = AppUrls::of(app);
    let links =
        meetings.iter().map(|m| Link::titled(urls.my_meeting(m.meeting.id()), m.meeting.settings().subject.as_str()));
    let embedded = meetings.iter().map(|m| my_online_meeting(&urls, m).into());
    let href = urls.at("onlineMeetings/myOnlineMeetings");
    Hal::new(Namespace::Ucwa, RelName::MyOnlineMeetings, href, Dashboard {})
        .link_array(RelName::MyOnlineMeeting, links)
        .embed_array(RelName::MyOnlineMeeting, embedded)
}

/// `onlineMeetings/defaultValues`: what a meeting gets when its creator leaves a value out.
pub fn default_values(app: &Application) -> Hal<OnlineMeetingDefaultValues> {
    let urls = AppUrls::of(app);
    let defaults = MeetingSettings::new(app.owner_uri.clone(), 0);
    let props = OnlineMeetingDefaultValues {
        access_level: Some(access_level(defaults.access_level)),
        automatic_leader_assignment: Some(leader_assignment(defaults.automatic_leader_assignment)),
        entry_exit_announcement: Some(announcement(defaults.entry_exit_announcement)),
        lobby_bypass_for_phone_users: Some(toggle(defaults.lobby_bypass_for_phone_users)),
        phone_user_admission: Some(toggle(defaults.phone_user_admission)),
        default_online_meeting_rel: Some(RelName::MyOnlineMeetings),
        participants_warning_threshold: Some(250),
    };
    Hal::new(Namespace::Ucwa, RelName::OnlineMeetingDefaultValues, urls.at("onlineMeetings/defaultValues"), props)
}

/// `onlineMeetings/eligibleValues`: every value a meeting property accepts here (the
/// spellings the input checks accept).
pub fn eligible_values(app: &Application) -> Hal<OnlineMeetingEligibleValues> {
    let urls = AppUrls::of(app);
    let toggles = || Some(TOGGLES.iter().map(|t| Toggle::from(*t)).collect());
    let props = OnlineMeetingEligibleValues {
        access_levels: Some(ACCESS_LEVELS.iter().map(|l| AccessLevel::from(*l)).collect()),
        automatic_leader_assignments: Some(
            LEADER_ASSIGNMENTS.iter().map(|a| AutomaticLeaderAssignment::from(*a)).collect(),
        ),
        entry_exit_announcements: Some(TOGGLES.iter().map(|t| EntryExitAnnouncement::from(*t)).collect()),
        lobby_bypass_for_phone_users_settings: toggles(),
        phone_user_admissions: toggles(),
    };
    Hal::new(Namespace::Ucwa, RelName::OnlineMeetingEligibleValues, urls.at("onlineMeetings/eligibleValues"), props)
}
