//! What only several nodes on one PostgreSQL database can show (the conformance suite,
//! `conformance.rs`, covers what every store must do): two `PostgresStore`s opened on the
//! same database are two nodes. Also what the store requires of its database. Each test gets
//! a database of its own on the server of `UCWA_TEST_POSTGRES_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{Connection, PgConnection};
use ucwa_core::Store;
use ucwa_core::channel::{ChannelLimits, Priority};
use ucwa_core::meeting::{Meeting, MeetingSettings};
use ucwa_core::model::{MeetingRecord, NewApplication, NewEvent, User};
use ucwa_core::service::CallbackRoute;
use ucwa_core::store::StoreError;
use ucwa_store_postgres::scratch::{self, DatabaseLink, ScratchDatabase};
use ucwa_store_postgres::{PoolSettings, PostgresStore};

/// A fresh database and a store on it, or `None` (skipped) without a test server.
async fn node(test: &str) -> Option<(ScratchDatabase, PostgresStore)> {
    let db = ScratchDatabase::create(test).await.expect("a test database")?;
    let store = PostgresStore::open(db.url()).await.expect("open the store");
    Some((db, store))
}

async fn app(store: &PostgresStore, id: &str) {
    let new = NewApplication {
        id: id.into(),
        owner_uri: "sip:a@example.com".into(),
        anonymous: false,
        display_name: "A".into(),
        endpoint_id: id.into(),
        user_agent: "t".into(),
        culture: "en".into(),
        instance_id: None,
        kind: Default::default(),
    };
    store.create_application(&new, ChannelLimits::default().defaults(), 0).await.unwrap();
}

fn event(app: &str, tag: u32) -> NewEvent {
    NewEvent {
        app_id: app.into(),
        priority: Priority::High,
        sender_rel: "communication".into(),
        sender_href: "/c".into(),
        body: json!({ "tag": tag }),
        conversation: None,
    }
}

/// Appends an event for `app_id` on `from` and waits until `to`'s doorbell rings for it: a
/// commit on one node reaches the other through `NOTIFY` and its `LISTEN` session.
async fn rings_across(from: &PostgresStore, to: &PostgresStore, app_id: &str, tag: u32) {
    let bell = to.doorbell().subscribe(app_id);
    let rung = bell.notified();
    tokio::pin!(rung);
    rung.as_mut().enable();
    from.append_events(vec![event(app_id, tag)], 1).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), rung).await.expect("the other node was rung for the commit");
}

/// Runs `ALTER DATABASE <the test's database> SET <setting>` (a DBA's setting, for new
/// sessions) and answers the connection it used.
async fn set_for_new_sessions(db: &ScratchDatabase, setting: &str) -> PgConnection {
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let sql = format!("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET {setting}', current_database()); END $$");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_on_two_nodes_are_gap_free_and_never_deadlock() {
    let test = "concurrent_appends_on_two_nodes_are_gap_free_and_never_deadlock";
    let Some(db) = ScratchDatabase::create(test).await.expect("a test database") else { return };
    appends_on_two_nodes_are_gap_free(db.url()).await;
}

/// The store's row-lock arguments are READ COMMITTED's: on a database whose default is
/// SERIALIZABLE (a DBA's setting), its sessions still run at READ COMMITTED, so concurrent
/// appends wait and continue instead of failing with serialization errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serializable_database_default_does_not_change_the_stores_isolation() {
    let test = "a_serializable_database_default_does_not_change_the_stores_isolation";
    let Some(db) = ScratchDatabase::create(test).await.expect("a test database") else { return };
    let _ = set_for_new_sessions(&db, "default_transaction_isolation = serializable").await.close().await;
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let (level,): (String,) = sqlx::query_as("SHOW default_transaction_isolation").fetch_one(&mut conn).await.unwrap();
    assert_eq!(level, "serializable", "the database's default for a new session");
    appends_on_two_nodes_are_gap_free(db.url()).await;
}

