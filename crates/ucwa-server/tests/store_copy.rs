//! `ucwa-server store copy`: an embedded install moved to another database keeps its users,
//! service applications (and their signing keys) and meetings, and a server started on the
//! copy signs them in. Into SQLite always; into PostgreSQL with `UCWA_TEST_POSTGRES_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

mod support;

use std::process::Command;

use support::{BIN, Running};

use ucwa_core::Store;
use ucwa_core::meeting::{Identity, InvitationRequest, Join, Meeting, MeetingSettings, Surface};
use ucwa_core::model::{MeetingRecord, PublicationChange};
use ucwa_store_postgres::PostgresStore;
use ucwa_store_postgres::scratch::ScratchDatabase;
use ucwa_store_sqlite::SqliteStore;

const SECRET: &str = "a-long-client-secret-0123";

fn sqlite_url(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite://{}", dir.path().join(name).display())
}

/// A source database as an install leaves it: a user, a service application, a scheduled
/// meeting someone is in right now, and a two-party conversation. Returns the signing key.
async fn fill_source(url: &str) -> String {
    let store = SqliteStore::open(url).await.unwrap();
    ucwa_server::cli::add_user(&store, "sip:alice@example.com", "Alice", "alice-password\n".as_bytes()).await.unwrap();
    let domains = ["partner.example".to_owned()];
    let secret = format!("{SECRET}\n");
    let key =
        ucwa_server::cli::add_service_app(&store, "sip:bot@example.com", "Bot", None, &domains, secret.as_bytes())
            .await
            .unwrap();
    let settings =
        MeetingSettings { subject: "Weekly".into(), ..MeetingSettings::new("sip:alice@example.com", 1 << 50) };
    let record = MeetingRecord {
        meeting: Meeting::new("MEET1", settings.clone()),
        join_url: "https://ucwa.example.com/meet/alice/MEET1".into(),
        created_ms: 1_000,
        settings_revision: 3,
        pending: Vec::new(),
    };
    store.insert_meeting(&record).await.unwrap();
    let mut joined = record.clone();
    let join = Join {
        session_id: "s1".into(),
        app_id: "app1".into(),
        identity: Identity {
            uri: "sip:alice@example.com".into(),
            display_name: "Alice".into(),
            anonymous: false,
            trusted: false,
            surface: Surface::Ucwa,
        },
        invitation: InvitationRequest::outgoing("inv1"),
        lobby_timeout_ms: 60_000,
    };
    joined.meeting.handle(join.into(), 2_000).unwrap();
    assert!(store.save_meeting(&joined, &record.meeting, Vec::new(), 2_000).await.unwrap());
    let call = MeetingRecord {
        meeting: Meeting::two_party("CALL1", settings),
        join_url: String::new(),
        created_ms: 1_500,
        settings_revision: 0,
        pending: Vec::new(),
    };
    store.insert_meeting(&call).await.unwrap();
    // What Alice published: presence, note and location travel with her. The location holds
    // a NUL, as a server before the NUL rule (docs/protocol.md, errors) could store on SQLite.
    for change in [
        PublicationChange::Availability(Some("Busy".into())),
        PublicationChange::Note(Some("In Berlin this week".into())),
        PublicationChange::Location(Some("Ber\0lin".into())),
    ] {
        store.publish("sip:alice@example.com", &change, Vec::new(), 2_500).await.unwrap();
    }
    store.close().await;
    key
}

/// The password in `scheme://user:password@host/...`, if any.
fn password_of(url: &str) -> Option<&str> {
    let authority = url.split_once("://")?.1.split('/').next()?;
    authority.rsplit_once('@')?.0.split_once(':').map(|(_, p)| p)
}

fn copy(from: &str, to: &str, extra: &[&str]) -> std::process::Output {
    Command::new(BIN).args(["store", "copy", "--from", from, "--to", to]).args(extra).output().unwrap()
}

