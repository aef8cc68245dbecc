//! Starts the real OpenUCWA server on `127.0.0.1:0` with a temporary SQLite database (or
//! any store, [`TestServer::start_on`]), for API tests and benchmarks. Everything goes
//! through HTTP; the only shortcut is creating users directly in the store (what
//! `ucwa-server user add` does).
//!
//! With `UCWA_TEST_STORE=postgres` ([`TestOptions::store`]) every test server gets a database
//! of its own on the PostgreSQL server `UCWA_TEST_POSTGRES_URL` names, and with
//! `UCWA_TEST_NODES=N` ([`TestOptions::nodes`]) it is N nodes on that database, one clock,
//! every request sent to a node chosen at random, as behind a load balancer: `.ci/run` runs
//! the API suite on SQLite and again on two PostgreSQL nodes. [`TestServer::start_nodes`]
//! gives a test the nodes themselves.
//!
//! Time limits are shortened (one-second event timeouts and holds) and, by default, the
//! server runs on a manual clock: nothing times out until the test moves time with
//! [`TestServer::advance`], and [`EventStream`] moves it by one event-channel timeout
//! whenever its request waits with nothing to deliver, so a quiet poll costs no wall time.
//! Each test can change the limits or ask for the machine's clock through [`TestOptions`].
//!
//! Every answer the helpers receive (responses, event batches, callbacks) is read into
//! `ucwa-proto`'s typed wire model ([`wire`]); one the model does not cover fails the test.

// Test support: a helper that cannot do what the test asked panics, which fails the test
// with the reason; returning errors would only move the unwrap into every test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod receiver;
pub mod wire;

pub use receiver::{CallbackReceiver, Recorded};
pub use wire::checked;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use ucwa_core::DynStore;
use ucwa_core::clock::{DynClock, ManualClock, SystemClock};
use ucwa_server::config::Limits;
use ucwa_server::{ConnectionLimits, Server, ServerOptions};
use ucwa_service::Services;
use ucwa_store_postgres::PostgresStore;
use ucwa_store_postgres::scratch::ScratchDatabase;
use ucwa_store_sqlite::SqliteStore;

/// Knobs a test may change.
#[derive(Debug, Clone)]
pub struct TestOptions {
    pub limits: Limits,
    pub clock: TestClock,
    /// Keep Prometheus metrics and serve them on a second loopback port
    /// ([`TestServer::metrics`]).
    pub metrics: bool,
    /// Which store [`TestServer::start_with`] opens (default: from `UCWA_TEST_STORE`).
    pub store: StoreKind,
    /// How many nodes serve the test's requests (default: `UCWA_TEST_NODES`, or 1); more
    /// than one needs PostgreSQL.
    pub nodes: usize,
    /// Connection timeouts and cap (real time: they protect sockets).
    pub connections: ConnectionLimits,
    /// Internal networks callbacks may reach: 127.0.0.0/8 by default (the tests' receivers).
    pub callback_allow_networks: Vec<String>,
}

/// The environment variable that sets the default [`TestOptions::nodes`].
pub const NODES_ENV: &str = "UCWA_TEST_NODES";

/// The environment variable that chooses the default [`StoreKind`]: `postgres` or `sqlite`.
pub const STORE_ENV: &str = "UCWA_TEST_STORE";

/// Which store a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh database on the server of `UCWA_TEST_POSTGRES_URL`.
    Postgres,
}

impl StoreKind {
    /// From `UCWA_TEST_STORE`; SQLite when unset.
    pub fn from_env() -> Self {
        match std::env::var(STORE_ENV).as_deref() {
            Ok("postgres") => StoreKind::Postgres,
            _ => StoreKind::Sqlite,
        }
    }
}

/// Which clock the server runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TestClock {
    /// A [`ManualClock`] starting at the machine's time; only [`TestServer::advance`] moves it.
    #[default]
    Manual,
    /// The machine's clock (benchmarks, and clients outside the test's control).
    System,
}

