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
//! - [`routes`]: one module per resource; thin handlers. The router is built here, from the
//!   path table `ucwa_proto::paths` (the one hrefs are built from).
//! - [`auth`], [`input`], [`response`], [`error`]: extraction and answers.
//! - [`middleware`]: correlation headers, JSON-only, UCWA bodies for 404/405/panics.
//! - [`connections`]: the accept loop, the connection cap and the header, body and idle
//!   timeouts (slow clients).
//! - [`callbacks`]: the HTTP transport of service applications' callbacks.
//! - [`metrics`]: Prometheus metrics, per-request tracking and the `/metrics` listener.
//! - [`config`], [`cli`]: the command line and the administrative subcommands.
//! - [`telemetry`]: log format and the request span.
//! - [`openapi`]: the OpenAPI document of the HTTP surface (`/openapi.json`).
//! - [`web`]: mounts the `ucwa-web` pages (the join page at each meeting's `joinUrl`, the
//!   organizer console).

pub mod auth;
pub mod callbacks;
pub mod cli;
pub mod config;
pub mod connections;
pub mod error;
pub mod input;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod response;
pub mod routes;
pub mod state;
pub mod telemetry;
pub mod urls;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::routing::{MethodRouter, delete, get, post, put};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use ucwa_core::DynStore;
use ucwa_core::clock::DynClock;
use ucwa_proto::paths::{self, Prefix};
use ucwa_service::supervise::{Restart, supervise};
use ucwa_service::{Metrics, ServiceOptions, Services, callbacks as callback_worker, housekeeping};

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
    /// Serves `GET /metrics` here and turns metrics on (`--metrics-listen`); `None`: off.
    pub metrics_listener: Option<TcpListener>,
}

