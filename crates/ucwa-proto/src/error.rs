//! The UCWA error body and the status <-> code table (docs/protocol.md, errors;
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/errorsandinformationalmessages>).
//!
//! The same shape serves synchronous errors and the `reason` of failed operations in the
//! event channel.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `{code, subcode?, message?, parameters?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subcode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Only on 400: the invalid properties, each named with what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
}

impl ErrorBody {
    pub fn new(code: &str, subcode: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            subcode: subcode.map(str::to_owned),
            message: Some(message.into()),
            parameters: None,
        }
    }
}

/// The documented `code` for an HTTP status; codes always match the status.
pub fn code_for_status(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        408 => "ClientTimeout",
        409 => "Conflict",
        410 => "Gone",
        412 => "PreconditionFailed",
        413 => "EntityTooLarge",
        415 => "UnsupportedMediaType",
        428 => "PreconditionRequired",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "ServiceFailure",
    }
}
