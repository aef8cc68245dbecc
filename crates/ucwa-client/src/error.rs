//! The SDK's one error type. A server's refusal keeps the UCWA error body it sent
//! (`code`, `subcode`, the bad parameters named), so callers can act on the documented
//! subcodes (docs/protocol.md, errors).

use ucwa_proto::RelName;
use ucwa_proto::error::{ErrorBody, ErrorSubcode};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server could not be reached, or the connection broke (a restart, a timeout).
    #[error("could not reach {url}: {source}")]
    Transport {
        /// The URL asked.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error status; `body` is its UCWA error body, if it sent one.
    #[error("{method} {url} answered {status}{}", describe(body.as_deref()))]
    Api {
        /// The request method.
        method: String,
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The UCWA error body.
        body: Option<Box<ErrorBody>>,
    },
    /// The token endpoint refused the credentials (`invalid_grant`, `invalid_client`, ...).
    #[error("sign-in refused ({status}): {error}")]
    SignIn {
        /// The HTTP status.
        status: u16,
        /// The OAuth `error`.
        error: String,
    },
    /// The token expired and these credentials cannot renew it (a stored token): sign in
    /// again.
    #[error("the access token expired; sign in again")]
    TokenExpired,
    /// A resource lacks the link an operation follows: the action is not allowed now (a
    /// capability link such as `admit` comes and goes with state), or the server does not
    /// offer it.
    #[error("`{rel}` is not available on {resource}")]
    NotAvailable {
        /// The rel looked for.
        rel: RelName,
        /// What it was looked for on (a rel or an href).
        resource: String,
    },
    /// Another request took over this application's event channel (`409 PGetReplaced`): two
    /// readers of one application. The stream ends; resume from its position to take over.
    #[error("another reader took over this application's event channel (PGetReplaced)")]
    Replaced,
    /// The application is gone: expired for inactivity (`410 InactiveApplicationExpired`) or
    /// deleted (`404 ApplicationNotFound`). Create a new one.
    #[error("the application is gone ({status}{})", describe(body.as_deref()))]
    ApplicationGone {
        /// 404 or 410.
        status: u16,
        /// The server's error body.
        body: Option<Box<ErrorBody>>,
    },
    /// The answer does not follow the protocol (not JSON, a missing `Location`, ...).
    #[error("unexpected answer from {url}: {problem}")]
    Protocol {
        /// The URL asked.
        url: String,
        /// What was wrong with it.
        problem: String,
    },
    /// An operation the server accepted failed later, as told on the event channel (an
    /// invitation declined or cancelled, a join rejected).
    #[error("{operation} failed{}", describe(reason.as_deref()))]
    Failed {
        /// What failed.
        operation: String,
        /// The `reason` the server gave.
        reason: Option<Box<ErrorBody>>,
    },
    /// A value given to the SDK is not valid (a meeting reference that is neither a SIP URI nor
    /// a URL, a callback signature that does not verify, ...).
    #[error("{0}")]
    Invalid(String),
}

fn describe(body: Option<&ErrorBody>) -> String {
    let Some(body) = body else { return String::new() };
    let mut text = format!(" {}", body.code.as_str());
    if let Some(sub) = &body.subcode {
        text.push('/');
        text.push_str(sub.as_str());
    }
    if let Some(message) = body.message() {
        text.push_str(": ");
        text.push_str(message);
    }
    if let Some(parameters) = &body.parameters {
        for (name, problem) in parameters {
            text.push_str(&format!("; {name} {}", problem.as_str().unwrap_or_default()));
        }
    }
    text
}

impl Error {
    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::SignIn { status, .. } | Error::ApplicationGone { status, .. } => {
                Some(*status)
            }
            Error::Replaced => Some(409),
            _ => None,
        }
    }

    /// The UCWA `subcode` of a refusal.
    pub fn subcode(&self) -> Option<&ErrorSubcode> {
        match self {
            Error::Api { body, .. } | Error::ApplicationGone { body, .. } => body.as_ref()?.subcode.as_ref(),
            _ => None,
        }
    }

    /// Whether trying the same request again later may succeed: the server was unreachable
    /// or answered 5xx/429.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Api { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
