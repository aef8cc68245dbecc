//! Scenario (b): how long an event takes from its commit to the client of a parked
//! `GET events`, with many requests parked.
//!
//! Measured in-process: no HTTP action of the server emits a high-priority event yet
//! (`makeMeAvailable` emits medium ones, which the channel holds for at least
//! `--events-min-hold-secs`, a whole second at the least), so the benchmark commits events
//! the way the server's own handlers do, through `Store::append_events` on the store of a
//! [`TestServer`] running in this process. The parked requests still travel over loopback
//! TCP, one keep-alive connection each, exactly as a client's would.
//!
//! Per sample: t0 just before `append_events` (so the commit is included), t1 when the
//! woken request's body has been read completely. The woken client re-parks at once by
//! following `next`; samples go round-robin over the applications, so an application is
//! used again only after every other one has been, long after it re-parked.
//!
//! The floor is the round trip of a bare `GET` on the floor server over one keep-alive
//! connection: the cost of getting any response at all to a waiting client.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use hyper::StatusCode;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use ucwa_core::channel::Priority;
use ucwa_core::model::NewEvent;
use ucwa_proto::event::{Event, EventType, RelLink};
use ucwa_testkit::{StoreKind as TestStore, TestClock, TestOptions, TestServer};

use crate::client::{self, AppLinks, Conn};
use crate::floor;
use crate::process::{self, BENCH_PASSWORD, BENCH_USER, Server, StoreKind};
use crate::stats::{Latency, ms, verdict};

/// The p99 wake-up latency must stay under this on one node...
const TARGET_P99: Duration = Duration::from_millis(2);
/// ... and across nodes (commit on one, parked on another).
const TARGET_P99_CROSS_NODE: Duration = Duration::from_millis(5);

/// Parked requests ask for this timeout; far longer than any run.
const PARK_TIMEOUT_S: u32 = 600;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Parked requests (one application and one connection each).
    #[arg(long, default_value_t = 1000)]
    pub parked: usize,
    /// Measured samples.
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Samples taken and thrown away first.
    #[arg(long, default_value_t = 100)]
    pub warmup_samples: usize,
    /// Pause between samples, milliseconds, so each sample finds an otherwise idle server.
    #[arg(long, default_value_t = 5)]
    pub gap_ms: u64,
    /// Where the server keeps its data. PostgreSQL needs `UCWA_TEST_POSTGRES_URL`.
    #[arg(long, value_enum, default_value_t = StoreKind::Sqlite)]
    pub store: StoreKind,
    /// PostgreSQL: park the requests on a second node and commit on the first, so every
    /// wake-up crosses nodes (NOTIFY from the committing node, LISTEN on the other).
    #[arg(long)]
    pub cross_node: bool,
}

/// A parked request came back.
struct Arrival {
    app: usize,
    at: Instant,
    status: StatusCode,
    events: usize,
}

