//! `participant`, `localParticipant` and `from` (docs/protocol.md, participant).

use serde::{Deserialize, Serialize};

use crate::values::{Role, SourceNetwork};

/// [participant](https://learn.microsoft.com/en-us/skype-sdk/ucwa/participant_ref): one
/// conversation as another sees it. Capability links (`admit`, `reject`, `promote`, `demote`,
/// `eject`) are in the envelope. Every property is optional: the `from` of an incoming
/// invitation has only `anonymous`, `name` and `uri`, the recorded Trusted Application API
/// participants only `name` and `uri`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_lobby: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizer: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_network: Option<SourceNetwork>,
    /// A SIP URI, or a `tel:` URI for phone participants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}
