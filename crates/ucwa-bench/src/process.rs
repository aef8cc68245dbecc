//! Child processes under test (the real `ucwa-server`, the floor server) and what
//! `/proc` says about them.
//!
//! Servers run as children so that their memory can be read from `/proc/<pid>/status` and so
//! that the load generator's CPU time is not counted as theirs. Each child listens on
//! `127.0.0.1:0` and announces its address on stdout (`listening on http://ADDR`); both are
//! killed when dropped, so an early error never leaves a server behind.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// The user every scenario signs in as; applications differ by endpoint id.
pub(crate) const BENCH_USER: &str = "sip:bench@example.com";
pub(crate) const BENCH_PASSWORD: &str = "bench-password";

/// Linux reports process CPU time in clock ticks of `USER_HZ`, which is 100 on every
/// mainstream architecture (reading `sysconf(_SC_CLK_TCK)` would need `unsafe`).
const TICKS_PER_SECOND: f64 = 100.0;

/// A running server process.
pub(crate) struct Server {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    pub pid: u32,
    /// Holds the temporary database of a `ucwa-server` child until it has been killed.
    _dir: Option<TempDir>,
}

/// A binary that sits next to this one in the target directory.
pub(crate) fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the ucwa-bench executable")?;
    let dir = exe.parent().context("the ucwa-bench executable has no directory")?;
    let path = dir.join(name);
    if !path.is_file() {
        bail!("{} not found: build it first with `cargo build --release -p {name}`", path.display());
    }
    Ok(path)
}

/// The `i`-th extra user (the join scenario's attendees), who signs in with [`BENCH_PASSWORD`].
pub(crate) fn attendee_user(i: usize) -> String {
    format!("sip:attendee{i}@example.com")
}

/// Settings of a `ucwa-server` child.
pub(crate) struct UcwaOptions<'a> {
    pub binary: &'a Path,
    pub events_min_timeout_s: u32,
    pub events_min_hold_s: u32,
    /// `--lobby-timeout-secs`: far longer than any run, so no waiter times out.
    pub lobby_timeout_s: u32,
    /// Users created besides [`BENCH_USER`]: [`attendee_user`]`(0..attendee_users)`.
    pub attendee_users: usize,
    /// More `serve` flags (the probes set limits with them).
    pub extra_args: Vec<String>,
}

impl<'a> UcwaOptions<'a> {
    /// One-second event timeouts and holds, an hour of lobby wait, no extra users.
    pub(crate) fn new(binary: &'a Path) -> Self {
        Self {
            binary,
            events_min_timeout_s: 1,
            events_min_hold_s: 1,
            lobby_timeout_s: 3600,
            attendee_users: 0,
            extra_args: Vec::new(),
        }
    }
}

impl Server {
    /// Starts `ucwa-server serve` on a fresh temporary SQLite database holding [`BENCH_USER`]
    /// (and the attendee users the options ask for).
    pub(crate) async fn start_ucwa(options: &UcwaOptions<'_>) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating a temporary directory for the database")?;
        let db_url = format!("sqlite://{}", dir.path().join("bench.db").display());
        add_user(options.binary, &db_url, BENCH_USER, "Bench User").await?;
        for i in 0..options.attendee_users {
            add_user(options.binary, &db_url, &attendee_user(i), &format!("Attendee {i}")).await?;
        }
        let mut cmd = Command::new(options.binary);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--database-url", &db_url, "--server-fqdn", "bench.local"])
            .args(["--events-min-timeout-secs", &options.events_min_timeout_s.to_string()])
            .args(["--events-min-hold-secs", &options.events_min_hold_s.to_string()])
            .args(["--lobby-timeout-secs", &options.lobby_timeout_s.to_string()])
            // Application creation is not what is measured; a long idle limit keeps the
            // sweeper from expiring anything mid-run.
            .args(["--application-idle-secs", "3600"])
            // One bench user holds thousands of applications (and meetings): no quotas.
            .args(["--max-applications-per-user", "100000000", "--max-meetings-per-user", "100000000"])
            .args(&options.extra_args)
            // Request logging would measure the terminal; warnings still get through.
            .env("RUST_LOG", "warn");
        let mut server = Self::spawn(cmd, "ucwa-server").await?;
        server._dir = Some(dir);
        Ok(server)
    }

