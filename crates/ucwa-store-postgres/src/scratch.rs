//! Throwaway databases for tests and benchmarks: each test gets a database of its own on the
//! server named by `UCWA_TEST_POSTGRES_URL` (`.ci/postgres-up` starts one), so tests run in
//! parallel without seeing each other's rows or notifications, and the database is dropped
//! when the [`ScratchDatabase`] is (also when the test panics).
//!
//! Without the variable, [`ScratchDatabase::create`] answers `Ok(None)` and prints that the
//! test was skipped, except under `CI=true`, where a PostgreSQL test that cannot run is an
//! error: CI must not pass by skipping them.
//!
//! A [`DatabaseLink`] stands between nodes and their database for tests of what a restart, a
//! failover or a vanished host does to them.

use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use ucwa_core::credentials::new_id;

/// The environment variable naming the test server (a database the user may
/// `CREATE DATABASE` from, e.g. `postgres://ucwa:secret@127.0.0.1:5432/postgres`).
pub const ENV: &str = "UCWA_TEST_POSTGRES_URL";

/// A database created for one test, dropped on drop.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

/// The environment variable naming the file of the certificate authority that signed the
/// test server's certificate (`.ci/postgres-up` makes both), for tests of TLS connections.
pub const CA_ENV: &str = "UCWA_TEST_POSTGRES_CA";

/// The environment variable naming a PgBouncer in session mode in front of the test server
/// (`.ci/postgres-up` starts one), for the test of nodes that connect through it.
pub const PGBOUNCER_ENV: &str = "UCWA_TEST_PGBOUNCER_URL";

/// The environment variable naming the same PgBouncer for a role it pools in transaction
/// mode, for the test that a node refuses such a pooler.
pub const PGBOUNCER_TRANSACTION_ENV: &str = "UCWA_TEST_PGBOUNCER_TRANSACTION_URL";

/// The test server's URL, if one is configured. `Ok(None)` when `UCWA_TEST_POSTGRES_URL` is
/// unset outside CI (the caller skips; this prints the notice naming `test`); `Err` when it
/// is unset under `CI=true`.
pub fn server_url(test: &str) -> Result<Option<String>, String> {
    setting(ENV, test, "on PostgreSQL")
}

/// The test server's certificate authority (a file), for a test that connects over TLS;
/// `Ok(None)` or `Err` as [`server_url`] says.
pub fn server_authority(test: &str) -> Result<Option<String>, String> {
    setting(CA_ENV, test, "over TLS")
}

/// The URL of the PgBouncer in front of the test server (its database part is replaced by
/// [`ScratchDatabase::url_at`]); `Ok(None)` or `Err` as [`server_url`] says.
pub fn pgbouncer_url(test: &str) -> Result<Option<String>, String> {
    setting(PGBOUNCER_ENV, test, "through PgBouncer")
}

/// The URL of the PgBouncer in front of the test server for a role it pools in transaction
/// mode; `Ok(None)` or `Err` as [`server_url`] says.
pub fn pgbouncer_transaction_url(test: &str) -> Result<Option<String>, String> {
    setting(PGBOUNCER_TRANSACTION_ENV, test, "through PgBouncer in transaction mode")
}

/// The value of `env`, which `.ci/postgres-up` exports and `test` needs to run `how`.
fn setting(env: &str, test: &str, how: &str) -> Result<Option<String>, String> {
    if let Some(value) = std::env::var(env).ok().filter(|v| !v.is_empty()) {
        return Ok(Some(value));
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        return Err(format!("{env} is not set under CI=true: {test} must run {how}"));
    }
    eprintln!("skipped {test}: set {env} to run it {how} (.ci/postgres-up starts what it needs)");
    Ok(None)
}

impl ScratchDatabase {
    /// A new, empty database on the server of `UCWA_TEST_POSTGRES_URL`. `Ok(None)` when the
    /// variable is unset outside CI (the test should return; this prints the notice);
    /// `Err` when it is unset under `CI=true`, or the server refuses.
    pub async fn create(test: &str) -> Result<Option<Self>, String> {
        Self::create_with(test, "").await
    }

