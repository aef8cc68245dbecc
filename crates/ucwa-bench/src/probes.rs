//! Abuse probes (issue 11, docs/SECURITY.md): not speed targets but the two attacks whose
//! effect is a number, replayed against the release server.
//!
//! - `probe-signin`: server memory (RSS from `/proc`, sampled every 10 ms) while 200 bad
//!   password grants for random user names arrive at once, with the default hashing cap
//!   (one argon2 check per core) and, in the same run, with a cap of 200 (what the server
//!   did before: every grant hashing at once). The per-address failure budget is lifted in
//!   both so that only the hashing cap is measured.
//! - `probe-slowloris`: `/healthz` latency on fresh connections, first alone (the floor) and
//!   then while 1,000 connections hold half a request head; then how long the server keeps
//!   those connections (the header-read timeout, 10 s by default).
//!
//! Loopback only; every loop is bounded in count and time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::Conn;
use crate::process::{self, Server, UcwaOptions};
use crate::stats::{Latency, ms};

#[derive(Debug, clap::Args)]
pub struct SigninArgs {
    /// Bad sign-ins sent at once.
    #[arg(long, default_value_t = 200)]
    pub parallel: usize,
}

#[derive(Debug, clap::Args)]
pub struct SlowlorisArgs {
    /// Connections holding half a request head.
    #[arg(long, default_value_t = 1000)]
    pub slow: usize,
    /// `/healthz` requests timed, each on a fresh connection.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
}

/// What one sign-in flood did.
struct Flood {
    baseline_kib: u64,
    peak_kib: u64,
    refused: usize,
    busy: usize,
    other: usize,
    took: Duration,
}

async fn flood(binary: &std::path::Path, hash_concurrency: Option<usize>, parallel: usize) -> anyhow::Result<Flood> {
    let mut extra_args = vec!["--signin-address-rate".to_owned(), "1000000".to_owned()];
    if let Some(n) = hash_concurrency {
        extra_args.extend(["--hash-concurrency".to_owned(), n.to_string()]);
    }
    let server = Server::start_ucwa(&UcwaOptions { extra_args, ..UcwaOptions::new(binary) }).await?;
    server.settle(Duration::from_millis(500), Duration::from_secs(10)).await?;
    let baseline_kib = server.rss()?.total;
    let peak = Arc::new(AtomicU64::new(baseline_kib));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done, pid) = (peak.clone(), done.clone(), server.pid);
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                if let Ok(rss) = process::rss(pid) {
                    peak.fetch_max(rss.total, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let started = Instant::now();
    let grants = (0..parallel).map(|i| {
        let addr = server.addr;
        tokio::spawn(async move {
            let user = format!("nobody-{i}-{}@example.com", std::process::id());
            crate::client::sign_in(addr, &user, "wrong-password").await
        })
    });
    let answers = futures_join(grants).await;
    let took = started.elapsed();
    done.store(true, Ordering::SeqCst);
    let _ = sampler.await;
    let (mut refused, mut busy, mut other) = (0, 0, 0);
    for answer in answers {
        match answer {
            Err(e) if e.to_string().contains("answered 400") => refused += 1,
            Err(e) if e.to_string().contains("answered 503") => busy += 1,
            _ => other += 1,
        }
    }
    Ok(Flood { baseline_kib, peak_kib: peak.load(Ordering::SeqCst), refused, busy, other, took })
}

/// Waits for every task; a task that panicked counts as an error.
async fn futures_join<T>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<anyhow::Result<T>>>,
) -> Vec<anyhow::Result<T>> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.unwrap_or_else(|e| Err(anyhow::anyhow!("task failed: {e}"))));
    }
    out
}

pub async fn signin(args: &SigninArgs) -> anyhow::Result<()> {
    let binary = process::sibling_binary("ucwa-server")?;
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
    println!("probe-signin: {} parallel bad password grants (random user names), release server", args.parallel);
    println!(
        "{:<34} {:>10} {:>10} {:>6} {:>6} {:>6} {:>9}",
        "", "RSS before", "RSS peak", "400", "503", "other", "all in"
    );
    for (label, cap) in [
        (format!("hashing cap {cores} (default: cores)"), None),
        (format!("hashing cap {} (no cap, as before)", args.parallel), Some(args.parallel)),
    ] {
        let f = flood(&binary, cap, args.parallel).await?;
        println!(
            "{label:<34} {:>7} MB {:>7} MB {:>6} {:>6} {:>6} {:>7} s",
            f.baseline_kib / 1024,
            f.peak_kib / 1024,
            f.refused,
            f.busy,
            f.other,
            format!("{:.2}", f.took.as_secs_f64())
        );
    }
    Ok(())
}

/// One `GET /healthz` on a fresh connection.
async fn healthz(addr: std::net::SocketAddr) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut conn = Conn::connect(addr).await?;
    let (status, _) = conn.get("/healthz", None).await?;
    anyhow::ensure!(status == StatusCode::OK, "/healthz answered {status}");
    Ok(started.elapsed())
}

async fn healthz_latency(addr: std::net::SocketAddr, samples: usize) -> anyhow::Result<Latency> {
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let took = tokio::time::timeout(Duration::from_secs(10), healthz(addr)).await.context("/healthz hung")??;
        times.push(took);
    }
    Latency::of(&mut times).context("no samples")
}

pub async fn slowloris(args: &SlowlorisArgs) -> anyhow::Result<()> {
    let binary = process::sibling_binary("ucwa-server")?;
    if let Some(limit) = ucwa_server::connections::open_file_limit()
        && limit < args.slow as u64 + 256
    {
        anyhow::bail!("the open-files limit is {limit}: raise it with `ulimit -n` to hold {} connections", args.slow);
    }
    let server = Server::start_ucwa(&UcwaOptions::new(&binary)).await?;
    let floor = healthz_latency(server.addr, args.samples).await?;
    let mut slow = Vec::with_capacity(args.slow);
    for _ in 0..args.slow {
        let mut s = TcpStream::connect(server.addr).await.context("opening a slow connection")?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: probe\r\nX-Slow: ").await?;
        slow.push(s);
    }
    let held_from = Instant::now();
    let under = healthz_latency(server.addr, args.samples).await?;
    println!("probe-slowloris: GET /healthz on a fresh connection, release server, {} samples", args.samples);
    println!("{:<42} {:>9} {:>9} {:>9}", "", "p50 ms", "p99 ms", "max ms");
    println!("{:<42} {:>9} {:>9} {:>9}", "alone (floor)", ms(floor.p50), ms(floor.p99), ms(floor.max));
    let label = format!("with {} half-sent heads held", args.slow);
    println!("{label:<42} {:>9} {:>9} {:>9}", ms(under.p50), ms(under.p99), ms(under.max));
    // How long the server keeps them: each read ends when the server closes.
    let mut closed_after = Vec::with_capacity(slow.len());
    for mut s in slow {
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf)).await;
        anyhow::ensure!(read.is_ok(), "a slow connection was kept for 30 s");
        closed_after.push(held_from.elapsed());
    }
    let closed = Latency::of(&mut closed_after).context("no slow connections")?;
    println!(
        "slow connections closed by the server after {:.1} s (median) to {:.1} s (last), header-read timeout 10 s",
        closed.p50.as_secs_f64(),
        closed.max.as_secs_f64()
    );
    Ok(())
}
