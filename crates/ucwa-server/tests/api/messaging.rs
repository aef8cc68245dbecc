//! Messaging: in a meeting (`addMessaging`, `sendMessage`, `stopMessaging`) and person to
//! person (`startMessaging`, <https://learn.microsoft.com/en-us/skype-sdk/ucwa/sendanim>), with text and HTML round-tripping
//! through data URIs and the recorded payload shapes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_proto::encode::decode_data_uri;
use ucwa_testkit::{EventStream, TestApp, TestOptions, TestServer, trace};

use crate::invite::{WAIT, available, completed, embedded, event, href, meeting_with_bob_outside, second_app};
use crate::roster::{recorded, shape};

/// POSTs a raw message body; returns the response.
async fn send(server: &TestServer, app: &TestApp, url: &str, content_type: &str, text: &str) -> reqwest::Response {
    server
        .send(
            server
                .client
                .post(server.at(url))
                .bearer_auth(&app.token)
                .header("content-type", content_type)
                .body(text.as_bytes().to_vec()),
        )
        .await
}

/// GETs the messaging resource of a conversation.
async fn messaging_of(server: &TestServer, app: &TestApp, conversation: &Value) -> Value {
    server.call(Method::GET, &href(conversation, "messaging"), &app.token, None).await.json().await.unwrap()
}

/// The conversation a participant's events announced, and its messaging resource.
async fn conversation_and_messaging(server: &TestServer, who: &EventStream) -> (Value, Value) {
    let added = who.seen.iter().find(|e| e["link"]["rel"] == "conversation").unwrap();
    let conversation: Value = server
        .call(Method::GET, added["link"]["href"].as_str().unwrap(), &who.app.token, None)
        .await
        .json()
        .await
        .unwrap();
    let messaging = messaging_of(server, &who.app, &conversation).await;
    (conversation, messaging)
}

/// The text of an Incoming message event.
fn text_of(e: &Value) -> (String, String) {
    let links = &e["_embedded"]["message"]["_links"];
    let uri = links["plainMessage"]["href"].as_str().or(links["htmlMessage"]["href"].as_str()).unwrap();
    decode_data_uri(uri).unwrap()
}

fn incoming(e: &Value) -> bool {
    e["link"]["rel"] == "message" && e["_embedded"]["message"]["direction"] == "Incoming"
}

