//! Several `ucwa-server` processes on one PostgreSQL database, as behind a load balancer: a
//! client sends every request to a node chosen at random, and nodes are killed with SIGKILL
//! while work is in flight. The processes run on the machine's clock (a process cannot share
//! a test's manual clock), so these tests wait for real, with short limits. Skipped with a
//! notice without `UCWA_TEST_POSTGRES_URL`, outside CI.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::Running;
use tokio::sync::RwLock;
use ucwa_store_postgres::PostgresStore;
use ucwa_store_postgres::scratch::{DatabaseLink, ScratchDatabase};
use ucwa_testkit::{CallbackReceiver, events_of};

/// How long any one step may take before the test calls it a hang.
const STEP: Duration = Duration::from_secs(60);

/// Short limits, so the real clock moves the tests along quickly.
const NODE_ARGS: &[&str] = &[
    "--events-min-timeout-secs",
    "1",
    "--events-min-hold-secs",
    "1",
    "--signin-attempts-per-minute",
    "1000",
    "--callback-timeout-secs",
    "2",
    "--callback-retry-base-ms",
    "200",
    "--callback-retry-max-secs",
    "1",
    // The tests' callback receivers listen on loopback.
    "--callback-allow-networks",
    "127.0.0.0/8",
];

/// The password sign-in of the demo user Alice (nodes started with `--demo`).
const DEMO_ALICE: [(&str, &str); 3] =
    [("grant_type", "password"), ("username", "sip:alice@example.com"), ("password", "alice-demo-password")];

/// Nodes on one database and a client for them.
struct Cluster {
    /// `None` once killed.
    nodes: RwLock<Vec<Option<Running>>>,
    client: reqwest::Client,
    db: ScratchDatabase,
}

impl Cluster {
    async fn start(test: &str, n: usize) -> Option<Arc<Self>> {
        Self::start_with(test, n, &[]).await
    }

    /// [`Cluster::start`] with `extra` arguments for every node.
    async fn start_with(test: &str, n: usize, extra: &[&str]) -> Option<Arc<Self>> {
        let db = ScratchDatabase::create(test).await.expect("a test database")?;
        let url = db.url().to_owned();
        Some(Self::start_on(db, &url, n, extra).await)
    }

