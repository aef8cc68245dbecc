//! Trusted Application API entry resources: `discover` and `anonApplicationToken`
//! (docs/protocol.md, discover, anonApplicationTokens). Its `applications`, `application`
//! and `adhocMeetings` are [`super::Dashboard`] and [`super::Application`] resources in the
//! `ms:rtc:saas:` namespace.

use serde::{Deserialize, Serialize};

use crate::ids::SipUri;
use crate::values::WireDate;

/// `ms:rtc:saas:discover`. For a `psat` guest it also names the meeting the token is for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Discover {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_meeting_uri: Option<SipUri>,
}

/// `ms:rtc:saas:anonApplicationToken`: a `psat` token for an anonymous guest; its
/// `ms:rtc:saas:discover` link is where the guest starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnonApplicationToken {
    pub token: String,
    pub expiry_time: WireDate,
}
