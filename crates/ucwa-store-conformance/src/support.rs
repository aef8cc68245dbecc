//! Building blocks of the cases: applications, events, meetings and the steps that change
//! them the way the server does (apply a command, forget who left, save with
//! compare-and-swap).

use serde_json::json;
use ucwa_core::Store;
use ucwa_core::channel::{ChannelLimits, Priority};
use ucwa_core::meeting::{
    Call, Command, Identity, InvitationKind, InvitationRequest, Invitee, Join, Meeting, MeetingSettings, Surface,
};
use ucwa_core::model::{AppKind, Application, MeetingRecord, NewApplication, NewEvent, StoredEvent};
use ucwa_core::service::CallbackRoute;
use ucwa_core::store::PollClaim;

/// The instant the cases start at (14 November 2023), so retention arithmetic looks real.
pub const T0: i64 = 1_700_000_000_000;
pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 24 * HOUR;
/// How long a lobby wait lasts in the cases.
pub const LOBBY_TIMEOUT_MS: u64 = 60_000;
pub const ORGANIZER: &str = "sip:org@example.com";

/// What `POST applications` would ask for: application `id` of `sip:<id>@example.com`, with
/// endpoint id `id`.
pub fn new_application(id: &str, kind: AppKind) -> NewApplication {
    NewApplication {
        id: id.into(),
        owner_uri: format!("sip:{id}@example.com"),
        anonymous: false,
        display_name: id.to_uppercase(),
        endpoint_id: id.into(),
        user_agent: "conformance".into(),
        culture: "en-US".into(),
        instance_id: None,
        kind,
    }
}

/// Creates an application of `kind` at `now_ms`.
pub async fn application_of_kind(store: &dyn Store, id: &str, kind: AppKind, now_ms: i64) -> Application {
    let (app, created) = store
        .create_application(&new_application(id, kind), ChannelLimits::default().defaults(), now_ms)
        .await
        .unwrap();
    assert!(created, "application {id} is new");
    app
}

/// Creates a UCWA application at [`T0`].
pub async fn application(store: &dyn Store, id: &str) -> Application {
    application_of_kind(store, id, AppKind::Ucwa, T0).await
}

/// An event for `app`'s log, recognisable by `tag`.
pub fn event(app: &str, tag: u64) -> NewEvent {
    NewEvent {
        app_id: app.into(),
        priority: Priority::High,
        sender_rel: "communication".into(),
        sender_href: format!("/ucwa/oauth/v1/applications/{app}/communication"),
        body: json!({ "link": { "rel": "conversation" }, "type": "updated", "tag": tag }),
        conversation: None,
    }
}

/// An event about `conversation` (a session id) for `app`.
pub fn conversation_event(app: &str, conversation: &str, tag: u64) -> NewEvent {
    NewEvent { conversation: Some(conversation.into()), ..event(app, tag) }
}

/// The event's body, parsed.
pub fn body(event: &StoredEvent) -> serde_json::Value {
    serde_json::from_str(event.body.get()).expect("a stored body is JSON")
}

pub fn tags(events: &[StoredEvent]) -> Vec<u64> {
    events.iter().map(|e| body(e)["tag"].as_u64().expect("a tagged event")).collect()
}