/// In a database shared with other software, the store lives in a schema of its own: the
/// one the database's (or role's) `search_path` names first. Its tables, its functions and
/// sqlx's migration record go there, nothing into `public`, and two nodes work on it as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_of_its_own_named_by_the_search_path_holds_the_whole_store() {
    let test = "a_schema_of_its_own_named_by_the_search_path_holds_the_whole_store";
    let Some(db) = ScratchDatabase::create(test).await.expect("a test database") else { return };
    let mut conn = set_for_new_sessions(&db, "search_path = openucwa").await;
    sqlx::raw_sql("CREATE SCHEMA openucwa").execute(&mut conn).await.unwrap();
    appends_on_two_nodes_are_gap_free(db.url()).await;
    let placed: Vec<(String, i64)> = sqlx::query_as(
        "SELECT n.nspname::text, count(c.oid) FROM pg_namespace n
         LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind = 'r'
         WHERE n.nspname IN ('public', 'openucwa') GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(placed[1], ("public".to_owned(), 0), "nothing in public: {placed:?}");
    assert!(placed[0].0 == "openucwa" && placed[0].1 > 10, "the tables are in the schema: {placed:?}");
    let (functions,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'openucwa' AND p.proname LIKE 'ucwa%'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(functions >= 2, "the append's functions are in the schema: {functions}");
}

/// Three writers on two nodes append to three applications in different orders while a
/// reader checks that what it sees is always a prefix of each log.
async fn appends_on_two_nodes_are_gap_free(url: &str) {
    let a = PostgresStore::open(url).await.unwrap();
    let b = PostgresStore::open(url).await.unwrap();
    let (a, b) = (Arc::new(a), Arc::new(b));
    for id in ["x", "y", "z"] {
        app(&a, id).await;
    }
    const ROUNDS: u32 = 60;
    let writer = |store: Arc<PostgresStore>, order: [&'static str; 3]| {
        tokio::spawn(async move {
            for i in 0..ROUNDS {
                let events = order.iter().map(|app| event(app, i)).collect();
                store.append_events(events, 1).await.unwrap();
            }
        })
    };
    // A reader checks, while the writers run, that what it sees is always a prefix.
    let reader = {
        let a = a.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                let seqs: Vec<i64> = a.events_after("x", 0, 1000).await.unwrap().iter().map(|e| e.seq).collect();
                assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "a gap was visible");
                tokio::task::yield_now().await;
            }
        })
    };
    let w1 = writer(a.clone(), ["x", "y", "z"]);
    let w2 = writer(b.clone(), ["z", "y", "x"]);
    let w3 = writer(a.clone(), ["y", "z", "x"]);
    w1.await.unwrap();
    w2.await.unwrap();
    w3.await.unwrap();
    reader.await.unwrap();
    for id in ["x", "y", "z"] {
        let seqs: Vec<i64> = a.events_after(id, 0, 1000).await.unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=i64::from(3 * ROUNDS)).collect::<Vec<_>>());
    }
    a.close().await;
    b.close().await;
}

