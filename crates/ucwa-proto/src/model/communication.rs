//! `communication` (docs/protocol.md, communication).

use serde::{Deserialize, Serialize};

use crate::values::{MessageFormat, ModalityType, Toggle};

/// [communication](https://learn.microsoft.com/en-us/skype-sdk/ucwa/communication_ref): the
/// capability dashboard and the sender of invitation and conversation events. Its PUT guard is
/// [`crate::model::Hal::put_guard`]. The Trusted Application API's has only `etag`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Communication {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_modalities: Option<Vec<ModalityType>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_message_formats: Option<Vec<MessageFormat>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simultaneous_ring_number_match: Option<Toggle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_based_screen_sharing: Option<Toggle>,
    /// A TimeSpan, `hh:mm:ss`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voip_fallback_to_phone_audio_time_out: Option<String>,
}
