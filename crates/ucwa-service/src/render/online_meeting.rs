//! `onlineMeeting` (the read-only view inside a conversation,
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/onlinemeeting_ref>) and `myOnlineMeeting` (the organizer's scheduling
//! resource, <https://learn.microsoft.com/en-us/skype-sdk/ucwa/myonlinemeeting_ref>). Both show the same meeting properties.

use serde_json::json;
use ucwa_core::conference::conference_uri;
use ucwa_core::meeting::MeetingSettings;
use ucwa_core::model::{Application, MeetingRecord};
use ucwa_proto::encode::aspnet_date;
use ucwa_proto::{Namespace, Resource};

use super::{Viewer, wire};
use crate::meetings::{ACCESS_LEVELS, LEADER_ASSIGNMENTS, TOGGLES};
use crate::urls::{AppUrls, child};

/// The PUT guard property real servers put on PUT-able resources (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/http>). A
/// fixed name per server is enough: clients echo whatever they were given.
pub const PUT_GUARD: &str = "c9b2b8e5-7a3e-4f43-8c5e-0f4e2b1d6a10";

/// The properties shared by `onlineMeeting` and `myOnlineMeeting`.
pub fn with_meeting_properties(r: Resource, record: &MeetingRecord) -> Resource {
    let m = &record.meeting;
    let s = m.settings();
    r.prop("accessLevel", wire(s.access_level))
        .prop("attendees", json!(s.attendees))
        .prop("automaticLeaderAssignment", wire(s.automatic_leader_assignment))
        .prop("conferenceId", m.id())
        .prop("description", s.description.as_str())
        .prop("entryExitAnnouncement", wire(s.entry_exit_announcement))
        .prop("expirationTime", aspnet_date(s.expiration_ms))
        .prop("joinUrl", record.join_url.as_str())
        .prop("leaders", json!(s.leaders))
        .prop("lobbyBypassForPhoneUsers", wire(s.lobby_bypass_for_phone_users))
        .prop("onlineMeetingId", m.id())
        .prop("onlineMeetingUri", conference_uri(&s.organizer_uri, m.id()))
        .prop("organizerUri", s.organizer_uri.as_str())
        .prop("phoneUserAdmission", wire(s.phone_user_admission))
        .prop("subject", s.subject.as_str())
}

pub fn online_meeting(v: &Viewer<'_>) -> Resource {
    let conversation = v.conversation_href();
    let r = Resource::new(v.ns, "onlineMeeting", child(&conversation, "onlineMeeting"))
        .prop("onlineMeetingRel", "myOnlineMeetings");
    with_meeting_properties(r, v.record).link("conversation", conversation)
}

/// The ETag of a `myOnlineMeeting`: changes with every settings change only.
pub fn etag(record: &MeetingRecord) -> String {
    format!("\"{}\"", record.settings_revision)
}

pub fn my_online_meeting(urls: &AppUrls, record: &MeetingRecord) -> Resource {
    let r = Resource::new(Namespace::Ucwa, "myOnlineMeeting", urls.my_meeting(record.meeting.id()))
        .prop(PUT_GUARD, "please pass this in a PUT request");
    with_meeting_properties(r, record).prop("etag", record.settings_revision.to_string())
}

/// `myOnlineMeetings`: the meetings the owner organizes, linked (titled by subject) and
/// embedded in full, as the reference page's sample has them
/// (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/myonlinemeetings_ref>; clients read
/// `_embedded.myOnlineMeeting`). Both are arrays, empty when there is no meeting.
pub fn my_online_meetings(app: &Application, meetings: &[MeetingRecord]) -> Resource {
    let urls = AppUrls::of(app);
    let links = meetings.iter().map(|m| (urls.my_meeting(m.meeting.id()), Some(m.meeting.settings().subject.clone())));
    let embedded = meetings.iter().map(|m| my_online_meeting(&urls, m)).collect();
    Resource::new(Namespace::Ucwa, "myOnlineMeetings", urls.at("onlineMeetings/myOnlineMeetings"))
        .link_array("myOnlineMeeting", links)
        .embed_array("myOnlineMeeting", embedded)
}

/// `onlineMeetings/defaultValues`: what a meeting gets when its creator leaves a value out.
pub fn default_values(app: &Application) -> Resource {
    let urls = AppUrls::of(app);
    let defaults = MeetingSettings::new(app.owner_uri.clone(), 0);
    Resource::new(Namespace::Ucwa, "onlineMeetingDefaultValues", urls.at("onlineMeetings/defaultValues"))
        .prop("accessLevel", wire(defaults.access_level))
        .prop("automaticLeaderAssignment", wire(defaults.automatic_leader_assignment))
        .prop("entryExitAnnouncement", wire(defaults.entry_exit_announcement))
        .prop("lobbyBypassForPhoneUsers", wire(defaults.lobby_bypass_for_phone_users))
        .prop("phoneUserAdmission", wire(defaults.phone_user_admission))
        .prop("defaultOnlineMeetingRel", "myOnlineMeetings")
        .prop("participantsWarningThreshold", 250)
}

/// `onlineMeetings/eligibleValues`: every value a meeting property accepts here.
pub fn eligible_values(app: &Application) -> Resource {
    let urls = AppUrls::of(app);
    Resource::new(Namespace::Ucwa, "onlineMeetingEligibleValues", urls.at("onlineMeetings/eligibleValues"))
        .prop("accessLevels", json!(ACCESS_LEVELS))
        .prop("automaticLeaderAssignments", json!(LEADER_ASSIGNMENTS))
        .prop("entryExitAnnouncements", json!(TOGGLES))
        .prop("lobbyBypassForPhoneUsersSettings", json!(TOGGLES))
        .prop("phoneUserAdmissions", json!(TOGGLES))
}
