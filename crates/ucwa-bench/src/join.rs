//! Scenario (d): the meeting join flow through a lobby, over HTTP against the child-process
//! server.
//!
//! The organizer ([`BENCH_USER`]) creates a `Locked` meeting (`POST myOnlineMeetings`) and
//! joins it; attendees are other users ([`process::attendee_user`]), so a Locked meeting
//! sends them to the lobby. Each attendee application POSTs the join and walks its own event
//! channel until its `completed` (`onlineMeetingInvitation`, status `Success`) arrives. The
//! organizer's event channel delivers the lobby `added` events whose embedded participant
//! carries the `admit` link the organizer POSTs.
//!
//! - Latency: W attendees wait in the lobby at once, each with a parked `GET events`; then the
//!   organizer admits them one at a time. Per sample, t0 = just before the admit POST is sent,
//!   t1 = when the batch holding that attendee's `completed` has been read completely. A
//!   fresh meeting per round of W; rounds repeat until enough samples exist (W = 1: one
//!   round per sample). Admitted attendees stay in the meeting (so the roster grows from 1
//!   to W + 1 during a round) unless `--leave`, and stop reading their channel.
//! - Throughput: C attendee workers each loop join -> wait for `completed` -> leave (`DELETE`
//!   the conversation, so rosters stay small); the organizer's event loop reads lobby adds and
//!   hands the admit links to a few admitting connections. Workers are spread over M
//!   meetings. Cycles that start and end inside the measured window count.
//!
//! Floors, in the same run: the floor server's bare `GET` round trip (latency) and its bare
//! request rate under C connections (throughput). A join cycle is several requests and
//! two event deliveries, so the floor is a reference, not a like-for-like.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};

use crate::client::{self, AppLinks, Conn, EventChannel};
use crate::floor;
use crate::process::{self, BENCH_PASSWORD, BENCH_USER, Cluster, Server, StoreKind, UcwaOptions};
use crate::stats::{Latency, ms, verdict};
use crate::throughput::{self, Target};
use crate::wakeup;

/// Full join cycles per second the server must reach.
const TARGET_RATE: f64 = 1000.0;
/// p99 of admit -> `completed` with this many waiting must stay under [`TARGET_P99`].
const TARGET_WAITING: usize = 1000;
const TARGET_P99: Duration = Duration::from_millis(5);

/// Event requests ask to be held this long; far longer than any run.
const PARK_TIMEOUT_S: u32 = 600;
/// No single step (a join reaching the lobby, an admitted attendee's `completed`) may take
/// longer than this.
const STEP: Duration = Duration::from_secs(30);
/// Most event batches one wait reads before giving up.
const MAX_BATCHES: usize = 100_000;
/// Attendees joining (connect, POST, first batches) at once while a lobby fills.
const JOIN_CONCURRENCY: usize = 32;
/// Latency samples of the warm-up round (W = this), thrown away.
const WARMUP_WAITING: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Part {
    Both,
    Latency,
    Throughput,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// People waiting in the lobby at once, one latency series each.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 100, 1000])]
    pub waiting: Vec<usize>,
    /// Latency samples wanted per series (rounds of W until at least this many).
    #[arg(long, default_value_t = 300)]
    pub samples: usize,
    /// Pause after each admitted attendee's `completed` before the next admit, milliseconds.
    #[arg(long, default_value_t = 5)]
    pub gap_ms: u64,
    /// Admitted attendees leave at once (before the next admit), so the roster stays at the
    /// organizer alone.
    #[arg(long)]
    pub leave: bool,
    /// Concurrent attendee workers of the throughput part (one application each).
    #[arg(long, default_value_t = 32)]
    pub workers: usize,
    /// Meetings the throughput workers are spread over (worker i joins meeting i mod M).
    #[arg(long, default_value_t = 32)]
    pub meetings: usize,
    /// Organizer connections POSTing admits concurrently in the throughput part.
    #[arg(long, default_value_t = 8)]
    pub admitters: usize,
    /// Throughput warm-up before measuring, seconds.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Throughput measured duration, seconds.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Attendee users; applications are spread over them.
    #[arg(long, default_value_t = 16)]
    pub users: usize,
    /// Which part to run.
    #[arg(long, value_enum, default_value_t = Part::Both)]
    pub part: Part,
    /// Set-ups to run, as STORE:NODES (`sqlite:1`, `postgres:1`, `postgres:2`, ...): the
    /// throughput part runs each in turn, one row each, compared with the first; the latency
    /// part runs on the first. PostgreSQL needs `UCWA_TEST_POSTGRES_URL` (and
    /// `UCWA_TEST_POSTGRES_DIR` for its CPU time): `eval "$(.ci/postgres-up)"`.
    #[arg(long, value_delimiter = ',', default_values_t = [Setup::SQLITE])]
    pub setups: Vec<Setup>,
}

