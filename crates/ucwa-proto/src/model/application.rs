//! `application` and the resources embedded in it: `me`, the `people` and `onlineMeetings`
//! dashboards, `policies` (docs/protocol.md, application, me, people).

use serde::{Deserialize, Serialize};

use crate::ids::{AppId, SipUri};
use crate::values::{ApplicationType, Toggle, WireDate};

/// [application](https://learn.microsoft.com/en-us/skype-sdk/ucwa/application_ref). The
/// Trusted Application API's `ms:rtc:saas:application` has no properties at all, and the
/// recorded Lync application only `culture` and `userAgent`, hence every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub culture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ApplicationType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<AppId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<WireDate>,
}

/// [me](https://learn.microsoft.com/en-us/skype-sdk/ucwa/me_ref): the signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub uri: SipUri,
}

/// `policies`. This server sends every policy `Disabled`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policies {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emergency_calling_policy: Option<Toggle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephony_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo_policy: Option<Toggle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange_unified_messaging: Option<bool>,
}

/// A resource made only of links and embedded resources: the dashboards (`people`,
/// `onlineMeetings`, `adhocMeetings`, the discovery root and user), the collections
/// (`conversations`, `myOnlineMeetings`, `applications`) and the roster views (`participants`,
/// `leaders`, `attendees`, `lobby`), and `participantMessaging`. The resource's `rel` says which.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {}
