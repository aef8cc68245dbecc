//! The Trusted Application API resources of a service application endpoint, in the
//! `ms:rtc:saas:` namespace: `discover`, `applications`, `application`, its `communication`
//! dashboard, `adhocMeeting`(s), `myOnlineMeetings` and `anonApplicationToken` (shapes of
//! `fixtures/tap-recorded/resources/`).

use serde_json::Value;
use ucwa_core::conference::conference_uri;
use ucwa_core::model::{Application, MeetingRecord};
use ucwa_proto::encode::aspnet_date;
use ucwa_proto::{Namespace, Resource};

use super::online_meeting::with_meeting_properties;
use crate::anonymous::GuestToken;
use crate::urls::{AppUrls, PLATFORM_PREFIX, PSANON_PREFIX, USER_PREFIX, query_value, with_query};

/// `discover` under `base`; a `psat` guest's (with its meeting's URI) also links its
/// `anonApplications`.
pub fn discover(base: &str, self_href: String, guest_meeting_uri: Option<&str>) -> Value {
    // Spelled out: `applications` is one of the rels TAP also uses bare, and the recorded
    // guest discover has both spellings (`fixtures/tap-recorded/raw-http/snippet3.txt`).
    let r = Resource::new(Namespace::Ucwa, "ms:rtc:saas:discover", self_href)
        .link("ms:rtc:saas:applications", format!("{base}{PLATFORM_PREFIX}/applications"))
        .link("myApplications", format!("{base}{PLATFORM_PREFIX}/myApplications"));
    let r = match guest_meeting_uri {
        None => r,
        Some(meeting_uri) => r
            .prop("onlineMeetingUri", meeting_uri)
            .link("applications", format!("{base}{PSANON_PREFIX}/applications"))
            .link("anonApplications", format!("{base}{PSANON_PREFIX}/applications")),
    };
    r.into_value()
}

/// `applications`: the link to the endpoint's application.
pub fn applications(app: &Application) -> Value {
    Resource::new(Namespace::Ucwa, "ms:rtc:saas:applications", format!("{PLATFORM_PREFIX}/applications"))
        .link("ms:rtc:saas:application", AppUrls::of(app).app())
        .into_value()
}

/// The TAP `communication` dashboard (`fixtures/tap-recorded/resources/Application.json`).
/// Audio and video are out of scope, so `startAudio`/`startAudioVideo` are not offered (the
/// recorded variants without them show that capability links follow what is granted).
pub fn communication(app: &Application) -> Resource {
    let urls = AppUrls::of(app);
    Resource::new(Namespace::Saas, "communication", urls.communication())
        .prop("etag", "4294967295")
        .link("joinOnlineMeeting", urls.at("communication/onlineMeetingInvitations"))
        .link("inviteUserToMeeting", urls.at("communication/userMeetingInvitations"))
        .link("startMessaging", urls.at("communication/messagingInvitations"))
}

pub fn application(app: &Application) -> Value {
    let urls = AppUrls::of(app);
    Resource::new(Namespace::Saas, "application", urls.app())
        .link("anonApplicationTokens", urls.at("anonApplicationTokens"))
        .embed(communication(app))
        .embed(Resource::new(Namespace::Saas, "myOnlineMeetings", urls.at("myOnlineMeetings")))
        .embed(Resource::new(Namespace::Saas, "adhocMeetings", urls.at("adhocMeetings")))
        .into_value()
}

pub fn adhoc_meetings(app: &Application) -> Value {
    Resource::new(Namespace::Saas, "adhocMeetings", AppUrls::of(app).at("adhocMeetings")).into_value()
}

/// `ms:rtc:saas:adhocMeeting` (`fixtures/tap-recorded/resources/AdhocMeeting.json`).
pub fn adhoc_meeting(app: &Application, base: &str, record: &MeetingRecord) -> Value {
    let urls = AppUrls::of(app);
    let m = &record.meeting;
    let organizer = &m.settings().organizer_uri;
    let uri = conference_uri(organizer, m.id());
    let self_href = with_query(
        &urls.at(&format!("adhocMeetings/{}", m.id())),
        &format!("onlineMeetingContext={}", query_value(organizer)),
    );
    let join =
        format!("{base}{}", urls.at(&format!("communication/onlineMeetingInvitations?confUrl={}", query_value(&uri))));
    let r = Resource::new(Namespace::Saas, "adhocMeeting", self_href);
    with_meeting_properties(r, record)
        .prop("etag", record.settings_revision.to_string())
        .link("discover", format!("{base}/platformservice/discover?discoverContext={}", m.id()))
        .link("joinAdhocMeeting", join)
        .link("applications", format!("{base}{USER_PREFIX}/applications"))
        .into_value()
}

/// `myOnlineMeetings` of an endpoint: its ad hoc meetings, titled by subject.
pub fn my_online_meetings(app: &Application, meetings: &[MeetingRecord]) -> Value {
    let urls = AppUrls::of(app);
    let links = meetings
        .iter()
        .map(|m| (urls.at(&format!("adhocMeetings/{}", m.meeting.id())), Some(m.meeting.settings().subject.clone())));
    Resource::new(Namespace::Saas, "myOnlineMeetings", urls.at("myOnlineMeetings"))
        .link_array("adhocMeeting", links)
        .into_value()
}

/// `anonApplicationToken`: the token and the discover link a guest starts from.
pub fn anon_application_token(app: &Application, base: &str, token: &GuestToken) -> Value {
    // The token goes into the discover link URL-encoded twice, as recorded (`psat%253d...`).
    let context = token.secret.replacen("psat=", "psat%253d", 1);
    let urls = AppUrls::of(app);
    Resource::new(Namespace::Saas, "anonApplicationToken", format!("{base}{}", urls.at("anonApplicationTokens")))
        .prop("token", token.secret.as_str())
        .prop("expiryTime", aspnet_date(token.expires_ms))
        .link("discover", format!("{base}/platformservice/discover?anonymousMeetingJoinContext={context}"))
        .into_value()
}