/// A commit on one node rings the parked readers of another through LISTEN/NOTIFY; when the
/// listening connection is killed, the node rings every parked reader once it listens again.
#[tokio::test]
async fn a_commit_on_one_node_rings_the_other_and_a_lost_listener_rings_everyone() {
    let Some((db, a)) = node("a_commit_on_one_node_rings_the_other_and_a_lost_listener_rings_everyone").await else {
        return;
    };
    let b = PostgresStore::open(db.url()).await.unwrap();
    app(&a, "target").await;
    app(&a, "other").await;

    rings_across(&a, &b, "target", 1).await;

    // Kill b's listening connection from the outside. No event is committed meanwhile, yet
    // every reader parked on b must re-read.
    let bell = b.doorbell().subscribe("other");
    let rung = bell.notified();
    tokio::pin!(rung);
    rung.as_mut().enable();
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .fetch_all(&sqlx::PgPool::connect(db.url()).await.unwrap())
    .await
    .unwrap();
    assert_eq!(killed.len(), 2, "one listening connection per node");
    tokio::time::timeout(Duration::from_secs(15), rung).await.expect("a reconnected listener rings everyone");

    // And b hears a's commits again.
    rings_across(&a, &b, "target", 2).await;
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn one_of_two_nodes_saving_the_same_meeting_version_wins() {
    let Some((db, a)) = node("one_of_two_nodes_saving_the_same_meeting_version_wins").await else { return };
    let b = PostgresStore::open(db.url()).await.unwrap();
    let record = MeetingRecord {
        meeting: Meeting::new("M1", MeetingSettings::new("sip:org@example.com", i64::MAX / 2)),
        join_url: "https://example.com/meet/M1".into(),
        created_ms: 1,
        settings_revision: 0,
        pending: Vec::new(),
    };
    a.insert_meeting(&record).await.unwrap();
    let before = b.meeting("M1").await.unwrap().unwrap();
    assert_eq!(before, record);
    let change = |subject: &str| {
        let mut after = before.clone();
        let mut settings = after.meeting.settings().clone();
        settings.subject = subject.into();
        after.meeting.update_settings(settings).unwrap();
        after.settings_revision += 1;
        after
    };
    let (on_a, on_b) = (change("from a"), change("from b"));
    let (saved_a, saved_b) = tokio::join!(
        a.save_meeting(&on_a, &before.meeting, Vec::new(), 2),
        b.save_meeting(&on_b, &before.meeting, Vec::new(), 2)
    );
    assert_ne!(saved_a.unwrap(), saved_b.unwrap(), "exactly one save wins");
    let stored = a.meeting("M1").await.unwrap().unwrap();
    assert_eq!(stored.meeting.version(), before.meeting.version() + 1);
    assert!(["from a", "from b"].contains(&stored.meeting.settings().subject.as_str()));
    assert_eq!(a.meeting_version("M1").await.unwrap(), Some(stored.meeting.version()));
    assert!(!a.delete_meeting("M1", before.meeting.version(), Vec::new(), 3).await.unwrap(), "stale version");
    assert!(b.delete_meeting("M1", stored.meeting.version(), Vec::new(), 3).await.unwrap());
    assert!(a.meeting("M1").await.unwrap().is_none());
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn two_nodes_creating_one_endpoints_application_get_the_same_one() {
    let Some((db, a)) = node("two_nodes_creating_one_endpoints_application_get_the_same_one").await else { return };
    let b = PostgresStore::open(db.url()).await.unwrap();
    let new = |id: &str| NewApplication {
        id: id.into(),
        owner_uri: "sip:a@example.com".into(),
        anonymous: false,
        display_name: "A".into(),
        endpoint_id: "laptop".into(),
        user_agent: "t".into(),
        culture: "en".into(),
        instance_id: None,
        kind: Default::default(),
    };
    let params = ChannelLimits::default().defaults();
    let (on_a, on_b) = (new("from-a"), new("from-b"));
    let (x, y) = tokio::join!(a.create_application(&on_a, params, 1), b.create_application(&on_b, params, 1));
    let ((x, x_new), (y, y_new)) = (x.unwrap(), y.unwrap());
    assert_eq!(x.id, y.id);
    assert!(x_new ^ y_new, "exactly one created it");
    assert!(a.delete_application(&x.id).await.unwrap());
    assert!(b.application(&x.id).await.unwrap().is_none());
    assert!(!b.delete_application(&x.id).await.unwrap());
    a.close().await;
    b.close().await;
}

/// Two nodes claiming due conversations at the same moment split them: `FOR UPDATE SKIP
/// LOCKED` gives each conversation to exactly one of them, and neither waits for the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_claiming_at_once_never_take_the_same_conversation() {
    let Some((db, a)) = node("two_nodes_claiming_at_once_never_take_the_same_conversation").await else { return };
    let b = PostgresStore::open(db.url()).await.unwrap();
    app(&a, "svc").await;
    let sessions: Vec<String> = (0..40).map(|i| format!("s{i:02}")).collect();
    for session in &sessions {
        let route = CallbackRoute {
            session_id: session.clone(),
            app_id: "svc".into(),
            url: Some("https://bot.example.com/cb".into()),
            context: None,
            base_uri: "https://ucwa.example.com".into(),
            attempts: 0,
            next_attempt_ms: 0,
            delivered: 0,
            created_ms: 0,
            batch_through: None,
        };
        a.insert_callback_route(&route).await.unwrap();
        let mut ev = event("svc", 1);
        ev.conversation = Some(session.clone());
        a.append_events(vec![ev], 1).await.unwrap();
    }
    let (mut on_a, mut on_b) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        let (x, y) =
            tokio::join!(a.claim_callbacks("A", 100, 1_000, 100, 7), b.claim_callbacks("B", 100, 1_000, 100, 7));
        on_a.extend(x.unwrap().into_iter().map(|d| d.session_id));
        on_b.extend(y.unwrap().into_iter().map(|d| d.session_id));
    }
    let a_set: BTreeSet<&String> = on_a.iter().collect();
    let b_set: BTreeSet<&String> = on_b.iter().collect();
    assert!(a_set.is_disjoint(&b_set), "a conversation was claimed by both nodes");
    assert_eq!(a_set.len() + b_set.len(), on_a.len() + on_b.len(), "claimed twice by one node");
    let rest = a.claim_callbacks("C", 100, 1_000, 100, 100).await.unwrap();
    assert_eq!(on_a.len() + on_b.len() + rest.len(), sessions.len(), "every conversation claimed once");
    // Once the leases run out, two nodes claiming at once stay within the endpoint's cap
    // together.
    let mut together = 0;
    for _ in 0..4 {
        let (x, y) =
            tokio::join!(a.claim_callbacks("A", 1_000, 9_000, 3, 7), b.claim_callbacks("B", 1_000, 9_000, 3, 7));
        together += x.unwrap().len() + y.unwrap().len();
    }
    assert_eq!(together, 3, "the cap counts the leases of both nodes");
    a.close().await;
    b.close().await;
}