/// The handler of `method` on the application route `template` (a `paths::ROUTES`
/// template), for service applications when `platform`, else for the three UCWA prefixes.
/// The router is built from the table with this, so every route served is in the table and
/// the table is what [`ucwa_service::urls`] builds hrefs from; a test checks that this
/// answers exactly for the table's routes.
fn handler(template: &str, method: &str, platform: bool) -> Option<MethodRouter<AppState>> {
    use routes::participant_invitations as pinv;
    use routes::{
        applications as apps, batch, conversations, events, invitations, messaging, my_meetings, people,
        platform as tap, service_join,
    };
    use ucwa_proto::paths as p;
    let handler = match (template, method, platform) {
        (p::APPLICATIONS, "POST", false) => post(apps::create),
        (p::APPLICATIONS, "GET", true) => get(tap::applications),
        (p::APPLICATION, "GET", false) => get(apps::get),
        (p::APPLICATION, "DELETE", false) => delete(apps::delete),
        (p::APPLICATION, "GET", true) => get(tap::application),
        (p::ME, "GET", false) => get(apps::me),
        (p::MAKE_ME_AVAILABLE, "POST", false) => post(apps::make_me_available),
        (p::REPORT_MY_ACTIVITY | p::APPLICATION_REPORT_MY_ACTIVITY, "POST", false) => post(apps::report_my_activity),
        (p::ME_PHONES, "GET", false) => get(people::phones),
        (p::ME_PART, "GET", false) => get(people::my_part),
        (p::ME_PART, "POST", false) => post(people::publish),
        (p::PHOTO, "GET", false) => get(people::photo),
        (p::CONTACTS, "GET", false) => get(people::contacts),
        (p::SEARCH, "GET", false) => get(people::search),
        (p::PRESENCE_SUBSCRIPTIONS, "GET", false) => get(people::subscriptions),
        (p::PRESENCE_SUBSCRIPTIONS, "POST", false) => post(people::subscribe),
        (p::PRESENCE_SUBSCRIPTION, "GET", false) => get(people::subscription),
        (p::PRESENCE_SUBSCRIPTION, "POST", false) => post(people::extend),
        (p::PRESENCE_SUBSCRIPTION, "DELETE", false) => delete(people::unsubscribe),
        (p::ADD_TO_PRESENCE_SUBSCRIPTION, "POST", false) => post(people::add_to_subscription),
        (p::CONTACT, "GET", false) => get(people::contact),
        (p::CONTACT_PART, "GET", false) => get(people::contact_part),
        (p::COMMUNICATION, "GET", false) => get(apps::communication),
        (p::COMMUNICATION, "GET", true) => get(tap::communication),
        (p::EVENTS, "GET", _) => get(events::get),
        (p::BATCH, "POST", false) => post(batch::post),
        (p::ONLINE_MEETING_INVITATIONS, "POST", false) => post(invitations::join),
        (p::ONLINE_MEETING_INVITATIONS, "POST", true) => post(service_join::join),
        (p::ONLINE_MEETING_INVITATION, "GET", _) => get(invitations::get),
        (p::ONLINE_MEETING_INVITATION_CANCEL, "POST", _) => post(invitations::cancel),
        (p::ONLINE_MEETING_INVITATION_ACTION, "POST", false) => post(invitations::answer),
        (p::PARTICIPANT_INVITATIONS, "POST", false) => post(pinv::create),
        (p::PARTICIPANT_INVITATION, "GET", false) => get(pinv::get),
        (p::PARTICIPANT_INVITATION_CANCEL, "POST", false) => post(pinv::cancel),
        (p::MESSAGING_INVITATIONS, "POST", false) => post(messaging::start),
        (p::MESSAGING_INVITATIONS | p::USER_MEETING_INVITATIONS, "POST", true) => post(tap::not_offered),
        (p::MESSAGING_INVITATION, "GET", false) => get(messaging::get_invitation),
        (p::MESSAGING_INVITATION_ACTION, "POST", false) => post(messaging::invitation_action),
        (p::MESSAGES, "POST", false) => post(messaging::send),
        (p::MESSAGE, "GET", false) => get(messaging::get_message),
        (p::MESSAGE, "POST", false) => post(messaging::reply),
        (p::STOP_MESSAGING, "POST", false) => post(messaging::stop),
        (p::SET_IS_TYPING, "POST", false) => post(messaging::set_typing),
        (p::TYPING_PARTICIPANTS, "GET", false) => get(messaging::typing_participants),
        (p::CONVERSATIONS, "GET", _) => get(conversations::list),
        (p::CONVERSATION, "GET", _) => get(conversations::get),
        (p::CONVERSATION, "DELETE", _) => delete(conversations::delete),
        (p::CONVERSATION_PART, "GET", _) => get(conversations::part),
        (p::PARTICIPANT, "GET", _) => get(conversations::participant_get),
        (p::PARTICIPANT_ACTION, "POST", _) => post(conversations::participant_action),
        (p::MY_ONLINE_MEETINGS, "GET", false) => get(my_meetings::list),
        (p::MY_ONLINE_MEETINGS, "POST", false) => post(my_meetings::create),
        (p::MY_ONLINE_MEETING, "GET", false) => get(my_meetings::get),
        (p::MY_ONLINE_MEETING, "PUT", false) => put(my_meetings::put),
        (p::MY_ONLINE_MEETING, "DELETE", false) => delete(my_meetings::delete),
        (p::ONLINE_MEETING_DEFAULT_VALUES, "GET", false) => get(my_meetings::default_values),
        (p::ONLINE_MEETING_ELIGIBLE_VALUES, "GET", false) => get(my_meetings::eligible_values),
        (p::DASHBOARD, "GET", false) => get(apps::dashboard),
        (p::ADHOC_MEETINGS, "GET", true) => get(tap::adhoc_meetings),
        (p::ADHOC_MEETINGS, "POST", true) => post(tap::create_adhoc_meeting),
        (p::ADHOC_MEETING, "GET", true) => get(tap::adhoc_meeting),
        (p::ANON_APPLICATION_TOKENS, "POST", true) => post(tap::anon_application_token),
        (p::PLATFORM_MY_ONLINE_MEETINGS, "GET", true) => get(tap::my_online_meetings),
        _ => return None,
    };
    Some(handler)
}

/// The routes of one applications prefix: the table's routes for its surface. Under
/// `/platformservice/v1` the Trusted Application API's own resources, and the UCWA handlers
/// for conversations, invitations and roster actions (a service application's sessions
/// render themselves in the `ms:rtc:saas:` namespace).
fn application_routes(prefix: Prefix) -> Router<AppState> {
    let platform = prefix == Prefix::Platform;
    paths::ROUTES.iter().filter(|route| route.surfaces.includes(prefix)).fold(Router::new(), |router, route| {
        let methods = route.methods.iter().filter_map(|method| handler(route.template, method, platform));
        router.route(route.template, methods.fold(MethodRouter::new(), MethodRouter::merge))
    })
}

