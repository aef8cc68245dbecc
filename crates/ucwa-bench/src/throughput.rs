//! Scenario (a): authenticated `GET application` requests per second.
//!
//! N workers, each with its own keep-alive connection and its own application, send one
//! request after another (closed loop: a new request leaves as soon as the previous answer
//! has been read). Requests that start and finish inside the measured window count; the
//! warm-up before it lets connections, caches and the allocator reach a steady state. The
//! floor server gets the identical load, with a body of the same size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::StatusCode;
use tokio::task::JoinSet;

use crate::client::{self, Conn, REQUEST_TIMEOUT};
use crate::process::{self, BENCH_PASSWORD, BENCH_USER, Server, UcwaOptions};
use crate::stats::{Latency, ms, verdict};

/// The real server must reach this share of the floor's rate.
const TARGET_SHARE: f64 = 0.5;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Concurrent keep-alive connections (one worker each).
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Warm-up before measuring, seconds.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Measured duration, seconds.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
}

/// What one target did under the load.
pub(crate) struct Outcome {
    pub requests: usize,
    pub seconds: f64,
    pub errors: usize,
    pub latency: Latency,
    /// CPU the server process used during the window, in cores (1.0 = one core busy).
    pub server_cores: f64,
    /// Same for this process (the load generator).
    pub bench_cores: f64,
}

impl Outcome {
    pub(crate) fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// One worker's target: the path to GET and the token to show.
#[derive(Clone)]
pub(crate) struct Target {
    pub path: String,
    pub token: Option<Arc<str>>,
}

pub(crate) async fn run(args: &Args) -> anyhow::Result<()> {
    if args.connections == 0 || args.duration == 0 {
        bail!("--connections and --duration must be positive");
    }
    let binary = process::sibling_binary("ucwa-server")?;
    let warmup = Duration::from_secs(args.warmup);
    let duration = Duration::from_secs(args.duration);

    let server = Server::start_ucwa(&UcwaOptions::new(&binary)).await?;
    let token: Arc<str> = client::sign_in(server.addr, BENCH_USER, BENCH_PASSWORD).await?.into();
    let apps = client::create_apps(server.addr, &token, args.connections, 16).await?;
    // Size the floor's body after what GET application really returns.
    let (status, sample) = Conn::connect(server.addr).await?.get(&apps[0].path, Some(&token)).await?;
    if status != StatusCode::OK {
        bail!("GET application answered {status}");
    }
    let body_len = sample.len();
    let targets: Vec<Target> =
        apps.iter().map(|a| Target { path: a.path.clone(), token: Some(token.clone()) }).collect();
    let ucwa = load(&server, targets, warmup, duration).await.context("loading ucwa-server")?;
    server.stop().await?;

    let floor = Server::start_floor(body_len).await?;
    let targets = vec![Target { path: "/app".into(), token: None }; args.connections];
    let bare = load(&floor, targets, warmup, duration).await.context("loading the floor server")?;
    floor.stop().await?;

    println!(
        "(a) GET application: {} connections, {} s warm-up + {} s measured, body {body_len} B",
        args.connections, args.warmup, args.duration
    );
    println!(
        "{:<12} {:>10} {:>9} {:>9} {:>9} {:>7} {:>11} {:>10}",
        "target", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "server CPU", "bench CPU"
    );
    for (name, o) in [("floor", &bare), ("ucwa-server", &ucwa)] {
        println!(
            "{:<12} {:>10.0} {:>9} {:>9} {:>9} {:>7} {:>10.2}c {:>9.2}c",
            name,
            o.rate(),
            ms(o.latency.p50),
            ms(o.latency.p99),
            ms(o.latency.max),
            o.errors,
            o.server_cores,
            o.bench_cores
        );
    }
    let share = ucwa.rate() / bare.rate();
    println!(
        "ucwa-server / floor = {:.1}% (target >= {:.0}%): {}",
        share * 100.0,
        TARGET_SHARE * 100.0,
        verdict(share >= TARGET_SHARE)
    );
    Ok(())
}

/// Runs one worker per target against `server` and measures the window after `warmup`.
pub(crate) async fn load(
    server: &Server,
    targets: Vec<Target>,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let addr = server.addr;
    // Connect everyone before the clock starts, so connection set-up is not measured.
    let mut conns = Vec::with_capacity(targets.len());
    for _ in &targets {
        conns.push(Conn::connect(addr).await?);
    }
    let start = Instant::now();
    let from = start + warmup;
    let to = from + duration;
    let mut workers = JoinSet::new();
    for (conn, target) in conns.into_iter().zip(targets) {
        workers.spawn(worker(conn, target, from, to));
    }
    // CPU use of both processes over exactly the measured window.
    tokio::time::sleep_until(from.into()).await;
    let (server_cpu0, bench_cpu0) = (server.cpu_seconds()?, process::cpu_seconds("self")?);
    tokio::time::sleep_until(to.into()).await;
    let (server_cpu1, bench_cpu1) = (server.cpu_seconds()?, process::cpu_seconds("self")?);

    let mut samples = Vec::new();
    let mut errors = 0;
    while let Some(done) = workers.join_next().await {
        let (worker_samples, worker_errors) = done.context("a load worker panicked")??;
        samples.extend(worker_samples);
        errors += worker_errors;
    }
    let window = duration.as_secs_f64();
    let latency = Latency::of(&mut samples).context("no request completed inside the measured window")?;
    Ok(Outcome {
        requests: latency.count,
        seconds: window,
        errors,
        latency,
        server_cores: (server_cpu1 - server_cpu0) / window,
        bench_cores: (bench_cpu1 - bench_cpu0) / window,
    })
}

/// Most failed requests one worker tolerates before the run is declared broken.
const MAX_ERRORS: usize = 100;

/// Sends requests back to back until `to`; keeps the latency of those inside `from..to`.
async fn worker(mut conn: Conn, target: Target, from: Instant, to: Instant) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut samples = Vec::with_capacity(64 * 1024);
    let mut errors = 0;
    loop {
        let sent = Instant::now();
        if sent >= to {
            return Ok((samples, errors));
        }
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, conn.get(&target.path, target.token.as_deref())).await;
        let done = Instant::now();
        match answer {
            Ok(Ok((StatusCode::OK, _))) => {
                if sent >= from && done <= to {
                    samples.push(done - sent);
                }
            }
            Ok(Ok((status, body))) => {
                errors += 1;
                if errors > MAX_ERRORS {
                    bail!("{} answered {status}: {}", target.path, String::from_utf8_lossy(&body));
                }
            }
            Ok(Err(e)) => return Err(e.context(format!("GET {}", target.path))),
            Err(_) => bail!("GET {} took longer than {REQUEST_TIMEOUT:?}", target.path),
        }
    }
}
