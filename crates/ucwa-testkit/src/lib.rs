//! Starts the real OpenUCWA server on `127.0.0.1:0` with a temporary database, for API tests
//! and benchmarks. Everything goes through HTTP; the only shortcut is creating users directly
//! in the store (what `ucwa-server user add` does).
//!
//! The database is a temporary SQLite file, or, with `UCWA_TEST_STORE=postgres`, a database
//! of its own on the PostgreSQL server `UCWA_TEST_POSTGRES_URL` names (`.ci/run` runs the API
//! suite both ways); [`TestOptions::store`] chooses per server.
//!
//! Time limits are shortened (one-second event timeouts and holds) so tests of the event
//! channel finish quickly; each test can tighten or relax them through [`TestOptions`].

mod receiver;

pub use receiver::{CallbackReceiver, Recorded};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use ucwa_core::DynStore;
use ucwa_server::config::Limits;
use ucwa_server::{ServerOptions, serve};
use ucwa_store_postgres::PostgresStore;
use ucwa_store_postgres::scratch::ScratchDatabase;
use ucwa_store_sqlite::SqliteStore;

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

/// Knobs a test may change.
#[derive(Debug, Clone)]
pub struct TestOptions {
    pub limits: Limits,
    pub store: StoreKind,
}

/// The database of a test server, kept for restarts and removed with the last holder.
#[derive(Debug, Clone)]
enum Database {
    Sqlite(Arc<TempDir>),
    Postgres(Arc<ScratchDatabase>),
}

impl Database {
    async fn create(kind: StoreKind) -> Self {
        match kind {
            StoreKind::Sqlite => Database::Sqlite(Arc::new(tempfile::tempdir().expect("temporary directory"))),
            StoreKind::Postgres => {
                let db = ScratchDatabase::create("a test server on PostgreSQL")
                    .await
                    .expect("a PostgreSQL test database")
                    .unwrap_or_else(|| panic!("{STORE_ENV}=postgres needs {}", ucwa_store_postgres::scratch::ENV));
                Database::Postgres(Arc::new(db))
            }
        }
    }

    async fn open(&self) -> DynStore {
        match self {
            Database::Sqlite(dir) => {
                let url = format!("sqlite://{}", dir.path().join("ucwa.db").display());
                Arc::new(SqliteStore::open(&url).await.expect("open the test database"))
            }
            Database::Postgres(db) => Arc::new(PostgresStore::open(db.url()).await.expect("open the test database")),
        }
    }
}

impl Default for TestOptions {
    fn default() -> Self {
        let limits = Limits {
            events_min_timeout_secs: 1,
            events_min_hold_secs: 1,
            application_idle_secs: 3600,
            signin_attempts_per_minute: 1000,
            ..Limits::default()
        };
        Self { limits, store: StoreKind::from_env() }
    }
}

