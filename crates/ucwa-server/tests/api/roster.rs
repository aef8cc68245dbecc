//! Roles and the roster (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/participant_ref>): promote, demote, eject, leaders leaving while
//! people wait, and our payload shapes against the recorded ones.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_testkit::{EventStream, TestServer, fixture, trace};

use crate::join::{create_meeting, join};

const WAIT: Duration = Duration::from_secs(10);

fn is_completed(e: &Value) -> bool {
    e["type"] == "completed" && e["link"]["rel"] == "onlineMeetingInvitation"
}

/// The participant resource embedded in the last event about `uri`.
fn last_about<'a>(events: &'a [Value], uri: &str) -> &'a Value {
    events
        .iter()
        .rev()
        .find(|e| e["_embedded"]["participant"]["uri"] == uri)
        .map(|e| &e["_embedded"]["participant"])
        .unwrap()
}

#[tokio::test]
async fn leaders_promote_demote_and_eject() {
    let server = TestServer::start().await;
    let alice_app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let bob_app = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let meeting = create_meeting(&server, &alice_app, json!({"accessLevel": "SameEnterprise"})).await;
    let mut alice = EventStream::new(&alice_app);
    let mut bob = EventStream::new(&bob_app);
    join(&server, &alice_app, json!({"onlineMeetingUri": meeting.uri})).await;
    alice.until(&server, WAIT, is_completed).await;
    join(&server, &bob_app, json!({"onlineMeetingUri": meeting.uri})).await;
    let bob_join = bob.until(&server, WAIT, is_completed).await;
    // Bob (same enterprise) got in directly as an attendee; Alice shows in his roster as a
    // leader with no capability links for him.
    let alice_for_bob = last_about(&bob_join, "sip:alice@example.com");
    assert_eq!(alice_for_bob["role"], "Leader");
    assert!(alice_for_bob["_links"].get("eject").is_none());
    let seen = alice.until(&server, WAIT, |e| e["link"]["rel"] == "participant" && e["type"] == "added").await;
    let bob_for_alice = last_about(&seen, "sip:bob@example.com");
    assert_eq!(bob_for_alice["role"], "Attendee");
    let promote = bob_for_alice["_links"]["promote"]["href"].as_str().unwrap().to_owned();
    assert!(bob_for_alice["_links"].get("demote").is_none());

    // Bob, an attendee, may not eject Alice.
    let bob_conv = bob_join[0]["_embedded"]["onlineMeetingInvitation"]["_links"]["conversation"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice_id = alice_for_bob["_links"]["self"]["href"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let resp =
        server.call(Method::POST, &format!("{bob_conv}/participants/{alice_id}/eject"), &bob_app.token, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    assert_eq!(server.call(Method::POST, &promote, &alice_app.token, None).await.status(), StatusCode::NO_CONTENT);
    let after = alice.until(&server, WAIT, |e| e["in"]["rel"] == "leaders").await;
    assert!(trace(&after).contains(&"conversation participant deleted in attendees".to_owned()));
    let bob_events = bob.until(&server, WAIT, |e| e["link"]["rel"] == "localParticipant").await;
    let local = bob_events.iter().find(|e| e["link"]["rel"] == "localParticipant").unwrap();
    assert_eq!(local["type"], "updated");
    assert_eq!(local["_embedded"]["localParticipant"]["role"], "Leader");
    let leaders: Value =
        server.call(Method::GET, &format!("{bob_conv}/leaders"), &bob_app.token, None).await.json().await.unwrap();
    assert_eq!(leaders["_embedded"]["participant"].as_array().unwrap().len(), 2);

    let refreshed: Value = server
        .call(Method::GET, promote.trim_end_matches("/promote"), &alice_app.token, None)
        .await
        .json()
        .await
        .unwrap();
    let demote = refreshed["_links"]["demote"]["href"].as_str().unwrap().to_owned();
    assert_eq!(server.call(Method::POST, &demote, &alice_app.token, None).await.status(), StatusCode::NO_CONTENT);
    // Demoting again: Bob is an attendee now.
    assert_eq!(server.call(Method::POST, &demote, &alice_app.token, None).await.status(), StatusCode::CONFLICT);
    alice.drain(&server).await;
    bob.drain(&server).await;

    let eject = refreshed["_links"]["eject"]["href"].as_str().unwrap().to_owned();
    assert_eq!(server.call(Method::POST, &eject, &alice_app.token, None).await.status(), StatusCode::NO_CONTENT);
    let gone = bob.until(&server, WAIT, |e| e["type"] == "deleted" && e["link"]["rel"] == "conversation").await;
    assert_eq!(trace(&gone).last().unwrap(), "communication conversation deleted");
    let seen = alice.until(&server, WAIT, |e| e["type"] == "deleted").await;
    let deleted = seen.last().unwrap();
    assert_eq!(deleted["reason"]["subcode"], "Ejected");
}

#[tokio::test]
async fn waiters_keep_waiting_when_the_leader_leaves_and_a_returning_leader_sees_them() {
    let server = TestServer::start().await;
    let alice_app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let bob_app = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let meeting = create_meeting(&server, &alice_app, json!({"accessLevel": "Locked"})).await;
    let mut alice = EventStream::new(&alice_app);
    let mut bob = EventStream::new(&bob_app);
    join(&server, &alice_app, json!({"onlineMeetingUri": meeting.uri})).await;
    let joined = alice.until(&server, WAIT, is_completed).await;
    join(&server, &bob_app, json!({"onlineMeetingUri": meeting.uri})).await;
    bob.until(&server, WAIT, |e| e["_embedded"]["conversation"]["state"] == "InLobby").await;
    let conversation = joined[0]["_embedded"]["onlineMeetingInvitation"]["_links"]["conversation"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        server.call(Method::DELETE, &conversation, &alice_app.token, None).await.status(),
        StatusCode::NO_CONTENT
    );
    alice.until(&server, WAIT, |e| e["type"] == "deleted" && e["link"]["rel"] == "conversation").await;
    // Bob still waits.
    assert!(bob.drain(&server).await.iter().all(|e| !is_completed(e)));
    // Alice comes back and is shown the lobby with Bob in it.
    join(&server, &alice_app, json!({"onlineMeetingUri": meeting.uri})).await;
    let back = alice.until(&server, WAIT, |e| e["in"]["rel"] == "lobby").await;
    let waiting = back.iter().find(|e| e["in"]["rel"] == "lobby").unwrap();
    let admit = waiting["_embedded"]["participant"]["_links"]["admit"]["href"].as_str().unwrap().to_owned();
    assert_eq!(server.call(Method::POST, &admit, &alice_app.token, None).await.status(), StatusCode::NO_CONTENT);
    let got = bob.until(&server, WAIT, is_completed).await;
    assert_eq!(got.iter().find(|e| is_completed(e)).unwrap()["status"], "Success");
    // Nobody is both in the lobby and in the roster.
    let conv = got.iter().find(|e| e["_embedded"]["conversation"]["state"] == "Conferenced").unwrap();
    let lobby = conv["_embedded"]["conversation"]["_links"]["lobby"]["href"].as_str().unwrap();
    let lobby: Value = server.call(Method::GET, lobby, &bob_app.token, None).await.json().await.unwrap();
    assert_eq!(lobby["_embedded"]["participant"], json!([]));
}

/// Keys of an embedded resource with the Trusted Application API prefix removed.
pub fn shape(resource: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let strip = |k: &String| k.trim_start_matches("ms:rtc:saas:").to_owned();
    let props =
        resource.as_object().unwrap().keys().filter(|k| *k != "_links" && *k != "_embedded").map(strip).collect();
    let links = resource["_links"].as_object().map(|l| l.keys().map(strip).collect()).unwrap_or_default();
    (props, links)
}

pub fn recorded(file: &str, rel: &str) -> Value {
    let text = fixture(&format!("tap-recorded/events/{file}"));
    let batch: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap();
    batch["sender"][0]["events"][0]["_embedded"][format!("ms:rtc:saas:{rel}")].clone()
}

/// Links the recorded service offers that this server deliberately does not: media and
/// broadcast/extension actions (media is out of scope). Everything else must match.
const NOT_OFFERED: &[&str] = &[
    "enableAudienceMuteLock",
    "enableBroadcastingExtension",
    "enableConversationExtension",
    // Offered only while that participant's messaging is connected.
    "participantMessaging",
];

fn without_unoffered(mut keys: BTreeSet<String>) -> BTreeSet<String> {
    keys.retain(|k| !NOT_OFFERED.contains(&k.as_str()));
    keys
}

#[tokio::test]
async fn payloads_have_the_recorded_shapes() {
    let server = TestServer::start().await;
    let alice_app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let bob_app = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let meeting = create_meeting(&server, &alice_app, json!({"accessLevel": "Locked", "subject": "Shapes"})).await;
    let mut alice = EventStream::new(&alice_app);
    let mut bob = EventStream::new(&bob_app);
    join(&server, &alice_app, json!({"onlineMeetingUri": meeting.uri, "operationId": "a"})).await;
    alice.until(&server, WAIT, is_completed).await;
    join(&server, &bob_app, json!({"onlineMeetingUri": meeting.uri, "operationId": "b"})).await;
    bob.until(&server, WAIT, |e| e["_embedded"]["conversation"]["state"] == "InLobby").await;
    let seen = alice.until(&server, WAIT, |e| e["in"]["rel"] == "lobby").await;
    let admit =
        seen.last().unwrap()["_embedded"]["participant"]["_links"]["admit"]["href"].as_str().unwrap().to_owned();
    server.call(Method::POST, &admit, &alice_app.token, None).await;
    bob.until(&server, WAIT, is_completed).await;
    let alice_seen = alice.drain(&server).await;

    let conversation_in = |state: &str| {
        bob.seen
            .iter()
            .find(|e| e["_embedded"]["conversation"]["state"] == state)
            .map(|e| e["_embedded"]["conversation"].clone())
            .unwrap()
    };
    for (file, state) in [
        ("Event_ConversationAdded.json", "Connecting"),
        ("Event_ConversationInLobby.json", "InLobby"),
        ("Event_ConversationConferencing.json", "Conferencing"),
        ("Event_ConversationConferenced.json", "Conferenced"),
    ] {
        let (rec_props, rec_links) = shape(&recorded(file, "conversation"));
        let (our_props, mut our_links) = shape(&conversation_in(state));
        // UCWA conversations link their local participant once in the roster (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/conversation_ref>); the
        // recorded service payloads do not.
        our_links.remove("localParticipant");
        assert_eq!(our_links, without_unoffered(rec_links), "{file} links");
        let mut expected = rec_props;
        // A Trusted Application API-only property.
        expected.remove("onlineMeetingLobbyStatus");
        assert!(
            our_props.is_superset(&expected),
            "{file}: missing {:?}",
            expected.difference(&our_props).collect::<Vec<_>>()
        );
    }
    let started = &bob.seen[0]["_embedded"]["onlineMeetingInvitation"];
    let (rec_props, rec_links) =
        shape(&recorded("Event_OnlineMeetingInvitationStarted.json", "onlineMeetingInvitation"));
    let (our_props, our_links) = shape(started);
    assert!(our_props.is_superset(&rec_props));
    assert!(our_links.is_superset(&rec_links));
    let participant = alice_seen.iter().find(|e| e["type"] == "updated").unwrap();
    let (rec_props, rec_links) = shape(&recorded("Event_ParticipantUpdated_WithEjectLink.json", "participant"));
    let (our_props, our_links) = shape(&participant["_embedded"]["participant"]);
    assert!(our_props.is_superset(&rec_props));
    assert!(our_links.is_superset(&without_unoffered(rec_links)), "{our_links:?}");
    // Deleted events carry no body, like the recorded ones.
    let disconnected = recorded("Event_ConversationDeleted.json", "conversation");
    assert!(disconnected.is_null());
}
