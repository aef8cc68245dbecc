//! Cross-cutting HTTP behaviour: repeated slashes collapsed before routing, correlation
//! headers, and UCWA error bodies for the requests no route takes (404, 405), for paths with
//! a NUL (404) and for panics.

use std::borrow::Cow;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use ucwa_core::credentials::new_id;
use ucwa_proto::error::ErrorBody;

use crate::error::{ApiError, error_response};
use crate::state::AppState;

static CORRELATION_ID: HeaderName = HeaderName::from_static("x-ms-correlation-id");
static SERVER_FQDN: HeaderName = HeaderName::from_static("x-ms-server-fqdn");
static CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// Correlation ids only need to be unique, not secret: a random per-process prefix and a
/// counter are enough, and cost no system call per request.
struct CorrelationIds {
    prefix: String,
    counter: AtomicU64,
}

static CORRELATION_IDS: LazyLock<CorrelationIds> =
    LazyLock::new(|| CorrelationIds { prefix: new_id()[..8].to_owned(), counter: AtomicU64::new(1) });

fn next_correlation_id() -> String {
    let n = CORRELATION_IDS.counter.fetch_add(1, Ordering::Relaxed);
    format!("{}{n:012x}", CORRELATION_IDS.prefix)
}

/// `path_and_query` with every run of `/` in its path made one `/` (the query is left as it
/// is). IIS in front of Microsoft's servers did this before UCWA routed, and published bots
/// rely on it: they build URLs as `root + "/" + href`, which doubles the slash
/// (docs/compatibility.md, Conventions).
pub fn collapse_slashes(path_and_query: &str) -> Cow<'_, str> {
    let (path, query) = match path_and_query.find('?') {
        Some(i) => path_and_query.split_at(i),
        None => (path_and_query, ""),
    };
    if !path.contains("//") {
        return Cow::Borrowed(path_and_query);
    }
    let mut out = String::with_capacity(path_and_query.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out.push_str(query);
    Cow::Owned(out)
}

