//! What every handler shares.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ucwa_core::DynStore;
use ucwa_core::channel::ChannelLimits;

use crate::auth::{SigninLimiter, TokenCache};
use crate::channel::EventChannels;
use crate::config::Limits;
use crate::meetings::MeetingEngine;
use crate::routes::applications::RenderedApplications;

/// Cheap to clone: one `Arc` around everything.
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

pub struct Shared {
    pub store: DynStore,
    pub limits: Limits,
    pub channel_limits: ChannelLimits,
    pub public_url: Option<String>,
    pub server_fqdn: String,
    pub channels: EventChannels,
    pub signin: SigninLimiter,
    pub tokens: TokenCache,
    pub rendered_apps: RenderedApplications,
    pub meetings: MeetingEngine,
    /// Sends service applications' callbacks (`crate::callbacks`).
    pub callback_client: reqwest::Client,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Milliseconds since the Unix epoch: the one clock read of the server.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
