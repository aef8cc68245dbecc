//! `ucwa-bench`: load benchmarks of the OpenUCWA server, each next to a floor.
//!
//! A plain program that prints numbers. It runs the real release `ucwa-server` binary (found
//! next to this executable: `cargo build --release -p ucwa-server` first) as a child process
//! on `127.0.0.1` with a fresh temporary SQLite database, so the server's memory can be read
//! from `/proc` and the load generator does not share its process. The floor is a bare axum
//! handler that this same program serves in a child process (`floor-server`), measured the
//! same way in the same run.
//!
//! Scenarios (see `docs/BENCHMARKS.md` for method and results):
//! - `throughput`: authenticated `GET application` requests per second over N keep-alive
//!   connections, against the floor's rate under identical load.
//! - `wakeup`: latency from committing a high-priority event to the arrival of the parked
//!   `GET events` it releases, with 1,000 requests parked (in-process; see [`wakeup`]).
//! - `memory`: server RSS per parked `GET events` with 10,000 parked.
//! - `join`: the meeting join flow through a lobby: admit -> `completed` latency with 1, 100
//!   and 1,000 waiting, and full join cycles per second (see [`join`]).
//! - `housekeeping`: how long one acknowledgement-cleanup chunk and one retention step hold
//!   the SQLite writer with a million events, next to a one-row write (see [`housekeeping`]).
//! - `fanout` and `cycles`: server CPU per fan-out event at several roster sizes, and per
//!   join cycle, in-process through the use cases (see [`inproc`]); what
//!   `callgrind.sh` counts instructions of.
//!
//! - `probe-signin`, `probe-slowloris`: abuse probes of issue 11, numbers in
//!   `docs/SECURITY.md` (see [`probes`]).
//!
//! Everything targets loopback only, and every loop is bounded in count and time.

mod client;
mod floor;
mod housekeeping;
mod inproc;
mod join;
mod memory;
mod probes;
mod process;
mod stats;
mod throughput;
mod wakeup;

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "ucwa-bench", about = "Load benchmarks of ucwa-server against a bare axum floor")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// (a) Authenticated GET application requests per second vs the floor.
    Throughput(throughput::Args),
    /// (b) Event wake-up latency with many requests parked vs a bare GET round trip.
    Wakeup(wakeup::Args),
    /// (c) Server memory per parked event request vs the floor.
    Memory(memory::Args),
    /// (d) Meeting join flow: admit -> completed latency with W waiting, join cycles per second.
    Join(join::Args),
    /// (e) What acknowledgement cleanup and retention cost the SQLite writer vs a one-row write.
    Housekeeping(housekeeping::Args),
    /// (f) Server CPU per fan-out event at several roster sizes (in-process, below HTTP).
    Fanout(inproc::FanoutArgs),
    /// (g) Join cycles one after another, in-process below HTTP (for CPU and instruction counts).
    Cycles(inproc::CycleArgs),
    /// Abuse probe: server memory under 200 parallel bad sign-ins, with and without the
    /// hashing cap (docs/SECURITY.md).
    ProbeSignin(probes::SigninArgs),
    /// Abuse probe: /healthz latency while 1,000 connections hold half a request head, and
    /// when the server closes them (docs/SECURITY.md).
    ProbeSlowloris(probes::SlowlorisArgs),
    /// All four scenarios with their default settings, one after another.
    All,
    /// Serve the floor handler (used by the scenarios; runs as a child process).
    FloorServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Size of the JSON body `GET /app` answers, bytes.
        #[arg(long, default_value_t = floor::DEFAULT_BODY_BYTES)]
        body_bytes: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::Throughput(args) => throughput::run(&args).await,
        Scenario::Wakeup(args) => wakeup::run(&args).await,
        Scenario::Memory(args) => memory::run(&args).await,
        Scenario::Join(args) => join::run(&args).await,
        Scenario::Housekeeping(args) => housekeeping::run(&args).await,
        Scenario::Fanout(args) => inproc::fanout(&args).await,
        Scenario::Cycles(args) => inproc::cycles(&args).await,
        Scenario::ProbeSignin(args) => probes::signin(&args).await,
        Scenario::ProbeSlowloris(args) => probes::slowloris(&args).await,
        Scenario::All => {
            throughput::run(&throughput::Args { connections: 64, warmup: 2, duration: 10 }).await?;
            println!();
            wakeup::run(&wakeup::Args {
                parked: 1000,
                samples: 1000,
                warmup_samples: 100,
                gap_ms: 5,
                store: process::StoreKind::Sqlite,
                cross_node: false,
            })
            .await?;
            println!();
            memory::run(&memory::Args { parked: 10_000, connect_concurrency: 256 }).await?;
            println!();
            join::run(&join::Args::default()).await
        }
        Scenario::FloorServer { listen, body_bytes } => floor::run(listen, body_bytes).await,
    }
}
