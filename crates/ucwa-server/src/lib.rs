//! OpenUCWA's HTTP server: routes, authentication, the event channel and housekeeping.
//!
//! [`serve`] takes an already-bound listener, a store and a shutdown token, so tests and
//! benchmarks run the real server on `127.0.0.1:0` (the mini-redis `run(listener,
//! shutdown)` shape). The binary in `main.rs` only parses flags and calls it.
//!
//! # Layout
//! - [`routes`]: one module per resource; thin handlers.
//! - [`channel`]: the long-poll event channel engine.
//! - [`auth`], [`input`], [`response`], [`error`]: extraction and answers.
//! - [`middleware`], [`sweeper`], [`callbacks`], [`retention`]: cross-cutting behaviour and
//!   background work (the callback worker delivers service applications' events; retention
//!   deletes what finished long ago).
//! - [`web`]: mounts the `ucwa-web` pages (the join page at each meeting's `joinUrl`, the
//!   organizer console).

pub mod auth;
pub mod callbacks;
pub mod channel;
pub mod cli;
pub mod config;
pub mod error;
pub mod input;
pub mod meetings;
pub mod middleware;
pub mod render;
pub mod response;
pub mod retention;
pub mod routes;
pub mod state;
pub mod sweeper;
pub mod urls;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use ucwa_core::DynStore;
use ucwa_core::channel::ChannelLimits;

use crate::auth::{SigninLimiter, TokenCache};
use crate::channel::EventChannels;
use crate::config::Limits;
use crate::meetings::MeetingEngine;
use crate::routes::applications::RenderedApplications;
use crate::state::{AppState, Shared};

/// Everything [`serve`] needs besides the listener.
pub struct ServerOptions {
    pub store: DynStore,
    pub limits: Limits,
    pub public_url: Option<String>,
    pub server_fqdn: String,
}

/// The routes of one application, the same under every applications prefix.
fn application_routes() -> Router<AppState> {
    use routes::participant_invitations as pinv;
    use routes::{applications, batch, conversations, events, invitations, messaging, my_meetings};
    let conversation = "/applications/{app}/communication/conversations/{conv}";
    let invitation = "/applications/{app}/communication/onlineMeetingInvitations/{inv}";
    let participant_invitations = "/applications/{app}/communication/participantInvitations";
    let messaging_invitations = "/applications/{app}/communication/messagingInvitations";
    let my_meeting = "/applications/{app}/onlineMeetings/myOnlineMeetings";
    Router::new()
        .route("/applications", post(applications::create))
        .route("/applications/{app}", get(applications::get).delete(applications::delete))
        .route("/applications/{app}/me", get(applications::me))
        .route("/applications/{app}/me/makeMeAvailable", post(applications::make_me_available))
        .route("/applications/{app}/me/reportMyActivity", post(applications::report_my_activity))
        .route("/applications/{app}/communication", get(applications::communication))
        .route("/applications/{app}/events", get(events::get))
        .route("/applications/{app}/batch", post(batch::post))
        .route("/applications/{app}/communication/onlineMeetingInvitations", post(invitations::join))
        .route(invitation, get(invitations::get))
        .route(&format!("{invitation}/cancel"), post(invitations::cancel))
        .route(&format!("{invitation}/{{action}}"), post(invitations::answer))
        .route(participant_invitations, post(pinv::create))
        .route(&format!("{participant_invitations}/{{pinv}}"), get(pinv::get))
        .route(&format!("{participant_invitations}/{{pinv}}/cancel"), post(pinv::cancel))
        .route(messaging_invitations, post(messaging::start))
        .route(&format!("{messaging_invitations}/{{inv}}"), get(messaging::get_invitation))
        .route(&format!("{messaging_invitations}/{{inv}}/{{action}}"), post(messaging::invitation_action))
        .route(&format!("{conversation}/messaging/messages"), post(messaging::send))
        .route(&format!("{conversation}/messaging/messages/{{msg}}"), get(messaging::get_message))
        .route(&format!("{conversation}/messaging/terminate"), post(messaging::stop))
        .route("/applications/{app}/communication/conversations", get(conversations::list))
        .route(conversation, get(conversations::get).delete(conversations::delete))
        .route(&format!("{conversation}/{{part}}"), get(conversations::part))
        .route(&format!("{conversation}/participants/{{subject}}"), get(conversations::participant_get))
        .route(&format!("{conversation}/participants/{{subject}}/{{action}}"), post(conversations::participant_action))
        .route(my_meeting, get(my_meetings::list).post(my_meetings::create))
        .route("/applications/{app}/onlineMeetings/defaultValues", get(my_meetings::default_values))
        .route("/applications/{app}/onlineMeetings/eligibleValues", get(my_meetings::eligible_values))
        .route(
            &format!("{my_meeting}/{{meeting}}"),
            get(my_meetings::get).put(my_meetings::put).delete(my_meetings::delete),
        )
        .route("/applications/{app}/{*rest}", get(applications::dashboard))
}

