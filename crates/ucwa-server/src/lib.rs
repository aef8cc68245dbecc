//! OpenUCWA's HTTP server: routes, extraction, answers and the event channel's HTTP side.
//! The use cases live in `ucwa-service`; a handler here parses the request, calls one
//! service and renders what it returns, and [`error`] maps every failure to its UCWA error
//! body.
//!
//! [`Server`] takes a store, a clock and the limits; [`Server::serve`] runs it on an
//! already-bound listener until a shutdown token is cancelled, so tests and benchmarks run
//! the real server on `127.0.0.1:0` (the mini-redis `run(listener, shutdown)` shape). The
//! binary in `main.rs` only parses flags and calls it.
//!
//! # Layout
//! - [`routes`]: one module per resource; thin handlers. The router is built here.
//! - [`auth`], [`input`], [`response`], [`error`]: extraction and answers.
//! - [`middleware`]: correlation headers, JSON-only, UCWA bodies for 404/405/panics.
//! - [`connections`]: the accept loop, the connection cap and the header, body and idle
//!   timeouts (slow clients).
//! - [`callbacks`]: the HTTP transport of service applications' callbacks.
//! - [`config`], [`cli`]: the command line and the administrative subcommands.
//! - [`web`]: mounts the `ucwa-web` pages (the join page at each meeting's `joinUrl`, the
//!   organizer console).

pub mod auth;
pub mod callbacks;
pub mod cli;
pub mod config;
pub mod connections;
pub mod error;
pub mod input;
pub mod middleware;
pub mod response;
pub mod routes;
pub mod state;
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
use ucwa_core::clock::DynClock;
use ucwa_service::supervise::{Restart, supervise};
use ucwa_service::{ServiceOptions, Services, callbacks as callback_worker, housekeeping};

use crate::callbacks::{CallbackPolicy, HttpTransport};
use crate::config::Limits;
pub use crate::connections::ConnectionLimits;
use crate::state::{AppState, Shared};

/// Everything a [`Server`] needs besides the listener.
pub struct ServerOptions {
    pub store: DynStore,
    /// Where time comes from: `SystemClock` in production, a `ManualClock` in tests.
    pub clock: DynClock,
    pub limits: Limits,
    pub public_url: Option<String>,
    pub server_fqdn: String,
    /// Timeouts and the cap of client connections.
    pub connections: ConnectionLimits,
    /// Internal networks callbacks may reach all the same (`--callback-allow-networks`).
    pub callback_allow_networks: Vec<ipnet::IpNet>,
}

/// The routes of one application, the same under every applications prefix.
fn application_routes() -> Router<AppState> {
    use routes::participant_invitations as pinv;
    use routes::{applications, batch, conversations, events, invitations, messaging, my_meetings, people};
    let conversation = "/applications/{app}/communication/conversations/{conv}";
    let invitation = "/applications/{app}/communication/onlineMeetingInvitations/{inv}";
    let participant_invitations = "/applications/{app}/communication/participantInvitations";
    let messaging_invitations = "/applications/{app}/communication/messagingInvitations";
    let my_meeting = "/applications/{app}/onlineMeetings/myOnlineMeetings";
    let subscriptions = "/applications/{app}/people/presenceSubscriptions";
    Router::new()
        .route("/applications", post(applications::create))
        .route("/applications/{app}", get(applications::get).delete(applications::delete))
        .route("/applications/{app}/me", get(applications::me))
        .route("/applications/{app}/me/makeMeAvailable", post(applications::make_me_available))
        .route("/applications/{app}/me/reportMyActivity", post(applications::report_my_activity))
        .route("/applications/{app}/reportMyActivity", post(applications::report_my_activity))
        .route("/applications/{app}/me/phones", get(people::phones))
        .route("/applications/{app}/me/{part}", get(people::my_part).post(people::publish))
        .route("/applications/{app}/photos/{key}", get(people::photo))
        .route("/applications/{app}/people/contacts", get(people::contacts))
        .route("/applications/{app}/people/search", get(people::search))
        .route(subscriptions, get(people::subscriptions).post(people::subscribe))
        .route(
            &format!("{subscriptions}/{{subscription}}"),
            get(people::subscription).post(people::extend).delete(people::unsubscribe),
        )
        .route(
            &format!("{subscriptions}/{{subscription}}/addToPresenceSubscription"),
            post(people::add_to_subscription),
        )
        .route("/applications/{app}/people/{key}", get(people::contact))
        .route("/applications/{app}/people/{key}/{part}", get(people::contact_part))
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
        .route(
            &format!("{conversation}/messaging/messages/{{msg}}"),
            get(messaging::get_message).post(messaging::reply),
        )
        .route(&format!("{conversation}/messaging/terminate"), post(messaging::stop))
        .route(&format!("{conversation}/messaging/typing"), post(messaging::set_typing))
        .route(&format!("{conversation}/messaging/typingParticipants"), get(messaging::typing_participants))
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

/// The routes under `/platformservice/v1`: the Trusted Application API's own resources, and
/// the UCWA handlers for conversations, invitations and roster actions (a service
/// application's sessions render themselves in the `ms:rtc:saas:` namespace).
fn platform_routes() -> Router<AppState> {
    use routes::{conversations, events, invitations, platform, service_join};
    let app = "/applications/{app}";
    let conversation = "/applications/{app}/communication/conversations/{conv}";
    let invitation = "/applications/{app}/communication/onlineMeetingInvitations/{inv}";
    Router::new()
        .route("/applications", get(platform::applications))
        .route(app, get(platform::application))
        .route(&format!("{app}/communication"), get(platform::communication))
        .route(&format!("{app}/communication/onlineMeetingInvitations"), post(service_join::join))
        .route(invitation, get(invitations::get))
        .route(&format!("{invitation}/cancel"), post(invitations::cancel))
        .route(&format!("{app}/communication/messagingInvitations"), post(platform::not_offered))
        .route(&format!("{app}/communication/userMeetingInvitations"), post(platform::not_offered))
        .route(&format!("{app}/communication/conversations"), get(conversations::list))
        .route(conversation, get(conversations::get).delete(conversations::delete))
        .route(&format!("{conversation}/{{part}}"), get(conversations::part))
        .route(&format!("{conversation}/participants/{{subject}}"), get(conversations::participant_get))
        .route(&format!("{conversation}/participants/{{subject}}/{{action}}"), post(conversations::participant_action))
        .route(&format!("{app}/events"), get(events::get))
        .route(&format!("{app}/adhocMeetings"), get(platform::adhoc_meetings).post(platform::create_adhoc_meeting))
        .route(&format!("{app}/adhocMeetings/{{meeting}}"), get(platform::adhoc_meeting))
        .route(&format!("{app}/anonApplicationTokens"), post(platform::anon_application_token))
        .route(&format!("{app}/myOnlineMeetings"), get(platform::my_online_meetings))
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
    let router = router
        .route("/autodiscover/xframe/xframe.html", get(discovery::xframe))
        .route("/WebTicket/oauthtoken", post(token::issue))
        .route("/healthz", get(|| async { "ok" }))
        .nest(urls::USER_PREFIX, application_routes())
        .nest(urls::ANONYMOUS_PREFIX, application_routes())
        .nest(urls::PSANON_PREFIX, application_routes())
        .nest(urls::PLATFORM_PREFIX, platform_routes())
        .merge(web::routes());
    with_middleware(router, state)
}

/// The middleware every route runs in, innermost first: JSON-only, the panic catcher (inside
/// the correlation middleware, so a panic's 500 carries `X-MS-Correlation-Id` too), the
/// correlation headers, compression, and hiding `Authorization` from traces.
pub fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn(middleware::json_only))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::correlation))
        .layer(CompressionLayer::new().gzip(true).no_br().no_deflate().no_zstd())
        .layer(SetSensitiveRequestHeadersLayer::new([axum::http::header::AUTHORIZATION]))
        .with_state(state)
}

