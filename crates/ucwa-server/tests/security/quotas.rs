//! Finding 11: no quotas (3,000 applications or meetings per user in seconds; 544
//! `addParticipant` calls made one conversation's record 18 MB). Per-user limits on
//! applications and meetings and a per-conversation limit on invitations, each a flag, each
//! answered with the documented error.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_server::config::Limits;
use ucwa_testkit::{EventStream, TestOptions, TestServer};

use crate::bots::available;

fn quota_limits() -> TestOptions {
    let limits = Limits {
        max_applications_per_user: 3,
        max_meetings_per_user: 2,
        max_pending_invitations: 2,
        ..TestOptions::default().limits
    };
    TestOptions { limits, ..TestOptions::default() }
}

async fn create_app(server: &TestServer, token: &str, endpoint: &str) -> (StatusCode, Value) {
    let body = json!({"UserAgent": "t", "EndpointId": endpoint, "Culture": "en-US"});
    let resp = server.call(Method::POST, "/ucwa/oauth/v1/applications", token, Some(body)).await;
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn applications_per_user_are_capped_with_410_too_many_applications() {
    let server = TestServer::start_with(quota_limits()).await;
    let first = server.signed_in_app("sip:alice@example.com", "Alice").await;
    for endpoint in ["two", "three"] {
        assert_eq!(create_app(&server, &first.token, endpoint).await.0, StatusCode::CREATED);
    }
    let (status, body) = create_app(&server, &first.token, "four").await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(body["subcode"], "TooManyApplications");
    // The same endpoint again is the existing application, not a new one.
    assert!(create_app(&server, &first.token, "two").await.0.is_success());
    // Deleting one makes room; another user is not affected.
    assert_eq!(server.call(Method::DELETE, &first.url, &first.token, None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(create_app(&server, &first.token, "four").await.0, StatusCode::CREATED);
    server.signed_in_app("sip:bob@example.com", "Bob").await;
}

#[tokio::test]
async fn meetings_per_user_are_capped_with_409_too_many_online_meetings() {
    let server = TestServer::start_with(quota_limits()).await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let url = format!("{}/onlineMeetings/myOnlineMeetings", alice.url);
    let mut created = Vec::new();
    for _ in 0..2 {
        let resp = server.call(Method::POST, &url, &alice.token, Some(json!({}))).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        created.push(resp.headers()["location"].to_str().unwrap().to_owned());
    }
    let resp = server.call(Method::POST, &url, &alice.token, Some(json!({}))).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["subcode"], "TooManyOnlineMeetings");
    // An ad hoc meeting (a join without a URI) counts too.
    let join = format!("{}/communication/onlineMeetingInvitations", alice.url);
    let resp = server.call(Method::POST, &join, &alice.token, Some(json!({"operationId": "adhoc"}))).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let deleted = server.call(Method::DELETE, &created[0], &alice.token, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.call(Method::POST, &url, &alice.token, Some(json!({}))).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn pending_invitations_per_conversation_are_capped_with_409_too_many_participants() {
    let server = TestServer::start_with(quota_limits()).await;
    let alice = available(&server, "sip:alice@example.com", "Alice").await;
    for (uri, name) in
        [("sip:bob@example.com", "Bob"), ("sip:carol@example.com", "Carol"), ("sip:dave@example.com", "Dave")]
    {
        available(&server, uri, name).await;
    }
    let mut stream = EventStream::new(&alice);
    let join = format!("{}/communication/onlineMeetingInvitations", alice.url);
    let resp = server.call(Method::POST, &join, &alice.token, Some(json!({"operationId": "adhoc"}))).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let got = stream.until(&server, std::time::Duration::from_secs(15), |e| e["type"] == "completed").await;
    let conversation =
        got.iter().find(|e| e["link"]["rel"] == "conversation").unwrap()["link"]["href"].as_str().unwrap().to_owned();
    let conversation: Value = server.call(Method::GET, &conversation, &alice.token, None).await.json().await.unwrap();
    let add = conversation["_links"]["addParticipant"]["href"].as_str().unwrap().to_owned();
    let invite = |to: &str| json!({"to": to, "operationId": format!("add-{to}")});
    // Bob and Carol ring (nobody answers yet): two pending.
    for to in ["sip:bob@example.com", "sip:carol@example.com"] {
        assert_eq!(server.call(Method::POST, &add, &alice.token, Some(invite(to))).await.status(), StatusCode::CREATED);
    }
    let resp = server.call(Method::POST, &add, &alice.token, Some(invite("sip:dave@example.com"))).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["subcode"], "TooManyParticipants");
    // Once they time out unanswered, there is room again.
    server.advance(std::time::Duration::from_secs(31)).await;
    let resp = server.call(Method::POST, &add, &alice.token, Some(invite("sip:dave@example.com"))).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}