    /// `n` nodes on `db`, which they reach at `url` (a test may put a [`DatabaseLink`] in
    /// between).
    async fn start_on(db: ScratchDatabase, url: &str, n: usize, extra: &[&str]) -> Arc<Self> {
        let args: Vec<&str> = NODE_ARGS.iter().chain(extra).copied().collect();
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            nodes.push(Some(Running::start(url, &args).await));
        }
        ucwa_server::callbacks::install_crypto_provider();
        let client = reqwest::Client::builder().timeout(STEP).build().unwrap();
        Arc::new(Self { nodes: RwLock::new(nodes), client, db })
    }

    /// Adds a user straight into the database (as `ucwa-server user add` does).
    async fn add_user(&self, uri: &str, name: &str) {
        let store = PostgresStore::open(self.db.url()).await.unwrap();
        ucwa_server::cli::add_user(&store, uri, name, format!("{name}-password\n").as_bytes()).await.unwrap();
        ucwa_core::Store::close(&store).await;
    }

    /// The URL of a live node chosen at random.
    async fn pick(&self) -> String {
        let nodes = self.nodes.read().await;
        let live: Vec<&Running> = nodes.iter().flatten().collect();
        let i = usize::from(ucwa_core::credentials::random_bytes::<1>()[0]) % live.len();
        live[i].url.clone()
    }

    /// Kills node `i` with SIGKILL.
    async fn kill(&self, i: usize) {
        let node = self.nodes.write().await[i].take().expect("a live node");
        node.kill().await;
    }

    /// Sends a request to a random node. When the connection fails (the node is gone) it is
    /// sent again to another node, as a client behind a balancer would; a request cut off
    /// after it was sent is sent again only if `idempotent` (GETs, admits), otherwise the
    /// error is returned and the caller decides.
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<reqwest::Response, reqwest::Error> {
        // An absolute href names the node that rendered it: any node will do.
        let path = match path.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => path,
        };
        let mut attempts = 0;
        loop {
            let url = format!("{}{path}", self.pick().await);
            let mut request = self.client.request(method.clone(), url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            match request.send().await {
                Ok(resp) => return Ok(resp),
                Err(e) if attempts < 10 && (e.is_connect() || idempotent) => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> reqwest::Response {
        self.send(method, path, Some(token), body.as_ref(), true).await.unwrap()
    }

    async fn token(&self, form: &[(&str, &str)]) -> String {
        let resp = loop {
            let url = format!("{}/WebTicket/oauthtoken", self.pick().await);
            if let Ok(resp) = self.client.post(url).form(form).send().await {
                break resp;
            }
        };
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    async fn user_token(&self, uri: &str, name: &str) -> String {
        let password = format!("{name}-password");
        self.token(&[("grant_type", "password"), ("username", uri), ("password", &password)]).await
    }

    /// A new application of the token's user; returns the application resource.
    async fn app(&self, token: &str, endpoint: &str) -> Value {
        let body = json!({"UserAgent": "processes", "EndpointId": endpoint, "Culture": "en-US"});
        let resp = self.call(Method::POST, "/ucwa/oauth/v1/applications", token, Some(body)).await;
        assert!(resp.status().is_success(), "{}", resp.status());
        resp.json().await.unwrap()
    }
}

fn href(resource: &Value, rel: &str) -> String {
    resource["_links"][rel]["href"].as_str().unwrap_or_else(|| panic!("no {rel} in {resource:#}")).to_owned()
}

/// One application's event channel, every poll on a random node.
struct Channel {
    cluster: Arc<Cluster>,
    token: String,
    next: String,
    /// Every event received, in order.
    seen: Vec<Value>,
}

/// Posts `makeMeAvailable` (for messaging) of application `app` as `token`.
async fn make_available(cluster: &Cluster, token: &str, app: &Value) -> reqwest::Response {
    let href = app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"].as_str().unwrap();
    cluster.call(Method::POST, href, token, Some(json!({"SupportedModalities": ["Messaging"]}))).await
}

impl Channel {
    fn new(cluster: &Arc<Cluster>, token: &str, app: &Value) -> Self {
        Self { cluster: cluster.clone(), token: token.to_owned(), next: href(app, "events"), seen: Vec::new() }
    }

    /// One poll. A request that fails is sent again with the same `ack` (to another node):
    /// the server answers the batch the lost response carried.
    async fn poll(&mut self) -> Vec<Value> {
        let path = format!("{}&timeout=1", self.next);
        let resp = self.cluster.call(Method::GET, &path, &self.token, None).await;
        assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
        let batch: Value = resp.json().await.unwrap();
        self.next = href(&batch, "next");
        let events = events_of(&batch);
        self.seen.extend(events.iter().cloned());
        events
    }

    /// Polls until the application's own presence is announced, as added (it made itself
    /// available).
    async fn until_presence_added(&mut self) {
        let presence = self.until(|e| e["link"]["rel"] == "presence").await;
        assert_eq!(presence["type"], "added");
    }

    /// Polls until an event satisfies `pred`; returns it.
    async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        tokio::time::timeout(STEP, async {
            loop {
                if let Some(e) = self.poll().await.into_iter().find(&pred) {
                    return e;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no matching event; saw {:#?}", self.seen))
    }

    /// Polls until every invitation whose `started` was seen has its `completed` too.
    async fn until_every_invitation_ends(&mut self) {
        let open = |seen: &[Value]| {
            let of = |kind: &str| -> BTreeSet<String> {
                seen.iter()
                    .filter(|e| e["link"]["rel"] == "onlineMeetingInvitation" && e["type"] == kind)
                    .filter_map(|e| e["link"]["href"].as_str().map(str::to_owned))
                    .collect()
            };
            of("started").difference(&of("completed")).count()
        };
        tokio::time::timeout(STEP, async {
            while open(&self.seen) > 0 {
                self.poll().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("an invitation never completed; saw {:#?}", self.seen));
    }
}

/// The href of `rel` in a resource's links, an embedded resource of that rel, or recursively
/// in the embedded resources.
fn find_href(resource: &Value, rel: &str) -> Option<String> {
    if let Some(h) = resource["_links"][rel]["href"].as_str() {
        return Some(h.to_owned());
    }
    if let Some(h) = resource["_embedded"][rel]["_links"]["self"]["href"].as_str() {
        return Some(h.to_owned());
    }
    resource["_embedded"].as_object()?.values().find_map(|r| find_href(r, rel))
}

fn completed(rel: &'static str) -> impl Fn(&Value) -> bool {
    move |e: &Value| e["type"] == "completed" && e["link"]["rel"] == rel
}

/// A Locked meeting organized by Alice, who has joined it; her channel and token.
async fn alice_in_a_locked_meeting(cluster: &Arc<Cluster>) -> (String, Value, Channel, String) {
    cluster.add_user("sip:alice@example.com", "Alice").await;
    let token = cluster.user_token("alice@example.com", "Alice").await;
    let app = cluster.app(&token, "alice-laptop").await;
    let meetings = format!("{}/onlineMeetings/myOnlineMeetings", href(&app, "self"));
    let resp = cluster.call(Method::POST, &meetings, &token, Some(json!({"accessLevel": "Locked"}))).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let uri = resp.json::<Value>().await.unwrap()["onlineMeetingUri"].as_str().unwrap().to_owned();
    let mut channel = Channel::new(cluster, &token, &app);
    join(cluster, &token, &app, &uri).await.expect("Alice joins");
    let done = channel.until(completed("onlineMeetingInvitation")).await;
    assert_eq!(done["status"], "Success");
    (token, app, channel, uri)
}

/// POSTs a join; `Err` when the request was cut off (its fate unknown to the client).
async fn join(cluster: &Cluster, token: &str, app: &Value, meeting_uri: &str) -> Result<(), reqwest::Error> {
    let path = format!("{}/communication/onlineMeetingInvitations", href(app, "self"));
    let body = json!({"onlineMeetingUri": meeting_uri});
    let resp = cluster.send(Method::POST, &path, Some(token), Some(&body), false).await?;
    assert_eq!(resp.status(), StatusCode::CREATED);
    Ok(())
}

/// The admit link of a lobby `added` event.
fn admit_link(e: &Value) -> Option<String> {
    (e["type"] == "added" && e["in"]["rel"] == "lobby")
        .then(|| e["_embedded"]["participant"]["_links"]["admit"]["href"].as_str().map(str::to_owned))
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_on_random_nodes_joins_is_admitted_and_messages() {
    let Some(cluster) = Cluster::start("a_client_on_random_nodes_joins_is_admitted_and_messages", 3).await else {
        return;
    };
    let (alice_token, alice_app, mut alice, uri) = alice_in_a_locked_meeting(&cluster).await;

    // Bob joins and waits in the lobby; Alice admits him; his invitation completes.
    cluster.add_user("sip:bob@example.com", "Bob").await;
    let bob_token = cluster.user_token("bob@example.com", "Bob").await;
    let bob_app = cluster.app(&bob_token, "bob-laptop").await;
    let mut bob = Channel::new(&cluster, &bob_token, &bob_app);
    join(&cluster, &bob_token, &bob_app, &uri).await.unwrap();
    bob.until(|e| e["_embedded"]["conversation"]["state"] == "InLobby").await;
    let admit = admit_link(&alice.until(|e| admit_link(e).is_some()).await).unwrap();
    let resp = cluster.call(Method::POST, &admit, &alice_token, None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let done = bob.until(completed("onlineMeetingInvitation")).await;
    assert_eq!(done["status"], "Success");
    let completions = bob.seen.iter().filter(|e| completed("onlineMeetingInvitation")(e)).count();
    assert_eq!(completions, 1);

    // An incoming invitation: Bob, available, is called by Alice and accepts; a message
    // crosses.
    assert_eq!(make_available(&cluster, &bob_token, &bob_app).await.status(), 204);
    let start = href(&alice_app["_embedded"]["communication"], "startMessaging");
    let call = json!({"to": "sip:bob@example.com", "operationId": "call-1", "subject": "Quick question"});
    let resp = cluster.call(Method::POST, &start, &alice_token, Some(call)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let ringing = bob
        .until(|e| {
            e["link"]["rel"] == "messagingInvitation"
                && e["_embedded"]["messagingInvitation"]["direction"] == "Incoming"
        })
        .await;
    let accept = href(&ringing["_embedded"]["messagingInvitation"], "accept");
    assert_eq!(cluster.call(Method::POST, &accept, &bob_token, Some(json!({}))).await.status(), 204);
    let connected = alice.until(completed("messagingInvitation")).await;
    assert_eq!(connected["status"], "Success");
    let messaging = alice
        .seen
        .iter()
        .rev()
        .find(|e| e["link"]["rel"] == "messaging" && e["_embedded"]["messaging"]["state"] == "Connected")
        .map(|e| e["_embedded"]["messaging"].clone())
        .expect("Alice's messaging connected");
    let send = href(&messaging, "sendMessage");
    let path = format!("{send}?OperationContext=m1");
    let resp = cluster
        .client
        .post(format!("{}{path}", cluster.pick().await))
        .bearer_auth(&alice_token)
        .header("content-type", "text/plain")
        .body("Hello Bob")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    bob.until(|e| e["link"]["rel"] == "message" && e["_embedded"]["message"]["direction"] == "Incoming").await;
}

/// While its database cannot be reached (every connection cut, new ones refused, as in a
/// restart or failover) a node answers requests with 503 `ServiceUnavailable` and
/// `Retry-After` within its `--database-wait-ms`, never a 500; a parked event request is held
/// through the outage and answers so when its time is up. Once the database is back the node
/// serves again, and the event channel carries on from the `ack` the outage answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_answers_503_while_its_database_is_unreachable_and_carries_on_after() {
    let test = "a_node_answers_503_while_its_database_is_unreachable_and_carries_on_after";
    let Some(db) = ScratchDatabase::create(test).await.expect("a test database") else { return };
    let (mut link, url) = DatabaseLink::start(db.url()).await.unwrap();
    let cluster = Cluster::start_on(db, &url, 1, &["--database-wait-ms", "300", "--demo"]).await;
    let token = cluster.token(&DEMO_ALICE).await;
    let app = cluster.app(&token, "outage").await;
    let mut channel = Channel::new(&cluster, &token, &app);
    let parked = {
        let (cluster, token, path) = (cluster.clone(), token.clone(), format!("{}&timeout=2", channel.next));
        tokio::spawn(async move { cluster.call(Method::GET, &path, &token, None).await })
    };
    // Let the request park before the database goes.
    tokio::time::sleep(Duration::from_millis(300)).await;

    link.cut().await;
    let unavailable = |resp: reqwest::Response| async move {
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()["retry-after"], "1");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "ServiceUnavailable", "{body}");
    };
    unavailable(tokio::time::timeout(STEP, parked).await.expect("the parked request answers").unwrap()).await;
    let started = std::time::Instant::now();
    unavailable(cluster.call(Method::GET, &href(&app, "self"), &token, None).await).await;
    let url = format!("{}/WebTicket/oauthtoken", cluster.pick().await);
    unavailable(cluster.client.post(url).form(&DEMO_ALICE).send().await.unwrap()).await;
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "two requests took {waited:?} to give up with a wait of 300 ms");

    link.restore().await.unwrap();
    let resp = tokio::time::timeout(STEP, async {
        loop {
            let resp = cluster.call(Method::GET, &href(&app, "self"), &token, None).await;
            if resp.status() != StatusCode::SERVICE_UNAVAILABLE {
                return resp;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the node serves again once the database is back");
    assert_eq!(resp.status(), StatusCode::OK);
    // What happens next reaches the channel from the `ack` the outage answered.
    assert_eq!(make_available(&cluster, &token, &app).await.status(), 204);
    channel.until_presence_added().await;
}

/// A database host that vanishes (power lost, a network that drops packets) answers nothing
/// and closes no connection, so a request caught on one of the node's connections would wait
/// for the kernel to give up on the link, a quarter of an hour. It answers within the node's
/// `--database-statement-timeout-ms` instead (503 with `Retry-After`), and the node then
/// serves from the server the database's name leads to now (here the same one, through new
/// connections): its next requests succeed, and the event channel carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_database_host_vanishes_answers_within_its_statement_timeout_and_carries_on() {
    let test = "a_node_whose_database_host_vanishes_answers_within_its_statement_timeout_and_carries_on";
    let Some(db) = ScratchDatabase::create(test).await.expect("a test database") else { return };
    let (link, url) = DatabaseLink::start(db.url()).await.unwrap();
    let cluster = Cluster::start_on(db, &url, 1, &["--database-statement-timeout-ms", "500", "--demo"]).await;
    let token = cluster.token(&DEMO_ALICE).await;
    let app = cluster.app(&token, "vanish").await;
    let mut channel = Channel::new(&cluster, &token, &app);
    let burst = || {
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (cluster, token, me) = (cluster.clone(), token.clone(), href(&app, "self"));
            burst.spawn(async move { cluster.call(Method::GET, &me, &token, None).await });
        }
        burst.join_all()
    };
    // Several of the node's connections, each used a moment ago.
    assert!(burst().await.iter().all(|resp| resp.status() == StatusCode::OK));

    link.vanish();
    let started = std::time::Instant::now();
    let answers = tokio::time::timeout(Duration::from_secs(15), burst()).await.expect("every request answers");
    for resp in &answers {
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::SERVICE_UNAVAILABLE => assert_eq!(resp.headers()["retry-after"], "1"),
            other => panic!("{other} from a node whose database host vanished"),
        }
    }
    let unavailable = answers.iter().filter(|resp| resp.status() == StatusCode::SERVICE_UNAVAILABLE).count();
    assert!(unavailable > 0, "the requests on the silent connections answer 503");
    assert!(started.elapsed() < Duration::from_secs(10), "answered after {:?}", started.elapsed());

    for _ in 0..10 {
        let resp = cluster.call(Method::GET, &href(&app, "self"), &token, None).await;
        assert_eq!(resp.status(), StatusCode::OK, "a request after the host vanished");
    }
    assert_eq!(make_available(&cluster, &token, &app).await.status(), 204);
    channel.until_presence_added().await;
}

/// A node keeps no connection to a server that only reads. After a failover the database's
/// name can lead to the old primary, back as a hot standby, until the name moves; here every
/// session the node opens meanwhile starts read-only (`default_transaction_read_only`, which is
/// what `transaction_read_only` reports on a standby). Requests answer 503 meanwhile, reads
/// included (a standby's answers may be stale), and the first request after the server takes
/// writes again succeeds, where a pooled read-only connection would fail it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_keeps_no_connection_to_a_server_that_only_reads() {
    let args = ["--database-wait-ms", "300", "--demo"];
    let Some(cluster) = Cluster::start_with("a_node_keeps_no_connection_to_a_server_that_only_reads", 1, &args).await
    else {
        return;
    };
    let token = cluster.token(&DEMO_ALICE).await;
    let app = cluster.app(&token, "standby").await;
    let mut channel = Channel::new(&cluster, &token, &app);
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(cluster.db.url()).await.unwrap();
    let read_only = |on: bool| {
        let setting = if on { "SET default_transaction_read_only = on" } else { "RESET default_transaction_read_only" };
        format!("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I {setting}', current_database()); END $$")
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(read_only(true))).execute(&mut admin).await.unwrap();
    // The failover: every session of the node ends, so each connection it opens from now on
    // reaches the "standby".
    sqlx::raw_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        .execute(&mut admin)
        .await
        .unwrap();
    for _ in 0..3 {
        let resp = cluster.call(Method::GET, &href(&app, "self"), &token, None).await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "a read from a server that only reads");
        let resp = make_available(&cluster, &token, &app).await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    sqlx::raw_sql(sqlx::AssertSqlSafe(read_only(false))).execute(&mut admin).await.unwrap();
    let resp = make_available(&cluster, &token, &app).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT, "the first write once the server takes writes");
    channel.until_presence_added().await;
}

/// `--database-pool-size` bounds the database connections of a node however many requests
/// run at once: its pool plus the one it listens on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_keeps_to_its_database_pool_size() {
    const POOL: i64 = 2;
    let pool = POOL.to_string();
    // The demo users: no other store than the node's touches the database.
    let args = ["--database-pool-size", pool.as_str(), "--demo"];
    let Some(cluster) = Cluster::start_with("a_node_keeps_to_its_database_pool_size", 1, &args).await else { return };
    let token = cluster.token(&DEMO_ALICE).await;
    let me = href(&cluster.app(&token, "pool").await, "self");
    let watcher = sqlx::PgPool::connect(cluster.db.url()).await.unwrap();
    let count = || async {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ucwa-server'",
        )
        .fetch_one(&watcher)
        .await
        .unwrap();
        n
    };

    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let (cluster, me, token) = (cluster.clone(), me.clone(), token.clone());
        burst.spawn(async move { cluster.call(Method::GET, &me, &token, None).await.status() });
    }
    let mut most = count().await;
    while !burst.is_empty() {
        tokio::select! {
            Some(done) = burst.join_next() => assert_eq!(done.unwrap(), StatusCode::OK),
            n = count() => most = most.max(n),
        }
    }
    most = most.max(count().await);
    assert!(most <= POOL + 1, "{most} connections for a pool of {POOL} and the listener");
    assert!(most >= 2, "the burst used the database ({most} connections seen)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_during_fifty_joins_loses_and_repeats_nothing() {
    const JOINS: usize = 50;
    let Some(cluster) = Cluster::start("a_node_killed_during_fifty_joins_loses_and_repeats_nothing", 3).await else {
        return;
    };
    let (alice_token, _, mut alice, uri) = alice_in_a_locked_meeting(&cluster).await;
    // Alice admits whoever appears in her lobby, through any node, for as long as needed.
    let admitter = {
        let cluster = cluster.clone();
        tokio::spawn(async move {
            loop {
                for e in alice.poll().await {
                    if let Some(admit) = admit_link(&e) {
                        // 409 when an earlier attempt got through before its answer was lost.
                        let status = cluster.call(Method::POST, &admit, &alice_token, None).await.status();
                        assert!(status == 204 || status == 409, "admit answered {status}");
                    }
                }
            }
        })
    };
    cluster.add_user("sip:guests@example.com", "Guests").await;
    let token = cluster.user_token("guests@example.com", "Guests").await;
    let posted = Arc::new(AtomicUsize::new(0));
    let mut attendees = tokio::task::JoinSet::new();
    for i in 0..JOINS {
        let (cluster, token, uri, posted) = (cluster.clone(), token.clone(), uri.clone(), posted.clone());
        attendees.spawn(async move {
            let app = cluster.app(&token, &format!("guest-{i}")).await;
            let mut channel = Channel::new(&cluster, &token, &app);
            // A join cut off by the killed node may or may not have been taken: the client
            // joins again, and whatever was taken shows on its channel.
            while join(&cluster, &token, &app, &uri).await.is_err() {}
            posted.fetch_add(1, Ordering::SeqCst);
            channel.until(|e| completed("onlineMeetingInvitation")(e) && e["status"] == "Success").await;
            // A join the killed node took before its answer was lost is a second invitation
            // of this attendee, which Alice admits too, and it may end after the first
            // success: read on until each has ended, so the counts below see every end.
            channel.until_every_invitation_ends().await;
            channel.seen
        });
    }
    // Kill a node while the joins are in flight.
    tokio::time::timeout(STEP, async {
        while posted.load(Ordering::SeqCst) < JOINS / 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("joins start");
    cluster.kill(1).await;
    let mut all = Vec::new();
    while let Some(done) = attendees.join_next().await {
        all.push(done.expect("an attendee carried on through the other nodes"));
    }
    admitter.abort();
    assert_eq!(all.len(), JOINS);
    // Every invitation ends with exactly one `completed`, after exactly one `started`, and no
    // event reached a client twice.
    for seen in &all {
        let mut per_invitation: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for e in seen.iter().filter(|e| e["link"]["rel"] == "onlineMeetingInvitation") {
            let counts = per_invitation.entry(e["link"]["href"].as_str().unwrap().to_owned()).or_default();
            match e["type"].as_str() {
                Some("started") => counts.0 += 1,
                Some("completed") => counts.1 += 1,
                _ => {}
            }
        }
        assert!(!per_invitation.is_empty());
        for (invitation, counts) in &per_invitation {
            assert_eq!(*counts, (1, 1), "{invitation}: (started, completed)");
        }
        let conversation_added = seen.iter().filter(|e| e["link"]["rel"] == "conversation" && e["type"] == "added");
        assert_eq!(conversation_added.count(), per_invitation.len(), "one conversation per invitation, once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_resume_on_another_node_when_the_delivering_one_is_killed() {
    let Some(cluster) = Cluster::start("callbacks_resume_on_another_node_when_the_delivering_one_is_killed", 1).await
    else {
        return;
    };
    let receiver = CallbackReceiver::start().await;
    // A service application joins its own ad hoc meeting with callbacks (the only node then
    // is the one that delivers them).
    let store = PostgresStore::open(cluster.db.url()).await.unwrap();
    let bot_uri = "sip:bot@contoso.com";
    let secret = "bot-client-secret-0123456789";
    ucwa_server::cli::add_service_app(&store, bot_uri, "Bot", None, &[], format!("{secret}\n").as_bytes())
        .await
        .unwrap();
    ucwa_core::Store::close(&store).await;
    let bot =
        cluster.token(&[("grant_type", "client_credentials"), ("client_id", bot_uri), ("client_secret", secret)]).await;
    let discover =
        cluster.call(Method::GET, "/platformservice/discover", &bot, None).await.json::<Value>().await.unwrap();
    let apps = format!("{}?endpointId={bot_uri}", href(&discover, "ms:rtc:saas:applications"));
    let listing = cluster.call(Method::GET, &apps, &bot, None).await.json::<Value>().await.unwrap();
    let app_href = href(&listing, "ms:rtc:saas:application");
    let app = cluster.call(Method::GET, &app_href, &bot, None).await.json::<Value>().await.unwrap();
    let adhoc = find_href(&app, "ms:rtc:saas:adhocMeetings")
        .unwrap_or_else(|| panic!("no adhocMeetings in {app:#} ({app_href})"));
    let meeting = cluster.call(Method::POST, &adhoc, &bot, Some(json!({"accessLevel": "Locked"}))).await;
    assert_eq!(meeting.status(), StatusCode::OK);
    let meeting: Value = meeting.json().await.unwrap();
    let join = href(&meeting, "ms:rtc:saas:joinAdhocMeeting");
    let body = json!({"operationId": "op", "callbackUrl": receiver.url});
    assert_eq!(cluster.call(Method::POST, &join, &bot, Some(body)).await.status(), StatusCode::CREATED);
    receiver.wait_for(STEP, |b| b.iter().any(|r| events_of(&r.json()).iter().any(|e| e["type"] == "completed"))).await;

    // The receiver holds the next delivery, and the node delivering it (the only one) is
    // killed while its POST waits; a second node starts.
    receiver.hold(Duration::from_millis(1500));
    let uri = meeting["onlineMeetingUri"].as_str().unwrap().to_owned();
    let lobby_add = |name: &str| {
        let name = name.to_owned();
        move |r: &ucwa_testkit::Recorded| {
            events_of(&r.json()).iter().any(|e| e["in"]["rel"] == "ms:rtc:saas:lobby" && e["link"]["title"] == name)
        }
    };
    cluster.add_user("sip:ann@fabrikam.com", "Ann").await;
    let ann = cluster.user_token("ann@fabrikam.com", "Ann").await;
    let ann_app = cluster.app(&ann, "ann-laptop").await;
    join_as(&cluster, &ann, &ann_app, &uri).await;
    let held = receiver.wait_for_requests(STEP, |r| r.iter().any(lobby_add("Ann"))).await;
    let held = held.iter().find(|r| lobby_add("Ann")(r)).unwrap().clone();
    cluster.kill(0).await;
    cluster.nodes.write().await.push(Some(Running::start(cluster.db.url(), NODE_ARGS).await));
    receiver.hold(Duration::ZERO);
    // Another join after the kill: it must arrive after Ann's, which is delivered again.
    cluster.add_user("sip:ben@fabrikam.com", "Ben").await;
    let ben = cluster.user_token("ben@fabrikam.com", "Ben").await;
    let ben_app = cluster.app(&ben, "ben-laptop").await;
    join_as(&cluster, &ben, &ben_app, &uri).await;
    let requests = receiver.wait_for_requests(STEP, |r| r.iter().any(lobby_add("Ben"))).await;
    let delivery = |r: &ucwa_testkit::Recorded| r.header("x-openucwa-delivery").unwrap_or_default().to_owned();
    let again: Vec<&ucwa_testkit::Recorded> =
        requests.iter().filter(|r| delivery(r) == delivery(&held) && !delivery(r).is_empty()).collect();
    assert_eq!(again.len(), 2, "the batch cut off by the kill is delivered again, under the same id");
    assert_eq!(events_of(&again[0].json()), events_of(&again[1].json()), "with the same events");
    let order: Vec<String> = requests
        .iter()
        .flat_map(|r| events_of(&r.json()))
        .filter(|e| e["in"]["rel"] == "ms:rtc:saas:lobby" && e["type"] == "added")
        .map(|e| e["link"]["title"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(order, ["Ann", "Ann", "Ben"], "in order, Ann's batch repeated, nothing lost");
}

/// A user's join of the meeting, retried until a node takes it.
async fn join_as(cluster: &Cluster, token: &str, app: &Value, uri: &str) {
    while join(cluster, token, app, uri).await.is_err() {}
}
