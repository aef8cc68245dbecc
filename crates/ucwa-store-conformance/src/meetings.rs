//! Meetings: records read back as stored, compare-and-swap saves that write only what
//! changed, deletion at a version, where sessions live, and lobby deadlines.

use std::collections::BTreeMap;

use ucwa_core::DynStore;
use ucwa_core::meeting::{AccessLevel, Command, ConversationState, Meeting, MeetingSettings, Session};
use ucwa_core::model::MeetingRecord;
use ucwa_core::store::{MeetingSince, SessionLocation, StoreError};

use crate::support::*;

pub async fn a_new_meeting_reads_back_as_stored(store: DynStore) {
    let first = conference("m1", T0 + DAY, T0);
    let second = conference("m2", T0 + DAY, T0 + 1);
    let mut elsewhere = conference("m3", T0 + DAY, T0);
    elsewhere.meeting = Meeting::new("m3", MeetingSettings::new("sip:other@example.com", T0 + DAY));
    let chat = two_party("c1", T0 + 2);
    // Inserted out of order: the listing is by creation.
    for record in [&second, &elsewhere, &chat, &first] {
        store.insert_meeting(record).await.unwrap();
    }
    assert_eq!(store.meeting("m1").await.unwrap().as_ref(), Some(&first));
    assert_eq!(store.meeting("c1").await.unwrap().as_ref(), Some(&chat), "the kind is kept");
    assert_eq!(store.meeting_version("m1").await.unwrap(), Some(0));
    assert_eq!(store.meeting("nope").await.unwrap(), None);
    assert_eq!(store.meeting_version("nope").await.unwrap(), None);
    let mine = store.meetings_organized_by(ORGANIZER, 10).await.unwrap();
    assert_eq!(mine, [first, second.clone()], "the organizer's conferences, oldest first; no two-party conversations");
    let newest = store.meetings_organized_by(ORGANIZER, 1).await.unwrap();
    assert_eq!(newest, [second], "the limit keeps the newest");
}

/// A node that saves against a version someone else already replaced loses, and neither
/// its state nor its events are stored.
pub async fn a_stale_save_loses_and_appends_nothing(store: DynStore) {
    for app in ["app-org", "app-col"] {
        application(&*store, app).await;
    }
    let mut current = conference("m1", T0 + DAY, T0);
    store.insert_meeting(&current).await.unwrap();
    let stale = current.clone();
    assert!(change(&*store, &mut current, join("org", "app-org", ORGANIZER), vec![event("app-org", 1)], T0).await);
    assert_eq!(store.meeting_version("m1").await.unwrap(), Some(1));

    let mut late = stale.clone();
    let cmd = join("col", "app-col", "sip:col@example.com");
    assert!(!change(&*store, &mut late, cmd, vec![event("app-col", 2)], T0).await, "stale before loses");
    assert_eq!(store.meeting("m1").await.unwrap().as_ref(), Some(&current));
    assert!(log(&*store, "app-col").await.is_empty(), "the loser's events were not appended");
    assert_eq!(tags(&log(&*store, "app-org").await), [1]);
}

/// A node holding a copy at some version gets the meeting again, sessions and all, only
/// when the stored version has moved; a deleted meeting is gone.
pub async fn a_meeting_is_read_again_only_when_its_version_moved(store: DynStore) {
    let mut current = conference("m1", T0 + DAY, T0);
    store.insert_meeting(&current).await.unwrap();
    let copy = current.clone();
    assert!(matches!(store.meeting_if_changed("m1", 0).await.unwrap(), MeetingSince::Unchanged));
    apply(&*store, &mut current, join("org", "app-org", ORGANIZER), T0).await;
    apply(&*store, &mut current, join("col", "app-col", "sip:col@example.com"), T0).await;
    match store.meeting_if_changed("m1", copy.meeting.version()).await.unwrap() {
        MeetingSince::Changed(newer) => assert_eq!(*newer, current, "the meeting as stored, with both sessions"),
        other => panic!("a copy two versions behind was {other:?}"),
    }
    let version = current.meeting.version();
    assert!(matches!(store.meeting_if_changed("m1", version).await.unwrap(), MeetingSince::Unchanged));
    assert!(store.delete_meeting("m1", version, Vec::new(), T0).await.unwrap());
    assert!(matches!(store.meeting_if_changed("m1", version).await.unwrap(), MeetingSince::Gone));
    assert!(matches!(store.meeting_if_changed("nope", 0).await.unwrap(), MeetingSince::Gone));
}