/// A node (see [`node`]) with application "x", which it has just read in 8 statements at
/// once: several of its pooled connections, each used a moment ago.
async fn node_with_connections_just_used(test: &str) -> Option<(ScratchDatabase, Arc<PostgresStore>)> {
    let (db, node) = node(test).await?;
    let node = Arc::new(node);
    app(&node, "x").await;
    read_at_once(&node, 8).await;
    Some((db, node))
}

/// Reads application "x" on `node` in `n` statements at once: several of its pooled
/// connections, each used a moment ago.
async fn read_at_once(node: &Arc<PostgresStore>, n: usize) {
    let mut busy = tokio::task::JoinSet::new();
    for _ in 0..n {
        let node = node.clone();
        busy.spawn(async move { node.application("x").await.unwrap().expect("the application") });
    }
    busy.join_all().await;
}

/// A node whose database connections were all cut (a restart of the database, a failover)
/// fails no request once it has noticed, though its pooled connections were in use a moment
/// before: they are tested and replaced before a statement uses them. (A connection is
/// otherwise tested only after a second idle, not before every statement.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_while_busy_are_replaced_before_a_request_uses_them() {
    let test = "connections_cut_while_busy_are_replaced_before_a_request_uses_them";
    let Some((db, a)) = node_with_connections_just_used(test).await else { return };
    let bell = a.doorbell().subscribe("x");
    let rung = bell.notified();
    tokio::pin!(rung);
    rung.as_mut().enable();
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&sqlx::PgPool::connect(db.url()).await.unwrap())
    .await
    .unwrap();
    assert!(killed.len() >= 3, "the listening connection and the pool's, {} in all", killed.len());
    tokio::time::timeout(Duration::from_secs(15), rung).await.expect("the node noticed and listens again");
    for i in 0..20 {
        a.append_events(vec![event("x", i)], 1).await.expect("an append on a live connection");
        assert!(a.application("x").await.expect("a read on a live connection").is_some());
    }
    assert_eq!(a.events_after("x", 0, 100).await.unwrap().len(), 20, "every append committed once");
    a.close().await;
}

/// When the pool's connections are cut and the listening one is not (so the node hears of
/// it from no one but its statements), the first statement on a cut connection fails and
/// tells the pool: the statements after it get tested, live connections, where each would
/// otherwise have failed on the next cut one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_that_finds_its_connection_cut_spares_the_next_ones() {
    let test = "a_statement_that_finds_its_connection_cut_spares_the_next_ones";
    let Some((db, a)) = node_with_connections_just_used(test).await else { return };
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'ucwa-server' AND query NOT LIKE 'LISTEN%'",
    )
    .fetch_all(&mut PgConnection::connect(db.url()).await.unwrap())
    .await
    .unwrap();
    assert!(killed.len() >= 2, "the pool's connections, {} of them", killed.len());
    // At once: connections used less than a second ago are not tested for idleness.
    let mut failed = 0;
    for _ in 0..killed.len() {
        failed += usize::from(a.application("x").await.is_err());
    }
    assert!(failed <= 1, "{failed} statements failed on cut connections");
    a.close().await;
}