#[tokio::test]
async fn meeting_messages_reach_connected_participants_but_not_the_lobby() {
    let mut i = meeting_with_bob_outside(TestOptions::default()).await;
    let server = &i.server;
    // Bob joins by URI and waits in the Locked meeting's lobby.
    let uri = i.alice_conversation["_links"]["onlineMeeting"]["href"].as_str().unwrap().to_owned();
    let om: Value = server.call(Method::GET, &uri, &i.alice.app.token, None).await.json().await.unwrap();
    crate::join::join(server, &i.bob1.app, json!({"onlineMeetingUri": om["onlineMeetingUri"]})).await;
    i.bob1.until(server, WAIT, |e| e["_embedded"]["conversation"]["state"] == "InLobby").await;
    i.alice.drain(server).await;
    i.carol.drain(server).await;

    // Messaging is Disconnected with addMessaging; sending now is a conflict.
    let alice_messaging = messaging_of(server, &i.alice.app, &i.alice_conversation).await;
    assert_eq!(alice_messaging["state"], "Disconnected");
    let send_url = format!("{}/messages", href(&alice_messaging, "self"));
    assert_eq!(send(server, &i.alice.app, &send_url, "text/plain", "too early").await.status(), StatusCode::CONFLICT);
    let add = href(&alice_messaging, "addMessaging");
    let resp = server.call(Method::POST, &add, &i.alice.app.token, Some(json!({"operationId": "im-a"}))).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let got = i.alice.until(server, WAIT, completed("messagingInvitation")).await;
    assert_eq!(
        trace(&got),
        [
            "communication messagingInvitation started Connecting",
            "conversation messaging updated Connecting",
            "conversation messaging updated Connected",
            "conversation participantMessaging added in localParticipant",
            "communication messagingInvitation completed Connected",
        ]
    );
    assert_eq!(got.last().unwrap()["status"], "Success");
    assert_eq!(got.last().unwrap()["_embedded"]["messagingInvitation"]["operationId"], "im-a");
    let connected = &got.iter().rev().find(|e| e["link"]["rel"] == "messaging").unwrap()["_embedded"]["messaging"];
    assert_eq!(href(connected, "sendMessage"), send_url);
    assert!(href(connected, "stopMessaging").ends_with("/messaging/terminate"));
    // Carol adds messaging too; each learns of the other.
    let (carol_conv, carol_messaging) = conversation_and_messaging(server, &i.carol).await;
    let resp = server.call(Method::POST, &href(&carol_messaging, "addMessaging"), &i.carol.app.token, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // Again: already connected.
    let again = server.call(Method::POST, &href(&carol_messaging, "addMessaging"), &i.carol.app.token, None).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let carol_got = i.carol.until(server, WAIT, completed("messagingInvitation")).await;
    assert!(trace(&carol_got).contains(&"conversation participantMessaging added in participant".to_owned()));
    let alice_got = i.alice.until(server, WAIT, |e| e["link"]["rel"] == "participantMessaging").await;
    assert_eq!(alice_got.last().unwrap()["in"]["title"], "Carol");

    // HTML with non-ASCII text goes through as data.
    let html = "<p style=\"color:red\">Grüße & 你好 + 1</p><script>alert(1)</script>";
    let resp = send(server, &i.alice.app, &send_url, "text/html", html).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let got = i.carol.until(server, WAIT, incoming).await;
    let msg = got.last().unwrap();
    assert_eq!(trace(std::slice::from_ref(msg)), ["conversation message completed"]);
    assert_eq!(msg["status"], "Success");
    assert_eq!(text_of(msg), ("text/html".to_owned(), html.to_owned()));
    let data = href(&msg["_embedded"]["message"], "htmlMessage");
    assert!(data.starts_with("data:text/html;charset=utf-8,%3cp+style%3d%22color%3ared%22%3e"), "{data}");
    assert_eq!(msg["_embedded"]["message"]["_links"]["participant"]["title"], "Alice");
    let own = i.alice.until(server, WAIT, completed("message")).await;
    assert_eq!(trace(&own), ["conversation message started", "conversation message completed"]);
    assert!(own.iter().all(|e| e["_embedded"]["message"]["direction"] == "Outgoing"));
    assert!(location.ends_with(own[0]["link"]["href"].as_str().unwrap()));
    let got: Value = server.call(Method::GET, &location, &i.alice.app.token, None).await.json().await.unwrap();
    assert_eq!(got["direction"], "Outgoing");
    // The lobby gets nothing.
    assert!(i.bob1.drain(server).await.iter().all(|e| e["link"]["rel"] != "message"));
    // Carol stops messaging: Alice is told, and Carol no longer receives.
    let carol_messaging = messaging_of(server, &i.carol.app, &carol_conv).await;
    let stop = href(&carol_messaging, "stopMessaging");
    assert_eq!(server.call(Method::POST, &stop, &i.carol.app.token, None).await.status(), StatusCode::NO_CONTENT);
    let alice_got = i.alice.until(server, WAIT, |e| e["type"] == "deleted").await;
    assert_eq!(trace(&alice_got).last().unwrap(), "conversation participantMessaging deleted in participant");
    assert_eq!(server.call(Method::POST, &stop, &i.carol.app.token, None).await.status(), StatusCode::CONFLICT);
    send(server, &i.alice.app, &send_url, "text/plain; charset=utf-8", "anyone?").await;
    i.alice.until(server, WAIT, completed("message")).await;
    assert!(i.carol.drain(server).await.iter().all(|e| e["link"]["rel"] != "message"));
}

/// A client that lost the answer to a `sendMessage` (a node died, the database was cut over)
/// sends it again with the same `operationId`: it gets the first message's Location, and
/// the others see the message once. Another `operationId` is another message.
#[tokio::test]
async fn a_retried_send_message_is_delivered_once() {
    let mut i = meeting_with_bob_outside(TestOptions::default()).await;
    let server = &i.server;
    let alice_messaging = messaging_of(server, &i.alice.app, &i.alice_conversation).await;
    let resp = server.call(Method::POST, &href(&alice_messaging, "addMessaging"), &i.alice.app.token, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    i.alice.until(server, WAIT, completed("messagingInvitation")).await;
    let (_, carol_messaging) = conversation_and_messaging(server, &i.carol).await;
    let resp = server.call(Method::POST, &href(&carol_messaging, "addMessaging"), &i.carol.app.token, None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    i.carol.until(server, WAIT, completed("messagingInvitation")).await;
    i.alice.drain(server).await;

    let send_url = format!("{}/messages", href(&alice_messaging, "self"));
    let once = format!("{send_url}?operationId=msg-1");
    let resp = send(server, &i.alice.app, &once, "text/plain", "hello").await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let first = resp.headers()["location"].to_str().unwrap().to_owned();
    // The retry, and one that changed its text: the first message stands.
    for text in ["hello", "hello again"] {
        let resp = send(server, &i.alice.app, &once, "text/plain", text).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(resp.headers()["location"].to_str().unwrap(), first);
    }
    let resp = send(server, &i.alice.app, &format!("{send_url}?operationId=msg-2"), "text/plain", "second").await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_ne!(resp.headers()["location"].to_str().unwrap(), first);

    // Two copies at once (on two nodes, when the suite runs on two): one message.
    let twice = format!("{send_url}?operationId=msg-3");
    let (a, b) = tokio::join!(
        send(server, &i.alice.app, &twice, "text/plain", "third"),
        send(server, &i.alice.app, &twice, "text/plain", "third")
    );
    assert_eq!((a.status(), b.status()), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(a.headers()["location"], b.headers()["location"]);
    let third = a.headers()["location"].to_str().unwrap().to_owned();

    let is_third = |e: &Value| incoming(e) && text_of(e).1 == "third";
    let got = i.carol.until(server, WAIT, is_third).await;
    let texts: Vec<String> = got.iter().filter(|e| incoming(e)).map(|e| text_of(e).1).collect();
    assert_eq!(texts, ["hello", "second", "third"]);
    // The sender's own: one `message` operation each (hrefs are relative, Locations absolute).
    let of_first = |e: &Value| first.ends_with(e["link"]["href"].as_str().unwrap_or("-"));
    let third_done = |e: &Value| completed("message")(e) && third.ends_with(e["link"]["href"].as_str().unwrap_or("-"));
    let own = i.alice.until(server, WAIT, third_done).await;
    let done: Vec<bool> = own.iter().filter(|e| completed("message")(e)).map(of_first).collect();
    assert_eq!(done, [true, false, false]);
    let kept: Value = server.call(Method::GET, &first, &i.alice.app.token, None).await.json().await.unwrap();
    assert_eq!(kept["operationId"], "msg-1");
}

#[tokio::test]
async fn send_message_validates_its_body() {
    let i = meeting_with_bob_outside(TestOptions::default()).await;
    let server = &i.server;
    let messaging = messaging_of(server, &i.alice.app, &i.alice_conversation).await;
    server.call(Method::POST, &href(&messaging, "addMessaging"), &i.alice.app.token, None).await;
    let url = format!("{}/messages", href(&messaging, "self"));
    assert_eq!(
        send(server, &i.alice.app, &url, "application/json", "{}").await.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        send(server, &i.alice.app, &url, "text/plain; charset=iso-8859-1", "x").await.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let resp = send(server, &i.alice.app, &url, "text/plain", "").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.json::<Value>().await.unwrap()["parameters"]["message"].is_string());
    let resp = server
        .send(
            server
                .client
                .post(server.at(&url))
                .bearer_auth(&i.alice.app.token)
                .header("content-type", "text/plain")
                .body(vec![0xff, 0xfe]),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = send(server, &i.alice.app, &format!("{url}?operationId={}", "o".repeat(51)), "text/plain", "x").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.json::<Value>().await.unwrap()["parameters"]["operationId"].is_string());
    let resp = send(server, &i.alice.app, &url, "text/plain", &"x".repeat(64 * 1024 + 1)).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(send(server, &i.alice.app, &url, "text/plain", "fine").await.status(), StatusCode::CREATED);
}

/// Bob calls Alice, who has two available applications.
struct Call {
    server: TestServer,
    alice1: EventStream,
    alice2: EventStream,
    bob: EventStream,
    location: String,
}

async fn bob_calls_alice(options: TestOptions, body: Value) -> Call {
    let server = TestServer::start_with(options).await;
    let alice1_app = available(&server, server.signed_in_app("sip:alice@example.com", "Alice").await).await;
    let alice2_app = second_app(&server, &alice1_app, "alice-phone").await;
    let bob_app = available(&server, server.signed_in_app("sip:bob@example.com", "Bob").await).await;
    let (mut alice1, mut alice2, mut bob) =
        (EventStream::new(&alice1_app), EventStream::new(&alice2_app), EventStream::new(&bob_app));
    for s in [&mut alice1, &mut alice2, &mut bob] {
        s.drain(&server).await;
    }
    let start = href(&bob_app.body["_embedded"]["communication"], "startMessaging");
    let resp = server.call(Method::POST, &start, &bob_app.token, Some(body)).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    Call { server, alice1, alice2, bob, location }
}

fn call_body() -> Value {
    json!({"to": "sip:alice@example.com", "operationId": "call-1", "subject": "Lunch?", "importance": "Urgent",
           "message": "data:text/plain;charset=utf-8,Hi+Alice%0d%0a"})
}

#[tokio::test]
async fn person_to_person_messaging_follows_the_documented_trace() {
    let Call { server, mut alice1, mut alice2, mut bob, location } =
        bob_calls_alice(TestOptions::default(), call_body()).await;
    let started = bob.until(&server, WAIT, |e| e["link"]["rel"] == "messaging").await;
    assert_eq!(
        trace(&started),
        [
            "communication messagingInvitation started Connecting",
            "communication conversation added Connecting",
            "conversation localParticipant added",
            "conversation messaging updated Connecting",
        ]
    );
    let outgoing = embedded(&started, "messagingInvitation", "started");
    assert_eq!(outgoing["direction"], "Outgoing");
    assert_eq!(outgoing["operationId"], "call-1");
    assert_eq!(outgoing["to"], "sip:alice@example.com");
    assert!(location.ends_with(&href(outgoing, "self")));
    // A call is a messagingInvitation: the same id is no onlineMeetingInvitation.
    let as_meeting_invitation = location.replace("/messagingInvitations/", "/onlineMeetingInvitations/");
    assert_eq!(
        server.call(Method::GET, &as_meeting_invitation, &bob.app.token, None).await.status(),
        StatusCode::NOT_FOUND
    );
    let mut incoming_invitations = Vec::new();
    for alice in [&mut alice1, &mut alice2] {
        let got = alice.until(&server, WAIT, |e| e["link"]["rel"] == "conversation").await;
        assert_eq!(
            trace(&got),
            ["communication messagingInvitation started Connecting", "communication conversation added Incoming"]
        );
        let inv = embedded(&got, "messagingInvitation", "started").clone();
        assert_eq!(inv["direction"], "Incoming");
        assert_eq!(inv["importance"], "Urgent");
        assert_eq!(inv["subject"], "Lunch?");
        assert_eq!(inv["_embedded"]["from"]["name"], "Bob");
        assert_eq!(decode_data_uri(&href(&inv, "message")).unwrap().1, "Hi Alice\r\n");
        let conv = embedded(&got, "conversation", "added");
        assert!(conv["threadId"].is_string());
        assert!(conv["_links"]["messaging"]["href"].is_string());
        incoming_invitations.push(inv);
    }
    // Alice answers on her first application: 204, and messaging works at once.
    let accept = href(&incoming_invitations[0], "accept");
    let resp = server.call(Method::POST, &accept, &alice1.app.token, Some(json!({}))).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let got = bob.until(&server, WAIT, completed("messagingInvitation")).await;
    assert_eq!(
        trace(&got),
        [
            "communication conversation updated Connected",
            "conversation participant added",
            "conversation participantMessaging added in participant",
            "conversation participantMessaging added in localParticipant",
            "conversation messaging updated Connected",
            "communication messagingInvitation completed Connected",
        ]
    );
    let done = got.last().unwrap();
    assert_eq!(done["status"], "Success");
    assert_eq!(done["_embedded"]["messagingInvitation"]["_embedded"]["acceptedByParticipant"][0]["name"], "Alice");
    let conv = embedded(&got, "conversation", "updated");
    for rel in ["localParticipant", "addParticipant", "messaging"] {
        assert!(conv["_links"][rel]["href"].is_string(), "{rel}");
    }
    let bob_send = href(&got[4]["_embedded"]["messaging"], "sendMessage");
    let alice_got = alice1.until(&server, WAIT, completed("messagingInvitation")).await;
    assert_eq!(
        trace(&alice_got),
        [
            "communication conversation updated Connected",
            "conversation localParticipant added",
            "conversation participant added",
            "conversation messaging updated Connected",
            "conversation participantMessaging added in participant",
            "conversation participantMessaging added in localParticipant",
            "communication messagingInvitation completed Connected",
        ]
    );
    let alice_send = href(&alice_got[3]["_embedded"]["messaging"], "sendMessage");
    let other = alice2.until(&server, WAIT, |e| e["type"] == "deleted").await;
    assert_eq!(event(&other, "messagingInvitation", "completed")["status"], "Failure");
    // Accept again: 409.
    assert_eq!(server.call(Method::POST, &accept, &alice1.app.token, None).await.status(), StatusCode::CONFLICT);

    // Messages both ways: plain text with '+', CRLF, non-ASCII and a NUL (which no text
    // column of PostgreSQL could keep) round-trips.
    let (alice_app, bob_app) = (alice1.app.clone(), bob.app.clone());
    for (from, url, to, text) in [
        (&bob_app, &bob_send, &mut alice1, "1 + 1 = 2\r\nçà va? 👋"),
        (&alice_app, &alice_send, &mut bob, "echo: 100% sûr\u{0}"),
    ] {
        assert_eq!(send(&server, from, url, "text/plain", text).await.status(), StatusCode::CREATED);
        let got = to.until(&server, WAIT, incoming).await;
        let msg = got.last().unwrap();
        assert_eq!(text_of(msg), ("text/plain".to_owned(), text.to_owned()));
        let data = href(&msg["_embedded"]["message"], "plainMessage");
        assert!(!data.contains(' '), "spaces are encoded as '+': {data}");
        let incoming_count = to.seen.iter().filter(|e| incoming(e)).count();
        assert_eq!(incoming_count, 1, "one Incoming event per message");
        to.seen.clear();
    }
    // Alice ends it: both conversations end.
    let alice_conv = alice_got[0]["link"]["href"].as_str().unwrap().to_owned();
    assert_eq!(
        server.call(Method::DELETE, &alice_conv, &alice1.app.token, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let bob_end = bob.until(&server, WAIT, |e| e["type"] == "deleted" && e["link"]["rel"] == "conversation").await;
    assert_eq!(
        trace(&bob_end),
        [
            "conversation participant deleted",
            "conversation messaging updated Disconnected",
            "communication conversation updated Disconnected",
            "communication conversation deleted",
        ]
    );
    assert_eq!(bob_end.last().unwrap()["reason"]["subcode"], "Ended");
    assert_eq!(send(&server, &bob.app, &bob_send, "text/plain", "hello?").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn declined_and_unanswered_calls() {
    let Call { server, mut alice1, mut alice2, mut bob, .. } =
        bob_calls_alice(TestOptions::default(), json!({"to": "sip:alice@example.com"})).await;
    let got = alice1.until(&server, WAIT, |e| e["link"]["rel"] == "conversation").await;
    let inv = embedded(&got, "messagingInvitation", "started").clone();
    let resp =
        server.call(Method::POST, &href(&inv, "decline"), &alice1.app.token, Some(json!({"reason": "Global"}))).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    alice2.until(&server, WAIT, |e| e["type"] == "deleted").await;
    let bob_got = bob.until(&server, WAIT, |e| e["type"] == "deleted").await;
    let done = event(&bob_got, "messagingInvitation", "completed");
    assert_eq!(done["status"], "Failure");
    assert_eq!(done["reason"]["code"], "RemoteFailure");
    assert_eq!(done["reason"]["subcode"], "Declined");

    let mut options = TestOptions::default();
    options.limits.invitation_timeout_secs = 1;
    let Call { server, mut bob, mut alice1, .. } =
        bob_calls_alice(options, json!({"to": "sip:alice@example.com"})).await;
    let bob_got = bob.until(&server, WAIT, |e| e["type"] == "deleted").await;
    assert_eq!(event(&bob_got, "messagingInvitation", "completed")["reason"]["subcode"], "Timeout");
    let alice_got = alice1.until(&server, WAIT, |e| e["type"] == "deleted").await;
    assert_eq!(event(&alice_got, "messagingInvitation", "completed")["reason"]["subcode"], "Missed");
}

#[tokio::test]
async fn the_caller_cancels_and_unknown_or_offline_callees() {
    let Call { server, mut alice1, mut bob, location, .. } =
        bob_calls_alice(TestOptions::default(), json!({"to": "sip:alice@example.com"})).await;
    bob.until(&server, WAIT, |e| e["link"]["rel"] == "messaging").await;
    let inv: Value = server.call(Method::GET, &location, &bob.app.token, None).await.json().await.unwrap();
    assert_eq!(inv["state"], "Connecting");
    assert_eq!(
        server.call(Method::POST, &href(&inv, "cancel"), &bob.app.token, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let alice_got = alice1.until(&server, WAIT, |e| e["type"] == "deleted").await;
    assert_eq!(event(&alice_got, "messagingInvitation", "completed")["reason"]["subcode"], "Canceled");
    let start = href(&bob.app.body["_embedded"]["communication"], "startMessaging");
    let resp = server.call(Method::POST, &start, &bob.app.token, Some(json!({"to": "sip:nobody@example.com"}))).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.json::<Value>().await.unwrap()["subcode"], "DestinationNotFound");
    server.add_user("sip:dave@example.com", "Dave", "pw").await;
    bob.drain(&server).await;
    let resp = server.call(Method::POST, &start, &bob.app.token, Some(json!({"to": "sip:dave@example.com"}))).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let got = bob.until(&server, WAIT, |e| e["type"] == "deleted").await;
    assert_eq!(event(&got, "messagingInvitation", "completed")["reason"]["subcode"], "TemporarilyUnavailable");
    for (body, field) in [
        (json!({}), "to"),
        (json!({"to": "alice"}), "to"),
        (json!({"to": "sip:alice@example.com", "operationId": "x".repeat(51)}), "operationId"),
        (json!({"to": "sip:alice@example.com", "subject": "x".repeat(251)}), "subject"),
        (json!({"to": "sip:alice@example.com", "threadId": "x".repeat(251)}), "threadId"),
        (json!({"to": "sip:alice@example.com", "importance": "Meh"}), "importance"),
        (json!({"to": "sip:alice@example.com", "message": "data:text/plain,%ff%fe"}), "message"),
    ] {
        let resp = server.call(Method::POST, &start, &bob.app.token, Some(body.clone())).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        assert!(resp.json::<Value>().await.unwrap()["parameters"][field].is_string(), "{field}");
    }
}

#[tokio::test]
async fn add_participant_escalates_a_two_party_conversation() {
    let Call { server, mut alice1, mut bob, .. } = bob_calls_alice(TestOptions::default(), call_body()).await;
    let got = alice1.until(&server, WAIT, |e| e["link"]["rel"] == "conversation").await;
    let inv = embedded(&got, "messagingInvitation", "started").clone();
    server.call(Method::POST, &href(&inv, "accept"), &alice1.app.token, None).await;
    let bob_got = bob.until(&server, WAIT, completed("messagingInvitation")).await;
    let conv = embedded(&bob_got, "conversation", "updated").clone();
    let carol_app = available(&server, server.signed_in_app("sip:carol@example.com", "Carol").await).await;
    let mut carol = EventStream::new(&carol_app);
    carol.drain(&server).await;
    let resp = server
        .call(
            Method::POST,
            &href(&conv, "addParticipant"),
            &bob.app.token,
            Some(json!({"to": "sip:carol@example.com"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let escalated = bob.until(&server, WAIT, |e| e["link"]["rel"] == "participantInvitation").await;
    assert_eq!(
        trace(&escalated),
        [
            "communication conversation updated Conferencing",
            "communication conversation updated Conferenced",
            "conversation onlineMeeting added",
            "communication participantInvitation started Connecting",
        ]
    );
    let carol_got = carol.until(&server, WAIT, |e| e["link"]["rel"] == "conversation").await;
    let carol_inv = embedded(&carol_got, "onlineMeetingInvitation", "started").clone();
    server.call(Method::POST, &href(&carol_inv, "accept"), &carol.app.token, None).await;
    let is_done = completed("onlineMeetingInvitation");
    let joined = carol.until(&server, WAIT, &is_done).await;
    assert_eq!(joined.iter().find(|e| is_done(e)).unwrap()["status"], "Success");
    assert_eq!(joined.iter().filter(|e| e["link"]["rel"] == "participant").count(), 2);
    let done = bob.until(&server, WAIT, completed("participantInvitation")).await;
    assert_eq!(done.last().unwrap()["status"], "Success");
    let alice_saw =
        alice1.until(&server, WAIT, |e| e["_embedded"]["participant"]["uri"] == "sip:carol@example.com").await;
    assert!(trace(&alice_saw).contains(&"communication conversation updated Conferenced".to_owned()));
}

#[tokio::test]
async fn messaging_payloads_have_the_recorded_shapes() {
    let Call { server, mut alice1, mut bob, .. } = bob_calls_alice(TestOptions::default(), call_body()).await;
    let bob_started = bob.until(&server, WAIT, |e| e["link"]["rel"] == "messaging").await;
    let got = alice1.until(&server, WAIT, |e| e["link"]["rel"] == "conversation").await;
    let inv = embedded(&got, "messagingInvitation", "started").clone();
    server.call(Method::POST, &href(&inv, "accept"), &alice1.app.token, None).await;
    let bob_got = bob.until(&server, WAIT, completed("messagingInvitation")).await;
    let alice_send = href(
        &alice1.until(&server, WAIT, completed("messagingInvitation")).await[3]["_embedded"]["messaging"],
        "sendMessage",
    );
    send(&server, &alice1.app, &alice_send, "text/plain", "hi").await;
    let bob_msg = bob.until(&server, WAIT, incoming).await;
    let alice_own = alice1.until(&server, WAIT, completed("message")).await;
    let check = |file: &str, rel: &str, ours: &Value, ignore_links: &[&str]| {
        let (rec_props, mut rec_links) = shape(&recorded(file, rel));
        for l in ignore_links {
            rec_links.remove(*l);
        }
        let (props, links) = shape(ours);
        assert!(
            props.is_superset(&rec_props),
            "{file}: missing {:?}",
            rec_props.difference(&props).collect::<Vec<_>>()
        );
        assert!(
            links.is_superset(&rec_links),
            "{file}: missing {:?}",
            rec_links.difference(&links).collect::<Vec<_>>()
        );
    };
    check(
        "Event_MessagingInvitationStarted.json",
        "messagingInvitation",
        embedded(&bob_started, "messagingInvitation", "started"),
        &[],
    );
    check(
        "Event_MessagingInvitationCompleted.json",
        "messagingInvitation",
        embedded(&bob_got, "messagingInvitation", "completed"),
        &["cancel"],
    );
    let connected = &bob_got[4]["_embedded"]["messaging"];
    check("Event_MessagingConnected.json", "messaging", connected, &["setIsTyping", "typingParticipants"]);
    check(
        "Event_ParticipantMessagingAdded.json",
        "participantMessaging",
        embedded(&bob_got, "participantMessaging", "added"),
        &[],
    );
    check("Event_MessageIncoming.json", "message", &bob_msg.last().unwrap()["_embedded"]["message"], &[]);
    check("Event_MessageStarted.json", "message", embedded(&alice_own, "message", "started"), &[]);
    check("Event_MessageCompleted.json", "message", embedded(&alice_own, "message", "completed"), &[]);
    assert_eq!(bob_msg.last().unwrap()["type"], "completed");
    assert_eq!(bob_msg.last().unwrap()["status"], "Success");
    assert_eq!(connected["negotiatedMessageFormats"], json!(["Plain", "Html"]));
}
