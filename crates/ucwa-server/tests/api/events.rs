//! The event channel (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/events_ref>):
//! batches, replay, resync, replacement, priorities, timeouts, restarts. Timeouts and holds
//! run on the test server's manual clock: a test waits until its request is parked, then
//! moves time.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_core::channel::Priority;
use ucwa_core::model::NewEvent;
use ucwa_testkit::{TestApp, TestServer, event_summary, next_link};

fn app_id(app: &TestApp) -> String {
    app.url.rsplit('/').next().unwrap().to_owned()
}

/// Commits one event straight into the application's log, as a meeting transition would.
async fn commit(server: &TestServer, app: &TestApp, priority: Priority, tag: &str) {
    let event = NewEvent {
        app_id: app_id(app),
        priority,
        sender_rel: "communication".into(),
        sender_href: format!("{}/communication", app.url),
        body: json!({"link": {"rel": "conversation", "href": format!("/c/{tag}")}, "type": "updated"}),
        conversation: None,
    };
    server.store.append_events(vec![event], server.now_ms()).await.unwrap();
}

/// A parked `GET` of `url` on `app`'s channel, answered with status and body.
fn spawn_get(server: &TestServer, app: &TestApp, url: String) -> tokio::task::JoinHandle<(StatusCode, Value)> {
    let (client, token) = (server.client.clone(), app.token.clone());
    tokio::spawn(async move {
        let resp = client.get(url).bearer_auth(token).send().await.unwrap();
        (resp.status(), resp.json::<Value>().await.unwrap())
    })
}

/// The tags of the events of a batch (the last path segment of each link).
fn tags(batch: &Value) -> Vec<String> {
    batch["sender"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["events"].as_array().cloned().unwrap_or_default())
        .map(|e| e["link"]["href"].as_str().unwrap().rsplit('/').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn empty_batch_after_timeout_has_self_and_next() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let parked = spawn_get(&server, &app, format!("{}&timeout=1", app.events_url));
    server.parked(&app).await;
    assert!(!parked.is_finished(), "nothing to deliver: the request waits for its timeout");
    server.advance(Duration::from_secs(1)).await;
    let (status, batch) = parked.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(batch["sender"], json!([]));
    assert!(batch["_links"]["self"]["href"].as_str().unwrap().ends_with("events?ack=1"));
    assert!(batch["_links"]["next"]["href"].as_str().unwrap().ends_with("events?ack=2"));
}

#[tokio::test]
async fn high_priority_event_releases_a_parked_request_at_once() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let parked = spawn_get(&server, &app, format!("{}&timeout=30", app.events_url));
    server.parked(&app).await;
    // No time passes: the commit alone releases it.
    commit(&server, &app, Priority::High, "h1").await;
    let (status, batch) = parked.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tags(&batch), ["h1"]);
}

#[tokio::test]
async fn low_and_medium_events_are_held_then_sent_in_order_with_later_high_ones() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    commit(&server, &app, Priority::Low, "l1").await;
    commit(&server, &app, Priority::Medium, "m1").await;
    let parked = spawn_get(&server, &app, format!("{}&timeout=20&medium=3&low=10", app.events_url));
    server.parked(&app).await;
    // Held: two seconds are less than `medium`=3 s.
    server.advance(Duration::from_secs(2)).await;
    server.parked(&app).await;
    assert!(!parked.is_finished(), "low/medium events must be held");
    commit(&server, &app, Priority::High, "h1").await;
    let (_, batch) = parked.await.unwrap();
    assert_eq!(tags(&batch), ["l1", "m1", "h1"], "never reordered by priority");
    // Medium alone is released after `medium` seconds even though `timeout` is long.
    commit(&server, &app, Priority::Medium, "m2").await;
    let held = spawn_get(&server, &app, next_link(&server, &batch).unwrap());
    server.parked(&app).await;
    server.advance(Duration::from_millis(2900)).await;
    server.parked(&app).await;
    assert!(!held.is_finished(), "held until `medium` has passed");
    server.advance(Duration::from_millis(100)).await;
    let (status, batch) = held.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tags(&batch), ["m2"]);
}

#[tokio::test]
async fn same_ack_replays_the_identical_batch_and_next_acknowledges_it() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    commit(&server, &app, Priority::High, "a").await;
    let first = server.call(Method::GET, &app.events_url, &app.token, None).await.bytes().await.unwrap();
    commit(&server, &app, Priority::High, "b").await;
    // The response was "lost": the client asks for the same batch again.
    let replay = server.call(Method::GET, &app.events_url, &app.token, None).await.bytes().await.unwrap();
    assert_eq!(first, replay, "a replay is byte-identical and does not pick up new events");
    let batch: Value = serde_json::from_slice(&first).unwrap();
    let (_, second) = server.events(&app, &next_link(&server, &batch).unwrap()).await;
    assert_eq!(tags(&second), ["b"]);
    // Batch 1 is acknowledged now: asking for it again is out of range.
    let (_, stale) = server.events(&app, &app.events_url).await;
    assert_eq!(stale["_links"].as_object().unwrap().keys().collect::<Vec<_>>(), ["resync"]);
    assert!(stale["_links"]["resync"]["href"].as_str().unwrap().ends_with("events?ack=2"));
}