pub fn router(state: AppState) -> Router {
    use routes::{discovery, token};
    let mut router = Router::new().route("/", get(discovery::root));
    // IIS matched these paths case-insensitively; clients use both spellings.
    for root in ["/autodiscover/autodiscoverservice.svc/root", "/Autodiscover/AutodiscoverService.svc/root"] {
        router = router
            .route(root, get(discovery::root))
            .route(&format!("{root}/oauth/user"), get(discovery::user))
            .route(&format!("{root}/user"), get(discovery::user));
    }
    // The Trusted Application API entry point; recorded clients spell it both ways.
    for discover in ["/platformservice/discover", "/platformService/discover"] {
        router = router.route(discover, get(routes::platform::discover));
    }
    router
        .route("/autodiscover/xframe/xframe.html", get(discovery::xframe))
        .route("/WebTicket/oauthtoken", post(token::issue))
        .route("/healthz", get(|| async { "ok" }))
        .nest(urls::USER_PREFIX, application_routes())
        .nest(urls::ANONYMOUS_PREFIX, application_routes())
        .nest(urls::PSANON_PREFIX, application_routes())
        .nest(urls::PLATFORM_PREFIX, routes::platform::routes())
        .merge(web::routes())
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn(middleware::json_only))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::correlation))
        .layer(CompressionLayer::new().gzip(true).no_br().no_deflate().no_zstd())
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(SetSensitiveRequestHeadersLayer::new([axum::http::header::AUTHORIZATION]))
        .with_state(state)
}

/// Serves until `shutdown` is cancelled: parked event requests are released, in-flight
/// requests finish, then the store is closed.
pub async fn serve(listener: TcpListener, options: ServerOptions, shutdown: CancellationToken) -> anyhow::Result<()> {
    let channel_limits = ChannelLimits {
        timeout_min_s: options.limits.events_min_timeout_secs,
        hold_min_s: options.limits.events_min_hold_secs,
        ..ChannelLimits::default()
    };
    let callback_timeout = std::time::Duration::from_secs(options.limits.callback_timeout_secs);
    let state = AppState(Arc::new(Shared {
        store: options.store.clone(),
        limits: options.limits,
        channel_limits,
        public_url: options.public_url,
        server_fqdn: options.server_fqdn,
        channels: EventChannels::new(shutdown.clone()),
        signin: SigninLimiter::default(),
        tokens: TokenCache::default(),
        rendered_apps: RenderedApplications::default(),
        meetings: MeetingEngine::default(),
        callback_client: callbacks::client(callback_timeout),
    }));
    let sweeper = tokio::spawn(sweeper::run(state.clone(), shutdown.clone()));
    let callback_worker = tokio::spawn(callbacks::run(state.clone(), shutdown.clone()));
    // Routes are resolved into services once, here; serving the router itself would redo
    // that for every connection (axum turns a `Router` into its routes per accepted
    // connection), costing tens of KiB per parked event request. Cloning the prepared router
    // per connection is one reference count.
    let app = router(state).with_state(()).into_make_service();
    axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned()).await?;
    shutdown.cancel();
    let _ = sweeper.await;
    let _ = callback_worker.await;
    options.store.close().await;
    Ok(())
}
