//! `POST .../batch`: several requests in one (`ucwa-spec.md` §14). The body is
//! `multipart/batching`; each part is `application/http; msgtype=request` holding a full
//! HTTP request. Each inner request runs through the same router with the caller's
//! credentials, and the answer holds one `msgtype=response` part per request, in order.
//!
//! Inner requests must stay inside the caller's application; nested batches and the event
//! channel (which parks) are refused per part with 400.

use axum::body::Body;
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
    let parts = split_parts(&body, &boundary).ok_or_else(|| ApiError::BadRequest {
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
    let router = crate::router(state.clone());
    let out_boundary = format!("batch_{}", ucwa_core::credentials::new_id());
    let mut out = Vec::new();
    for part in parts {
        let response = match parse_inner(part) {
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

/// The parts between `--boundary` delimiters, without their own headers' trailing CRLF.
fn split_parts<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<&'a [u8]>> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut positions = Vec::new();
    let mut i = 0;
    while let Some(offset) = find(&body[i..], delimiter) {
        positions.push(i + offset);
        i += offset + delimiter.len();
    }
    if positions.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    for pair in positions.windows(2) {
        let part = &body[pair[0] + delimiter.len()..pair[1]];
        parts.push(trim_crlf(part));
    }
    // The last delimiter must close the document.
    let last = positions[positions.len() - 1] + delimiter.len();
    body.get(last..last + 2).filter(|end| *end == b"--")?;
    Some(parts)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim_crlf(mut s: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// Splits `head\r\n\r\nrest` (also accepting bare `\n` line ends).
fn split_head(s: &[u8]) -> (&[u8], &[u8]) {
    if let Some(i) = find(s, b"\r\n\r\n") {
        (&s[..i], &s[i + 4..])
    } else if let Some(i) = find(s, b"\n\n") {
        (&s[..i], &s[i + 2..])
    } else {
        (s, &[])
    }
}

fn parse_inner(part: &[u8]) -> Option<InnerRequest> {
    // Part headers (Content-Type: application/http; msgtype=request), then the HTTP request.
    let (part_headers, http) = split_head(part);
    let part_headers = std::str::from_utf8(part_headers).ok()?.to_ascii_lowercase();
    if !part_headers.contains("application/http") {
        return None;
    }
    let (head, body) = split_head(http);
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.lines();
    let mut request_line = lines.next()?.split_whitespace();
    let method = Method::from_bytes(request_line.next()?.as_bytes()).ok()?;
    let target = request_line.next()?;
    // An absolute target keeps only its path and query.
    let target = match target.find("://") {
        Some(i) => target[i + 3..].find('/').map(|j| &target[i + 3 + j..])?,
        None => target,
    };
    if !target.starts_with('/') {
        return None;
    }
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host") && !k.eq_ignore_ascii_case("authorization"))
        .collect();
    Some(InnerRequest { method, target: target.to_owned(), headers, body: body.to_vec() })
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

    #[test]
    fn parses_a_documented_batch() {
        let body = b"--77f2569d\r\nContent-Type: application/http; msgtype=request\r\n\r\nGET /ucwa/oauth/v1/applications/1/me HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n\r\n--77f2569d\r\nContent-Type: application/http; msgtype=request\r\n\r\nPOST /ucwa/oauth/v1/applications/1/me/makeMeAvailable HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{\"signInAs\":\"Online\"}\r\n--77f2569d--\r\n";
        let parts = split_parts(body, "77f2569d").unwrap();
        assert_eq!(parts.len(), 2);
        let first = parse_inner(parts[0]).unwrap();
        assert_eq!(first.method, Method::GET);
        assert_eq!(first.target, "/ucwa/oauth/v1/applications/1/me");
        let second = parse_inner(parts[1]).unwrap();
        assert_eq!(second.body, b"{\"signInAs\":\"Online\"}");
        assert!(allowed(&second, "/ucwa/oauth/v1/applications/1"));
        assert!(!allowed(&second, "/ucwa/oauth/v1/applications/2"));
    }

    #[test]
    fn refuses_unterminated_documents() {
        assert!(split_parts(b"--b\r\nx\r\n--b\r\n", "b").is_none());
        assert!(split_parts(b"no delimiters", "b").is_none());
    }
}