/// Only new and changed sessions are written. Made observable by saving against a `before`
/// at the right version whose copy of an untouched session differs from the stored one: a
/// store that rewrote untouched sessions would store that copy.
pub async fn a_save_writes_only_the_sessions_that_changed(store: DynStore) {
    let mut current = conference("m1", T0 + DAY, T0);
    store.insert_meeting(&current).await.unwrap();
    apply(&*store, &mut current, join("org", "app-org", ORGANIZER), T0).await;
    apply(&*store, &mut current, join("col", "app-col", "sip:col@example.com"), T0).await;
    let stored = store.meeting("m1").await.unwrap().unwrap();

    let mut sessions: BTreeMap<String, Session> =
        stored.meeting.sessions().iter().map(|(id, s)| (id.clone(), (**s).clone())).collect();
    sessions.get_mut("org").unwrap().identity.display_name = "written by mistake".into();
    let m = &stored.meeting;
    let before =
        Meeting::restore(m.id(), m.settings().clone(), sessions, m.is_ended(), m.version()).with_kind(m.kind());
    let mut after = MeetingRecord { meeting: before.clone(), ..stored.clone() };
    after.meeting.handle(join("late", "app-late", "sip:late@example.com"), T0 + 1).unwrap();
    assert!(store.save_meeting(&after, &before, Vec::new(), T0 + 1).await.unwrap());

    let reloaded = store.meeting("m1").await.unwrap().unwrap();
    assert_eq!(reloaded.meeting.version(), after.meeting.version());
    assert_eq!(reloaded.meeting.session("org"), stored.meeting.session("org"), "an untouched session is not rewritten");
    assert_eq!(reloaded.meeting.session("late"), after.meeting.session("late"), "a new session is written");
    assert_eq!(reloaded.meeting.session("col"), stored.meeting.session("col"));
}

pub async fn forgotten_sessions_are_deleted(store: DynStore) {
    let mut current = conference("m1", T0 + DAY, T0);
    store.insert_meeting(&current).await.unwrap();
    apply(&*store, &mut current, join("org", "app-org", ORGANIZER), T0).await;
    apply(&*store, &mut current, join("col", "app-col", "sip:col@example.com"), T0).await;
    apply(&*store, &mut current, leave("col"), T0 + 1).await;
    let reloaded = store.meeting("m1").await.unwrap().unwrap();
    assert_eq!(reloaded, current);
    assert!(reloaded.meeting.session("col").is_none());
    assert_eq!(store.session_location("col").await.unwrap(), None);
    assert!(store.sessions_of_application("app-col").await.unwrap().is_empty());
}

pub async fn a_meeting_is_deleted_only_at_its_version(store: DynStore) {
    application(&*store, "app-org").await;
    let mut current = conference("m1", T0 + DAY, T0);
    store.insert_meeting(&current).await.unwrap();
    apply(&*store, &mut current, join("org", "app-org", ORGANIZER), T0).await;
    let goodbye = || vec![event("app-org", 7)];
    assert!(!store.delete_meeting("m1", 0, goodbye(), T0 + 1).await.unwrap(), "an old version does not delete");
    assert_eq!(store.meeting("m1").await.unwrap().as_ref(), Some(&current));
    assert!(log(&*store, "app-org").await.is_empty(), "nor append");
    assert!(store.delete_meeting("m1", 1, goodbye(), T0 + 1).await.unwrap());
    assert_eq!(store.meeting("m1").await.unwrap(), None);
    assert_eq!(store.meeting_version("m1").await.unwrap(), None);
    assert_eq!(store.session_location("org").await.unwrap(), None, "its sessions went with it");
    assert_eq!(tags(&log(&*store, "app-org").await), [7], "the goodbyes were appended");
    assert!(!store.delete_meeting("m1", 1, goodbye(), T0 + 2).await.unwrap(), "gone already");
}

pub async fn sessions_are_located_and_listed_per_application(store: DynStore) {
    let mut current = conference("m1", T0 + DAY, T0);
    store.insert_meeting(&current).await.unwrap();
    apply(&*store, &mut current, join("s1", "a1", ORGANIZER), T0).await;
    apply(&*store, &mut current, join("s2", "a2", "sip:two@example.com"), T0).await;
    apply(&*store, &mut current, join("s3", "a1", ORGANIZER), T0).await;
    let location =
        |s: &str, app: &str| SessionLocation { session_id: s.into(), meeting_id: "m1".into(), app_id: app.into() };
    assert_eq!(store.session_location("s1").await.unwrap(), Some(location("s1", "a1")));
    assert_eq!(store.session_location("nope").await.unwrap(), None);
    let mut of_a1 = store.sessions_of_application("a1").await.unwrap();
    of_a1.sort_by(|x, y| x.session_id.cmp(&y.session_id));
    assert_eq!(of_a1, [location("s1", "a1"), location("s3", "a1")]);
    // A disconnected session not yet forgotten is still located, but no longer live.
    apply_keeping_disconnected(&*store, &mut current, leave("s3"), T0 + 1).await;
    assert_eq!(current.meeting.session("s3").map(|s| s.state), Some(ConversationState::Disconnected));
    assert_eq!(store.session_location("s3").await.unwrap(), Some(location("s3", "a1")));
    assert_eq!(store.sessions_of_application("a1").await.unwrap(), [location("s1", "a1")]);
}

