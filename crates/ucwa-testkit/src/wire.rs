//! Every answer a test sees, read into `ucwa-proto`'s typed wire model.
//!
//! The HTTP helpers of this crate ([`TestServer::call`](crate::TestServer::call),
//! [`TestServer::send`](crate::TestServer::send), the event channel helpers) pass each
//! response through [`checked`], and the [`CallbackReceiver`](crate::CallbackReceiver) each
//! callback through [`check_event_batch`]. A body is read strictly (an enumeration value, rel
//! or resource kind the model lacks is an error, see `ucwa_proto::strict`) as the type its
//! place calls for, and must write back as the same JSON (a property the model lacks would
//! be lost): so a test fails on anything the server sends that a client of the model could
//! not read.
//!
//! | answer | read as |
//! |---|---|
//! | `POST /WebTicket/oauthtoken` 200 / 400 | `TokenResponse` / `OAuthError` |
//! | any other 4xx/5xx with JSON | `ErrorBody` |
//! | `GET .../events` | `EventBatch` (embedded resources by rel) |
//! | a resource (`rel`) | `AnyResource` |
//! | discovery (no `rel`) | `Hal<Dashboard>` |
//! | `multipart/batching` | each inner response by the same rules |
//!
//! HTML and plain text (the 401 challenge, the join page, `healthz`) and compressed bodies
//! are not JSON and are not read.

use axum::http::{HeaderMap, StatusCode, header};
use reqwest::Response;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use ucwa_proto::error::ErrorBody;
use ucwa_proto::model::{AnyResource, Dashboard, EventBatch, Hal, OAuthError, TokenResponse};
use ucwa_proto::{paths, strict};

/// Reads `value` strictly as `T` and checks that it writes back as the same JSON (key order
/// aside); panics with `what` and the body otherwise.
pub fn read<T: DeserializeOwned + Serialize>(what: &str, value: &Value) -> T {
    match try_read(value) {
        Ok(typed) => typed,
        Err(e) => panic!("{what}: {e}\n{value:#}"),
    }
}

