//! Trusted Application API callbacks
//! (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/webhooks>): the
//! events of a service application's conversations, POSTed to the conversation's callback
//! URL as signed event batches. How a POST travels is the [`CallbackTransport`] port (HTTP
//! in the server); what is sent, when, and what happens on failure is decided here.
//!
//! # Delivery
//! Events reach the outbox in the same store transaction as the state change that produced
//! them (see `Store::insert_callback_route`), so nothing is lost across a restart. This
//! worker drains the outbox: per conversation it sends the oldest undelivered events as one
//! batch, and only after a 2xx the next one, so each conversation's callbacks arrive in order.
//! A failure (transport error, timeout or non-2xx) is retried after an exponential backoff
//! (`--callback-retry-base-ms`, doubling, capped by `--callback-retry-max`); after
//! `--callback-max-attempts` consecutive failures the worker gives up: the undelivered events
//! are dropped, the failure is recorded (`callback_failures`, `ucwa-server service-app
//! failures`, a warning in the log) and the conversation is terminated, so the meeting does
//! not keep a participant whose owner hears nothing.
//!
//! Delivery is at least once: a batch whose 2xx is lost (or that was in flight when its node
//! stopped or died) is sent again. Its end is pinned in the store at the first attempt
//! (`Store::pin_callback_batch`), so every attempt, on any node, carries the same events
//! under the same `ack` and the same [`DELIVERY_HEADER`] (`<conversation>.<ack>`), which a
//! receiver can deduplicate on.
//!
//! # One deliverer per conversation, on any number of nodes
//! Every node runs a worker. A worker delivers a conversation only while it holds the
//! conversation's lease in the store: it claims due conversations
//! (`Store::claim_callbacks`, taken by one node at a time), renews the lease before each
//! batch and stops if it lost it, and releases it when its turn ends (also on shutdown, so
//! another node resumes at once). When a node dies its leases expire after
//! [`lease_ms`] and another node takes its conversations over, resuming at the first
//! undelivered (pinned) batch, so order is kept. The lease outlasts a callback's timeout
//! several times over, so a holder that renewed before a POST still holds the lease when the
//! POST ends; only a node that stalls for longer than the lease can overlap with its
//! successor (and then the receiver sees a repeat it can drop).
//!
//! # Concurrency
//! One worker task per server, started (and restarted after a panic, see
//! [`crate::supervise`]) by the server and cancelled on shutdown (deliveries in flight are
//! aborted, their leases released, and redelivered by whichever node claims them next).
//! Conversations are independent: up to [`MAX_IN_FLIGHT`] of them are delivered
//! concurrently in a `JoinSet`, each by one task (the lease keeps a conversation being
//! delivered out of the next claim), and at most `--callback-endpoint-concurrency`
//! (default 4) of one application (endpoint) at a time on all nodes together: the claim
//! counts the endpoint's live leases, so a slow or dead receiver with many conversations
//! delays only its own, never another endpoint's first callback (finding 7 of issue 11).
//! The worker looks for new work every [`POLL`] of real time (the outbox query is indexed
//! and cheap when idle); retry times and leases are read from the injected clock, so a
//! test's manual clock decides when a retry is due or a lease expires.

use std::collections::HashMap;
use std::time::Duration;

use std::sync::Arc;

use async_trait::async_trait;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use ucwa_core::channel::batch_len;
use ucwa_core::meeting::Command;
use ucwa_core::service::{CallbackRoute, OutboxItem, backoff_ms, signature_header};
use ucwa_proto::event::{Continuation, RelLink, batch_body, group_by_sender};
use url::Url;

use crate::urls::AppUrls;
use crate::{Limits, Services};

/// The content type of callback requests.
pub const CALLBACK_CONTENT_TYPE: &str =
    r#"application/json; type="application/vnd.microsoft.com.ucwa+json"; charset=utf-8"#;