/// A database host that vanishes answers nothing and closes nothing (power lost, a network
/// that drops packets): a statement on one of its connections would wait for the kernel to
/// give up on the link, a quarter of an hour. It waits for the statement timeout at most,
/// then fails as unavailable (a 503), and the node gives up every connection opened before,
/// untested: the statements after it reach the server the database's name leads to now (here
/// the same one, through new connections), none failing. A transaction that goes unanswered
/// is bounded by the wait plus the statement timeout, and the statements after it do not
/// fail either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_host_that_vanishes_holds_a_statement_for_the_statement_timeout_at_most() {
    let test = "a_database_host_that_vanishes_holds_a_statement_for_the_statement_timeout_at_most";
    let Some(db) = ScratchDatabase::create(test).await.expect("a test database") else { return };
    let (link, url) = DatabaseLink::start(db.url()).await.unwrap();
    let statement_timeout = Duration::from_millis(500);
    let settings = PoolSettings { size: 4, wait: Duration::from_secs(1), statement_timeout };
    let node = PostgresStore::open_with(&url, settings).await.unwrap();
    let node = Arc::new(node);
    app(&node, "x").await;
    // Far beyond the bounds: a statement left waiting fails the test instead of stalling it.
    let patience = Duration::from_secs(30);
    read_at_once(&node, 4).await;

    link.vanish();
    let started = Instant::now();
    let first = tokio::time::timeout(patience, node.application("x")).await.expect("an answer, not a wait");
    assert!(matches!(first, Err(StoreError::Unavailable(_))), "{first:?}");
    assert!(started.elapsed() >= statement_timeout, "failed after {:?}", started.elapsed());
    for i in 0..10 {
        let appended = tokio::time::timeout(patience, node.append_events(vec![event("x", i)], 1));
        appended.await.expect("an answer").expect("an append on a new connection");
    }
    assert_eq!(node.events_after("x", 0, 100).await.unwrap().len(), 10);

    read_at_once(&node, 4).await;
    link.vanish();
    let started = Instant::now();
    let transaction = tokio::time::timeout(patience, node.delete_callback_route("s")).await.expect("an answer");
    assert!(matches!(transaction, Err(StoreError::Unavailable(_))), "{transaction:?}");
    assert!(started.elapsed() < patience / 3, "given up after {:?}", started.elapsed());
    for _ in 0..10 {
        let read = tokio::time::timeout(patience, node.application("x")).await.expect("an answer");
        assert!(read.expect("a read on a new connection").is_some());
    }
    node.close().await;
}

/// A backlog of idle applications larger than one transaction takes (each is bounded, and
/// a backlog after a long stop could exceed the bound every time) is expired whole in one
/// sweep, batch by batch, each application once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_idle_applications_is_expired_whole_batch_by_batch() {
    let Some((_db, store)) = node("a_backlog_of_idle_applications_is_expired_whole_batch_by_batch").await else {
        return;
    };
    let ids: BTreeSet<String> = (0..1001).map(|i| format!("idle{i:04}")).collect();
    for id in &ids {
        app(&store, id).await;
    }
    let expired = store.expire_idle_applications(1, &["idle0007".to_owned()]).await.unwrap();
    assert_eq!(expired.len(), 1000, "every idle application but the busy one");
    let expired: BTreeSet<String> = expired.into_iter().collect();
    assert_eq!(expired.len(), 1000, "each once");
    assert!(!expired.contains("idle0007"));
    assert_eq!(store.expire_idle_applications(1, &[]).await.unwrap(), vec!["idle0007".to_owned()]);
    store.close().await;
}

