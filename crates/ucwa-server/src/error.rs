//! The one place where failures become HTTP responses: the use cases' [`ServiceError`]s and
//! the few failures only HTTP has (an unreadable body, an unknown route).
//!
//! Every error answers with the UCWA error body
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/errorsandinformationalmessages>) whose `code` matches the
//! status, except the token endpoint's refusals, which are OAuth-style `400 {"error": ...}`
//! with `Cache-Control: no-store`. 5xx bodies never echo internals: the cause is logged, the
//! client gets a generic message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use ucwa_proto::error::{ErrorBody, code_for_status};
use ucwa_service::ServiceError;
use ucwa_service::render::token;

use crate::middleware::FailureCause;
use crate::response::no_store;

#[derive(Debug)]
pub enum ApiError {
    /// A use case refused or failed.
    Service(ServiceError),
    /// 400 for a body that is not what the resource reads (malformed JSON, not an object).
    BadRequest {
        subcode: Option<&'static str>,
        message: String,
    },
    MethodNotAllowed,
    /// 406: the client accepts only a format this server does not produce (XML).
    NotAcceptable,
    EntityTooLarge,
    /// 408: the body did not arrive in time (`--body-read-timeout-ms`).
    BodyTimeout,
}

impl ApiError {
    pub fn not_found() -> Self {
        ApiError::Service(ServiceError::not_found())
    }

    fn parts(&self) -> (StatusCode, Option<&str>, String) {
        let generic = |status: StatusCode, message: &str| (status, None, message.to_owned());
        match self {
            ApiError::BadRequest { subcode, message } => (StatusCode::BAD_REQUEST, *subcode, message.clone()),
            ApiError::MethodNotAllowed => {
                generic(StatusCode::METHOD_NOT_ALLOWED, "The method is not supported on this resource.")
            }
            ApiError::NotAcceptable => {
                generic(StatusCode::NOT_ACCEPTABLE, "This server answers in JSON only; accept application/json.")
            }
            ApiError::EntityTooLarge => generic(StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large."),
            ApiError::BodyTimeout => generic(StatusCode::REQUEST_TIMEOUT, "The request body did not arrive in time."),
            ApiError::Service(e) => match e {
                ServiceError::InvalidParameters(_) => (
                    StatusCode::BAD_REQUEST,
                    Some("ParameterValidationFailure"),
                    "Wrong parameters were provided for the request.".into(),
                ),
                ServiceError::Forbidden { subcode, message } => (StatusCode::FORBIDDEN, *subcode, message.clone()),
                ServiceError::NotFound { subcode, message } => (StatusCode::NOT_FOUND, *subcode, message.clone()),
                ServiceError::Conflict { subcode, message } => (StatusCode::CONFLICT, *subcode, message.clone()),
                ServiceError::Gone { subcode, message } => (StatusCode::GONE, Some(subcode), message.clone()),
                ServiceError::PreconditionFailed => {
                    generic(StatusCode::PRECONDITION_FAILED, "The resource has changed; fetch it again.")
                }
                ServiceError::PreconditionRequired => {
                    generic(StatusCode::PRECONDITION_REQUIRED, "This request needs an If-Match header.")
                }
                ServiceError::UnsupportedMediaType => {
                    generic(StatusCode::UNSUPPORTED_MEDIA_TYPE, "The content type is not supported; send JSON.")
                }
                ServiceError::TooManyRequests { .. } => {
                    generic(StatusCode::TOO_MANY_REQUESTS, "Too many failed attempts; retry after the time given.")
                }
                ServiceError::Unavailable { .. } => {
                    generic(StatusCode::SERVICE_UNAVAILABLE, "The server is busy; retry after the time given.")
                }
                ServiceError::StoreUnavailable(_) => generic(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is unavailable for a moment; retry after the time given.",
                ),
                ServiceError::ServiceFailure { subcode, message } => {
                    (StatusCode::INTERNAL_SERVER_ERROR, Some(subcode), message.clone())
                }
                ServiceError::OAuth(code) => (StatusCode::BAD_REQUEST, None, (*code).to_owned()),
                ServiceError::Internal(_) => {
                    generic(StatusCode::INTERNAL_SERVER_ERROR, "The server could not complete the request.")
                }
            },
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError::Service(e)
    }
}

impl From<Vec<ucwa_proto::input::ParamError>> for ApiError {
    fn from(errors: Vec<ucwa_proto::input::ParamError>) -> Self {
        ApiError::Service(errors.into())
    }
}

impl From<ucwa_core::StoreError> for ApiError {
    fn from(e: ucwa_core::StoreError) -> Self {
        ApiError::Service(e.into())
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
        if let ApiError::Service(ServiceError::OAuth(code)) = &self {
            return no_store((StatusCode::BAD_REQUEST, axum::Json(token::error(code))).into_response());
        }
        let cause = match &self {
            ApiError::Service(ServiceError::Internal(cause) | ServiceError::StoreUnavailable(cause)) => {
                Some(cause.clone())
            }
            _ => None,
        };
        let retry_after = match &self {
            ApiError::Service(e) => e.retry_after_secs(),
            _ => None,
        };
        let (status, subcode, message) = self.parts();
        let mut body = ErrorBody::new(code_for_status(status.as_u16()), subcode, message);
        if let ApiError::Service(ServiceError::InvalidParameters(errors)) = &self {
            let params: Map<String, Value> =
                errors.iter().map(|e| (e.name.to_owned(), Value::String(e.problem.clone()))).collect();
            body.parameters = Some(params);
        }
        let mut resp = error_response(status, &body);
        if let Some(secs) = retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(cause) = cause {
            resp.extensions_mut().insert(FailureCause(cause));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