impl Default for TestOptions {
    fn default() -> Self {
        let limits = Limits {
            events_min_timeout_secs: 1,
            events_min_hold_secs: 1,
            application_idle_secs: 3600,
            signin_attempts_per_minute: 1000,
            signin_address_attempts_per_minute: 10_000,
            ..Limits::default()
        };
        let nodes = std::env::var(NODES_ENV).ok().and_then(|n| n.parse().ok()).unwrap_or(1);
        Self {
            limits,
            clock: TestClock::default(),
            metrics: false,
            connections: ConnectionLimits::default(),
            callback_allow_networks: vec!["127.0.0.0/8".into()],
            store: StoreKind::from_env(),
            nodes,
        }
    }
}

/// Opens the store a test server runs on. [`TestServer::restart`] calls it again after the
/// stopped server closed the store, so it must open the same database each time.
pub type StoreFactory = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = DynStore> + Send>> + Send + Sync>;

/// The default store: a SQLite file in `dir`.
pub fn sqlite_store(dir: Arc<TempDir>) -> StoreFactory {
    Arc::new(move || {
        let url = format!("sqlite://{}", dir.path().join("ucwa.db").display());
        Box::pin(async move {
            let store = SqliteStore::open(&url).await.expect("open the test database");
            Arc::new(store) as DynStore
        })
    })
}

/// A store on the scratch PostgreSQL database `db` (kept as long as the factory is).
pub fn postgres_store(db: Arc<ScratchDatabase>) -> StoreFactory {
    Arc::new(move || {
        let db = db.clone();
        Box::pin(async move {
            let store = PostgresStore::open(db.url()).await.expect("open the test database");
            Arc::new(store) as DynStore
        })
    })
}

/// How long a test waits for something the server does at once before it calls it a hang.
const HANG: Duration = Duration::from_secs(30);

/// A running server and a client for it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    pub client: Client,
    pub store: DynStore,
    open_store: StoreFactory,
    /// The server's use cases (their progress is what tests wait on).
    pub services: Services,
    /// The manual clock, unless the test asked for the machine's.
    clock: Option<Arc<ManualClock>>,
    options: TestOptions,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    dir: Arc<TempDir>,
    /// `http://127.0.0.1:PORT/metrics` when [`TestOptions::metrics`] is on.
    metrics_url: Option<String>,
    /// The PostgreSQL database, when [`TestOptions::store`] chose one.
    postgres: Option<Arc<ScratchDatabase>>,
    /// The other nodes serving this test's requests ([`TestOptions::nodes`]).
    peers: Vec<TestServer>,
}

