//! The typed wire model of `ucwa-proto` covers everything the server sends: the main flows run
//! against the real server, and every response body, event batch and callback is read
//! strictly (an enumeration value, rel or resource kind the model lacks is an error) and must
//! write back as the same JSON (a property the model lacks would be lost). Hrefs built with
//! `ucwa_proto::paths` must equal the links the server hands out.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH, LOCATION};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use ucwa_proto::error::{ErrorBody, ErrorSubcode};
use ucwa_proto::model::{
    AdhocMeeting, AnonApplicationToken, Application, Communication, Conversation, Dashboard, Discover, Event,
    EventBatch, EventType, Hal, Me, MediaModality, Message, Messaging, MessagingInvitation, MyOnlineMeeting,
    OAuthError, OnlineMeeting, OnlineMeetingDefaultValues, OnlineMeetingEligibleValues, OnlineMeetingInvitation,
    Participant, ParticipantInvitation, Policies, Status, TokenResponse,
};
use ucwa_proto::paths::{self, AppHrefs, Prefix};
use ucwa_proto::values::{ConversationState, Direction, InvitationState};
use ucwa_proto::{AppId, RelName, SipUri, strict};
use ucwa_testkit::{CallbackReceiver, TestServer};

const WAIT: Duration = Duration::from_secs(15);
const ORIGIN: &str = "https://contoso.example";

/// Reads `value` strictly as `T` and checks that it writes back unchanged.
fn read<T: DeserializeOwned + Serialize>(what: &str, value: &Value) -> T {
    let typed: T =
        strict(|| serde_json::from_value(value.clone())).unwrap_or_else(|e| panic!("{what}: {e}\n{value:#}"));
    let back = serde_json::to_value(&typed).expect("serialize");
    assert_eq!(&back, value, "{what}: the model does not cover everything in it");
    typed
}

/// One client of the server: a bearer token and, for `psat` guests, a browser origin.
#[derive(Clone)]
struct Agent<'a> {
    server: &'a TestServer,
    token: String,
    origin: Option<&'static str>,
}

impl<'a> Agent<'a> {
    fn new(server: &'a TestServer, token: impl Into<String>) -> Self {
        Self { server, token: token.into(), origin: None }
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        let req = self.server.client.request(method, self.server.at(url)).bearer_auth(&self.token);
        match self.origin {
            Some(origin) => req.header("Origin", origin),
            None => req,
        }
    }

    async fn send(&self, req: RequestBuilder, expect: StatusCode) -> reqwest::Response {
        let resp = req.send().await.expect("request");
        let status = resp.status();
        if status != expect {
            let body = resp.text().await.unwrap_or_default();
            panic!("expected {expect}, got {status}: {body}");
        }
        resp
    }

    /// `GET url`: 200 and a resource named `rel`.
    async fn get<P: DeserializeOwned + Serialize>(&self, url: &str, rel: RelName) -> Hal<P> {
        let resp = self.send(self.request(Method::GET, url), StatusCode::OK).await;
        let hal: Hal<P> = read(url, &resp.json().await.expect("JSON"));
        assert_eq!(hal.rel.as_ref().map(|r| &r.name), Some(&rel), "GET {url}");
        hal
    }

    /// `POST url` with a JSON body: `expect` and the resource in the answer.
    async fn post_for<P: DeserializeOwned + Serialize>(&self, url: &str, body: Value, expect: StatusCode) -> Hal<P> {
        let resp = self.send(self.request(Method::POST, url).json(&body), expect).await;
        read(url, &resp.json().await.expect("JSON"))
    }

    /// `POST url`: an operation that starts with `201 Created`, a `Location` and no body.
    async fn start(&self, url: &str, body: Value) -> String {
        let resp = self.send(self.request(Method::POST, url).json(&body), StatusCode::CREATED).await;
        let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).expect("Location").to_owned();
        assert!(resp.bytes().await.expect("body").is_empty(), "POST {url} answered a body");
        location
    }

    /// `POST url` without a body: 204.
    async fn act(&self, url: &str) {
        let resp = self.send(self.request(Method::POST, url), StatusCode::NO_CONTENT).await;
        assert!(resp.bytes().await.expect("body").is_empty());
    }

    async fn delete(&self, url: &str) {
        self.send(self.request(Method::DELETE, url), StatusCode::NO_CONTENT).await;
    }

    /// A request that must fail with `expect` and a UCWA error body.
    async fn error(&self, req: RequestBuilder, expect: StatusCode) -> ErrorBody {
        let resp = self.send(req, expect).await;
        read("error body", &resp.json().await.expect("JSON"))
    }
}

