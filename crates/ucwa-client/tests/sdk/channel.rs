//! The event channel stream: every event exactly once, in order, across a server restart and
//! across a second reader taking over (`409 PGetReplaced`); token renewal keeps the
//! application; a deleted application ends the stream with a clear error.

use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;
use ucwa_client::{AppOptions, ChannelItem, Credentials, Error, EventStream};
use ucwa_core::channel::Priority;
use ucwa_core::model::NewEvent;
use ucwa_testkit::{TestOptions, TestServer};

use crate::{quick, sign_in, within};

/// Commits events tagged `tags` straight into the application's log, as a meeting
/// transition would (the way the server's own event tests do).
async fn commit(server: &TestServer, app_href: &str, tags: &[&str]) {
    let app_id = app_href.rsplit('/').next().unwrap().to_owned();
    let events = tags
        .iter()
        .map(|tag| NewEvent {
            app_id: app_id.clone(),
            priority: Priority::High,
            sender_rel: "communication".into(),
            sender_href: format!("{app_href}/communication"),
            body: json!({"link": {"rel": "conversation", "href": format!("/c/{tag}")}, "type": "updated"}),
            conversation: None,
        })
        .collect();
    server.store.append_events(events, server.now_ms()).await.unwrap();
}

/// The tag of an event item, if it is one.
fn tag(item: &ChannelItem) -> Option<String> {
    match item {
        ChannelItem::Event(e) => Some(e.event.link.href.rsplit('/').next().unwrap().to_owned()),
        _ => None,
    }
}

/// Reads `stream` until `count` events arrived; answers their tags.
async fn read_events(stream: &mut EventStream, count: usize) -> Vec<String> {
    let mut tags = Vec::new();
    while tags.len() < count {
        let item = within("events", stream.next_item()).await.expect("the stream goes on").expect("no error");
        tags.extend(tag(&item));
    }
    tags
}

#[tokio::test]
async fn the_stream_carries_on_across_a_restart_without_losing_or_repeating_an_event() {
    let server = TestServer::start().await;
    let (_, session) = sign_in(&server, "sip:alice@example.com", "Alice").await;
    let app = session.application_with(AppOptions::new("laptop").keep_on_drop()).await.unwrap();
    commit(&server, app.href(), &["a", "b", "c"]).await;
    let mut stream = app.event_stream(quick()).unwrap();
    let first = read_events(&mut stream, 2).await;
    assert_eq!(first, ["a", "b"]);

    // The reader keeps polling while the server goes away and comes back.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Some(item) = stream.next_item().await {
            let item = item.expect("no error across a restart");
            if tx.send(item).is_err() {
                return;
            }
        }
    });
    let item = within("c", rx.recv()).await.unwrap();
    assert_eq!(tag(&item).as_deref(), Some("c"));
    let server = server.restart().await;
    commit(&server, app.href(), &["d", "e"]).await;
    let mut rest = Vec::new();
    while rest.len() < 2 {
        rest.extend(tag(&within("events after the restart", rx.recv()).await.unwrap()));
    }
    assert_eq!(rest, ["d", "e"], "nothing lost, nothing twice");
    // Nothing else came in between: the next event is the next one committed.
    commit(&server, app.href(), &["f"]).await;
    let next = loop {
        if let Some(tag) = tag(&within("f", rx.recv()).await.unwrap()) {
            break tag;
        }
    };
    assert_eq!(next, "f");
    reader.abort();
}

#[tokio::test]
async fn a_second_reader_takes_over_where_the_first_was_and_the_first_is_told() {
    let server = TestServer::start().await;
    let (_, session) = sign_in(&server, "sip:alice@example.com", "Alice").await;
    let app = session.application_with(AppOptions::new("laptop").keep_on_drop()).await.unwrap();
    commit(&server, app.href(), &["a", "b"]).await;
    // Long polls, so that only a replacement ends a parked request.
    let patient = quick().timeout(Duration::from_secs(20));
    let mut first = app.event_stream(patient.clone()).unwrap();
    let tags = read_events(&mut first, 1).await;
    assert_eq!(tags, ["a"]);
    // The first reader has received `a` only: a second reader resumes there and gets `b`.
    let position = first.position().clone();
    let other = session.application_with(AppOptions::new("laptop").keep_on_drop()).await.unwrap();
    assert_eq!(other.href(), app.href(), "the same application");
    let mut second = other.resume_event_stream(position, patient).unwrap();
    let tags = read_events(&mut second, 1).await;
    assert_eq!(tags, ["b"]);
    let tags = read_events(&mut first, 1).await;
    assert_eq!(tags, ["b"], "the first reader still had `b` to hand out");
    // The first parks; the second asks for the same batch and takes the channel over.
    let parked = tokio::spawn(async move {
        let item = first.next_item().await;
        (item, first.next_item().await.is_none())
    });
    server.parked_id(app.href().rsplit('/').next().unwrap()).await;
    let second = tokio::spawn(async move { read_events(&mut second, 1).await });
    let (item, ended) = within("the replaced reader", parked).await.unwrap();
    assert!(matches!(item, Some(Err(Error::Replaced))), "{item:?}");
    assert!(ended, "a replaced stream ends");
    commit(&server, app.href(), &["c"]).await;
    assert_eq!(within("the new reader", second).await.unwrap(), ["c"]);
}

