//! Errors and HTTP hygiene (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/errorsandinformationalmessages>): every malformed request gets the
//! documented status and body; none gets a 500.

use std::io::Read;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_proto::paths::{self, Prefix};
use ucwa_testkit::TestServer;

use crate::join::{create_meeting, join};

#[tokio::test]
async fn malformed_bodies_get_400_415_413_and_store_nothing() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let url = server.at("/ucwa/oauth/v1/applications");
    let send = |ct: &str, body: Vec<u8>| {
        server.send(server.client.post(&url).bearer_auth(&app.token).header("content-type", ct.to_owned()).body(body))
    };
    let cases: Vec<(&str, Vec<u8>, StatusCode)> = vec![
        ("application/json", b"{\"UserAgent\":".to_vec(), StatusCode::BAD_REQUEST),
        ("application/json", b"[1,2,3]".to_vec(), StatusCode::BAD_REQUEST),
        ("application/json", b"\"text\"".to_vec(), StatusCode::BAD_REQUEST),
        ("application/json", vec![0xff, 0xfe, 0x00], StatusCode::BAD_REQUEST),
        ("text/plain", b"hello".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("application/xml", b"<a/>".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("application/json", vec![b' '; 200 * 1024], StatusCode::PAYLOAD_TOO_LARGE),
        (
            "application/json",
            format!("{{\"UserAgent\":\"{}\"}}", "x".repeat(100_000)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (ct, body, expected) in cases {
        let resp = send(ct, body).await;
        assert_eq!(resp.status(), expected, "{ct}");
        assert_eq!(resp.headers()["content-type"], "application/json; charset=utf-8");
        let err: Value = resp.json().await.unwrap();
        let code = match expected.as_u16() {
            400 => "BadRequest",
            413 => "EntityTooLarge",
            _ => "UnsupportedMediaType",
        };
        assert_eq!(err["code"], code);
    }
    // The vendor JSON type works like plain JSON.
    let resp = send(
        "application/vnd.microsoft.com.ucwa+json; charset=utf-8",
        br#"{"UserAgent":"x","EndpointId":"vendor","Culture":"en-US"}"#.to_vec(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // The original application is intact.
    let body: Value = server.call(Method::GET, &app.url, &app.token, None).await.json().await.unwrap();
    assert_eq!(body, app.body);
}

#[tokio::test]
async fn unknown_resources_and_methods_get_ucwa_errors() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let cases = [
        (Method::GET, "/nothing/here".to_owned(), StatusCode::NOT_FOUND, "NotFound"),
        (Method::GET, format!("{}/nothing", app.url), StatusCode::NOT_FOUND, "NotFound"),
        (Method::GET, "/ucwa/oauth/v1/applications/0000/me".to_owned(), StatusCode::NOT_FOUND, "NotFound"),
        (Method::PUT, app.url.clone(), StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
        (Method::POST, format!("{}/events", app.url), StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
        (Method::DELETE, "/WebTicket/oauthtoken".to_owned(), StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
    ];
    for (method, url, status, code) in cases {
        let resp = server.call(method.clone(), &url, &app.token, None).await;
        assert_eq!(resp.status(), status, "{method} {url}");
        assert!(resp.headers().contains_key("x-ms-correlation-id"));
        assert!(resp.headers().contains_key("x-ms-server-fqdn"));
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], code, "{method} {url}");
    }
}

#[tokio::test]
async fn responses_are_gzipped_when_asked() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let resp = server.send(server.client.get(&app.url).bearer_auth(&app.token).header("accept-encoding", "gzip")).await;
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let compressed = resp.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..]).read_to_string(&mut text).unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body, app.body);
}

#[tokio::test]
async fn client_request_id_is_echoed() {
    let server = TestServer::start().await;
    let resp = server.send(server.client.get(server.at("/")).header("client-request-id", "abc-123")).await;
    assert_eq!(resp.headers()["client-request-id"], "abc-123");
}

#[tokio::test]
async fn xml_only_clients_get_406_not_json() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let get = |accept: &'static str| {
        server.send(server.client.get(&app.url).bearer_auth(&app.token).header("accept", accept))
    };
    let resp = get("application/vnd.microsoft.com.ucwa+xml").await;
    assert_eq!(resp.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "NotAcceptable");
    let resp = get("application/vnd.microsoft.com.ucwa+json, application/xml;q=0.5").await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// No UCWA client sends a NUL (U+0000), and PostgreSQL cannot keep one in text: it refuses a