    /// [`ScratchDatabase::create`] with `options` after `CREATE DATABASE name` (for example
    /// `ENCODING 'LATIN1' ...`, for a test of what the store does on such a database).
    pub async fn create_with(test: &str, options: &str) -> Result<Option<Self>, String> {
        let Some(admin_url) = server_url(test)? else { return Ok(None) };
        let name = format!("ucwa_test_{}", new_id());
        let url = with_database(&admin_url, &name).ok_or_else(|| format!("{ENV} is not a postgres:// URL"))?;
        let mut admin = PgConnection::connect(&admin_url).await.map_err(|e| format!("connecting to {ENV}: {e}"))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\" {options}")))
            .execute(&mut admin)
            .await
            .map_err(|e| format!("creating a test database: {e}"))?;
        let _ = admin.close().await;
        Ok(Some(Self { admin_url, name, url }))
    }

    /// The URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of the new database on another server (a pooler in front of the test
    /// server), keeping `server`'s query.
    pub fn url_at(&self, server: &str) -> Option<String> {
        with_database(server, &self.name)
    }

    /// The URL of the new database with `query` in place of the server URL's query (for
    /// example `sslmode=verify-full&sslrootcert=...`).
    pub fn url_with_query(&self, query: &str) -> String {
        let base = self.url.split_once('?').map_or(self.url.as_str(), |(base, _)| base);
        format!("{base}?{query}")
    }
}

/// A TCP forwarder on loopback between nodes and their database, which a test can break the
/// ways a database's link breaks:
/// - [`DatabaseLink::cut`], as a restart or a failover does: every open connection closes,
///   and new ones are refused (nothing listens on the port) until [`DatabaseLink::restore`];
/// - [`DatabaseLink::vanish`], as a host that loses power or a network that drops packets
///   does: every connection open now goes silent (no byte goes through either way, and none
///   is closed), while connections opened afterwards go through (the database's name now
///   leads to a live server, as after a failover).
///
/// Stops on drop.
#[derive(Debug)]
pub struct DatabaseLink {
    /// The database's `host:port`, and this link's port on loopback.
    target: String,
    port: u16,
    /// Ends the accept loop and every connection it forwards.
    cut: watch::Sender<bool>,
    /// Counts [`DatabaseLink::vanish`]es: a connection goes silent at the first after its start.
    vanished: watch::Sender<u64>,
    serving: Option<JoinHandle<()>>,
}

impl DatabaseLink {
    /// A link to the database of `url` (a `postgres://` URL); returns it with the URL that
    /// reaches the same database through it.
    pub async fn start(url: &str) -> Result<(Self, String), String> {
        let target = host_and_port(url).ok_or_else(|| format!("no host and port in {url}"))?;
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let through = with_authority(url, &format!("127.0.0.1:{port}")).ok_or_else(|| format!("not a URL: {url}"))?;
        let mut link =
            Self { target, port, cut: watch::Sender::new(false), vanished: watch::Sender::new(0), serving: None };
        link.serve(listener);
        Ok((link, through))
    }

