//! The join flow (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/joinonlinemeeting_ref>,
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/lobby_ref>): joinOnlineMeeting ->
//! onlineMeetingInvitation through lobby, admit, reject, cancel, timeout and roster.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_testkit::{EventStream, TestApp, TestOptions, TestServer, trace};

const WAIT: Duration = Duration::from_secs(10);

pub(crate) struct Meeting {
    pub uri: String,
    pub href: String,
    pub body: Value,
}

pub(crate) async fn create_meeting(server: &TestServer, organizer: &TestApp, body: Value) -> Meeting {
    let resp = server
        .call(Method::POST, &format!("{}/onlineMeetings/myOnlineMeetings", organizer.url), &organizer.token, Some(body))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let href = resp.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    Meeting { uri: body["onlineMeetingUri"].as_str().unwrap().to_owned(), href, body }
}

/// POSTs a join and returns the invitation's Location.
pub(crate) async fn join(server: &TestServer, app: &TestApp, body: Value) -> String {
    let resp = server
        .call(Method::POST, &format!("{}/communication/onlineMeetingInvitations", app.url), &app.token, Some(body))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(resp.bytes().await.unwrap().is_empty(), "a join answers with an empty body");
    location
}

fn is_completed(e: &Value) -> bool {
    e["type"] == "completed" && e["link"]["rel"] == "onlineMeetingInvitation"
}

/// The href of the first link `rel` among `events` (capability links are found this way,
/// never constructed).
fn link_in(events: &[Value], rel: &str) -> String {
    for e in events {
        if let Some(embedded) = e["_embedded"].as_object() {
            for resource in embedded.values() {
                if let Some(href) = resource["_links"][rel]["href"].as_str() {
                    return href.to_owned();
                }
            }
        }
    }
    panic!("no {rel} link in {events:#?}");
}

/// Organizer Alice in a Locked meeting she has joined, and Bob waiting in its lobby.
struct Lobby {
    server: TestServer,
    alice: EventStream,
    bob: EventStream,
    bob_invitation: String,
    meeting: Meeting,
}

async fn lobby_with_waiting_bob(options: TestOptions) -> Lobby {
    let server = TestServer::start_with(options).await;
    let alice_app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let bob_app = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let meeting = create_meeting(&server, &alice_app, json!({"subject": "Weekly", "accessLevel": "Locked"})).await;
    let mut alice = EventStream::new(&alice_app);
    join(&server, &alice_app, json!({"onlineMeetingUri": meeting.uri, "operationId": "op-alice"})).await;
    alice.until(&server, WAIT, is_completed).await;
    let mut bob = EventStream::new(&bob_app);
    let bob_invitation =
        join(&server, &bob_app, json!({"onlineMeetingUri": meeting.uri, "operationId": "op-bob", "subject": "s"}))
            .await;
    bob.until(&server, WAIT, |e| e["_embedded"]["conversation"]["state"] == "InLobby").await;
    Lobby { server, alice, bob, bob_invitation, meeting }
}