fn try_read<T: DeserializeOwned + Serialize>(value: &Value) -> Result<T, String> {
    let typed: T = strict(|| serde_json::from_value(value.clone())).map_err(|e| format!("not in the model: {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| format!("does not serialize: {e}"))?;
    if &back != value {
        return Err(format!("the model does not cover all of it; it writes back as\n{back:#}"));
    }
    Ok(typed)
}

/// Checks a callback body (an event batch, or an empty heartbeat); the error says why not.
pub fn check_event_batch(body: &[u8]) -> Result<(), String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    try_read::<EventBatch>(&value).map(drop)
}

/// Reads a response's body into the model by the rules of this module and gives the response
/// back unchanged (the body is buffered); panics naming the request if the body does not fit.
pub async fn checked(resp: Response) -> Response {
    let (status, version, headers, url) = (resp.status(), resp.version(), resp.headers().clone(), resp.url().clone());
    let body = resp.bytes().await.unwrap_or_else(|e| panic!("reading the answer of {url}: {e}"));
    if let Err(e) = check(url.path(), status, &headers, &body) {
        panic!("{status} from {url}: {e}\n{}", String::from_utf8_lossy(&body));
    }
    let mut rebuilt = axum::http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    Response::from(rebuilt)
}

/// Checks the answer to a request of `path`.
fn check(path: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    if body.is_empty() || headers.contains_key(header::CONTENT_ENCODING) {
        return Ok(());
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match media.as_str() {
        "application/json" => check_json(path, status, body),
        "multipart/batching" => check_batch(content_type, body),
        "text/html" | "text/plain" => Ok(()),
        other => Err(format!("a body of type `{other}` the model does not describe")),
    }
}

fn check_json(path: &str, status: StatusCode, body: &[u8]) -> Result<(), String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let token = path == paths::TOKEN;
    if token && status == StatusCode::OK {
        try_read::<TokenResponse>(&value).map(drop)
    } else if token && status == StatusCode::BAD_REQUEST {
        try_read::<OAuthError>(&value).map(drop)
    } else if status.is_client_error() || status.is_server_error() {
        try_read::<ErrorBody>(&value).map(drop)
    } else if path.ends_with("/events") {
        try_read::<EventBatch>(&value).map(drop)
    } else if value.get("rel").is_some() {
        try_read::<AnyResource>(&value).map(drop)
    } else {
        try_read::<Hal<Dashboard>>(&value).map(drop)
    }
}

/// A `multipart/batching` answer: each part an `application/http` response, checked as if
/// it had been answered on its own (its request's path is not in the part; inner requests
/// cannot be to the event channel or the token endpoint).
fn check_batch(content_type: &str, body: &[u8]) -> Result<(), String> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .ok_or("a multipart answer without boundary")?;
    let text = std::str::from_utf8(body).map_err(|e| format!("multipart answer not UTF-8: {e}"))?;
    let delimiter = format!("--{boundary}");
    let mut parts = text.split(delimiter.as_str());
    parts.next(); // The preamble.
    for part in parts {
        if part.starts_with("--") {
            return Ok(());
        }
        // Part headers, a blank line, then the inner HTTP response.
        let (_, inner) = part.split_once("\r\n\r\n").ok_or("a part without headers")?;
        let mut header_slots = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut header_slots);
        let httparse::Status::Complete(head) =
            response.parse(inner.as_bytes()).map_err(|e| format!("inner response: {e}"))?
        else {
            return Err("an inner response cut short".into());
        };
        let status = StatusCode::from_u16(response.code.unwrap_or_default()).map_err(|e| e.to_string())?;
        let mut headers = HeaderMap::new();
        for h in response.headers.iter() {
            let name = header::HeaderName::from_bytes(h.name.as_bytes()).map_err(|e| e.to_string())?;
            headers.append(name, header::HeaderValue::from_bytes(h.value).map_err(|e| e.to_string())?);
        }
        let inner_body = inner[head..].trim_end_matches("\r\n");
        check("", status, &headers, inner_body.as_bytes()).map_err(|e| format!("inner {status}: {e}"))?;
    }
    Err("a multipart answer without its closing delimiter".into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn json_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json; charset=utf-8"));
        headers
    }

    fn check_value(path: &str, status: StatusCode, value: Value) -> Result<(), String> {
        check(path, status, &json_headers(), value.to_string().as_bytes())
    }

    fn me(extra: Value) -> Value {
        let mut me = json!({"uri": "sip:alice@example.com", "name": "Alice",
            "_links": {"self": {"href": "/ucwa/oauth/v1/applications/a/me"}}, "rel": "me"});
        if let (Some(me), Some(extra)) = (me.as_object_mut(), extra.as_object()) {
            me.extend(extra.clone());
        }
        me
    }

    #[test]
    fn what_the_model_covers_passes_and_anything_else_fails() {
        assert_eq!(check_value("/x/me", StatusCode::OK, me(json!({}))), Ok(()));
        // A property the model lacks would be lost on the way back.
        assert!(check_value("/x/me", StatusCode::OK, me(json!({"shoeSize": 42}))).is_err());
        // A rel without a typed model, an unknown enumeration value.
        assert!(check_value("/x/y", StatusCode::OK, json!({"_links": {}, "rel": "teleporter"})).is_err());
        let error = json!({"code": "NotFound", "message": "gone"});
        assert_eq!(check_value("/x", StatusCode::NOT_FOUND, error), Ok(()));
        assert!(check_value("/x", StatusCode::NOT_FOUND, json!({"code": "Lost", "message": "?"})).is_err());
        assert!(check_value("/x", StatusCode::NOT_FOUND, json!({"error": "invalid_grant"})).is_err());
        assert_eq!(check_value(paths::TOKEN, StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"})), Ok(()));
        let batch = |kind: &str| {
            json!({"_links": {"self": {"href": "/e?ack=1"}, "next": {"href": "/e?ack=2"}},
                "sender": [{"rel": "communication", "href": "/c", "events": [
                    {"link": {"rel": "conversation", "href": "/c/1"}, "type": kind}]}]})
        };
        assert_eq!(check_value("/a/events", StatusCode::OK, batch("added")), Ok(()));
        assert!(check_value("/a/events", StatusCode::OK, batch("exploded")).is_err());
        assert!(
            check(
                "/x",
                StatusCode::OK,
                &HeaderMap::from_iter([(header::CONTENT_TYPE, header::HeaderValue::from_static("application/xml"))]),
                b"<a/>"
            )
            .is_err()
        );
    }

    #[test]
    fn each_part_of_a_batch_answer_is_checked() {
        let part = |body: &Value| {
            format!(
                "--b\r\nContent-Type: application/http; msgtype=response\r\n\r\nHTTP/1.1 200 OK\r\n\
                 Content-Type: application/json; charset=utf-8\r\n\r\n{body}\r\n"
            )
        };
        let answer = |body: &Value| format!("{}{}--b--\r\n", part(&me(json!({}))), part(body));
        let content_type = "multipart/batching; boundary=b";
        assert_eq!(check_batch(content_type, answer(&me(json!({}))).as_bytes()), Ok(()));
        assert!(check_batch(content_type, answer(&me(json!({"shoeSize": 42}))).as_bytes()).is_err());
        assert!(check_batch(content_type, part(&me(json!({}))).as_bytes()).is_err(), "no closing delimiter");
    }
}
