//! `application` and the dashboards it embeds (`me`, `people`, `onlineMeetings`,
//! `communication`), as the recorded Lync application shows them
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/application_ref>).

use serde_json::json;
use ucwa_core::model::Application;
use ucwa_proto::{Namespace, Resource};

use super::online_meeting::PUT_GUARD;
use crate::urls::AppUrls;

/// Sub-resources the recorded application links below `people` and `onlineMeetings`, in the
/// recorded order. Those [`ucwa_proto::paths::DASHBOARDS`] lists hold nothing here; the
/// others (contacts, search, presence subscriptions) have routes of their own.
pub const EMPTY_COLLECTIONS: &[(&str, &str)] = &[
    ("people/presenceSubscriptions", "presenceSubscriptions"),
    ("people/subscribedContacts", "subscribedContacts"),
    ("people/presenceSubscriptionMemberships", "presenceSubscriptionMemberships"),
    ("people/groups", "myGroups"),
    ("people/groupMemberships", "myGroupMemberships"),
    ("people/contacts", "myContacts"),
    ("people/privacyRelationships", "myPrivacyRelationships"),
    ("people/contactsAndGroupsSubscription", "myContactsAndGroupsSubscription"),
    ("people/search", "search"),
    ("onlineMeetings/customInvitation", "onlineMeetingInvitationCustomization"),
    ("onlineMeetings/policies", "onlineMeetingPolicies"),
    ("onlineMeetings/phoneDialInInformation", "phoneDialInInformation"),
];

pub fn application(app: &Application) -> serde_json::Value {
    let urls = AppUrls::of(app);
    Resource::new(Namespace::Ucwa, "application", urls.app())
        .prop("culture", app.culture.as_str())
        .prop("userAgent", app.user_agent.as_str())
        .prop("type", "Browser")
        .prop("endpointId", app.endpoint_id.as_str())
        .prop("id", app.id.as_str())
        .opt_prop("instanceId", app.instance_id.as_deref())
        .link("policies", urls.at("policies"))
        .link("batch", urls.at("batch"))
        .link("events", urls.events(app.delivered.no.max(1)))
        .embed(me(app))
        .embed(people(&urls))
        .embed(online_meetings(&urls))
        .embed(communication(app))
        .into_value()
}

/// `me`, with the links of the recorded Lync traffic: `makeMeAvailable` and `photo` before
/// `makeMeAvailable`; then `note`, `presence`, `location`, `reportMyActivity`, `phones` and
/// `photo` (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/receiveanim>). Anonymous
/// guests have no presence, phones or photo (the recorded guest `me` has only `self`).
pub fn me(app: &Application) -> Resource {
    let urls = AppUrls::of(app);
    let person = !app.anonymous;
    let mut r = Resource::new(Namespace::Ucwa, "me", urls.me())
        .prop("name", app.display_name.as_str())
        .prop("uri", app.owner_uri.as_str())
        .link_if(!app.available, "makeMeAvailable", || urls.at("me/makeMeAvailable"));
    if person && app.available {
        r = super::people::me_links(r, &urls);
    }
    r.link_if(app.available, "reportMyActivity", || urls.at("me/reportMyActivity"))
        .link_if(person && app.available, "phones", || urls.me_part("phones"))
        .link_if(person, "photo", || urls.photo(&ucwa_core::meeting::address_key(&app.owner_uri)))
}

/// A dashboard whose links are the sub-resources under `prefix`.
fn dashboard_resource(urls: &AppUrls, rel: &str, prefix: &str) -> Resource {
    EMPTY_COLLECTIONS
        .iter()
        .filter(|(path, _)| path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')))
        .fold(Resource::new(Namespace::Ucwa, rel, urls.at(prefix)), |r, (path, rel)| r.link(rel, urls.at(path)))
}

fn people(urls: &AppUrls) -> Resource {
    dashboard_resource(urls, "people", "people")
}

fn online_meetings(urls: &AppUrls) -> Resource {
    dashboard_resource(urls, "onlineMeetings", "onlineMeetings")
        .link("myOnlineMeetings", urls.at("onlineMeetings/myOnlineMeetings"))
        .link("onlineMeetingDefaultValues", urls.at("onlineMeetings/defaultValues"))
        .link("onlineMeetingEligibleValues", urls.at("onlineMeetings/eligibleValues"))
}

pub fn communication(app: &Application) -> Resource {
    let urls = AppUrls::of(app);
    let modalities = if app.available { json!(["Messaging"]) } else { json!([]) };
    Resource::new(Namespace::Ucwa, "communication", urls.communication())
        .prop(PUT_GUARD, "please pass this in a PUT request")
        .prop("supportedModalities", modalities)
        .prop("supportedMessageFormats", json!(["Plain", "Html"]))
        .prop("etag", if app.available { "2" } else { "1" })
        .link("conversations", urls.at("communication/conversations?filter=active"))
        .link("startMessaging", urls.at("communication/messagingInvitations"))
        .link("startOnlineMeeting", urls.at("communication/onlineMeetingInvitations?onlineMeetingUri=adhoc"))
        .link("joinOnlineMeeting", urls.at("communication/onlineMeetingInvitations"))
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
        "policies" => Resource::new(Namespace::Ucwa, "policies", urls.at("policies"))
            .prop("emergencyCallingPolicy", "Disabled")
            .prop("telephonyMode", "Disabled")
            .prop("photoPolicy", "Disabled")
            .prop("exchangeUnifiedMessaging", false)
            .into_value(),
        other => {
            ucwa_proto::paths::DASHBOARDS.iter().find(|(path, _)| *path == other)?;
            let (path, rel) = EMPTY_COLLECTIONS.iter().find(|(path, _)| *path == other)?;
            Resource::new(Namespace::Ucwa, rel, urls.at(path)).into_value()
        }
    };
    Some(body)
}