#[tokio::test]
async fn out_of_range_acks_get_only_a_resync_link() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let base = app.events_url.split('?').next().unwrap().to_owned();
    for query in ["?ack=0", "?ack=7", "?ack=-3", "?ack=18446744073709551615", "?ack=99999999999999999999999", ""] {
        let (status, body) = server.events(&app, &format!("{base}{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(body["_links"].as_object().unwrap().len(), 1, "{query}: {body}");
        assert!(body["_links"]["resync"]["href"].as_str().unwrap().ends_with("events?ack=1"), "{query}");
        assert!(body.get("sender").is_none());
    }
    for query in ["?ack=abc", "?ack=1&timeout=soon", "?ack=1.5"] {
        let (status, body) = server.events(&app, &format!("{base}{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["subcode"], "ParameterValidationFailure");
    }
}

#[tokio::test]
async fn a_newer_request_replaces_the_parked_one_with_409() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let older = spawn_get(&server, &app, format!("{}&timeout=20", app.events_url));
    server.parked(&app).await;
    let newer = spawn_get(&server, &app, format!("{}&timeout=20", app.events_url));
    let (status, body) = older.await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "Conflict");
    assert_eq!(body["subcode"], "PGetReplaced");
    server.parked(&app).await;
    commit(&server, &app, Priority::High, "x").await;
    let (status, batch) = newer.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tags(&batch), ["x"]);
}

#[tokio::test]
async fn a_lower_priority_request_does_not_replace_a_higher_one() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let high = spawn_get(&server, &app, format!("{}&timeout=20&priority=5", app.events_url));
    server.parked(&app).await;
    let (status, body) = server.events(&app, &format!("{}&priority=1", app.events_url)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["subcode"], "PGetReplaced");
    commit(&server, &app, Priority::High, "kept").await;
    assert_eq!(tags(&high.await.unwrap().1), ["kept"]);
}

#[tokio::test]
async fn timeout_is_clamped_and_sticky() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    // `timeout=0` clamps up to the floor (one second on the test server): the request waits,
    // and one second releases it.
    let first = spawn_get(&server, &app, format!("{}&timeout=0", app.events_url));
    server.parked(&app).await;
    server.advance(Duration::from_secs(1)).await;
    let (status, batch) = first.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    // The next request carries no timeout: the value sticks (the default would be 180 s).
    let second = spawn_get(&server, &app, next_link(&server, &batch).unwrap());
    server.parked(&app).await;
    server.advance(Duration::from_secs(1)).await;
    assert_eq!(second.await.unwrap().0, StatusCode::OK);
}

#[tokio::test]
async fn every_event_arrives_exactly_once_in_order_across_batches() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let expected: Vec<String> = (0..600).map(|i| format!("e{i}")).collect();
    let writer = {
        let expected = expected.clone();
        let store = server.store.clone();
        let app_id = app_id(&app);
        let sender = format!("{}/communication", app.url);
        let now = server.now_ms();
        tokio::spawn(async move {
            for chunk in expected.chunks(7) {
                let events = chunk
                    .iter()
                    .map(|tag| NewEvent {
                        app_id: app_id.clone(),
                        priority: Priority::High,
                        sender_rel: "communication".into(),
                        sender_href: sender.clone(),
                        body: json!({"link": {"rel": "conversation", "href": format!("/c/{tag}")}, "type": "updated"}),
                        conversation: None,
                    })
                    .collect();
                store.append_events(events, now).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut url = format!("{}&timeout=2", app.events_url);
    while seen.len() < expected.len() {
        let (status, batch) = server.events(&app, &url).await;
        assert_eq!(status, StatusCode::OK);
        // Every other batch is fetched twice, as after a lost response.
        if seen.len() % 2 == 0 {
            let (_, again) = server.events(&app, &url).await;
            assert_eq!(again, batch);
        }
        seen.extend(tags(&batch));
        url = next_link(&server, &batch).unwrap();
    }
    writer.await.unwrap();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn undelivered_and_unacknowledged_events_survive_a_restart() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    commit(&server, &app, Priority::High, "before").await;
    let first = server.call(Method::GET, &app.events_url, &app.token, None).await.text().await.unwrap();
    commit(&server, &app, Priority::High, "undelivered").await;
    let server = server.restart().await;
    // The token, the application and both batches' events are still there.
    let replay = server.call(Method::GET, &app.events_url, &app.token, None).await.text().await.unwrap();
    assert_eq!(first, replay);
    let batch: Value = serde_json::from_str(&first).unwrap();
    let (_, second) = server.events(&app, &next_link(&server, &batch).unwrap()).await;
    assert_eq!(tags(&second), ["undelivered"]);
}

#[tokio::test]
async fn shutdown_releases_parked_requests() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let parked = spawn_get(&server, &app, format!("{}&timeout=60", app.events_url));
    server.parked(&app).await;
    let started = Instant::now();
    server.stop().await;
    assert_eq!(parked.await.unwrap().0, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn events_for_a_deleted_application_are_dropped() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    assert_eq!(server.call(Method::DELETE, &app.url, &app.token, None).await.status(), StatusCode::NO_CONTENT);
    commit(&server, &app, Priority::High, "late").await;
    let (status, body) = server.events(&app, &app.events_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["subcode"], "ApplicationNotFound");
    assert!(event_summary(&body).is_empty());
}
