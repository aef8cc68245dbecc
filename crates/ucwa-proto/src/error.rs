//! The UCWA error body and the status <-> code table (docs/protocol.md, errors;
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/errorsandinformationalmessages>).
//!
//! The same shape serves synchronous errors and the `reason` of failed operations in the
//! event channel.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::string_enum::string_enum;

string_enum! {
    /// `code`: for synchronous errors it always matches the HTTP status ([`ErrorCode::for_status`]);
    /// asynchronous reasons also use `Informational`, `LocalFailure` and `RemoteFailure`.
    pub enum ErrorCode {
        BadRequest = "BadRequest",
        Unauthorized = "Unauthorized",
        Forbidden = "Forbidden",
        NotFound = "NotFound",
        MethodNotAllowed = "MethodNotAllowed",
        NotAcceptable = "NotAcceptable",
        ClientTimeout = "ClientTimeout",
        Conflict = "Conflict",
        Gone = "Gone",
        PreconditionFailed = "PreconditionFailed",
        EntityTooLarge = "EntityTooLarge",
        UnsupportedMediaType = "UnsupportedMediaType",
        PreconditionRequired = "PreconditionRequired",
        TooManyRequests = "TooManyRequests",
        ServiceFailure = "ServiceFailure",
        ServiceUnavailable = "ServiceUnavailable",
        Timeout = "Timeout",
        GatewayTimeout = "GatewayTimeout",
        ExchangeServiceFailure = "ExchangeServiceFailure",
        Informational = "Informational",
        LocalFailure = "LocalFailure",
        RemoteFailure = "RemoteFailure",
    }
}

impl ErrorCode {
    /// The documented `code` for an HTTP status.
    pub fn for_status(status: u16) -> Self {
        match status {
            400 => Self::BadRequest,
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            406 => Self::NotAcceptable,
            408 => Self::ClientTimeout,
            409 => Self::Conflict,
            410 => Self::Gone,
            412 => Self::PreconditionFailed,
            413 => Self::EntityTooLarge,
            415 => Self::UnsupportedMediaType,
            428 => Self::PreconditionRequired,
            429 => Self::TooManyRequests,
            503 => Self::ServiceUnavailable,
            504 => Self::Timeout,
            _ => Self::ServiceFailure,
        }
    }
}

string_enum! {
    /// `subcode`: the refinement a client acts on
    /// ([ErrorSubcode](https://learn.microsoft.com/en-us/skype-sdk/ucwa/errorsubcode_ref)).
    /// Listed: the ones this server sends and the documented ones a join can meet.
    pub enum ErrorSubcode {
        ParameterValidationFailure = "ParameterValidationFailure",
        DeserializationFailure = "DeserializationFailure",
        ApplicationNotFound = "ApplicationNotFound",
        InactiveApplicationExpired = "InactiveApplicationExpired",
        TooManyApplications = "TooManyApplications",
        PGetReplaced = "PGetReplaced",
        DestinationNotFound = "DestinationNotFound",
        CallbackChannelError = "CallbackChannelError",
        CallbackUriUnreachable = "CallbackUriUnreachable",
        OriginNotAllowed = "OriginNotAllowed",
        ResourceNotFound = "ResourceNotFound",
        AlreadyExists = "AlreadyExists",
        Denied = "Denied",
        Declined = "Declined",
        Canceled = "Canceled",
        Timeout = "Timeout",
        Missed = "Missed",
        Ended = "Ended",
        Ejected = "Ejected",
        Removed = "Removed",
        TemporarilyUnavailable = "TemporarilyUnavailable",
        Unavailable = "Unavailable",
        Unreachable = "Unreachable",
        Busy = "Busy",
        TooManyParticipants = "TooManyParticipants",
        TooManyLobbyParticipants = "TooManyLobbyParticipants",
        AnonymousNotAllowed = "AnonymousNotAllowed",
        MakeMeAvailableRequired = "MakeMeAvailableRequired",
        LimitExceeded = "LimitExceeded",
        InviteesOnly = "InviteesOnly",
        PromptsStopped = "PromptsStopped",
    }
}

/// `{code, subcode?, message?, parameters?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcode: Option<ErrorSubcode>,
    /// Localised text. `Some(None)` is an explicit `null` (recorded Trusted Application API
    /// reasons send one); read it with [`ErrorBody::message`].
    #[serde(default, skip_serializing_if = "Option::is_none", with = "nullable")]
    pub message: Option<Option<String>>,
    /// Only on 400: the invalid properties, each named with what is wrong with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
}

impl ErrorBody {
    pub fn new(code: impl Into<ErrorCode>, subcode: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            subcode: subcode.map(ErrorSubcode::from),
            message: Some(Some(message.into())),
            parameters: None,
        }
    }

    /// The message text, if there is one.
    pub fn message(&self) -> Option<&str> {
        self.message.as_ref()?.as_deref()
    }
}

/// The documented `code` for an HTTP status; codes always match the status.
pub fn code_for_status(status: u16) -> ErrorCode {
    ErrorCode::for_status(status)
}

/// A property that may be absent (`None`), `null` (`Some(None)`) or a value.
mod nullable {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Option<Option<String>>, serializer: S) -> Result<S::Ok, S::Error> {
        value.as_ref().and_then(Option::as_ref).serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_null_and_text_messages_round_trip() {
        for body in [
            json!({"code": "Informational", "subcode": "PromptsStopped", "message": null}),
            json!({"code": "Conflict", "subcode": "PGetReplaced", "message": "replaced"}),
            json!({"code": "NotFound"}),
        ] {
            let parsed: ErrorBody = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(serde_json::to_value(&parsed).unwrap(), body);
        }
        let e = ErrorBody::new(code_for_status(409), Some("PGetReplaced"), "replaced");
        assert_eq!(e.message(), Some("replaced"));
        assert_eq!((e.code, e.subcode), (ErrorCode::Conflict, Some(ErrorSubcode::PGetReplaced)));
    }
}