/// A database in another encoding than UTF8 would refuse every character it lacks, one
/// request at a time: the store refuses to open it, naming the encoding, and creates nothing.
#[tokio::test]
async fn a_database_not_in_utf8_is_refused_at_open_and_left_untouched() {
    let test = "a_database_not_in_utf8_is_refused_at_open_and_left_untouched";
    let options = "ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'";
    let Some(db) = ScratchDatabase::create_with(test, options).await.expect("a test database") else { return };
    let refused = PostgresStore::open(db.url()).await.err().expect("a LATIN1 database is refused");
    let message = refused.to_string();
    assert!(message.contains("LATIN1") && message.contains("UTF8"), "{message}");
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let (tables,): (i64,) = sqlx::query_as("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(tables, 0, "nothing is created in a refused database");
}

/// How a managed database is reached: over TLS, the server's certificate verified against a
/// given authority (`verify-full`). Every connection of a node, the pool's and the listening
/// one, is encrypted, and a commit on one node still rings the other. A node that cannot
/// trust the server, or cannot read the authority's file, refuses to open at once (not after
/// the pool's wait for a database that is down) and says why.
#[tokio::test]
async fn over_tls_every_connection_is_verified_and_encrypted_and_a_bad_certificate_is_refused_at_once() {
    let test = "over_tls_every_connection_is_verified_and_encrypted_and_a_bad_certificate_is_refused_at_once";
    let Some(db) = ScratchDatabase::create(test).await.expect("a test database") else { return };
    let Some(authority) = scratch::server_authority(test).expect("the test server's authority") else { return };
    let verified = db.url_with_query(&format!("sslmode=verify-full&sslrootcert={authority}"));
    let a = PostgresStore::open(&verified).await.expect("open over TLS");
    let b = PostgresStore::open(&verified).await.expect("open a second node over TLS");
    app(&a, "target").await;
    rings_across(&a, &b, "target", 1).await;

    let mut watcher = PgConnection::connect(db.url()).await.unwrap();
    let (encrypted, plain, listening): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl),
                count(*) FILTER (WHERE s.ssl AND a.query LIKE 'LISTEN%')
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
         WHERE a.datname = current_database() AND a.application_name = 'ucwa-server'",
    )
    .fetch_one(&mut watcher)
    .await
    .unwrap();
    assert_eq!((plain, listening), (0, 2), "no plain connection; both nodes listen over TLS");
    assert!(encrypted > 2, "the pools' connections are encrypted too: {encrypted} in all");
    a.close().await;
    b.close().await;

    // Refusals come at once, not after the pool's wait (here a minute).
    let patient = PoolSettings { wait: Duration::from_secs(60), ..PoolSettings::default() };
    let open = |url: String| async move {
        tokio::time::timeout(Duration::from_secs(20), PostgresStore::open_with(&url, patient))
            .await
            .expect("refused without waiting for the pool")
            .err()
            .expect("refused")
            .to_string()
    };
    let untrusted = open(db.url_with_query("sslmode=verify-full")).await;
    assert!(untrusted.contains("certificate"), "the system's roots do not know the test authority: {untrusted}");
    let missing = format!("{authority}.missing");
    let unreadable = open(db.url_with_query(&format!("sslmode=verify-full&sslrootcert={missing}"))).await;
    assert!(unreadable.contains(&format!("sslrootcert {missing}")), "the file is named: {unreadable}");
}

/// A DBA's `idle_session_timeout` ends idle sessions, and a listening session is idle by
/// design: it stays (the node turns the timeout off for it), so a node is not made to
/// reconnect, ring every parked request and test its pool every period.
#[tokio::test]
async fn an_idle_session_timeout_does_not_end_the_listening_connection() {
    let test = "an_idle_session_timeout_does_not_end_the_listening_connection";
    let Some(db) = ScratchDatabase::create(test).await.expect("a test database") else { return };
    let mut conn = set_for_new_sessions(&db, "idle_session_timeout = 300").await;
    let a = PostgresStore::open(db.url()).await.unwrap();
    let listening = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'";
    let (before,): (i32,) = sqlx::query_as(listening).fetch_one(&mut conn).await.unwrap();
    // PostgreSQL's timer, not ours: four of its periods pass for real.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (after,): (i32,) = sqlx::query_as(listening).fetch_one(&mut conn).await.unwrap();
    assert_eq!(before, after, "the same listening session");

    let b = PostgresStore::open(db.url()).await.unwrap();
    app(&a, "target").await;
    rings_across(&b, &a, "target", 1).await;
    a.close().await;
    b.close().await;
}

