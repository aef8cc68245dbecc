//! Idempotent retries: a repeated join, `startMessaging` or `addParticipant` with the same
//! `operationId` from the same application returns the operation the first one started (the
//! same Location), also after a restart and when both arrive at once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_testkit::{EventStream, TestApp, TestServer};

use crate::bots::{Bot, available, find_href};

async fn post_location(server: &TestServer, app: &TestApp, url: &str, body: Value) -> String {
    let resp = server.call(Method::POST, url, &app.token, Some(body)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_retried_join_returns_the_first_operation_even_after_a_restart() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meetings = format!("{}/onlineMeetings/myOnlineMeetings", alice.url);
    let meeting: Value =
        server.call(Method::POST, &meetings, &alice.token, Some(json!({}))).await.json().await.unwrap();
    let join = format!("{}/communication/onlineMeetingInvitations", alice.url);
    let body = json!({"onlineMeetingUri": meeting["onlineMeetingUri"], "operationId": "op-join"});
    let mut stream = EventStream::new(&alice);
    let first = post_location(&server, &alice, &join, body.clone()).await;
    assert_eq!(post_location(&server, &alice, &join, body.clone()).await, first);
    // One invitation started and completed, not two.
    let events = stream.drain(&server).await;
    let started = events.iter().filter(|e| e["link"]["rel"] == "onlineMeetingInvitation" && e["type"] == "started");
    assert_eq!(started.count(), 1);
    // Another operationId is another operation; the id is remembered across a restart.
    let other = post_location(
        &server,
        &alice,
        &join,
        json!({"onlineMeetingUri": meeting["onlineMeetingUri"], "operationId": "op-2"}),
    )
    .await;
    assert_ne!(other, first);
    let server = server.restart().await;
    assert_eq!(post_location(&server, &alice, &join, body).await, first);
    // An ad hoc join (no meeting named) retried is the same ad hoc meeting.
    let adhoc = json!({"operationId": "op-adhoc"});
    let first = post_location(&server, &alice, &join, adhoc.clone()).await;
    assert_eq!(post_location(&server, &alice, &join, adhoc).await, first);
}

#[tokio::test]
async fn identical_joins_at_once_start_one_operation() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let join = format!("{}/communication/onlineMeetingInvitations", alice.url);
    let body = json!({"operationId": "op-twice"});
    let (a, b) = tokio::join!(
        post_location(&server, &alice, &join, body.clone()),
        post_location(&server, &alice, &join, body.clone())
    );
    assert_eq!(a, b);
}

#[tokio::test]
async fn retried_start_messaging_and_add_participant_return_the_first_operation() {
    let server = TestServer::start().await;
    let alice = available(&server, "sip:alice@example.com", "Alice").await;
    available(&server, "sip:bob@example.com", "Bob").await;
    available(&server, "sip:carol@example.com", "Carol").await;
    // startMessaging twice: one call to Bob.
    let start = format!("{}/communication/messagingInvitations", alice.url);
    let call = json!({"to": "sip:bob@example.com", "operationId": "op-call"});
    let first = post_location(&server, &alice, &start, call.clone()).await;
    assert_eq!(post_location(&server, &alice, &start, call).await, first);
    // The operationId of the call is not a join's.
    let join = format!("{}/communication/onlineMeetingInvitations", alice.url);
    let resp = server.call(Method::POST, &join, &alice.token, Some(json!({"operationId": "op-call"}))).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    // addParticipant twice from an ad hoc meeting: one invitation to Carol.
    let invitation = post_location(&server, &alice, &join, json!({"operationId": "op-meet"})).await;
    let invitation: Value = server.call(Method::GET, &invitation, &alice.token, None).await.json().await.unwrap();
    let conversation = find_href(&invitation, "conversation").unwrap_or_else(|| panic!("{invitation:#}"));
    let conversation: Value = server.call(Method::GET, &conversation, &alice.token, None).await.json().await.unwrap();
    let add = conversation["_links"]["addParticipant"]["href"].as_str().unwrap().to_owned();
    let invite = json!({"to": "sip:carol@example.com", "operationId": "op-add"});
    let first = post_location(&server, &alice, &add, invite.clone()).await;
    assert_eq!(post_location(&server, &alice, &add, invite).await, first);
    let other =
        post_location(&server, &alice, &add, json!({"to": "sip:carol@example.com", "operationId": "op-add-2"})).await;
    assert_ne!(other, first);
}

#[tokio::test]
async fn a_service_applications_retried_join_returns_the_first_operation() {
    let server = TestServer::start().await;
    let bot = Bot::sign_in(&server, "sip:bot@example.com", None).await;
    let meeting = bot.adhoc_meeting(&server).await;
    let uri = meeting["onlineMeetingUri"].as_str().unwrap();
    let (status, first) = bot.join(&server, uri, json!({"operationId": "op-bot"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, again) = bot.join(&server, uri, json!({"operationId": "op-bot"})).await;
    assert_eq!(again["location"], first["location"]);
}