/// Where the servers of a run keep their data, and how many of them there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Setup {
    pub store: StoreKind,
    pub nodes: usize,
}

impl Setup {
    pub(crate) const SQLITE: Setup = Setup { store: StoreKind::Sqlite, nodes: 1 };
}

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.store.name(), self.nodes)
    }
}

impl std::str::FromStr for Setup {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (store, nodes) = s.split_once(':').unwrap_or((s, "1"));
        let store = match store {
            "sqlite" => StoreKind::Sqlite,
            "postgres" => StoreKind::Postgres,
            other => return Err(format!("unknown store {other:?}: sqlite or postgres")),
        };
        let nodes: usize = nodes.parse().map_err(|_| format!("{nodes:?} is not a number of nodes"))?;
        if nodes == 0 || (store == StoreKind::Sqlite && nodes != 1) {
            return Err("SQLite runs exactly one node; PostgreSQL one or more".into());
        }
        Ok(Setup { store, nodes })
    }
}

impl Default for Args {
    fn default() -> Self {
        Self {
            waiting: vec![1, 100, 1000],
            samples: 300,
            gap_ms: 5,
            leave: false,
            workers: 32,
            meetings: 32,
            admitters: 8,
            warmup: 2,
            duration: 10,
            users: 16,
            part: Part::Both,
            setups: vec![Setup::SQLITE],
        }
    }
}