#[tokio::test]
async fn organizer_joins_directly_and_completes_after_the_roster() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meeting = create_meeting(&server, &app, json!({"subject": "Weekly"})).await;
    let mut events = EventStream::new(&app);
    let location =
        join(&server, &app, json!({"onlineMeetingUri": meeting.uri, "operationId": "op1", "importance": "Urgent"}))
            .await;
    let got = events.until(&server, WAIT, is_completed).await;
    assert_eq!(
        trace(&got),
        [
            "communication onlineMeetingInvitation started Connecting",
            "communication conversation added Connecting",
            "conversation localParticipant added",
            "communication conversation updated Conferencing",
            "communication conversation updated Conferenced",
            "conversation onlineMeeting added",
            "conversation localParticipant added",
            "communication onlineMeetingInvitation completed Connected",
        ]
    );
    // Every invitation event embeds the invitation with its operationId, direction, state
    // and conversation link; the link points at the Location of the 201.
    for e in got.iter().filter(|e| e["link"]["rel"] == "onlineMeetingInvitation") {
        let inv = &e["_embedded"]["onlineMeetingInvitation"];
        assert_eq!(inv["operationId"], "op1");
        assert_eq!(inv["direction"], "Outgoing");
        assert_eq!(inv["importance"], "Urgent");
        assert_eq!(inv["onlineMeetingUri"], meeting.uri.as_str());
        assert!(inv["_links"]["conversation"]["href"].is_string());
        assert!(location.ends_with(e["link"]["href"].as_str().unwrap()));
    }
    let completed = got.last().unwrap();
    assert_eq!(completed["status"], "Success");
    assert!(completed["_embedded"]["onlineMeetingInvitation"]["_links"].get("cancel").is_none());
    let started = &got[0]["_embedded"]["onlineMeetingInvitation"];
    assert!(started["_links"]["cancel"].is_string() || started["_links"]["cancel"].is_object());
    // GET answers the final state.
    let inv: Value = server.call(Method::GET, &location, &app.token, None).await.json().await.unwrap();
    assert_eq!(inv["state"], "Connected");
    assert_eq!(inv["rel"], "onlineMeetingInvitation");
    // The conversation now has its roster links, and the roster lists Alice as organizer.
    let conversation = inv["_links"]["conversation"]["href"].as_str().unwrap().to_owned();
    let conv: Value = server.call(Method::GET, &conversation, &app.token, None).await.json().await.unwrap();
    assert_eq!(conv["state"], "Conferenced");
    let participants = conv["_links"]["participants"]["href"].as_str().unwrap();
    let roster: Value = server.call(Method::GET, participants, &app.token, None).await.json().await.unwrap();
    let people = roster["_embedded"]["participant"].as_array().unwrap();
    assert_eq!(people.len(), 1);
    assert_eq!(people[0]["uri"], "sip:alice@example.com");
    assert_eq!(people[0]["organizer"], true);
    assert_eq!(people[0]["role"], "Leader");
    assert_eq!(people[0]["local"], true);
}