async fn copies_everything_that_outlives_a_sign_in(target: &str, open_target: impl AsyncFnOnce() -> Box<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let source = sqlite_url(&dir, "source.db");
    let signing_key = fill_source(&source).await;

    let missing = copy(&sqlite_url(&dir, "missing.db"), target, &[]);
    assert!(!missing.status.success(), "a missing source is an error, not an empty copy");
    let out = copy(&source, target, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("copied 1 users, 1 service applications, 1 meetings"), "{stdout}");
    if let Some(password) = password_of(target) {
        assert!(!stdout.contains(password), "the password is not printed: {stdout}");
    }

    let src = SqliteStore::open(&source).await.unwrap();
    let dst = open_target().await;
    assert_eq!(dst.list_users().await.unwrap(), src.list_users().await.unwrap());
    assert!(stdout.contains("with the published presence, note or location of 1 users"), "{stdout}");
    let published = dst.publication("sip:alice@example.com").await.unwrap();
    let mut expected = src.publication("sip:alice@example.com").await.unwrap();
    assert_eq!(expected.location.as_deref(), Some("Ber\0lin"));
    expected.location = Some("Berlin".into());
    assert_eq!(published, expected, "copied, the NUL removed");
    assert_eq!(published.note.as_deref(), Some("In Berlin this week"));
    assert!(stdout.contains("removed the NUL characters (U+0000) of 1 notes or locations"), "{stdout}");
    let apps = dst.list_service_apps().await.unwrap();
    assert_eq!(apps, src.list_service_apps().await.unwrap());
    assert_eq!(apps[0].signing_key, signing_key);
    assert_eq!(apps[0].domains, ["partner.example"], "with the domains it may act in");
    let meetings = dst.meetings_after("", 10).await.unwrap();
    assert_eq!(meetings.len(), 1, "the two-party conversation stays behind");
    let (copied, original) = (&meetings[0], src.meeting("MEET1").await.unwrap().unwrap());
    assert_eq!(copied.join_url, original.join_url);
    assert_eq!(copied.settings_revision, 3);
    assert_eq!(copied.meeting.settings(), original.meeting.settings());
    assert_eq!(copied.meeting.version(), original.meeting.version());
    assert_eq!(original.meeting.sessions().len(), 1);
    assert!(copied.meeting.sessions().is_empty(), "nobody is in a copied meeting");
    src.close().await;
    dst.close().await;

    let again = copy(&source, target, &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--into-non-empty"));
    let merged = copy(&source, target, &["--into-non-empty"]);
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    assert!(String::from_utf8_lossy(&merged.stdout).contains("kept 1 meetings the target had already"));

    // A server on the copy signs both in with their old credentials.
    let server = Running::start(target, &[]).await;
    ucwa_server::callbacks::install_crypto_provider();
    let client = reqwest::Client::new();
    let token = |form: Vec<(&'static str, &'static str)>| {
        let client = client.clone();
        let url = format!("{}/WebTicket/oauthtoken", server.url);
        async move { client.post(url).form(&form).send().await.unwrap().status() }
    };
    let user =
        token(vec![("grant_type", "password"), ("username", "alice@example.com"), ("password", "alice-password")]);
    assert_eq!(user.await, reqwest::StatusCode::OK);
    let bot = token(vec![
        ("grant_type", "client_credentials"),
        ("client_id", "sip:bot@example.com"),
        ("client_secret", SECRET),
    ]);
    assert_eq!(bot.await, reqwest::StatusCode::OK);
    server.kill().await;
}

#[tokio::test]
async fn copy_into_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let target = sqlite_url(&dir, "target.db");
    let open = {
        let target = target.clone();
        async move || Box::new(SqliteStore::open(&target).await.unwrap()) as Box<dyn Store>
    };
    copies_everything_that_outlives_a_sign_in(&target, open).await;
}

#[tokio::test]
async fn copy_into_postgres() {
    let Some(db) = ScratchDatabase::create("copy_into_postgres").await.unwrap() else { return };
    let target = db.url().to_owned();
    let open = {
        let target = target.clone();
        async move || Box::new(PostgresStore::open(&target).await.unwrap()) as Box<dyn Store>
    };
    copies_everything_that_outlives_a_sign_in(&target, open).await;
}
