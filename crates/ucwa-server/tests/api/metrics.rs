//! Prometheus metrics (`--metrics-listen`): a meeting flow driven over HTTP moves the request,
//! event, lobby, invitation and sign-in metrics by exactly what happened, read back from the
//! scraped `/metrics` page. Callback metrics are checked in `service.rs`, where callbacks fail.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_server::config::Limits;
use ucwa_testkit::{EventStream, TestOptions, TestServer};

use crate::join::{create_meeting, join};

const WAIT: Duration = Duration::from_secs(10);

/// One sample of the Prometheus text page: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn samples(page: &str) -> Vec<Sample> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {line}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number in {line}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
                None => (series, BTreeMap::new()),
            };
            (name.to_owned(), labels, value)
        })
        .collect()
}

fn parse_labels(mut rest: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        rest = &after[end..];
    }
    labels
}

/// The value of the series `name` whose labels include `labels` (0 when there is none); the
/// sum when several match.
pub(crate) fn value(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(page)
        .iter()
        .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, _, v)| v)
        .sum()
}

async fn sign_in(server: &TestServer, user: &str, password: &str) -> StatusCode {
    let form = [("grant_type", "password"), ("username", user), ("password", password)];
    server.client.post(server.at("/WebTicket/oauthtoken")).form(&form).send().await.unwrap().status()
}

fn lobby_admit_link(events: &[Value], title: &str, action: &str) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "added" && e["in"]["rel"] == "lobby" && e["link"]["title"] == title)
        .find_map(|e| e["_embedded"]["participant"]["_links"][action]["href"].as_str())
        .unwrap_or_else(|| panic!("no {action} link for {title} in {events:#?}"))
        .to_owned()
}

