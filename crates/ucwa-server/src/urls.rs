//! The absolute base URL of this server as a client reached it. Every other href is built
//! by [`ucwa_service::urls`], re-exported here.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::HOST;
use axum::http::request::Parts;
pub use ucwa_service::urls::*;

use crate::state::AppState;

/// The absolute base URL (`http://host:port`), from `--public-url` or the request's Host.
pub fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).filter(|h| is_plausible_host(h)).unwrap_or("localhost");
    format!("http://{host}")
}

/// The request's [`public_base`], for handlers that hand out absolute URLs.
pub struct PublicBase(pub String);

impl FromRequestParts<AppState> for PublicBase {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(PublicBase(public_base(state, &parts.headers)))
    }
}

/// Host headers go into URLs we hand out: refuse anything but a host name and port.
fn is_plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_hosts_are_refused() {
        assert!(is_plausible_host("localhost:8080"));
        assert!(is_plausible_host("[::1]:80"));
        assert!(!is_plausible_host("evil.com/\"><script>"));
        assert!(!is_plausible_host(""));
    }
}