/// The signature header (scheme in `ucwa_core::service` and README "Verifying callbacks").
pub const SIGNATURE_HEADER: &str = "x-openucwa-signature";
/// The delivery id header: `<conversation id>.<ack>`, the same on every attempt of a batch.
pub const DELIVERY_HEADER: &str = "x-openucwa-delivery";

/// How a callback reaches its receiver.
#[async_trait]
pub trait CallbackTransport: Send + Sync + 'static {
    /// Whether callbacks may go to `url` at all (the operator's rules on addresses, see the
    /// server's transport); `Err` says why not, worded to follow "callbackUrl ...".
    async fn check(&self, url: &Url) -> Result<(), String>;

    /// POSTs `body` to `url` with the [`SIGNATURE_HEADER`] `signature`, the
    /// [`DELIVERY_HEADER`] `delivery` (none on a reachability probe) and the
    /// [`CALLBACK_CONTENT_TYPE`]; `Ok` carries the receiver's answer body after a 2xx, `Err`
    /// says why the delivery failed (transport error, timeout, another status).
    async fn post(&self, url: &Url, signature: &str, delivery: Option<&str>, body: Vec<u8>) -> Result<Vec<u8>, String>;
}

pub type DynTransport = Arc<dyn CallbackTransport>;

/// What the worker saw at its latest look at the outbox: published so that a test can wait
/// until delivery has caught up instead of sleeping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outbox {
    /// How many times the worker has looked.
    pub looks: u64,
    /// Whether deliveries were due or in flight at that look.
    pub busy: bool,
}

/// The published [`Outbox`].
#[derive(Debug, Default)]
pub struct DeliveryProgress(watch::Sender<Outbox>);

impl DeliveryProgress {
    /// Waits until the worker has looked at the outbox twice since this call (so at least
    /// once after everything committed before it) and found nothing due or in flight.
    pub async fn settled(&self) {
        let mut progress = self.0.subscribe();
        let since = progress.borrow().looks;
        let _ = progress.wait_for(|o| o.looks >= since + 2 && !o.busy).await;
    }
}

/// Conversations delivered at the same time.
pub const MAX_IN_FLIGHT: usize = 32;
/// How often the worker looks for due callbacks.
pub const POLL: Duration = Duration::from_millis(100);
/// Events per callback batch.
const MAX_BATCH_EVENTS: u32 = 64;
/// Batches one delivery task sends in a row before yielding to other conversations.
const BATCHES_PER_TURN: usize = 16;
/// Longest callback URL and context (the documented URL limit; the context has none).
pub const MAX_CALLBACK_URL: usize = 1024;
pub const MAX_CALLBACK_CONTEXT: usize = 1024;

/// An absolute http(s) URL with a host, at most [`MAX_CALLBACK_URL`] characters.
pub fn valid_callback_url(url: &str) -> bool {
    url.len() <= MAX_CALLBACK_URL
        && Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()))
}

/// Splits a `callbackContext` the client put into its callback URL off the URL (the SDK does
/// either), so later contexts replace it instead of adding a second one.
pub fn split_context(url: &str) -> (String, Option<String>) {
    let Ok(mut parsed) = Url::parse(url) else { return (url.to_owned(), None) };
    let pairs: Vec<(String, String)> = parsed.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let context = pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case("callbackContext")).map(|(_, v)| v.clone());
    if context.is_some() {
        set_query(&mut parsed, &pairs, None);
    }
    (parsed.to_string(), context)
}

/// Rewrites the query of `url` to `pairs` minus any `callbackContext`, plus `context`.
fn set_query(url: &mut Url, pairs: &[(String, String)], context: Option<&str>) {
    let kept: Vec<&(String, String)> =
        pairs.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("callbackContext")).collect();
    if kept.is_empty() && context.is_none() {
        url.set_query(None);
        return;
    }
    let mut q = url.query_pairs_mut();
    q.clear();
    for (k, v) in kept {
        q.append_pair(k, v);
    }
    if let Some(c) = context {
        q.append_pair("callbackContext", c);
    }
}