pub(crate) async fn run(args: &Args) -> anyhow::Result<()> {
    if args.parked == 0 || args.samples == 0 {
        bail!("--parked and --samples must be positive");
    }
    let floor_rtt = floor_round_trip(args.warmup_samples, args.samples).await?;

    if args.cross_node && args.store != StoreKind::Postgres {
        bail!("--cross-node needs --store postgres");
    }
    let store = match args.store {
        StoreKind::Sqlite => TestStore::Sqlite,
        StoreKind::Postgres => TestStore::Postgres,
    };
    // One user holds every parked application: past the per-user quota (64 by default).
    let mut options = TestOptions { store, clock: TestClock::System, ..TestOptions::default() };
    options.limits.max_applications_per_user = options.limits.max_applications_per_user.max(args.parked as u64 + 16);
    let server = TestServer::start_with(options).await;
    // Requests park on `parking`; events are committed on `server`.
    let other = if args.cross_node { Some(server.another_node().await) } else { None };
    let parking = other.as_ref().unwrap_or(&server);
    server.add_user(BENCH_USER, "Bench User", BENCH_PASSWORD).await;
    let token: Arc<str> = client::sign_in(parking.addr, BENCH_USER, BENCH_PASSWORD).await?.into();
    let apps = client::create_apps(parking.addr, &token, args.parked, 16).await?;

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut parkers = JoinSet::new();
    for (i, app) in apps.iter().enumerate() {
        let conn = Conn::connect(parking.addr).await?;
        parkers.spawn(park(i, conn, app.events.clone(), token.clone(), tx.clone()));
    }
    // Everything is parked once the process stops working on the requests just sent.
    if !process::settle("self", Duration::from_millis(500), Duration::from_secs(60)).await? {
        bail!("the server did not settle within 60 s of parking {} requests", args.parked);
    }
    if let Ok(early) = rx.try_recv() {
        bail!("a parked request came back before any event (application {}, {})", early.app, early.status);
    }

    let mut total = Vec::with_capacity(args.samples);
    let mut commit = Vec::with_capacity(args.samples);
    for n in 0..args.warmup_samples + args.samples {
        let i = n % apps.len();
        let event = high_priority_event(&apps[i]);
        let t0 = Instant::now();
        server.store.append_events(vec![event], now_ms()).await.context("committing an event")?;
        let committed = Instant::now();
        let arrival = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .with_context(|| format!("application {i}'s parked request did not return within 10 s of its event"))?
            .context("every parked request ended")?;
        if arrival.app != i || arrival.status != StatusCode::OK || arrival.events != 1 {
            bail!(
                "expected one event for application {i}, got {} with {} events for application {}",
                arrival.status,
                arrival.events,
                arrival.app
            );
        }
        if n >= args.warmup_samples {
            total.push(arrival.at - t0);
            commit.push(committed - t0);
        }
        tokio::time::sleep(Duration::from_millis(args.gap_ms)).await;
    }

    // Drop the client side first; then the server releases what is still parked and stops.
    parkers.shutdown().await;
    for node in other.into_iter().chain([server]) {
        if tokio::time::timeout(Duration::from_secs(10), node.stop()).await.is_err() {
            eprintln!("warning: an in-process server did not stop within 10 s");
        }
    }

    let total = Latency::of(&mut total).context("no samples")?;
    let commit = Latency::of(&mut commit).context("no samples")?;
    let setup = match (args.store, args.cross_node) {
        (StoreKind::Sqlite, _) => "sqlite, one in-process node",
        (StoreKind::Postgres, false) => "postgres, one in-process node",
        (StoreKind::Postgres, true) => "postgres, two in-process nodes: commit on one, parked on the other",
    };
    println!(
        "(b) event wake-up: {} parked, {} samples (+{} warm-up), {} ms apart; {setup}",
        args.parked, args.samples, args.warmup_samples, args.gap_ms
    );
    println!("{:<34} {:>9} {:>9} {:>9}", "measure", "p50 ms", "p99 ms", "max ms");
    for (name, l) in [
        ("floor: bare GET round trip", &floor_rtt),
        ("ucwa: commit -> body received", &total),
        ("  of which append_events (commit)", &commit),
    ] {
        println!("{:<34} {:>9} {:>9} {:>9}", name, ms(l.p50), ms(l.p99), ms(l.max));
    }
    let target = if args.cross_node { TARGET_P99_CROSS_NODE } else { TARGET_P99 };
    println!("wake-up p99 {} ms (target < {} ms): {}", ms(total.p99), ms(target), verdict(total.p99 < target));
    Ok(())
}

/// Round trips of `GET /app` on the floor server over one keep-alive connection.
pub(crate) async fn floor_round_trip(warmup: usize, samples: usize) -> anyhow::Result<Latency> {
    let floor = Server::start_floor(floor::DEFAULT_BODY_BYTES).await?;
    let mut conn = Conn::connect(floor.addr).await?;
    let mut times = Vec::with_capacity(samples);
    for n in 0..warmup + samples {
        let t0 = Instant::now();
        let (status, _) = tokio::time::timeout(client::REQUEST_TIMEOUT, conn.get("/app", None))
            .await
            .context("the floor server did not answer")??;
        let t1 = Instant::now();
        if status != StatusCode::OK {
            bail!("the floor server answered {status}");
        }
        if n >= warmup {
            times.push(t1 - t0);
        }
    }
    floor.stop().await?;
    Latency::of(&mut times).context("no samples")
}

/// Keeps one application's event channel parked: GET, report the answer, follow `next`.
async fn park(
    app: usize,
    mut conn: Conn,
    first: String,
    token: Arc<str>,
    tx: mpsc::UnboundedSender<Arrival>,
) -> anyhow::Result<()> {
    let mut path = first;
    // Bounded: the benchmark wakes each application a few times at most.
    for _ in 0..10_000 {
        let request = format!("{path}&timeout={PARK_TIMEOUT_S}");
        let answer =
            tokio::time::timeout(Duration::from_secs(u64::from(PARK_TIMEOUT_S) + 30), conn.get(&request, Some(&token)))
                .await
                .context("a parked request outlived its timeout")??;
        let at = Instant::now();
        let (status, body) = answer;
        let batch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let events =
            batch["sender"].as_array().into_iter().flatten().filter_map(|s| s["events"].as_array()).map(Vec::len).sum();
        let next = batch["_links"]["next"]["href"].as_str().map(str::to_owned);
        if tx.send(Arrival { app, at, status, events }).is_err() {
            return Ok(());
        }
        match next {
            Some(next) if status == StatusCode::OK => path = next,
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// An `updated` event about the application's `communication`, as the server's own handlers
/// render them, at high priority so it releases the parked request at once.
fn high_priority_event(app: &AppLinks) -> NewEvent {
    let href = format!("{}/communication", app.path);
    NewEvent {
        app_id: app.id().to_owned(),
        priority: Priority::High,
        sender_rel: "communication".into(),
        sender_href: href.clone(),
        body: Event::new(EventType::Updated, RelLink::new("communication", href)).to_value(),
        conversation: None,
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