#[tokio::test]
async fn attendee_waits_in_the_lobby_until_a_leader_admits() {
    let Lobby { server, mut alice, mut bob, bob_invitation, .. } = lobby_with_waiting_bob(TestOptions::default()).await;
    assert_eq!(
        trace(&bob.seen),
        [
            "communication onlineMeetingInvitation started Connecting",
            "communication conversation added Connecting",
            "conversation localParticipant added",
            "communication conversation updated InLobby",
            "communication onlineMeetingInvitation updated Connecting",
        ]
    );
    // Still Connecting while in the lobby.
    let inv: Value = server.call(Method::GET, &bob_invitation, &bob.app.token, None).await.json().await.unwrap();
    assert_eq!(inv["state"], "Connecting");
    assert!(bob.drain(&server).await.is_empty());
    // Alice sees Bob enter her lobby, with admit and reject links on him.
    let seen = alice.until(&server, WAIT, |e| e["in"]["rel"] == "lobby").await;
    let lobby_add = seen.last().unwrap();
    assert_eq!(lobby_add["type"], "added");
    let bob_seen_by_alice = &lobby_add["_embedded"]["participant"];
    assert_eq!(bob_seen_by_alice["inLobby"], true);
    assert_eq!(bob_seen_by_alice["uri"], "sip:bob@example.com");
    let admit = link_in(&seen, "admit");
    link_in(&seen, "reject");

    let resp = server.call(Method::POST, &admit, &alice.app.token, None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    let got = bob.until(&server, WAIT, is_completed).await;
    assert_eq!(
        trace(&got),
        [
            "communication conversation updated Conferencing",
            "communication conversation updated Conferenced",
            "conversation onlineMeeting added",
            "conversation localParticipant added",
            "communication onlineMeetingInvitation completed Connected",
            "conversation participant added in leaders",
        ]
    );
    assert_eq!(got[4]["status"], "Success");
    let alice_after = alice.drain(&server).await;
    assert_eq!(
        trace(&alice_after),
        [
            "conversation participant deleted in lobby",
            "conversation participant added in attendees",
            "conversation participant updated"
        ]
    );
    // After admission the admit capability is gone for Alice, and eject/promote appear.
    let updated = &alice_after[2]["_embedded"]["participant"];
    assert!(updated["_links"].get("admit").is_none());
    assert!(updated["_links"]["eject"].is_object());
    assert!(updated["_links"]["promote"].is_object());
    assert_eq!(updated["inLobby"], false);
}

#[tokio::test]
async fn rejected_attendee_fails_with_denied_and_loses_the_conversation() {
    let Lobby { server, mut alice, mut bob, bob_invitation, .. } = lobby_with_waiting_bob(TestOptions::default()).await;
    let seen = alice.until(&server, WAIT, |e| e["in"]["rel"] == "lobby").await;
    let reject = link_in(&seen, "reject");
    assert_eq!(server.call(Method::POST, &reject, &alice.app.token, None).await.status(), StatusCode::NO_CONTENT);
    let got = bob.until(&server, WAIT, |e| e["type"] == "deleted").await;
    let tail: Vec<String> = trace(&got).into_iter().filter(|l| !l.contains("updated Connecting")).collect();
    assert_eq!(
        tail,
        [
            "communication onlineMeetingInvitation completed Failed",
            "communication conversation updated Disconnected",
            "communication conversation deleted",
        ]
    );
    let completed = got.iter().find(|e| is_completed(e)).unwrap();
    assert_eq!(completed["status"], "Failure");
    assert_eq!(completed["reason"]["code"], "Forbidden");
    assert_eq!(completed["reason"]["subcode"], "Denied");
    assert!(completed["reason"]["message"].is_string());
    assert_eq!(trace(&alice.drain(&server).await), ["conversation participant deleted in lobby"]);
    // The conversation is gone, and its invitation with it.
    assert_eq!(server.call(Method::GET, &bob_invitation, &bob.app.token, None).await.status(), StatusCode::NOT_FOUND);
    // Rejecting again: the participant is no longer there.
    let again = server.call(Method::POST, &reject, &alice.app.token, None).await.status();
    assert!(again == StatusCode::NOT_FOUND || again == StatusCode::CONFLICT, "{again}");
}

#[tokio::test]
async fn joiner_cancels_while_waiting() {
    let Lobby { server, mut alice, mut bob, bob_invitation, .. } = lobby_with_waiting_bob(TestOptions::default()).await;
    let inv: Value = server.call(Method::GET, &bob_invitation, &bob.app.token, None).await.json().await.unwrap();
    let cancel = inv["_links"]["cancel"]["href"].as_str().unwrap().to_owned();
    assert_eq!(server.call(Method::POST, &cancel, &bob.app.token, None).await.status(), StatusCode::NO_CONTENT);
    let got = bob.until(&server, WAIT, |e| e["type"] == "deleted").await;
    let completed = got.iter().find(|e| is_completed(e)).unwrap();
    assert_eq!(completed["status"], "Failure");
    assert_eq!(completed["reason"]["code"], "LocalFailure");
    assert_eq!(completed["reason"]["subcode"], "Canceled");
    let alice_got = alice.until(&server, WAIT, |e| e["type"] == "deleted").await;
    assert_eq!(trace(&alice_got).last().unwrap(), "conversation participant deleted in lobby");
    // Cancelling twice: the invitation is gone.
    let again = server.call(Method::POST, &cancel, &bob.app.token, None).await.status();
    assert_eq!(again, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cancel_after_success_is_a_conflict() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meeting = create_meeting(&server, &app, json!({})).await;
    let mut events = EventStream::new(&app);
    let location = join(&server, &app, json!({"onlineMeetingUri": meeting.uri})).await;
    events.until(&server, WAIT, is_completed).await;
    let resp = server.call(Method::POST, &format!("{location}/cancel"), &app.token, None).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn lobby_wait_times_out() {
    let mut options = TestOptions::default();
    options.limits.lobby_timeout_secs = 1;
    let Lobby { server, mut alice, mut bob, .. } = lobby_with_waiting_bob(options).await;
    let got = bob.until(&server, WAIT, is_completed).await;
    let completed = got.iter().find(|e| is_completed(e)).unwrap();
    assert_eq!(completed["status"], "Failure");
    assert_eq!(completed["reason"]["code"], "Timeout");
    assert_eq!(completed["reason"]["subcode"], "Timeout");
    alice.until(&server, WAIT, |e| e["type"] == "deleted" && e["in"]["rel"] == "lobby").await;
}

#[tokio::test]
async fn attendees_cannot_admit_and_do_not_see_the_lobby() {
    let Lobby { server, mut alice, mut bob, meeting, .. } = lobby_with_waiting_bob(TestOptions::default()).await;
    let seen = alice.until(&server, WAIT, |e| e["in"]["rel"] == "lobby").await;
    let admit = link_in(&seen, "admit");
    assert_eq!(server.call(Method::POST, &admit, &alice.app.token, None).await.status(), StatusCode::NO_CONTENT);
    bob.until(&server, WAIT, is_completed).await;
    // Carol waits too; Bob, an attendee, sees nothing of her and cannot admit her.
    let carol_app = server.signed_in_app("sip:carol@example.com", "Carol").await;
    let mut carol = EventStream::new(&carol_app);
    join(&server, &carol_app, json!({"onlineMeetingUri": meeting.uri})).await;
    carol.until(&server, WAIT, |e| e["_embedded"]["conversation"]["state"] == "InLobby").await;
    let alice_seen = alice.until(&server, WAIT, |e| e["in"]["rel"] == "lobby" && e["type"] == "added").await;
    let carol_admit = link_in(&alice_seen, "admit");
    let bob_events = bob.drain(&server).await;
    assert!(bob_events.iter().all(|e| e["in"]["rel"] != "lobby"), "attendees are not told about the lobby");
    // Bob tries Alice's link under his own conversation: 403, capability missing.
    let carol_id = carol_admit.rsplit('/').nth(1).unwrap();
    let bob_conv = bob.seen.iter().find(|e| e["link"]["rel"] == "conversation").unwrap()["link"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp =
        server.call(Method::POST, &format!("{bob_conv}/participants/{carol_id}/admit"), &bob.app.token, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let lobby: Value =
        server.call(Method::GET, &format!("{bob_conv}/lobby"), &bob.app.token, None).await.json().await.unwrap();
    assert_eq!(lobby["_embedded"]["participant"], json!([]));
    // Alice's link works; Bob's URL must not have admitted Carol.
    let carol_state = carol.drain(&server).await;
    assert!(carol_state.iter().all(|e| !is_completed(e)));
    assert_eq!(server.call(Method::POST, &carol_admit, &alice.app.token, None).await.status(), StatusCode::NO_CONTENT);
    carol.until(&server, WAIT, is_completed).await;
}

#[tokio::test]
async fn deleting_the_meeting_ends_everyone_in_it() {
    let Lobby { server, mut alice, mut bob, meeting, .. } = lobby_with_waiting_bob(TestOptions::default()).await;
    let resp = server.call(Method::DELETE, &meeting.href, &alice.app.token, None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let got = bob.until(&server, WAIT, |e| e["type"] == "deleted").await;
    let completed = got.iter().find(|e| is_completed(e)).unwrap();
    assert_eq!(completed["reason"]["subcode"], "Ended");
    let alice_got = alice.until(&server, WAIT, |e| e["type"] == "deleted" && e["link"]["rel"] == "conversation").await;
    assert!(trace(&alice_got).contains(&"communication conversation updated Disconnected".to_owned()));
    // The meeting is gone: joining it now is a synchronous 404.
    let resp = server
        .call(
            Method::POST,
            &format!("{}/communication/onlineMeetingInvitations", bob.app.url),
            &bob.app.token,
            Some(json!({"onlineMeetingUri": meeting.uri})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.json::<Value>().await.unwrap()["subcode"], "DestinationNotFound");
}

#[tokio::test]
async fn leaving_removes_the_participant_from_others_rosters() {
    let Lobby { server, mut alice, mut bob, .. } = lobby_with_waiting_bob(TestOptions::default()).await;
    let seen = alice.until(&server, WAIT, |e| e["in"]["rel"] == "lobby").await;
    server.call(Method::POST, &link_in(&seen, "admit"), &alice.app.token, None).await;
    let got = bob.until(&server, WAIT, is_completed).await;
    let conversation = got[0]["link"]["href"].as_str().unwrap().to_owned();
    alice.drain(&server).await;
    assert_eq!(server.call(Method::DELETE, &conversation, &bob.app.token, None).await.status(), StatusCode::NO_CONTENT);
    let bob_end = bob.until(&server, WAIT, |e| e["type"] == "deleted").await;
    assert_eq!(
        trace(&bob_end),
        ["communication conversation updated Disconnected", "communication conversation deleted"]
    );
    let alice_end = alice.until(&server, WAIT, |e| e["type"] == "deleted").await;
    assert_eq!(trace(&alice_end), ["conversation participant deleted"]);
}

#[tokio::test]
async fn ad_hoc_meeting_makes_the_joiner_its_organizer() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let start =
        app.body["_embedded"]["communication"]["_links"]["startOnlineMeeting"]["href"].as_str().unwrap().to_owned();
    let mut events = EventStream::new(&app);
    let resp = server
        .call(Method::POST, &start, &app.token, Some(json!({"subject": "Ad hoc", "operationId": "adhoc-1"})))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let got = events.until(&server, WAIT, is_completed).await;
    let completed = got.last().unwrap();
    assert_eq!(completed["status"], "Success");
    let uri = completed["_embedded"]["onlineMeetingInvitation"]["onlineMeetingUri"].as_str().unwrap();
    assert!(uri.starts_with("sip:alice@example.com;gruu;opaque=app:conf:focus:id:"), "{uri}");
    let meeting = got.iter().find(|e| e["link"]["rel"] == "onlineMeeting").unwrap();
    assert_eq!(meeting["_embedded"]["onlineMeeting"]["organizerUri"], "sip:alice@example.com");
    assert_eq!(meeting["_embedded"]["onlineMeeting"]["subject"], "Ad hoc");
}

#[tokio::test]
async fn join_validation_is_synchronous_and_creates_nothing() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meeting = create_meeting(&server, &alice, json!({})).await;
    let url = format!("{}/communication/onlineMeetingInvitations", alice.url);
    let cases = [
        (json!({"onlineMeetingUri": meeting.uri, "operationId": "x".repeat(51)}), "operationId"),
        (json!({"onlineMeetingUri": meeting.uri, "subject": "x".repeat(251)}), "subject"),
        (json!({"onlineMeetingUri": meeting.uri, "importance": "Loud"}), "importance"),
        (json!({"onlineMeetingUri": meeting.uri, "threadId": 5}), "threadId"),
        (json!({"onlineMeetingUri": "sip:alice@example.com"}), "onlineMeetingUri"),
        (json!({"onlineMeetingUri": ["not", "a", "string"]}), "onlineMeetingUri"),
        (json!({"onlineMeetingUri": meeting.uri, "anonymousDisplayName": "Alice"}), "anonymousDisplayName"),
    ];
    for (body, field) in cases {
        let resp = server.call(Method::POST, &url, &alice.token, Some(body.clone())).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["subcode"], "ParameterValidationFailure");
        assert!(err["parameters"][field].is_string(), "{field} not named in {err}");
    }
    // Property names in any case, input from the query string too.
    let resp = server
        .call(
            Method::POST,
            &format!("{url}?OperationId=q1"),
            &alice.token,
            Some(json!({"ONLINEMEETINGURI": meeting.uri, "Subject": "s"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let mut events = EventStream::new(&alice);
    let got = events.until(&server, WAIT, is_completed).await;
    // Only the valid join produced events.
    let started: Vec<&Value> = got.iter().filter(|e| e["type"] == "started").collect();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["_embedded"]["onlineMeetingInvitation"]["operationId"], "q1");
    assert_eq!(started[0]["_embedded"]["onlineMeetingInvitation"]["subject"], "s");
    // An unknown meeting, or this meeting under another organizer (checked on the copy the
    // join runs on, which the valid join left on this node): 404 DestinationNotFound, and no
    // events.
    let unknown = meeting.uri.replace(meeting.body["onlineMeetingId"].as_str().unwrap(), "ZZZZZZZZ");
    let other_organizer = meeting.uri.replace("alice@", "mallory@");
    for uri in [unknown, other_organizer] {
        let resp = server.call(Method::POST, &url, &alice.token, Some(json!({"onlineMeetingUri": uri}))).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(resp.json::<Value>().await.unwrap()["subcode"], "DestinationNotFound");
    }
    assert!(events.drain(&server).await.is_empty());
}

#[tokio::test]
async fn another_users_invitation_and_conversation_are_invisible() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let bob = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let meeting = create_meeting(&server, &alice, json!({})).await;
    let location = join(&server, &alice, json!({"onlineMeetingUri": meeting.uri})).await;
    let mut events = EventStream::new(&alice);
    let got = events.until(&server, WAIT, is_completed).await;
    let conversation =
        got[0]["_embedded"]["onlineMeetingInvitation"]["_links"]["conversation"]["href"].as_str().unwrap().to_owned();
    let session = location.rsplit('/').next().unwrap();
    for (method, url) in [
        (Method::GET, location.clone()),
        (Method::POST, format!("{location}/cancel")),
        (Method::GET, conversation.clone()),
        (Method::DELETE, conversation.clone()),
        (Method::GET, format!("{conversation}/participants")),
        // Bob's own application, Alice's session id.
        (Method::GET, format!("{}/communication/onlineMeetingInvitations/{session}", bob.url)),
        (Method::GET, format!("{}/communication/conversations/{session}", bob.url)),
    ] {
        let resp = server.call(method.clone(), &url, &bob.token, None).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method} {url}");
    }
    let inv: Value = server.call(Method::GET, &location, &alice.token, None).await.json().await.unwrap();
    assert_eq!(inv["state"], "Connected");
}

#[tokio::test]
async fn admit_racing_cancel_completes_exactly_once() {
    for _ in 0..5 {
        let Lobby { server, mut alice, mut bob, bob_invitation, .. } =
            lobby_with_waiting_bob(TestOptions::default()).await;
        let seen = alice.until(&server, WAIT, |e| e["in"]["rel"] == "lobby").await;
        let admit = link_in(&seen, "admit");
        let cancel = format!("{bob_invitation}/cancel");
        let (a, c) = tokio::join!(
            server.call(Method::POST, &admit, &alice.app.token, None),
            server.call(Method::POST, &cancel, &bob.app.token, None)
        );
        let statuses = [a.status(), c.status()];
        assert!(statuses.contains(&StatusCode::NO_CONTENT), "{statuses:?}");
        let mut all = bob.drain(&server).await;
        all.extend(bob.drain(&server).await);
        let completions: Vec<&Value> = bob.seen.iter().filter(|e| is_completed(e)).collect();
        assert_eq!(completions.len(), 1, "{:#?}", trace(&bob.seen));
        let alice_view = alice.drain(&server).await;
        let in_lobby = alice_view.iter().filter(|e| e["in"]["rel"] == "lobby" && e["type"] == "added").count();
        assert_eq!(in_lobby, 0, "nobody re-enters the lobby");
    }
}

#[tokio::test]
async fn reject_racing_admit_by_two_leaders_has_one_winner() {
    let server = TestServer::start().await;
    let alice_app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let carol_app = server.signed_in_app("sip:carol@example.com", "Carol").await;
    let meeting =
        create_meeting(&server, &alice_app, json!({"accessLevel": "Locked", "leaders": ["sip:carol@example.com"]}))
            .await;
    let mut alice = EventStream::new(&alice_app);
    let mut carol = EventStream::new(&carol_app);
    join(&server, &alice_app, json!({"onlineMeetingUri": meeting.uri})).await;
    alice.until(&server, WAIT, is_completed).await;
    join(&server, &carol_app, json!({"onlineMeetingUri": meeting.uri})).await;
    let carol_join = carol.until(&server, WAIT, is_completed).await;
    let carol_done = carol_join.iter().find(|e| is_completed(e)).unwrap();
    assert_eq!(carol_done["status"], "Success", "a listed leader never waits");
    let bob_app = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let mut bob = EventStream::new(&bob_app);
    join(&server, &bob_app, json!({"onlineMeetingUri": meeting.uri})).await;
    let a_seen = alice.until(&server, WAIT, |e| e["in"]["rel"] == "lobby").await;
    let c_seen = carol.until(&server, WAIT, |e| e["in"]["rel"] == "lobby").await;
    let (admit, reject) = (link_in(&a_seen, "admit"), link_in(&c_seen, "reject"));
    let (a, c) = tokio::join!(
        server.call(Method::POST, &admit, &alice_app.token, None),
        server.call(Method::POST, &reject, &carol_app.token, None)
    );
    let ok = [a.status(), c.status()].iter().filter(|s| **s == StatusCode::NO_CONTENT).count();
    assert_eq!(ok, 1, "exactly one of admit and reject wins: {:?} {:?}", a.status(), c.status());
    let got = bob.until(&server, WAIT, is_completed).await;
    let completions = got.iter().filter(|e| is_completed(e)).count();
    assert_eq!(completions, 1);
    assert!(bob.drain(&server).await.iter().all(|e| !is_completed(e)));
}