/// An application's event channel, read the way a client follows it.
struct Channel<'a> {
    agent: Agent<'a>,
    url: String,
}

impl<'a> Channel<'a> {
    fn new(agent: &Agent<'a>, events_href: &str) -> Self {
        Self { agent: agent.clone(), url: paths::with_query(events_href, "timeout=1") }
    }

    /// One GET of the channel. On the manual clock a request that parks with nothing to
    /// deliver is answered by moving time one poll timeout (1 s), not by waiting for it.
    async fn poll(&self) -> reqwest::Response {
        let server = self.agent.server;
        let request = self.agent.send(self.agent.request(Method::GET, &self.url), StatusCode::OK);
        if !server.manual_clock() {
            return request.await;
        }
        // `.../applications/{id}/events?...`: the application whose request parks.
        let path = self.url.split('?').next().unwrap_or_default();
        let app_id = path.trim_end_matches("/events").rsplit('/').next().unwrap_or_default().to_owned();
        tokio::pin!(request);
        tokio::select! {
            resp = &mut request => return resp,
            _ = server.parked_id(&app_id) => {}
        }
        server.advance(std::time::Duration::from_secs(1)).await;
        request.await
    }

    /// Batches until an event satisfies `pred`; returns the events received meanwhile.
    async fn until(&mut self, pred: impl Fn(&Event) -> bool) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut got = Vec::new();
        loop {
            let resp = self.poll().await;
            let batch: EventBatch = read(&self.url, &resp.json().await.expect("JSON"));
            self.url = batch.continuation().expect("a next link").to_owned();
            let found = batch.events().any(|(_, e)| pred(e));
            got.extend(batch.events().map(|(_, e)| e.clone()));
            if found {
                return got;
            }
            assert!(tokio::time::Instant::now() < deadline, "no matching event; got {got:#?}");
        }
    }
}

fn is(e: &Event, name: RelName, kind: EventType) -> bool {
    e.link.rel.name == name && e.kind == kind
}

/// A participant added `in` the lobby.
fn enters_lobby(e: &Event) -> bool {
    is(e, RelName::Participant, EventType::Added) && e.in_.as_ref().is_some_and(|i| i.rel.name == RelName::Lobby)
}

/// The embedded resource of the last event about `name` of type `kind`.
fn last<P: ucwa_proto::model::Kind>(events: &[Event], name: RelName, kind: EventType) -> &Hal<P> {
    events
        .iter()
        .rev()
        .filter(|e| is(e, name.clone(), kind))
        .find_map(|e| e.resource_as::<P>())
        .unwrap_or_else(|| panic!("no {name} {kind:?} event in {events:#?}"))
}

fn href<P>(hal: &Hal<P>, name: RelName) -> String {
    hal.links.href(name.clone()).unwrap_or_else(|| panic!("no {name} link on {:?}", hal.rel)).to_owned()
}

async fn token(server: &TestServer, form: &[(&str, &str)]) -> TokenResponse {
    let resp = server.client.post(server.at(paths::TOKEN)).form(form).send().await.expect("token request");
    assert_eq!(resp.status(), StatusCode::OK);
    read("token", &resp.json().await.expect("JSON"))
}

/// A user signs in and creates an application.
async fn sign_in<'a>(server: &'a TestServer, uri: &str, name: &str) -> (Agent<'a>, Hal<Application>) {
    let password = format!("{name}-password");
    server.add_user(uri, name, &password).await;
    let token = token(server, &[("grant_type", "password"), ("username", uri), ("password", &password)]).await;
    assert_eq!(token.token_type, "Bearer");
    let agent = Agent::new(server, token.access_token);
    let body = json!({"UserAgent": "model", "EndpointId": format!("ep-{name}"), "Culture": "en-US"});
    let app = agent.post_for(&paths::applications(Prefix::User), body, StatusCode::CREATED).await;
    (agent, app)
}

fn communication(app: &Hal<Application>) -> &Hal<Communication> {
    app.embedded.one::<Communication>(RelName::Communication).expect("embedded communication")
}

async fn make_available<'a>(agent: &Agent<'a>, app: &Hal<Application>) -> Channel<'a> {
    let me = app.embedded.one::<Me>(RelName::Me).expect("embedded me");
    let resp = agent.request(Method::POST, &href(me, RelName::MakeMeAvailable)).json(&json!({"signInAs": "Online"}));
    agent.send(resp, StatusCode::NO_CONTENT).await;
    let mut channel = Channel::new(agent, &href(app, RelName::Events));
    let events = channel.until(|e| is(e, RelName::Communication, EventType::Updated)).await;
    let me = last::<Me>(&events, RelName::Me, EventType::Updated);
    assert!(me.links.href(RelName::ReportMyActivity).is_some());
    channel
}