#[tokio::test]
async fn a_meeting_flow_moves_the_metrics_by_what_happened() {
    let limits = Limits { signin_attempts_per_minute: 2, ..TestOptions::default().limits };
    let server = TestServer::start_with(TestOptions { limits, metrics: true, ..TestOptions::default() }).await;
    let before = server.metrics().await;
    assert_eq!(value(&before, "ucwa_events_appended_total", &[]), 0.0);
    assert!(before.contains("# HELP ucwa_admit_to_completed_seconds"), "metrics are described:\n{before}");

    // Two wrong passwords, then the sign-in limit refuses even the right one.
    server.add_user("sip:mallory@example.com", "Mallory", "right-password").await;
    assert_eq!(sign_in(&server, "mallory@example.com", "wrong").await, StatusCode::BAD_REQUEST);
    assert_eq!(sign_in(&server, "mallory@example.com", "wrong").await, StatusCode::BAD_REQUEST);
    assert_eq!(sign_in(&server, "mallory@example.com", "right-password").await, StatusCode::TOO_MANY_REQUESTS);

    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let bob = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let carol = server.signed_in_app("sip:carol@example.com", "Carol").await;
    let meeting = create_meeting(&server, &alice, json!({"subject": "Metrics", "accessLevel": "Locked"})).await;
    let mut alice_events = EventStream::new(&alice);
    join(&server, &alice, json!({"onlineMeetingUri": meeting.uri, "operationId": "op-a"})).await;
    alice_events.until(&server, WAIT, |e| e["type"] == "completed").await;

    // Bob waits 45 s before Alice admits him; Carol waits 3 s before Alice rejects her.
    join(&server, &bob, json!({"onlineMeetingUri": meeting.uri, "operationId": "op-b"})).await;
    let seen = alice_events.until(&server, WAIT, |e| e["in"]["rel"] == "lobby" && e["link"]["title"] == "Bob").await;
    server.advance(Duration::from_secs(45)).await;
    let admit = lobby_admit_link(&seen, "Bob", "admit");
    assert_eq!(server.call(Method::POST, &admit, &alice.token, None).await.status(), StatusCode::NO_CONTENT);
    join(&server, &carol, json!({"onlineMeetingUri": meeting.uri, "operationId": "op-c"})).await;
    let seen = alice_events.until(&server, WAIT, |e| e["in"]["rel"] == "lobby" && e["link"]["title"] == "Carol").await;
    server.advance(Duration::from_secs(3)).await;
    let reject = lobby_admit_link(&seen, "Carol", "reject");
    assert_eq!(server.call(Method::POST, &reject, &alice.token, None).await.status(), StatusCode::NO_CONTENT);

    // Bob reads his events; then a request of his parks.
    let mut bob_events = EventStream::new(&bob);
    bob_events.until(&server, WAIT, |e| e["type"] == "completed").await;
    bob_events.drain(&server).await;
    let bob_delivered = bob_events.seen.len();

    let page = server.metrics().await;
    let m = |name: &str, labels: &[(&str, &str)]| value(&page, name, labels);
    assert_eq!(m("ucwa_signin_failures_total", &[("grant", "password")]), 2.0);
    assert_eq!(m("ucwa_rate_limited_total", &[("limit", "signin")]), 1.0);
    let joins = "/ucwa/oauth/v1/applications/{app}/communication/onlineMeetingInvitations";
    let ok_joins = [("method", "POST"), ("route", joins), ("status", "201")];
    assert_eq!(m("ucwa_http_requests_total", &ok_joins), 3.0);
    assert_eq!(m("ucwa_http_request_duration_seconds_count", &ok_joins), 3.0);
    let tokens = [("method", "POST"), ("route", "/WebTicket/oauthtoken")];
    assert_eq!(m("ucwa_http_requests_total", &[tokens[0], tokens[1], ("status", "400")]), 2.0);
    assert_eq!(m("ucwa_http_requests_total", &[tokens[0], tokens[1], ("status", "429")]), 1.0);
    assert_eq!(m("ucwa_http_requests_total", &[tokens[0], tokens[1], ("status", "200")]), 3.0);
    // Invitations by outcome: Alice and Bob in, Carol denied.
    let online = [("kind", "onlineMeeting"), ("direction", "outgoing")];
    assert_eq!(m("ucwa_invitations_completed_total", &[online[0], online[1], ("outcome", "Success")]), 2.0);
    assert_eq!(m("ucwa_invitations_completed_total", &[online[0], online[1], ("outcome", "Denied")]), 1.0);
    // Lobby waits on the server's clock: Bob's between 45 s and 60 s, Carol's at least 3 s.
    let admitted = [("outcome", "admitted")];
    assert_eq!(m("ucwa_lobby_wait_seconds_count", &admitted), 1.0);
    assert_eq!(m("ucwa_lobby_wait_seconds_bucket", &[admitted[0], ("le", "30")]), 0.0);
    assert_eq!(m("ucwa_lobby_wait_seconds_bucket", &[admitted[0], ("le", "60")]), 1.0);
    assert_eq!(m("ucwa_lobby_wait_seconds_count", &[("outcome", "rejected")]), 1.0);
    assert!(m("ucwa_lobby_wait_seconds_sum", &[("outcome", "rejected")]) >= 3.0);
    assert_eq!(m("ucwa_admit_to_completed_seconds_count", &[]), 1.0);
    // Every event delivered was appended first; replays are not counted again.
    let (appended, delivered) = (m("ucwa_events_appended_total", &[]), m("ucwa_events_delivered_total", &[]));
    assert!(delivered >= (alice_events.seen.len() + bob_delivered) as f64, "{delivered}");
    assert!(appended >= delivered, "{appended} appended, {delivered} delivered");
    assert_eq!(m("ucwa_event_delivery_delay_seconds_count", &[]), delivered);
    assert_eq!(m("ucwa_parked_event_requests", &[]), 0.0);

    // A parked request shows in the gauge while it waits.
    let url = bob_events.next_url().replace("timeout=1", "timeout=180");
    let parked = tokio::spawn({
        let (client, token, url) = (server.client.clone(), bob.token.clone(), server.at(&url));
        async move { client.get(url).bearer_auth(token).send().await }
    });
    server.parked(&bob).await;
    assert_eq!(value(&server.metrics().await, "ucwa_parked_event_requests", &[]), 1.0);
    parked.abort();
}

