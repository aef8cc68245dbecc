//! Retention (`purge_finished`): what finished long enough ago goes, what is live or still
//! joinable stays, and each step is bounded.
//!
//! `before_ms` is "now minus the retention period": a meeting finished at `f` goes once
//! `f < before_ms`.

use ucwa_core::DynStore;
use ucwa_core::model::AppKind;
use ucwa_core::store::Purged;

use crate::support::*;

async fn purge(store: &DynStore, before_ms: i64) -> Purged {
    store.purge_finished(before_ms, 1_000).await.unwrap()
}

async fn exists(store: &DynStore, meeting: &str) -> bool {
    store.meeting(meeting).await.unwrap().is_some()
}

pub async fn finished_two_party_conversations_are_purged_after_retention(store: DynStore) {
    for app in ["caller", "callee"] {
        application(&*store, app).await;
    }
    let mut chat = two_party("c1", T0);
    store.insert_meeting(&chat).await.unwrap();
    apply(&*store, &mut chat, call("s0", "caller", "s1", "callee"), T0).await;
    // Still ringing a week later (nobody swept it): kept.
    assert_eq!(purge(&store, T0 + 7 * DAY).await.meetings, 0);
    // The caller hangs up an hour in; the ringing copy is withdrawn and nobody is left.
    apply(&*store, &mut chat, leave("s0"), T0 + HOUR).await;
    assert!(chat.meeting.sessions().is_empty());
    let kept = purge(&store, T0 + HOUR).await;
    assert_eq!(kept.meetings, 0, "finished exactly at the cutoff is kept");
    assert!(exists(&store, "c1").await);
    let purged = purge(&store, T0 + HOUR + 1).await;
    assert_eq!(purged.meetings, 1);
    assert!(!purged.more);
    assert!(!exists(&store, "c1").await);
    // A conversation that was never answered nor joined is finished from its creation.
    store.insert_meeting(&two_party("c2", T0 + 2 * HOUR)).await.unwrap();
    assert_eq!(purge(&store, T0 + 2 * HOUR + 1).await.meetings, 1);
}

pub async fn meetings_someone_is_in_are_kept_however_old(store: DynStore) {
    application(&*store, "app-org").await;
    let mut meeting = conference("m1", T0 + HOUR, T0);
    store.insert_meeting(&meeting).await.unwrap();
    apply(&*store, &mut meeting, join("org", "app-org", ORGANIZER), T0).await;
    for app in ["caller", "callee"] {
        application(&*store, app).await;
    }
    let mut chat = two_party("c1", T0);
    store.insert_meeting(&chat).await.unwrap();
    apply(&*store, &mut chat, call("s0", "caller", "s1", "callee"), T0).await;
    apply(&*store, &mut chat, ucwa_core::meeting::Command::Accept { session: "s1".into() }, T0 + 1).await;
    let purged = purge(&store, T0 + 1_000 * DAY).await;
    assert_eq!(purged.meetings, 0, "someone is in each");
    assert!(exists(&store, "m1").await && exists(&store, "c1").await);
    assert!(purged.stranded_applications.is_empty(), "their applications are active");
}

pub async fn scheduled_meetings_are_kept_until_expired_for_the_retention_period(store: DynStore) {
    // Scheduled for ten days from now; nobody has joined.
    store.insert_meeting(&conference("later", T0 + 10 * DAY, T0)).await.unwrap();
    assert_eq!(purge(&store, T0 + 9 * DAY).await.meetings, 0, "not expired: joinable");
    assert!(exists(&store, "later").await);
    assert_eq!(purge(&store, T0 + 10 * DAY).await.meetings, 0);
    // Joined, then left after its expiration: the retention counts from the leaving.
    let mut overrun = conference("overrun", T0 + 10 * DAY, T0);
    store.insert_meeting(&overrun).await.unwrap();
    apply(&*store, &mut overrun, join("org", "app-org", ORGANIZER), T0 + 9 * DAY).await;
    apply(&*store, &mut overrun, leave("org"), T0 + 11 * DAY).await;
    // The organizer moves a third meeting's expiration out (PUT myOnlineMeeting).
    let mut moved = conference("moved", T0 + DAY, T0);
    store.insert_meeting(&moved).await.unwrap();
    let before = moved.meeting.clone();
    let mut settings = moved.meeting.settings().clone();
    settings.expiration_ms = T0 + 20 * DAY;
    moved.meeting.update_settings(settings).unwrap();
    assert!(store.save_meeting(&moved, &before, Vec::new(), T0 + HOUR).await.unwrap());

    assert_eq!(purge(&store, T0 + 10 * DAY + 1).await.meetings, 1);
    assert!(!exists(&store, "later").await, "expired for longer than the retention");
    assert!(exists(&store, "overrun").await && exists(&store, "moved").await);
    assert_eq!(purge(&store, T0 + 11 * DAY + 1).await.meetings, 1);
    assert!(!exists(&store, "overrun").await);
    assert!(exists(&store, "moved").await, "its new expiration counts");
    assert_eq!(purge(&store, T0 + 20 * DAY + 1).await.meetings, 1);
}

