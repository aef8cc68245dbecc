//! `conversation` and its media modalities (docs/protocol.md, conversation).

use serde::{Deserialize, Serialize};

use crate::values::{ConversationState, Importance, LobbyStatus, ModalityState, ModalityType, Toggle, WireDate};

/// [conversation](https://learn.microsoft.com/en-us/skype-sdk/ucwa/conversation_ref): one
/// application's view of a meeting or call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub state: ConversationState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub importance: Option<Importance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_modalities: Option<Vec<ModalityType>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<WireDate>,
    /// Sent once the conversation is `Conferenced` (or a two-party `Connected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant_count: Option<u32>,
    /// Trusted Application API only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_meeting_lobby_status: Option<LobbyStatus>,
}

/// A media modality of a conversation: `audioVideo`, `applicationSharing` or
/// `dataCollaboration`. This server never connects them (always `Disconnected`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaModality {
    pub state: ModalityState,
    /// Trusted Application API audio/video only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_context: Option<String>,
    /// Trusted Application API audio/video only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_replaces: Option<Toggle>,
}
