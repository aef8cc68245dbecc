//! Large meetings: a command that tells many sessions is saved in two steps (the sessions
//! it changed first, up to their `completed`, then everyone else and the roster listed to
//! the joiner; `ucwa_service::engine`). What a client sees must
//! not change: every event exactly once and in order, and nothing lost if the server stops
//! between the two steps.

use std::time::Duration;

use serde_json::{Value, json};
use ucwa_core::conference::parse_conference_uri;
use ucwa_core::meeting::{Command, Identity, InvitationRequest, Join, Surface};
use ucwa_server::config::Limits;
use ucwa_testkit::{EventStream, TestApp, TestOptions, TestServer};

use crate::join::{create_meeting, join};

const WAIT: Duration = Duration::from_secs(30);

/// Members beyond the engine's split threshold (64 notices to others).
const MEMBERS: usize = 70;

fn completed(e: &Value) -> bool {
    e["type"] == "completed" && e["link"]["rel"] == "onlineMeetingInvitation"
}

fn added_names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "added" && e["link"]["rel"] == "participant")
        .map(|e| e["link"]["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// One user holds all the members' applications: more than the default cap per user.
fn many_applications() -> TestOptions {
    let limits = Limits { max_applications_per_user: 2 * MEMBERS as u64, ..TestOptions::default().limits };
    TestOptions { limits, ..TestOptions::default() }
}

fn app_id(app: &TestApp) -> String {
    app.url.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_large_meeting_hears_of_each_joiner_once_and_in_order() {
    let server = TestServer::start_with(many_applications()).await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meeting = create_meeting(&server, &alice, json!({"accessLevel": "Everyone"})).await;
    let mut alice_events = EventStream::new(&alice);
    join(&server, &alice, json!({"onlineMeetingUri": meeting.uri})).await;
    alice_events.until(&server, WAIT, completed).await;
    // One user, many applications: each is a session of its own.
    let bob = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let mut members = vec![bob.clone()];
    for i in 1..MEMBERS {
        members.push(server.create_app(&bob.token, &format!("endpoint-bob-{i}")).await);
    }
    for member in &members {
        join(&server, member, json!({"onlineMeetingUri": meeting.uri})).await;
    }
    let carol = server.signed_in_app("sip:carol@example.com", "Carol").await;
    let mut carol_events = EventStream::new(&carol);
    join(&server, &carol, json!({"onlineMeetingUri": meeting.uri})).await;
    // Carol's own events end with her completed; the others are listed to her after it
    // (saved with the fan-out), each once.
    let mut joined = carol_events.until(&server, WAIT, completed).await;
    joined.extend(carol_events.drain(&server).await);
    let at = joined.iter().position(completed).unwrap();
    assert_eq!(joined[at - 1]["link"]["rel"], "localParticipant", "completed once she is in her roster");
    assert!(added_names(&joined[..at]).is_empty(), "nobody else is listed before her completed");
    let mut roster = added_names(&joined[at..]);
    roster.sort();
    let mut expected = vec!["Alice".to_owned()];
    expected.extend(std::iter::repeat_n("Bob".to_owned(), MEMBERS));
    assert_eq!(roster, expected, "Carol learns the whole roster after her completed, once each");

    // Alice heard of every joiner exactly once, in join order, Carol last.
    let seen = alice_events.until(&server, WAIT, |e| e["link"]["title"] == "Carol").await;
    let mut heard = added_names(&seen);
    let more = alice_events.drain(&server).await;
    heard.extend(added_names(&more));
    let mut in_order = vec!["Bob".to_owned(); MEMBERS];
    in_order.push("Carol".to_owned());
    assert_eq!(heard, in_order);
    // The first member heard of the 69 after it and of Carol, once each.
    let mut first = EventStream::new(&members[0]);
    let first_events = first.until(&server, WAIT, |e| e["link"]["title"] == "Carol").await;
    let names = added_names(&first_events);
    assert_eq!(names.iter().filter(|n| *n == "Carol").count(), 1);
    assert_eq!(names.len(), MEMBERS + 1, "Alice and the other members when joining, then the {} after it", MEMBERS - 1);
    assert!(first.drain(&server).await.iter().all(|e| e["link"]["title"] != "Carol"), "no duplicate");

    let (_, id) = parse_conference_uri(&meeting.uri).unwrap();
    assert!(server.store.meeting(&id).await.unwrap().unwrap().pending.is_empty(), "nothing left pending");
}

/// A server that stopped after the first step (state and the joiner's events committed,
/// everyone else's notices pending) delivers the rest once it runs again.
#[tokio::test]
async fn a_fanout_left_pending_is_delivered_after_a_restart() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meeting = create_meeting(&server, &alice, json!({"accessLevel": "Everyone"})).await;
    let mut alice_events = EventStream::new(&alice);
    join(&server, &alice, json!({"onlineMeetingUri": meeting.uri})).await;
    alice_events.until(&server, WAIT, completed).await;
    alice_events.drain(&server).await;
    let carol = server.signed_in_app("sip:carol@example.com", "Carol").await;

    // The first step of Carol's join, as the engine saves it, and then the server stops.
    let (_, id) = parse_conference_uri(&meeting.uri).unwrap();
    let before = server.store.meeting(&id).await.unwrap().unwrap();
    let mut after = before.clone();
    let identity = Identity {
        uri: "sip:carol@example.com".into(),
        display_name: "Carol".into(),
        anonymous: false,
        trusted: false,
        surface: Surface::Ucwa,
    };
    let join_carol = Join {
        session_id: "carol".into(),
        app_id: app_id(&carol),
        identity,
        invitation: InvitationRequest::outgoing("carol"),
        lobby_timeout_ms: 60_000,
    };
    let notices = after.meeting.handle(Command::Join(Box::new(join_carol)), server.now_ms()).unwrap();
    let (own, others): (Vec<_>, Vec<_>) = notices.into_iter().partition(|n| n.to == "carol");
    assert!(!others.is_empty(), "Alice is told");
    after.pending = others;
    let own_events = ucwa_service::render::projection::project(&after, &own);
    assert!(server.store.save_meeting(&after, &before.meeting, own_events, server.now_ms()).await.unwrap());
    let server = server.restart().await;

    // Housekeeping finds the meeting and completes the fan-out: Alice hears of Carol once.
    server.advance(Duration::from_secs(1)).await;
    let seen = alice_events.until(&server, WAIT, |e| e["link"]["title"] == "Carol").await;
    assert_eq!(added_names(&seen), ["Carol"]);
    assert!(server.store.meeting(&id).await.unwrap().unwrap().pending.is_empty());
    assert!(alice_events.drain(&server).await.is_empty(), "delivered once");
}
