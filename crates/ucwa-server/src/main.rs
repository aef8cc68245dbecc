//! `ucwa-server`: parses flags and runs a subcommand. All behaviour lives in the library.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use ucwa_core::DynStore;
use ucwa_core::clock::SystemClock;
use ucwa_server::config::{Cli, Command, ServeArgs, ServiceAppCommand, StoreCommand, UserCommand};
use ucwa_server::{ServerOptions, cli, serve, telemetry};
use ucwa_store_postgres::{PoolSettings, PostgresStore};
use ucwa_store_sqlite::SqliteStore;

/// Opens `url` for `store copy --from`: a SQLite file must exist already.
async fn open_source(url: &str) -> anyhow::Result<DynStore> {
    if url.starts_with("sqlite:") {
        let store = SqliteStore::open_existing(url).await.with_context(|| format!("opening {url}"))?;
        return Ok(Arc::new(store));
    }
    open_store(url).await
}

async fn copy_store(from: &str, to: &str, into_non_empty: bool) -> anyhow::Result<()> {
    let source = open_source(from).await?;
    let target = open_store(to).await?;
    let result = cli::copy_store(source.as_ref(), target.as_ref(), into_non_empty, (from, to)).await;
    source.close().await;
    target.close().await;
    result
}

async fn open_store(url: &str) -> anyhow::Result<DynStore> {
    open_store_with(url, PoolSettings::default()).await
}

/// The store of `url`; on PostgreSQL with a pool as `pool` says.
async fn open_store_with(url: &str, pool: PoolSettings) -> anyhow::Result<DynStore> {
    if ucwa_store_postgres::is_postgres_url(url) {
        // The URL may carry a password: name only where it points.
        let store =
            PostgresStore::open_with(url, pool).await.with_context(|| format!("opening {}", cli::redact_url(url)))?;
        return Ok(Arc::new(store));
    }
    if !url.starts_with("sqlite:") {
        anyhow::bail!(
            "unsupported --database-url {:?}: use sqlite://PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
            cli::redact_url(url)
        );
    }
    let store = SqliteStore::open(url).await.with_context(|| format!("opening {url}"))?;
    Ok(Arc::new(store))
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

async fn run_server(args: ServeArgs) -> anyhow::Result<()> {
    let pool = PoolSettings {
        size: args.database_pool_size,
        wait: Duration::from_millis(args.database_wait_ms),
        statement_timeout: Duration::from_millis(args.database_statement_timeout_ms),
    };
    let store = open_store_with(&args.db.database_url, pool).await?;
    if args.demo {
        cli::ensure_demo_users(store.as_ref()).await?;
    }
    match ucwa_server::connections::raise_open_file_limit() {
        Ok(files) => tracing::debug!(files, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
    let listener = TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let local = listener.local_addr()?;
    let metrics_listener = match args.metrics_listen {
        Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?),
        None => None,
    };
    announce(&format!("listening on http://{local}"));
    if let Some(metrics) = &metrics_listener {
        announce(&format!("metrics on http://{}/metrics", metrics.local_addr()?));
    }
    if args.demo {
        announce(&format!("organizer console: http://{local}/console (sign in as a demo user)"));
    }
    let options = ServerOptions {
        store,
        clock: Arc::new(SystemClock),
        limits: args.limits,
        public_url: args.public_url,
        server_fqdn: args.server_fqdn.unwrap_or_else(host_name),
        connections: args.connections,
        callback_allow_networks: callback_networks(args.demo, args.callback_allow_networks),
        metrics_listener,
    };
    serve(listener, options, shutdown).await
}

/// Prints a line for whoever started the server. A closed standard output (the reader went
/// away) must not stop a running server, as `println!` would by panicking.
fn announce(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// The demo's callback receivers run on this machine: `--demo` allows loopback callbacks.
fn callback_networks(demo: bool, mut allowed: Vec<ipnet::IpNet>) -> Vec<ipnet::IpNet> {
    if demo && let Ok(loopback) = "127.0.0.0/8".parse() {
        allowed.push(loopback);
    }
    allowed
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => {
                let _ = ctrl_c.await;
                shutdown.cancel();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}

async fn service_app(command: ServiceAppCommand) -> anyhow::Result<()> {
    let db = match &command {
        ServiceAppCommand::Add { db, .. } | ServiceAppCommand::List { db } | ServiceAppCommand::Failures { db } => {
            db.database_url.clone()
        }
    };
    let store = open_store(&db).await?;
    let result = match command {
        ServiceAppCommand::Add { sip_uri, name, secret_stdin: _, callback_url, domains, db: _ } => {
            let stdin = std::io::stdin().lock();
            let callback_url = callback_url.as_deref();
            cli::add_service_app(store.as_ref(), &sip_uri, &name, callback_url, &domains, stdin).await.map(|_| ())
        }
        ServiceAppCommand::List { .. } => cli::list_service_apps(store.as_ref()).await,
        ServiceAppCommand::Failures { .. } => cli::list_callback_failures(store.as_ref()).await,
    };
    store.close().await;
    result
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    // After the subscriber: the hook logs through it.
    ucwa_server::middleware::install_panic_hook();
    match cli.command {
        None => run_server(cli.serve).await,
        Some(Command::Serve(args)) => run_server(*args).await,
        Some(Command::User { command: UserCommand::Add { sip_uri, name, password_stdin: _, db } }) => {
            let store = open_store(&db.database_url).await?;
            let result = cli::add_user(store.as_ref(), &sip_uri, &name, std::io::stdin().lock()).await;
            store.close().await;
            result
        }
        Some(Command::User { command: UserCommand::Passwd { sip_uri, password_stdin: _, db } }) => {
            let store = open_store(&db.database_url).await?;
            let result = cli::set_password(store.as_ref(), &sip_uri, std::io::stdin().lock()).await;
            store.close().await;
            result
        }
        Some(Command::User { command: UserCommand::Revoke { sip_uri, db } }) => {
            let store = open_store(&db.database_url).await?;
            let result = cli::revoke_user(store.as_ref(), &sip_uri).await;
            store.close().await;
            result
        }
        Some(Command::User { command: UserCommand::List { db } }) => {
            let store = open_store(&db.database_url).await?;
            let result = cli::list_users(store.as_ref()).await;
            store.close().await;
            result
        }
        Some(Command::ServiceApp { command }) => service_app(command).await,
        Some(Command::Store { command: StoreCommand::Copy { from, to, into_non_empty } }) => {
            copy_store(&from, &to, into_non_empty).await
        }
    }
}