/// The URL a callback is POSTed to: the route's URL with `?callbackContext=` when it has one.
pub fn target_url(url: &str, context: Option<&str>) -> Option<Url> {
    let mut parsed = Url::parse(url).ok()?;
    let pairs: Vec<(String, String)> = parsed.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    set_query(&mut parsed, &pairs, context);
    Some(parsed)
}

/// POSTs a signed body; `Ok` carries the receiver's new `CallbackContext`, if it sent one.
async fn post(
    services: &Services,
    url: Url,
    signing_key: &str,
    delivery: Option<&str>,
    body: &Value,
) -> Result<Option<String>, String> {
    let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let signature = signature_header(signing_key, services.now_ms() / 1000, &bytes);
    let answer = services.transport.post(&url, &signature, delivery, bytes).await?;
    // `{"CallbackContext": "..."}` replaces the context; any other answer keeps it.
    let answer: Option<Value> = serde_json::from_slice(&answer).ok();
    let context = answer
        .as_ref()
        .and_then(Value::as_object)
        .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case("callbackContext")))
        .and_then(|(_, v)| v.as_str())
        .filter(|c| c.len() <= MAX_CALLBACK_CONTEXT)
        .map(str::to_owned);
    Ok(context)
}

/// The reachability check when an operation starts: an empty heartbeat batch
/// (`fixtures/tap-recorded/events/Event_Empty.json`) that must be answered with a 2xx.
pub async fn probe(
    services: &Services,
    url: &str,
    context: Option<&str>,
    base_uri: &str,
    signing_key: &str,
) -> Result<(), String> {
    let target = target_url(url, context).ok_or_else(|| "not a URL".to_owned())?;
    let mut body = Map::new();
    body.insert("_links".into(), serde_json::json!({"self": {"href": "/eventsservice"}}));
    body.insert("sender".into(), Value::Array(Vec::new()));
    body.insert("baseuri".into(), Value::String(base_uri.to_owned()));
    post(services, target, signing_key, None, &Value::Object(body)).await.map(|_| ())
}

/// The callback batch for `items`: an event batch whose `ack` links are
/// per conversation (`key=<app>~<endpoint>~<conversation>`, informational), plus `baseuri`.
pub fn callback_body(urls: &AppUrls, endpoint_id: &str, route: &CallbackRoute, items: &[OutboxItem]) -> Value {
    let key = format!("{}~{}~{}", route.app_id, endpoint_id, route.session_id);
    let key = utf8_percent_encode(&key, NON_ALPHANUMERIC).to_string();
    let ack = route.delivered + 1;
    let href = |n: u64| urls.callback_events(n, &key);
    let groups = group_by_sender(
        items.iter().map(|i| (RelLink::new(i.sender_rel.clone(), i.sender_href.clone()), i.body.clone())),
    );
    let mut body = batch_body(&href(ack), Continuation::Next, &href(ack + 1), &groups);
    if let Some(obj) = body.as_object_mut() {
        obj.insert("baseuri".into(), Value::String(route.base_uri.clone()));
    }
    body
}