/// The router behind [`middleware::collapse_request_slashes`]: what a connection (and each
/// part of a batch) is served by.
pub fn app(state: AppState) -> App {
    tower::Layer::layer(
        &tower::util::MapRequestLayer::new(middleware::collapse_request_slashes as fn(_) -> _),
        router(state),
    )
}

/// The service [`app`] builds.
pub type App = tower::util::MapRequest<Router, fn(axum::extract::Request) -> axum::extract::Request>;

/// A server ready to serve: its use cases are built, nothing runs yet.
pub struct Server {
    state: AppState,
    store: DynStore,
    connections: ConnectionLimits,
    shutdown: CancellationToken,
}

impl Server {
    /// Builds the use cases; `shutdown` stops [`Server::serve`] and releases parked requests.
    pub fn new(options: ServerOptions, shutdown: CancellationToken) -> Self {
        let policy = CallbackPolicy { allowed: options.callback_allow_networks };
        let timeout = std::time::Duration::from_secs(options.limits.callback_timeout_secs);
        let transport = Arc::new(HttpTransport::new(timeout, policy));
        let services = Services::new(ServiceOptions {
            store: options.store.clone(),
            clock: options.clock,
            limits: options.limits,
            transport,
            shutdown: shutdown.clone(),
        });
        let state =
            AppState(Arc::new(Shared { services, public_url: options.public_url, server_fqdn: options.server_fqdn }));
        Self { state, store: options.store, connections: options.connections, shutdown }
    }

    /// The use cases this server runs (tests watch their progress).
    pub fn services(&self) -> &Services {
        &self.state.services
    }

    /// Serves until the shutdown token is cancelled: parked event requests are released,
    /// in-flight requests finish, the background tasks stop, then the store is closed.
    /// Housekeeping and callback delivery run supervised: a panic is logged and the task
    /// starts again.
    pub async fn serve(self, listener: TcpListener) -> anyhow::Result<()> {
        let Server { state, store, connections, shutdown } = self;
        let services = state.services.clone();
        let mut background = tokio::task::JoinSet::new();
        let (s, stop) = (services.clone(), shutdown.clone());
        background.spawn(supervise("housekeeping", shutdown.clone(), Restart::default(), move || {
            housekeeping::run(s.clone(), stop.clone())
        }));
        let (s, stop) = (services, shutdown.clone());
        background.spawn(supervise("callback delivery", shutdown.clone(), Restart::default(), move || {
            callback_worker::run(s.clone(), stop.clone())
        }));
        // Routes are resolved into services once, here; serving an unprepared router would
        // redo that for every connection (axum turns a `Router` into its routes per
        // accepted connection), costing tens of KiB per parked event request. Cloning the
        // prepared router per request is one reference count.
        let app = app(state);
        connections::serve(listener, app, connections, shutdown.clone()).await;
        shutdown.cancel();
        background.join_all().await;
        store.close().await;
        Ok(())
    }
}

/// Serves on `listener` until `shutdown` is cancelled (see [`Server::serve`]).
pub async fn serve(listener: TcpListener, options: ServerOptions, shutdown: CancellationToken) -> anyhow::Result<()> {
    Server::new(options, shutdown).serve(listener).await
}
