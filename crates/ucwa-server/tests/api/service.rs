//! The Trusted Application API
//! (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/newconcepts>,
//! <https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/webhooks>,
//! <https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/anonymousmeetingjoin>):
//! service applications discover, create ad hoc meetings, join them trusted or impersonating,
//! hand anonymous guests `psat` tokens, admit them, and receive every event as a signed,
//! ordered, retried callback on a real HTTP receiver.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_core::service::hmac_sha256;
use ucwa_server::config::Limits;
use ucwa_testkit::{CallbackReceiver, EventStream, Recorded, TestApp, TestOptions, TestServer, events_of, fixture};

use crate::join::join;
use crate::metrics;

const WAIT: Duration = Duration::from_secs(15);
const BOT: &str = "sip:bot@contoso.com";
const SECRET: &str = "bot-client-secret-0123456789";

/// A signed-in service application.
struct Bot {
    token: String,
    key: String,
    /// The application resource.
    app: Value,
}

impl Bot {
    fn link(&self, rel: &str) -> String {
        find_href(&self.app, rel).unwrap_or_else(|| panic!("no {rel} in {:#}", self.app))
    }
}

/// The href of `rel` in a resource's links or embedded resources' links.
fn find_href(resource: &Value, rel: &str) -> Option<String> {
    if let Some(h) = resource["_links"][rel]["href"].as_str() {
        return Some(h.to_owned());
    }
    if let Some(h) = resource["_embedded"][rel]["_links"]["self"]["href"].as_str() {
        return Some(h.to_owned());
    }
    resource["_embedded"].as_object()?.values().find_map(|r| find_href(r, rel))
}

fn strip_bom(s: &str) -> &str {
    s.trim_start_matches('\u{feff}')
}

fn recorded(path: &str) -> Value {
    serde_json::from_str(strip_bom(&fixture(path))).expect("recorded JSON")
}

async fn sign_in_bot(server: &TestServer, callback_url: Option<&str>) -> Bot {
    let key = server.add_service_app(BOT, "Help Desk Bot", SECRET, callback_url).await;
    let token = server.service_token(BOT, SECRET).await.expect("client credentials");
    let discover = get_ok(server, "/platformservice/discover", &token).await;
    let applications = discover["_links"]["ms:rtc:saas:applications"]["href"].as_str().unwrap().to_owned();
    let listing = get_ok(server, &format!("{applications}?endpointId={BOT}"), &token).await;
    let app_href = listing["_links"]["ms:rtc:saas:application"]["href"].as_str().unwrap().to_owned();
    let app = get_ok(server, &app_href, &token).await;
    Bot { token, key, app }
}

async fn get_ok(server: &TestServer, url: &str, token: &str) -> Value {
    let resp = server.call(Method::GET, url, token, None).await;
    assert_eq!(resp.status(), StatusCode::OK, "GET {url}");
    resp.json().await.unwrap()
}

async fn post(server: &TestServer, url: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let resp = server.call(Method::POST, url, token, Some(body)).await;
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn create_adhoc(server: &TestServer, bot: &Bot, body: Value) -> Value {
    let (status, meeting) = post(server, &bot.link("ms:rtc:saas:adhocMeetings"), &bot.token, body).await;
    assert_eq!(status, StatusCode::OK, "{meeting}");
    meeting
}

/// The bot's trusted join through the meeting's `joinAdhocMeeting` link.
async fn trusted_join(server: &TestServer, bot: &Bot, meeting: &Value, body: Value) -> reqwest::Response {
    let href = meeting["_links"]["ms:rtc:saas:joinAdhocMeeting"]["href"].as_str().unwrap();
    server.call(Method::POST, href, &bot.token, Some(body)).await
}

/// Every event of the accepted callbacks, in order.
fn callback_events(batches: &[Recorded]) -> Vec<Value> {
    batches.iter().flat_map(|b| events_of(&b.json())).collect()
}

fn is_completed(e: &Value) -> bool {
    e["type"] == "completed"
}

fn has(batches: &[Recorded], pred: impl Fn(&Value) -> bool) -> bool {
    callback_events(batches).iter().any(pred)
}

/// An href in the embedded resources of the events (capability links are found, not built).
fn link_in(events: &[Value], rel: &str) -> Option<String> {
    events.iter().rev().find_map(|e| e["_embedded"].as_object()?.values().find_map(|r| find_href(r, rel)))
}

/// Verifies `X-OpenUCWA-Signature: t=..,v1=..` the way the README tells receivers to.
fn verify_signature(key: &str, r: &Recorded) -> bool {
    let Some(header) = r.header("x-openucwa-signature") else { return false };
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(&r.body);
    let expected = hex::encode(hmac_sha256(key.as_bytes(), &message));
    let fresh = t.parse::<i64>().is_ok_and(|t| (now_secs() - t).abs() < 300);
    expected == v1 && fresh
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Every href in a JSON document.
fn hrefs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "href" {
                    out.extend(x.as_str().map(str::to_owned));
                } else {
                    hrefs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| hrefs(x, out)),
        _ => {}
    }
}