/// A session started with an `operationId` is found by its application and that id while
/// it is stored (idempotent retries), and only then.
pub async fn operations_are_found_by_application_and_operation_id(store: DynStore) {
    let mut current = conference("m1", T0 + DAY, T0);
    store.insert_meeting(&current).await.unwrap();
    let with_operation = |session: &str, app: &str, operation: &str| -> Command {
        let Command::Join(mut join) = join(session, app, ORGANIZER) else { unreachable!("join builds a join") };
        join.invitation.operation_id = Some(operation.into());
        Command::Join(join)
    };
    apply(&*store, &mut current, with_operation("s1", "a1", "op-1"), T0).await;
    apply(&*store, &mut current, with_operation("s2", "a2", "op-1"), T0).await;
    apply(&*store, &mut current, join("s3", "a1", ORGANIZER), T0).await;
    let location =
        |s: &str, app: &str| SessionLocation { session_id: s.into(), meeting_id: "m1".into(), app_id: app.into() };
    assert_eq!(store.find_operation("a1", "op-1").await.unwrap(), Some(location("s1", "a1")));
    assert_eq!(store.find_operation("a2", "op-1").await.unwrap(), Some(location("s2", "a2")), "per application");
    assert_eq!(store.find_operation("a1", "op-2").await.unwrap(), None);
    // Once the session is forgotten, so is its operation.
    apply(&*store, &mut current, leave("s1"), T0 + 1).await;
    assert_eq!(store.find_operation("a1", "op-1").await.unwrap(), None);
}

/// Two nodes start the same operation of one application at the same moment (two copies of
/// a join with one `operationId`, each into its own meeting): the store keeps the first and
/// refuses the second save whole, with [`StoreError::Conflict`], so the loser finds the
/// winner's session instead of starting a second one.
pub async fn a_second_session_with_the_same_operation_is_refused(store: DynStore) {
    application(&*store, "a1").await;
    let with_operation = |session: &str, app: &str, operation: &str| -> Command {
        let Command::Join(mut join) = join(session, app, ORGANIZER) else { unreachable!("join builds a join") };
        join.invitation.operation_id = Some(operation.into());
        Command::Join(join)
    };
    let mut first = conference("m1", T0 + DAY, T0);
    let mut second = conference("m2", T0 + DAY, T0);
    store.insert_meeting(&first).await.unwrap();
    store.insert_meeting(&second).await.unwrap();
    apply(&*store, &mut first, with_operation("s1", "a1", "op-1"), T0).await;

    let before = second.meeting.clone();
    second.meeting.handle(with_operation("s2", "a1", "op-1"), T0).unwrap();
    let refused = store.save_meeting(&second, &before, vec![event("a1", 1)], T0).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    assert_eq!(store.meeting_version("m2").await.unwrap(), Some(0), "nothing of the refused save was written");
    assert_eq!(store.session_location("s2").await.unwrap(), None);
    assert!(log(&*store, "a1").await.is_empty(), "nor its events");
    let winner = SessionLocation { session_id: "s1".into(), meeting_id: "m1".into(), app_id: "a1".into() };
    assert_eq!(store.find_operation("a1", "op-1").await.unwrap(), Some(winner));

    // The same operationId stays free for another application, and for this one once the
    // first session is forgotten.
    let mut third = conference("m2", T0 + DAY, T0);
    apply(&*store, &mut third, with_operation("s3", "a2", "op-1"), T0).await;
    apply(&*store, &mut first, leave("s1"), T0 + 1).await;
    apply(&*store, &mut third, with_operation("s4", "a1", "op-1"), T0 + 1).await;
    assert_eq!(store.find_operation("a1", "op-1").await.unwrap().map(|l| l.session_id), Some("s4".into()));
}

pub async fn meetings_are_due_when_a_deadline_passes(store: DynStore) {
    let settings = MeetingSettings { access_level: AccessLevel::Locked, ..MeetingSettings::new(ORGANIZER, T0 + DAY) };
    let mut locked = record(Meeting::new("m1", settings), T0);
    let mut open = conference("m2", T0 + DAY, T0);
    store.insert_meeting(&locked).await.unwrap();
    store.insert_meeting(&open).await.unwrap();
    apply(&*store, &mut locked, join("org", "app-org", ORGANIZER), T0).await;
    apply(&*store, &mut open, join("x", "app-x", "sip:x@elsewhere.example"), T0).await;
    // An outsider waits in the locked meeting's lobby until T0 + the lobby timeout.
    apply(&*store, &mut locked, join("out", "app-out", "sip:out@elsewhere.example"), T0).await;
    let deadline = T0 + LOBBY_TIMEOUT_MS as i64;
    assert!(store.meetings_due(deadline - 1).await.unwrap().is_empty());
    assert_eq!(store.meetings_due(deadline).await.unwrap(), ["m1"]);
    assert_eq!(store.meetings_due(deadline + DAY).await.unwrap(), ["m1"]);
    apply(&*store, &mut locked, Command::Admit { actor: "org".into(), target: "out".into() }, T0 + 1).await;
    assert!(store.meetings_due(deadline + DAY).await.unwrap().is_empty(), "admitted: no deadline left");
}
