//! Responders that send the UCWA content type (axum's `Json` sends bare `application/json`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// `200 OK` with a JSON body in `application/json; charset=utf-8`.
pub struct Json(pub Value);

impl IntoResponse for Json {
    fn into_response(self) -> Response {
        json_response(StatusCode::OK, self.0.to_string())
    }
}

/// A JSON body already serialised (replayed event batches must be byte-identical).
pub fn json_response(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    let mut resp = (status, body.into()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ucwa_proto::JSON_CONTENT_TYPE));
    resp
}

/// `201 Created` with a `Location` and an empty body: how operations start.
pub fn created_at(location: &str) -> Response {
    let mut resp = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Marks a token endpoint answer as not to be cached.
pub fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
