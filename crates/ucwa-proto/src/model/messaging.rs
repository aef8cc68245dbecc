//! `messaging` and `message` (docs/protocol.md, messaging, message).

use serde::{Deserialize, Serialize};

use crate::values::{Direction, MessageFormat, ModalityState, WireDate};

/// [messaging](https://learn.microsoft.com/en-us/skype-sdk/ucwa/messaging_ref): the instant
/// messaging modality of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Messaging {
    pub state: ModalityState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negotiated_message_formats: Option<Vec<MessageFormat>>,
}

/// [message](https://learn.microsoft.com/en-us/skype-sdk/ucwa/message_ref): one message
/// operation. The text of an incoming message is its `plainMessage` or `htmlMessage` data-URI
/// link (see [`crate::encode::decode_data_uri`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub direction: Direction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_stamp: Option<WireDate>,
}
