//! Scenario (e): what housekeeping costs the single SQLite writer. With a large event log,
//! how long one acknowledgement-cleanup chunk and one retention step hold the writer, next
//! to the cheapest write there is (a one-row `UPDATE`, `Store::touch_channel`) as the floor.
//!
//! In-process against `SqliteStore` on a temporary file (no HTTP is involved): the log is
//! filled through `append_events`, acknowledged through `save_batch`, and then emptied with
//! `delete_acknowledged_events` chunks of the size the store's own upkeep uses, once as a
//! backlog (a few applications with thousands of events each) and once as a fan-out (one
//! event each for many applications, the shape a busy meeting leaves behind).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use ucwa_core::Store;
use ucwa_core::channel::{ChannelLimits, Priority};
use ucwa_core::meeting::{Meeting, MeetingSettings};
use ucwa_core::model::{AppKind, DeliveredBatch, MeetingRecord, NewApplication, NewEvent};
use ucwa_store_sqlite::SqliteStore;

use crate::stats::{Latency, ms};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Events in the log before the cleanup starts.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Applications the events are spread over.
    #[arg(long, default_value_t = 1_000)]
    pub applications: u64,
    /// Events per cleanup chunk (the store's upkeep uses 1,000).
    #[arg(long, default_value_t = 1_000)]
    pub chunk: u32,
    /// Finished conversations to purge.
    #[arg(long, default_value_t = 20_000)]
    pub meetings: u64,
    /// Rows per retention step (the server uses 256).
    #[arg(long, default_value_t = 256)]
    pub step: u32,
}

fn event(app: &str, n: u64) -> NewEvent {
    NewEvent {
        app_id: app.to_owned(),
        priority: Priority::High,
        sender_rel: "communication".into(),
        sender_href: format!("/ucwa/oauth/v1/applications/{app}/communication"),
        // About the size of a real `participant added` event.
        body: json!({
            "link": { "rel": "participant", "href": format!("/ucwa/oauth/v1/applications/{app}/communication/conversations/c/participants/{n}") },
            "_embedded": { "participant": { "name": "A participant with a longish display name", "sourceNetwork": "SameEnterprise" } },
            "in": { "rel": "attendees" },
            "type": "added"
        }),
        conversation: None,
    }
}

async fn timed<T>(samples: &mut Vec<Duration>, work: impl Future<Output = T>) -> T {
    let start = Instant::now();
    let out = work.await;
    samples.push(start.elapsed());
    out
}

fn row(what: &str, latency: Option<Latency>) {
    match latency {
        Some(l) => println!("{what:<58} {:>6} {:>9} {:>9} {:>9}", l.count, ms(l.p50), ms(l.p99), ms(l.max)),
        None => println!("{what:<58} (no samples)"),
    }
}

/// Saves two batches, so that everything up to `max_seq` is acknowledged.
async fn acknowledge(store: &SqliteStore, app: &str, from_no: u64, max_seq: i64) -> anyhow::Result<()> {
    let batch = |no| DeliveredBatch { no, body: String::new(), max_seq };
    for no in [from_no + 1, from_no + 2] {
        anyhow::ensure!(store.save_batch(app, &batch(no), no - 1, 0).await?, "batch {no} of {app} not saved");
    }
    Ok(())
}

pub(crate) async fn run(args: &Args) -> anyhow::Result<()> {
    println!("(e) housekeeping on the SQLite writer: {} events over {} applications", args.events, args.applications);
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("housekeeping.db").display());
    let store = Arc::new(SqliteStore::open(&url).await.context("opening the store")?);
    let apps: Vec<String> = (0..args.applications).map(|a| format!("app{a:05}")).collect();
    for app in &apps {
        let new = NewApplication {
            id: app.clone(),
            owner_uri: format!("sip:{app}@example.com"),
            anonymous: false,
            display_name: app.clone(),
            endpoint_id: app.clone(),
            user_agent: "ucwa-bench".into(),
            culture: "en-US".into(),
            instance_id: None,
            kind: AppKind::Ucwa,
        };
        store.create_application(&new, ChannelLimits::default().defaults(), 0).await?;
    }
    let fill = Instant::now();
    let per_app = args.events / args.applications.max(1);
    for round in 0..per_app.div_ceil(10) {
        // Ten events for every application per append, as a busy server would interleave them.
        let events: Vec<NewEvent> =
            apps.iter().flat_map(|app| (0..10).map(move |i| event(app, round * 10 + i))).collect();
        store.append_events(events, 0).await?;
    }
    let per_app = i64::try_from(per_app.div_ceil(10) * 10)?;
    println!("filled {} events in {:.1} s", per_app * apps.len() as i64, fill.elapsed().as_secs_f64());

    println!("{:<58} {:>6} {:>9} {:>9} {:>9}", "write", "n", "p50 ms", "p99 ms", "max ms");
    let mut floor = Vec::new();
    for app in apps.iter().cycle().take(500) {
        timed(&mut floor, store.touch_channel(app, ChannelLimits::default().defaults(), 1)).await?;
    }
    row("floor: one-row UPDATE (touch_channel)", Latency::of(&mut floor));

    // Backlog: the first tenth of the applications acknowledge all their events.
    let backlog = &apps[..apps.len().div_ceil(10)];
    for app in backlog {
        acknowledge(&store, app, 0, per_app).await?;
    }
    let (mut chunks, mut deleted, started) = (Vec::new(), 0, Instant::now());
    loop {
        let pass = timed(&mut chunks, store.delete_acknowledged_events(args.chunk)).await?;
        deleted += pass.deleted;
        if !pass.more {
            break;
        }
    }
    let backlog_secs = started.elapsed().as_secs_f64();
    row(&format!("cleanup chunk, backlog ({} apps x {per_app} events)", backlog.len()), Latency::of(&mut chunks));
    println!(
        "  {deleted} events deleted by these calls in {backlog_secs:.2} s ({:.0} events/s); the store's own upkeep \
         (every second) deleted the rest of the {} meanwhile",
        deleted as f64 / backlog_secs,
        per_app * backlog.len() as i64
    );

    // Fan-out: every other application acknowledges its first event only.
    for app in &apps[backlog.len()..] {
        acknowledge(&store, app, 0, 1).await?;
    }
    let mut fan_out = Vec::new();
    while timed(&mut fan_out, store.delete_acknowledged_events(args.chunk)).await?.more {}
    row(&format!("cleanup chunk, fan-out ({} apps x 1 event)", apps.len() - backlog.len()), Latency::of(&mut fan_out));

    // Retention: finished two-party conversations, purged in steps.
    for m in 0..args.meetings {
        let meeting = Meeting::two_party(format!("c{m}"), MeetingSettings::new("sip:org@example.com", 0));
        let record = MeetingRecord {
            meeting,
            join_url: String::new(),
            created_ms: 0,
            settings_revision: 0,
            pending: Vec::new(),
        };
        store.insert_meeting(&record).await?;
    }
    let mut steps = Vec::new();
    while timed(&mut steps, store.purge_finished(1, args.step)).await?.more {}
    row(&format!("retention step ({} finished conversations each)", args.step), Latency::of(&mut steps));
    store.close().await;
    Ok(())
}