/// Every rel used as a key or `rel` value, for namespace checks.
fn rels(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "_links" || k == "_embedded" {
                    if let Some(o) = x.as_object() {
                        out.extend(o.keys().cloned());
                    }
                } else if k == "rel" {
                    out.extend(x.as_str().map(str::to_owned));
                }
                rels(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| rels(x, out)),
        _ => {}
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// The recorded service rels that are not prefixed.
const BARE: &[&str] = &["self", "next", "myOnlineMeetings", "applications", "customContent", "myApplications"];

fn assert_saas(v: &Value) {
    let mut found = BTreeSet::new();
    rels(v, &mut found);
    for rel in found {
        assert!(rel.starts_with("ms:rtc:saas:") || BARE.contains(&rel.as_str()), "bare rel {rel} in {v:#}");
    }
}

fn assert_endpoint_everywhere(v: &Value) {
    let mut all = Vec::new();
    hrefs(v, &mut all);
    for href in all.iter().filter(|h| !h.starts_with("data:") && !h.contains("/platformservice/discover")) {
        if href.contains("/platformservice/v1/applications/") {
            assert!(href.contains(&format!("endpointId={BOT}")), "{href} lacks endpointId");
        }
    }
}

#[tokio::test]
async fn discovery_application_and_recorded_shapes() {
    let server = TestServer::start().await;
    let bot = sign_in_bot(&server, None).await;

    let discover = get_ok(&server, "/platformservice/discover", &bot.token).await;
    assert_eq!(keys(&discover["_links"]), keys(&recorded("tap-recorded/resources/Discover.json")["_links"]));
    assert_eq!(discover["rel"], "ms:rtc:saas:discover");

    // Applications: another endpoint is 403 ApplicationNotFound; the link carries endpointId.
    let (status, body) = {
        let resp = server
            .call(Method::GET, "/platformservice/v1/applications?endpointId=sip:other@contoso.com", &bot.token, None)
            .await;
        (resp.status(), resp.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["subcode"], "ApplicationNotFound");
    let listing = get_ok(&server, &format!("/platformservice/v1/applications?endpointId={BOT}"), &bot.token).await;
    let want = recorded("tap-recorded/resources/Applications.json");
    assert_eq!(keys(&listing), keys(&want));
    assert_eq!(keys(&listing["_links"]), keys(&want["_links"]));
    assert_eq!(listing["rel"], want["rel"]);

    // The application, as recorded (audio/video capabilities aside: media is out of scope).
    let want = recorded("tap-recorded/resources/Application.json");
    assert_eq!(keys(&bot.app), keys(&want));
    assert_eq!(keys(&bot.app["_links"]), keys(&want["_links"]));
    assert_eq!(keys(&bot.app["_embedded"]), keys(&want["_embedded"]));
    for (name, resource) in want["_embedded"].as_object().unwrap() {
        let mut want_links = keys(&resource["_links"]);
        want_links.retain(|l| !l.contains("startAudio"));
        assert_eq!(keys(&bot.app["_embedded"][name]["_links"]), want_links, "{name}");
        assert_eq!(bot.app["_embedded"][name]["rel"], resource["rel"]);
    }
    assert_eq!(bot.app["rel"], "ms:rtc:saas:application");
    assert_saas(&bot.app);
    assert_endpoint_everywhere(&bot.app);

    // GET again returns the same logical application; a user token cannot reach it.
    let listing2 = get_ok(&server, &format!("/platformservice/v1/applications?endpointId={BOT}"), &bot.token).await;
    assert_eq!(listing2, listing);
    let user = server.signed_in_app("sip:alice@contoso.com", "Alice").await;
    let resp = server.call(Method::GET, &bot.link("self"), &user.token, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.headers().contains_key("x-ms-correlation-id") && resp.headers().contains_key("x-ms-server-fqdn"));

    // A wrong secret is refused; the CLI's listing knows the endpoint.
    assert!(server.service_token(BOT, "wrong-secret-0123456789").await.is_err());
    let listed = ucwa_core::Store::list_service_apps(server.store.as_ref()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_ne!(listed[0].secret_hash, SECRET);
}

#[tokio::test]
async fn adhoc_meeting_trusted_join_and_signed_ordered_callbacks() {
    let server = TestServer::start().await;
    let receiver = CallbackReceiver::start().await;
    let bot = sign_in_bot(&server, None).await;
    let meeting = create_adhoc(&server, &bot, json!({"subject": "Help", "accessLevel": "Locked"})).await;

    let want = recorded("tap-recorded/resources/AdhocMeeting.json");
    assert_eq!(keys(&meeting), keys(&want), "{meeting:#}");
    assert_eq!(keys(&meeting["_links"]), keys(&want["_links"]));
    assert_eq!(meeting["rel"], "ms:rtc:saas:adhocMeeting");
    assert!(meeting["expirationTime"].as_str().unwrap().starts_with("/Date("));
    let join_href = meeting["_links"]["ms:rtc:saas:joinAdhocMeeting"]["href"].as_str().unwrap();
    assert!(join_href.contains("confUrl=sip:") && join_href.contains(&format!("endpointId={BOT}")));
    assert_endpoint_everywhere(&meeting);

    receiver.answer(200, Some(json!({"CallbackContext": "ctx-2"})));
    let callback_url = format!("{}?callbackContext=ctx-1", receiver.url);
    let resp =
        trusted_join(&server, &bot, &meeting, json!({"operationId": "op-bot", "callbackUrl": callback_url})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let invitation = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(invitation.contains(&format!("endpointId={BOT}")));

    let batches = receiver.wait_for(WAIT, |b| has(b, is_completed)).await;
    let events = callback_events(&batches);
    let trace = ucwa_testkit::trace(&events);
    assert_eq!(
        trace,
        [
            "ms:rtc:saas:communication ms:rtc:saas:onlineMeetingInvitation started Connecting",
            "ms:rtc:saas:communication ms:rtc:saas:conversation added Connecting",
            "ms:rtc:saas:conversation ms:rtc:saas:localParticipant added",
            "ms:rtc:saas:communication ms:rtc:saas:conversation updated Conferencing",
            "ms:rtc:saas:communication ms:rtc:saas:conversation updated Conferenced",
            "ms:rtc:saas:conversation ms:rtc:saas:onlineMeeting added",
            "ms:rtc:saas:conversation ms:rtc:saas:localParticipant added",
            "ms:rtc:saas:communication ms:rtc:saas:onlineMeetingInvitation completed Connected",
        ]
    );
    let started = &events[0]["_embedded"]["ms:rtc:saas:onlineMeetingInvitation"];
    assert_eq!(started["operationId"], "op-bot");
    assert_eq!(events.last().unwrap()["_embedded"]["ms:rtc:saas:onlineMeetingInvitation"]["operationId"], "op-bot");
    // The started event has the recorded shape.
    let want = recorded("tap-recorded/events/Event_OnlineMeetingInvitationStarted.json");
    let want_inv = &want["sender"][0]["events"][0]["_embedded"]["ms:rtc:saas:onlineMeetingInvitation"];
    assert!(keys(want_inv).is_subset(&keys(started)), "{started:#}");
    assert_eq!(keys(&batches[0].json()), keys(&want));

    // Headers, signature, context round trip: the first batch carries the client's context,
    // later ones the context the receiver answered.
    let first = &batches[0];
    assert_eq!(
        first.header("content-type"),
        Some(r#"application/json; type="application/vnd.microsoft.com.ucwa+json"; charset=utf-8"#)
    );
    assert!(first.header("x-ms-correlation-id").is_some());
    assert!(first.uri.contains("callbackContext=ctx-1"), "{}", first.uri);
    assert!(batches.iter().all(|b| verify_signature(&bot.key, b)));
    let mut tampered = first.clone();
    tampered.body.push(b' ');
    assert!(!verify_signature(&bot.key, &tampered));
    assert!(!verify_signature("whsec_wrong", first));
    assert!(first.json()["baseuri"].as_str().unwrap().starts_with("http://"));
    for b in &batches {
        assert_saas(&b.json());
        assert_endpoint_everywhere(&b.json());
    }
    // Heartbeat first (reachability), then events; the heartbeat is signed too.
    let all = receiver.requests();
    assert!(all[0].is_heartbeat() && verify_signature(&bot.key, &all[0]));

    // A user joins the Locked meeting and waits; the hidden bot leads, sees the lobby and
    // admits programmatically.
    let alice = server.signed_in_app("sip:alice@fabrikam.com", "Alice").await;
    let mut alice_events = EventStream::new(&alice);
    let uri = meeting["onlineMeetingUri"].as_str().unwrap();
    join(&server, &alice, json!({"onlineMeetingUri": uri, "operationId": "op-a"})).await;
    let batches = receiver.wait_for(WAIT, |b| has(b, |e| e["in"]["rel"] == "ms:rtc:saas:lobby")).await;
    let later = batches.iter().skip(1).collect::<Vec<_>>();
    assert!(
        later.iter().all(|b| b.uri.contains("callbackContext=ctx-2") && !b.uri.contains("ctx-1")),
        "{:?}",
        later.iter().map(|b| &b.uri).collect::<Vec<_>>()
    );
    let admit = link_in(&callback_events(&batches), "ms:rtc:saas:admit").expect("an admit link");
    let resp = server.call(Method::POST, &admit, &bot.token, None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let got = alice_events.until(&server, WAIT, |e| e["type"] == "completed").await;
    assert_eq!(got.last().unwrap()["status"], "Success");
    // Alice never sees the hidden bot in her roster.
    assert!(!alice_events.seen.iter().any(|e| e["_embedded"]["participant"]["uri"] == BOT));
    receiver.wait_for(WAIT, |b| has(b, |e| e["type"] == "added" && e["in"]["rel"] == "ms:rtc:saas:attendees")).await;
}

#[tokio::test]
async fn impersonated_join_appears_as_that_identity_and_follows_its_lobby_policy() {
    let server = TestServer::start().await;
    let receiver = CallbackReceiver::start().await;
    let bot = sign_in_bot(&server, Some(&receiver.url)).await;
    let meeting = create_adhoc(
        &server,
        &bot,
        json!({"subject": "Advice", "accessLevel": "Invited", "leaders": ["sip:alice@fabrikam.com"]}),
    )
    .await;
    // The trusted bot (default callback URL of the endpoint) leads.
    let resp = trusted_join(&server, &bot, &meeting, json!({"operationId": "op-lead"})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    receiver.wait_for(WAIT, |b| has(b, is_completed)).await;
    // Alice is a listed leader: she enters directly.
    let alice = server.signed_in_app("sip:alice@fabrikam.com", "Alice").await;
    let mut alice_events = EventStream::new(&alice);
    let uri = meeting["onlineMeetingUri"].as_str().unwrap().to_owned();
    join(&server, &alice, json!({"onlineMeetingUri": uri, "operationId": "op-a"})).await;
    alice_events.until(&server, WAIT, is_completed).await;

    // The bot joins a second time as a customer who is not invited: the customer waits.
    let join_href = bot.link("ms:rtc:saas:joinOnlineMeeting");
    let body = json!({
        "operationId": "op-imp", "onlineMeetingUri": uri, "localParticipantUri": "sip:customer@example.org",
        "localParticipantDisplayName": "Customer Carla", "localParticipantType": "Default",
        "customContent": "ticket 42", "subject": "Mortgage", "importance": "Urgent", "threadId": "t-1",
    });
    let resp = server.call(Method::POST, &join_href, &bot.token, Some(body)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let invitation = resp.headers()["location"].to_str().unwrap().to_owned();
    let inv = get_ok(&server, &invitation, &bot.token).await;
    assert_eq!(inv["rel"], "ms:rtc:saas:onlineMeetingInvitation");
    assert_eq!(inv["localParticipantUri"], "sip:customer@example.org");
    assert_eq!(inv["localParticipantDisplayName"], "Customer Carla");
    assert_eq!(inv["localParticipantType"], "Default");
    assert_eq!(inv["operationId"], "op-imp");
    assert_eq!(inv["importance"], "Urgent");
    assert_eq!(inv["threadId"], "t-1");
    assert_eq!(inv["state"], "Connecting");
    let content = inv["_links"]["customContent"]["href"].as_str().unwrap();
    assert_eq!(ucwa_proto::encode::decode_data_uri(content).unwrap().1, "ticket 42");
    assert_saas(&inv);

    // The trusted bot's conversation sees the customer in the lobby and admits them.
    let batches = receiver
        .wait_for(WAIT, |b| has(b, |e| e["in"]["rel"] == "ms:rtc:saas:lobby" && e["link"]["title"] == "Customer Carla"))
        .await;
    let admit = link_in(&callback_events(&batches), "ms:rtc:saas:admit").expect("admit");
    assert_eq!(server.call(Method::POST, &admit, &bot.token, None).await.status(), StatusCode::NO_CONTENT);
    // Alice's roster shows the impersonated identity.
    let got = alice_events
        .until(&server, WAIT, |e| {
            e["type"] == "added" && e["_embedded"]["participant"]["uri"] == "sip:customer@example.org"
        })
        .await;
    let carla = &got.last().unwrap()["_embedded"]["participant"];
    assert_eq!(carla["name"], "Customer Carla");
    // Alice (a leader) ejects her; the bot's impersonated conversation ends.
    let eject = carla["_links"]["eject"]["href"].as_str().unwrap();
    assert_eq!(server.call(Method::POST, eject, &alice.token, None).await.status(), StatusCode::NO_CONTENT);
    receiver.wait_for(WAIT, |b| has(b, |e| e["type"] == "deleted" && e["reason"]["subcode"] == "Ejected")).await;
}

/// Bot leads a Locked meeting with callbacks; returns the bot and the meeting URI.
async fn bot_leading(server: &TestServer, receiver: &CallbackReceiver) -> (Bot, Value) {
    let bot = sign_in_bot(server, None).await;
    let meeting = create_adhoc(server, bot_ref(&bot), json!({"accessLevel": "Locked"})).await;
    let resp = trusted_join(server, &bot, &meeting, json!({"operationId": "op", "callbackUrl": receiver.url})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    receiver.wait_for(WAIT, |b| has(b, is_completed)).await;
    (bot, meeting)
}

fn bot_ref(bot: &Bot) -> &Bot {
    bot
}

/// Users joining the lobby one after the other: each is one `added in lobby` callback.
async fn lobby_joins(server: &TestServer, meeting: &Value, names: &[&str]) -> Vec<TestApp> {
    let uri = meeting["onlineMeetingUri"].as_str().unwrap();
    let mut apps = Vec::new();
    for name in names {
        let app = server.signed_in_app(&format!("sip:{name}@fabrikam.com"), name).await;
        join(server, &app, json!({"onlineMeetingUri": uri, "operationId": format!("op-{name}")})).await;
        apps.push(app);
    }
    apps
}

fn lobby_titles(batches: &[Recorded]) -> Vec<String> {
    callback_events(batches)
        .iter()
        .filter(|e| e["type"] == "added" && e["in"]["rel"] == "ms:rtc:saas:lobby")
        .map(|e| e["link"]["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Callback retries after `base_ms`, then at most every second.
fn quick_retries(base_ms: u64) -> Limits {
    Limits { callback_retry_base_ms: base_ms, callback_retry_max_secs: 1, ..TestOptions::default().limits }
}

#[tokio::test]
async fn callbacks_are_retried_in_order_after_errors_and_a_stopped_receiver() {
    let server = TestServer::start_with(TestOptions { limits: quick_retries(50), ..TestOptions::default() }).await;
    let mut receiver = CallbackReceiver::start().await;
    let (_bot, meeting) = bot_leading(&server, &receiver).await;
    let refused = |r: &[Recorded]| r.iter().filter(|r| r.answered == 500).count();

    receiver.answer(500, None);
    lobby_joins(&server, &meeting, &["u1", "u2"]).await;
    receiver.wait_for_requests(WAIT, |r| refused(r) >= 1).await;
    // The retry waits for its backoff on the clock; moving past it sends it again.
    server.callbacks_settled().await;
    assert_eq!(refused(&receiver.requests()), 1, "no retry before the backoff has passed");
    server.advance(Duration::from_secs(1)).await;
    receiver.wait_for_requests(WAIT, |r| refused(r) >= 2).await;
    receiver.stop().await;
    lobby_joins(&server, &meeting, &["u3"]).await;
    // A delivery to the stopped receiver fails too.
    server.advance(Duration::from_secs(1)).await;
    server.callbacks_settled().await;
    receiver.answer(200, None);
    receiver.resume().await;
    server.advance(Duration::from_secs(1)).await;
    let batches = receiver.wait_for(WAIT, |b| lobby_titles(b).len() >= 3).await;
    assert_eq!(lobby_titles(&batches), ["u1", "u2", "u3"], "in order, each once");
    // The refused batch was sent again with the same events first.
    let refused: Vec<Value> = receiver.requests().iter().filter(|r| r.answered == 500).map(Recorded::json).collect();
    let first_refused = events_of(&refused[0]);
    let redelivered = callback_events(&batches[1..]);
    assert_eq!(redelivered[0]["link"], first_refused[0]["link"]);
    // Every attempt at a batch carries the same delivery id, `<conversation>.<ack>`, and the
    // same events (its end was pinned at the first attempt), so a receiver can drop repeats.
    let mut attempts: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for r in receiver.requests().iter().filter(|r| !r.is_heartbeat()) {
        let id = r.header("x-openucwa-delivery").expect("a delivery id").to_owned();
        let body = r.json();
        let self_href = body["_links"]["self"]["href"].as_str().unwrap().to_owned();
        let (conversation, ack) = id.rsplit_once('.').unwrap();
        assert!(self_href.contains(&format!("ack={ack}&")), "{id} names the batch {self_href}");
        assert!(self_href.contains(conversation), "{id} names the conversation of {self_href}");
        attempts.entry(id).or_default().push(Value::Array(events_of(&body)));
    }
    assert!(attempts.values().any(|a| a.len() >= 3), "the refused batch was attempted three times");
    for (id, tries) in &attempts {
        assert!(tries.windows(2).all(|t| t[0] == t[1]), "delivery {id} changed between attempts");
    }
}

#[tokio::test]
async fn undelivered_callbacks_survive_a_server_restart() {
    let server = TestServer::start_with(TestOptions { limits: quick_retries(50), ..TestOptions::default() }).await;
    let mut receiver = CallbackReceiver::start().await;
    let (_bot, meeting) = bot_leading(&server, &receiver).await;
    receiver.stop().await;
    lobby_joins(&server, &meeting, &["r1", "r2"]).await;
    server.callbacks_settled().await;
    let server = server.restart().await;
    receiver.resume().await;
    server.advance(Duration::from_secs(1)).await;
    let batches = receiver.wait_for(WAIT, |b| lobby_titles(b).len() >= 2).await;
    assert_eq!(lobby_titles(&batches), ["r1", "r2"]);
    drop(server);
}

#[tokio::test]
async fn giving_up_terminates_the_conversation_and_records_the_failure() {
    let limits = Limits { callback_max_attempts: 3, ..quick_retries(20) };
    let server = TestServer::start_with(TestOptions { limits, metrics: true, ..TestOptions::default() }).await;
    let receiver = CallbackReceiver::start().await;
    let (bot, meeting) = bot_leading(&server, &receiver).await;
    let conversation = link_in(&callback_events(&receiver.accepted()), "ms:rtc:saas:conversation").unwrap();
    receiver.answer(503, None);
    lobby_joins(&server, &meeting, &["g1"]).await;
    // Each second of clock time makes the next retry due.
    let mut failures = Vec::new();
    for _ in 0..5 {
        server.callbacks_settled().await;
        failures = ucwa_core::Store::callback_failures(server.store.as_ref()).await.unwrap();
        if !failures.is_empty() {
            break;
        }
        server.advance(Duration::from_secs(1)).await;
    }
    assert_eq!(failures.len(), 1, "gave up once");
    assert_eq!(failures[0].attempts, 3);
    assert!(failures[0].last_error.contains("503"));
    assert!(failures[0].dropped >= 1);
    assert_eq!(receiver.requests().iter().filter(|r| r.answered == 503).count(), 3);
    // The conversation was terminated.
    assert_eq!(server.call(Method::GET, &conversation, &bot.token, None).await.status(), StatusCode::NOT_FOUND);
    // The metrics count the endpoint's deliveries before, its three failures and the give-up.
    let page = server.metrics().await;
    let endpoint = [("endpoint", BOT)];
    let accepted = receiver.accepted().iter().filter(|r| !r.is_heartbeat()).count() as f64;
    assert_eq!(metrics::value(&page, "ucwa_callback_deliveries_total", &endpoint), accepted);
    assert_eq!(metrics::value(&page, "ucwa_callback_retries_total", &endpoint), 3.0);
    assert_eq!(metrics::value(&page, "ucwa_callback_give_ups_total", &endpoint), 1.0);
}

#[tokio::test]
async fn service_apps_may_long_poll_instead() {
    let server = TestServer::start().await;
    let bot = sign_in_bot(&server, None).await;
    let meeting = create_adhoc(&server, &bot, json!({})).await;
    let resp = trusted_join(&server, &bot, &meeting, json!({"operationId": "op-poll"})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let app_href = bot.link("self");
    let events_url = ucwa_server::urls::child(&app_href, "events?ack=1&timeout=1");
    let app = TestApp {
        token: bot.token.clone(),
        url: server.at(&app_href),
        events_url: server.at(&events_url),
        body: bot.app.clone(),
    };
    let mut stream = EventStream::new(&app);
    let got = stream.until(&server, WAIT, |e| e["type"] == "completed").await;
    assert_eq!(got[0]["link"]["rel"], "ms:rtc:saas:onlineMeetingInvitation");
    assert_eq!(got[0]["_embedded"]["ms:rtc:saas:onlineMeetingInvitation"]["operationId"], "op-poll");
    assert_eq!(got.last().unwrap()["_embedded"]["ms:rtc:saas:onlineMeetingInvitation"]["state"], "Connected");
    // The conversations collection speaks the service namespace too and keeps endpointId.
    let conversations = ucwa_server::urls::child(&app_href, "communication/conversations");
    let list: Value = server.call(Method::GET, &conversations, &bot.token, None).await.json().await.unwrap();
    assert_eq!(list["rel"], "ms:rtc:saas:conversations");
    let links = list["_links"]["ms:rtc:saas:conversation"].as_array().unwrap();
    assert_eq!(links.len(), 1);
    assert!(links[0]["href"].as_str().unwrap().contains("endpointId="), "{links:?}");
}

#[tokio::test]
async fn join_validation_and_unreachable_callbacks() {
    let server = TestServer::start().await;
    let mut receiver = CallbackReceiver::start().await;
    let bot = sign_in_bot(&server, None).await;
    let meeting = create_adhoc(&server, &bot, json!({})).await;
    let uri = meeting["onlineMeetingUri"].as_str().unwrap();
    let href = bot.link("ms:rtc:saas:joinOnlineMeeting");
    let long = |n: usize| "x".repeat(n);
    let cases = [
        (json!({"onlineMeetingUri": uri}), "operationId"),
        (json!({"onlineMeetingUri": uri, "operationId": long(51)}), "operationId"),
        (json!({"operationId": "o"}), "onlineMeetingUri"),
        (json!({"onlineMeetingUri": "sip:nobody@x.com", "operationId": "o"}), "onlineMeetingUri"),
        (json!({"onlineMeetingUri": uri, "operationId": "o", "callbackUrl": "/relative"}), "callbackUrl"),
        (
            json!({"onlineMeetingUri": uri, "operationId": "o", "callbackUrl": format!("http://h/{}", long(1020))}),
            "callbackUrl",
        ),
        (json!({"onlineMeetingUri": uri, "operationId": "o", "callbackContext": long(1025)}), "callbackContext"),
        (json!({"onlineMeetingUri": uri, "operationId": "o", "subject": long(251)}), "subject"),
        (json!({"onlineMeetingUri": uri, "operationId": "o", "threadId": long(251)}), "threadId"),
        (json!({"onlineMeetingUri": uri, "operationId": "o", "importance": "Loud"}), "importance"),
        (
            json!({"onlineMeetingUri": uri, "operationId": "o", "localParticipantDisplayName": long(251)}),
            "localParticipantDisplayName",
        ),
        (
            json!({"onlineMeetingUri": uri, "operationId": "o", "localParticipantUri": "not a uri"}),
            "localParticipantUri",
        ),
        (json!({"onlineMeetingUri": uri, "operationId": "o", "localParticipantType": "Boss"}), "localParticipantType"),
        (json!({"onlineMeetingUri": uri, "operationId": "o", "anonymousDisplayName": "A"}), "anonymousDisplayName"),
        (json!({"onlineMeetingUri": uri, "operationId": "o", "customContent": long(4097)}), "customContent"),
    ];
    for (body, field) in cases {
        let (status, err) = post(&server, &href, &bot.token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(err["subcode"], "ParameterValidationFailure");
        assert!(err["parameters"].get(field).is_some(), "{field} not named in {err}");
    }
    // Unknown meeting: 404 DestinationNotFound.
    let (status, err) = post(
        &server,
        &href,
        &bot.token,
        json!({"operationId": "o", "onlineMeetingUri": "sip:bot@contoso.com;gruu;opaque=app:conf:focus:id:NOPE1234"}),
    )
    .await;
    assert_eq!((status, err["subcode"].as_str()), (StatusCode::NOT_FOUND, Some("DestinationNotFound")));
    // A callback URL nobody answers: 500 ServiceFailure / CallbackChannelError, nothing joined.
    let url = receiver.url.clone();
    receiver.stop().await;
    let (status, err) =
        post(&server, &href, &bot.token, json!({"operationId": "o", "onlineMeetingUri": uri, "callbackUrl": url}))
            .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!((err["code"].as_str(), err["subcode"].as_str()), (Some("ServiceFailure"), Some("CallbackChannelError")));
    // One that answers an error is not reachable either.
    receiver.resume().await;
    receiver.answer(404, None);
    let (status, _) = post(
        &server,
        &href,
        &bot.token,
        json!({"operationId": "o", "onlineMeetingUri": uri, "callbackUrl": receiver.url}),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let conversations =
        get_ok(&server, &ucwa_server::urls::child(&bot.link("self"), "communication/conversations"), &bot.token).await;
    assert!(conversations["_links"]["conversation"].as_array().is_none_or(Vec::is_empty), "{conversations}");
    // Other endpoints' hrefs: 403 ApplicationNotFound.
    let foreign = href.replace(BOT, "sip:other@contoso.com");
    let (status, err) = post(&server, &foreign, &bot.token, json!({"operationId": "o", "onlineMeetingUri": uri})).await;
    assert_eq!((status, err["subcode"].as_str()), (StatusCode::FORBIDDEN, Some("ApplicationNotFound")));
}

const ORIGIN: &str = "https://contoso.example";

async fn anon_token(server: &TestServer, bot: &Bot, body: Value) -> (StatusCode, Value) {
    post(server, &bot.link("ms:rtc:saas:anonApplicationTokens"), &bot.token, body).await
}

/// A request as the guest's browser sends it.
async fn guest_call(
    server: &TestServer,
    method: Method,
    url: &str,
    token: &str,
    origin: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = server
        .client
        .request(method, server.at(url))
        .header("Authorization", format!("Bearer {token}"))
        .header("Origin", origin);
    if let Some(b) = body {
        req = req.json(&b);
    }
    server.send(req).await
}

#[tokio::test]
async fn anonymous_guest_joins_with_a_psat_token_and_is_admitted() {
    let server = TestServer::start().await;
    let receiver = CallbackReceiver::start().await;
    let (bot, meeting) = bot_leading(&server, &receiver).await;
    let join_url = meeting["joinUrl"].as_str().unwrap();
    let (status, token) = anon_token(
        &server,
        &bot,
        json!({"applicationSessionId": "guest-1", "allowedOrigins": format!("{ORIGIN};https://litware.example"), "meetingUrl": join_url}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let want = recorded("tap-recorded/resources/AnonApplicationToken.json");
    assert_eq!(keys(&token), keys(&want));
    assert_eq!(keys(&token["_links"]), keys(&want["_links"]));
    assert_eq!(token["rel"], "ms:rtc:saas:anonApplicationToken");
    let psat = token["token"].as_str().unwrap().to_owned();
    assert!(psat.starts_with("psat="));
    let expiry: i64 =
        token["expiryTime"].as_str().unwrap().trim_start_matches("/Date(").trim_end_matches(")/").parse().unwrap();
    assert!((expiry / 1000 - now_secs() - 8 * 3600).abs() < 60, "8 hours");
    let discover_href = token["_links"]["ms:rtc:saas:discover"]["href"].as_str().unwrap();
    assert!(discover_href.contains("anonymousMeetingJoinContext=psat%253d"));

    // Discover from the allowed origin; another origin or none is refused.
    let resp = guest_call(&server, Method::GET, discover_href, &psat, ORIGIN, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let discover: Value = resp.json().await.unwrap();
    for link in ["ms:rtc:saas:applications", "myApplications", "applications", "anonApplications"] {
        assert!(discover["_links"][link]["href"].is_string(), "{link}");
    }
    assert_eq!(discover["onlineMeetingUri"], meeting["onlineMeetingUri"]);
    let resp = guest_call(&server, Method::GET, discover_href, &psat, "https://evil.example", None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = server.call(Method::GET, discover_href, &psat, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // The guest's application: bare rels under /ucwa/psanon/v1.
    let anon_apps = discover["_links"]["anonApplications"]["href"].as_str().unwrap();
    assert!(anon_apps.ends_with("/ucwa/psanon/v1/applications"));
    let body = json!({"AnonymousDisplayName": "John Doe", "UserAgent": "browser", "Culture": "en-us"});
    let resp = guest_call(&server, Method::POST, anon_apps, &psat, ORIGIN, Some(body.clone())).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let app: Value = resp.json().await.unwrap();
    assert_eq!(app["rel"], "application");
    assert_eq!(app["_embedded"]["me"]["name"], "John Doe");
    let mut all = Vec::new();
    hrefs(&app, &mut all);
    assert!(all.iter().all(|h| h.starts_with("/ucwa/psanon/v1/applications/")), "{all:?}");
    let mut found = BTreeSet::new();
    rels(&app, &mut found);
    assert!(found.iter().all(|r| !r.starts_with("ms:rtc:saas:")));
    let guest_uri = app["_embedded"]["me"]["uri"].as_str().unwrap().to_owned();

    // Join: the Locked meeting puts the guest in the lobby; the bot admits from its callback.
    let join_href = app["_embedded"]["communication"]["_links"]["joinOnlineMeeting"]["href"].as_str().unwrap();
    let uri = meeting["onlineMeetingUri"].as_str().unwrap();
    let without_name = guest_call(
        &server,
        Method::POST,
        join_href,
        &psat,
        ORIGIN,
        Some(json!({"onlineMeetingUri": uri, "operationId": "g"})),
    )
    .await;
    assert_eq!(without_name.status(), StatusCode::BAD_REQUEST);
    let other = create_adhoc(&server, &bot, json!({})).await;
    let elsewhere =
        json!({"onlineMeetingUri": other["onlineMeetingUri"], "operationId": "g", "anonymousDisplayName": "John Doe"});
    let resp = guest_call(&server, Method::POST, join_href, &psat, ORIGIN, Some(elsewhere)).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "a token for another meeting");
    let body = json!({"onlineMeetingUri": uri, "operationId": "g", "anonymousDisplayName": "John Doe"});
    let resp = guest_call(&server, Method::POST, join_href, &psat, ORIGIN, Some(body)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let batches = receiver.wait_for(WAIT, |b| has(b, |e| e["in"]["rel"] == "ms:rtc:saas:lobby")).await;
    let admit = link_in(&callback_events(&batches), "ms:rtc:saas:admit").unwrap();
    assert_eq!(server.call(Method::POST, &admit, &bot.token, None).await.status(), StatusCode::NO_CONTENT);
    let events_href = app["_links"]["events"]["href"].as_str().unwrap();
    let mut url = server.at(&format!("{events_href}&timeout=1"));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let resp = guest_call(&server, Method::GET, &url, &psat, ORIGIN, None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let batch: Value = resp.json().await.unwrap();
        url = server.at(batch["_links"]["next"]["href"].as_str().unwrap());
        if events_of(&batch).iter().any(|e| e["type"] == "completed" && e["status"] == "Success") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the guest was never admitted");
    }

    // The same applicationSessionId rejoins as the same guest.
    let (_, again) = anon_token(
        &server,
        &bot,
        json!({"applicationSessionId": "guest-1", "allowedOrigins": ORIGIN, "meetingUrl": join_url}),
    )
    .await;
    let psat2 = again["token"].as_str().unwrap();
    let resp = guest_call(
        &server,
        Method::POST,
        anon_apps,
        psat2,
        ORIGIN,
        Some(json!({"anonymousDisplayName": "John Doe", "userAgent": "b", "culture": "en-us"})),
    )
    .await;
    let app2: Value = resp.json().await.unwrap();
    assert_eq!(app2["_embedded"]["me"]["uri"].as_str(), Some(guest_uri.as_str()));
    let (_, third) = anon_token(
        &server,
        &bot,
        json!({"applicationSessionId": "guest-2", "allowedOrigins": ORIGIN, "meetingUrl": join_url}),
    )
    .await;
    let resp = guest_call(
        &server,
        Method::POST,
        anon_apps,
        third["token"].as_str().unwrap(),
        ORIGIN,
        Some(json!({"anonymousDisplayName": "Jane", "userAgent": "b", "culture": "en-us"})),
    )
    .await;
    let app3: Value = resp.json().await.unwrap();
    assert_ne!(app3["_embedded"]["me"]["uri"].as_str(), Some(guest_uri.as_str()));
}

#[tokio::test]
async fn anon_token_validation() {
    let server = TestServer::start().await;
    let bot = sign_in_bot(&server, None).await;
    let meeting = create_adhoc(&server, &bot, json!({})).await;
    let join_url = meeting["joinUrl"].as_str().unwrap();
    let uri = meeting["onlineMeetingUri"].as_str().unwrap();
    let cases = [
        (json!({"meetingUrl": uri}), "meetingUrl"),
        (json!({}), "meetingUrl"),
        (json!({"meetingUrl": format!("{join_url}?{}", "x".repeat(1024))}), "meetingUrl"),
        (json!({"meetingUrl": join_url, "applicationSessionId": "s".repeat(101)}), "applicationSessionId"),
        (json!({"meetingUrl": join_url, "allowedOrigins": "http://contoso.example"}), "allowedOrigins"),
        (json!({"meetingUrl": join_url, "allowedOrigins": "https://contoso.example/path"}), "allowedOrigins"),
        (
            json!({"meetingUrl": join_url, "allowedOrigins": format!("https://{}.example", "a".repeat(500))}),
            "allowedOrigins",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = anon_token(&server, &bot, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(err["parameters"].get(field).is_some(), "{field} not named in {err}");
    }
    let (status, err) =
        anon_token(&server, &bot, json!({"meetingUrl": format!("{}/meet/x/NOPE1234", server.url)})).await;
    assert_eq!((status, err["subcode"].as_str()), (StatusCode::NOT_FOUND, Some("DestinationNotFound")));
    // Only service applications mint them.
    let user = server.signed_in_app("sip:alice@contoso.com", "Alice").await;
    let resp = server.call(Method::GET, "/platformservice/discover", &user.token, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_receiver_down_for_a_minute_gets_every_callback_in_order_and_signed() {
    // Retries every second at most: a minute down is about sixty failed attempts.
    let limits = Limits { callback_max_attempts: 1000, ..quick_retries(1000) };
    let server = TestServer::start_with(TestOptions { limits, ..TestOptions::default() }).await;
    let mut receiver = CallbackReceiver::start().await;
    let (bot, meeting) = bot_leading(&server, &receiver).await;
    receiver.stop().await;
    lobby_joins(&server, &meeting, &["d1", "d2", "d3"]).await;
    for _ in 0..30 {
        server.advance(Duration::from_secs(2)).await;
        server.callbacks_settled().await;
    }
    receiver.resume().await;
    server.advance(Duration::from_secs(2)).await;
    let batches = receiver.wait_for(WAIT, |b| lobby_titles(b).len() >= 3).await;
    assert_eq!(lobby_titles(&batches), ["d1", "d2", "d3"], "in order, each once");
    assert!(batches.iter().all(|b| verify_signature(&bot.key, b)), "every callback is signed");
}
