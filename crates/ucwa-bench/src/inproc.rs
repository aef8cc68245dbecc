//! Scenarios (f) and (g): the server's own work per fan-out event and per join cycle,
//! measured in-process through the use cases (`ucwa_service::Services`), below HTTP.
//!
//! Both run the real use cases on a real SQLite file ([`TestServer`] on the machine's clock;
//! its HTTP listener stays idle): the meeting engine, projection, the store and the event
//! channel's `poll`, i.e. everything a request does after its handler parsed it. HTTP costs
//! are scenario (a)'s. Nothing else runs in the process, so its CPU time (`/proc/self/stat`)
//! is the server's, and `valgrind --tool=callgrind` counts its instructions repeatably on a
//! shared machine (`crates/ucwa-bench/callgrind.sh`).
//!
//! - `fanout`: a meeting whose roster already holds R members (their applications created
//!   in the store, the roster built by running the joins through the pure meeting and saving
//!   it once), every member with a `poll` parked on its channel as a client would. Then P
//!   probes, one after another: a new member joins (everyone is told, the joiner learns the
//!   roster), reads its channel until its `completed`, and leaves (everyone is told). A
//!   probe ends when every member has received both events. CPU per fan-out event = CPU of
//!   the probes / events delivered (to the members and to the probe).
//! - `cycles`: N join cycles one after another in a Locked meeting: an attendee joins and
//!   waits in the lobby, the organizer reads the lobby add and admits it, the attendee reads
//!   its `completed` and leaves, the organizer reads the goodbye.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::{Map, Value, json};
use tokio::task::JoinSet;
use ucwa_core::channel::ChannelRequest;
use ucwa_core::conference::conference_uri;
use ucwa_core::meeting::{AccessLevel, Command, Identity, InvitationRequest, Join, Surface};
use ucwa_core::model::{AppKind, Application, NewApplication, Principal};
use ucwa_proto::input::PropertyBag;
use ucwa_service::Services;
use ucwa_service::conversations::SessionRef;
use ucwa_testkit::{TestClock, TestOptions, TestServer};

use crate::process;

