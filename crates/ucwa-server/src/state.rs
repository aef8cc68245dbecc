//! What every handler shares: the use cases and what only HTTP needs.

use std::sync::Arc;

use ucwa_service::Services;

/// Cheap to clone: one `Arc` around everything.
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

pub struct Shared {
    pub services: Services,
    /// Base of absolute URLs (`--public-url`); from the request's Host when unset.
    pub public_url: Option<String>,
    /// Sent in `X-MS-Server-Fqdn`.
    pub server_fqdn: String,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
