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
use ucwa_store_postgres::scratch::ScratchDatabase;

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

/// Which database the servers of a run use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StoreKind {
    /// A temporary SQLite file (one node).
    Sqlite,
    /// A scratch database on the PostgreSQL server of `UCWA_TEST_POSTGRES_URL`
    /// (`eval "$(.ci/postgres-up)"` starts one).
    Postgres,
}

impl StoreKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }
}

/// The database of a run, removed when dropped (after the servers on it are stopped).
pub(crate) struct Database {
    pub url: String,
    _dir: Option<TempDir>,
    _scratch: Option<ScratchDatabase>,
}

impl Database {
    pub(crate) async fn create(kind: StoreKind) -> anyhow::Result<Self> {
        match kind {
            StoreKind::Sqlite => {
                let dir = tempfile::tempdir().context("creating a temporary directory for the database")?;
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                Ok(Self { url, _dir: Some(dir), _scratch: None })
            }
            StoreKind::Postgres => {
                let db = ScratchDatabase::create("ucwa-bench").await.map_err(anyhow::Error::msg)?.context(
                    "the postgres store needs UCWA_TEST_POSTGRES_URL (and UCWA_TEST_POSTGRES_DIR for its CPU)",
                )?;
                Ok(Self { url: db.url().to_owned(), _dir: None, _scratch: Some(db) })
            }
        }
    }
}

/// How results name `nodes` servers on `store`, e.g. `postgres, 2 nodes`.
pub(crate) fn setup_label(store: StoreKind, nodes: usize) -> String {
    format!("{}, {nodes} node{}", store.name(), if nodes == 1 { "" } else { "s" })
}

/// `ucwa-server` nodes on one database, as behind a load balancer.
pub(crate) struct Cluster {
    pub nodes: Vec<Server>,
    pub store: StoreKind,
    /// Declared last: dropped after the nodes.
    _database: Database,
}

impl Cluster {
    /// Starts `nodes` servers on a fresh database of `store` holding the options' users.
    pub(crate) async fn start(options: &UcwaOptions<'_>, store: StoreKind, nodes: usize) -> anyhow::Result<Self> {
        if store == StoreKind::Sqlite && nodes != 1 {
            bail!("a SQLite database has exactly one node");
        }
        let database = Database::create(store).await?;
        add_users(options, &database.url).await?;
        let mut started = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            started.push(Server::spawn_ucwa(options, &database.url).await?);
        }
        Ok(Self { nodes: started, store, _database: database })
    }

    /// Where node `i` listens, round-robin: spreads clients over the nodes.
    pub(crate) fn addr(&self, i: usize) -> SocketAddr {
        self.nodes[i % self.nodes.len()].addr
    }

    /// CPU time of every node together, seconds.
    pub(crate) fn cpu_seconds(&self) -> anyhow::Result<f64> {
        self.nodes.iter().map(Server::cpu_seconds).sum()
    }

    /// Waits until every node is idle; see [`settle`].
    pub(crate) async fn settle(&self, quiet: Duration, limit: Duration) -> anyhow::Result<bool> {
        for node in &self.nodes {
            if !node.settle(quiet, limit).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// What a row of results calls this set-up, e.g. `postgres, 2 nodes`.
    pub(crate) fn label(&self) -> String {
        setup_label(self.store, self.nodes.len())
    }

    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        for node in self.nodes {
            node.stop().await?;
        }
        Ok(())
    }
}

/// CPU time (user + system) of the PostgreSQL server of `UCWA_TEST_POSTGRES_DIR`, seconds:
/// its postmaster and every process it started, including those that have exited since
/// (the kernel adds a reaped child's time to its parent's `cutime`/`cstime`). `None` without
/// the variable.
pub(crate) fn postgres_cpu_seconds() -> anyhow::Result<Option<f64>> {
    let Ok(dir) = std::env::var("UCWA_TEST_POSTGRES_DIR") else { return Ok(None) };
    let pid_file = Path::new(&dir).join("data/postmaster.pid");
    let text = std::fs::read_to_string(&pid_file).with_context(|| format!("reading {}", pid_file.display()))?;
    let postmaster = text.lines().next().unwrap_or_default().trim().to_owned();
    let mut total = cpu_times(&postmaster)?.with_children;
    for entry in std::fs::read_dir("/proc").context("listing /proc")?.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // A process may exit between listing and reading: skip it (its time is in cutime).
        if let Ok(times) = cpu_times(&pid)
            && times.parent == postmaster
        {
            total += times.own;
        }
    }
    Ok(Some(total))
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

/// Adds [`BENCH_USER`] and the attendee users the options ask for.
async fn add_users(options: &UcwaOptions<'_>, db_url: &str) -> anyhow::Result<()> {
    add_user(options.binary, db_url, BENCH_USER, "Bench User").await?;
    for i in 0..options.attendee_users {
        add_user(options.binary, db_url, &attendee_user(i), &format!("Attendee {i}")).await?;
    }
    Ok(())
}

impl Server {
    /// Starts `ucwa-server serve` on a fresh temporary SQLite database holding [`BENCH_USER`]
    /// (and the attendee users the options ask for).
    pub(crate) async fn start_ucwa(options: &UcwaOptions<'_>) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating a temporary directory for the database")?;
        let db_url = format!("sqlite://{}", dir.path().join("bench.db").display());
        add_users(options, &db_url).await?;
        let mut server = Self::spawn_ucwa(options, &db_url).await?;
        server._dir = Some(dir);
        Ok(server)
    }

    /// Starts `ucwa-server serve` on the database at `db_url`.
    pub(crate) async fn spawn_ucwa(options: &UcwaOptions<'_>, db_url: &str) -> anyhow::Result<Self> {
        let mut cmd = Command::new(options.binary);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--database-url", db_url, "--server-fqdn", "bench.local"])
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
        Self::spawn(cmd, "ucwa-server").await
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
    Ok(cpu_times(pid)?.own)
}

/// What `/proc/<pid>/stat` says about a process's CPU time, seconds.
struct CpuTimes {
    /// Its own user + system time.
    own: f64,
    /// Plus that of its exited, reaped children.
    with_children: f64,
    /// Its parent's pid.
    parent: String,
}

fn cpu_times(pid: &str) -> anyhow::Result<CpuTimes> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces; fields after it are plain numbers:
    // ppid is field 4, utime, stime, cutime and cstime fields 14 to 17, i.e. the 2nd and the
    // 12th to 15th after the name.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).context("malformed /proc stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).context("malformed /proc stat");
    let own = (ticks(11)? + ticks(12)?) as f64 / TICKS_PER_SECOND;
    let children = (ticks(13)? + ticks(14)?) as f64 / TICKS_PER_SECOND;
    let parent = fields.get(1).context("malformed /proc stat")?.to_string();
    Ok(CpuTimes { own, with_children: own + children, parent })
}

/// The 1-minute load average (`/proc/loadavg`), as printed.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