/// Parked polls ask for this timeout; far longer than any run.
const PARK_TIMEOUT_S: u64 = 600;
/// No single step may take longer than this.
const STEP: Duration = Duration::from_secs(120);
const BASE: &str = "https://bench.openucwa.local";
const ORGANIZER: &str = "sip:organizer@example.com";

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FanoutArgs {
    /// Roster sizes, one series each.
    #[arg(long, value_delimiter = ',', default_values_t = [10usize, 100, 1000, 3000])]
    pub rosters: Vec<usize>,
    /// Events a series should fan out at least (probes = this / (3 * roster), at least 2).
    #[arg(long, default_value_t = 60_000)]
    pub events: usize,
    /// Exactly this many probes per series instead (the instruction count uses it).
    #[arg(long)]
    pub probes: Option<usize>,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CycleArgs {
    /// Join cycles to run.
    #[arg(long, default_value_t = 2000)]
    pub cycles: usize,
}

fn service_error(e: ucwa_service::error::ServiceError) -> anyhow::Error {
    anyhow!("{e:?}")
}

async fn start() -> TestServer {
    TestServer::start_with(TestOptions { clock: TestClock::System, ..TestOptions::default() }).await
}

/// An application of `uri`, straight in the store (what `POST applications` stores).
async fn application(services: &Services, uri: &str, endpoint: usize) -> anyhow::Result<Application> {
    let new = NewApplication {
        id: ucwa_core::credentials::new_id(),
        owner_uri: uri.to_owned(),
        anonymous: false,
        display_name: format!("Member {endpoint}"),
        endpoint_id: format!("bench-{endpoint}"),
        user_agent: "ucwa-bench".into(),
        culture: "en-US".into(),
        instance_id: None,
        kind: AppKind::Ucwa,
    };
    let (app, _) = services
        .store
        .create_application(&new, services.channel_limits.defaults(), services.now_ms())
        .await
        .context("creating an application")?;
    Ok(app)
}

/// Creates a meeting organized by [`ORGANIZER`]; returns its id and URI.
async fn meeting(services: &Services, access: AccessLevel) -> anyhow::Result<(String, String)> {
    let mut settings = services.new_meeting_settings(ORGANIZER);
    settings.access_level = access;
    let record =
        services.create_meeting(BASE, settings, ucwa_core::meeting::Meeting::new).await.map_err(service_error)?;
    let id = record.meeting.id().to_owned();
    Ok((id.clone(), conference_uri(ORGANIZER, &id)))
}

fn join_input(uri: &str) -> PropertyBag {
    let mut body = Map::new();
    body.insert("onlineMeetingUri".into(), json!(uri));
    PropertyBag::from_json(body)
}

/// One client's view of its event channel: polls through the use case, ack by ack.
struct Channel {
    services: Services,
    app_id: String,
    ack: u64,
}

impl Channel {
    fn new(services: &Services, app: &Application) -> Self {
        Self { services: services.clone(), app_id: app.id.clone(), ack: 1 }
    }

    /// The next batch (parks until there is one); returns its events.
    async fn next(&mut self) -> anyhow::Result<Vec<Value>> {
        let app = self.services.store.application(&self.app_id).await?.context("the application is gone")?;
        let request = ChannelRequest { timeout_s: Some(PARK_TIMEOUT_S), ..ChannelRequest::default() };
        let body = self.services.poll(app, Some(self.ack), request).await.map_err(service_error)?;
        self.ack += 1;
        let batch: Value = serde_json::from_str(&body.0).context("a batch that is not JSON")?;
        Ok(batch["sender"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["events"].as_array().cloned().unwrap_or_default())
            .collect())
    }

    /// Reads batches until `session`'s invitation completes; returns the events read.
    async fn until_completed(&mut self, session: &str) -> anyhow::Result<usize> {
        let mut read = 0;
        loop {
            let events = tokio::time::timeout(STEP, self.next()).await.context("no completed in time")??;
            read += events.len();
            if events.iter().any(|e| {
                e["type"] == "completed"
                    && e["link"]["href"].as_str().is_some_and(|h| h.ends_with(&format!("/{session}")))
            }) {
                return Ok(read);
            }
        }
    }
}

/// Counts batch events cheaply (the members' side of a fan-out is not what is measured).
fn count_events(body: &str) -> u64 {
    body.matches("\"type\":\"").count() as u64
}

pub(crate) async fn fanout(args: &FanoutArgs) -> anyhow::Result<()> {
    if args.rosters.contains(&0) || args.probes == Some(0) {
        bail!("--rosters and --probes must be positive");
    }
    println!(
        "(f) fan-out: a member joins a meeting of R members (each with a poll parked on its channel), reads its channel until completed, leaves; in-process, use cases below HTTP"
    );
    println!(
        "{:<10} {:>7} {:>10} {:>10} {:>12} {:>14} {:>16} {:>9}",
        "roster", "probes", "events", "CPU s", "wall s", "CPU us/event", "join->compl ms", "load"
    );
    let mut per_event = Vec::new();
    for &roster in &args.rosters {
        let probes = args.probes.unwrap_or_else(|| (args.events / (3 * roster)).max(2));
        let load = process::load_average();
        let r = fanout_series(roster, probes).await?;
        println!(
            "{:<10} {:>7} {:>10} {:>10.2} {:>12.2} {:>14.2} {:>16.2} {:>9}",
            roster,
            probes,
            r.events,
            r.cpu_s,
            r.wall_s,
            r.cpu_s * 1e6 / r.events as f64,
            r.join_ms,
            load
        );
        per_event.push((roster, r.cpu_s * 1e6 / r.events as f64));
    }
    if let Some(&(small, base)) = per_event.first() {
        for &(roster, cost) in &per_event[1..] {
            println!("cost per event at roster {roster} = {:.2}x the cost at roster {small}", cost / base);
        }
    }
    Ok(())
}

struct FanoutResult {
    events: u64,
    cpu_s: f64,
    wall_s: f64,
    /// Median join -> the probe's `completed` read.
    join_ms: f64,
}

async fn fanout_series(roster: usize, probes: usize) -> anyhow::Result<FanoutResult> {
    let server = start().await;
    let services = server.services.clone();
    let (meeting_id, uri) = meeting(&services, AccessLevel::Everyone).await?;

    // The members: applications in the store, the roster built in the pure meeting and
    // saved once (joining them one by one through the engine would cost R^2 events first).
    let mut members = Vec::with_capacity(roster);
    for i in 0..roster {
        members.push(application(&services, &format!("sip:member{i}@example.com"), i).await?);
    }
    // Read from the store, not through the engine, which would cache this version.
    let before = services.store.meeting(&meeting_id).await?.context("the meeting is gone")?;
    let mut after = before.clone();
    let now = services.now_ms();
    for (i, app) in members.iter().enumerate() {
        let identity = Identity {
            uri: app.owner_uri.clone(),
            display_name: app.display_name.clone(),
            anonymous: false,
            trusted: false,
            surface: Surface::Ucwa,
        };
        let session_id = format!("member{i}");
        let join = Join {
            session_id: session_id.clone(),
            app_id: app.id.clone(),
            identity,
            invitation: InvitationRequest::outgoing(session_id),
            lobby_timeout_ms: 3_600_000,
        };
        after.meeting.handle(Command::Join(Box::new(join)), now).map_err(|e| anyhow!("{e:?}"))?;
    }
    if !services.store.save_meeting(&after, &before.meeting, Vec::new(), now).await? {
        bail!("the roster could not be saved");
    }
    // Every member parks a poll and keeps polling, counting what it receives.
    let delivered = Arc::new(AtomicU64::new(0));
    let mut pollers = JoinSet::new();
    for app in &members {
        let (services, delivered, id) = (services.clone(), delivered.clone(), app.id.clone());
        pollers.spawn(async move {
            let mut ack = 1;
            loop {
                let app = services.store.application(&id).await?.context("a member's application is gone")?;
                let request = ChannelRequest { timeout_s: Some(PARK_TIMEOUT_S), ..ChannelRequest::default() };
                let body = services.poll(app, Some(ack), request).await.map_err(service_error)?;
                delivered.fetch_add(count_events(&body.0), Ordering::Relaxed);
                ack += 1;
            }
            #[allow(unreachable_code)]
            anyhow::Ok(())
        });
    }
    wait_parked(&services, roster).await?;

    let probe_app = application(&services, "sip:probe@example.com", roster).await?;
    let principal = Principal::User { uri: probe_app.owner_uri.clone() };
    let mut probe = Channel::new(&services, &probe_app);
    let mut join_ms = Vec::with_capacity(probes);
    let mut probe_events = 0u64;
    let (cpu0, wall0) = (process::cpu_seconds("self")?, Instant::now());
    for p in 0..probes {
        let t0 = Instant::now();
        let session = services.join(&principal, &probe_app, BASE, &join_input(&uri)).await.map_err(service_error)?;
        probe_events += probe.until_completed(&session).await? as u64;
        join_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        services.leave(&probe_app, &SessionRef::unread(&session)).await.map_err(service_error)?;
        // Everyone has been told both (one event each way), and is parked again.
        let expected = 2 * roster as u64 * (p as u64 + 1);
        let deadline = Instant::now() + STEP;
        while delivered.load(Ordering::Relaxed) < expected {
            if Instant::now() > deadline {
                bail!("members received {} events, expected {expected}", delivered.load(Ordering::Relaxed));
            }
            if let Some(ended) = pollers.try_join_next() {
                ended.context("a member panicked")??;
                bail!("a member stopped polling");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The probe's goodbye batch (its conversation's end) is read before the next join.
        probe_events += probe.next().await?.len() as u64;
    }
    let (cpu1, wall1) = (process::cpu_seconds("self")?, Instant::now());
    pollers.abort_all();
    server.stop().await;
    join_ms.sort_by(f64::total_cmp);
    Ok(FanoutResult {
        events: delivered.load(Ordering::Relaxed) + probe_events,
        cpu_s: cpu1 - cpu0,
        wall_s: (wall1 - wall0).as_secs_f64(),
        join_ms: join_ms[join_ms.len() / 2],
    })
}

/// Waits until `n` polls are parked.
async fn wait_parked(services: &Services, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + STEP;
    while services.channels.parked() < n {
        if Instant::now() > deadline {
            bail!("only {} of {n} polls parked", services.channels.parked());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

pub(crate) async fn cycles(args: &CycleArgs) -> anyhow::Result<()> {
    if args.cycles == 0 {
        bail!("--cycles must be positive");
    }
    let server = start().await;
    let services = server.services.clone();
    let (_, uri) = meeting(&services, AccessLevel::Locked).await?;
    let organizer_app = application(&services, ORGANIZER, 0).await?;
    let organizer = Principal::User { uri: ORGANIZER.into() };
    let attendee_app = application(&services, "sip:attendee@example.com", 1).await?;
    let attendee = Principal::User { uri: attendee_app.owner_uri.clone() };
    let mut organizer_channel = Channel::new(&services, &organizer_app);
    let mut attendee_channel = Channel::new(&services, &attendee_app);
    let own = services.join(&organizer, &organizer_app, BASE, &join_input(&uri)).await.map_err(service_error)?;
    organizer_channel.until_completed(&own).await?;

    let load = process::load_average();
    let (cpu0, wall0) = (process::cpu_seconds("self")?, Instant::now());
    for _ in 0..args.cycles {
        let session = services.join(&attendee, &attendee_app, BASE, &join_input(&uri)).await.map_err(service_error)?;
        // The organizer reads the lobby add and admits what it links to.
        let subject = loop {
            let events = tokio::time::timeout(STEP, organizer_channel.next()).await.context("no lobby add")??;
            let add = events.iter().find(|e| e["type"] == "added" && e["in"]["rel"] == "lobby");
            if let Some(href) = add.and_then(|e| e["link"]["href"].as_str()) {
                break href.rsplit('/').next().unwrap_or_default().to_owned();
            }
        };
        services
            .act_on_participant(&organizer_app, &SessionRef::unread(&own), &subject, "admit")
            .await
            .map_err(service_error)?;
        attendee_channel.until_completed(&session).await?;
        services.leave(&attendee_app, &SessionRef::unread(&session)).await.map_err(service_error)?;
        // The attendee's goodbye and the organizer's roster update.
        attendee_channel.next().await?;
        organizer_channel.next().await?;
    }
    let (cpu1, wall1) = (process::cpu_seconds("self")?, Instant::now());
    server.stop().await;
    let wall = (wall1 - wall0).as_secs_f64();
    println!(
        "(g) join cycles in-process (use cases below HTTP, one after another): join -> lobby -> organizer reads the lobby add -> admit -> attendee reads completed -> leave -> both read the goodbye"
    );
    println!(
        "{:<8} {:>10} {:>10} {:>12} {:>14} {:>9}",
        "cycles", "CPU s", "wall s", "cycles/s", "CPU us/cycle", "load"
    );
    println!(
        "{:<8} {:>10.2} {:>10.2} {:>12.0} {:>14.1} {:>9}",
        args.cycles,
        cpu1 - cpu0,
        wall,
        args.cycles as f64 / wall,
        (cpu1 - cpu0) * 1e6 / args.cycles as f64,
        load
    );
    Ok(())
}