pub fn router(state: AppState) -> Router {
    use routes::{discovery, token};
    let mut router = Router::new().route(paths::ROOT, get(discovery::root));
    // IIS matched these paths case-insensitively; clients use both spellings.
    for root in paths::AUTODISCOVER_ROOTS {
        router = router.route(root, get(discovery::root));
        for user in paths::USER_SUFFIXES {
            router = router.route(&format!("{root}{user}"), get(discovery::user));
        }
    }
    // The Trusted Application API entry point; recorded clients spell it both ways.
    for discover in paths::PLATFORM_DISCOVER {
        router = router.route(discover, get(routes::platform::discover));
    }
    router = router
        .route(paths::XFRAME, get(discovery::xframe))
        .route(paths::TOKEN, post(token::issue))
        .route(paths::HEALTHZ, get(|| async { "ok" }))
        .route(openapi::OPENAPI, get(openapi::serve));
    for prefix in Prefix::ALL {
        router = router.nest(prefix.as_str(), application_routes(prefix));
    }
    with_middleware(router.merge(web::routes()), state)
}

/// The middleware every route runs in, innermost first: the early refusals (a path with a
/// NUL, a client that reads XML only), the panic catcher (inside the correlation middleware,
/// so a panic's 500 carries `X-MS-Correlation-Id` too), the correlation headers,
/// compression, and hiding `Authorization` from traces.
pub fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    let router = routes
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn(middleware::refuse_early))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::correlation))
        .layer(CompressionLayer::new().gzip(true).no_br().no_deflate().no_zstd())
        .layer(SetSensitiveRequestHeadersLayer::new([axum::http::header::AUTHORIZATION]));
    let router = if state.services.metrics.enabled() {
        router.layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
    } else {
        router
    };
    router.with_state(state)
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
    /// The metrics listener and the page it serves, when metrics are on.
    metrics: Option<(TcpListener, PrometheusHandle)>,
}

impl Server {
    /// Builds the use cases; `shutdown` stops [`Server::serve`] and releases parked requests.
    pub fn new(options: ServerOptions, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let policy = CallbackPolicy { allowed: options.callback_allow_networks };
        let timeout = std::time::Duration::from_secs(options.limits.callback_timeout_secs);
        let transport = Arc::new(HttpTransport::new(timeout, policy));
        let (metrics, metrics_page) = match options.metrics_listener {
            Some(listener) => {
                let prometheus = metrics::Prometheus::new()?;
                (prometheus.metrics, Some((listener, prometheus.handle)))
            }
            None => (Metrics::disabled(), None),
        };
        let services = Services::new(ServiceOptions {
            store: options.store.clone(),
            clock: options.clock,
            limits: options.limits,
            transport,
            shutdown: shutdown.clone(),
            metrics,
        });
        let state =
            AppState(Arc::new(Shared { services, public_url: options.public_url, server_fqdn: options.server_fqdn }));
        Ok(Self { state, store: options.store, connections: options.connections, shutdown, metrics: metrics_page })
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
        let Server { state, store, connections, shutdown, metrics } = self;
        let services = state.services.clone();
        let metrics = metrics.map(|(listener, handle)| {
            tokio::spawn(metrics::serve(listener, handle, services.clone(), shutdown.clone()))
        });
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
        let limit_metrics = state.services.metrics.clone();
        let app = app(state);
        connections::serve(listener, app, connections, limit_metrics, shutdown.clone()).await;
        shutdown.cancel();
        background.join_all().await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        store.close().await;
        Ok(())
    }
}

/// Serves on `listener` until `shutdown` is cancelled (see [`Server::serve`]).
pub async fn serve(listener: TcpListener, options: ServerOptions, shutdown: CancellationToken) -> anyhow::Result<()> {
    Server::new(options, shutdown)?.serve(listener).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`handler`] answers for exactly the routes of the table: none is missing (it would not
    /// be served) and none is extra (it would be served without being in the table).
    #[test]
    fn the_router_serves_exactly_the_path_table() {
        let templates: std::collections::BTreeSet<&str> = paths::ROUTES.iter().map(|r| r.template).collect();
        for template in templates {
            for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
                for prefix in [Prefix::User, Prefix::Platform] {
                    let in_table = paths::ROUTES
                        .iter()
                        .any(|r| r.template == template && r.methods.contains(&method) && r.surfaces.includes(prefix));
                    let served = handler(template, method, prefix == Prefix::Platform).is_some();
                    assert_eq!(served, in_table, "{method} {}{template}", prefix.as_str());
                }
            }
        }
    }
}
