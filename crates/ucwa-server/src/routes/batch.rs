//! `POST .../batch`: several requests in one
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/batchingrequests>). The body is
//! `multipart/batching` (split by `multer`); each part is `application/http; msgtype=request`
//! holding a full HTTP request (parsed by `httparse`). Each inner request runs through the same router with the caller's
//! credentials, and the answer holds one `msgtype=response` part per request, in order.
//!
//! Inner requests must stay inside the caller's application; nested batches and the event
//! channel (which parks) are refused per part with 400.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use ucwa_service::ServiceError;

use crate::auth::OwnApp;
use crate::error::{ApiError, ApiResult};
use crate::input::read_body;
use crate::state::AppState;
use crate::urls::AppUrls;

/// Most requests one batch may carry.
const MAX_PARTS: usize = 20;

/// One inner request, parsed.
#[derive(Debug)]
struct InnerRequest {
    method: Method,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

pub async fn post(State(state): State<AppState>, own: OwnApp, req: Request) -> ApiResult<Response> {
    let authorization = req.headers().get(header::AUTHORIZATION).cloned();
    // A `psat` guest's token is checked against the browser origin of each inner request.
    let origin = req.headers().get(header::ORIGIN).cloned();
    let boundary = boundary(req.headers()).ok_or(ServiceError::UnsupportedMediaType)?;
    let body = read_body(req, state.services.limits.max_body_bytes).await?;
    let parts = split_parts(body, &boundary).await.ok_or_else(|| ApiError::BadRequest {
        subcode: Some("DeserializationFailure"),
        message: "The body is not a multipart/batching document with that boundary.".into(),
    })?;
    if parts.len() > MAX_PARTS {
        return Err(ApiError::BadRequest {
            subcode: None,
            message: format!("At most {MAX_PARTS} requests per batch."),
        });
    }
    let own_base = AppUrls::of(&own.app).base;
    let router = crate::app(state.clone());
    let out_boundary = format!("batch_{}", ucwa_core::credentials::new_id());
    let mut out = Vec::new();
    for (part_headers, part) in parts {
        let response = match parse_inner(&part_headers, &part) {
            Some(inner) if allowed(&inner, &own_base) => {
                let mut builder = axum::http::Request::builder().method(inner.method).uri(&inner.target);
                for (name, value) in &inner.headers {
                    builder = builder.header(name, value);
                }
                if let Some(auth) = &authorization {
                    builder = builder.header(header::AUTHORIZATION, auth.clone());
                }
                if let Some(origin) = &origin {
                    builder = builder.header(header::ORIGIN, origin.clone());
                }
                match builder.body(Body::from(inner.body)) {
                    Ok(request) => router.clone().oneshot(request).await.unwrap_or_else(|e| match e {}),
                    Err(_) => bad_part(),
                }
            }
            _ => bad_part(),
        };
        write_part(&mut out, &out_boundary, response).await;
    }
    out.extend_from_slice(format!("--{out_boundary}--\r\n").as_bytes());
    let mut resp = (StatusCode::OK, out).into_response();
    let ct = format!("multipart/batching; boundary={out_boundary}");
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_str(&ct).map_err(|e| ServiceError::Internal(e.to_string()))?);
    Ok(resp)
}

fn bad_part() -> Response {
    ApiError::BadRequest { subcode: None, message: "This part is not a request this batch can run.".into() }
        .into_response()
}

/// Inner requests may address the caller's own application only, and never park.
fn allowed(inner: &InnerRequest, own_base: &str) -> bool {
    let path = inner.target.split('?').next().unwrap_or_default();
    let inside = path == own_base || path.starts_with(&format!("{own_base}/"));
    inside && !path.ends_with("/batch") && !path.ends_with("/events")
}

fn boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mut params = ct.split(';');
    let essence = params.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/batching") && !essence.eq_ignore_ascii_case("multipart/mixed") {
        return None;
    }
    params
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_owned())
        })
        .filter(|b| !b.is_empty() && b.len() <= 200)
}

