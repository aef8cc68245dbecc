//! Retention over HTTP on the manual clock (docs/ARCHITECTURE.md, "Retention"): finished
//! conversations, expired meetings and idle-expired applications stay for the retention
//! period, then housekeeping deletes them, and a churn of conversations leaves the database
//! the size of what is in use.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::SqlitePool;
use ucwa_proto::encode::aspnet_date;
use ucwa_testkit::{EventStream, StoreKind, TestApp, TestOptions, TestServer};

use crate::invite::{WAIT, available, embedded, href};
use crate::join::create_meeting;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const ALICE: &str = "sip:alice@example.com";

fn one_hour_retention(idle: Duration) -> TestOptions {
    let mut options = TestOptions::default();
    options.limits.retention_hours = 1;
    options.limits.application_idle_secs = idle.as_secs();
    options
}

/// Bob calls Alice, she answers, Bob hangs up: a finished person-to-person conversation.
/// Returns the id of the meeting behind it.
async fn finished_call(server: &TestServer, alice: &mut EventStream, bob: &TestApp) -> String {
    let start = href(&bob.body["_embedded"]["communication"], "startMessaging");
    let call = json!({"to": ALICE, "operationId": "call"});
    let resp = server.call(Method::POST, &start, &bob.token, Some(call)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let invitation = resp.headers()["location"].to_str().unwrap().to_owned();
    // The invitation id is Bob's session (conversation) id.
    let session = invitation.rsplit('/').next().unwrap();
    let meeting_id = server.store.session_location(session).await.unwrap().expect("Bob's session").meeting_id;
    let ringing =
        alice.until(server, WAIT, |e| e["link"]["rel"] == "messagingInvitation" && e["type"] == "started").await;
    let accept = href(embedded(&ringing, "messagingInvitation", "started"), "accept");
    assert_eq!(server.call(Method::POST, &accept, &alice.app.token, None).await.status(), StatusCode::NO_CONTENT);
    let bob_invitation: Value = server.call(Method::GET, &invitation, &bob.token, None).await.json().await.unwrap();
    let conversation = href(&bob_invitation, "conversation");
    assert_eq!(server.call(Method::DELETE, &conversation, &bob.token, None).await.status(), StatusCode::NO_CONTENT);
    alice.until(server, WAIT, |e| e["link"]["rel"] == "conversation" && e["type"] == "deleted").await;
    meeting_id
}

async fn status_of(server: &TestServer, url: &str, token: &str) -> StatusCode {
    server.call(Method::GET, url, token, None).await.status()
}

/// The meetings Alice's application `app` lists.
async fn listed(server: &TestServer, app: &TestApp) -> Vec<String> {
    let list: Value = server
        .call(Method::GET, &format!("{}/onlineMeetings/myOnlineMeetings", app.url), &app.token, None)
        .await
        .json()
        .await
        .unwrap();
    let links = list["_links"]["myOnlineMeeting"].as_array().cloned().unwrap_or_default();
    links.iter().map(|l| l["href"].as_str().unwrap().rsplit('/').next().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn finished_conversations_expired_meetings_and_applications_are_deleted_after_the_retention() {
    // Applications idle for ten minutes expire; what finished is kept for an hour.
    let server = TestServer::start_with(one_hour_retention(10 * MINUTE)).await;
    let alice = available(&server, server.signed_in_app(ALICE, "Alice").await).await;
    let bob = available(&server, server.signed_in_app("sip:bob@example.com", "Bob").await).await;
    let carol = server.signed_in_app("sip:carol@example.com", "Carol").await;

    // A scheduled meeting that expires in half an hour, and a finished call.
    let expiration = aspnet_date(server.now_ms() + 30 * 60_000);
    let meeting = create_meeting(&server, &alice, json!({"subject": "Short", "expirationTime": expiration})).await;
    let meeting_id = meeting.body["onlineMeetingId"].as_str().unwrap().to_owned();
    let call = finished_call(&server, &mut EventStream::new(&alice), &bob).await;
    assert!(server.store.meeting(&call).await.unwrap().is_some(), "a finished call is kept for the retention");

    // 15 minutes: every application idled out; an expired application answers 410.
    server.advance(15 * MINUTE).await;
    assert_eq!(status_of(&server, &carol.url, &carol.token).await, StatusCode::GONE);
    // 45 minutes: the meeting expired a quarter of an hour ago and is still there.
    server.advance(30 * MINUTE).await;
    let alice_again = server.create_app(&alice.token, "alice-later").await;
    let meeting_href = |app: &TestApp| format!("{}/onlineMeetings/myOnlineMeetings/{meeting_id}", app.url);
    assert_eq!(status_of(&server, &meeting_href(&alice_again), &alice.token).await, StatusCode::OK);
    assert_eq!(listed(&server, &alice_again).await, std::slice::from_ref(&meeting_id));
    assert_eq!(status_of(&server, &carol.url, &carol.token).await, StatusCode::GONE);
    assert!(server.store.meeting(&call).await.unwrap().is_some());

    // Past the meeting's expiration plus the retention, and one housekeeping minute.
    server.advance(45 * MINUTE + 2 * MINUTE).await;
    assert_eq!(status_of(&server, &carol.url, &carol.token).await, StatusCode::NOT_FOUND);
    assert!(server.store.meeting(&call).await.unwrap().is_none(), "the finished call was deleted");
    assert!(server.store.meeting(&meeting_id).await.unwrap().is_none(), "the expired meeting was deleted");
    let alice_last = server.create_app(&alice.token, "alice-last").await;
    assert_eq!(status_of(&server, &meeting_href(&alice_last), &alice.token).await, StatusCode::NOT_FOUND);
    assert!(listed(&server, &alice_last).await.is_empty());
}

/// Row counts of the tables that grow with use: meetings, sessions, applications, events.
async fn rows(pool: &SqlitePool) -> [i64; 4] {
    let mut out = [0; 4];
    for (n, table) in out.iter_mut().zip(["meetings", "meeting_sessions", "applications", "events"]) {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        (*n,) = sqlx::query_as(sql).fetch_one(pool).await.unwrap();
    }
    out
}

/// Bytes of the database file once the write-ahead log is copied back into it.
async fn file_bytes(pool: &SqlitePool, path: &std::path::Path) -> u64 {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await.unwrap();
    std::fs::metadata(path).unwrap().len()
}

const ROUNDS: usize = 6;
const CALLS_PER_ROUND: usize = 50;

#[tokio::test]
async fn a_churn_of_conversations_over_http_keeps_the_database_bounded() {
    // It measures the SQLite file; on PostgreSQL the conformance suite's retention cases and
    // the first test here show that finished conversations go.
    let server = TestServer::start_with(TestOptions { store: StoreKind::Sqlite, ..one_hour_retention(HOUR) }).await;
    let url = format!("sqlite://{}", server.db_path().display());
    let inspect = SqlitePool::connect(&url).await.unwrap();
    server.add_user(ALICE, "Alice", "alice-pw").await;
    server.add_user("sip:bob@example.com", "Bob", "bob-pw").await;
    let alice_token = server.token(ALICE, "alice-pw").await.unwrap();
    let bob_token = server.token("sip:bob@example.com", "bob-pw").await.unwrap();
    let (mut peak, mut warm_bytes) = ([0; 4], 0);
    for round in 0..ROUNDS {
        // An hour of use: both sign in a new application (the last hour's expire idle) and
        // Alice takes the calls.
        let alice = available(&server, server.create_app(&alice_token, &format!("alice-{round}")).await).await;
        let bob = available(&server, server.create_app(&bob_token, &format!("bob-{round}")).await).await;
        let mut alice_events = EventStream::new(&alice);
        for _ in 0..CALLS_PER_ROUND {
            finished_call(&server, &mut alice_events, &bob).await;
        }
        let during = rows(&inspect).await;
        server.advance(HOUR + MINUTE).await;
        let after = rows(&inspect).await;
        for (p, n) in peak.iter_mut().zip(during.into_iter().chain(after)) {
            *p = (*p).max(n);
        }
        // What finished in earlier hours is gone: at most this hour's calls remain.
        assert!(after[0] <= CALLS_PER_ROUND as i64, "round {round}: {after:?}");
        if round == 1 {
            warm_bytes = file_bytes(&inspect, &server.db_path()).await;
        }
    }
    let end_bytes = file_bytes(&inspect, &server.db_path()).await;
    server.advance(HOUR + MINUTE).await;
    let end = rows(&inspect).await;
    eprintln!(
        "{} calls over HTTP: peak rows (meetings, sessions, applications, events) {peak:?}, then {end:?}; file {warm_bytes} -> {end_bytes} bytes",
        ROUNDS * CALLS_PER_ROUND
    );
    assert!(peak[0] <= CALLS_PER_ROUND as i64, "meetings peaked at {} of {} calls", peak[0], ROUNDS * CALLS_PER_ROUND);
    assert!(peak[2] <= 4, "applications peaked at {}", peak[2]);
    assert_eq!(end, [0, 0, 0, 0], "two idle hours later nothing is left");
    // Pages freed by deletions are reused: the file stops growing once warm. Kept, the
    // calls would triple it from round 1 to the end; how many events sit unacknowledged when
    // a round ends depends on scheduling, which moves the size by up to ~20 % either way.
    assert!(end_bytes <= warm_bytes + warm_bytes / 2, "the file grew from {warm_bytes} to {end_bytes} bytes");
}
