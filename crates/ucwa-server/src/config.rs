//! Command line and environment: every flag also reads an `UCWA_*` variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "ucwa-server", version, about = "A self-hostable UCWA 2.0 / Trusted Application API server")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of `serve`, so that a bare `ucwa-server --demo` serves too.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
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
    /// Add a user, or update its name and password.
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
    /// List users.
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL: sqlite://path/to/file.db (one node), or
    /// postgres://user[:password]@host[:port]/database (any number of nodes on one database;
    /// postgresql:// too, libpq parameters such as sslmode=require in the query).
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
    /// Base for absolute URLs (discovery, token endpoint). Default: from the request's Host.
    #[arg(long, env = "UCWA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Create demo users (if absent) and print their SIP URIs and passwords.
    #[arg(long, env = "UCWA_DEMO")]
    pub demo: bool,
    /// Name sent in X-MS-Server-Fqdn. Default: the machine's host name.
    #[arg(long, env = "UCWA_SERVER_FQDN")]
    pub server_fqdn: Option<String>,
    #[command(flatten)]
    pub limits: Limits,
}

/// Time limits and sizes. Defaults follow the documented behaviour of a real server.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Lifetime of access tokens, seconds.
    #[arg(long, env = "UCWA_TOKEN_TTL", default_value_t = 8 * 3600)]
    pub token_ttl_secs: u64,
    /// An application not polled for this long expires (410 InactiveApplicationExpired), seconds.
    #[arg(long, env = "UCWA_APPLICATION_IDLE", default_value_t = 15 * 60)]
    pub application_idle_secs: u64,
    /// Smallest event-channel `timeout` a client may ask for, seconds (documented: 180).
    #[arg(long, env = "UCWA_EVENTS_MIN_TIMEOUT", default_value_t = 180)]
    pub events_min_timeout_secs: u32,
    /// Smallest `low`/`medium` hold a client may ask for, seconds (documented: 5).
    #[arg(long, env = "UCWA_EVENTS_MIN_HOLD", default_value_t = 5)]
    pub events_min_hold_secs: u32,
    /// A joiner waiting in a lobby this long fails with a Timeout reason, seconds.
    #[arg(long, env = "UCWA_LOBBY_TIMEOUT", default_value_t = 15 * 60)]
    pub lobby_timeout_secs: u64,
    /// An incoming invitation (addParticipant, startMessaging) nobody answers fails after
    /// this long, on both sides, seconds (documented: about 30).
    #[arg(long, env = "UCWA_INVITATION_TIMEOUT", default_value_t = 30)]
    pub invitation_timeout_secs: u64,
    /// Largest request body, bytes.
    #[arg(long, env = "UCWA_MAX_BODY", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Failed sign-ins allowed per user name per minute before 429.
    #[arg(long, env = "UCWA_SIGNIN_RATE", default_value_t = 10)]
    pub signin_attempts_per_minute: u32,
    /// Failed deliveries of a service application's callback before the conversation is
    /// terminated and the failure recorded.
    #[arg(long, env = "UCWA_CALLBACK_MAX_ATTEMPTS", default_value_t = 10)]
    pub callback_max_attempts: u32,
    /// First retry delay of a failed callback, milliseconds; doubles with each failure.
    #[arg(long, env = "UCWA_CALLBACK_RETRY_BASE_MS", default_value_t = 1000)]
    pub callback_retry_base_ms: u64,
    /// Longest retry delay of a failed callback, seconds.
    #[arg(long, env = "UCWA_CALLBACK_RETRY_MAX", default_value_t = 300)]
    pub callback_retry_max_secs: u64,
    /// How long a callback receiver may take to answer, seconds.
    #[arg(long, env = "UCWA_CALLBACK_TIMEOUT", default_value_t = 10)]
    pub callback_timeout_secs: u64,
}

impl Limits {
    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_secs)
    }

    pub fn application_idle(&self) -> Duration {
        Duration::from_secs(self.application_idle_secs)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            token_ttl_secs: 8 * 3600,
            application_idle_secs: 15 * 60,
            events_min_timeout_secs: 180,
            events_min_hold_secs: 5,
            lobby_timeout_secs: 15 * 60,
            invitation_timeout_secs: 30,
            max_body_bytes: 64 * 1024,
            signin_attempts_per_minute: 10,
            callback_max_attempts: 10,
            callback_retry_base_ms: 1000,
            callback_retry_max_secs: 300,
            callback_timeout_secs: 10,
        }
    }
}
