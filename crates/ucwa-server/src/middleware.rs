//! Cross-cutting HTTP behaviour: correlation headers, and UCWA error bodies for the
//! requests no route takes (404, 405) and for panics.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use ucwa_core::credentials::new_id;
use ucwa_proto::error::ErrorBody;

use crate::error::{ApiError, error_response};
use crate::state::AppState;

static CORRELATION_ID: HeaderName = HeaderName::from_static("x-ms-correlation-id");
static SERVER_FQDN: HeaderName = HeaderName::from_static("x-ms-server-fqdn");
static CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// Adds `X-MS-Correlation-Id` and `X-MS-Server-Fqdn` to every response (a real TAP SDK treats
/// a 404 as "resource gone" only when both are present), and echoes `client-request-id`.
pub async fn correlation(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let client_request_id = req.headers().get(&CLIENT_REQUEST_ID).cloned();
    let correlation = new_id();
    let span =
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), correlation = %correlation);
    let mut resp = tracing::Instrument::instrument(next.run(req), span).await;
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&correlation) {
        headers.insert(CORRELATION_ID.clone(), v);
    }
    if let Ok(v) = HeaderValue::from_str(&state.server_fqdn) {
        headers.insert(SERVER_FQDN.clone(), v);
    }
    if let Some(v) = client_request_id {
        headers.insert(CLIENT_REQUEST_ID.clone(), v);
    }
    resp
}

pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Turns a panic into a plain 500 with a UCWA body; the panic message is logged, not sent.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &ErrorBody::new("ServiceFailure", None, "The server could not complete the request."),
    )
}