    /// Starts this program's `floor-server` mode.
    pub(crate) async fn start_floor(body_bytes: usize) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("locating the ucwa-bench executable")?;
        let mut cmd = Command::new(exe);
        cmd.args(["floor-server", "--listen", "127.0.0.1:0", "--body-bytes", &body_bytes.to_string()]);
        Self::spawn(cmd, "floor-server").await
    }

    async fn spawn(mut cmd: Command, name: &'static str) -> anyhow::Result<Self> {
        // stdin is a pipe the floor server watches: when this process dies, it exits too.
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
        let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        let pid = child.id().with_context(|| format!("{name} exited at once"))?;
        let stdout = child.stdout.take().with_context(|| format!("{name} has no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let announce = async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.trim().strip_prefix("listening on http://") {
                    return Ok(Some(url.parse::<SocketAddr>().with_context(|| format!("{name} announced {url:?}"))?));
                }
                eprintln!("[{name}] {line}");
            }
            anyhow::Ok(None)
        };
        let addr = match tokio::time::timeout(Duration::from_secs(30), announce).await {
            Ok(Ok(Some(addr))) => addr,
            Ok(Ok(None)) => bail!("{name} exited before listening"),
            Ok(Err(e)) => return Err(e.context(format!("reading {name}'s output"))),
            Err(_) => bail!("{name} did not start listening within 30 s"),
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[{name}] {line}");
            }
        });
        Ok(Self { child, addr, pid, _dir: None })
    }

    /// Resident memory of the server.
    pub(crate) fn rss(&self) -> anyhow::Result<Rss> {
        rss(self.pid)
    }

    /// CPU time (user + system) the server has used so far, seconds.
    pub(crate) fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds(&self.pid.to_string())
    }

    /// Waits until the server is idle; see [`settle`].
    pub(crate) async fn settle(&self, quiet: Duration, limit: Duration) -> anyhow::Result<bool> {
        settle(&self.pid.to_string(), quiet, limit).await
    }

    /// Kills the server and reaps it.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("stopping a server")?;
        Ok(())
    }
}

/// `ucwa-server user add` with the password on stdin, as an operator would run it.
async fn add_user(binary: &Path, db_url: &str, uri: &str, name: &str) -> anyhow::Result<()> {
    let mut child = Command::new(binary)
        .args(["user", "add", uri, "--name", name, "--password-stdin", "--database-url", db_url])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("running {} user add", binary.display()))?;
    let mut stdin = child.stdin.take().context("user add has no stdin")?;
    stdin.write_all(format!("{BENCH_PASSWORD}\n").as_bytes()).await.context("writing the password")?;
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .context("user add did not finish within 60 s")?
        .context("waiting for user add")?;
    if !status.success() {
        bail!("user add {uri} failed: {status}");
    }
    Ok(())
}

/// Waits until process `pid` (`"self"` for this one) has used no CPU for a whole `quiet`
/// period: every request it was sent has been taken in and parked (or answered). Gives up
/// after `limit`; returns whether it settled.
pub(crate) async fn settle(pid: &str, quiet: Duration, limit: Duration) -> anyhow::Result<bool> {
    let started = Instant::now();
    let mut last = cpu_seconds(pid)?;
    let mut quiet_since = Instant::now();
    while started.elapsed() < limit {
        tokio::time::sleep((quiet / 5).min(Duration::from_millis(100))).await;
        let now = cpu_seconds(pid)?;
        if now > last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= quiet {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Resident memory of a process, KiB, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rss {
    /// `VmRSS`: everything resident.
    pub total: u64,
    /// `RssAnon`: heap and stacks, what the process allocated itself.
    pub anon: u64,
    /// `RssFile` + `RssShmem`: mapped files, e.g. SQLite's WAL index (`-shm`).
    pub mapped: u64,
}

pub(crate) fn rss(pid: u32) -> anyhow::Result<Rss> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok(Rss { total: field("VmRSS:")?, anon: field("RssAnon:")?, mapped: field("RssFile:")? + field("RssShmem:")? })
}

/// CPU time (user + system) of a process (`"self"` for this one), seconds.
pub(crate) fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces; fields after it are plain numbers.
    // utime and stime are fields 14 and 15, i.e. the 12th and 13th after the name.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).context("malformed /proc stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).context("malformed /proc stat");
    Ok((ticks(11)? + ticks(12)?) as f64 / TICKS_PER_SECOND)
}

/// The 1-minute load average (`/proc/loadavg`), as printed.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
