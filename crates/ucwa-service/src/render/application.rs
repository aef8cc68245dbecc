//! `application` and the dashboards it embeds (`me`, `people`, `onlineMeetings`,
//! `communication`), as the recorded Lync application shows them
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/application_ref>).

use ucwa_core::model::Application;
use ucwa_proto::ids::{AppId, SipUri};
use ucwa_proto::model::{self, Communication, Dashboard, Hal, Me, Policies};
use ucwa_proto::values::{ApplicationType, MessageFormat, ModalityType, Toggle};
use ucwa_proto::{Namespace, RelName};

use super::online_meeting::PUT_GUARD;
use crate::urls::AppUrls;

/// Sub-resources the recorded application links below `people` and `onlineMeetings`, in the
/// recorded order. Those [`ucwa_proto::paths::DASHBOARDS`] lists hold nothing here; the
/// others (contacts, search, presence subscriptions) have routes of their own.
pub const EMPTY_COLLECTIONS: &[(&str, RelName)] = &[
    ("people/presenceSubscriptions", RelName::PresenceSubscriptions),
    ("people/subscribedContacts", RelName::SubscribedContacts),
    ("people/presenceSubscriptionMemberships", RelName::PresenceSubscriptionMemberships),
    ("people/groups", RelName::MyGroups),
    ("people/groupMemberships", RelName::MyGroupMemberships),
    ("people/contacts", RelName::MyContacts),
    ("people/privacyRelationships", RelName::MyPrivacyRelationships),
    ("people/contactsAndGroupsSubscription", RelName::MyContactsAndGroupsSubscription),
    ("people/search", RelName::Search),
    ("onlineMeetings/customInvitation", RelName::OnlineMeetingInvitationCustomization),
    ("onlineMeetings/policies", RelName::OnlineMeetingPolicies),
    ("onlineMeetings/phoneDialInInformation", RelName::PhoneDialInInformation),
];

pub fn application(app: &Application) -> serde_json::Value {
    let urls = AppUrls::of(app);
    let props = model::Application {
        culture: Some(app.culture.clone()),
        user_agent: Some(app.user_agent.clone()),
        kind: Some(ApplicationType::Browser),
        endpoint_id: Some(app.endpoint_id.clone()),
        id: Some(AppId::from_stored(app.id.as_str())),
        instance_id: app.instance_id.clone(),
        etag: None,
        expires: None,
    };
    Hal::new(Namespace::Ucwa, RelName::Application, urls.app(), props)
        .link(RelName::Policies, urls.at("policies"))
        .link(RelName::Batch, urls.at("batch"))
        .link(RelName::Events, urls.events(app.delivered.no.max(1)))
        .embed(RelName::Me, me(app))
        .embed(RelName::People, people(&urls))
        .embed(RelName::OnlineMeetings, online_meetings(&urls))
        .embed(RelName::Communication, communication(app))
        .into_value()
}

/// `me`, with the links of the recorded Lync traffic: `makeMeAvailable` and `photo` before
/// `makeMeAvailable`; then `note`, `presence`, `location`, `reportMyActivity`, `phones` and
/// `photo` (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/receiveanim>). Anonymous
/// guests have no presence, phones or photo (the recorded guest `me` has only `self`).
pub fn me(app: &Application) -> Hal<Me> {
    let urls = AppUrls::of(app);
    let person = !app.anonymous;
    let props = Me { name: app.display_name.clone(), uri: SipUri::from_stored(app.owner_uri.as_str()) };
    let mut r = Hal::new(Namespace::Ucwa, RelName::Me, urls.me(), props).link_if(
        !app.available,
        RelName::MakeMeAvailable,
        || urls.at("me/makeMeAvailable"),
    );
    if person && app.available {
        r = super::people::me_links(r, &urls);
    }
    r.link_if(app.available, RelName::ReportMyActivity, || urls.at("me/reportMyActivity"))
        .link_if(person && app.available, RelName::Phones, || urls.me_part("phones"))
        .link_if(person, RelName::Photo, || urls.photo(&ucwa_core::meeting::address_key(&app.owner_uri)))
}

/// A dashboard whose links are the sub-resources under `prefix`.
fn dashboard_resource(urls: &AppUrls, name: RelName, prefix: &str) -> Hal<Dashboard> {
    EMPTY_COLLECTIONS
        .iter()
        .filter(|(path, _)| path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')))
        .fold(Hal::new(Namespace::Ucwa, name, urls.at(prefix), Dashboard {}), |r, (path, rel)| {
            r.link(rel.clone(), urls.at(path))
        })
}

fn people(urls: &AppUrls) -> Hal<Dashboard> {
    dashboard_resource(urls, RelName::People, "people")
}

fn online_meetings(urls: &AppUrls) -> Hal<Dashboard> {
    dashboard_resource(urls, RelName::OnlineMeetings, "onlineMeetings")
        .link(RelName::MyOnlineMeetings, urls.at("onlineMeetings/myOnlineMeetings"))
        .link(RelName::OnlineMeetingDefaultValues, urls.at("onlineMeetings/defaultValues"))
        .link(RelName::OnlineMeetingEligibleValues, urls.at("onlineMeetings/eligibleValues"))
}

pub fn communication(app: &Application) -> Hal<Communication> {
    let urls = AppUrls::of(app);
    let props = Communication {
        supported_modalities: Some(if app.available { vec![ModalityType::Messaging] } else { Vec::new() }),
        supported_message_formats: Some(vec![MessageFormat::Plain, MessageFormat::Html]),
        etag: Some(if app.available { "2" } else { "1" }.to_owned()),
        ..Communication::default()
    };
    Hal::new(Namespace::Ucwa, RelName::Communication, urls.communication(), props)
        .put_guard(PUT_GUARD)
        .link(RelName::Conversations, urls.at("communication/conversations?filter=active"))
        .link(RelName::StartMessaging, urls.at("communication/messagingInvitations"))
        .link(RelName::StartOnlineMeeting, urls.at("communication/onlineMeetingInvitations?onlineMeetingUri=adhoc"))
        .link(RelName::JoinOnlineMeeting, urls.at("communication/onlineMeetingInvitations"))
}

/// Dashboards whose only content here is their links: `people`, `onlineMeetings` and their
/// sub-resources that this server does not populate (contacts, presence, dial-in), and
/// `policies`. They exist so that the hypermedia a client follows never leads to a 404.
/// `None` for a path that is no dashboard.
pub fn dashboard(app: &Application, path: &str) -> Option<serde_json::Value> {
    let urls = AppUrls::of(app);
    let body = match path {
        "people" => people(&urls).into_value(),
        "onlineMeetings" => online_meetings(&urls).into_value(),
        "policies" => {
            let props = Policies {
                emergency_calling_policy: Some(Toggle::Disabled),
                telephony_mode: Some("Disabled".to_owned()),
                photo_policy: Some(Toggle::Disabled),
                exchange_unified_messaging: Some(false),
            };
            Hal::new(Namespace::Ucwa, RelName::Policies, urls.at("policies"), props).into_value()
        }
        other => {
            ucwa_proto::paths::DASHBOARDS.iter().find(|(path, _)| *path == other)?;
            let (path, rel) = EMPTY_COLLECTIONS.iter().find(|(path, _)| *path == other)?;
            Hal::new(Namespace::Ucwa, rel.clone(), urls.at(path), Dashboard {}).into_value()
        }
    };
    Some(body)
}
