//! Scenario (c): server memory per parked `GET events`.
//!
//! The server's resident set is read from `/proc/<pid>/status` once it is idle with its
//! applications created, then again once N event requests are parked on N applications,
//! one keep-alive connection each (HTTP/1.1 allows one outstanding request per connection,
//! and the channel one parked request per application). The difference divided by N is the
//! cost of one parked request including its connection: socket buffers that the kernel
//! does not charge to RSS are not in it, everything the server allocates is.
//!
//! The floor is the same measurement on the floor server, whose `/park` route sleeps: the
//! least a framework needs to hold a request open. "Idle" means the process used no CPU for
//! a whole second, i.e. it has accepted and parked everything it was sent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use http_body_util::Full;
use hyper::Method;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::{self, Conn};
use crate::floor;
use crate::process::{self, BENCH_PASSWORD, BENCH_USER, Rss, Server, UcwaOptions};
use crate::stats::verdict;

/// Memory per parked request must stay under this, KiB.
const TARGET_KIB: f64 = 32.0;

/// Sockets this process needs besides the parked connections (server children, pipes...).
const SPARE_FILES: u64 = 100;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Requests to park.
    #[arg(long, default_value_t = 10_000)]
    pub parked: usize,
    /// Connections being opened at once while parking.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
}

/// RSS of one target before and after parking.
struct Outcome {
    before: Rss,
    after: Rss,
    parked: usize,
    park_seconds: f64,
}

impl Outcome {
    /// Growth per parked request, KiB, of one measure of resident memory.
    fn per_request(&self, measure: impl Fn(&Rss) -> u64) -> f64 {
        (measure(&self.after) as f64 - measure(&self.before) as f64) / self.parked as f64
    }
}

pub async fn run(args: &Args) -> anyhow::Result<()> {
    if args.parked == 0 {
        bail!("--parked must be positive");
    }
    if let Some(limit) = ucwa_server::connections::open_file_limit()
        && limit < args.parked as u64 + SPARE_FILES
    {
        bail!(
            "the open-files limit is {limit}, parking {} requests needs at least {}: raise it with `ulimit -n`",
            args.parked,
            args.parked as u64 + SPARE_FILES
        );
    }
    let binary = process::sibling_binary("ucwa-server")?;

    let server = Server::start_ucwa(&UcwaOptions::new(&binary)).await?;
    let token: Arc<str> = client::sign_in(server.addr, BENCH_USER, BENCH_PASSWORD).await?.into();
    let apps = client::create_apps(server.addr, &token, args.parked, 32).await?;
    let requests: Vec<String> = apps.iter().map(|a| format!("{}&timeout=600", a.events)).collect();
    let ucwa = measure(&server, requests, Some(token), args.connect_concurrency, Duration::from_secs(600)).await?;
    server.stop().await?;

    let floor = Server::start_floor(floor::DEFAULT_BODY_BYTES).await?;
    warm_up_floor(floor.addr, 32, 10_000).await?;
    let requests = vec!["/park".to_owned(); args.parked];
    let bare = measure(&floor, requests, None, args.connect_concurrency, floor::PARK).await?;
    floor.stop().await?;

    println!(
        "(c) memory per parked request: {} requests parked, one connection each (KiB/request = VmRSS growth / requests; anon = RssAnon, mapped = RssFile + RssShmem)",
        args.parked
    );
    println!(
        "{:<12} {:>10} {:>10} {:>11} {:>10} {:>11} {:>10}",
        "target", "before MiB", "after MiB", "KiB/request", "anon KiB", "mapped KiB", "parking s"
    );
    for (name, o) in [("floor", &bare), ("ucwa-server", &ucwa)] {
        println!(
            "{:<12} {:>10.1} {:>10.1} {:>11.2} {:>10.2} {:>11.2} {:>10.1}",
            name,
            o.before.total as f64 / 1024.0,
            o.after.total as f64 / 1024.0,
            o.per_request(|r| r.total),
            o.per_request(|r| r.anon),
            o.per_request(|r| r.mapped),
            o.park_seconds
        );
    }
    let per = ucwa.per_request(|r| r.total);
    println!(
        "ucwa-server {per:.2} KiB per parked request (target < {TARGET_KIB:.0} KiB): {}",
        verdict(per < TARGET_KIB)
    );
    Ok(())
}

