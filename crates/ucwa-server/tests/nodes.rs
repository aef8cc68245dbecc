//! Two nodes on one PostgreSQL database, each request sent to the node the test names: what
//! one node does, the other sees at once. (The whole API suite also runs with every request
//! on a random node: `UCWA_TEST_NODES=2`; here each case crosses nodes on purpose.) Skipped
//! with a notice without `UCWA_TEST_POSTGRES_URL`, outside CI.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_core::channel::Priority;
use ucwa_core::model::NewEvent;
use ucwa_testkit::{EventStream, TestApp, TestOptions, TestServer};

/// `url` (absolute, on `from`) on node `to`.
fn on(to: &TestServer, from: &TestServer, url: &str) -> String {
    to.at(url.strip_prefix(&from.url).unwrap_or(url))
}

fn app_id(app: &TestApp) -> String {
    app.url.rsplit('/').next().unwrap().to_owned()
}

/// A `GET` of `url` with `app`'s token, answered with status and body text.
fn spawn_get(node: &TestServer, app: &TestApp, url: String) -> tokio::task::JoinHandle<(StatusCode, String)> {
    let (client, token) = (node.client.clone(), app.token.clone());
    tokio::spawn(async move {
        let resp = client.get(url).bearer_auth(token).send().await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    })
}

/// Commits a high-priority event on `node`, as a meeting transition there would.
async fn commit(node: &TestServer, app: &TestApp, tag: &str) {
    let event = NewEvent {
        app_id: app_id(app),
        priority: Priority::High,
        sender_rel: "communication".into(),
        sender_href: format!("{}/communication", app.url),
        body: json!({"link": {"rel": "conversation", "href": format!("/c/{tag}")}, "type": "updated"}),
        conversation: None,
    };
    node.store.append_events(vec![event], node.now_ms()).await.unwrap();
}

fn tags(batch: &str) -> Vec<String> {
    let batch: Value = serde_json::from_str(batch).unwrap();
    batch["sender"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["events"].as_array().cloned().unwrap_or_default())
        .map(|e| e["link"]["href"].as_str().unwrap().rsplit('/').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_newer_request_on_another_node_replaces_the_parked_one_unless_it_asked_for_less() {
    let Some(nodes) = TestServer::start_nodes(2, TestOptions::default()).await else { return };
    let (a, b) = (&nodes[0], &nodes[1]);
    let app = a.signed_in_app("sip:alice@example.com", "Alice").await;
    let older = spawn_get(a, &app, format!("{}&timeout=20", app.events_url));
    a.parked(&app).await;
    // The same request reaches the other node: the one parked on the first is released.
    let newer = spawn_get(b, &app, on(b, a, &format!("{}&timeout=20", app.events_url)));
    let (status, body) = older.await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["subcode"], "PGetReplaced");
    b.parked(&app).await;
    // A commit on the first node wakes the request parked on the second.
    commit(a, &app, "x").await;
    let (status, batch) = newer.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tags(&batch), ["x"]);

    // A request that asked for a higher priority keeps the channel against a lower one from
    // the other node.
    let next = serde_json::from_str::<Value>(&batch).unwrap()["_links"]["next"]["href"].as_str().unwrap().to_owned();
    let high = spawn_get(b, &app, b.at(&format!("{next}&timeout=20&priority=5")));
    b.parked(&app).await;
    let (status, body) = spawn_get(a, &app, a.at(&format!("{next}&priority=1"))).await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["subcode"], "PGetReplaced");
    commit(a, &app, "kept").await;
    assert_eq!(tags(&high.await.unwrap().1), ["kept"]);
}

#[tokio::test]
async fn the_same_ack_on_another_node_replays_the_batch_byte_for_byte() {
    let Some(nodes) = TestServer::start_nodes(2, TestOptions::default()).await else { return };
    let (a, b) = (&nodes[0], &nodes[1]);
    let app = a.signed_in_app("sip:alice@example.com", "Alice").await;
    commit(a, &app, "one").await;
    let (status, first) = spawn_get(a, &app, app.events_url.clone()).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tags(&first), ["one"]);
    // The answer was lost; the client asks the other node for the same batch.
    let (status, again) = spawn_get(b, &app, on(b, a, &app.events_url)).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first);
    // Asking for the next batch there acknowledges it; a later event comes next, once.
    commit(b, &app, "two").await;
    let next = serde_json::from_str::<Value>(&first).unwrap()["_links"]["next"]["href"].as_str().unwrap().to_owned();
    let (status, second) = spawn_get(b, &app, b.at(&next)).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tags(&second), ["two"]);
}