    fn serve(&mut self, listener: TcpListener) {
        let (target, mut cut, vanished) = (self.target.clone(), self.cut.subscribe(), self.vanished.clone());
        self.serving = Some(tokio::spawn(async move {
            let mut forwarded = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    _ = cut.wait_for(|cut| *cut) => break,
                    accepted = listener.accept() => {
                        let Ok((mut client, _)) = accepted else { continue };
                        let mut gone = vanished.subscribe();
                        let born = *gone.borrow_and_update();
                        let target = target.clone();
                        forwarded.spawn(async move {
                            let Ok(mut database) = TcpStream::connect(&target).await else { return };
                            let silenced = async move { gone.wait_for(|generation| *generation > born).await.is_ok() };
                            tokio::select! {
                                // The vanishing first: unbiased, `select!` polls its branches
                                // in random order, and the copy could still forward a
                                // statement sent after `vanish` and its answer.
                                biased;
                                // Silent from now on: both sockets stay open, held by this
                                // task until the link is cut or dropped.
                                true = silenced => std::future::pending::<()>().await,
                                _ = tokio::io::copy_bidirectional(&mut client, &mut database) => {}
                            }
                        });
                    }
                }
            }
            // Closes the listener and every forwarded connection.
            drop(listener);
            forwarded.shutdown().await;
        }));
    }

    /// Closes every connection and refuses new ones.
    pub async fn cut(&mut self) {
        self.cut.send_replace(true);
        if let Some(serving) = self.serving.take() {
            let _ = serving.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&mut self) -> Result<(), String> {
        self.cut.send_replace(false);
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.map_err(|e| e.to_string())?;
        self.serve(listener);
        Ok(())
    }

    /// Silences every connection open now; later ones go through.
    pub fn vanish(&self) {
        self.vanished.send_modify(|generation| *generation += 1);
    }
}

impl Drop for DatabaseLink {
    fn drop(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.abort();
        }
    }
}

/// `url` with its `host:port` replaced by `authority`; the credentials, database and query
/// are kept.
fn with_authority(url: &str, authority: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (head, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let user = head.rsplit_once('@').map(|(user, _)| format!("{user}@")).unwrap_or_default();
    Some(format!("{scheme}://{user}{authority}{tail}"))
}

/// `host:port` of a `postgres://` URL (port 5432 when it names none).
fn host_and_port(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if host.is_empty() {
        return None;
    }
    Some(if host.contains(':') { host.to_owned() } else { format!("{host}:5432") })
}

/// How long dropping a database may hold up the end of a test. See [`ScratchDatabase`]'s
/// `Drop` for why it may take longer and why giving up on the answer is safe.
const DROP_WAIT: Duration = Duration::from_secs(1);

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // Drop usually runs on the test's runtime thread, blocked here meanwhile: a thread
        // with a runtime of its own does the work. FORCE ends the connections the test left
        // open, except one the blocked runtime was still authenticating: PostgreSQL cannot
        // end a backend during authentication and waits for its `authentication_timeout`
        // (60 s by default). So the DROP is sent and waited for at most DROP_WAIT; PostgreSQL
        // completes it on its own once that backend times out, whether or not anyone is
        // still connected to hear the answer.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await.map_err(|e| e.to_string())?;
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                let drop = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut admin);
                match tokio::time::timeout(DROP_WAIT, drop).await {
                    Ok(done) => {
                        done.map_err(|e| e.to_string())?;
                        let _ = admin.close().await;
                    }
                    Err(_) => eprintln!("test database {name} is being dropped in the background"),
                }
                Ok::<_, String>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// `url` with its database (the path) replaced by `database`; the query is kept.
fn with_database(url: &str, database: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority = before_query.split_once('/').map_or(before_query, |(a, _)| a);
    let mut out = format!("{scheme}://{authority}/{database}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{host_and_port, with_authority, with_database};

    #[test]
    fn the_host_and_port_of_a_url_are_found() {
        assert_eq!(host_and_port("postgres://u:p@h:5/db?x=1").unwrap(), "h:5");
        assert_eq!(host_and_port("postgres://h/db").unwrap(), "h:5432");
        assert!(host_and_port("postgres:///db").is_none());
        assert_eq!(with_authority("postgres://u:p@h:5/db?x=1", "l:7").unwrap(), "postgres://u:p@l:7/db?x=1");
        assert_eq!(with_authority("postgres://h", "l:7").unwrap(), "postgres://l:7");
    }

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(with_database("postgres://u:p@h:5/postgres", "t").unwrap(), "postgres://u:p@h:5/t");
        assert_eq!(
            with_database("postgresql://h/db?sslmode=disable", "t").unwrap(),
            "postgresql://h/t?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t").unwrap(), "postgres://h/t");
        assert!(with_database("not a url", "t").is_none());
    }
}
