//! Wire compatibility with what Microsoft's servers sent (issue 10): one test per item,
//! asserting the recorded or documented shape through HTTP. Each item's sources (reference
//! pages, recorded traffic) are cited in `docs/compatibility.md`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_proto::encode::decode_data_uri;
use ucwa_testkit::{EventStream, TestApp, TestServer, trace};

use crate::invite::{WAIT, available, completed, embedded, href, second_app};
use crate::join::{create_meeting, join};

/// GETs `url` as `app`; status and JSON body (`Null` when there is none).
async fn get(server: &TestServer, app: &TestApp, url: &str) -> (StatusCode, Value) {
    let resp = server.call(Method::GET, url, &app.token, None).await;
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// POSTs `body` (JSON, or nothing) to `url` as `app`; status and JSON body.
async fn post(server: &TestServer, app: &TestApp, url: &str, body: Option<Value>) -> (StatusCode, Value) {
    let resp = server.call(Method::POST, url, &app.token, body).await;
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// POSTs `body` to `url` as `app` and expects 400 naming `parameter`.
async fn post_refused(server: &TestServer, app: &TestApp, url: &str, body: Value, parameter: &str) {
    let (status, answer) = post(server, app, url, Some(body.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(answer["parameters"][parameter].is_string(), "{body}: {answer}");
}

/// POSTs a raw text body (a message).
async fn post_text(server: &TestServer, app: &TestApp, url: &str, text: &str) -> reqwest::Response {
    server
        .client
        .post(server.at(url))
        .bearer_auth(&app.token)
        .header("content-type", "text/plain")
        .body(text.to_owned())
        .send()
        .await
        .unwrap()
}

fn ends_with(href: &str, tail: &str) -> bool {
    href.split('?').next().is_some_and(|path| path.ends_with(tail))
}

/// An href `rel` of `resource`, or "" when absent (for asserting on absence and shape).
fn link(resource: &Value, rel: &str) -> String {
    resource["_links"][rel]["href"].as_str().unwrap_or_default().to_owned()
}

/// Alice calls Bob (`startMessaging`, operationId `call-1`); Bob's first application accepts.
/// Both conversations are Connected with messaging; every event so far is drained.
struct Chat {
    server: TestServer,
    alice: EventStream,
    bob: EventStream,
    /// Bob's incoming invitation as it started.
    bob_invitation: Value,
    /// Alice's own invitation as it started.
    alice_invitation: Value,
    alice_messaging: Value,
    bob_messaging: Value,
}

async fn alice_calls_bob(server: TestServer) -> Chat {
    let alice_app = available(&server, server.signed_in_app("sip:alice@example.com", "Alice").await).await;
    let bob_app = available(&server, server.signed_in_app("sip:bob@example.com", "Bob").await).await;
    let (mut alice, mut bob) = (EventStream::new(&alice_app), EventStream::new(&bob_app));
    alice.drain(&server).await;
    bob.drain(&server).await;
    let start = href(&alice_app.body["_embedded"]["communication"], "startMessaging");
    let body = json!({"to": "sip:bob@example.com", "operationId": "call-1", "subject": "Lunch?",
                      "message": "data:text/plain;charset=utf-8,Hi+Bob%0d%0a"});
    let (status, _) = post(&server, &alice_app, &start, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED);
    let rang = bob.until(&server, WAIT, |e| e["link"]["rel"] == "messagingInvitation").await;
    let bob_invitation = embedded(&rang, "messagingInvitation", "started").clone();
    let (status, _) = post(&server, &bob_app, &href(&bob_invitation, "accept"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let got = alice.until(&server, WAIT, completed("messagingInvitation")).await;
    let alice_invitation = embedded(&got, "messagingInvitation", "started").clone();
    bob.until(&server, WAIT, completed("messagingInvitation")).await;
    let alice_messaging = connected_messaging(&alice.seen);
    let bob_messaging = connected_messaging(&bob.seen);
    alice.drain(&server).await;
    bob.drain(&server).await;
    Chat { server, alice, bob, bob_invitation, alice_invitation, alice_messaging, bob_messaging }
}

/// The last Connected messaging resource among `events`.
fn connected_messaging(events: &[Value]) -> Value {
    events
        .iter()
        .rev()
        .map(|e| &e["_embedded"]["messaging"])
        .find(|m| m["state"] == "Connected")
        .unwrap_or_else(|| panic!("no Connected messaging in {:#?}", trace(events)))
        .clone()
}

fn incoming_message(e: &Value) -> bool {
    e["link"]["rel"] == "message" && e["_embedded"]["message"]["direction"] == "Incoming"
}

/// Bob writes `text` to Alice; returns the embedded message of Alice's event.
async fn bob_writes(chat: &mut Chat, text: &str) -> Value {
    let send = href(&chat.bob_messaging, "sendMessage");
    assert_eq!(post_text(&chat.server, &chat.bob.app, &send, text).await.status(), StatusCode::CREATED);
    let got = chat.alice.until(&chat.server, WAIT, incoming_message).await;
    got.last().unwrap()["_embedded"]["message"].clone()
}

// 1. myOnlineMeetings embeds the meetings (`myonlinemeetings_ref`).

#[tokio::test]
async fn my_online_meetings_embeds_every_meeting() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let bob = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let collection = format!("{}/onlineMeetings/myOnlineMeetings", alice.url);
    let first = create_meeting(&server, &alice, json!({"subject": "One"})).await;
    let second = create_meeting(&server, &alice, json!({"subject": "Two", "accessLevel": "Locked"})).await;
    let (status, list) = get(&server, &alice, &collection).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["rel"], "myOnlineMeetings");
    let embedded = list["_embedded"]["myOnlineMeeting"].as_array().expect("_embedded.myOnlineMeeting is an array");
    assert_eq!(embedded.len(), 2, "{list:#}");
    for meeting in [&first, &second] {
        let item = embedded.iter().find(|m| link(m, "self") == meeting.href).expect("every meeting is embedded");
        let (_, own) = get(&server, &alice, &meeting.href).await;
        assert_eq!(item, &own, "each embedded meeting is what its own GET answers");
        assert_eq!(item["rel"], "myOnlineMeeting");
    }
    // The documented link stays.
    assert_eq!(list["_links"]["myOnlineMeeting"].as_array().map(Vec::len), Some(2));
    // Someone without meetings gets an empty array, not a missing key.
    let (_, empty) = get(&server, &bob, &format!("{}/onlineMeetings/myOnlineMeetings", bob.url)).await;
    assert_eq!(empty["_embedded"]["myOnlineMeeting"], json!([]));
}

// 2. A received message links its sender's contact (`receiveanim` step 16).

#[tokio::test]
async fn received_message_links_the_senders_contact() {
    let mut chat = alice_calls_bob(TestServer::start().await).await;
    let message = bob_writes(&mut chat, "hello").await;
    let contact = link(&message, "contact");
    assert!(ends_with(&contact, "/people/bob@example.com"), "{message:#}");
    let (status, body) = get(&chat.server, &chat.alice.app, &contact).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["rel"], "contact");
    assert_eq!(body["uri"], "sip:bob@example.com");
    assert_eq!(body["name"], "Bob");
    assert_eq!(body["type"], "User");
    assert!(ends_with(&link(&body, "contactPresence"), "/people/bob@example.com/presence"), "{body:#}");
    // Recorded on every remote participant: contact, contactPresence, contactPhoto.
    let (_, bob_seen) = get(&chat.server, &chat.alice.app, &link(&message, "participant")).await;
    assert_eq!(link(&bob_seen, "contact"), contact);
    assert!(ends_with(&link(&bob_seen, "contactPhoto"), "/photos/bob@example.com"), "{bob_seen:#}");
    // Nobody else's people are reachable through Alice's application.
    let (status, _) = get(&chat.server, &chat.bob.app, &contact).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// 3. Doubled slashes are collapsed before routing (IIS did; a published bot relies on it).

#[tokio::test]
async fn doubled_slashes_are_collapsed() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let path = app.body["_links"]["self"]["href"].as_str().unwrap().to_owned();
    // `root + "/" + href`, as the bot builds it.
    let doubled = format!("{}/{path}", server.url);
    let (status, body) = get(&server, &app, &doubled).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, get(&server, &app, &path).await.1);
    let (status, _) = post(&server, &app, &format!("{}/{}//me//makeMeAvailable", server.url, path), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let events = app.body["_links"]["events"]["href"].as_str().unwrap();
    let url = format!("{}/{events}&timeout=1", server.url);
    let (status, batch) = server.events_within(&app, &url, std::time::Duration::from_secs(1)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(batch["_links"]["next"]["href"].is_string(), "{batch:#}");
    let root = server.client.get(format!("{}//autodiscover/autodiscoverservice.svc/root", server.url)).send().await;
    assert_eq!(root.unwrap().status(), StatusCode::OK);
}

// 4. POSTing text to a received message's `self` href replies in the same conversation.

#[tokio::test]
async fn posting_text_to_a_received_message_replies() {
    let mut chat = alice_calls_bob(TestServer::start().await).await;
    let message = bob_writes(&mut chat, "ping").await;
    let own = link(&message, "self");
    let resp = post_text(&chat.server, &chat.alice.app, &own, "pong").await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let messages = href(&chat.alice_messaging, "sendMessage");
    assert!(location.starts_with(&messages) && location != own, "{location} is a new message of {messages}");
    let got = chat.bob.until(&chat.server, WAIT, incoming_message).await;
    let links = &got.last().unwrap()["_embedded"]["message"]["_links"];
    let (mime, text) = decode_data_uri(links["plainMessage"]["href"].as_str().unwrap()).unwrap();
    assert_eq!((mime.as_str(), text.as_str()), ("text/plain", "pong"));
    // Bob cannot post through Alice's application.
    assert_eq!(post_text(&chat.server, &chat.bob.app, &own, "x").await.status(), StatusCode::NOT_FOUND);
}

// 5. Typing (`setistyping_ref`, `typingparticipants_ref`; recorded links in `receiveanim`).

#[tokio::test]
async fn typing_is_announced_to_the_other_party() {
    let mut chat = alice_calls_bob(TestServer::start().await).await;
    let server = &chat.server;
    let messaging = href(&chat.alice_messaging, "self");
    let typing = link(&chat.alice_messaging, "setIsTyping");
    assert_eq!(typing, format!("{messaging}/typing"), "{:#}", chat.alice_messaging);
    assert_eq!(link(&chat.alice_messaging, "typingParticipants"), format!("{messaging}/typingParticipants"));

    let (status, _) = post(server, &chat.alice.app, &typing, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let got = chat.bob.until(server, WAIT, |e| e["in"]["rel"] == "typingParticipants").await;
    let added = got.last().unwrap();
    assert_eq!(added["type"], "added");
    assert_eq!(added["sender"], "conversation");
    assert_eq!(added["link"]["rel"], "participant");
    assert_eq!(added["link"]["title"], "Alice");
    assert!(ends_with(added["link"]["href"].as_str().unwrap(), "/participants/alice@example.com"), "{added:#}");
    assert!(ends_with(added["in"]["href"].as_str().unwrap(), "/messaging/typingParticipants"), "{added:#}");
    let (status, view) = get(server, &chat.bob.app, added["in"]["href"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["_embedded"]["participant"][0]["uri"], "sip:alice@example.com");
    // Typing again inside the window says nothing new; Alice herself hears nothing.
    post(server, &chat.alice.app, &typing, None).await;
    assert!(chat.bob.drain(server).await.iter().all(|e| e["in"]["rel"] != "typingParticipants"));
    assert!(chat.alice.drain(server).await.iter().all(|e| e["in"]["rel"] != "typingParticipants"));
    // Sending the message ends the typing.
    let send = href(&chat.alice_messaging, "sendMessage");
    post_text(server, &chat.alice.app, &send, "done").await;
    let got = chat.bob.until(server, WAIT, incoming_message).await;
    assert!(got.iter().any(|e| e["in"]["rel"] == "typingParticipants" && e["type"] == "deleted"), "{:#?}", trace(&got));
    // Without connected messaging it is a conflict.
    let stop = href(&chat.bob_messaging, "stopMessaging");
    post(server, &chat.bob.app, &stop, None).await;
    let bob_typing = link(&chat.bob_messaging, "setIsTyping");
    let (status, _) = post(server, &chat.bob.app, &bob_typing, None).await;
    assert!(status == StatusCode::CONFLICT || status == StatusCode::NOT_FOUND, "{status}");
}

#[tokio::test]
async fn typing_ends_when_not_renewed() {
    let mut chat = alice_calls_bob(TestServer::start().await).await;
    let server = &chat.server;
    let typing = link(&chat.alice_messaging, "setIsTyping");
    assert_eq!(post(server, &chat.alice.app, &typing, None).await.0, StatusCode::NO_CONTENT);
    chat.bob.until(server, WAIT, |e| e["in"]["rel"] == "typingParticipants" && e["type"] == "added").await;
    // Renewed within the window: still typing.
    server.advance(std::time::Duration::from_secs(6)).await;
    post(server, &chat.alice.app, &typing, None).await;
    server.advance(std::time::Duration::from_secs(6)).await;
    let view = link(&chat.bob_messaging, "typingParticipants");
    assert_eq!(get(server, &chat.bob.app, &view).await.1["_embedded"]["participant"].as_array().map(Vec::len), Some(1));
    assert!(chat.bob.drain(server).await.iter().all(|e| e["in"]["rel"] != "typingParticipants"));
    // Not renewed: it ends, and Bob is told.
    server.advance(std::time::Duration::from_secs(5)).await;
    let got = chat.bob.until(server, WAIT, |e| e["in"]["rel"] == "typingParticipants").await;
    assert_eq!(
        trace(std::slice::from_ref(got.last().unwrap())),
        ["conversation participant deleted in typingParticipants"]
    );
    assert_eq!(get(server, &chat.bob.app, &view).await.1["_embedded"]["participant"], json!([]));
}

// 6. `POST {application}/reportMyActivity` (`me_ref` sample, `reportmyactivity_ref`).

#[tokio::test]
async fn application_level_report_my_activity() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    for url in [format!("{}/reportMyActivity", app.url), format!("{}/me/reportMyActivity", app.url)] {
        let (status, body) = post(&server, &app, &url, None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{url}");
        assert_eq!(body["subcode"], "MakeMeAvailableRequired", "{url}: {body}");
    }
    let app = available(&server, app).await;
    for url in [format!("{}/reportMyActivity", app.url), format!("{}/me/reportMyActivity", app.url)] {
        assert_eq!(post(&server, &app, &url, None).await.0, StatusCode::NO_CONTENT, "{url}");
    }
}

// 7. Admission is announced with a second localParticipant `added` (`localparticipant_ref`,
//    Added: "Other added events for the same participant indicate that the user has been
//    admitted to the conference ..."). This is what the server does; the test pins it.

#[tokio::test]
async fn admission_is_a_second_local_participant_added() {
    let server = TestServer::start().await;
    let alice_app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let bob_app = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let meeting = create_meeting(&server, &alice_app, json!({"accessLevel": "Locked"})).await;
    let (mut alice, mut bob) = (EventStream::new(&alice_app), EventStream::new(&bob_app));
    join(&server, &alice_app, json!({"onlineMeetingUri": meeting.uri})).await;
    alice.until(&server, WAIT, completed("onlineMeetingInvitation")).await;
    join(&server, &bob_app, json!({"onlineMeetingUri": meeting.uri})).await;
    bob.until(&server, WAIT, |e| e["_embedded"]["conversation"]["state"] == "InLobby").await;
    let seen = alice.until(&server, WAIT, |e| e["in"]["rel"] == "lobby").await;
    let admit = href(&seen.last().unwrap()["_embedded"]["participant"], "admit");
    assert_eq!(post(&server, &alice_app, &admit, None).await.0, StatusCode::NO_CONTENT);
    bob.until(&server, WAIT, completed("onlineMeetingInvitation")).await;

    let local: Vec<&Value> = bob.seen.iter().filter(|e| e["link"]["rel"] == "localParticipant").collect();
    let kinds: Vec<&str> = local.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["added", "added"], "{:#?}", trace(&bob.seen));
    assert_eq!(local[0]["link"]["href"], local[1]["link"]["href"]);
    assert_eq!(local[0]["_embedded"]["localParticipant"]["inLobby"], true);
    assert_eq!(local[1]["_embedded"]["localParticipant"]["inLobby"], false);
    // The second comes once the conversation is Conferenced.
    let lines = trace(&bob.seen);
    let conferenced = lines.iter().position(|l| l == "communication conversation updated Conferenced").unwrap();
    let second = lines.iter().rposition(|l| l == "conversation localParticipant added").unwrap();
    assert!(conferenced < second, "{lines:#?}");
}

// 8. Participant hrefs name the person (`receiveanim`; TAP `Event_IncomingIMCall.json`).

#[tokio::test]
async fn participant_hrefs_use_the_sip_address() {
    let chat = alice_calls_bob(TestServer::start().await).await;
    let server = &chat.server;
    let local = chat.alice.seen.iter().find(|e| e["link"]["rel"] == "localParticipant").unwrap();
    let local_href = local["link"]["href"].as_str().unwrap();
    assert!(ends_with(local_href, "/participants/alice@example.com"), "{local_href}");
    let remote = chat.alice.seen.iter().find(|e| e["link"]["rel"] == "participant").unwrap();
    let remote_href = remote["link"]["href"].as_str().unwrap();
    assert!(ends_with(remote_href, "/participants/bob@example.com"), "{remote_href}");
    let (status, bob_seen) = get(server, &chat.alice.app, remote_href).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bob_seen["uri"], "sip:bob@example.com");
    let (status, me) = get(server, &chat.alice.app, local_href).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["uri"], "sip:alice@example.com");
    assert!(ends_with(&link(&me, "me"), "/me"), "the local participant links `me`, as recorded: {me:#}");
    // The incoming invitation's `from` uses the same scheme.
    assert!(ends_with(&link(&chat.bob_invitation["_embedded"]["from"], "self"), "/participants/alice@example.com"));
    // Hrefs of the earlier scheme (the session id) keep answering.
    let bob_session = link(&chat.bob_invitation, "conversation").rsplit('/').next().unwrap().to_owned();
    let old = remote_href.replace("bob@example.com", &bob_session);
    let (status, body) = get(server, &chat.alice.app, &old).await;
    assert_eq!((status, body["uri"].as_str()), (StatusCode::OK, Some("sip:bob@example.com")), "{old}");
}

#[tokio::test]
async fn anonymous_guests_are_named_by_their_generated_address() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meeting = create_meeting(&server, &alice, json!({"accessLevel": "Everyone"})).await;
    let mut events = EventStream::new(&alice);
    join(&server, &alice, json!({"onlineMeetingUri": meeting.uri})).await;
    events.until(&server, WAIT, completed("onlineMeetingInvitation")).await;
    let guest = crate::anonymous::guest_app(&server, &meeting).await;
    join(&server, &guest, json!({"onlineMeetingUri": meeting.uri, "anonymousDisplayName": "Visitor"})).await;
    let got = events.until(&server, WAIT, |e| e["link"]["rel"] == "participant" && e["type"] == "added").await;
    let added = got.last().unwrap();
    let uri = added["_embedded"]["participant"]["uri"].as_str().unwrap();
    let address = uri.strip_prefix("sip:").unwrap();
    assert!(address.ends_with("@anonymous.invalid"), "{uri}");
    assert!(ends_with(added["link"]["href"].as_str().unwrap(), &format!("/participants/{address}")), "{added:#}");
    let (status, _) = get(&server, &alice, added["link"]["href"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

// 9. Presence, note, location, phones, photo, contacts, search, subscriptions.

/// Alice signed in (not yet available) with a second application, and Bob and Carol signed in.
async fn people() -> (TestServer, TestApp, TestApp, TestApp) {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice Smith").await;
    let bob = available(&server, server.signed_in_app("sip:bob@example.com", "Bob Jones").await).await;
    let carol = available(&server, server.signed_in_app("sip:carol@example.com", "Carol Jones").await).await;
    (server, alice, bob, carol)
}

fn link_rels(resource: &Value) -> Vec<String> {
    resource["_links"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

#[tokio::test]
async fn me_links_follow_make_me_available() {
    let (server, alice, ..) = people().await;
    let me = &alice.body["_embedded"]["me"];
    assert_eq!(link_rels(me), ["self", "makeMeAvailable", "photo"]);
    assert!(ends_with(&link(me, "photo"), "/photos/alice@example.com"), "{me:#}");
    let alice = available(&server, alice).await;
    let (_, me) = get(&server, &alice, &format!("{}/me", alice.url)).await;
    assert_eq!(link_rels(&me), ["self", "note", "presence", "location", "reportMyActivity", "phones", "photo"]);
    assert!(ends_with(&link(&me, "presence"), "/me/presence"));
}

#[tokio::test]
async fn make_me_available_announces_presence_note_and_location() {
    let (server, alice, ..) = people().await;
    let mut events = EventStream::new(&alice);
    events.drain(&server).await;
    available(&server, alice).await;
    let got = events.until(&server, WAIT, |e| e["link"]["rel"] == "communication").await;
    assert_eq!(
        trace(&got),
        [
            "me me updated",
            "me presence added",
            "me note added",
            "me location added",
            "communication communication updated"
        ]
    );
}

#[tokio::test]
async fn presence_is_set_read_and_reset() {
    let (server, alice, ..) = people().await;
    let presence = format!("{}/me/presence", alice.url);
    let (status, body) = get(&server, &alice, &presence).await;
    assert_eq!((status, body["subcode"].as_str()), (StatusCode::CONFLICT, Some("MakeMeAvailableRequired")));
    let (status, _) = post(&server, &alice, &presence, Some(json!({"availability": "Busy"}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let alice = available(&server, alice).await;
    let (status, body) = get(&server, &alice, &presence).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["rel"].as_str(), body["availability"].as_str()), (Some("presence"), Some("Online")));
    assert!(ends_with(&link(&body, "self"), "/me/presence"));
    for (set, shown, activity) in
        [("Busy", "Busy", None), ("doNotDisturb", "DoNotDisturb", None), ("Offwork", "Away", Some("off-work"))]
    {
        let (status, _) = post(&server, &alice, &presence, Some(json!({"availability": set}))).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{set}");
        let (_, body) = get(&server, &alice, &presence).await;
        assert_eq!(body["availability"], shown, "{set}");
        assert_eq!(body["activity"].as_str(), activity, "{set}");
    }
    // An empty body resets (`presence_ref`).
    assert_eq!(post(&server, &alice, &presence, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(get(&server, &alice, &presence).await.1["availability"], "Online");
    post_refused(&server, &alice, &presence, json!({"availability": "Available"}), "availability").await;
}

#[tokio::test]
async fn presence_changes_reach_the_users_apps_and_subscribers() {
    let (server, alice, bob, carol) = people().await;
    let alice = available(&server, alice).await;
    let alice2 = second_app(&server, &alice, "alice-phone").await;
    let subscriptions = href(&bob.body["_embedded"]["people"], "presenceSubscriptions");
    let (status, _) =
        post(&server, &bob, &subscriptions, Some(json!({"duration": 30, "uris": ["sip:alice@example.com"]}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let (mut a2, mut b, mut c) = (EventStream::new(&alice2), EventStream::new(&bob), EventStream::new(&carol));
    for s in [&mut a2, &mut b, &mut c] {
        s.drain(&server).await;
    }
    let (status, _) =
        post(&server, &alice, &format!("{}/me/presence", alice.url), Some(json!({"availability": "Busy"}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let got = a2.until(&server, WAIT, |e| e["link"]["rel"] == "presence").await;
    assert_eq!(trace(&got).last().unwrap(), "me presence updated");
    let got = b.until(&server, WAIT, |e| e["link"]["rel"] == "contactPresence").await;
    let event = got.last().unwrap();
    assert_eq!(trace(std::slice::from_ref(event)), ["people contactPresence updated in contact"]);
    assert!(ends_with(event["in"]["href"].as_str().unwrap(), "/people/alice@example.com"), "{event:#}");
    let (_, seen) = get(&server, &bob, event["link"]["href"].as_str().unwrap()).await;
    assert_eq!((seen["rel"].as_str(), seen["availability"].as_str()), (Some("contactPresence"), Some("Busy")));
    assert!(c.drain(&server).await.iter().all(|e| e["link"]["rel"] != "contactPresence"));
    // Once none of Alice's applications is there, Bob reads Offline.
    for app in [&alice, &alice2] {
        assert_eq!(server.call(Method::DELETE, &app.url, &app.token, None).await.status(), StatusCode::NO_CONTENT);
    }
    b.until(&server, WAIT, |e| e["link"]["rel"] == "contactPresence").await;
    let (_, seen) = get(&server, &bob, event["link"]["href"].as_str().unwrap()).await;
    assert_eq!(seen["availability"], "Offline");
}

#[tokio::test]
async fn note_and_location_round_trip_and_notify() {
    let (server, alice, bob, _) = people().await;
    let alice = available(&server, alice).await;
    let subscriptions = href(&bob.body["_embedded"]["people"], "presenceSubscriptions");
    post(&server, &bob, &subscriptions, Some(json!({"duration": 10, "uris": ["sip:alice@example.com"]}))).await;
    let mut b = EventStream::new(&bob);
    b.drain(&server).await;
    let note = format!("{}/me/note", alice.url);
    assert_eq!(
        post(&server, &alice, &note, Some(json!({"message": "Heads down today"}))).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, body) = get(&server, &alice, &note).await;
    assert_eq!(
        (body["rel"].as_str(), body["message"].as_str(), body["type"].as_str()),
        (Some("note"), Some("Heads down today"), Some("Personal"))
    );
    let got = b.until(&server, WAIT, |e| e["link"]["rel"] == "contactNote").await;
    let (_, seen) = get(&server, &bob, got.last().unwrap()["link"]["href"].as_str().unwrap()).await;
    assert_eq!((seen["rel"].as_str(), seen["message"].as_str()), (Some("contactNote"), Some("Heads down today")));
    // A blank message resets.
    post(&server, &alice, &note, Some(json!({"message": ""}))).await;
    assert_eq!(get(&server, &alice, &note).await.1["message"], "");
    let location = format!("{}/me/location", alice.url);
    assert_eq!(
        post(&server, &alice, &location, Some(json!({"location": "By the beach"}))).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(get(&server, &alice, &location).await.1["location"], "By the beach");
    post_refused(&server, &alice, &location, json!({"location": "x".repeat(61)}), "location").await;
}

#[tokio::test]
async fn phones_and_photos() {
    let (server, alice, bob, _) = people().await;
    let alice = available(&server, alice).await;
    let (_, me) = get(&server, &alice, &format!("{}/me", alice.url)).await;
    let (status, phones) = get(&server, &alice, &link(&me, "phones")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((phones["rel"].as_str(), &phones["_embedded"]["phone"]), (Some("phones"), &json!([])));
    let (status, body) = get(&server, &alice, &link(&me, "photo")).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("NotFound")));
    let (_, contact) = get(&server, &bob, &format!("{}/people/alice@example.com", bob.url)).await;
    let (status, _) = get(&server, &bob, &link(&contact, "contactPhoto")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn contacts_and_search_list_the_servers_users() {
    let (server, alice, ..) = people().await;
    let people = &alice.body["_embedded"]["people"];
    let (status, contacts) = get(&server, &alice, &href(people, "myContacts")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(contacts["rel"], "myContacts");
    let uris: Vec<&str> =
        contacts["_embedded"]["contact"].as_array().unwrap().iter().map(|c| c["uri"].as_str().unwrap()).collect();
    assert_eq!(uris, ["sip:bob@example.com", "sip:carol@example.com"], "everyone but Alice, by name");
    let bob = &contacts["_embedded"]["contact"][0];
    assert_eq!(
        (bob["rel"].as_str(), bob["type"].as_str(), bob["name"].as_str()),
        (Some("contact"), Some("User"), Some("Bob Jones"))
    );
    assert!(ends_with(&link(bob, "self"), "/people/bob@example.com"));
    for rel in ["contactPresence", "contactNote", "contactLocation", "contactPhoto"] {
        assert!(!link(bob, rel).is_empty(), "{rel} in {bob:#}");
    }
    let search = href(people, "search");
    let found = |body: &Value| -> Vec<String> {
        body["_embedded"]["contact"].as_array().unwrap().iter().map(|c| c["uri"].as_str().unwrap().to_owned()).collect()
    };
    let (status, body) = get(&server, &alice, &format!("{search}?query=jones")).await;
    assert_eq!((status, body["rel"].as_str()), (StatusCode::OK, Some("search")));
    assert_eq!(found(&body), ["sip:bob@example.com", "sip:carol@example.com"]);
    assert_eq!(body["moreResultsAvailable"], false);
    let (_, body) = get(&server, &alice, &format!("{search}?query=carol@example.com")).await;
    assert_eq!(found(&body), ["sip:carol@example.com"]);
    let (_, body) = get(&server, &alice, &format!("{search}?query=sip:bob@")).await;
    assert_eq!(found(&body), ["sip:bob@example.com"]);
    let (_, body) = get(&server, &alice, &format!("{search}?query=jones&limit=1")).await;
    assert_eq!((found(&body).len(), &body["moreResultsAvailable"]), (1, &json!(true)));
    let (_, body) = get(&server, &alice, &format!("{search}?query=nobody")).await;
    assert_eq!(body["_embedded"]["contact"], json!([]));
    for bad in ["", "?query=", "?query=x&limit=0", "?query=x&limit=101"] {
        let (status, body) = get(&server, &alice, &format!("{search}{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _) = get(&server, &alice, &format!("{}/people/nobody@example.com", alice.url)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn presence_subscriptions_are_validated_listed_and_deleted() {
    let (server, alice, bob, carol) = people().await;
    let alice = available(&server, alice).await;
    let subscriptions = href(&bob.body["_embedded"]["people"], "presenceSubscriptions");
    for (bad, name) in [
        (json!({"duration": 5, "uris": ["sip:alice@example.com"]}), "duration"),
        (json!({"duration": 31, "uris": ["sip:alice@example.com"]}), "duration"),
        (json!({"duration": 10}), "uris"),
        (json!({"duration": 10, "uris": ["alice"]}), "uris"),
    ] {
        post_refused(&server, &bob, &subscriptions, bad, name).await;
    }
    let resp = server
        .call(
            Method::POST,
            &subscriptions,
            &bob.token,
            Some(json!({"duration": 15, "uris": ["sip:alice@example.com"]})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["rel"], "presenceSubscription");
    assert!(body["id"].is_string());
    assert!(location.ends_with(&link(&body, "self")), "{location} {body:#}");
    let (_, list) = get(&server, &bob, &subscriptions).await;
    assert_eq!(list["_embedded"]["presenceSubscription"].as_array().map(Vec::len), Some(1));
    // Another user cannot see or delete it.
    assert_eq!(get(&server, &carol, &location).await.0, StatusCode::NOT_FOUND);
    assert_eq!(server.call(Method::DELETE, &location, &carol.token, None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(server.call(Method::DELETE, &location, &bob.token, None).await.status(), StatusCode::NO_CONTENT);
    let mut b = EventStream::new(&bob);
    b.drain(&server).await;
    post(&server, &alice, &format!("{}/me/presence", alice.url), Some(json!({"availability": "Away"}))).await;
    assert!(b.drain(&server).await.iter().all(|e| e["link"]["rel"] != "contactPresence"));
}

#[tokio::test]
async fn anonymous_guests_get_no_people() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meeting = create_meeting(&server, &alice, json!({"accessLevel": "Everyone"})).await;
    let guest = crate::anonymous::guest_app(&server, &meeting).await;
    // `presence_ref`: 409 MakeMeAvailableRequired "when the user has not made herself
    // available ... or is anonymous".
    let (status, body) = get(&server, &guest, &format!("{}/me/presence", guest.url)).await;
    assert_eq!((status, body["subcode"].as_str()), (StatusCode::CONFLICT, Some("MakeMeAvailableRequired")));
    for tail in ["/people/search?query=alice", "/people/contacts", "/people/alice@example.com", "/me/phones"] {
        let (status, body) = get(&server, &guest, &format!("{}{tail}", guest.url)).await;
        assert_eq!((status, body["subcode"].as_str()), (StatusCode::FORBIDDEN, Some("AnonymousNotAllowed")), "{tail}");
    }
    assert!(guest.body["_embedded"]["me"]["_links"].get("photo").is_none(), "guests have no photo");
}

// 10. Incoming invitations as recorded (`receiveanim` step 8).

#[tokio::test]
async fn incoming_messaging_invitation_matches_the_recording() {
    let chat = alice_calls_bob(TestServer::start().await).await;
    let incoming = &chat.bob_invitation;
    assert_eq!(incoming["direction"], "Incoming");
    assert!(incoming.get("operationId").is_none(), "recorded incoming invitations carry no operationId: {incoming:#}");
    assert!(ends_with(&link(incoming, "to"), "/people/bob@example.com"), "{incoming:#}");
    for rel in ["self", "conversation", "accept", "decline", "messaging", "message"] {
        assert!(!link(incoming, rel).is_empty(), "{rel} in {incoming:#}");
    }
    let from = &incoming["_embedded"]["from"];
    assert_eq!((from["rel"].as_str(), from["uri"].as_str()), (Some("participant"), Some("sip:alice@example.com")));
    assert_eq!((from["name"].as_str(), from["sourceNetwork"].as_str()), (Some("Alice"), Some("SameEnterprise")));
    assert_eq!(from["anonymous"], false);
    assert!(ends_with(&link(from, "contact"), "/people/alice@example.com"), "{from:#}");
    assert!(ends_with(&link(from, "contactPresence"), "/people/alice@example.com/presence"), "{from:#}");
    // The caller's own invitation keeps its operationId and links the callee.
    let outgoing = &chat.alice_invitation;
    assert_eq!(outgoing["operationId"], "call-1");
    assert!(ends_with(&link(outgoing, "to"), "/people/bob@example.com"), "{outgoing:#}");
    assert_eq!(outgoing["_links"]["from"]["title"], "Alice");
}

#[tokio::test]
async fn incoming_meeting_invitation_matches_the_recording() {
    let mut i = crate::invite::meeting_with_bob_outside(Default::default()).await;
    crate::invite::add_participant(&i, json!({"to": "sip:bob@example.com", "operationId": "add-bob"})).await;
    let got = i.bob1.until(&i.server, WAIT, |e| e["link"]["rel"] == "onlineMeetingInvitation").await;
    let incoming = embedded(&got, "onlineMeetingInvitation", "started");
    assert_eq!(incoming["direction"], "Incoming");
    assert!(incoming.get("operationId").is_none(), "{incoming:#}");
    assert!(ends_with(&link(incoming, "to"), "/people/bob@example.com"), "{incoming:#}");
    let from = &incoming["_embedded"]["from"];
    assert_eq!(from["uri"], "sip:alice@example.com");
    assert!(ends_with(&link(from, "contact"), "/people/alice@example.com"), "{from:#}");
    assert!(ends_with(&link(from, "self"), "/participants/alice@example.com"), "{from:#}");
}

// The typed wire model of ucwa-proto reads every presence and people payload strictly and
// writes it back unchanged (the model covers all they carry).

/// Reads `value` strictly as `T` and checks it writes back unchanged.
fn strictly<T: serde::de::DeserializeOwned + serde::Serialize>(what: &str, value: &Value) -> T {
    let typed: T = ucwa_proto::strict(|| serde_json::from_value(value.clone()))
        .unwrap_or_else(|e| panic!("{what}: {e}\n{value:#}"));
    assert_eq!(&serde_json::to_value(&typed).unwrap(), value, "{what}: the model does not cover all of it");
    typed
}

#[tokio::test]
async fn people_payloads_read_into_the_model() {
    use ucwa_proto::model::{
        Contact, Dashboard, EventBatch, Hal, Location, Me, Note, Presence, PresenceSubscription, Search,
    };
    let (server, alice, bob, _) = people().await;
    let alice = available(&server, alice).await;
    let mut bob_events = EventStream::new(&bob);
    bob_events.drain(&server).await;
    let subscriptions = href(&bob.body["_embedded"]["people"], "presenceSubscriptions");
    let resp = server
        .call(
            Method::POST,
            &subscriptions,
            &bob.token,
            Some(json!({"duration": 10, "uris": ["sip:alice@example.com"]})),
        )
        .await;
    let _: Hal<PresenceSubscription> = strictly("presenceSubscription", &resp.json().await.unwrap());
    let _: Hal<Dashboard> = strictly("presenceSubscriptions", &get(&server, &bob, &subscriptions).await.1);
    post(&server, &alice, &format!("{}/me/note", alice.url), Some(json!({"message": "Out to lunch"}))).await;
    let (_, me) = get(&server, &alice, &format!("{}/me", alice.url)).await;
    let me: Hal<Me> = strictly("me", &me);
    for (rel, url) in [
        ("presence", me.links.href(ucwa_proto::RelName::Presence)),
        ("note", me.links.href(ucwa_proto::RelName::Note)),
        ("location", me.links.href(ucwa_proto::RelName::Location)),
    ] {
        let (_, body) = get(&server, &alice, url.unwrap()).await;
        match rel {
            "presence" => drop(strictly::<Hal<Presence>>(rel, &body)),
            "note" => drop(strictly::<Hal<Note>>(rel, &body)),
            _ => drop(strictly::<Hal<Location>>(rel, &body)),
        }
    }
    let _: Hal<Dashboard> = strictly("phones", &get(&server, &alice, &format!("{}/me/phones", alice.url)).await.1);
    let contact: Hal<Contact> =
        strictly("contact", &get(&server, &bob, &format!("{}/people/alice@example.com", bob.url)).await.1);
    let _: Hal<Presence> = strictly(
        "contactPresence",
        &get(&server, &bob, contact.links.href(ucwa_proto::RelName::ContactPresence).unwrap()).await.1,
    );
    let _: Hal<Note> = strictly(
        "contactNote",
        &get(&server, &bob, contact.links.href(ucwa_proto::RelName::ContactNote).unwrap()).await.1,
    );
    let _: Hal<Location> = strictly(
        "contactLocation",
        &get(&server, &bob, contact.links.href(ucwa_proto::RelName::ContactLocation).unwrap()).await.1,
    );
    let _: Hal<Search> =
        strictly("search", &get(&server, &bob, &format!("{}/people/search?query=alice", bob.url)).await.1);
    let _: Hal<Dashboard> =
        strictly("myContacts", &get(&server, &bob, &format!("{}/people/contacts", bob.url)).await.1);
    // The contact events, in a whole batch.
    let url = format!("{}&timeout=1", bob.events_url);
    let (_, batch) = server.events_within(&bob, &url, std::time::Duration::from_secs(1)).await;
    let _: EventBatch = strictly("people events", &batch);
}