/// Rewrites the request's URI with [`collapse_slashes`]. It runs before routing, so it wraps
/// the whole router (axum's `Router::layer` runs after a route matched).
pub fn collapse_request_slashes(mut req: Request) -> Request {
    let collapsed = req.uri().path_and_query().map(|pq| collapse_slashes(pq.as_str()));
    if let Some(Cow::Owned(pq)) = collapsed {
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// A failure's cause, put in the response's extensions by [`ApiError`] so that it is logged
/// here, next to the request's correlation id (the axum `error-handling` example's pattern).
#[derive(Clone, Debug)]
pub struct FailureCause(pub String);

/// Adds `X-MS-Correlation-Id` and `X-MS-Server-Fqdn` to every response (a real TAP SDK treats
/// a 404 as "resource gone" only when both are present), echoes `client-request-id`, and logs
/// server failures with the correlation id the client saw. Each request runs in an
/// info-level span with its correlation id, so every line it logs carries the id
/// ([`crate::telemetry`]).
pub async fn correlation(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let client_request_id = req.headers().get(&CLIENT_REQUEST_ID).cloned();
    let correlation = next_correlation_id();
    let span =
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), correlation = %correlation);
    let mut resp = tracing::Instrument::instrument(next.run(req), span).await;
    if let Some(FailureCause(cause)) = resp.extensions_mut().remove::<FailureCause>() {
        tracing::error!(correlation = %correlation, status = resp.status().as_u16(), %cause, "request failed");
    }
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

/// The requests refused before any handler runs (one middleware for all of them: each layer
/// costs every request a boxed future and a clone of the service inside it):
/// - A path with a NUL (`%00`) in it names nothing this server has: 404. No id, alias or key
///   of any store contains one, and PostgreSQL refuses a NUL in a statement's text parameter
///   outright, which would otherwise turn a handler's look-up into a server failure.
/// - UCWA also speaks XML (`application/vnd.microsoft.com.ucwa+xml`); this server answers in
///   JSON only. A client that accepts XML and nothing JSON-compatible gets 406 rather than a
///   body it cannot read (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/payloadformat>).
pub async fn refuse_early(req: Request, next: Next) -> Response {
    if req.uri().path().contains("%00") {
        return axum::response::IntoResponse::into_response(ApiError::not_found());
    }
    let accept = req.headers().get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if accepts_only_xml(accept) {
        return axum::response::IntoResponse::into_response(ApiError::NotAcceptable);
    }
    next.run(req).await
}

fn accepts_only_xml(accept: &str) -> bool {
    let ranges: Vec<String> = accept
        .split(',')
        .map(|r| r.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .filter(|r| !r.is_empty())
        .collect();
    let xml = ranges.iter().any(|r| r.ends_with("/xml") || r.ends_with("+xml"));
    let other = ranges.iter().any(|r| !(r.ends_with("/xml") || r.ends_with("+xml")));
    xml && !other
}

pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The text of a panic payload (`panic!` carries a `&str` or a `String`).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic")
}

/// `text` made safe for one log line: control characters (a newline would forge a line),
/// quotes and backslashes escaped the way Rust string literals are.
pub fn escape_for_log(text: &str) -> String {
    text.escape_debug().to_string()
}

/// Replaces the default panic hook, which prints the payload as it is: a panic message
/// that quotes request input (a user name with a newline) would forge log lines. This one
/// logs the same facts (thread, location, message, and a backtrace when `RUST_BACKTRACE`
/// asks for one) as an error event, with the message escaped, so a panic is one log line in
/// the format the operator chose (`--log-format json` stays JSON) and carries the request's
/// correlation id when a handler panicked.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let thread = escape_for_log(thread.name().unwrap_or("<unnamed>"));
        let location = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())).unwrap_or_default();
        let panic = escape_for_log(panic_text(info.payload()));
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            let backtrace = escape_for_log(&backtrace.to_string());
            tracing::error!(%thread, %location, %panic, %backtrace, "panicked");
        } else {
            tracing::error!(%thread, %location, %panic, "panicked");
        }
    }));
}

/// Turns a panic into a plain 500 with a UCWA body; the panic message is logged (escaped),
/// not sent. The catch layer sits inside [`correlation`], so this answer carries the
/// correlation id like any other.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!(panic = %escape_for_log(panic_text(err.as_ref())), "handler panicked");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &ErrorBody::new("ServiceFailure", None, "The server could not complete the request."),
    )
}

#[cfg(test)]
mod tests {
    use super::{accepts_only_xml, collapse_slashes, escape_for_log};

    #[test]
    fn repeated_slashes_in_the_path_collapse() {
        assert_eq!(collapse_slashes("//ucwa//oauth/v1/applications/1"), "/ucwa/oauth/v1/applications/1");
        assert_eq!(collapse_slashes("/a///b/?x=//y"), "/a/b/?x=//y");
        assert!(matches!(collapse_slashes("/a/b?x=//y"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(collapse_slashes("/a%2F%2Fb"), "/a%2F%2Fb");
    }

    #[test]
    fn log_text_is_escaped() {
        assert_eq!(escape_for_log("a\nINFO forged line"), "a\\nINFO forged line");
        assert_eq!(escape_for_log("tab\there\u{1b}[31m"), "tab\\there\\u{1b}[31m");
        assert_eq!(escape_for_log("plain é"), "plain é");
    }

    #[test]
    fn only_xml_only_accept_headers_are_refused() {
        assert!(accepts_only_xml("application/vnd.microsoft.com.ucwa+xml"));
        assert!(accepts_only_xml("application/xml; q=0.9, text/xml"));
        assert!(!accepts_only_xml(""));
        assert!(!accepts_only_xml("application/json"));
        assert!(!accepts_only_xml("application/xml, */*;q=0.1"));
        assert!(!accepts_only_xml("multipart/batching"));
    }
}
