//! addParticipant and the invitee's incoming onlineMeetingInvitation (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/addparticipant_ref>,
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/onlinemeetinginvitation_ref>): an inviter, an invitee with two applications and a third participant.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_proto::encode::decode_data_uri;
use ucwa_testkit::{EventStream, TestApp, TestOptions, TestServer, trace};

use crate::join::{create_meeting, join};
use crate::roster::{recorded, shape};

pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// A signed-in application that called makeMeAvailable (where invitations ring).
pub(crate) async fn available(server: &TestServer, app: TestApp) -> TestApp {
    let href = app.body["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"].as_str().unwrap().to_owned();
    let resp = server.call(Method::POST, &href, &app.token, Some(json!({"SupportedModalities": ["Messaging"]}))).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    app
}

/// A second application of the same user (another endpoint), available.
pub(crate) async fn second_app(server: &TestServer, first: &TestApp, endpoint: &str) -> TestApp {
    let app = server.create_app(&first.token, endpoint).await;
    available(server, app).await
}

pub(crate) fn completed(rel: &'static str) -> impl Fn(&Value) -> bool {
    move |e: &Value| e["type"] == "completed" && e["link"]["rel"] == rel
}

/// The embedded resource of the first event about `rel` of `kind`.
pub(crate) fn embedded<'a>(events: &'a [Value], rel: &str, kind: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["link"]["rel"] == rel && e["type"] == kind)
        .map(|e| &e["_embedded"][rel])
        .unwrap_or_else(|| panic!("no {rel} {kind} in {:#?}", trace(events)))
}

pub(crate) fn event<'a>(events: &'a [Value], rel: &str, kind: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["link"]["rel"] == rel && e["type"] == kind)
        .unwrap_or_else(|| panic!("no {rel} {kind} in {:#?}", trace(events)))
}

pub(crate) fn href(resource: &Value, rel: &str) -> String {
    resource["_links"][rel]["href"].as_str().unwrap_or_else(|| panic!("no {rel} link in {resource:#}")).to_owned()
}

/// Alice (organizer) and Carol (a listed leader) in Alice's Locked meeting; Bob signed in
/// with two available applications, not in the meeting.
pub(crate) struct Invited {
    pub server: TestServer,
    pub alice: EventStream,
    pub carol: EventStream,
    pub bob1: EventStream,
    pub bob2: EventStream,
    pub alice_conversation: Value,
}

pub(crate) async fn meeting_with_bob_outside(options: TestOptions) -> Invited {
    let server = TestServer::start_with(options).await;
    let alice_app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let carol_app = server.signed_in_app("sip:carol@example.com", "Carol").await;
    let bob1_app = available(&server, server.signed_in_app("sip:bob@example.com", "Bob").await).await;
    let bob2_app = second_app(&server, &bob1_app, "bob-phone").await;
    let meeting = create_meeting(
        &server,
        &alice_app,
        json!({"subject": "Planning", "accessLevel": "Locked", "leaders": ["sip:carol@example.com"]}),
    )
    .await;
    let (mut alice, mut carol) = (EventStream::new(&alice_app), EventStream::new(&carol_app));
    let (mut bob1, mut bob2) = (EventStream::new(&bob1_app), EventStream::new(&bob2_app));
    join(&server, &alice_app, json!({"onlineMeetingUri": meeting.uri})).await;
    let got = alice.until(&server, WAIT, completed("onlineMeetingInvitation")).await;
    join(&server, &carol_app, json!({"onlineMeetingUri": meeting.uri})).await;
    carol.until(&server, WAIT, completed("onlineMeetingInvitation")).await;
    alice.until(&server, WAIT, |e| e["link"]["rel"] == "participant").await;
    // Drain the makeMeAvailable events of Bob's applications.
    bob1.drain(&server).await;
    bob2.drain(&server).await;
    let alice_conversation = embedded(&got, "conversation", "updated").clone();
    let conv: Value = server
        .call(Method::GET, &href(&alice_conversation, "self"), &alice.app.token, None)
        .await
        .json()
        .await
        .unwrap();
    Invited { server, alice, carol, bob1, bob2, alice_conversation: conv }
}

/// POSTs addParticipant from Alice's conversation; returns the 201 Location.
pub(crate) async fn add_participant(i: &Invited, body: Value) -> String {
    let link = href(&i.alice_conversation, "addParticipant");
    let resp = i.server.call(Method::POST, &link, &i.alice.app.token, Some(body)).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    resp.headers()["location"].to_str().unwrap().to_owned()
}