#[tokio::test]
async fn refusals_by_quotas_and_the_connection_cap_are_counted() {
    use tokio::io::AsyncReadExt;
    let limits = Limits { max_meetings_per_user: 1, ..TestOptions::default().limits };
    let connections = ucwa_server::ConnectionLimits { max_connections: 3, ..Default::default() };
    let options = TestOptions { limits, connections, metrics: true, ..TestOptions::default() };
    let server = TestServer::start_with(options).await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meetings = format!("{}/onlineMeetings/myOnlineMeetings", alice.url);
    let first = server.call(Method::POST, &meetings, &alice.token, Some(json!({"subject": "One"}))).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = server.call(Method::POST, &meetings, &alice.token, Some(json!({"subject": "Two"}))).await;
    assert_eq!(second.status(), StatusCode::CONFLICT);

    // Three connections fill the cap (with the test client's pooled one, the third is
    // already refused); the fourth is closed at once, counted before it is closed.
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let mut refused = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(WAIT, refused.read(&mut buf)).await.expect("closed at once");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    let page = server.metrics().await;
    let m = |labels: &[(&str, &str)]| value(&page, "ucwa_rate_limited_total", labels);
    assert_eq!(m(&[("limit", "meetings_per_user")]), 1.0);
    assert!(m(&[("limit", "connections")]) >= 1.0, "{page}");
    drop(held);
}

/// On PostgreSQL the page shows what the node's database connections do: with every
/// connection held by a statement that waits for a lock, further statements wait for a
/// connection and are shown waiting (the sign of a pool too small for the traffic), and a lost
/// listening connection is counted. The embedded store has no such series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_connections_and_a_lost_listener_show_on_postgresql() {
    use sqlx::Connection as _;
    let server = TestServer::start_with(TestOptions { metrics: true, ..TestOptions::default() }).await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let Some(url) = server.postgres_url() else {
        let page = server.metrics().await;
        assert!(!page.contains("ucwa_database_"), "no database series on the embedded store:\n{page}");
        return;
    };
    let connections = |page: &str, state| value(page, "ucwa_database_connections", &[("state", state)]);
    let waiting = |page: &str| value(page, "ucwa_database_statements_waiting", &[]);
    // The node's background work (the listener's heartbeat, the callback worker, the
    // sweeper) takes a connection now and then: wait for a moment when none is in use. A
    // connection that never went back to the pool would keep the count above 0.
    let page = tokio::time::timeout(WAIT, async {
        loop {
            let page = server.metrics().await;
            if connections(&page, "in_use") == 0.0 {
                return page;
            }
        }
    })
    .await
    .expect("every connection back in the pool");
    assert!(connections(&page, "idle") >= 1.0, "{page}");
    assert_eq!(waiting(&page), 0.0, "{page}");
    assert_eq!(value(&page, "ucwa_database_listener_losses_total", &[]), 0.0, "{page}");

    // Every request reads its token: with the table locked, requests to this node (its own
    // URL, not a random node's) take every connection of its pool and wait in the database,
    // and the rest wait for a connection.
    let mut locker = sqlx::PgConnection::connect(url).await.unwrap();
    let mut locked = locker.begin().await.unwrap();
    sqlx::raw_sql("LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE").execute(&mut *locked).await.unwrap();
    let me = format!("{}{}", server.url, &alice.url[alice.url.find("/ucwa/").unwrap()..]);
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (client, me, token) = (server.client.clone(), me.clone(), alice.token.clone());
        requests.spawn(async move { client.get(me).bearer_auth(token).send().await.unwrap().status() });
    }
    let busy = tokio::time::timeout(WAIT, async {
        loop {
            let page = server.metrics().await;
            if waiting(&page) >= 1.0 {
                return page;
            }
        }
    })
    .await
    .expect("statements shown waiting for a connection");
    assert!(connections(&busy, "in_use") >= 1.0, "{busy}");
    assert_eq!(connections(&busy, "idle"), 0.0, "{busy}");
    locked.commit().await.unwrap();
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    assert_eq!(waiting(&server.metrics().await), 0.0);

    server
        .execute_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .await;
    tokio::time::timeout(WAIT, async {
        while value(&server.metrics().await, "ucwa_database_listener_losses_total", &[]) < 1.0 {}
    })
    .await
    .expect("the lost listening connection counted");
}
