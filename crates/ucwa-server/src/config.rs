//! Command line and environment: every flag also reads an `UCWA_*` variable.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
pub use ucwa_service::Limits;

#[derive(Debug, Parser)]
#[command(name = "ucwa-server", version, about = "A self-hostable UCWA 2.0 / Trusted Application API server")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// How log lines are written (to standard error; `RUST_LOG` filters them).
    #[arg(long, global = true, env = "UCWA_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: crate::telemetry::LogFormat,
    /// Flags of `serve`, so that a bare `ucwa-server --demo` serves too.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(Box<ServeArgs>),
    /// Manage users who sign in with a password.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage Trusted Application API service application endpoints.
    ServiceApp {
        #[command(subcommand)]
        command: ServiceAppCommand,
    },
    /// Work on whole databases.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy users, service applications (with their signing keys) and meetings from one
    /// database to another, e.g. from SQLite to PostgreSQL. Stop the server first.
    Copy {
        /// The database to copy from (it must exist).
        #[arg(long)]
        from: String,
        /// The database to copy into (created tables, empty unless --into-non-empty).
        #[arg(long)]
        to: String,
        /// Copy into a database that already holds data: users and service applications of the
        /// same URI are replaced, meetings already there are kept.
        #[arg(long)]
        into_non_empty: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServiceAppCommand {
    /// Register an endpoint (or replace its name, secret, callback URL and signing key). Prints
    /// the new callback signing key once.
    Add {
        /// Endpoint SIP URI, e.g. sip:helpdesk@example.com: the OAuth client_id and endpointId.
        sip_uri: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Read the client secret from standard input (one line).
        #[arg(long, required = true)]
        secret_stdin: bool,
        /// Default callback URL for the endpoint's conversations (http or https).
        #[arg(long)]
        callback_url: Option<String>,
        /// A SIP domain besides the endpoint's own whose meetings it may join trusted or
        /// impersonating, mint guest tokens for and admit, reject or eject in (repeatable).
        #[arg(long = "domain")]
        domains: Vec<String>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List endpoints.
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List conversations whose callbacks were given up on.
    Failures {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user, or update its name and password (revoking its tokens).
    Add {
        /// SIP URI, e.g. sip:alice@example.com (the `sip:` prefix may be left out).
        sip_uri: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Read the password from standard input (one line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Change a user's password; its tokens are revoked (they stop working within 5 s; at
    /// once on PostgreSQL).
    Passwd {
        sip_uri: String,
        /// Read the password from standard input (one line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Revoke every token of a user (they stop working within 5 s; at once on PostgreSQL).
    Revoke {
        sip_uri: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List users.
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://path/to/file.db` (one node), or
    /// `postgres://user[:password]@host[:port]/database` (any number of nodes on one database;
    /// `postgresql://` too, libpq parameters such as `sslmode=require` in the query).
    #[arg(long, env = "UCWA_DATABASE_URL", default_value = "sqlite://ucwa-data/ucwa.db")]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "UCWA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// PostgreSQL: connections this node keeps to the database (plus one for LISTEN). Not used
    /// with SQLite.
    #[arg(long, env = "UCWA_DATABASE_POOL_SIZE", default_value_t = ucwa_store_postgres::DEFAULT_POOL_SIZE,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool_size: u32,
    /// PostgreSQL: how long a request waits for a database connection (a free one, or a new
    /// one while the database cannot be reached) before it answers 503 with `Retry-After`.
    /// Not used with SQLite.
    #[arg(long, env = "UCWA_DATABASE_WAIT_MS", default_value_t = ucwa_store_postgres::DEFAULT_POOL_WAIT_MS,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub database_wait_ms: u64,
    /// PostgreSQL: how long a statement waits for the database's answer before the node gives
    /// up its connection and the request answers 503 with `Retry-After` (a database host that
    /// vanished closes no connection). The node's own bound: PostgreSQL's `statement_timeout`
    /// is left alone. Also the server's `idle_in_transaction_session_timeout` for the node's
    /// sessions, unless the database sets one. Not used with SQLite.
    #[arg(long, env = "UCWA_DATABASE_STATEMENT_TIMEOUT_MS",
          default_value_t = ucwa_store_postgres::DEFAULT_STATEMENT_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub database_statement_timeout_ms: u64,
    /// Base for absolute URLs (discovery, token endpoint). Default: from the request's Host.
    #[arg(long, env = "UCWA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Create demo users (if absent) and print their SIP URIs and passwords.
    #[arg(long, env = "UCWA_DEMO")]
    pub demo: bool,
    /// Name sent in X-MS-Server-Fqdn. Default: the machine's host name.
    #[arg(long, env = "UCWA_SERVER_FQDN")]
    pub server_fqdn: Option<String>,
    /// Serve Prometheus metrics at `GET /metrics` on this address (say 127.0.0.1:9464), and
    /// only there. Unset: no metrics are kept.
    #[arg(long, env = "UCWA_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub connections: crate::connections::ConnectionLimits,
    /// Networks callbacks may reach although they are internal (loopback, private,
    /// link-local, unspecified...), comma-separated CIDRs such as 10.1.0.0/16,fd00::/8.
    /// `--demo` adds 127.0.0.0/8.
    #[arg(long, env = "UCWA_CALLBACK_ALLOW_NETWORKS", value_delimiter = ',')]
    pub callback_allow_networks: Vec<ipnet::IpNet>,
}
