//! The Trusted Application API resources of a service application endpoint, in the
//! `ms:rtc:saas:` namespace: `discover`, `applications`, `application`, its `communication`
//! dashboard, `adhocMeeting`(s), `myOnlineMeetings` and `anonApplicationToken` (shapes of
//! `fixtures/tap-recorded/resources/`).

use serde_json::Value;
use ucwa_core::conference::conference_uri;
use ucwa_core::model::{Application, MeetingRecord};
use ucwa_proto::ids::SipUri;
use ucwa_proto::model::{self, AdhocMeeting, AnonApplicationToken, Communication, Dashboard, Discover, Hal, Link};
use ucwa_proto::values::WireDate;
use ucwa_proto::{Namespace, Rel, RelName};

use super::online_meeting::meeting_properties;
use crate::anonymous::GuestToken;
use crate::urls::{AppUrls, PLATFORM_PREFIX, PSANON_PREFIX, USER_PREFIX, query_value, with_query};

/// `discover` under `base`; a `psat` guest's (with its meeting's URI) also links its
/// `anonApplications`.
pub fn discover(base: &str, self_href: String, guest_meeting_uri: Option<&str>) -> Value {
    // Spelled out: `applications` is one of the rels TAP also uses bare, and the recorded
    // guest discover has both spellings (`fixtures/tap-recorded/raw-http/snippet3.txt`).
    let props = Discover { online_meeting_uri: guest_meeting_uri.map(SipUri::from_stored) };
    let r = Hal::without_self(Namespace::Ucwa, Some(Rel::saas(RelName::Discover)), props)
        .link(RelName::SelfLink, self_href)
        .link_as(Rel::saas(RelName::Applications), Link::new(format!("{base}{PLATFORM_PREFIX}/applications")))
        .link(RelName::MyApplications, format!("{base}{PLATFORM_PREFIX}/myApplications"));
    let r = match guest_meeting_uri {
        None => r,
        Some(_) => r
            .link(RelName::Applications, format!("{base}{PSANON_PREFIX}/applications"))
            .link(RelName::AnonApplications, format!("{base}{PSANON_PREFIX}/applications")),
    };
    r.into_value()
}

/// `applications`: the link to the endpoint's application.
pub fn applications(app: &Application) -> Value {
    Hal::without_self(Namespace::Ucwa, Some(Rel::saas(RelName::Applications)), Dashboard {})
        .link(RelName::SelfLink, format!("{PLATFORM_PREFIX}/applications"))
        .link_as(Rel::saas(RelName::Application), Link::new(AppUrls::of(app).app()))
        .into_value()
}

/// The TAP `communication` dashboard (`fixtures/tap-recorded/resources/Application.json`).
/// Audio and video are out of scope, so `startAudio`/`startAudioVideo` are not offered (the
/// recorded variants without them show that capability links follow what is granted).
pub fn communication(app: &Application) -> Hal<Communication> {
    let urls = AppUrls::of(app);
    let props = Communication { etag: Some("4294967295".to_owned()), ..Communication::default() };
    Hal::new(Namespace::Saas, RelName::Communication, urls.communication(), props)
        .link(RelName::JoinOnlineMeeting, urls.at("communication/onlineMeetingInvitations"))
        .link(RelName::InviteUserToMeeting, urls.at("communication/userMeetingInvitations"))
        .link(RelName::StartMessaging, urls.at("communication/messagingInvitations"))
}

pub fn application(app: &Application) -> Value {
    let urls = AppUrls::of(app);
    let my_online_meetings =
        Hal::new(Namespace::Saas, RelName::MyOnlineMeetings, urls.at("myOnlineMeetings"), Dashboard {});
    Hal::new(Namespace::Saas, RelName::Application, urls.app(), model::Application::default())
        .link(RelName::AnonApplicationTokens, urls.at("anonApplicationTokens"))
        .embed(RelName::Communication, communication(app))
        .embed(RelName::MyOnlineMeetings, my_online_meetings)
        .embed(RelName::AdhocMeetings, adhoc_meetings_resource(&urls))
        .into_value()
}

fn adhoc_meetings_resource(urls: &AppUrls) -> Hal<Dashboard> {
    Hal::new(Namespace::Saas, RelName::AdhocMeetings, urls.at("adhocMeetings"), Dashboard {})
}

pub fn adhoc_meetings(app: &Application) -> Value {
    adhoc_meetings_resource(&AppUrls::of(app)).into_value()
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
    let props = AdhocMeeting { meeting: meeting_properties(record), etag: Some(record.settings_revision.to_string()) };
    Hal::new(Namespace::Saas, RelName::AdhocMeeting, self_href, props)
        .link(RelName::Discover, format!("{base}/platformservice/discover?discoverContext={}", m.id()))
        .link(RelName::JoinAdhocMeeting, join)
        .link(RelName::Applications, format!("{base}{USER_PREFIX}/applications"))
        .into_value()
}

/// `myOnlineMeetings` of an endpoint: its ad hoc meetings, titled by subject.
pub fn my_online_meetings(app: &Application, meetings: &[MeetingRecord]) -> Value {
    let urls = AppUrls::of(app);
    let links = meetings.iter().map(|m| {
        Link::titled(urls.at(&format!("adhocMeetings/{}", m.meeting.id())), m.meeting.settings().subject.as_str())
    });
    Hal::new(Namespace::Saas, RelName::MyOnlineMeetings, urls.at("myOnlineMeetings"), Dashboard {})
        .link_array(RelName::AdhocMeeting, links)
        .into_value()
}

/// `anonApplicationToken`: the token and the discover link a guest starts from.
pub fn anon_application_token(app: &Application, base: &str, token: &GuestToken) -> Value {
    // The token goes into the discover link URL-encoded twice, as recorded (`psat%253d...`).
    let context = token.secret.replacen("psat=", "psat%253d", 1);
    let urls = AppUrls::of(app);
    let props =
        AnonApplicationToken { token: token.secret.clone(), expiry_time: WireDate::from_unix_ms(token.expires_ms) };
    Hal::new(
        Namespace::Saas,
        RelName::AnonApplicationToken,
        format!("{base}{}", urls.at("anonApplicationTokens")),
        props,
    )
    .link(RelName::Discover, format!("{base}/platformservice/discover?anonymousMeetingJoinContext={context}"))
    .into_value()
}