#[tokio::test]
async fn an_expired_token_is_renewed_and_the_application_and_its_channel_are_kept() {
    let mut options = TestOptions::default();
    options.limits.token_ttl_secs = 600;
    let server = TestServer::start_with(options).await;
    let (client, session) = sign_in(&server, "sip:alice@example.com", "Alice").await;
    let app = session.application_with(AppOptions::new("laptop").keep_on_drop()).await.unwrap();
    let old_token = session.access_token().await.unwrap();
    let stored = client.sign_in(Credentials::token(old_token.clone())).await.unwrap();
    commit(&server, app.href(), &["a"]).await;
    let mut stream = app.event_stream(quick()).unwrap();
    assert_eq!(read_events(&mut stream, 1).await, ["a"]);
    // The token expires on the server's clock; the next request is answered 401.
    server.advance(Duration::from_secs(601)).await;
    commit(&server, app.href(), &["b"]).await;
    assert_eq!(read_events(&mut stream, 1).await, ["b"], "the channel goes on with a fresh token");
    let again = session.application_with(AppOptions::new("laptop").keep_on_drop()).await.unwrap();
    assert_eq!(again.href(), app.href(), "the application is kept");
    assert_ne!(session.access_token().await.unwrap(), old_token);
    // A stored token cannot be renewed: the caller is told to sign in again.
    let refused = stored.application("laptop").await.unwrap_err();
    assert!(matches!(refused, Error::TokenExpired), "{refused:?}");
}

#[tokio::test]
async fn a_deleted_application_ends_the_stream_with_a_clear_error() {
    let server = TestServer::start().await;
    let (_, session) = sign_in(&server, "sip:alice@example.com", "Alice").await;
    let app = session.application("laptop").await.unwrap();
    let mut stream = app.event_stream(quick()).unwrap();
    app.clone().delete().await.unwrap();
    let end = within("the end", async {
        loop {
            match stream.next_item().await {
                Some(Ok(_)) => continue,
                other => return other,
            }
        }
    })
    .await;
    match end {
        Some(Err(e @ Error::ApplicationGone { .. })) => assert_eq!(e.status(), Some(404)),
        other => panic!("{other:?}"),
    }
    assert!(stream.next_item().await.is_none());
    drop(server);
}

#[tokio::test]
async fn applications_are_kept_alive_by_activity_and_deleted_when_dropped() {
    let mut options = TestOptions::default();
    options.limits.application_idle_secs = 60;
    let server = TestServer::start_with(options).await;
    let (_, session) = sign_in(&server, "sip:alice@example.com", "Alice").await;
    let app = session.application_with(AppOptions::new("laptop")).await.unwrap();
    assert!(app.report_activity().await.is_err(), "only an available application reports activity");
    app.make_me_available().await.unwrap();
    app.make_me_available().await.unwrap();
    for _ in 0..3 {
        server.advance(Duration::from_secs(45)).await;
        app.report_activity().await.unwrap();
    }
    assert!(app.refresh().await.is_ok(), "alive after 135 s of activity reports");
    server.advance(Duration::from_secs(61)).await;
    let expired = app.refresh().await.unwrap_err();
    assert_eq!(expired.status(), Some(410), "{expired}");

    // A new one for the same endpoint, deleted when its last handle goes.
    let app = session.application_with(AppOptions::new("laptop")).await.unwrap();
    let href = app.href().to_owned();
    let token = session.access_token().await.unwrap();
    let copy = app.clone();
    drop(app);
    assert_eq!(server.call(reqwest::Method::GET, &href, &token, None).await.status(), 200, "a clone remains");
    drop(copy);
    within("the deletion", async {
        while server.call(reqwest::Method::GET, &href, &token, None).await.status() != 404 {
            tokio::task::yield_now().await;
        }
    })
    .await;
}