/// Settles `server`, reads its RSS, parks `requests` (one connection each), settles it
/// again and reads its RSS. Fails if any request comes back before the second reading or
/// if parking took longer than the requests are held (`hold`).
async fn measure(
    server: &Server,
    requests: Vec<String>,
    token: Option<Arc<str>>,
    concurrency: usize,
    hold: Duration,
) -> anyhow::Result<Outcome> {
    let quiet = Duration::from_secs(1);
    if !server.settle(quiet, Duration::from_secs(60)).await? {
        bail!("the server did not go idle before parking");
    }
    let before = server.rss()?;
    let parked = requests.len();
    let started = Instant::now();
    let parking = park_all(server.addr, requests, token, concurrency, hold).await?;
    if !server.settle(quiet, Duration::from_secs(120)).await? {
        bail!("the server did not go idle within 120 s of parking");
    }
    let after = server.rss()?;
    let park_seconds = started.elapsed().as_secs_f64();
    let returned = parking.returned.load(Ordering::Relaxed);
    if returned > 0 || started.elapsed() >= hold {
        bail!("{returned} parked requests came back before the measurement (it took {park_seconds:.1} s)");
    }
    drop(parking);
    Ok(Outcome { before, after, parked, park_seconds })
}

/// Parked requests in flight; dropping this closes their connections.
struct Parking {
    _tasks: JoinSet<()>,
    returned: Arc<AtomicUsize>,
}

/// Opens one connection per request and sends it, at most `concurrency` connecting at once;
/// returns once every connection is open.
async fn park_all(
    addr: SocketAddr,
    requests: Vec<String>,
    token: Option<Arc<str>>,
    concurrency: usize,
    hold: Duration,
) -> anyhow::Result<Parking> {
    let connecting = Arc::new(Semaphore::new(concurrency.max(1)));
    let returned = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    let (opened_tx, mut opened_rx) = tokio::sync::mpsc::channel::<anyhow::Result<()>>(1024);
    let count = requests.len();
    for path in requests {
        let permit = connecting.clone().acquire_owned().await.context("connection semaphore closed")?;
        let (token, returned, opened_tx) = (token.clone(), returned.clone(), opened_tx.clone());
        tasks.spawn(async move {
            let mut conn = match Conn::connect(addr).await {
                Ok(conn) => conn,
                Err(e) => {
                    let _ = opened_tx.send(Err(e)).await;
                    return;
                }
            };
            drop(permit);
            let req = conn.request(Method::GET, &path, token.as_deref()).body(Full::default());
            let Ok(req) = req else {
                let _ = opened_tx.send(Err(anyhow::anyhow!("bad request path {path}"))).await;
                return;
            };
            let _ = opened_tx.send(Ok(())).await;
            // Held open until the measurement is over and the task is aborted.
            if let Ok(Ok(_)) = tokio::time::timeout(hold + Duration::from_secs(30), conn.send(req)).await {
                returned.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    for _ in 0..count {
        tokio::time::timeout(Duration::from_secs(60), opened_rx.recv())
            .await
            .context("opening the parked connections stalled for 60 s")?
            .context("a parking task vanished")?
            .context("opening a parked connection")?;
    }
    Ok(Parking { _tasks: tasks, returned })
}

/// Puts the floor server through some requests first, as creating the applications does
/// for the real server, so its runtime and allocator are warm when the baseline is read.
async fn warm_up_floor(addr: SocketAddr, connections: usize, requests: usize) -> anyhow::Result<()> {
    let mut workers = JoinSet::new();
    for _ in 0..connections {
        workers.spawn(async move {
            let mut conn = Conn::connect(addr).await?;
            for _ in 0..requests / connections {
                tokio::time::timeout(client::REQUEST_TIMEOUT, conn.get("/app", None))
                    .await
                    .context("floor warm-up")??;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = workers.join_next().await {
        done.context("a warm-up task panicked")??;
    }
    Ok(())
}