/// DEPLOYMENT.md offers PgBouncer in session mode between the nodes and the database. Two
/// nodes open through it (PgBouncer refuses startup parameters it does not track, such as
/// the `extra_float_digits` sqlx sends by default), append gap-free, and hear each other's
/// commits on their `LISTEN` sessions through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_work_through_pgbouncer_in_session_mode() {
    let test = "two_nodes_work_through_pgbouncer_in_session_mode";
    let Some(db) = ScratchDatabase::create(test).await.expect("a test database") else { return };
    let Some(bouncer) = scratch::pgbouncer_url(test).expect("the test PgBouncer") else { return };
    let url = db.url_at(&bouncer).expect("a PgBouncer URL");
    appends_on_two_nodes_are_gap_free(&url).await;

    let a = PostgresStore::open(&url).await.expect("open through PgBouncer");
    let b = PostgresStore::open(&url).await.unwrap();
    app(&a, "target").await;
    rings_across(&a, &b, "target", 1).await;
    a.close().await;
    b.close().await;
}

/// A pooler in transaction mode loses a node's `LISTEN` and mixes its sessions' prepared
/// statements up (DEPLOYMENT.md says not to use one). A node finds out as it opens, since its
/// own first notification does not come back, and refuses to start, saying why.
#[tokio::test]
async fn a_pooler_in_transaction_mode_is_refused_at_open_with_the_reason() {
    let test = "a_pooler_in_transaction_mode_is_refused_at_open_with_the_reason";
    let Some(db) = ScratchDatabase::create(test).await.expect("a test database") else { return };
    let Some(bouncer) = scratch::pgbouncer_transaction_url(test).expect("the test PgBouncer") else { return };
    let url = db.url_at(&bouncer).expect("a PgBouncer URL");
    let refused = PostgresStore::open(&url).await.err().expect("refused").to_string();
    assert!(refused.contains("transaction mode"), "{refused}");
}

/// A database that a newer release upgraded (a migration this build does not know) is
/// refused at open with the reason, not sqlx's "missing in the resolved migrations".
#[tokio::test]
async fn a_database_from_a_newer_release_is_refused_at_open_with_the_reason() {
    let Some((db, store)) = node("a_database_from_a_newer_release_is_refused_at_open_with_the_reason").await else {
        return;
    };
    store.close().await;
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'from a newer release', true, '\\x00', 1)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let refused = PostgresStore::open(db.url()).await.err().expect("refused").to_string();
    assert!(refused.contains("upgraded by a newer release") && refused.contains("migration 9999"), "{refused}");
}

/// Sessions are named `ucwa-server` in `pg_stat_activity`, unless the URL names them (one
/// name per node, say), every session of the node alike, the listening one included.
#[tokio::test]
async fn a_nodes_sessions_carry_the_application_name_its_url_gives() {
    let Some((db, default)) = node("a_nodes_sessions_carry_the_application_name_its_url_gives").await else { return };
    let named = PostgresStore::open(&db.url_with_query("sslmode=disable&application_name=ucwa-node-2")).await.unwrap();
    app(&named, "x").await;
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let names: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT application_name, count(*), count(*) FILTER (WHERE query LIKE 'LISTEN%') FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!((names[0].0.as_str(), names[0].2), ("ucwa-node-2", 1), "{names:?}");
    assert!(names[0].1 >= 2, "the pool's sessions too: {names:?}");
    assert_eq!((names[1].0.as_str(), names[1].2), ("ucwa-server", 1), "{names:?}");
    default.close().await;
    named.close().await;
}

/// Users stored before user search had its folded keys (migration 0008 adds them empty) get
/// them when a node opens, so search finds them as it finds everyone else.
#[tokio::test]
async fn users_stored_before_search_keys_are_found_after_a_node_opens() {
    let Some((db, store)) = node("users_stored_before_search_keys_are_found_after_a_node_opens").await else { return };
    let emile =
        User { uri: "sip:emile@example.com".into(), display_name: "Émile Zola".into(), password_hash: "x".into() };
    store.upsert_user(&emile).await.unwrap();
    store.close().await;
    // As an earlier release left the row: no keys.
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    sqlx::raw_sql("UPDATE users SET name_key = NULL, uri_key = NULL").execute(&mut conn).await.unwrap();

    let store = PostgresStore::open(db.url()).await.unwrap();
    assert_eq!(store.search_users("ÉMILE", 10).await.unwrap(), [emile]);
    store.close().await;
}