/// The parts of a multipart document, each with its own headers; `None` for a document
/// that is not multipart with this boundary (or is not closed by it).
async fn split_parts(body: Bytes, boundary: &str) -> Option<Vec<(HeaderMap, Bytes)>> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await.ok()? {
        let headers = field.headers().clone();
        parts.push((headers, field.bytes().await.ok()?));
    }
    Some(parts)
}

/// One part as a request: its part headers say `application/http`, and it holds a whole
/// HTTP request (the blank line after the head may be left out when there is no body).
fn parse_inner(part_headers: &HeaderMap, http: &[u8]) -> Option<InnerRequest> {
    let content_type = part_headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if !content_type.to_ascii_lowercase().contains("application/http") {
        return None;
    }
    for end in [&b""[..], b"\r\n", b"\r\n\r\n"] {
        let text = [http, end].concat();
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&text).ok()? {
            httparse::Status::Partial => continue,
            httparse::Status::Complete(head) => return inner_request(&request, &text[head..]),
        }
    }
    None
}

fn inner_request(request: &httparse::Request<'_, '_>, body: &[u8]) -> Option<InnerRequest> {
    let method = Method::from_bytes(request.method?.as_bytes()).ok()?;
    let target = request.path?;
    // An absolute target keeps only its path and query.
    let target = match target.find("://") {
        Some(i) => target[i + 3..].find('/').map(|j| &target[i + 3 + j..])?,
        None => target,
    };
    if !target.starts_with('/') {
        return None;
    }
    let headers = request
        .headers
        .iter()
        .filter(|h| !h.name.eq_ignore_ascii_case("host") && !h.name.eq_ignore_ascii_case("authorization"))
        .map(|h| Some((h.name.to_owned(), std::str::from_utf8(h.value).ok()?.trim().to_owned())))
        .collect::<Option<Vec<_>>>()?;
    // Collapsed before the "inside the caller's application" check sees it.
    let target = crate::middleware::collapse_slashes(target).into_owned();
    Some(InnerRequest { method, target, headers, body: body.to_vec() })
}

async fn write_part(out: &mut Vec<u8>, boundary: &str, response: Response) {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    out.extend_from_slice(
        format!("--{boundary}\r\nContent-Type: application/http; msgtype=response\r\n\r\n").as_bytes(),
    );
    let reason = parts.status.canonical_reason().unwrap_or("");
    out.extend_from_slice(format!("HTTP/1.1 {} {reason}\r\n", parts.status.as_u16()).as_bytes());
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parses_a_documented_batch() {
        let body = b"--77f2569d\r\nContent-Type: application/http; msgtype=request\r\n\r\nGET /ucwa/oauth/v1/applications/1/me HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n\r\n--77f2569d\r\nContent-Type: application/http; msgtype=request\r\n\r\nPOST /ucwa/oauth/v1/applications/1/me/makeMeAvailable HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"signInAs\":\"Online\"}\r\n--77f2569d--\r\n";
        let parts = split_parts(Bytes::from_static(body), "77f2569d").await.unwrap();
        assert_eq!(parts.len(), 2);
        let first = parse_inner(&parts[0].0, &parts[0].1).unwrap();
        assert_eq!(first.method, Method::GET);
        assert_eq!(first.target, "/ucwa/oauth/v1/applications/1/me");
        assert_eq!(first.headers, [("Accept".to_owned(), "application/json".to_owned())]);
        let second = parse_inner(&parts[1].0, &parts[1].1).unwrap();
        assert_eq!(second.body, b"{\"signInAs\":\"Online\"}");
        assert!(allowed(&second, "/ucwa/oauth/v1/applications/1"));
        assert!(!allowed(&second, "/ucwa/oauth/v1/applications/2"));
    }

    #[tokio::test]
    async fn refuses_unterminated_documents() {
        assert!(split_parts(Bytes::from_static(b"--b\r\nx: y\r\n\r\nz\r\n--b\r\n"), "b").await.is_none());
        assert!(split_parts(Bytes::from_static(b"no delimiters"), "b").await.is_none());
    }
}