#[tokio::test]
async fn what_one_node_deletes_or_changes_the_other_sees_at_once() {
    let Some(nodes) = TestServer::start_nodes(2, TestOptions::default()).await else { return };
    let (a, b) = (&nodes[0], &nodes[1]);
    let app = a.signed_in_app("sip:alice@example.com", "Alice").await;
    // A meeting the second node has read (and cached) is changed through the first.
    let meetings = on(a, a, &format!("{}/onlineMeetings/myOnlineMeetings", app.url));
    let created = a.call(Method::POST, &meetings, &app.token, Some(json!({"subject": "Before"}))).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let meeting: Value = created.json().await.unwrap();
    let href = meeting["_links"]["self"]["href"].as_str().unwrap().to_owned();
    let read = |node: &TestServer| {
        let (node, url, token) = (node.client.clone(), node.at(&href), app.token.clone());
        async move { node.get(url).bearer_auth(token).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(read(b).await["subject"], "Before");
    let current = a.call(Method::GET, &href, &app.token, None).await;
    let etag = current.headers()["etag"].to_str().unwrap().to_owned();
    let mut changed: Value = current.json().await.unwrap();
    changed["subject"] = json!("After");
    let put =
        a.client.put(a.at(&href)).bearer_auth(&app.token).header("if-match", etag).json(&changed).send().await.unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    assert_eq!(read(b).await["subject"], "After", "the second node does not serve its stale copy");
    // The application, read through the second node, is deleted through the first.
    assert_eq!(b.call(Method::GET, &on(b, a, &app.url), &app.token, None).await.status(), StatusCode::OK);
    assert_eq!(a.call(Method::DELETE, &app.url, &app.token, None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(b.call(Method::GET, &on(b, a, &app.url), &app.token, None).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_application_parked_on_one_node_is_not_expired_by_the_other() {
    let mut options = TestOptions::default();
    options.limits.application_idle_secs = 60;
    let Some(nodes) = TestServer::start_nodes(2, options).await else { return };
    let (a, b) = (&nodes[0], &nodes[1]);
    let idle = a.signed_in_app("sip:alice@example.com", "Alice").await;
    let busy = a.signed_in_app("sip:bob@example.com", "Bob").await;
    // Bob's request parks on the second node for ten minutes; the first node's housekeeping
    // cannot see it in its own table of parked requests.
    let parked = spawn_get(b, &busy, on(b, a, &format!("{}&timeout=600", busy.events_url)));
    b.parked(&busy).await;
    a.advance(Duration::from_secs(90)).await;
    b.housekeeping_settled().await;
    assert_eq!(a.call(Method::GET, &idle.url, &idle.token, None).await.status(), StatusCode::GONE);
    assert_eq!(a.call(Method::GET, &busy.url, &busy.token, None).await.status(), StatusCode::OK);
    assert!(!parked.is_finished());
    // Once the request has returned (at its timeout, 600 s after it parked), the application
    // idles like any other.
    a.advance(Duration::from_secs(510)).await;
    assert_eq!(parked.await.unwrap().0, StatusCode::OK);
    a.advance(Duration::from_secs(90)).await;
    b.housekeeping_settled().await;
    assert_eq!(a.call(Method::GET, &busy.url, &busy.token, None).await.status(), StatusCode::GONE);
}

#[tokio::test]
async fn failed_sign_ins_count_against_one_limit_on_every_node() {
    let mut options = TestOptions::default();
    options.limits.signin_attempts_per_minute = 4;
    let Some(nodes) = TestServer::start_nodes(2, options).await else { return };
    let (a, b) = (&nodes[0], &nodes[1]);
    a.add_user("sip:alice@example.com", "Alice", "right").await;
    let attempt = |node: &TestServer, password: &'static str| {
        let (client, url) = (node.client.clone(), node.at("/WebTicket/oauthtoken"));
        async move {
            let form = [("grant_type", "password"), ("username", "alice@example.com"), ("password", password)];
            client.post(url).form(&form).send().await.unwrap().status()
        }
    };
    for node in [a, b, a, b] {
        assert_eq!(attempt(node, "wrong").await, StatusCode::BAD_REQUEST);
    }
    // Four failures, two per node: both nodes refuse now, even the right password.
    assert_eq!(attempt(a, "right").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(attempt(b, "right").await, StatusCode::TOO_MANY_REQUESTS);
    a.advance(Duration::from_secs(61)).await;
    assert_eq!(attempt(b, "right").await, StatusCode::OK);
}

/// Two copies of one join (the same `operationId`) reach the two nodes at the same moment,
/// ten times over: each pair starts one invitation, and both copies answer with its Location
/// (the store refuses the second session, and the node that lost finds the first).
#[tokio::test]
async fn identical_joins_on_two_nodes_at_once_start_one_operation() {
    let Some(nodes) = TestServer::start_nodes(2, TestOptions::default()).await else { return };
    let (a, b) = (&nodes[0], &nodes[1]);
    let alice = a.signed_in_app("sip:alice@example.com", "Alice").await;
    let meetings = format!("{}/onlineMeetings/myOnlineMeetings", alice.url);
    let meeting: Value = a.call(Method::POST, &meetings, &alice.token, Some(json!({}))).await.json().await.unwrap();
    let join = format!("{}/communication/onlineMeetingInvitations", alice.url);
    let mut stream = EventStream::new(&alice);
    let post = |node: &TestServer, body: Value| {
        let (client, url, token) = (node.client.clone(), on(node, a, &join), alice.token.clone());
        async move {
            let resp = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::CREATED);
            resp.headers()["location"].to_str().unwrap().to_owned()
        }
    };
    for round in 0..10 {
        let body = json!({"onlineMeetingUri": meeting["onlineMeetingUri"], "operationId": format!("op-{round}")});
        let (first, second) = tokio::join!(post(a, body.clone()), post(b, body));
        assert_eq!(first, second, "round {round}: both copies answer with the one operation");
    }
    let events = stream.drain(a).await;
    let started = events.iter().filter(|e| e["link"]["rel"] == "onlineMeetingInvitation" && e["type"] == "started");
    assert_eq!(started.count(), 10, "one invitation per operationId");
}

/// A node runs a command on its copy of a meeting without checking it while no other node
/// has been seen writing the meeting. Here the other node has: Bob joins the lobby through
/// the second node after Alice's commands went through the first, so the first node's copy
/// has no Bob. Alice's admit through the first node still admits him (a command the copy
/// refuses is decided on a checked copy), and the next admit there, of Carol who joined
/// through the second node too, works as well.
#[tokio::test]
async fn a_command_on_one_node_finds_what_the_other_node_just_changed() {
    let Some(nodes) = TestServer::start_nodes(2, TestOptions::default()).await else { return };
    let (a, b) = (&nodes[0], &nodes[1]);
    let alice = a.signed_in_app("sip:alice@example.com", "Alice").await;
    let meetings = format!("{}/onlineMeetings/myOnlineMeetings", alice.url);
    let body = json!({"subject": "Stand-up", "accessLevel": "Locked"});
    let meeting: Value = a.call(Method::POST, &meetings, &alice.token, Some(body)).await.json().await.unwrap();
    let uri = meeting["onlineMeetingUri"].clone();
    let join = |node: &TestServer, app: &TestApp, operation: &str| {
        let url = on(node, a, &format!("{}/communication/onlineMeetingInvitations", app.url));
        let (client, token) = (node.client.clone(), app.token.clone());
        let body = json!({"onlineMeetingUri": uri, "operationId": operation});
        async move {
            let resp = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::CREATED);
        }
    };
    let completed = |e: &Value| e["type"] == "completed" && e["link"]["rel"] == "onlineMeetingInvitation";
    let mut alice_events = EventStream::new(&alice);
    join(a, &alice, "op-alice").await;
    alice_events.until(a, Duration::from_secs(10), completed).await;

    for (uri, name) in [("sip:bob@example.com", "Bob"), ("sip:carol@example.com", "Carol")] {
        let attendee = b.signed_in_app(uri, name).await;
        let mut attendee_events = EventStream::new(&attendee);
        join(b, &attendee, "op-join").await;
        let in_lobby = |e: &Value| e["in"]["rel"] == "lobby" && e["type"] == "added";
        let seen = alice_events.until(a, Duration::from_secs(10), in_lobby).await;
        let added = seen.iter().find(|e| in_lobby(e)).unwrap();
        let admit = added["_embedded"]["participant"]["_links"]["admit"]["href"].as_str().unwrap();
        let resp = a.call(Method::POST, &on(a, a, admit), &alice.token, None).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{name}'s admit through the first node");
        let got = attendee_events.until(b, Duration::from_secs(10), completed).await;
        assert_eq!(got.iter().find(|e| completed(e)).unwrap()["status"], "Success", "{name} is admitted");
    }
}
