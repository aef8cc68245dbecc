//! Request bodies. [`Input`] accepts a JSON object body (any `+json` type, as UCWA clients
//! send `application/vnd.microsoft.com.ucwa+json`), or no body at all, merged with the query
//! string into a case-insensitive [`PropertyBag`]. Anything else gets the documented error:
//! 415 for another content type, 400 for malformed JSON, 413 past the size limit.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde_json::Value;
use ucwa_proto::input::PropertyBag;
use ucwa_service::ServiceError;

use crate::error::ApiError;
use crate::state::AppState;

pub struct Input(pub PropertyBag);

/// The last parameter of the route's path (the part, participant, message or meeting a
/// route names below an application or a conversation).
pub struct Tail(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Tail {
    type Rejection = axum::response::Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        Ok(Tail(params.iter().last().map(|(_, value)| value.to_owned()).unwrap_or_default()))
    }
}

/// Whether a content type is JSON (`application/json`, `application/*+json`).
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl FromRequest<AppState> for Input {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let query: Vec<(String, String)> =
            req.uri().query().map(|q| serde_urlencoded::from_str(q).unwrap_or_default()).unwrap_or_default();
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = read_body(req, state.services.limits.max_body_bytes).await?;
        let object = if body.iter().all(u8::is_ascii_whitespace) {
            serde_json::Map::new()
        } else {
            match content_type.as_deref() {
                Some(ct) if is_json(ct) => {}
                _ => return Err(ServiceError::UnsupportedMediaType.into()),
            }
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(map)) => map,
                Ok(Value::Null) => serde_json::Map::new(),
                Ok(_) => {
                    return Err(ApiError::BadRequest {
                        subcode: Some("DeserializationFailure"),
                        message: "The body must be a JSON object.".into(),
                    });
                }
                Err(e) => {
                    return Err(ApiError::BadRequest {
                        subcode: Some("DeserializationFailure"),
                        message: format!("The body is not valid JSON: {e}"),
                    });
                }
            }
        };
        Ok(Input(PropertyBag::from_json(object).with_query(query)))
    }
}

/// Reads the whole body, refusing more than `limit` bytes with 413, and a body still
/// incomplete at the connection's body deadline (`--body-read-timeout-ms`) with 408.
pub async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), limit).await.map_err(|e| {
        // `to_bytes` reports the limit as a `LengthLimitError` somewhere in the chain, and
        // the deadline as a `TimeoutError`.
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return ApiError::EntityTooLarge;
            }
            if s.is::<tower_http::timeout::TimeoutError>() {
                return ApiError::BodyTimeout;
            }
            source = s.source();
        }
        ApiError::BadRequest { subcode: None, message: "The request body could not be read.".into() }
    })
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/vnd.microsoft.com.ucwa+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