/// statement whose text parameter holds one, which made a NUL that reached the store a 500.
/// Every route refuses it first, on every store alike: 404 for a path with one (no resource
/// is named by it), 400 naming the property for a body or a query string that carries one.
/// Nothing is stored.
#[tokio::test]
async fn a_nul_character_gets_404_in_a_path_and_400_in_a_property_and_stores_nothing() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let app_id = app.url.rsplit('/').next().unwrap().to_owned();
    let meeting = create_meeting(&server, &app, json!({"subject": "Clean"})).await;
    let meeting_id = meeting.href.rsplit('/').next().unwrap().to_owned();
    let conversation = join(&server, &app, json!({"onlineMeetingUri": meeting.uri, "operationId": "op-1"})).await;
    let conversation = conversation.rsplit('/').next().unwrap().to_owned();

    // Every route of the table, under every prefix it is served at, with each placeholder
    // in turn a NUL and the others naming real resources (the application, then the meeting
    // or conversation), with every method it lists.
    for prefix in Prefix::ALL {
        for route in paths::ROUTES.iter().filter(|r| r.surfaces.includes(prefix)) {
            let count = route.template.matches('{').count();
            let real = [app_id.as_str(), conversation.as_str(), "x", "x"];
            let real =
                if route.template.contains("{meeting}") { [app_id.as_str(), &meeting_id, "x", "x"] } else { real };
            for nul in 0..count {
                let mut values = real[..count].to_vec();
                values[nul] = "x\0y";
                let path = format!("{}{}", prefix.as_str(), paths::fill(route.template, &values));
                assert!(path.contains("%00"), "{path}");
                for method in route.methods {
                    let method = Method::from_bytes(method.as_bytes()).unwrap();
                    let resp = server.call(method.clone(), &path, &app.token, Some(json!({}))).await;
                    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method} {path}");
                    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "NotFound", "{method} {path}");
                }
            }
        }
    }
    for path in [format!("/meet/alice/{meeting_id}%00"), "/meet/al%00ice/x".to_owned(), "/web/app%00.js".to_owned()] {
        assert_eq!(server.send(server.client.get(server.at(&path))).await.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // Properties, in a JSON body or a query string: 400 naming each one that has a NUL.
    let meetings = format!("{}/onlineMeetings/myOnlineMeetings", app.url);
    let invitations = format!("{}/communication/onlineMeetingInvitations", app.url);
    let messages = format!("{}/communication/conversations/{conversation}/messaging/messages", app.url);
    let cases: Vec<(Method, String, Option<Value>, Vec<&str>)> = vec![
        (
            Method::POST,
            "/ucwa/oauth/v1/applications".to_owned(),
            Some(json!({"UserAgent": "bot\u{0}", "EndpointId": "nul", "Culture": "en-US"})),
            vec!["userAgent"],
        ),
        (
            Method::POST,
            meetings.clone(),
            Some(json!({"subject": "a\u{0}b", "attendees": ["sip:bob@example.com", "\u{0}"]})),
            vec!["subject", "attendees"],
        ),
        (Method::POST, format!("{meetings}?description=%00"), Some(json!({})), vec!["description"]),
        (
            Method::POST,
            invitations,
            Some(json!({"onlineMeetingUri": meeting.uri, "operationId": "op-\u{0}"})),
            vec!["operationId"],
        ),
        (Method::POST, format!("{}/me/note", app.url), Some(json!({"message": "\u{0}"})), vec!["message"]),
    ];
    for (method, url, body, names) in cases {
        let resp = server.call(method.clone(), &url, &app.token, body).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{method} {url}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["subcode"], "ParameterValidationFailure", "{method} {url}");
        let got: Vec<&str> = err["parameters"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(got, names, "{method} {url}");
    }
    let resp = server
        .send(
            server
                .client
                .post(server.at(&format!("{messages}?operationId=m%00")))
                .bearer_auth(&app.token)
                .header("content-type", "text/plain")
                .body("hello"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.json::<Value>().await.unwrap()["parameters"]["operationId"].is_string());

    // A PUT with a NUL leaves the meeting as it was.
    let resp = server.call(Method::GET, &meeting.href, &app.token, None).await;
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let mut current: Value = resp.json().await.unwrap();
    let before = current.clone();
    current["description"] = json!("x\u{0}");
    let put = server.client.put(server.at(&meeting.href)).bearer_auth(&app.token).header("if-match", &etag);
    let resp = server.send(put.json(&current)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.json::<Value>().await.unwrap()["parameters"]["description"].is_string());
    let resp = server.call(Method::GET, &meeting.href, &app.token, None).await;
    assert_eq!(resp.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(resp.json::<Value>().await.unwrap(), before);
    // Nothing else was stored: one meeting, and the application still answers as before.
    let list: Value = server.call(Method::GET, &meetings, &app.token, None).await.json().await.unwrap();
    assert_eq!(list["_links"]["myOnlineMeeting"].as_array().unwrap().len(), 1);
    assert_eq!(server.call(Method::GET, &app.url, &app.token, None).await.status(), StatusCode::OK);
}

/// A database that is full (PostgreSQL's `disk_full`, raised here by a trigger where a real
/// disk would) answers a write with 503 `ServiceUnavailable` and `Retry-After`, not a 500:
/// space may be freed, and the client should try again. Nothing half-written stays, and the
/// write succeeds once there is room. (On SQLite a full file maps the same way: the writer's
/// test in `ucwa-store-sqlite` fills a real database; a trigger cannot raise `SQLITE_FULL`.)
#[tokio::test]
async fn a_full_database_answers_503_and_the_write_succeeds_once_there_is_room() {
    let server = TestServer::start().await;
    if server.store_kind() != ucwa_testkit::StoreKind::Postgres {
        return;
    }
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meetings = format!("{}/onlineMeetings/myOnlineMeetings", alice.url);
    let list = || server.call(Method::GET, &meetings, &alice.token, None);
    let before: Value = list().await.json().await.unwrap();
    server
        .execute_sql(
            "CREATE FUNCTION the_disk_is_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                 RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
             END $$;
             CREATE TRIGGER disk_full BEFORE INSERT ON meetings FOR EACH ROW EXECUTE FUNCTION the_disk_is_full();",
        )
        .await;
    let resp = server.call(Method::POST, &meetings, &alice.token, Some(json!({"subject": "Full"}))).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "ServiceUnavailable", "{body}");
    assert_eq!(list().await.json::<Value>().await.unwrap(), before, "nothing was stored");

    server.execute_sql("DROP TRIGGER disk_full ON meetings; DROP FUNCTION the_disk_is_full();").await;
    let resp = server.call(Method::POST, &meetings, &alice.token, Some(json!({"subject": "Room again"}))).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}