/// How long a callback delivery lease lasts: three callback timeouts (30 s by default), so a
/// holder that renewed before a POST still holds it when the POST ends.
pub fn lease_ms(limits: &Limits) -> i64 {
    let timeout_ms = i64::try_from(limits.callback_timeout_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    timeout_ms.saturating_mul(3).max(1)
}

/// The delivery id of the batch `route` is about to deliver.
pub fn delivery_id(route: &CallbackRoute) -> String {
    format!("{}.{}", route.session_id, route.delivered + 1)
}

/// What one delivery turn ended with.
enum Turn {
    /// Nothing (more) to send, or sent successfully, or the lease went to another node.
    Done,
    /// The receiver failed; retry later or give up. Carries the service application
    /// endpoint (its SIP URI) the conversation's callbacks are for.
    Failed { route: Box<CallbackRoute>, endpoint: String, error: String },
}

/// Delivers the due batches of one conversation, in order, while this node holds its lease.
async fn deliver(services: &Services, session_id: &str) -> Result<Turn, ucwa_core::StoreError> {
    let lease = lease_ms(&services.limits);
    for n in 0..BATCHES_PER_TURN {
        // The claim just took the lease; later batches renew it first.
        if n > 0 && !services.store.renew_callback_lease(session_id, &services.node, services.now_ms() + lease).await? {
            return Ok(Turn::Done);
        }
        let Some((route, mut items)) = services.store.callback_batch(session_id, MAX_BATCH_EVENTS).await? else {
            return Ok(Turn::Done);
        };
        // At most --max-batch-bytes; the rest in the next batch.
        let sizes = items.iter().map(|i| serde_json::to_vec(&i.body).map_or(0, |b| b.len()));
        items.truncate(batch_len(sizes, services.limits.max_batch_bytes));
        let (Some(url), Some(last)) = (route.url.clone(), items.last()) else { return Ok(Turn::Done) };
        let through = last.id;
        if route.batch_through.is_none() {
            services.store.pin_callback_batch(session_id, through).await?;
        }
        let Some(app) = services.store.application(&route.app_id).await? else {
            // The application is gone: nobody is left to tell.
            services.store.delete_callback_route(session_id).await?;
            return Ok(Turn::Done);
        };
        let endpoint = app.owner_uri.clone();
        let Some(service) = services.store.find_service_app(&app.owner_uri).await? else {
            return Ok(Turn::Failed {
                route: Box::new(route),
                endpoint,
                error: "the endpoint is no longer registered".into(),
            });
        };
        let body = callback_body(&AppUrls::of(&app), &app.endpoint_id, &route, &items);
        let Some(target) = target_url(&url, route.context.as_deref()) else {
            return Ok(Turn::Failed {
                route: Box::new(route),
                endpoint,
                error: "the callback URL is not a URL".into(),
            });
        };
        match post(services, target, &service.signing_key, Some(&delivery_id(&route)), &body).await {
            Ok(context) => {
                services.store.callback_delivered(session_id, through, context.as_deref()).await?;
                services.metrics.callback_delivered(&endpoint, items.len());
            }
            Err(error) => return Ok(Turn::Failed { route: Box::new(route), endpoint, error }),
        }
    }
    Ok(Turn::Done)
}

/// One conversation's turn, with the retry and give-up rules applied; the lease is released
/// when it ends.
async fn turn(services: Services, session_id: String) {
    attempt(&services, &session_id).await;
    if let Err(e) = services.store.release_callback_lease(&session_id, &services.node).await {
        tracing::warn!(session = %session_id, error = %e, "releasing a callback lease failed");
    }
}

async fn attempt(services: &Services, session_id: &str) {
    let (route, endpoint, error) = match deliver(services, session_id).await {
        Ok(Turn::Done) => return,
        Ok(Turn::Failed { route, endpoint, error }) => (route, endpoint, error),
        Err(e) => {
            return tracing::warn!(session = %session_id, error = %e, "callback delivery could not read the outbox");
        }
    };
    let limits = &services.limits;
    let attempts = route.attempts.saturating_add(1);
    let delay =
        backoff_ms(attempts, limits.callback_retry_base_ms, limits.callback_retry_max_secs.saturating_mul(1000));
    let next = services.now_ms().saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
    tracing::debug!(session = %session_id, attempts, %error, "callback failed");
    services.metrics.callback_failed(&endpoint);
    let result = async {
        let attempts = services.store.callback_attempt_failed(session_id, next).await?;
        if attempts >= limits.callback_max_attempts {
            give_up(services, &route, attempts, &error).await?;
            services.metrics.callback_given_up(&endpoint);
        }
        Ok::<_, ucwa_core::StoreError>(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(session = %session_id, error = %e, "recording a callback failure failed");
    }
}

/// Records the failure and terminates the conversation.
async fn give_up(
    services: &Services,
    route: &CallbackRoute,
    attempts: u32,
    error: &str,
) -> Result<(), ucwa_core::StoreError> {
    tracing::warn!(
        app = %route.app_id,
        session = %route.session_id,
        url = crate::urls::redacted(route.url.as_deref().unwrap_or_default()),
        attempts,
        %error,
        "giving up on callbacks: terminating the conversation"
    );
    services.store.callback_give_up(&route.session_id, error, services.now_ms()).await?;
    if let Some(location) = services.store.session_location(&route.session_id).await? {
        let cmd = Command::Leave { session: route.session_id.clone() };
        if let Err(e) = services.meetings.command(&location.meeting_id, cmd).await {
            tracing::debug!(session = %route.session_id, error = ?e, "terminating after callback failure");
        }
    }
    Ok(())
}

/// Claims due conversations while there is room (at most [`MAX_IN_FLIGHT`] in flight) and
/// starts their deliveries; the store takes at most `--callback-endpoint-concurrency` leases
/// per application (endpoint), counting those held on other nodes. Returns whether anything
/// was due.
async fn start_due(
    services: &Services,
    in_flight: &mut JoinSet<()>,
    busy: &mut HashMap<tokio::task::Id, String>,
) -> bool {
    let room = MAX_IN_FLIGHT.saturating_sub(in_flight.len());
    if room == 0 {
        return false;
    }
    let now = services.now_ms();
    let until = now + lease_ms(&services.limits);
    let per_app = u32::try_from(services.limits.callback_endpoint_concurrency.max(1)).unwrap_or(u32::MAX);
    let room = u32::try_from(room).unwrap_or(1);
    match services.store.claim_callbacks(&services.node, now, until, per_app, room).await {
        Ok(due) => {
            let found = !due.is_empty();
            for due in due {
                let handle = in_flight.spawn(turn(services.clone(), due.session_id.clone()));
                busy.insert(handle.id(), due.session_id);
            }
            found
        }
        Err(e) => {
            tracing::warn!(error = %e, "looking for due callbacks failed");
            false
        }
    }
}

/// The delivery worker: runs until `shutdown`.
pub async fn run(services: Services, shutdown: CancellationToken) {
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let mut busy: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_purge = services.now_ms();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => e.id(),
                };
                busy.remove(&id);
                continue;
            }
            _ = ticker.tick() => {}
        }
        let found = start_due(&services, &mut in_flight, &mut busy).await;
        let busy_now = found || !in_flight.is_empty();
        services.deliveries.0.send_modify(|o| *o = Outbox { looks: o.looks + 1, busy: busy_now });
        // Routes of ended conversations with nothing left to deliver, now and then.
        let now = services.now_ms();
        if now - last_purge > 10_000 {
            last_purge = now;
            if let Err(e) = services.store.purge_callback_routes(now - 60_000).await {
                tracing::warn!(error = %e, "purging callback routes failed");
            }
        }
    }
    in_flight.shutdown().await;
    // Deliveries cut short: another node may resume them at once.
    for session in busy.into_values() {
        if let Err(e) = services.store.release_callback_lease(&session, &services.node).await {
            tracing::debug!(session = %session, error = %e, "releasing a callback lease at shutdown failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_urls() {
        assert!(valid_callback_url("https://sa.example/callback"));
        assert!(valid_callback_url("http://127.0.0.1:9000/cb?x=1"));
        assert!(!valid_callback_url("/relative"));
        assert!(!valid_callback_url("ftp://sa.example/"));
        assert!(!valid_callback_url(&format!("https://sa.example/{}", "a".repeat(1024))));
    }

    #[test]
    fn context_moves_out_of_the_url_and_back() {
        let (url, ctx) = split_context("https://sa.example/cb?a=1&callbackContext=x%20y");
        assert_eq!(url, "https://sa.example/cb?a=1");
        assert_eq!(ctx.as_deref(), Some("x y"));
        let target = target_url(&url, Some("n&2")).unwrap();
        assert_eq!(target.as_str(), "https://sa.example/cb?a=1&callbackContext=n%262");
        assert_eq!(target_url("https://sa.example/cb", None).unwrap().as_str(), "https://sa.example/cb");
    }
}