pub fn seqs(events: &[StoredEvent]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

/// Every event of `app`'s log, acknowledged or not, in order.
pub async fn log(store: &dyn Store, app: &str) -> Vec<StoredEvent> {
    store.events_after(app, 0, 1_000_000).await.unwrap()
}

/// The ticket of a claim of `app`'s channel ([`Store::claim_poll`]) that reads no events.
pub async fn claim(store: &dyn Store, app: &str, priority: u32, now_ms: i64, until_ms: i64) -> Option<u64> {
    let claim = PollClaim { priority, now_ms, until_ms };
    store.claim_poll(app, claim, 0, 0).await.unwrap().map(|(ticket, events)| {
        assert!(events.is_empty(), "a claim read more events than it asked for");
        ticket
    })
}

/// Runs the store's acknowledgement cleanup until it reports nothing more to delete.
pub async fn delete_all_acknowledged(store: &dyn Store) {
    for _ in 0..1_000 {
        if !store.delete_acknowledged_events(1_000).await.unwrap().more {
            return;
        }
    }
    panic!("acknowledged events kept coming");
}

pub fn user(uri: &str) -> Identity {
    Identity { uri: uri.into(), display_name: uri.into(), anonymous: false, trusted: false, surface: Surface::Ucwa }
}

/// A meeting record as the server creates it, with `settings`.
pub fn record(meeting: Meeting, created_ms: i64) -> MeetingRecord {
    let join_url = format!("https://meet.example.com/org/{}", meeting.id());
    MeetingRecord { meeting, join_url, created_ms, settings_revision: 0, pending: Vec::new() }
}

/// A conference organized by [`ORGANIZER`] that anyone may enter, expiring at `expiration_ms`.
pub fn conference(id: &str, expiration_ms: i64, created_ms: i64) -> MeetingRecord {
    let settings = MeetingSettings {
        access_level: ucwa_core::meeting::AccessLevel::Everyone,
        ..MeetingSettings::new(ORGANIZER, expiration_ms)
    };
    record(Meeting::new(id, settings), created_ms)
}

/// An empty person-to-person conversation started by [`ORGANIZER`].
pub fn two_party(id: &str, created_ms: i64) -> MeetingRecord {
    record(Meeting::two_party(id, MeetingSettings::new(ORGANIZER, created_ms + 8 * HOUR)), created_ms)
}

/// `session` of application `app` joins as `uri`.
pub fn join(session: &str, app: &str, uri: &str) -> Command {
    Join {
        session_id: session.into(),
        app_id: app.into(),
        identity: user(uri),
        invitation: InvitationRequest::outgoing(format!("inv-{session}")),
        lobby_timeout_ms: LOBBY_TIMEOUT_MS,
    }
    .into()
}

/// `session` of `app` (as [`ORGANIZER`]) calls `callee_session` of `callee_app`.
pub fn call(session: &str, app: &str, callee_session: &str, callee_app: &str) -> Command {
    let callee = "sip:callee@example.com";
    let invitation = InvitationRequest {
        kind: InvitationKind::Messaging,
        to: Some(callee.into()),
        ..InvitationRequest::outgoing(session)
    };
    let invitee = Invitee { session_id: callee_session.into(), app_id: callee_app.into(), identity: user(callee) };
    Command::Call(Box::new(Call {
        session_id: session.into(),
        app_id: app.into(),
        identity: user(ORGANIZER),
        invitation,
        invitees: vec![invitee],
        answer_timeout_ms: 30_000,
    }))
}

pub fn leave(session: &str) -> Command {
    Command::Leave { session: session.into() }
}

/// Applies `cmd` to `record` at `now_ms`, forgets the sessions that ended (as the server
/// does), and saves it with `events` against the version it had. Returns what the store
/// answered.
pub async fn change(
    store: &dyn Store,
    record: &mut MeetingRecord,
    cmd: Command,
    events: Vec<NewEvent>,
    now_ms: i64,
) -> bool {
    let before = record.meeting.clone();
    record.meeting.handle(cmd, now_ms).expect("the command applies");
    forget_disconnected(&mut record.meeting, now_ms);
    store.save_meeting(record, &before, events, now_ms).await.unwrap()
}

/// [`change`], which must succeed.
pub async fn apply(store: &dyn Store, record: &mut MeetingRecord, cmd: Command, now_ms: i64) {
    assert!(change(store, record, cmd, Vec::new(), now_ms).await, "the save is not stale");
}

/// Like [`apply`] but keeps disconnected sessions (their rows stay, not live).
pub async fn apply_keeping_disconnected(store: &dyn Store, record: &mut MeetingRecord, cmd: Command, now_ms: i64) {
    let before = record.meeting.clone();
    record.meeting.handle(cmd, now_ms).expect("the command applies");
    assert!(store.save_meeting(record, &before, Vec::new(), now_ms).await.unwrap());
}

fn forget_disconnected(meeting: &mut Meeting, now_ms: i64) {
    let ended: Vec<String> =
        meeting.sessions().iter().filter(|(_, s)| !s.is_live()).map(|(id, _)| id.clone()).collect();
    for session in ended {
        meeting.handle(Command::Forget { session }, now_ms).expect("a disconnected session can be forgotten");
    }
}

/// A callback route of `session` (a conversation of service application `app`).
pub fn route(session: &str, app: &str, url: Option<&str>, created_ms: i64) -> CallbackRoute {
    CallbackRoute {
        session_id: session.into(),
        app_id: app.into(),
        url: url.map(str::to_owned),
        context: Some(format!("ctx-{session}")),
        base_uri: "https://ucwa.example.com".into(),
        attempts: 0,
        next_attempt_ms: 0,
        delivered: 0,
        created_ms,
        batch_through: None,
    }
}

pub const CALLBACK_URL: &str = "https://bot.example.com/callback";