fn invite_bob() -> Value {
    json!({
        "to": "sip:bob@example.com",
        "operationId": "add-bob",
        "subject": "Please join",
        "message": "data:text/plain;charset=utf-8,Hallo+Bob%2C+k%C3%B6nnen+Sie+kommen%3F",
        "customContent": "data:application/x-demo,ThisIsARandomCustomContent"
    })
}

#[tokio::test]
async fn invitee_sees_the_invitation_on_every_application_and_accepts_on_one() {
    let mut i = meeting_with_bob_outside(TestOptions::default()).await;
    let location = add_participant(&i, invite_bob()).await;
    let alice_started = i.alice.until(&i.server, WAIT, |e| e["link"]["rel"] == "participantInvitation").await;
    assert_eq!(trace(&alice_started), ["communication participantInvitation started Connecting"]);
    let pinv = embedded(&alice_started, "participantInvitation", "started");
    assert_eq!(pinv["direction"], "Outgoing");
    assert_eq!(pinv["operationId"], "add-bob");
    assert_eq!(pinv["to"], "sip:bob@example.com");
    for rel in ["self", "cancel", "conversation", "from"] {
        assert!(pinv["_links"][rel]["href"].is_string(), "{rel}");
    }
    assert!(location.ends_with(pinv["_links"]["self"]["href"].as_str().unwrap()));

    let mut invitations = Vec::new();
    for bob in [&mut i.bob1, &mut i.bob2] {
        let got = bob.until(&i.server, WAIT, |e| e["link"]["rel"] == "conversation").await;
        assert_eq!(
            trace(&got),
            ["communication onlineMeetingInvitation started Connecting", "communication conversation added Incoming"]
        );
        let inv = embedded(&got, "onlineMeetingInvitation", "started").clone();
        assert_eq!(inv["direction"], "Incoming");
        assert_eq!(inv["subject"], "Please join");
        assert_eq!(inv["importance"], "Normal");
        assert!(inv["onlineMeetingUri"].as_str().unwrap().contains(";gruu;opaque=app:conf:focus:id:"));
        assert_eq!(inv["availableModalities"], json!(["Messaging"]));
        assert_eq!(inv["_embedded"]["from"]["name"], "Alice");
        assert_eq!(inv["_embedded"]["from"]["uri"], "sip:alice@example.com");
        assert_eq!(inv["_links"]["from"]["title"], "Alice");
        let message = decode_data_uri(&href(&inv, "message")).unwrap();
        assert_eq!(message, ("text/plain".to_owned(), "Hallo Bob, können Sie kommen?".to_owned()));
        assert_eq!(
            decode_data_uri(&href(&inv, "customContent")).unwrap(),
            ("application/x-demo".to_owned(), "ThisIsARandomCustomContent".to_owned())
        );
        assert!(inv["_links"].get("cancel").is_none());
        assert_eq!(embedded(&got, "conversation", "added")["subject"], "Please join");
        invitations.push(inv);
    }
    // Accept on the second application.
    let accept = href(&invitations[1], "accept");
    assert_eq!(i.server.call(Method::POST, &accept, &i.bob2.app.token, None).await.status(), StatusCode::NO_CONTENT);
    let got = i.bob2.until(&i.server, WAIT, completed("onlineMeetingInvitation")).await;
    assert_eq!(
        trace(&got),
        [
            "communication conversation updated Conferencing",
            "communication conversation updated Conferenced",
            "conversation onlineMeeting added",
            "conversation localParticipant added",
            "communication onlineMeetingInvitation completed Connected",
            "conversation participant added in leaders",
            "conversation participant added in leaders",
        ]
    );
    let done = &got[4];
    assert_eq!(done["status"], "Success");
    assert!(done["_embedded"]["onlineMeetingInvitation"]["_links"].get("accept").is_none());
    // Bob joined as an attendee without the lobby, although the meeting is Locked.
    let roster_add = i.alice.until(&i.server, WAIT, completed("participantInvitation")).await;
    assert_eq!(
        trace(&roster_add),
        ["conversation participant added in attendees", "communication participantInvitation completed Connected"]
    );
    let pinv_done = roster_add.last().unwrap();
    assert_eq!(pinv_done["status"], "Success");
    let accepted = &pinv_done["_embedded"]["participantInvitation"]["_embedded"]["acceptedByParticipant"];
    assert_eq!(accepted[0]["uri"], "sip:bob@example.com");
    assert!(pinv_done["_embedded"]["participantInvitation"]["_links"].get("cancel").is_none());
    let carol_saw =
        i.carol.until(&i.server, WAIT, |e| e["_embedded"]["participant"]["uri"] == "sip:bob@example.com").await;
    assert_eq!(trace(&carol_saw).last().unwrap(), "conversation participant added in attendees");
    // The other application's copy completes (answered elsewhere) and its conversation goes.
    let other = i.bob1.until(&i.server, WAIT, |e| e["type"] == "deleted").await;
    assert_eq!(
        trace(&other),
        [
            "communication onlineMeetingInvitation completed Failed",
            "communication conversation updated Disconnected",
            "communication conversation deleted",
        ]
    );
    assert_eq!(other[0]["status"], "Failure");
    assert_eq!(other[0]["reason"]["subcode"], "Canceled");
    // Answering again: 409 on the accepted copy; the other copy is gone.
    for action in ["accept", "decline"] {
        let url = href(&invitations[1], action);
        assert_eq!(i.server.call(Method::POST, &url, &i.bob2.app.token, None).await.status(), StatusCode::CONFLICT);
    }
    let gone = i.server.call(Method::POST, &href(&invitations[0], "accept"), &i.bob1.app.token, None).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    // GET of the participant invitation tells the outcome.
    let pinv: Value = i.server.call(Method::GET, &location, &i.alice.app.token, None).await.json().await.unwrap();
    assert_eq!(pinv["state"], "Connected");
    assert_eq!(pinv["_links"]["participant"]["title"], "Bob");
    // Bob is in everyone's roster exactly once.
    let roster: Value = i
        .server
        .call(Method::GET, &href(&i.alice_conversation, "participants"), &i.alice.app.token, None)
        .await
        .json()
        .await
        .unwrap();
    let bobs =
        roster["_embedded"]["participant"].as_array().unwrap().iter().filter(|p| p["uri"] == "sip:bob@example.com");
    assert_eq!(bobs.count(), 1);
    // Accepting an outgoing invitation is a conflict too.
    let own = i.alice.seen.iter().find(|e| e["link"]["rel"] == "onlineMeetingInvitation").unwrap();
    let own_accept = format!("{}/accept", own["link"]["href"].as_str().unwrap());
    assert_eq!(i.server.call(Method::POST, &own_accept, &i.alice.app.token, None).await.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn decline_tells_the_inviter_why() {
    let mut i = meeting_with_bob_outside(TestOptions::default()).await;
    add_participant(&i, json!({"to": "sip:bob@example.com"})).await;
    let got = i.bob1.until(&i.server, WAIT, |e| e["link"]["rel"] == "conversation").await;
    i.bob2.until(&i.server, WAIT, |e| e["link"]["rel"] == "conversation").await;
    let inv = embedded(&got, "onlineMeetingInvitation", "started").clone();
    // A bad reason is refused and changes nothing.
    let decline = href(&inv, "decline");
    let resp = i.server.call(Method::POST, &decline, &i.bob1.app.token, Some(json!({"reason": "NoThanks"}))).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.json::<Value>().await.unwrap()["parameters"]["reason"].is_string());
    // `Local` declines this application's copy only.
    let resp = i.server.call(Method::POST, &decline, &i.bob1.app.token, Some(json!({"reason": "Local"}))).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let got = i.bob1.until(&i.server, WAIT, |e| e["type"] == "deleted").await;
    assert_eq!(
        trace(&got),
        [
            "communication onlineMeetingInvitation completed Failed",
            "communication conversation updated Disconnected",
            "communication conversation deleted",
        ]
    );
    assert_eq!(got[0]["reason"]["code"], "LocalFailure");
    assert_eq!(got[0]["reason"]["subcode"], "Declined");
    let alice_got = i.alice.drain(&i.server).await;
    assert_eq!(
        trace(&alice_got),
        ["communication participantInvitation started Connecting"],
        "bob's other application still rings"
    );
    // The second declines for good: the inviter learns it was declined.
    let inv2 = embedded(&i.bob2.seen, "onlineMeetingInvitation", "started").clone();
    let resp = i
        .server
        .call(Method::POST, &href(&inv2, "decline"), &i.bob2.app.token, Some(json!({"reason": "Global"})))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let alice_got = i.alice.until(&i.server, WAIT, completed("participantInvitation")).await;
    let done = alice_got.last().unwrap();
    assert_eq!(done["status"], "Failure");
    assert_eq!(done["_embedded"]["participantInvitation"]["state"], "Failed");
    assert_eq!(done["reason"]["code"], "RemoteFailure");
    assert_eq!(done["reason"]["subcode"], "Declined");
    assert!(i.carol.drain(&i.server).await.iter().all(|e| e["link"]["rel"] != "participant"));
}

#[tokio::test]
async fn a_global_decline_ends_every_copy() {
    let mut i = meeting_with_bob_outside(TestOptions::default()).await;
    add_participant(&i, json!({"to": "sip:bob@example.com"})).await;
    let got = i.bob1.until(&i.server, WAIT, |e| e["link"]["rel"] == "conversation").await;
    let inv = embedded(&got, "onlineMeetingInvitation", "started").clone();
    let resp = i.server.call(Method::POST, &href(&inv, "decline"), &i.bob1.app.token, None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let other = i.bob2.until(&i.server, WAIT, |e| e["type"] == "deleted").await;
    assert_eq!(event(&other, "onlineMeetingInvitation", "completed")["status"], "Failure");
    let alice_got = i.alice.until(&i.server, WAIT, completed("participantInvitation")).await;
    assert_eq!(alice_got.last().unwrap()["reason"]["subcode"], "Declined");
}

#[tokio::test]
async fn unanswered_invitations_time_out_on_both_sides() {
    let mut options = TestOptions::default();
    options.limits.invitation_timeout_secs = 1;
    let mut i = meeting_with_bob_outside(options).await;
    add_participant(&i, json!({"to": "sip:bob@example.com", "operationId": "t"})).await;
    let bob_got = i.bob1.until(&i.server, WAIT, |e| e["type"] == "deleted").await;
    let bob_done = event(&bob_got, "onlineMeetingInvitation", "completed");
    assert_eq!(bob_done["status"], "Failure");
    assert_eq!(bob_done["reason"]["code"], "Timeout");
    assert_eq!(bob_done["reason"]["subcode"], "Missed");
    i.bob2.until(&i.server, WAIT, |e| e["type"] == "deleted").await;
    let alice_got = i.alice.until(&i.server, WAIT, completed("participantInvitation")).await;
    let done = alice_got.last().unwrap();
    assert_eq!(done["status"], "Failure");
    assert_eq!(done["reason"]["code"], "Timeout");
    assert_eq!(done["reason"]["subcode"], "Timeout");
    assert_eq!(done["_embedded"]["participantInvitation"]["operationId"], "t");
    let completions = i.alice.seen.iter().filter(|e| completed("participantInvitation")(e)).count();
    assert_eq!(completions, 1);
}

#[tokio::test]
async fn the_inviter_cancels_before_an_answer() {
    let mut i = meeting_with_bob_outside(TestOptions::default()).await;
    add_participant(&i, json!({"to": "sip:bob@example.com"})).await;
    let started = i.alice.until(&i.server, WAIT, |e| e["link"]["rel"] == "participantInvitation").await;
    let cancel = href(embedded(&started, "participantInvitation", "started"), "cancel");
    assert_eq!(i.server.call(Method::POST, &cancel, &i.alice.app.token, None).await.status(), StatusCode::NO_CONTENT);
    let bob_got = i.bob1.until(&i.server, WAIT, |e| e["type"] == "deleted").await;
    let bob_done = event(&bob_got, "onlineMeetingInvitation", "completed");
    assert_eq!(bob_done["status"], "Failure");
    assert_eq!(bob_done["reason"]["subcode"], "Canceled");
    let alice_got = i.alice.until(&i.server, WAIT, completed("participantInvitation")).await;
    assert_eq!(alice_got.last().unwrap()["reason"]["code"], "LocalFailure");
    assert_eq!(i.server.call(Method::POST, &cancel, &i.alice.app.token, None).await.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn unknown_and_offline_invitees() {
    let mut i = meeting_with_bob_outside(TestOptions::default()).await;
    // Not a user of this server: synchronous 404 DestinationNotFound, nothing started.
    let link = href(&i.alice_conversation, "addParticipant");
    let resp =
        i.server.call(Method::POST, &link, &i.alice.app.token, Some(json!({"to": "sip:nobody@example.com"}))).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.json::<Value>().await.unwrap()["subcode"], "DestinationNotFound");
    assert!(i.alice.drain(&i.server).await.is_empty());
    // A user with no application online: the invitation starts and fails at once.
    i.server.add_user("sip:dave@example.com", "Dave", "dave-password").await;
    add_participant(&i, json!({"to": "sip:dave@example.com"})).await;
    let got = i.alice.until(&i.server, WAIT, completed("participantInvitation")).await;
    assert_eq!(
        trace(&got),
        [
            "communication participantInvitation started Connecting",
            "communication participantInvitation completed Failed"
        ]
    );
    assert_eq!(got[1]["reason"]["code"], "RemoteFailure");
    assert_eq!(got[1]["reason"]["subcode"], "TemporarilyUnavailable");
}

#[tokio::test]
async fn add_participant_validates_every_field() {
    let i = meeting_with_bob_outside(TestOptions::default()).await;
    let link = href(&i.alice_conversation, "addParticipant");
    let url = link.split('?').next().unwrap().to_owned();
    let long_text = format!("data:text/plain;charset=utf-8,{}", "x".repeat(16 * 1024 + 1));
    let cases = [
        (link.clone(), json!({}), "to"),
        (link.clone(), json!({"to": "bob@example.com"}), "to"),
        (link.clone(), json!({"to": "sip:bob"}), "to"),
        (link.clone(), json!({"to": format!("sip:{}@example.com", "b".repeat(260))}), "to"),
        (link.clone(), json!({"to": "sip:bob@example.com", "operationId": "x".repeat(51)}), "operationId"),
        (link.clone(), json!({"to": "sip:bob@example.com", "subject": "x".repeat(251)}), "subject"),
        (link.clone(), json!({"to": "sip:bob@example.com", "importance": "Loud"}), "importance"),
        (link.clone(), json!({"to": "sip:bob@example.com", "message": "data:nocomma"}), "message"),
        (link.clone(), json!({"to": "sip:bob@example.com", "message": long_text}), "message"),
        (link.clone(), json!({"to": "sip:bob@example.com", "customContent": "plain words"}), "customContent"),
        (url.clone(), json!({"to": "sip:bob@example.com"}), "conversation"),
    ];
    for (url, body, field) in cases {
        let resp = i.server.call(Method::POST, &url, &i.alice.app.token, Some(body.clone())).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["subcode"], "ParameterValidationFailure");
        assert!(err["parameters"][field].is_string(), "{field} not named in {err}");
    }
    // Limits are inclusive.
    let ok = json!({"to": "sip:bob@example.com", "operationId": "x".repeat(50), "subject": "s".repeat(250)});
    assert_eq!(i.server.call(Method::POST, &link, &i.alice.app.token, Some(ok)).await.status(), StatusCode::CREATED);
    // An unknown conversation, and someone else's.
    let other = format!("{url}?conversation=doesnotexist");
    let resp =
        i.server.call(Method::POST, &other, &i.alice.app.token, Some(json!({"to": "sip:bob@example.com"}))).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = i.server.call(Method::POST, &link, &i.carol.app.token, Some(json!({"to": "sip:bob@example.com"}))).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn invitation_payloads_have_the_recorded_shapes() {
    let mut i = meeting_with_bob_outside(TestOptions::default()).await;
    add_participant(&i, invite_bob()).await;
    let started = i.alice.until(&i.server, WAIT, |e| e["link"]["rel"] == "participantInvitation").await;
    let (rec_props, rec_links) = shape(&recorded("Event_ParticipantInvitationStarted.json", "participantInvitation"));
    let (props, links) = shape(embedded(&started, "participantInvitation", "started"));
    assert!(props.is_superset(&rec_props), "{props:?} vs {rec_props:?}");
    assert!(links.is_superset(&rec_links));
    // The incoming invitation against the recorded incoming one (its TAP-only links aside).
    let got = i.bob1.until(&i.server, WAIT, |e| e["link"]["rel"] == "conversation").await;
    let inv = embedded(&got, "onlineMeetingInvitation", "started");
    let (mut rec_props, mut rec_links) = shape(&recorded("Event_IncomingIMCall.json", "messagingInvitation"));
    for tap_only in ["startAdhocMeeting", "acceptAndBridge"] {
        rec_links.remove(tap_only);
    }
    // The TAP recording's operationId is TAP's: UCWA's recorded incoming invitations carry none
    // (https://learn.microsoft.com/en-us/skype-sdk/ucwa/receiveanim, step 8).
    rec_props.remove("operationId");
    let (props, links) = shape(inv);
    assert!(props.is_superset(&rec_props), "missing {:?}", rec_props.difference(&props).collect::<Vec<_>>());
    assert!(links.is_superset(&rec_links), "missing {:?}", rec_links.difference(&links).collect::<Vec<_>>());
    assert_eq!(inv["state"], "Connecting");
    assert!(inv.get("operationId").is_none());
    assert!(inv["_embedded"]["from"]["_links"]["self"]["href"].is_string());
}
