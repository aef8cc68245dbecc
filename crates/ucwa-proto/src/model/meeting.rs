//! Meetings: `onlineMeeting`, `myOnlineMeeting`, the Trusted Application API's
//! `adhocMeeting`, and the scheduling defaults (docs/protocol.md, onlineMeeting,
//! myOnlineMeetings, adhocMeeting).

use serde::{Deserialize, Serialize};

use crate::ids::SipUri;
use crate::rel::RelName;
use crate::values::{AccessLevel, AutomaticLeaderAssignment, EntryExitAnnouncement, Toggle, WireDate};

/// The properties every view of a meeting shares. All optional: the recorded Trusted
/// Application API `onlineMeeting` carries only `onlineMeetingUri`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeetingProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_level: Option<AccessLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attendees: Option<Vec<SipUri>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatic_leader_assignment: Option<AutomaticLeaderAssignment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conference_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_exit_announcement: Option<EntryExitAnnouncement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<WireDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaders: Option<Vec<SipUri>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lobby_bypass_for_phone_users: Option<Toggle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_meeting_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_meeting_uri: Option<SipUri>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizer_uri: Option<SipUri>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_user_admission: Option<Toggle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// [onlineMeeting](https://learn.microsoft.com/en-us/skype-sdk/ucwa/onlinemeeting_ref): the
/// read-only view of the meeting inside a conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineMeeting {
    #[serde(flatten)]
    pub meeting: MeetingProperties,
    /// `myOnlineMeetings` or `myAssignedOnlineMeeting`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_meeting_rel: Option<RelName>,
}

/// [myOnlineMeeting](https://learn.microsoft.com/en-us/skype-sdk/ucwa/myonlinemeeting_ref): an
/// organizer's scheduled meeting; PUT it back with its PUT guard and `If-Match: <etag>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyOnlineMeeting {
    #[serde(flatten)]
    pub meeting: MeetingProperties,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// The Trusted Application API's `ms:rtc:saas:adhocMeeting`: an on-demand meeting of a
/// service application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdhocMeeting {
    #[serde(flatten)]
    pub meeting: MeetingProperties,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// [onlineMeetingDefaultValues](https://learn.microsoft.com/en-us/skype-sdk/ucwa/onlinemeetingdefaultvalues_ref).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineMeetingDefaultValues {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_level: Option<AccessLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatic_leader_assignment: Option<AutomaticLeaderAssignment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_exit_announcement: Option<EntryExitAnnouncement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lobby_bypass_for_phone_users: Option<Toggle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_user_admission: Option<Toggle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_online_meeting_rel: Option<RelName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participants_warning_threshold: Option<u32>,
}

/// [onlineMeetingEligibleValues](https://learn.microsoft.com/en-us/skype-sdk/ucwa/onlinemeetingeligiblevalues_ref).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineMeetingEligibleValues {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_levels: Option<Vec<AccessLevel>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatic_leader_assignments: Option<Vec<AutomaticLeaderAssignment>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_exit_announcements: Option<Vec<EntryExitAnnouncement>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lobby_bypass_for_phone_users_settings: Option<Vec<Toggle>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_user_admissions: Option<Vec<Toggle>>,
}