/// The conversation behind an invitation event.
async fn conversation_of<P>(agent: &Agent<'_>, invitation: &Hal<P>) -> Hal<Conversation> {
    agent.get(&href(invitation, RelName::Conversation), RelName::Conversation).await
}

/// Reads every part of a conversation the way a client would.
async fn read_conversation(agent: &Agent<'_>, conversation: &Hal<Conversation>) {
    for part in [RelName::AudioVideo, RelName::ApplicationSharing, RelName::DataCollaboration] {
        let modality: Hal<MediaModality> = agent.get(&href(conversation, part.clone()), part).await;
        assert!(modality.links.href(RelName::Conversation).is_some());
    }
    let _: Hal<Messaging> = agent.get(&href(conversation, RelName::Messaging), RelName::Messaging).await;
    let _: Hal<OnlineMeeting> = agent.get(&href(conversation, RelName::OnlineMeeting), RelName::OnlineMeeting).await;
    for view in [RelName::Participants, RelName::Leaders, RelName::Attendees, RelName::Lobby] {
        let collection: Hal<Dashboard> = agent.get(&href(conversation, view.clone()), view).await;
        for p in collection.embedded.many::<Participant>(RelName::Participant) {
            // One's own participant answers as `localParticipant`.
            let rel = if p.props.local == Some(true) { RelName::LocalParticipant } else { RelName::Participant };
            let _: Hal<Participant> = agent.get(&href(p, RelName::SelfLink), rel).await;
        }
    }
    let local: Hal<Participant> =
        agent.get(&href(conversation, RelName::LocalParticipant), RelName::LocalParticipant).await;
    assert_eq!(local.props.local, Some(true));
}

