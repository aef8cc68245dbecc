//! Logs: `--log-format text|json` (`UCWA_LOG_FORMAT`), filtered by `RUST_LOG` (default
//! `info`), written to standard error so that standard output keeps what the commands print
//! for people and scripts (the listening address, `user list`).
//!
//! Every request runs in an info-level `request` span carrying its correlation id (the
//! `X-MS-Correlation-Id` the client receives, see [`crate::middleware::correlation`]), its
//! method and path; text lines show it as a `request{...}:` prefix, JSON lines as a `span`
//! object, so every line a request logs can be found from the id a client reports.
//!
//! Secrets stay out: `Authorization` is a sensitive header, tokens and passwords travel only
//! in headers and form bodies (never logged), and callback URLs are logged without their
//! query and user info (`ucwa_service::urls::redacted`).

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, the event's fields
    /// (`message` among them) and `span` (the request's, when there is one).
    Json,
}

/// Installs the process-wide subscriber.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).init(),
    }
}
