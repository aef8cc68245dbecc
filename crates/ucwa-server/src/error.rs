//! The one place where failures become HTTP responses.
//!
//! Every error answers with the UCWA error body (`ucwa-spec.md` §13.1) whose `code` matches
//! the status. 5xx bodies never echo internals: the cause is logged, the client gets a
//! generic message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use ucwa_core::StoreError;
use ucwa_proto::error::{ErrorBody, code_for_status};
use ucwa_proto::input::ParamError;

use crate::middleware::FailureCause;

#[derive(Debug)]
pub enum ApiError {
    /// 400 with subcode `ParameterValidationFailure`, naming each bad parameter.
    InvalidParameters(Vec<ParamError>),
    /// 400 for a body that is not what the resource reads (malformed JSON, not an object).
    BadRequest {
        subcode: Option<&'static str>,
        message: String,
    },
    /// 401: answered by the auth layer with the `WWW-Authenticate` challenge instead.
    Unauthorized,
    Forbidden {
        subcode: Option<&'static str>,
        message: String,
    },
    NotFound {
        subcode: Option<&'static str>,
        message: String,
    },
    MethodNotAllowed,
    /// 406: the client accepts only a format this server does not produce (XML).
    NotAcceptable,
    Conflict {
        subcode: Option<&'static str>,
        message: String,
    },
    Gone {
        subcode: &'static str,
        message: String,
    },
    PreconditionFailed,
    PreconditionRequired,
    EntityTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    /// 500 `ServiceFailure` with a documented subcode the client acts on, e.g.
    /// `CallbackChannelError` (the callback URL cannot be reached).
    ServiceFailure {
        subcode: &'static str,
        message: String,
    },
    /// 500; the cause is logged and never sent.
    Internal(String),
}

impl ApiError {
    pub fn not_found() -> Self {
        ApiError::NotFound { subcode: None, message: "The resource does not exist.".into() }
    }

    pub fn application_not_found() -> Self {
        ApiError::NotFound { subcode: Some("ApplicationNotFound"), message: "The application does not exist.".into() }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::Conflict { subcode: None, message: message.into() }
    }

    fn parts(&self) -> (StatusCode, Option<&str>, String) {
        match self {
            ApiError::InvalidParameters(_) => (
                StatusCode::BAD_REQUEST,
                Some("ParameterValidationFailure"),
                "Wrong parameters were provided for the request.".into(),
            ),
            ApiError::BadRequest { subcode, message } => (StatusCode::BAD_REQUEST, *subcode, message.clone()),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, None, "Authentication is required.".into()),
            ApiError::Forbidden { subcode, message } => (StatusCode::FORBIDDEN, *subcode, message.clone()),
            ApiError::NotFound { subcode, message } => (StatusCode::NOT_FOUND, *subcode, message.clone()),
            ApiError::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, None, "The method is not supported on this resource.".into())
            }
            ApiError::NotAcceptable => {
                (StatusCode::NOT_ACCEPTABLE, None, "This server answers in JSON only; accept application/json.".into())
            }
            ApiError::Conflict { subcode, message } => (StatusCode::CONFLICT, *subcode, message.clone()),
            ApiError::Gone { subcode, message } => (StatusCode::GONE, Some(subcode), message.clone()),
            ApiError::PreconditionFailed => {
                (StatusCode::PRECONDITION_FAILED, None, "The resource has changed; fetch it again.".into())
            }
            ApiError::PreconditionRequired => {
                (StatusCode::PRECONDITION_REQUIRED, None, "This request needs an If-Match header.".into())
            }
            ApiError::EntityTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, None, "The request body is too large.".into()),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, None, "The content type is not supported; send JSON.".into())
            }
            ApiError::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, None, "Too many requests; slow down.".into()),
            ApiError::ServiceFailure { subcode, message } => {
                (StatusCode::INTERNAL_SERVER_ERROR, Some(subcode), message.clone())
            }
            ApiError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, None, "The server could not complete the request.".into())
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<Vec<ParamError>> for ApiError {
    fn from(errors: Vec<ParamError>) -> Self {
        ApiError::InvalidParameters(errors)
    }
}

/// A complete UCWA error response for `status`; also used by the fallback and panic handlers.
pub fn error_response(status: StatusCode, body: &ErrorBody) -> Response {
    let mut resp = (status, serde_json::to_string(body).unwrap_or_default()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ucwa_proto::JSON_CONTENT_TYPE));
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let cause = match &self {
            ApiError::Internal(cause) => Some(cause.clone()),
            _ => None,
        };
        let (status, subcode, message) = self.parts();
        let mut body = ErrorBody::new(code_for_status(status.as_u16()), subcode, message);
        if let ApiError::InvalidParameters(errors) = &self {
            let params: Map<String, Value> =
                errors.iter().map(|e| (e.name.to_owned(), Value::String(e.problem.clone()))).collect();
            body.parameters = Some(params);
        }
        let mut resp = error_response(status, &body);
        if let Some(cause) = cause {
            resp.extensions_mut().insert(FailureCause(cause));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