/// A signed-in user's application, as a client would hold it.
#[derive(Debug, Clone)]
pub struct TestApp {
    pub token: String,
    /// Absolute URL of the application resource.
    pub url: String,
    /// Absolute URL of the first event channel request (`events?ack=1`).
    pub events_url: String,
    pub body: Value,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(TestOptions::default()).await
    }

    pub async fn start_with(options: TestOptions) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temporary directory"));
        let addr = "127.0.0.1:0".parse().expect("loopback address");
        match options.store {
            StoreKind::Sqlite => Self::start_in(dir.clone(), sqlite_store(dir), options, addr).await,
            StoreKind::Postgres => {
                let db = ScratchDatabase::create("a test server on PostgreSQL")
                    .await
                    .expect("a PostgreSQL test database")
                    .unwrap_or_else(|| panic!("{STORE_ENV}=postgres needs {}", ucwa_store_postgres::scratch::ENV));
                let db = Arc::new(db);
                let mut server = Self::start_in(dir, postgres_store(db.clone()), options, addr).await;
                server.postgres = Some(db);
                // Metrics are kept per node: a test that reads them runs on the one it reads.
                let nodes = if server.options.metrics { 1 } else { server.options.nodes };
                for _ in 1..nodes {
                    let peer = server.peer("127.0.0.1:0".parse().expect("loopback address")).await;
                    server.peers.push(peer);
                }
                server
            }
        }
    }

    /// Starts on the store `open_store` opens: any backend.
    pub async fn start_on(open_store: StoreFactory, options: TestOptions) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temporary directory"));
        Self::start_in(dir, open_store, options, "127.0.0.1:0".parse().expect("loopback address")).await
    }

    async fn start_in(dir: Arc<TempDir>, open_store: StoreFactory, options: TestOptions, addr: SocketAddr) -> Self {
        let clock = (options.clock == TestClock::Manual).then(|| Arc::new(ManualClock::starting_now()));
        Self::start_with_clock(dir, open_store, options, addr, clock).await
    }

    async fn start_with_clock(
        dir: Arc<TempDir>,
        open_store: StoreFactory,
        options: TestOptions,
        addr: SocketAddr,
        clock: Option<Arc<ManualClock>>,
    ) -> Self {
        Self::start_node(dir, open_store, options, addr, clock, None).await
    }

    /// Starts one node; `public_url` names the node clients were given, so that every node
    /// renders the same absolute URLs.
    async fn start_node(
        dir: Arc<TempDir>,
        open_store: StoreFactory,
        options: TestOptions,
        addr: SocketAddr,
        clock: Option<Arc<ManualClock>>,
        public_url: Option<String>,
    ) -> Self {
        let store = open_store().await;
        let listener = TcpListener::bind(addr).await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let shutdown = CancellationToken::new();
        let server_clock: DynClock = match &clock {
            Some(manual) => manual.clone(),
            None => Arc::new(SystemClock),
        };
        let metrics_listener = match options.metrics {
            true => Some(TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port for metrics")),
            false => None,
        };
        let metrics_url =
            metrics_listener.as_ref().map(|l| format!("http://{}/metrics", l.local_addr().expect("metrics address")));
        let server_options = ServerOptions {
            store: store.clone(),
            clock: server_clock,
            limits: options.limits.clone(),
            public_url,
            server_fqdn: "test.openucwa.local".into(),
            metrics_listener,
            connections: options.connections.clone(),
            callback_allow_networks: options
                .callback_allow_networks
                .iter()
                .map(|n| n.parse().expect("a CIDR network"))
                .collect(),
        };
        let server = Server::new(server_options, shutdown.clone()).expect("server");
        let services = server.services().clone();
        let task = tokio::spawn(server.serve(listener));
        ucwa_server::callbacks::install_crypto_provider();
        let client = Client::builder().timeout(Duration::from_secs(60)).build().expect("HTTP client");
        Self {
            addr,
            url: format!("http://{addr}"),
            client,
            store,
            open_store,
            services,
            clock,
            options,
            shutdown,
            task,
            dir,
            metrics_url,
            postgres: None,
            peers: Vec::new(),
        }
    }

    /// Another node on this server's database, clock and public URL, listening on `addr`.
    async fn peer(&self, addr: SocketAddr) -> Self {
        let (dir, open_store, options) = (self.dir.clone(), self.open_store.clone(), self.options.clone());
        let mut peer =
            Self::start_node(dir, open_store, options, addr, self.clock.clone(), Some(self.url.clone())).await;
        peer.postgres = self.postgres.clone();
        peer
    }

    /// This server and its peers.
    fn nodes(&self) -> impl Iterator<Item = &TestServer> {
        std::iter::once(self).chain(&self.peers)
    }

    /// The server's current time.
    pub fn now_ms(&self) -> i64 {
        self.services.now_ms()
    }

    /// Moves the manual clock forward by `by` and waits for the housekeeping this makes due
    /// (lobby and invitation deadlines, idle expiry, token purge). Parked event requests and
    /// callback retries whose deadline passed wake too.
    pub async fn advance(&self, by: Duration) {
        let clock = self.clock.as_ref().expect("advance needs the manual clock (TestClock::Manual)");
        let now = clock.advance(by);
        for node in self.nodes() {
            tokio::time::timeout(HANG, node.services.sweeps.settled(now)).await.expect("housekeeping ran");
        }
    }

    /// Waits until callback delivery has caught up: the worker looked at the outbox after
    /// this call and found nothing due or in flight (failed deliveries wait for their retry
    /// time on the clock).
    pub async fn callbacks_settled(&self) {
        for node in self.nodes() {
            tokio::time::timeout(HANG, node.services.deliveries.settled()).await.expect("callback delivery settled");
        }
    }

    /// Waits until a request of `app` on its event channel is parked, waiting for an event
    /// or a deadline.
    pub async fn parked(&self, app: &TestApp) {
        self.parked_id(app.url.rsplit('/').next().unwrap_or_default()).await;
    }

    /// [`TestServer::parked`] for the application with id `id` (on whichever node).
    pub async fn parked_id(&self, id: &str) {
        let mut watchers = tokio::task::JoinSet::new();
        for node in self.nodes() {
            let (mut waiting, id) = (node.services.channels.waiting(), id.to_owned());
            watchers.spawn(async move { waiting.wait_for(|w| w.contains_key(&id)).await.is_ok() });
        }
        let parked = async {
            while let Some(done) = watchers.join_next().await {
                if done.unwrap_or(false) {
                    return true;
                }
            }
            false
        };
        let parked = tokio::time::timeout(HANG, parked).await.expect("the event request parked");
        assert!(parked, "the server is running");
    }

    /// Scrapes `/metrics` (the server must run with [`TestOptions::metrics`]).
    pub async fn metrics(&self) -> String {
        let url = self.metrics_url.as_deref().expect("metrics need TestOptions::metrics");
        let resp = self.client.get(url).send().await.expect("scrape /metrics");
        assert_eq!(resp.status(), StatusCode::OK);
        resp.text().await.expect("metrics page")
    }

    /// Whether the server runs on the manual clock.
    pub fn manual_clock(&self) -> bool {
        self.clock.is_some()
    }

    /// Stops the server and starts a new one on the same database and port (a restart), so
    /// the URLs clients hold stay valid.
    pub async fn restart(self) -> Self {
        let (dir, open_store, options, addr, clock) =
            (self.dir.clone(), self.open_store.clone(), self.options.clone(), self.addr, self.clock.clone());
        let postgres = self.postgres.clone();
        let peer_addrs: Vec<SocketAddr> = self.peers.iter().map(|p| p.addr).collect();
        self.stop().await;
        let mut server = Self::start_with_clock(dir, open_store, options, addr, clock).await;
        server.postgres = postgres;
        for addr in peer_addrs {
            let peer = server.peer(addr).await;
            server.peers.push(peer);
        }
        server
    }

    /// Which store this server runs on.
    pub fn store_kind(&self) -> StoreKind {
        self.options.store
    }

    /// The URL of this server's PostgreSQL database, when it runs on one (for a connection
    /// of the test's own that must stay open, say holding a lock; else [`Self::execute_sql`]).
    pub fn postgres_url(&self) -> Option<&str> {
        self.postgres.as_deref().map(ScratchDatabase::url)
    }

    /// `n` nodes on one new PostgreSQL database and one clock, as `n` processes behind a load
    /// balancer would be. `None` (after a notice) where no PostgreSQL server is configured,
    /// outside CI.
    pub async fn start_nodes(n: usize, options: TestOptions) -> Option<Vec<Self>> {
        ucwa_store_postgres::scratch::server_url("a test on several nodes").expect("PostgreSQL for several nodes")?;
        let first = Self::start_with(TestOptions { store: StoreKind::Postgres, ..options }).await;
        let mut nodes = Vec::with_capacity(n);
        for _ in 1..n {
            nodes.push(first.another_node().await);
        }
        nodes.insert(0, first);
        Some(nodes)
    }

    /// Waits until this node's housekeeping has run for the clock's current time: after
    /// another node moved the clock they share ([`TestServer::advance`] waits for its own).
    pub async fn housekeeping_settled(&self) {
        let now = self.services.now_ms();
        tokio::time::timeout(HANG, self.services.sweeps.settled(now)).await.expect("housekeeping ran");
    }

    /// Another server (node) on this server's PostgreSQL database, as a second process behind
    /// a load balancer would be: its own store connections, caches, parked requests and
    /// background workers, on the same clock.
    pub async fn another_node(&self) -> Self {
        assert!(self.postgres.is_some(), "several nodes need PostgreSQL ({STORE_ENV}=postgres)");
        let addr = "127.0.0.1:0".parse().expect("loopback address");
        let (dir, open_store, options) = (self.dir.clone(), self.open_store.clone(), self.options.clone());
        let mut node = Self::start_with_clock(dir, open_store, options, addr, self.clock.clone()).await;
        node.postgres = self.postgres.clone();
        node
    }

    /// Stops the server (every node) the way SIGTERM does and waits for it to finish.
    pub async fn stop(self) {
        for node in self.nodes() {
            node.shutdown.cancel();
        }
        for peer in self.peers {
            Box::pin(peer.stop()).await;
        }
        match self.task.await {
            Ok(Ok(())) => {}
            other => panic!("server did not stop cleanly: {other:?}"),
        }
    }

    /// The SQLite database file of this server (the default store; [`TestServer::start_on`]
    /// stores keep their data elsewhere).
    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("ucwa.db")
    }

    /// Runs `sql` (one or more statements) on this server's database over a connection of its
    /// own, as another program sharing the database would: for what no request can do, such as
    /// a trigger that makes every save of a meeting lose to some other writer.
    pub async fn execute_sql(&self, sql: &str) {
        use sqlx::Connection as _;
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.postgres {
            Some(db) => {
                let mut conn = sqlx::PgConnection::connect(db.url()).await.expect("connect to the test database");
                sqlx::raw_sql(sql).execute(&mut conn).await.expect("run SQL on the test database");
                conn.close().await.expect("close the connection");
            }
            None => {
                let url = format!("sqlite://{}", self.db_path().display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open the test database");
                sqlx::raw_sql(sql).execute(&mut conn).await.expect("run SQL on the test database");
                conn.close().await.expect("close the database");
            }
        }
    }

    /// Everything the database holds, as bytes to search: the SQLite file and its
    /// write-ahead log, or every row of every table in PostgreSQL's text form.
    pub async fn database_contents(&self) -> Vec<u8> {
        let Some(db) = &self.postgres else {
            let mut bytes = std::fs::read(self.db_path()).expect("read the database file");
            bytes.extend(std::fs::read(self.db_path().with_extension("db-wal")).unwrap_or_default());
            return bytes;
        };
        let pool = sqlx::PgPool::connect(db.url()).await.expect("connect to the test database");
        let tables: Vec<(String,)> =
            sqlx::query_as("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'")
                .fetch_all(&pool)
                .await
                .expect("list tables");
        let mut bytes = Vec::new();
        for (table,) in tables {
            let sql = format!("SELECT t::text FROM \"{table}\" t");
            let rows: Vec<(String,)> =
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&pool).await.expect("read a table");
            for (row,) in rows {
                bytes.extend(row.into_bytes());
                bytes.push(b'\n');
            }
        }
        pool.close().await;
        bytes
    }

    /// The absolute URL of a path, on a node chosen at random when there are several (an
    /// absolute URL of any node is moved to a random one too, as a load balancer would).
    pub fn at(&self, path_or_url: &str) -> String {
        let path = if path_or_url.starts_with("http") {
            match self.nodes().find(|n| path_or_url.starts_with(&n.url)) {
                Some(node) => &path_or_url[node.url.len()..],
                None => return path_or_url.to_owned(),
            }
        } else {
            path_or_url
        };
        let pick = if self.peers.is_empty() {
            0
        } else {
            usize::from(ucwa_core::credentials::random_bytes::<1>()[0]) % (self.peers.len() + 1)
        };
        let node = self.nodes().nth(pick).unwrap_or(self);
        format!("{}{path}", node.url)
    }

    /// Adds a user straight into the store (as `ucwa-server user add` does).
    pub async fn add_user(&self, uri: &str, name: &str, password: &str) {
        ucwa_server::cli::add_user(self.store.as_ref(), uri, name, password.as_bytes()).await.expect("add user");
    }

    /// Registers a service application endpoint (as `ucwa-server service-app add` does);
    /// returns its callback signing key.
    pub async fn add_service_app(&self, uri: &str, name: &str, secret: &str, callback_url: Option<&str>) -> String {
        self.add_service_app_in(uri, name, secret, callback_url, &[]).await
    }

    /// [`TestServer::add_service_app`] allowed to act in `domains` besides its own
    /// (`service-app add --domain`).
    pub async fn add_service_app_in(
        &self,
        uri: &str,
        name: &str,
        secret: &str,
        callback_url: Option<&str>,
        domains: &[&str],
    ) -> String {
        let domains: Vec<String> = domains.iter().map(|d| (*d).to_owned()).collect();
        ucwa_server::cli::add_service_app(self.store.as_ref(), uri, name, callback_url, &domains, secret.as_bytes())
            .await
            .expect("add service application")
    }

    /// Signs a service application in with the client-credentials grant.
    pub async fn service_token(&self, uri: &str, secret: &str) -> anyhow::Result<String> {
        self.grant(&[("grant_type", "client_credentials"), ("client_id", uri), ("client_secret", secret)]).await
    }

    /// Signs in with the password grant.
    pub async fn token(&self, username: &str, password: &str) -> anyhow::Result<String> {
        self.grant(&[("grant_type", "password"), ("username", username), ("password", password)]).await
    }

    /// The `access_token` the token endpoint answers `form` with (an error unless 200).
    async fn grant(&self, form: &[(&str, &str)]) -> anyhow::Result<String> {
        let resp = self.send(self.client.post(self.at(ucwa_proto::paths::TOKEN)).form(form)).await;
        if resp.status() != StatusCode::OK {
            bail!("token request answered {}", resp.status());
        }
        let body: Value = resp.json().await?;
        body["access_token"].as_str().map(str::to_owned).context("no access_token")
    }

    /// Adds a user, signs in and creates an application: the usual start of a test.
    pub async fn signed_in_app(&self, uri: &str, name: &str) -> TestApp {
        let password = format!("{name}-password");
        self.add_user(uri, name, &password).await;
        let token = self.token(uri, &password).await.expect("sign in");
        self.create_app(&token, &format!("endpoint-{name}")).await
    }

    pub async fn create_app(&self, token: &str, endpoint_id: &str) -> TestApp {
        let body = json!({"UserAgent": "testkit", "EndpointId": endpoint_id, "Culture": "en-US"});
        let url = self.at(&ucwa_proto::paths::applications(ucwa_proto::paths::Prefix::User));
        let resp = self.send(self.client.post(url).bearer_auth(token).json(&body)).await;
        assert!(resp.status().is_success(), "create application answered {}", resp.status());
        let body: Value = resp.json().await.expect("application body");
        let url = self.at(body["_links"]["self"]["href"].as_str().expect("self href"));
        let events_url = self.at(body["_links"]["events"]["href"].as_str().expect("events href"));
        TestApp { token: token.to_owned(), url, events_url, body }
    }

    /// Sends `req` and reads the answer into the typed wire model ([`wire`]): a body the
    /// model does not cover fails the test. Every helper here sends through it.
    pub async fn send(&self, req: RequestBuilder) -> Response {
        checked(req.send().await.expect("request")).await
    }

    /// An authenticated request with an optional JSON body, answered through [`TestServer::send`].
    pub async fn call(&self, method: Method, url: &str, token: &str, body: Option<Value>) -> Response {
        let mut req = self.client.request(method, self.at(url)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    /// GETs an event batch, returning status and body.
    pub async fn events(&self, app: &TestApp, url: &str) -> (StatusCode, Value) {
        let resp = self.call(Method::GET, url, &app.token, None).await;
        let status = resp.status();
        let body = resp.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// GETs an event batch the way [`TestServer::events`] does, but on the manual clock moves
    /// time by `timeout` once the request waits, so a quiet channel answers at once.
    pub async fn events_within(&self, app: &TestApp, url: &str, timeout: Duration) -> (StatusCode, Value) {
        if self.clock.is_none() {
            return self.events(app, url).await;
        }
        let request = self.events(app, url);
        tokio::pin!(request);
        tokio::select! {
            answer = &mut request => return answer,
            _ = self.parked(app) => {}
        }
        self.advance(timeout).await;
        request.await
    }
}

/// Reads a file of the recorded Microsoft traffic in this crate's `fixtures/` folder (its
/// README says where each set was recorded).
pub fn fixture(relative: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// The `next` link of a batch, absolute.
pub fn next_link(server: &TestServer, batch: &Value) -> Option<String> {
    batch["_links"]["next"]["href"].as_str().map(|h| server.at(h))
}

/// Every event of a batch as (sender rel, link rel, type), in order.
pub fn event_summary(batch: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for sender in batch["sender"].as_array().into_iter().flatten() {
        for event in sender["events"].as_array().into_iter().flatten() {
            out.push((
                sender["rel"].as_str().unwrap_or_default().to_owned(),
                event["link"]["rel"].as_str().unwrap_or_default().to_owned(),
                event["type"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    out
}

/// One application's event channel as a client follows it: each call fetches the next
/// batch and remembers its `next` link.
pub struct EventStream {
    pub app: TestApp,
    url: String,
    /// Every event received so far, in order.
    pub seen: Vec<Value>,
}

/// The `timeout` an [`EventStream`] asks for.
const POLL_TIMEOUT: Duration = Duration::from_secs(1);

impl EventStream {
    pub fn new(app: &TestApp) -> Self {
        let url = format!("{}&timeout={}", app.events_url, POLL_TIMEOUT.as_secs());
        Self { app: app.clone(), url, seen: Vec::new() }
    }

    /// Fetches batches until one more event satisfies `pred` or `within` (wall time) passes;
    /// returns the events received meanwhile (including the matching one).
    pub async fn until(&mut self, server: &TestServer, within: Duration, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + within;
        let mut got = Vec::new();
        loop {
            let (status, batch) = server.events_within(&self.app, &self.url, POLL_TIMEOUT).await;
            assert_eq!(status, StatusCode::OK, "event channel answered {status}: {batch}");
            self.url = next_link(server, &batch).expect("a next link");
            let events = events_of(&batch);
            let found = events.iter().any(&pred);
            self.seen.extend(events.iter().cloned());
            got.extend(events);
            if found {
                return got;
            }
            assert!(tokio::time::Instant::now() < deadline, "no matching event within {within:?}; got {got:#?}");
        }
    }

    /// The request this stream asks next (it acknowledges everything received so far).
    pub fn next_url(&self) -> &str {
        &self.url
    }

    /// Everything that arrives until the channel stays quiet for one poll (on the manual
    /// clock: until a poll finds nothing to deliver).
    pub async fn drain(&mut self, server: &TestServer) -> Vec<Value> {
        let mut got = Vec::new();
        loop {
            let (status, batch) = server.events_within(&self.app, &self.url, POLL_TIMEOUT).await;
            assert_eq!(status, StatusCode::OK);
            self.url = next_link(server, &batch).expect("a next link");
            let events = events_of(&batch);
            if events.is_empty() {
                return got;
            }
            self.seen.extend(events.iter().cloned());
            got.extend(events);
        }
    }
}

/// The events of a batch, each with its sender's rel copied in as `"sender"`.
pub fn events_of(batch: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for sender in batch["sender"].as_array().into_iter().flatten() {
        for event in sender["events"].as_array().into_iter().flatten() {
            let mut e = event.clone();
            e["sender"] = sender["rel"].clone();
            out.push(e);
        }
    }
    out
}

/// `"<sender> <link rel> <type>[ in <view>][ <state>]"` for each event: compact enough to
/// assert whole traces.
pub fn trace(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let rel = e["link"]["rel"].as_str().unwrap_or_default();
            let mut line = format!(
                "{} {rel} {}",
                e["sender"].as_str().unwrap_or_default(),
                e["type"].as_str().unwrap_or_default()
            );
            if let Some(view) = e["in"]["rel"].as_str() {
                line.push_str(&format!(" in {view}"));
            }
            if let Some(state) = e["_embedded"][rel]["state"].as_str() {
                line.push_str(&format!(" {state}"));
            }
            line
        })
        .collect()
}