/// A node pointed at a server that only reads (a hot standby, or `default_transaction_read_only`)
/// keeps trying for its pool's wait, as it would a database still starting (a failover may
/// be under way), then refuses to start and says why.
#[tokio::test]
async fn a_read_only_server_is_refused_at_open_saying_so() {
    let test = "a_read_only_server_is_refused_at_open_saying_so";
    let Some(db) = ScratchDatabase::create(test).await.expect("a test database") else { return };
    let _ = set_for_new_sessions(&db, "default_transaction_read_only = on").await.close().await;
    let brief = PoolSettings { wait: Duration::from_millis(300), ..PoolSettings::default() };
    let refused = PostgresStore::open_with(db.url(), brief).await.err().expect("refused").to_string();
    assert!(refused.contains("only reads") && refused.contains("server that takes writes"), "{refused}");
}

/// A node whose role may not create the store's tables refuses to start, saying why in
/// PostgreSQL's words and code, without the "at line N" of PostgreSQL's C source that sqlx's
/// text of an error ends with.
#[tokio::test]
async fn a_role_that_may_not_create_the_tables_is_refused_at_open_in_postgresqls_words() {
    let test = "a_role_that_may_not_create_the_tables_is_refused_at_open_in_postgresqls_words";
    let Some(db) = ScratchDatabase::create(test).await.expect("a test database") else { return };
    // A role of its own (roles belong to the whole server), with PostgreSQL 15's default
    // rights on the database: it may connect, and not create anything in `public`.
    let role = format!("ucwa_reader_{}", &db.url().rsplit_once("ucwa_test_").unwrap().1[..16]);
    let mut admin = PgConnection::connect(db.url()).await.unwrap();
    let grant = format!("CREATE ROLE {role} LOGIN PASSWORD 'reader'; REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    sqlx::raw_sql(sqlx::AssertSqlSafe(grant)).execute(&mut admin).await.unwrap();
    let (scheme, rest) = db.url().split_once("://").unwrap();
    let url = format!("{scheme}://{role}:reader@{}", rest.split_once('@').unwrap().1);
    let refused = PostgresStore::open(&url).await.err().expect("refused").to_string();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE {role}"))).execute(&mut admin).await.unwrap();
    assert!(refused.contains("permission denied for schema public") && refused.contains("(code 42501)"), "{refused}");
    assert!(!refused.contains(" at line "), "{refused}");
}

/// A DBA's `lock_timeout` is for requests: a node that starts while another holds the tables
/// its migrations need (another node migrating, here a transaction locking sqlx's record of
/// them) waits for them instead of failing; its requests keep the database's setting.
#[tokio::test]
async fn a_starting_node_waits_for_the_migration_tables_despite_a_lock_timeout() {
    let test = "a_starting_node_waits_for_the_migration_tables_despite_a_lock_timeout";
    let Some((db, first)) = node(test).await else { return };
    first.close().await;
    let _ = set_for_new_sessions(&db, "lock_timeout = 1").await.close().await;
    let mut holder = PgConnection::connect(db.url()).await.unwrap();
    let mut held = holder.begin().await.unwrap();
    sqlx::raw_sql("LOCK TABLE _sqlx_migrations IN ACCESS EXCLUSIVE MODE").execute(&mut *held).await.unwrap();
    let url = db.url().to_owned();
    let opening = tokio::spawn(async move { PostgresStore::open(&url).await });
    // Until the opening node is seen waiting for the lock (PostgreSQL's lock table, not a timer).
    let mut watcher = PgConnection::connect(db.url()).await.unwrap();
    loop {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'ucwa-server' AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if waiting > 0 || opening.is_finished() {
            break;
        }
        tokio::task::yield_now().await;
    }
    held.commit().await.unwrap();
    let store = opening.await.unwrap().expect("opened once the lock was free");
    // A request does not wait out a lock: the connection that migrated is back at the
    // database's `lock_timeout` (the pool hands out the most recently used one first).
    let mut held = holder.begin().await.unwrap();
    sqlx::raw_sql("LOCK TABLE users IN ACCESS EXCLUSIVE MODE").execute(&mut *held).await.unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(10), store.find_user("sip:a@example.com"))
        .await
        .expect("gave up at the lock timeout")
        .expect_err("refused");
    assert!(refused.to_string().contains("55P03"), "{refused}");
    held.rollback().await.unwrap();
    store.close().await;
}