pub(crate) async fn run(args: &Args) -> anyhow::Result<()> {
    if args.users == 0 || args.samples == 0 || args.waiting.contains(&0) {
        bail!("--users, --samples and every --waiting must be positive");
    }
    if args.workers == 0 || args.meetings == 0 || args.admitters == 0 || args.duration == 0 {
        bail!("--workers, --meetings, --admitters and --duration must be positive");
    }
    if args.setups.is_empty() {
        bail!("--setups names none");
    }
    let biggest = args.waiting.iter().copied().max().unwrap_or(1);
    if let Some(limit) = ucwa_server::connections::open_file_limit()
        && limit < biggest as u64 + 200
    {
        bail!("the open-files limit is {limit}; {biggest} waiting needs at least {}", biggest + 200);
    }
    let binary = process::sibling_binary("ucwa-server")?;
    if args.part != Part::Throughput {
        latency(args, &binary).await?;
    }
    if args.part == Part::Both {
        println!();
    }
    if args.part != Part::Latency {
        cycles(args, &binary).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The people

/// An attendee application: its user's token, its links and where its channel is at.
struct Attendee {
    token: Arc<str>,
    app: AppLinks,
    channel: EventChannel,
}

impl Attendee {
    /// POSTs the join; returns the session id (the last segment of the invitation's Location).
    async fn join(&self, conn: &mut Conn, meeting_uri: &str) -> anyhow::Result<String> {
        let path = format!("{}/communication/onlineMeetingInvitations", self.app.path);
        let body = json!({ "onlineMeetingUri": meeting_uri });
        let (status, location, body) = conn.call(Method::POST, &path, &self.token, Some(&body)).await?;
        if status != StatusCode::CREATED {
            bail!("joining answered {status}: {}", String::from_utf8_lossy(&body));
        }
        let location = location.context("a join without a Location")?;
        Ok(location.rsplit('/').next().unwrap_or_default().to_owned())
    }

    /// Reads batches until this session is in the lobby.
    async fn until_in_lobby(&mut self, conn: &mut Conn, session: &str) -> anyhow::Result<()> {
        for _ in 0..MAX_BATCHES {
            let (events, _) = self.channel.poll(conn, &self.token, PARK_TIMEOUT_S).await?;
            for e in &events {
                if is_completed(e, session) {
                    bail!("the join completed without a lobby wait (is the meeting Locked?): {e}");
                }
                if e["_embedded"]["conversation"]["state"] == "InLobby"
                    && ends_with_segment(&e["link"]["href"], session)
                {
                    return Ok(());
                }
            }
        }
        bail!("session {session} never reached the lobby")
    }

    /// Reads batches until this session's invitation completes; returns the `completed`
    /// event and when the batch holding it had been read.
    async fn until_completed(&mut self, conn: &mut Conn, session: &str) -> anyhow::Result<(Value, Instant)> {
        for _ in 0..MAX_BATCHES {
            let (events, at) = self.channel.poll(conn, &self.token, PARK_TIMEOUT_S).await?;
            if let Some(e) = events.into_iter().find(|e| is_completed(e, session)) {
                if e["status"] != "Success" {
                    bail!("session {session} completed without success: {e}");
                }
                return Ok((e, at));
            }
        }
        bail!("session {session} never completed")
    }

    /// Leaves: `DELETE` the conversation the `completed` event links to.
    async fn leave(&self, conn: &mut Conn, completed: &Value) -> anyhow::Result<()> {
        let conversation = completed["_embedded"]["onlineMeetingInvitation"]["_links"]["conversation"]["href"]
            .as_str()
            .context("a completed invitation without a conversation link")?;
        let (status, _, body) = conn.call(Method::DELETE, conversation, &self.token, None).await?;
        if status != StatusCode::NO_CONTENT {
            bail!("leaving answered {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(())
    }
}

fn is_completed(e: &Value, session: &str) -> bool {
    e["type"] == "completed"
        && e["link"]["rel"] == "onlineMeetingInvitation"
        && ends_with_segment(&e["link"]["href"], session)
}

/// Whether the href's last path segment is `segment`.
fn ends_with_segment(href: &Value, segment: &str) -> bool {
    href.as_str().and_then(|h| h.rsplit('/').next()) == Some(segment)
}

/// A participant entered the organizer's lobby.
struct LobbyAdd {
    /// The participant key its href ends with.
    participant: String,
    admit: String,
}

/// The organizer's application, a connection for its POSTs, and what its event loop (a
/// background task) reports.
struct Organizer {
    token: Arc<str>,
    app: AppLinks,
    conn: Conn,
    /// Invitation hrefs of the organizer's own completed joins.
    joined: mpsc::UnboundedReceiver<String>,
    lobby: Option<mpsc::UnboundedReceiver<LobbyAdd>>,
    events: JoinHandle<anyhow::Result<()>>,
}

impl Drop for Organizer {
    fn drop(&mut self) {
        self.events.abort();
    }
}

impl Organizer {
    /// Creates a Locked meeting and joins it; returns its `onlineMeetingUri` once the
    /// organizer's join has completed.
    async fn open_meeting(&mut self) -> anyhow::Result<String> {
        let path = format!("{}/onlineMeetings/myOnlineMeetings", self.app.path);
        let body = json!({ "subject": "ucwa-bench", "accessLevel": "Locked" });
        let (status, _, body) = self.conn.call(Method::POST, &path, &self.token, Some(&body)).await?;
        if status != StatusCode::CREATED {
            bail!("creating a meeting answered {status}: {}", String::from_utf8_lossy(&body));
        }
        let meeting: Value = serde_json::from_slice(&body).context("the meeting is not JSON")?;
        let uri = meeting["onlineMeetingUri"].as_str().context("a meeting without onlineMeetingUri")?.to_owned();
        let path = format!("{}/communication/onlineMeetingInvitations", self.app.path);
        let body = json!({ "onlineMeetingUri": uri });
        let (status, location, body) = self.conn.call(Method::POST, &path, &self.token, Some(&body)).await?;
        if status != StatusCode::CREATED {
            bail!("the organizer's join answered {status}: {}", String::from_utf8_lossy(&body));
        }
        let location = location.context("a join without a Location")?;
        loop {
            let href = tokio::time::timeout(STEP, self.joined.recv())
                .await
                .context("the organizer's join did not complete in time")?
                .context("the organizer's event loop ended")?;
            if location.ends_with(&href) {
                return Ok(uri);
            }
        }
    }

    /// POSTs an admit link; returns when the 204 has been read.
    async fn admit(&mut self, href: &str) -> anyhow::Result<()> {
        admit(&mut self.conn, &self.token, href).await
    }
}

async fn admit(conn: &mut Conn, token: &str, href: &str) -> anyhow::Result<()> {
    let (status, _, body) = conn.call(Method::POST, href, token, None).await?;
    if status != StatusCode::NO_CONTENT {
        bail!("admitting answered {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

/// The organizer's event loop: reports its completed joins and every lobby add.
async fn organizer_events(
    addr: SocketAddr,
    token: Arc<str>,
    first: String,
    joined: mpsc::UnboundedSender<String>,
    lobby: mpsc::UnboundedSender<LobbyAdd>,
) -> anyhow::Result<()> {
    let mut conn = Conn::connect(addr).await?;
    let mut channel = EventChannel::new(&first);
    for _ in 0..10 * MAX_BATCHES {
        let (events, _) = channel.poll(&mut conn, &token, PARK_TIMEOUT_S).await?;
        for e in events {
            if e["type"] == "completed" && e["link"]["rel"] == "onlineMeetingInvitation" {
                if e["status"] != "Success" {
                    bail!("the organizer's join failed: {e}");
                }
                let _ = joined.send(e["link"]["href"].as_str().unwrap_or_default().to_owned());
            } else if e["type"] == "added" && e["in"]["rel"] == "lobby" {
                let admit = e["_embedded"]["participant"]["_links"]["admit"]["href"]
                    .as_str()
                    .with_context(|| format!("a lobby add without an admit link: {e}"))?
                    .to_owned();
                let participant = e["link"]["href"].as_str().and_then(|h| h.rsplit('/').next()).unwrap_or_default();
                let _ = lobby.send(LobbyAdd { participant: participant.to_owned(), admit });
            }
        }
    }
    Ok(())
}

/// Signs in the organizer and `users` attendee users, creates one organizer application
/// and `attendees` attendee applications (spread round-robin over the users), and starts
/// the organizer's event loop. The organizer works on the first node; attendee user `u`
/// signs in on node `u`, round-robin.
async fn people(cluster: &Cluster, users: usize, attendees: usize) -> anyhow::Result<(Organizer, Vec<Attendee>)> {
    let addr = cluster.addr(0);
    let token: Arc<str> = client::sign_in(addr, BENCH_USER, BENCH_PASSWORD).await?.into();
    let app = client::create_apps(addr, &token, 1, 1).await?.remove(0);
    let (joined_tx, joined) = mpsc::unbounded_channel();
    let (lobby_tx, lobby) = mpsc::unbounded_channel();
    let events = tokio::spawn(organizer_events(addr, token.clone(), app.events.clone(), joined_tx, lobby_tx));
    let conn = Conn::connect(addr).await?;
    let organizer = Organizer { token, app, conn, joined, lobby: Some(lobby), events };

    let users = users.min(attendees.max(1));
    let mut per_user = Vec::with_capacity(users);
    for u in 0..users {
        let addr = cluster.addr(u);
        let token: Arc<str> = client::sign_in(addr, &process::attendee_user(u), BENCH_PASSWORD).await?.into();
        let count = (attendees + users - 1 - u) / users;
        let apps = client::create_apps(addr, &token, count, 8).await?;
        per_user.push((token, apps.into_iter()));
    }
    let mut list = Vec::with_capacity(attendees);
    for k in 0..attendees {
        let (token, apps) = &mut per_user[k % users];
        let app = apps.next().context("an attendee application is missing")?;
        list.push(Attendee { token: token.clone(), channel: EventChannel::new(&app.events), app });
    }
    Ok((organizer, list))
}

fn ucwa_options(binary: &Path, users: usize) -> UcwaOptions<'_> {
    UcwaOptions { attendee_users: users, ..UcwaOptions::new(binary) }
}

// ---------------------------------------------------------------------------------------
// Latency

/// One admitted attendee.
struct Sample {
    /// Admit POST sent -> the attendee's `completed` read.
    total: Duration,
    /// Admit POST sent -> its 204 read.
    admit: Duration,
    /// People in the meeting's roster when the admit was sent.
    roster: usize,
}

/// A series: every sample for one W.
struct Series {
    waiting: usize,
    rounds: usize,
    samples: Vec<Sample>,
}

async fn latency(args: &Args, binary: &Path) -> anyhow::Result<()> {
    let floor_rtt = wakeup::floor_round_trip(100, 1000).await?;
    let setup = args.setups[0];
    let server = Cluster::start(&ucwa_options(binary, args.users), setup.store, setup.nodes).await?;
    let biggest = args.waiting.iter().copied().max().unwrap_or(1).max(WARMUP_WAITING);
    let (mut organizer, mut attendees) = people(&server, args.users, biggest).await?;
    let gap = Duration::from_millis(args.gap_ms);

    let mut series = Vec::new();
    round(&server, &mut organizer, &mut attendees, WARMUP_WAITING, gap, args.leave).await.context("warm-up round")?;
    for &waiting in &args.waiting {
        let rounds = args.samples.div_ceil(waiting);
        let mut samples = Vec::with_capacity(rounds * waiting);
        for r in 0..rounds {
            let got = round(&server, &mut organizer, &mut attendees, waiting, gap, args.leave)
                .await
                .with_context(|| format!("round {r} with {waiting} waiting"))?;
            samples.extend(got);
        }
        series.push(Series { waiting, rounds, samples });
    }
    drop(organizer);
    server.stop().await?;

    println!(
        "(d) join: admit -> completed latency on {}; W attendees wait in a Locked meeting's lobby (each with a parked GET events), admitted one at a time, {} ms apart; fresh meeting per round; admitted attendees {}",
        process::setup_label(setup.store, setup.nodes),
        args.gap_ms,
        if args.leave { "leave at once (roster stays 1)" } else { "stay (roster grows 1 -> W+1)" }
    );
    println!(
        "{:<30} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>11}",
        "measure",
        "rounds",
        "samples",
        "p50 ms",
        "p99 ms",
        "max ms",
        "admit p50",
        "admit p99",
        "1st10% p50",
        "last10% p50"
    );
    println!(
        "{:<30} {:>7} {:>7} {:>9} {:>9} {:>9}",
        "floor: bare GET round trip",
        "-",
        floor_rtt.count,
        ms(floor_rtt.p50),
        ms(floor_rtt.p99),
        ms(floor_rtt.max)
    );
    let mut target = None;
    for s in &series {
        let mut total: Vec<Duration> = s.samples.iter().map(|x| x.total).collect();
        let mut admit: Vec<Duration> = s.samples.iter().map(|x| x.admit).collect();
        // Early and late admits of a round differ by the roster the admitted one joins.
        let tenth = (s.waiting / 10).max(1);
        let position = |i: usize| i % s.waiting;
        let mut early: Vec<Duration> =
            s.samples.iter().enumerate().filter(|(i, _)| position(*i) < tenth).map(|(_, x)| x.total).collect();
        let mut late: Vec<Duration> = s
            .samples
            .iter()
            .enumerate()
            .filter(|(i, _)| position(*i) >= s.waiting - tenth)
            .map(|(_, x)| x.total)
            .collect();
        let total = Latency::of(&mut total).context("no samples")?;
        let admit = Latency::of(&mut admit).context("no samples")?;
        let early = Latency::of(&mut early).context("no samples")?;
        let late = Latency::of(&mut late).context("no samples")?;
        let roster_max = s.samples.iter().map(|x| x.roster).max().unwrap_or(1);
        println!(
            "{:<30} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>11}",
            format!("ucwa: W={} (roster 1..{})", s.waiting, roster_max),
            s.rounds,
            total.count,
            ms(total.p50),
            ms(total.p99),
            ms(total.max),
            ms(admit.p50),
            ms(admit.p99),
            ms(early.p50),
            ms(late.p50)
        );
        if s.waiting == TARGET_WAITING {
            target = Some(total.p99);
        }
    }
    match target {
        Some(p99) => println!(
            "admit -> completed p99 with {TARGET_WAITING} waiting {} ms (target < {} ms): {}",
            ms(p99),
            ms(TARGET_P99),
            verdict(p99 < TARGET_P99)
        ),
        None => println!("(no series with {TARGET_WAITING} waiting: no verdict)"),
    }
    Ok(())
}

/// A fresh meeting; the first `waiting` attendees join it and wait in its lobby (each with
/// a parked `GET events`); once the server is idle the organizer admits them one by one.
async fn round(
    server: &Cluster,
    organizer: &mut Organizer,
    attendees: &mut Vec<Attendee>,
    waiting: usize,
    gap: Duration,
    leave: bool,
) -> anyhow::Result<Vec<Sample>> {
    let uri = organizer.open_meeting().await?;
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let joining = Arc::new(Semaphore::new(JOIN_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for (i, attendee) in attendees.drain(..waiting).enumerate() {
        let (uri, joining, ready_tx, done_tx) = (uri.clone(), joining.clone(), ready_tx.clone(), done_tx.clone());
        tasks.spawn(wait_in_lobby(i, server.addr(i + 1), attendee, uri, joining, ready_tx, done_tx, leave));
    }
    drop((ready_tx, done_tx));

    // Everyone in the lobby, and the organizer has seen each of them arrive. Participant
    // hrefs name an address (with `~2`, `~3`... for one user's several applications), not
    // the attendee's session, so admits go in the order the organizer saw the arrivals and
    // the sample is whoever completes next: one attendee is admitted at a time.
    let mut ready = 0;
    let mut admits: HashMap<String, String> = HashMap::new();
    let mut arrivals: Vec<String> = Vec::with_capacity(waiting);
    let lobby = organizer.lobby.as_mut().context("the organizer's lobby reports are taken")?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120) + STEP;
    while ready < waiting || arrivals.len() < waiting {
        tokio::select! {
            Some(_) = ready_rx.recv() => ready += 1,
            Some(add) = lobby.recv() => {
                if admits.insert(add.participant.clone(), add.admit).is_none() {
                    arrivals.push(add.participant);
                }
            }
            Some(ended) = tasks.join_next() => {
                ended.context("an attendee task panicked")??;
                bail!("an attendee task ended before it was admitted");
            }
            () = tokio::time::sleep_until(deadline) => bail!("the lobby did not fill within {:?}", deadline.elapsed()),
        }
    }
    // Parked: the server has taken in every request it was sent.
    let quiet = if waiting < 100 { Duration::from_millis(50) } else { Duration::from_millis(300) };
    if !server.settle(quiet, Duration::from_secs(60)).await? {
        bail!("the server did not settle with {waiting} waiting");
    }
    if done_rx.try_recv().is_ok() {
        bail!("an attendee completed before being admitted");
    }

    let mut samples = Vec::with_capacity(waiting);
    let mut back = Vec::with_capacity(waiting);
    let mut completed = vec![false; waiting];
    for (i, participant) in arrivals.iter().enumerate() {
        let href = admits.get(participant).context("an admit link is missing")?.clone();
        let t0 = Instant::now();
        organizer.admit(&href).await?;
        let acked = Instant::now();
        let (who, t1) = match tokio::time::timeout(STEP, done_rx.recv()).await {
            Ok(Some(done)) => done,
            Ok(None) | Err(_) => {
                // Report what went wrong with an attendee whose task failed (the others
                // are parked and do not end).
                while let Ok(Some(ended)) = tokio::time::timeout(Duration::from_millis(100), tasks.join_next()).await {
                    ended.context("an attendee task panicked")??;
                }
                bail!("participant {participant} did not see its completed within {STEP:?} of the admit");
            }
        };
        if std::mem::replace(&mut completed[who], true) {
            bail!("attendee {who} completed twice");
        }
        if leave {
            // Wait for the leave, so the next sample finds an idle server.
            let ended = tokio::time::timeout(STEP, tasks.join_next()).await.context("leaving took too long")?;
            back.push(ended.context("no attendee task")?.context("an attendee task panicked")??);
        }
        samples.push(Sample { total: t1 - t0, admit: acked - t0, roster: if leave { 1 } else { 1 + i } });
        tokio::time::sleep(gap).await;
    }
    while let Some(ended) = tokio::time::timeout(STEP, tasks.join_next()).await.context("an attendee task hung")? {
        back.push(ended.context("an attendee task panicked")??);
    }
    // This round's attendees go back to the front of the list, in their order.
    back.sort_by_key(|(i, _)| *i);
    let mut list: Vec<Attendee> = back.into_iter().map(|(_, a)| a).collect();
    list.append(attendees);
    *attendees = list;
    Ok(samples)
}

/// One attendee of a round: join, wait in the lobby (reporting `ready` once there), wait
/// for `completed` (reporting when it was read), leave if asked.
#[allow(clippy::too_many_arguments)]
async fn wait_in_lobby(
    i: usize,
    addr: SocketAddr,
    mut attendee: Attendee,
    meeting_uri: String,
    joining: Arc<Semaphore>,
    ready: mpsc::UnboundedSender<usize>,
    done: mpsc::UnboundedSender<(usize, Instant)>,
    leave: bool,
) -> anyhow::Result<(usize, Attendee)> {
    let permit = joining.acquire_owned().await.context("the join semaphore closed")?;
    let mut conn = Conn::connect(addr).await?;
    let session = attendee.join(&mut conn, &meeting_uri).await?;
    attendee.until_in_lobby(&mut conn, &session).await?;
    drop(permit);
    let _ = ready.send(i);
    // The next poll parks until the admit.
    let (completed, at) = attendee.until_completed(&mut conn, &session).await?;
    let _ = done.send((i, at));
    if leave {
        attendee.leave(&mut conn, &completed).await?;
    }
    Ok((i, attendee))
}

// ---------------------------------------------------------------------------------------
// Throughput

/// What one cycle worker did inside the measured window.
struct WorkerResult {
    cycles: usize,
    /// Join POST sent -> `completed` read, per counted cycle.
    latency: Vec<Duration>,
}

async fn cycles(args: &Args, binary: &Path) -> anyhow::Result<()> {
    let warmup = Duration::from_secs(args.warmup);
    let duration = Duration::from_secs(args.duration);
    let meetings = args.meetings.min(args.workers);
    let mut rows = Vec::with_capacity(args.setups.len());
    for setup in &args.setups {
        let row = cycles_on(args, binary, *setup).await.with_context(|| format!("join cycles on {setup}"))?;
        rows.push(row);
    }

    let floor = Server::start_floor(floor::DEFAULT_BODY_BYTES).await?;
    let targets = vec![Target { path: "/app".into(), token: None }; args.workers];
    let bare = throughput::load(&floor, targets, warmup, duration).await.context("loading the floor server")?;
    floor.stop().await?;

    let per_meeting = args.workers.div_ceil(meetings);
    println!(
        "(d) join cycles: {} attendee workers over {meetings} Locked meetings (roster <= {} each), {} admitting connections, {} s warm-up + {} s measured",
        args.workers,
        per_meeting + 1,
        args.admitters,
        args.warmup,
        args.duration
    );
    println!(
        "    cycle = POST join -> lobby -> organizer's event loop sees the lobby add -> POST admit -> attendee reads completed -> DELETE conversation"
    );
    println!(
        "    with N nodes, client connections go to the nodes round-robin: the organizer's on node 1, attendee i's on node i+1"
    );
    println!(
        "{:<26} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>9} {:>9}",
        "target", "per s", "vs 1st", "p50 ms", "p99 ms", "max ms", "server", "postgres", "bench", "srv ms/c", "pg ms/c"
    );
    println!(
        "{:<26} {:>8.0} {:>7} {:>8} {:>8} {:>8} {:>7.2}c {:>9} {:>7.2}c {:>9} {:>9}",
        "floor: bare GET req",
        bare.rate(),
        "-",
        ms(bare.latency.p50),
        ms(bare.latency.p99),
        ms(bare.latency.max),
        bare.server_cores,
        "-",
        bare.bench_cores,
        "-",
        "-"
    );
    let first = rows.first().map_or(0.0, |r| r.rate);
    for row in &rows {
        let per_cycle =
            |cores: f64| if row.rate > 0.0 { format!("{:.3}", cores * 1000.0 / row.rate) } else { "-".into() };
        println!(
            "{:<26} {:>8.0} {:>6.2}x {:>8} {:>8} {:>8} {:>7.2}c {:>9} {:>7.2}c {:>9} {:>9}",
            format!("ucwa: {}", row.label),
            row.rate,
            if first > 0.0 { row.rate / first } else { 0.0 },
            ms(row.latency.p50),
            ms(row.latency.p99),
            ms(row.latency.max),
            row.server_cores,
            row.postgres_cores.map_or("-".into(), |c| format!("{c:.2}c")),
            row.bench_cores,
            per_cycle(row.server_cores),
            row.postgres_cores.map_or("-".into(), per_cycle),
        );
    }
    println!(
        "    (cycle latency = POST join sent -> completed read; CPU in cores over the measured window, and ms per cycle)"
    );
    for row in &rows {
        println!(
            "join cycles on {}: {:.0}/s (target >= {TARGET_RATE:.0}/s): {}",
            row.label,
            row.rate,
            verdict(row.rate >= TARGET_RATE)
        );
    }
    Ok(())
}

/// What the join cycles did on one set-up.
struct CycleRow {
    label: String,
    rate: f64,
    latency: Latency,
    /// CPU of every node together, cores.
    server_cores: f64,
    /// CPU of the PostgreSQL server, cores (PostgreSQL set-ups with `UCWA_TEST_POSTGRES_DIR`).
    postgres_cores: Option<f64>,
    bench_cores: f64,
}

async fn cycles_on(args: &Args, binary: &Path, setup: Setup) -> anyhow::Result<CycleRow> {
    let warmup = Duration::from_secs(args.warmup);
    let duration = Duration::from_secs(args.duration);
    let meetings = args.meetings.min(args.workers);

    let server = Cluster::start(&ucwa_options(binary, args.users), setup.store, setup.nodes).await?;
    let (mut organizer, attendees) = people(&server, args.users, args.workers).await?;
    let mut uris = Vec::with_capacity(meetings);
    for _ in 0..meetings {
        uris.push(organizer.open_meeting().await?);
    }
    // Admitters: a few organizer connections POSTing the admit links the event loop finds.
    let lobby = Arc::new(Mutex::new(organizer.lobby.take().context("the organizer's lobby reports are taken")?));
    let admitted = Arc::new(AtomicUsize::new(0));
    let mut admitters = JoinSet::new();
    for a in 0..args.admitters {
        let (lobby, admitted, token) = (lobby.clone(), admitted.clone(), organizer.token.clone());
        let mut conn = Conn::connect(server.addr(a)).await?;
        admitters.spawn(async move {
            loop {
                let next = lobby.lock().await.recv().await;
                let Some(add) = next else { return anyhow::Ok(()) };
                admit(&mut conn, &token, &add.admit).await?;
                admitted.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    let mut conns = Vec::with_capacity(attendees.len());
    for w in 0..attendees.len() {
        conns.push(Conn::connect(server.addr(w + 1)).await?);
    }
    let start = Instant::now();
    let (from, to) = (start + warmup, start + warmup + duration);
    let mut workers = JoinSet::new();
    for (w, (attendee, conn)) in attendees.into_iter().zip(conns).enumerate() {
        workers.spawn(cycle_worker(attendee, conn, uris[w % meetings].clone(), from, to));
    }
    tokio::time::sleep_until(from.into()).await;
    let cpu = || -> anyhow::Result<(f64, Option<f64>, f64)> {
        let postgres = if setup.store == StoreKind::Postgres { process::postgres_cpu_seconds()? } else { None };
        Ok((server.cpu_seconds()?, postgres, process::cpu_seconds("self")?))
    };
    let (server0, postgres0, bench0) = cpu()?;
    tokio::time::sleep_until(to.into()).await;
    let (server1, postgres1, bench1) = cpu()?;
    let mut total = 0;
    let mut samples = Vec::new();
    let waited = tokio::time::timeout(STEP * 2, async {
        while let Some(done) = workers.join_next().await {
            let result = done.context("a cycle worker panicked")??;
            total += result.cycles;
            samples.extend(result.latency);
        }
        anyhow::Ok(())
    })
    .await
    .context("the cycle workers did not finish")
    .and_then(|inner| inner);
    if let Err(e) = waited {
        // A failed admitter leaves workers waiting: report its error first.
        while let Ok(Some(ended)) = tokio::time::timeout(Duration::from_millis(100), admitters.join_next()).await {
            ended.context("an admitter panicked")?.context("an admitter failed")?;
        }
        return Err(e);
    }
    admitters.abort_all();
    drop(organizer);
    let label = server.label();
    server.stop().await?;

    let window = duration.as_secs_f64();
    Ok(CycleRow {
        label,
        rate: total as f64 / window,
        latency: Latency::of(&mut samples).context("no join cycle completed inside the measured window")?,
        server_cores: (server1 - server0) / window,
        postgres_cores: postgres0.zip(postgres1).map(|(a, b)| (b - a) / window),
        bench_cores: (bench1 - bench0) / window,
    })
}

/// Join -> wait for `completed` -> leave, back to back until `to`; counts the cycles that
/// start at or after `from` and end by `to`.
async fn cycle_worker(
    mut attendee: Attendee,
    mut conn: Conn,
    meeting_uri: String,
    from: Instant,
    to: Instant,
) -> anyhow::Result<WorkerResult> {
    let mut result = WorkerResult { cycles: 0, latency: Vec::with_capacity(4096) };
    // Bounded: far more cycles than a worker can do in any sensible run.
    for _ in 0..10_000_000 {
        let started = Instant::now();
        if started >= to {
            break;
        }
        let session = attendee.join(&mut conn, &meeting_uri).await?;
        let (completed, at) = tokio::time::timeout(STEP, attendee.until_completed(&mut conn, &session))
            .await
            .context("no completed within the step bound (did the organizer admit?)")??;
        attendee.leave(&mut conn, &completed).await?;
        let ended = Instant::now();
        if started >= from && ended <= to {
            result.cycles += 1;
            result.latency.push(at - started);
        }
    }
    Ok(result)
}