pub async fn expired_applications_are_purged_and_active_ones_kept(store: DynStore) {
    application(&*store, "old").await;
    application_of_kind(&*store, "svc", AppKind::Service, T0).await;
    application_of_kind(&*store, "active", AppKind::Ucwa, T0 + DAY).await;
    assert_eq!(store.expire_idle_applications(T0 + HOUR, &[]).await.unwrap(), ["old"]);
    assert_eq!(store.application("old").await.unwrap().map(|a| a.status), Some(ucwa_core::model::AppStatus::Expired));
    // Kept (answering 410) until it has been quiet for the retention period.
    assert_eq!(purge(&store, T0).await.applications, 0);
    assert!(store.application("old").await.unwrap().is_some());
    let purged = purge(&store, T0 + 1).await;
    assert_eq!(purged.applications, 1);
    assert_eq!(store.application("old").await.unwrap(), None);
    assert!(log(&*store, "old").await.is_empty());
    // Active applications, however quiet, and service applications stay.
    assert_eq!(purge(&store, T0 + 1_000 * DAY).await.applications, 0);
    assert!(store.application("svc").await.unwrap().is_some());
    assert!(store.application("active").await.unwrap().is_some());
}

/// An application that ended while a session of it was still live (the process stopped
/// between expiring it and ending its conversations, or it was deleted meanwhile) is
/// reported, not deleted, so its conversations can be ended properly; then it goes.
pub async fn live_sessions_of_ended_applications_are_reported_as_stranded(store: DynStore) {
    application(&*store, "gone").await;
    application(&*store, "deleted").await;
    let mut meeting = conference("m1", T0 + HOUR, T0);
    store.insert_meeting(&meeting).await.unwrap();
    apply(&*store, &mut meeting, join("s1", "gone", ORGANIZER), T0).await;
    apply(&*store, &mut meeting, join("s2", "deleted", "sip:deleted@example.com"), T0).await;
    assert_eq!(store.expire_idle_applications(T0 + HOUR, &[]).await.unwrap().len(), 2);
    assert!(store.delete_application("deleted").await.unwrap());

    assert!(purge(&store, T0).await.stranded_applications == ["deleted"], "deleted: at once");
    let mut stranded = purge(&store, T0 + 1).await;
    stranded.stranded_applications.sort();
    assert_eq!(stranded.stranded_applications, ["deleted", "gone"]);
    assert_eq!((stranded.applications, stranded.meetings), (0, 0), "nothing deleted under a live session");
    assert!(store.application("gone").await.unwrap().is_some());

    // The caller ends those conversations; then the application and the meeting go.
    apply(&*store, &mut meeting, leave("s1"), T0 + 2 * DAY).await;
    apply(&*store, &mut meeting, leave("s2"), T0 + 2 * DAY).await;
    let purged = purge(&store, T0 + 2 * DAY + 1).await;
    assert!(purged.stranded_applications.is_empty());
    assert_eq!((purged.applications, purged.meetings), (1, 1));
}

pub async fn a_purge_step_is_bounded_by_its_limit(store: DynStore) {
    for k in 0..5 {
        store.insert_meeting(&two_party(&format!("c{k}"), T0)).await.unwrap();
        application(&*store, &format!("app{k}")).await;
    }
    assert_eq!(store.expire_idle_applications(T0 + 1, &[]).await.unwrap().len(), 5);
    let mut steps = Vec::new();
    loop {
        let step = store.purge_finished(T0 + DAY, 2).await.unwrap();
        steps.push((step.meetings, step.applications, step.more));
        if !step.more {
            break;
        }
        assert!(steps.len() < 10, "the steps end");
    }
    assert_eq!(steps, [(2, 2, true), (2, 2, true), (1, 1, false)]);
    assert_eq!(purge(&store, T0 + DAY).await, Purged::default(), "nothing left");
}

pub async fn old_callback_failures_are_purged(store: DynStore) {
    application_of_kind(&*store, "svc", AppKind::Service, T0).await;
    for (session, at) in [("c1", T0), ("c2", T0 + DAY)] {
        store.insert_callback_route(&route(session, "svc", Some(CALLBACK_URL), at)).await.unwrap();
        store.callback_give_up(session, "timed out", at).await.unwrap();
    }
    assert_eq!(purge(&store, T0 + 1).await.callback_failures, 1);
    let left: Vec<String> = store.callback_failures().await.unwrap().into_iter().map(|f| f.session_id).collect();
    assert_eq!(left, ["c2"]);
}