/// A running server and a client for it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    pub client: Client,
    pub store: DynStore,
    options: TestOptions,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    database: Database,
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
        let database = Database::create(options.store).await;
        Self::start_in(database, options, "127.0.0.1:0".parse().expect("loopback address")).await
    }

    async fn start_in(database: Database, options: TestOptions, addr: SocketAddr) -> Self {
        let store = database.open().await;
        let listener = TcpListener::bind(addr).await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let shutdown = CancellationToken::new();
        let server_options = ServerOptions {
            store: store.clone(),
            limits: options.limits.clone(),
            public_url: None,
            server_fqdn: "test.openucwa.local".into(),
        };
        let task = tokio::spawn(serve(listener, server_options, shutdown.clone()));
        ucwa_server::callbacks::install_crypto_provider();
        let client = Client::builder().timeout(Duration::from_secs(60)).build().expect("HTTP client");
        Self { addr, url: format!("http://{addr}"), client, store, options, shutdown, task, database }
    }

    /// Stops the server and starts a new one on the same database and port (a restart), so
    /// the URLs clients hold stay valid.
    pub async fn restart(self) -> Self {
        let (database, options, addr) = (self.database.clone(), self.options.clone(), self.addr);
        self.stop().await;
        Self::start_in(database, options, addr).await
    }

    /// Which store this server runs on.
    pub fn store_kind(&self) -> StoreKind {
        self.options.store
    }

    /// Another server (node) on this server's database, as a second process behind a load
    /// balancer would be: its own store connections, caches, parked requests and background
    /// workers. PostgreSQL only (a SQLite file has one node).
    pub async fn another_node(&self) -> Self {
        assert_eq!(self.options.store, StoreKind::Postgres, "several nodes need PostgreSQL");
        Self::start_in(self.database.clone(), self.options.clone(), "127.0.0.1:0".parse().expect("loopback address"))
            .await
    }

    /// Stops the server the way SIGTERM does and waits for it to finish.
    pub async fn stop(self) {
        self.shutdown.cancel();
        match self.task.await {
            Ok(Ok(())) => {}
            other => panic!("server did not stop cleanly: {other:?}"),
        }
    }

    /// Everything the database holds, as bytes to search: the SQLite file and its
    /// write-ahead log, or every row of every table in PostgreSQL's text form.
    pub async fn database_contents(&self) -> Vec<u8> {
        match &self.database {
            Database::Sqlite(dir) => {
                let path = dir.path().join("ucwa.db");
                let mut bytes = std::fs::read(&path).expect("read the database file");
                bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
                bytes
            }
            Database::Postgres(db) => {
                let pool = sqlx::PgPool::connect(db.url()).await.expect("connect to the test database");
                let tables: Vec<(String,)> = sqlx::query_as(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
                )
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
        }
    }

    pub fn at(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") { path_or_url.to_owned() } else { format!("{}{path_or_url}", self.url) }
    }

    /// Adds a user straight into the store (as `ucwa-server user add` does).
    pub async fn add_user(&self, uri: &str, name: &str, password: &str) {
        ucwa_server::cli::add_user(self.store.as_ref(), uri, name, password.as_bytes()).await.expect("add user");
    }

    /// Registers a service application endpoint (as `ucwa-server service-app add` does);
    /// returns its callback signing key.
    pub async fn add_service_app(&self, uri: &str, name: &str, secret: &str, callback_url: Option<&str>) -> String {
        ucwa_server::cli::add_service_app(self.store.as_ref(), uri, name, callback_url, secret.as_bytes())
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
        let resp = self.client.post(self.at("/WebTicket/oauthtoken")).form(form).send().await?;
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
        let resp = self
            .client
            .post(self.at("/ucwa/oauth/v1/applications"))
            .bearer_auth(token)
            .json(&json!({"UserAgent": "testkit", "EndpointId": endpoint_id, "Culture": "en-US"}))
            .send()
            .await
            .expect("create application");
        assert!(resp.status().is_success(), "create application answered {}", resp.status());
        let body: Value = resp.json().await.expect("application body");
        let url = self.at(body["_links"]["self"]["href"].as_str().expect("self href"));
        let events_url = self.at(body["_links"]["events"]["href"].as_str().expect("events href"));
        TestApp { token: token.to_owned(), url, events_url, body }
    }

    /// An authenticated request with an optional JSON body.
    pub async fn call(&self, method: Method, url: &str, token: &str, body: Option<Value>) -> Response {
        let mut req = self.client.request(method, self.at(url)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    /// GETs an event batch, returning status and body.
    pub async fn events(&self, app: &TestApp, url: &str) -> (StatusCode, Value) {
        let resp = self.call(Method::GET, url, &app.token, None).await;
        let status = resp.status();
        let body = resp.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

/// Reads a file of the recorded Microsoft traffic in `shared/fixtures/` (beside the
/// repository, where the team and CI keep it).
pub fn fixture(relative: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures").join(relative);
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

impl EventStream {
    pub fn new(app: &TestApp) -> Self {
        Self { app: app.clone(), url: format!("{}&timeout=1", app.events_url), seen: Vec::new() }
    }

    /// Fetches batches until one more event satisfies `pred` or `within` passes; returns the
    /// events received meanwhile (including the matching one).
    pub async fn until(&mut self, server: &TestServer, within: Duration, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + within;
        let mut got = Vec::new();
        loop {
            let (status, batch) = server.events(&self.app, &self.url).await;
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

    /// Everything that arrives until the channel stays quiet for one poll.
    pub async fn drain(&mut self, server: &TestServer) -> Vec<Value> {
        let mut got = Vec::new();
        loop {
            let (status, batch) = server.events(&self.app, &self.url).await;
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
