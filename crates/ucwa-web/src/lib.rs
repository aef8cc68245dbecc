//! OpenUCWA's web pages: the page a meeting's `joinUrl` opens in a browser, and the organizer
//! console at `/console`. Both are plain HTML and ES modules, embedded in the binary with
//! `include_str!` (no build step, nothing to install at run time), and both are browser UCWA
//! clients: they talk only to the server's public API on the same origin, following links from
//! the discovery root on.
//!
//! # Layout
//! - [`routes`]: `/console` and the shared assets under `/web/`.
//! - [`join_page`]: the join page of one meeting (or the "bad link" page), with the few
//!   public facts a guest needs embedded: subject, organizer, the meeting's id and URI.
//! - [`prefers_html`]: content negotiation for the join URL, which JSON clients also ask.
//! - `assets/`: the pages (`*.html`), styles (`app.css`) and modules: `ucwa.js` (the UCWA
//!   client and event channel), `meeting.js` (events -> meeting state), `meeting-view.js`
//!   (lobby, roster, chat), `meeting-page.js` (one meeting on a page: channel, state, view,
//!   saving), `join.js` and `console.js` (the two pages).
//! - `e2e/`: the Playwright suite that drives these pages in Chromium (run by
//!   `crates/ucwa-server/tests/browser.rs`).

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One embedded file: its name under `/web/`, content type and text.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset { name: $name, content_type: $type, body: include_str!(concat!("../assets/", $name)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("ucwa.js", JS),
    asset!("meeting.js", JS),
    asset!("meeting-view.js", JS),
    asset!("meeting-page.js", JS),
    asset!("join.js", JS),
    asset!("console.js", JS),
];

const CONSOLE_HTML: &str = include_str!("../assets/console.html");
const JOIN_HTML: &str = include_str!("../assets/join.html");
const BAD_LINK_HTML: &str = include_str!("../assets/bad-link.html");

/// Pages run only our own scripts and talk only to their own origin; nobody may frame them
/// (the console holds an organizer's session).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// `/console` and `/web/{asset}`, for any router state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/console", get(|| async { page(StatusCode::OK, CONSOLE_HTML.to_owned()) })).route(
        "/web/{name}",
        get(|Path(name): Path<String>| async move {
            match ASSETS.iter().find(|a| a.name == name) {
                Some(a) => with_headers(StatusCode::OK, a.content_type, a.body.to_owned()),
                None => page(StatusCode::NOT_FOUND, BAD_LINK_HTML.replace("{{message}}", "There is no such page.")),
            }
        }),
    )
}

/// What the join page shows and needs before anyone signs in. Anyone holding the join URL
/// learns these; a guest needs the id and URI for the anonymous meeting grant.
#[derive(Debug, Clone)]
pub struct JoinPage<'a> {
    pub subject: &'a str,
    pub organizer_name: &'a str,
    pub organizer_uri: &'a str,
    pub meeting_id: &'a str,
    pub meeting_uri: &'a str,
}

/// The join page of `meeting`, or a 404 page saying the link leads to no meeting.
pub fn join_page(meeting: Option<&JoinPage<'_>>) -> Response {
    let Some(m) = meeting else {
        let message = "This meeting link does not lead to a meeting. It may have been mistyped, or the meeting \
                       may have ended or been deleted. Ask the organizer for a new link.";
        return page(StatusCode::NOT_FOUND, BAD_LINK_HTML.replace("{{message}}", message));
    };
    let subject = if m.subject.trim().is_empty() { "Online meeting" } else { m.subject };
    let organizer = if m.organizer_name.trim().is_empty() { m.organizer_uri } else { m.organizer_name };
    // One pass over the template, so a value that happens to contain `{{...}}` is never
    // substituted again.
    let mut out = String::with_capacity(JOIN_HTML.len() + 256);
    let mut rest = JOIN_HTML;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let value = match &after[..end] {
            "subject" => subject,
            "organizer" => organizer,
            "organizer_uri" => m.organizer_uri,
            "meeting_id" => m.meeting_id,
            "meeting_uri" => m.meeting_uri,
            _ => "",
        };
        out.push_str(&escape_html(value));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    page(StatusCode::OK, out)
}

/// Whether a client sending `accept` would rather have HTML than JSON: `text/html` (or
/// XHTML) is named with a weight above zero and at least that of any JSON type it names.
/// `*/*` alone, or no header, keeps the JSON answer API clients have always had.
pub fn prefers_html(accept: &str) -> bool {
    let mut html = 0.0_f32;
    let mut json = 0.0_f32;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.trim().parse::<f32>().ok()))
            .next()
            .unwrap_or(1.0);
        if media == "text/html" || media == "application/xhtml+xml" {
            html = html.max(q);
        } else if media == "application/json" || media.ends_with("+json") {
            json = json.max(q);
        }
    }
    html > 0.0 && html >= json
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, html: String) -> Response {
    let mut resp = with_headers(status, "text/html; charset=utf-8", html);
    resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    // A join URL is the key to a meeting: do not hand it to other sites as a referrer.
    resp.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp.headers_mut().insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

fn with_headers(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Small files: always revalidate, so a new server version is picked up on the next load.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_get_html_and_api_clients_json() {
        let chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
        assert!(prefers_html(chromium));
        assert!(!prefers_html(""));
        assert!(!prefers_html("*/*"));
        assert!(!prefers_html("application/json"));
        assert!(!prefers_html("application/json, text/html;q=0.5"));
        assert!(!prefers_html("text/html;q=0"));
        assert!(prefers_html("text/html, application/json;q=0.9"));
        assert!(!prefers_html("application/vnd.microsoft.com.ucwa+json, text/html;q=0.1"));
    }

    #[tokio::test]
    async fn embedded_values_are_escaped_and_never_substituted_twice() {
        let m = JoinPage {
            subject: "<script>alert(1)</script> {{meeting_uri}}",
            organizer_name: "Alice \"A\" & co",
            organizer_uri: "sip:alice@example.com",
            meeting_id: "ABC",
            meeting_uri: "sip:alice@example.com;gruu;opaque=app:conf:focus:id:ABC",
        };
        let resp = join_page(Some(&m));
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("script-src 'self'"));
        let body = body_of(resp).await;
        assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt; {{meeting_uri}}"), "{body}");
        assert!(body.contains("Alice &quot;A&quot; &amp; co"));
        assert!(body.contains("data-meeting-uri=\"sip:alice@example.com;gruu;opaque=app:conf:focus:id:ABC\""));
        assert!(!body.contains("<script>alert"));
        assert_eq!(join_page(None).status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn every_module_a_page_loads_is_served() {
        for html in [CONSOLE_HTML, JOIN_HTML] {
            for src in html.split("src=\"/web/").skip(1).chain(html.split("href=\"/web/").skip(1)) {
                let name = src.split('"').next().unwrap_or_default();
                assert!(ASSETS.iter().any(|a| a.name == name), "{name} is not embedded");
            }
        }
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            for import in a.body.split("from './").skip(1) {
                let name = import.split('\'').next().unwrap_or_default();
                assert!(ASSETS.iter().any(|b| b.name == name), "{} imports {name}, which is not embedded", a.name);
            }
        }
    }

    async fn body_of(resp: Response) -> String {
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