#[tokio::test]
async fn ucwa_flows_are_covered_by_the_model() {
    let server = TestServer::start().await;

    // Discovery, and the user resource once signed in.
    let root: Hal<Dashboard> =
        read("root", &server.client.get(server.url.clone()).send().await.unwrap().json().await.unwrap());
    assert!(root.rel.is_none());
    let user_href = root.links.href(RelName::User).expect("user link").to_owned();
    assert!(user_href.ends_with(&paths::oauth_user()));
    let unauthenticated = server.client.get(&user_href).send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    let refused = server
        .client
        .post(server.at(paths::TOKEN))
        .form(&[("grant_type", "password"), ("username", "sip:nobody@example.com"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let refused: OAuthError = read("token refusal", &refused.json().await.unwrap());
    assert_eq!(refused.error, "invalid_grant");

    let (alice, alice_app) = sign_in(&server, "sip:alice@example.com", "Alice").await;
    let user: Hal<Dashboard> =
        read("user", &alice.request(Method::GET, &user_href).send().await.unwrap().json().await.unwrap());
    assert!(user.links.href(RelName::Applications).is_some_and(|h| h.ends_with(&paths::applications(Prefix::User))));

    // The application, its embedded resources and every dashboard, at the paths the table builds.
    let app_id: AppId = alice_app.props.id.clone().expect("application id");
    let hrefs = AppHrefs::new(Prefix::User, app_id);
    assert_eq!(alice_app.self_href(), Some(hrefs.application().as_str()));
    assert_eq!(alice_app.links.href(RelName::Events), Some(hrefs.events(1).as_str()));
    let again: Hal<Application> = alice.get(&hrefs.application(), RelName::Application).await;
    assert_eq!(again, alice_app);
    let _: Hal<Me> = alice.get(&hrefs.me(), RelName::Me).await;
    let comm: Hal<Communication> = alice.get(&hrefs.communication(), RelName::Communication).await;
    assert!(comm.put_guard.is_some());
    assert_eq!(comm.links.href(RelName::JoinOnlineMeeting), Some(hrefs.join_online_meeting().as_str()));
    assert_eq!(comm.links.href(RelName::StartOnlineMeeting), Some(hrefs.start_online_meeting().as_str()));
    assert_eq!(comm.links.href(RelName::Conversations), Some(hrefs.conversations().as_str()));
    for (path, rel) in paths::DASHBOARDS {
        if rel == RelName::Policies {
            let _: Hal<Policies> = alice.get(&hrefs.dashboard(path), rel).await;
        } else {
            let _: Hal<Dashboard> = alice.get(&hrefs.dashboard(path), rel).await;
        }
    }
    let online_meetings = alice_app.embedded.one::<Dashboard>(RelName::OnlineMeetings).expect("onlineMeetings");
    assert_eq!(online_meetings.links.href(RelName::MyOnlineMeetings), Some(hrefs.my_online_meetings().as_str()));
    let _: Hal<OnlineMeetingDefaultValues> = alice
        .get(&href(online_meetings, RelName::OnlineMeetingDefaultValues), RelName::OnlineMeetingDefaultValues)
        .await;
    let _: Hal<OnlineMeetingEligibleValues> = alice
        .get(&href(online_meetings, RelName::OnlineMeetingEligibleValues), RelName::OnlineMeetingEligibleValues)
        .await;
    let mut alice_events = make_available(&alice, &alice_app).await;

    // Scheduling: create, list, read, update.
    let body = json!({"subject": "Model", "accessLevel": "Locked"});
    let resp =
        alice.send(alice.request(Method::POST, &hrefs.my_online_meetings()).json(&body), StatusCode::CREATED).await;
    let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).expect("Location").to_owned();
    let meeting: Hal<MyOnlineMeeting> = read("new meeting", &resp.json().await.unwrap());
    assert_eq!(meeting.self_href(), Some(location.as_str()));
    let meeting_id = meeting.props.meeting.online_meeting_id.clone().expect("meeting id");
    assert_eq!(location, hrefs.my_online_meeting(&meeting_id));
    let list: Hal<Dashboard> = alice.get(&hrefs.my_online_meetings(), RelName::MyOnlineMeetings).await;
    assert_eq!(list.links.all(RelName::MyOnlineMeeting).len(), 1);
    let resp = alice.send(alice.request(Method::GET, &location), StatusCode::OK).await;
    let etag = resp.headers().get(ETAG).and_then(|v| v.to_str().ok()).expect("ETag").to_owned();
    let mut current: Value = resp.json().await.unwrap();
    let _: Hal<MyOnlineMeeting> = read("meeting", &current);
    current["subject"] = json!("Model, updated");
    let resp =
        alice.send(alice.request(Method::PUT, &location).header(IF_MATCH, etag).json(&current), StatusCode::OK).await;
    let updated: Hal<MyOnlineMeeting> = read("updated meeting", &resp.json().await.unwrap());
    assert_eq!(updated.props.meeting.subject.as_deref(), Some("Model, updated"));
    let meeting_uri = updated.props.meeting.online_meeting_uri.clone().expect("meeting URI");

    // Alice (the organizer) joins; Bob waits in the lobby until she admits him.
    let join = json!({"onlineMeetingUri": meeting_uri.as_str(), "operationId": "alice-join"});
    let invitation_href = alice.start(&hrefs.join_online_meeting(), join).await;
    let events = alice_events.until(|e| is(e, RelName::OnlineMeetingInvitation, EventType::Completed)).await;
    let alice_invitation =
        last::<OnlineMeetingInvitation>(&events, RelName::OnlineMeetingInvitation, EventType::Completed);
    assert_eq!(alice_invitation.self_href(), Some(invitation_href.as_str()));
    assert_eq!(alice_invitation.props.invitation.state, InvitationState::Connected);
    let _: Hal<OnlineMeetingInvitation> = alice.get(&invitation_href, RelName::OnlineMeetingInvitation).await;
    let alice_conversation = conversation_of(&alice, alice_invitation).await;
    assert_eq!(alice_conversation.props.state, ConversationState::Conferenced);

    let (bob, bob_app) = sign_in(&server, "sip:bob@other.example", "Bob").await;
    let mut bob_events = make_available(&bob, &bob_app).await;
    let join = json!({"onlineMeetingUri": meeting_uri.as_str(), "operationId": "bob-join", "subject": "Bob joins"});
    let bob_invitation_href = bob.start(&href(communication(&bob_app), RelName::JoinOnlineMeeting), join).await;
    let events = alice_events.until(enters_lobby).await;
    let waiting = last::<Participant>(&events, RelName::Participant, EventType::Added);
    assert_eq!(waiting.props.in_lobby, Some(true));
    let lobby: Hal<Dashboard> = alice.get(&href(&alice_conversation, RelName::Lobby), RelName::Lobby).await;
    assert_eq!(lobby.embedded.many::<Participant>(RelName::Participant).count(), 1);
    alice.act(&href(waiting, RelName::Admit)).await;
    let events = bob_events.until(|e| is(e, RelName::OnlineMeetingInvitation, EventType::Completed)).await;
    assert!(events.iter().any(|e| is(e, RelName::Conversation, EventType::Updated)
        && e.resource_as::<Conversation>().is_some_and(|c| c.props.state == ConversationState::InLobby)));
    let completed =
        events.iter().rev().find(|e| is(e, RelName::OnlineMeetingInvitation, EventType::Completed)).unwrap();
    assert_eq!(completed.status, Some(Status::Success));
    let bob_invitation: Hal<OnlineMeetingInvitation> =
        bob.get(&bob_invitation_href, RelName::OnlineMeetingInvitation).await;
    let bob_conversation = conversation_of(&bob, &bob_invitation).await;
    read_conversation(&alice, &alice_conversation).await;
    read_conversation(&bob, &bob_conversation).await;
    let conversations: Hal<Dashboard> =
        bob.get(&href(communication(&bob_app), RelName::Conversations), RelName::Conversations).await;
    assert_eq!(conversations.links.all(RelName::Conversation).len(), 1);

    // Messaging in the meeting.
    for (agent, conversation, channel) in
        [(&alice, &alice_conversation, &mut alice_events), (&bob, &bob_conversation, &mut bob_events)]
    {
        let messaging: Hal<Messaging> = agent.get(&href(conversation, RelName::Messaging), RelName::Messaging).await;
        let operation = agent.start(&href(&messaging, RelName::AddMessaging), json!({"operationId": "im"})).await;
        let _: Hal<MessagingInvitation> = agent.get(&operation, RelName::MessagingInvitation).await;
        channel.until(|e| is(e, RelName::MessagingInvitation, EventType::Completed)).await;
    }
    let messaging: Hal<Messaging> = alice.get(&href(&alice_conversation, RelName::Messaging), RelName::Messaging).await;
    let send = alice.request(Method::POST, &href(&messaging, RelName::SendMessage)).header(CONTENT_TYPE, "text/plain");
    let resp = alice.send(send.body("Hello, model"), StatusCode::CREATED).await;
    let message_href = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).expect("Location").to_owned();
    let sent: Hal<Message> = alice.get(&message_href, RelName::Message).await;
    assert_eq!(sent.props.direction, Direction::Outgoing);
    let events = bob_events.until(|e| is(e, RelName::Message, EventType::Completed)).await;
    let received = last::<Message>(&events, RelName::Message, EventType::Completed);
    assert_eq!(received.props.direction, Direction::Incoming);
    let text = href(received, RelName::PlainMessage);
    assert_eq!(ucwa_proto::encode::decode_data_uri(&text).map(|(_, t)| t).as_deref(), Some("Hello, model"));

    // Alice invites Carol, who accepts the incoming invitation.
    let (carol, carol_app) = sign_in(&server, "sip:carol@example.com", "Carol").await;
    let mut carol_events = make_available(&carol, &carol_app).await;
    let invite = json!({"to": "sip:carol@example.com", "operationId": "invite-carol", "message": "Join us"});
    let pinv_href = alice.start(&href(&alice_conversation, RelName::AddParticipant), invite).await;
    let _: Hal<ParticipantInvitation> = alice.get(&pinv_href, RelName::ParticipantInvitation).await;
    let events = carol_events.until(|e| is(e, RelName::OnlineMeetingInvitation, EventType::Started)).await;
    let incoming = last::<OnlineMeetingInvitation>(&events, RelName::OnlineMeetingInvitation, EventType::Started);
    assert_eq!(incoming.props.invitation.direction, Direction::Incoming);
    assert!(incoming.embedded.one::<Participant>(RelName::From).is_some());
    carol.act(&href(incoming, RelName::Accept)).await;
    carol_events.until(|e| is(e, RelName::OnlineMeetingInvitation, EventType::Completed)).await;
    let events = alice_events.until(|e| is(e, RelName::ParticipantInvitation, EventType::Completed)).await;
    let accepted = last::<ParticipantInvitation>(&events, RelName::ParticipantInvitation, EventType::Completed);
    assert!(accepted.embedded.many::<Participant>(RelName::AcceptedByParticipant).next().is_some());
    let _: Hal<ParticipantInvitation> = alice.get(&pinv_href, RelName::ParticipantInvitation).await;

    // A person-to-person conversation: Bob calls Carol, she answers, they talk, Bob hangs up.
    let call = json!({"to": "sip:carol@example.com", "operationId": "call", "message": "Hi Carol"});
    let call_href = bob.start(&href(communication(&bob_app), RelName::StartMessaging), call).await;
    let _: Hal<MessagingInvitation> = bob.get(&call_href, RelName::MessagingInvitation).await;
    let events = carol_events.until(|e| is(e, RelName::MessagingInvitation, EventType::Started)).await;
    let ringing = last::<MessagingInvitation>(&events, RelName::MessagingInvitation, EventType::Started);
    assert!(ringing.links.href(RelName::Message).is_some());
    carol.act(&href(ringing, RelName::Accept)).await;
    let call_conversation = conversation_of(&carol, ringing).await;
    carol_events.until(|e| is(e, RelName::MessagingInvitation, EventType::Completed)).await;
    let messaging: Hal<Messaging> = carol.get(&href(&call_conversation, RelName::Messaging), RelName::Messaging).await;
    let send = carol.request(Method::POST, &href(&messaging, RelName::SendMessage)).header(CONTENT_TYPE, "text/html");
    carol.send(send.body("<b>Hi</b> Bob"), StatusCode::CREATED).await;
    bob_events
        .until(|e| {
            is(e, RelName::Message, EventType::Completed)
                && e.resource_as::<Message>().is_some_and(|m| m.links.href(RelName::HtmlMessage).is_some())
        })
        .await;
    let bob_call = bob.get::<MessagingInvitation>(&call_href, RelName::MessagingInvitation).await;
    bob.delete(&href(&bob_call, RelName::Conversation)).await;
    carol_events.until(|e| is(e, RelName::Conversation, EventType::Deleted)).await;

    // An anonymous guest waits in the lobby and is rejected.
    let guest_token = token(
        &server,
        &[
            ("grant_type", "urn:microsoft.rtc:anonmeeting"),
            ("password", &meeting_id),
            ("ms_rtc_conferenceuri", meeting_uri.as_str()),
        ],
    )
    .await;
    let guest = Agent::new(&server, guest_token.access_token);
    let user: Hal<Dashboard> =
        read("guest user", &guest.request(Method::GET, &user_href).send().await.unwrap().json().await.unwrap());
    let body = json!({"UserAgent": "model", "EndpointId": "guest", "Culture": "en-US"});
    let guest_app: Hal<Application> =
        guest.post_for(&href(&user, RelName::Applications), body, StatusCode::CREATED).await;
    let mut guest_events = Channel::new(&guest, &href(&guest_app, RelName::Events));
    let join =
        json!({"onlineMeetingUri": meeting_uri.as_str(), "operationId": "guest", "anonymousDisplayName": "Guest"});
    guest.start(&href(communication(&guest_app), RelName::JoinOnlineMeeting), join).await;
    let events = alice_events.until(enters_lobby).await;
    let waiting = last::<Participant>(&events, RelName::Participant, EventType::Added);
    assert_eq!(waiting.props.anonymous, Some(true));
    alice.act(&href(waiting, RelName::Reject)).await;
    let events = guest_events.until(|e| is(e, RelName::Conversation, EventType::Deleted)).await;
    let failed =
        events.iter().find(|e| is(e, RelName::OnlineMeetingInvitation, EventType::Completed)).expect("completed");
    assert_eq!(failed.status, Some(Status::Failure));
    assert_eq!(failed.reason.as_ref().and_then(|r| r.subcode.clone()), Some(ErrorSubcode::Denied));

    // Errors and the resync answer.
    let missing = alice
        .error(alice.request(Method::GET, &hrefs.conversation(&"nope".parse().unwrap())), StatusCode::NOT_FOUND)
        .await;
    assert_eq!(missing.code, ucwa_proto::error::ErrorCode::NotFound);
    let bad = alice
        .error(
            alice.request(Method::POST, &hrefs.join_online_meeting()).json(&json!({"operationId": "x".repeat(51)})),
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(bad.parameters.is_some_and(|p| p.contains_key("operationId")));
    let resp = alice.send(alice.request(Method::GET, &hrefs.events(999)), StatusCode::OK).await;
    let resync: EventBatch = read("resync", &resp.json().await.unwrap());
    assert!(resync.sender.is_none() && resync.links.href(RelName::Resync).is_some());

    // Bob leaves; deleting the meeting ends it for Alice.
    bob.delete(&href(&bob_conversation, RelName::SelfLink)).await;
    alice_events.until(|e| is(e, RelName::Participant, EventType::Deleted)).await;
    alice.delete(&location).await;
    let events = alice_events.until(|e| is(e, RelName::Conversation, EventType::Deleted)).await;
    let ended = events.iter().rev().find(|e| is(e, RelName::Conversation, EventType::Deleted)).unwrap();
    assert_eq!(ended.reason.as_ref().and_then(|r| r.subcode.clone()), Some(ErrorSubcode::Ended));
}

const BOT: &str = "sip:bot@contoso.com";
const QUIET_BOT: &str = "sip:quiet@contoso.com";
const SECRET: &str = "bot-client-secret-0123456789";

/// A service application signs in and walks from `discover` to its application.
async fn service_sign_in<'a>(
    server: &'a TestServer,
    uri: &str,
    callback: Option<&str>,
) -> (Agent<'a>, Hal<Application>) {
    server.add_service_app(uri, "Bot", SECRET, callback).await;
    let token =
        token(server, &[("grant_type", "client_credentials"), ("client_id", uri), ("client_secret", SECRET)]).await;
    let bot = Agent::new(server, token.access_token);
    let discover: Hal<Discover> = bot.get(&paths::platform_discover(None), RelName::Discover).await;
    assert!(discover.rel.as_ref().is_some_and(|r| r.prefixed));
    let endpoint = SipUri::parse(uri).unwrap();
    let applications_href = paths::with_query(
        discover.links.href(RelName::Applications).expect("applications link"),
        &format!("endpointId={}", paths::query_value(uri)),
    );
    assert!(applications_href.ends_with(&paths::platform_applications(Some(&endpoint))));
    let applications: Hal<Dashboard> = bot.get(&applications_href, RelName::Applications).await;
    let app: Hal<Application> = bot.get(&href(&applications, RelName::Application), RelName::Application).await;
    (bot, app)
}

/// The application id in a service application's `self` href (it has no `id` property).
fn service_hrefs(app: &Hal<Application>, endpoint: &str) -> AppHrefs {
    let self_href = app.self_href().expect("self");
    let id = self_href.split('?').next().and_then(|p| p.rsplit('/').next()).expect("application id");
    AppHrefs::service(id.parse().expect("valid id"), &SipUri::parse(endpoint).unwrap())
}

/// Every callback the receiver got so far, read strictly.
fn callbacks(receiver: &CallbackReceiver) -> Vec<EventBatch> {
    receiver.requests().iter().map(|r| read("callback", &r.json())).collect()
}

fn callback_events(receiver: &CallbackReceiver) -> Vec<Event> {
    callbacks(receiver).iter().flat_map(|b| b.events().map(|(_, e)| e.clone()).collect::<Vec<_>>()).collect()
}

async fn wait_for_callback(receiver: &CallbackReceiver, pred: impl Fn(&Event) -> bool) -> Vec<Event> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let events = callback_events(receiver);
        if events.iter().any(&pred) {
            return events;
        }
        assert!(tokio::time::Instant::now() < deadline, "no matching callback; got {events:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn service_application_flows_are_covered_by_the_model() {
    let server = TestServer::start().await;
    let receiver = CallbackReceiver::start().await;
    let (bot, app) = service_sign_in(&server, BOT, Some(&receiver.url)).await;
    let hrefs = service_hrefs(&app, BOT);
    assert_eq!(app.self_href(), Some(hrefs.application().as_str()));
    assert_eq!(app.links.href(RelName::AnonApplicationTokens), Some(hrefs.anon_application_tokens().as_str()));
    let comm: Hal<Communication> = bot.get(&hrefs.communication(), RelName::Communication).await;
    assert_eq!(comm.links.href(RelName::JoinOnlineMeeting), Some(hrefs.join_online_meeting().as_str()));
    let adhoc = app.embedded.one::<Dashboard>(RelName::AdhocMeetings).expect("adhocMeetings");
    assert_eq!(adhoc.self_href(), Some(hrefs.adhoc_meetings().as_str()));
    let _: Hal<Dashboard> = bot.get(&hrefs.adhoc_meetings(), RelName::AdhocMeetings).await;

    // An ad hoc meeting, read back, listed, and trusted-joined with callbacks.
    let body = json!({"subject": "Bot meeting", "accessLevel": "Locked"});
    let meeting: Hal<AdhocMeeting> = bot.post_for(&hrefs.adhoc_meetings(), body, StatusCode::OK).await;
    let again: Hal<AdhocMeeting> = bot.get(&href(&meeting, RelName::SelfLink), RelName::AdhocMeeting).await;
    assert_eq!(again.props, meeting.props);
    let meeting_uri = meeting.props.meeting.online_meeting_uri.clone().expect("meeting URI");
    let join_href = href(&meeting, RelName::JoinAdhocMeeting);
    assert!(join_href.ends_with(&hrefs.join_adhoc_meeting(&meeting_uri)));
    let mine: Hal<Dashboard> = bot.get(&hrefs.platform_my_online_meetings(), RelName::MyOnlineMeetings).await;
    assert_eq!(mine.links.all(RelName::AdhocMeeting).len(), 1);
    bot.start(&join_href, json!({"operationId": "trusted", "callbackUrl": receiver.url})).await;
    let events = wait_for_callback(&receiver, |e| is(e, RelName::OnlineMeetingInvitation, EventType::Completed)).await;
    assert!(callbacks(&receiver).iter().any(|b| b.sender.as_ref().is_some_and(Vec::is_empty)), "a heartbeat");
    let invitation = last::<OnlineMeetingInvitation>(&events, RelName::OnlineMeetingInvitation, EventType::Completed);
    assert!(invitation.rel.as_ref().is_some_and(|r| r.prefixed));
    let bot_conversation = conversation_of(&bot, invitation).await;

    // A guest with a psat token joins from the browser origin and waits; the bot admits.
    let token_body = json!({
        "applicationSessionId": "guest-1",
        "allowedOrigins": ORIGIN,
        "meetingUrl": meeting.props.meeting.join_url.clone().expect("join URL"),
    });
    let psat: Hal<AnonApplicationToken> =
        bot.post_for(&hrefs.anon_application_tokens(), token_body, StatusCode::OK).await;
    let guest = Agent { server: &server, token: psat.props.token.clone(), origin: Some(ORIGIN) };
    let discover: Hal<Discover> = guest.get(&href(&psat, RelName::Discover), RelName::Discover).await;
    assert_eq!(discover.props.online_meeting_uri.as_ref(), Some(&meeting_uri));
    let body = json!({"anonymousDisplayName": "John Doe", "userAgent": "browser", "culture": "en-us"});
    let guest_app: Hal<Application> =
        guest.post_for(&href(&discover, RelName::AnonApplications), body, StatusCode::CREATED).await;
    let guest_id = guest_app.props.id.clone().expect("guest application id");
    assert_eq!(guest_app.self_href(), Some(AppHrefs::new(Prefix::PsAnon, guest_id).application().as_str()));
    let mut guest_events = Channel::new(&guest, &href(&guest_app, RelName::Events));
    let join =
        json!({"onlineMeetingUri": meeting_uri.as_str(), "operationId": "g", "anonymousDisplayName": "John Doe"});
    guest.start(&href(communication(&guest_app), RelName::JoinOnlineMeeting), join).await;
    let events = wait_for_callback(&receiver, enters_lobby).await;
    let waiting = last::<Participant>(&events, RelName::Participant, EventType::Added);
    let _: Hal<Participant> = bot.get(&href(waiting, RelName::SelfLink), RelName::Participant).await;
    bot.act(&href(waiting, RelName::Admit)).await;
    let events = guest_events.until(|e| is(e, RelName::OnlineMeetingInvitation, EventType::Completed)).await;
    let guest_invitation =
        last::<OnlineMeetingInvitation>(&events, RelName::OnlineMeetingInvitation, EventType::Completed);
    read_conversation(&guest, &conversation_of(&guest, guest_invitation).await).await;
    wait_for_callback(&receiver, |e| {
        is(e, RelName::Participant, EventType::Added)
            && e.in_.as_ref().is_some_and(|i| i.rel.name == RelName::Attendees)
    })
    .await;

    // The bot reads its own (hidden, trusted) conversation in the service namespace.
    for view in [RelName::Participants, RelName::Leaders, RelName::Attendees, RelName::Lobby] {
        let _: Hal<Dashboard> = bot.get(&href(&bot_conversation, view.clone()), view).await;
    }
    let _: Hal<OnlineMeeting> = bot.get(&href(&bot_conversation, RelName::OnlineMeeting), RelName::OnlineMeeting).await;
    let _: Hal<Dashboard> = bot.get(&hrefs.conversations(), RelName::Conversations).await;

    // A service application without a callback URL long-polls instead.
    let (quiet, quiet_app) = service_sign_in(&server, QUIET_BOT, None).await;
    let quiet_hrefs = service_hrefs(&quiet_app, QUIET_BOT);
    let meeting: Hal<AdhocMeeting> = quiet.post_for(&quiet_hrefs.adhoc_meetings(), json!({}), StatusCode::OK).await;
    quiet.start(&href(&meeting, RelName::JoinAdhocMeeting), json!({"operationId": "poll"})).await;
    let mut quiet_events = Channel::new(&quiet, &quiet_hrefs.events(1));
    let events = quiet_events.until(|e| is(e, RelName::OnlineMeetingInvitation, EventType::Completed)).await;
    assert!(events.iter().all(|e| e.link.rel.prefixed));
}
