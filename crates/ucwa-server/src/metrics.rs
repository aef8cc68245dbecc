//! Prometheus metrics: the recorder the use cases and the HTTP layer record into, the
//! per-request middleware, and the `/metrics` page served on its own listener
//! (`--metrics-listen`).
//!
//! Metrics are off unless a metrics listener is given: the main listener never serves
//! `/metrics`, because it is reachable by every client, and the page names the service
//! application endpoints and what the server is doing. Put the metrics address on a network
//! only the scraper reaches (README, "Metrics").
//!
//! HTTP requests are counted and timed by route template (axum's `MatchedPath`, so ids never
//! become labels; a path no route matched counts as `unmatched`), method and status. The time
//! is until the handler's response is ready (a parked `GET events` counts its wait).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use ucwa_service::{Metrics, Services};

use crate::state::AppState;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

const REQUESTS: &str = "ucwa_http_requests_total";
const REQUEST_DURATION: &str = "ucwa_http_request_duration_seconds";

/// Histogram buckets of every `*_seconds` metric: from a cached GET (a millisecond) to a lobby
/// wait (fifteen minutes by default) and a long poll's longest timeout.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    900.0, 1800.0, 3600.0,
];

/// How often histogram samples are folded into the buckets when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

/// A Prometheus recorder for one server: the use cases' [`Metrics`] over it, and the handle
/// that renders the page.
pub struct Prometheus {
    pub metrics: Metrics,
    pub handle: PrometheusHandle,
}

impl Prometheus {
    pub fn new() -> anyhow::Result<Self> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)?
            .build_recorder();
        let handle = recorder.handle();
        let recorder = Arc::new(recorder);
        recorder.describe_counter(
            KeyName::from_const_str(REQUESTS),
            None,
            SharedString::const_str("HTTP requests answered, by method, route template and status."),
        );
        recorder.describe_histogram(
            KeyName::from_const_str(REQUEST_DURATION),
            Some(Unit::Seconds),
            SharedString::const_str("Time to answer an HTTP request, by method, route template and status."),
        );
        Ok(Self { metrics: Metrics::new(recorder), handle })
    }
}

/// Counts and times each request (installed on the main router only when metrics are on).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let labels = vec![
        Label::from_static_parts("method", method),
        Label::new("route", route),
        Label::new("status", resp.status().as_str().to_owned()),
    ];
    let recorder = state.services.metrics.recorder();
    recorder.register_counter(&Key::from_parts(REQUESTS, labels.clone()), &METADATA).increment(1);
    recorder.register_histogram(&Key::from_parts(REQUEST_DURATION, labels), &METADATA).record(elapsed);
    resp
}

/// The method as a label: the standard ones by name, anything else as `other`, so a client
/// cannot add label values at will.
fn method_label(method: &Method) -> &'static str {
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::PATCH,
        Method::TRACE,
        Method::CONNECT,
    ]
    .iter()
    .find(|m| *m == method)
    .map_or("other", Method::as_str)
}

#[derive(Clone)]
struct Page {
    handle: PrometheusHandle,
    services: Services,
}

/// `GET /metrics` in the Prometheus text format; gauges read from live state are set first.
async fn render(State(page): State<Page>) -> Response {
    page.services.metrics.set_parked(page.services.channels.parked());
    if let Some(stats) = page.services.store.database_stats() {
        page.services.metrics.set_database(&stats);
    }
    let mut resp = page.handle.render().into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}

/// The metrics listener's routes: `GET /metrics` and nothing else.
pub fn router(handle: PrometheusHandle, services: Services) -> Router {
    Router::new().route("/metrics", get(render)).with_state(Page { handle, services })
}

/// Serves [`router`] on `listener` until `shutdown`, and meanwhile folds histogram samples
/// into their buckets now and then, so they do not pile up between scrapes (the exporter
/// leaves that to its user).
pub async fn serve(listener: TcpListener, handle: PrometheusHandle, services: Services, shutdown: CancellationToken) {
    let upkeep = async {
        let mut ticker = tokio::time::interval(UPKEEP);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => handle.run_upkeep(),
            }
        }
    };
    let page = router(handle.clone(), services).into_make_service();
    let served = axum::serve(listener, page).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let (served, ()) = tokio::join!(served, upkeep);
    if let Err(e) = served {
        tracing::error!(error = %e, "the metrics listener failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
