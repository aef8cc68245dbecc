//! Domain errors: what went wrong in a use case, with what a UCWA error body needs (the
//! kind, a documented subcode, a message, the offending parameters). The server turns them
//! into HTTP responses in one place (`ucwa-server`'s `error.rs`); nothing here knows a status
//! code.

use ucwa_core::StoreError;
use ucwa_core::meeting::MeetingError;
use ucwa_proto::input::ParamError;

#[derive(Debug)]
pub enum ServiceError {
    /// Input failed validation; each bad parameter is named (`ParameterValidationFailure`).
    InvalidParameters(Vec<ParamError>),
    /// The caller may not do this.
    Forbidden { subcode: Option<&'static str>, message: String },
    /// No such resource for this caller (someone else's resources are reported the same way).
    NotFound { subcode: Option<&'static str>, message: String },
    /// The resource is not in a state where this applies.
    Conflict { subcode: Option<&'static str>, message: String },
    /// The resource existed and is gone for good.
    Gone { subcode: &'static str, message: String },
    /// A conditional update named a version that is no longer current.
    PreconditionFailed,
    /// An update that must be conditional was not.
    PreconditionRequired,
    /// A body in a media type the use case does not read.
    UnsupportedMediaType,
    /// Too many attempts (sign-in limits): 429 with `Retry-After`.
    TooManyRequests { retry_after_secs: u64 },
    /// The server is too busy to do this now (every hashing slot taken): 503 with
    /// `Retry-After`.
    Unavailable { retry_after_secs: u64 },
    /// The database cannot be reached or is not taking work now (a restart, a failover), or a
    /// write kept losing to other nodes' writes: 503 with `Retry-After`. The cause is logged,
    /// never shown.
    StoreUnavailable(String),
    /// The operation failed for a documented reason the client acts on (`CallbackChannelError`).
    ServiceFailure { subcode: &'static str, message: String },
    /// A token request was refused: the OAuth `error` code (`invalid_grant`, ...).
    OAuth(&'static str),
    /// Something broke; the cause is logged, never shown.
    Internal(String),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn not_found() -> Self {
        ServiceError::NotFound { subcode: None, message: "The resource does not exist.".into() }
    }

    pub fn application_not_found() -> Self {
        ServiceError::NotFound {
            subcode: Some("ApplicationNotFound"),
            message: "The application does not exist.".into(),
        }
    }

    /// 404 `DestinationNotFound`: the meeting, user or join URL named does not exist here.
    pub fn destination_not_found(message: &str) -> Self {
        ServiceError::NotFound { subcode: Some("DestinationNotFound"), message: message.into() }
    }

    pub fn forbidden(message: &str) -> Self {
        ServiceError::Forbidden { subcode: None, message: message.into() }
    }

    /// How long a client should wait before trying again, for the errors that say so.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ServiceError::TooManyRequests { retry_after_secs } | ServiceError::Unavailable { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            ServiceError::StoreUnavailable(_) => Some(STORE_RETRY_AFTER_SECS),
            _ => None,
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        ServiceError::Conflict { subcode: None, message: message.into() }
    }
}

impl From<MeetingError> for ServiceError {
    fn from(e: MeetingError) -> Self {
        match e {
            MeetingError::Forbidden => ServiceError::forbidden("You do not have this capability in the meeting."),
            MeetingError::NotFound => ServiceError::not_found(),
            MeetingError::Conflict => ServiceError::conflict("The participant is not in a state where this applies."),
            MeetingError::Ended => ServiceError::destination_not_found("The meeting has ended."),
        }
    }
}

/// What a client is told to wait when the database is unavailable: a restart is over in
/// about a second, and a longer failover answers the retry the same way, cheaply.
pub const STORE_RETRY_AFTER_SECS: u64 = 1;

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => ServiceError::StoreUnavailable(e.to_string()),
            StoreError::Failed(_) | StoreError::Corrupt(_) | StoreError::Conflict(_) => {
                ServiceError::Internal(e.to_string())
            }
        }
    }
}

impl From<Vec<ParamError>> for ServiceError {
    fn from(errors: Vec<ParamError>) -> Self {
        ServiceError::InvalidParameters(errors)
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::InvalidParameters(errors) => {
                let names: Vec<&str> = errors.iter().map(|e| e.name).collect();
                write!(f, "invalid parameters: {}", names.join(", "))
            }
            ServiceError::Forbidden { message, .. }
            | ServiceError::NotFound { message, .. }
            | ServiceError::Conflict { message, .. }
            | ServiceError::Gone { message, .. }
            | ServiceError::ServiceFailure { message, .. } => f.write_str(message),
            ServiceError::PreconditionFailed => f.write_str("precondition failed"),
            ServiceError::PreconditionRequired => f.write_str("precondition required"),
            ServiceError::UnsupportedMediaType => f.write_str("unsupported media type"),
            ServiceError::TooManyRequests { .. } => f.write_str("too many requests"),
            ServiceError::Unavailable { .. } => f.write_str("busy"),
            ServiceError::OAuth(code) => f.write_str(code),
            ServiceError::StoreUnavailable(cause) | ServiceError::Internal(cause) => f.write_str(cause),
        }
    }
}

impl std::error::Error for ServiceError {}
