//! Errors and HTTP hygiene (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/errorsandinformationalmessages>): every malformed request gets the
//! documented status and body; none gets a 500.

use std::io::Read;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use ucwa_testkit::TestServer;

#[tokio::test]
async fn malformed_bodies_get_400_415_413_and_store_nothing() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let url = server.at("/ucwa/oauth/v1/applications");
    let send = |ct: &str, body: Vec<u8>| {
        server.client.post(&url).bearer_auth(&app.token).header("content-type", ct.to_owned()).body(body).send()
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
        let resp = send(ct, body).await.unwrap();
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
    .await
    .unwrap();
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
    let resp =
        server.client.get(&app.url).bearer_auth(&app.token).header("accept-encoding", "gzip").send().await.unwrap();
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
    let resp = server.client.get(server.at("/")).header("client-request-id", "abc-123").send().await.unwrap();
    assert_eq!(resp.headers()["client-request-id"], "abc-123");
}

#[tokio::test]
async fn xml_only_clients_get_406_not_json() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let resp = server
        .client
        .get(&app.url)
        .bearer_auth(&app.token)
        .header("accept", "application/vnd.microsoft.com.ucwa+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "NotAcceptable");
    let resp = server
        .client
        .get(&app.url)
        .bearer_auth(&app.token)
        .header("accept", "application/vnd.microsoft.com.ucwa+json, application/xml;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
