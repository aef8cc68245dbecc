//! Lobby policy through HTTP (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/accesslevel_ref>): who waits, who leads, and meetings
//! past their expiration time. The full policy table is unit-tested in `ucwa-core`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_testkit::{EventStream, TestServer};

use crate::anonymous::anonmeeting_grant;
use crate::join::{create_meeting, join};

const WAIT: Duration = Duration::from_secs(10);

fn is_completed(e: &Value) -> bool {
    e["type"] == "completed" && e["link"]["rel"] == "onlineMeetingInvitation"
}

/// The local participant as the joiner's last `localParticipant` event shows it.
fn local_role(events: &[Value]) -> String {
    let local = events.iter().rev().find(|e| e["link"]["rel"] == "localParticipant").unwrap();
    local["_embedded"]["localParticipant"]["role"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn invited_meetings_admit_listed_attendees_and_lobby_everyone_else() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let bob = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let carol = server.signed_in_app("sip:carol@example.com", "Carol").await;
    let meeting = create_meeting(
        &server,
        &alice,
        json!({"accessLevel": "Invited", "attendees": ["sip:bob@example.com"], "automaticLeaderAssignment": "Everyone"}),
    )
    .await;
    let mut bob_events = EventStream::new(&bob);
    join(&server, &bob, json!({"onlineMeetingUri": meeting.uri})).await;
    let got = bob_events.until(&server, WAIT, is_completed).await;
    assert_eq!(got.iter().find(|e| is_completed(e)).unwrap()["status"], "Success", "listed attendees get in");
    assert_eq!(local_role(&got), "Leader", "automaticLeaderAssignment Everyone makes every joiner a leader");
    let mut carol_events = EventStream::new(&carol);
    join(&server, &carol, json!({"onlineMeetingUri": meeting.uri})).await;
    carol_events.until(&server, WAIT, |e| e["_embedded"]["conversation"]["state"] == "InLobby").await;
    // Bob leads, so he is shown Carol in the lobby and may admit her.
    let seen = bob_events.until(&server, WAIT, |e| e["in"]["rel"] == "lobby").await;
    let admit = seen.iter().find(|e| e["in"]["rel"] == "lobby").unwrap()["_embedded"]["participant"]["_links"]["admit"]
        ["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(server.call(Method::POST, &admit, &bob.token, None).await.status(), StatusCode::NO_CONTENT);
    carol_events.until(&server, WAIT, is_completed).await;
}

#[tokio::test]
async fn same_enterprise_admits_the_tenant_and_lobbies_other_domains() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let bob = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let zed = server.signed_in_app("sip:zed@partner.org", "Zed").await;
    let meeting = create_meeting(&server, &alice, json!({"accessLevel": "SameEnterprise"})).await;
    let mut bob_events = EventStream::new(&bob);
    join(&server, &bob, json!({"onlineMeetingUri": meeting.uri})).await;
    let got = bob_events.until(&server, WAIT, is_completed).await;
    assert_eq!(local_role(&got), "Attendee");
    let mut zed_events = EventStream::new(&zed);
    join(&server, &zed, json!({"onlineMeetingUri": meeting.uri})).await;
    let waiting = zed_events.until(&server, WAIT, |e| e["_embedded"]["conversation"]["state"] == "InLobby").await;
    assert!(waiting.iter().all(|e| !is_completed(e)));
}

#[tokio::test]
async fn expired_meetings_cannot_be_joined() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let now = server.now_ms();
    let meeting = create_meeting(&server, &alice, json!({"expirationTime": format!("/Date({})/", now + 1500)})).await;
    server.advance(Duration::from_millis(2000)).await;
    let resp = server
        .call(
            Method::POST,
            &format!("{}/communication/onlineMeetingInvitations", alice.url),
            &alice.token,
            Some(json!({"onlineMeetingUri": meeting.uri})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.json::<Value>().await.unwrap()["subcode"], "DestinationNotFound");
    let token = anonmeeting_grant(
        &server,
        &[("password", meeting.body["onlineMeetingId"].as_str().unwrap()), ("ms_rtc_conferenceuri", &meeting.uri)],
    )
    .await;
    assert_eq!(token.status(), StatusCode::BAD_REQUEST);
}
