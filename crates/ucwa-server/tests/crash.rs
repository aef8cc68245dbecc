//! Crash test: the real `ucwa-server` binary on a SQLite file is killed with SIGKILL in the
//! middle of join and messaging churn, and started again on the same database and port.
//!
//! Alice and Bob sit in a service application's ad hoc meeting and send each other numbered
//! messages; Carol joins and leaves it over and over; every client reads its event channel
//! under the ack contract (it asks for the next batch only after reading a whole one, and asks
//! for the same batch again after a failed request). The service application receives the
//! meeting's events as callbacks; its receiver is down from before the crash until after the
//! restart, while the server retries on a shortened schedule (`--callback-retry-base-ms`).
//!
//! Checked afterwards: every message whose send was acknowledged (201) reached the other user
//! exactly once, and no message at all arrived twice; every invitation Carol's channel saw
//! start completed exactly once, including each join acknowledged before the crash; and the
//! receiver got every callback signed, and in order (batches in stream order; each of Carol's
//! participants added and deleted in turn, added first), with at most repeats of whole batches
//! (delivery is at least once).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::time::{Instant, sleep};
use ucwa_core::service::hmac_sha256;
use ucwa_testkit::{CallbackReceiver, Recorded, events_of};

const BIN: &str = env!("CARGO_BIN_EXE_ucwa-server");
const BOT: &str = "sip:bot@example.com";
const SECRET: &str = "crash-test-bot-secret-0123";

/// The server process; killed with SIGKILL on drop so a failing test leaves nothing behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on `db` and `listen` (port 0 for any); returns it and its address.
fn start(db: &str, listen: &str) -> (Server, String) {
    let mut child = Command::new(BIN)
        .args(["--demo", "--listen", listen, "--database-url", db])
        .args(["--events-min-timeout-secs", "1", "--events-min-hold-secs", "1"])
        .args(["--callback-retry-base-ms", "50", "--callback-retry-max-secs", "1", "--callback-max-attempts", "10000"])
        // Callbacks to loopback, once callback URLs are checked against private networks.
        .env("UCWA_CALLBACK_ALLOW_NETWORKS", "127.0.0.0/8")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start ucwa-server");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines.next().expect("the server printed its address").expect("a line");
        if let Some(addr) = line.strip_prefix("listening on http://") {
            break addr.to_owned();
        }
    };
    // Keep reading what it prints after that.
    std::thread::spawn(move || lines.for_each(drop));
    (Server(child), addr)
}

fn add_bot(db: &str, callback: &str) -> String {
    let mut child = Command::new(BIN)
        .args(["service-app", "add", BOT, "--name", "Bot", "--secret-stdin", "--database-url", db])
        .args(["--callback-url", callback])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("service-app add");
    child.stdin.take().expect("stdin").write_all(format!("{SECRET}\n").as_bytes()).expect("secret");
    let out = child.wait_with_output().expect("service-app add ran");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| l.split("(shown once): ").nth(1)).expect("the signing key").trim().to_owned()
}

/// A client's view of the server: the base URL moves when the server restarts on a new port.
#[derive(Clone)]
struct Api {
    base: String,
    client: Client,
}

impl Api {
    fn url(&self, href: &str) -> String {
        if href.starts_with("http") { href.to_owned() } else { format!("{}{href}", self.base) }
    }

    async fn token(&self, form: &[(&str, &str)]) -> String {
        let resp = self.client.post(self.url("/WebTicket/oauthtoken")).form(form).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    async fn send(&self, method: reqwest::Method, href: &str, token: &str, body: Option<Value>) -> reqwest::Response {
        let mut req = self.client.request(method, self.url(href)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }
}

/// A signed-in user with an application, and everything its event channel delivered.
#[derive(Clone)]
struct User {
    token: String,
    app: String,
    seen: Arc<Mutex<Vec<Value>>>,
}

async fn user(api: &Api, name: &str) -> User {
    let token = api.token(&[("grant_type", "password"), ("username", name), ("password", &password(name))]).await;
    let body = json!({"UserAgent": "crash", "EndpointId": name, "Culture": "en-US"});
    let resp = api.send(reqwest::Method::POST, "/ucwa/oauth/v1/applications", &token, Some(body)).await;
    let app = resp.json::<Value>().await.unwrap()["_links"]["self"]["href"].as_str().unwrap().to_owned();
    let available = api.send(reqwest::Method::POST, &format!("{app}/me/makeMeAvailable"), &token, None).await;
    assert_eq!(available.status(), StatusCode::NO_CONTENT);
    User { token, app, seen: Arc::default() }
}

fn password(name: &str) -> String {
    format!("{}-demo-password", name.split('@').next().unwrap_or_default())
}

/// Reads `user`'s event channel until `stop`: the next batch only after a whole one, the same
/// request again after any failure (the server may be down).
async fn follow(api: Arc<Mutex<Api>>, user: User, stop: tokio_util::sync::CancellationToken) {
    let mut url = format!("{}/events?ack=1&timeout=1&low=1&medium=1", user.app);
    while !stop.is_cancelled() {
        let current = api.lock().unwrap().clone();
        let answer = async {
            let resp = current.client.get(current.url(&url)).bearer_auth(&user.token).send().await.ok()?;
            if resp.status() != StatusCode::OK {
                return None;
            }
            resp.json::<Value>().await.ok()
        };
        let Some(batch) = tokio::time::timeout(Duration::from_secs(5), answer).await.ok().flatten() else {
            sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Some(next) = batch["_links"]["next"]["href"].as_str() else { panic!("no next link: {batch}") };
        user.seen.lock().unwrap().extend(events_of(&batch));
        url = format!("{next}&timeout=1&low=1&medium=1");
    }
}

fn path_of(href: &str) -> String {
    match href.find("://") {
        Some(i) => href[i + 3..].find('/').map(|j| href[i + 3 + j..].to_owned()).unwrap_or_default(),
        None => href.to_owned(),
    }
}

/// The message texts received (Incoming), in order.
fn messages(user: &User) -> Vec<String> {
    user.seen
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e["link"]["rel"] == "message" && e["_embedded"]["message"]["direction"] == "Incoming")
        .filter_map(|e| {
            let links = &e["_embedded"]["message"]["_links"];
            let text = links["plainMessage"]["href"].as_str()?;
            Some(text.rsplit(',').next()?.to_owned())
        })
        .collect()
}

/// Joins the meeting and turns on messaging; returns the conversation path.
async fn join_with_messaging(api: &Api, user: &User, meeting_uri: &str, op: &str) -> String {
    let body = json!({"onlineMeetingUri": meeting_uri, "operationId": op});
    let joins = format!("{}/communication/onlineMeetingInvitations", user.app);
    let resp = api.send(reqwest::Method::POST, &joins, &user.token, Some(body)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let invitation = path_of(resp.headers()["location"].to_str().unwrap());
    let id = invitation.rsplit('/').next().unwrap().to_owned();
    let add = format!("{}/communication/messagingInvitations?conversation={id}", user.app);
    let added = api.send(reqwest::Method::POST, &add, &user.token, Some(json!({"operationId": "im"}))).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    format!("{}/communication/conversations/{id}", user.app)
}

fn verify(key: &str, r: &Recorded) -> bool {
    let Some(header) = r.header("x-openucwa-signature") else { return false };
    let parts: BTreeMap<&str, &str> = header.split(',').filter_map(|p| p.split_once('=')).collect();
    let (Some(t), Some(v1)) = (parts.get("t"), parts.get("v1")) else { return false };
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(&r.body);
    let expected: String = hmac_sha256(key.as_bytes(), &message).iter().map(|b| format!("{b:02x}")).collect();
    &expected == v1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_churn_loses_nothing_acknowledged_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("ucwa.db").display());
    let mut receiver = CallbackReceiver::start().await;
    ucwa_server::callbacks::install_crypto_provider();
    // The first start creates the database and the demo users; the bot is added to it.
    let (first, addr) = start(&db, "127.0.0.1:0");
    let key = add_bot(&db, &receiver.url);
    let api = Api { base: format!("http://{addr}"), client: Client::new() };

    // The bot's ad hoc meeting, joined trusted with callbacks; Alice and Bob in it.
    let bot = api.token(&[("grant_type", "client_credentials"), ("client_id", BOT), ("client_secret", SECRET)]).await;
    let listing = format!("/platformservice/v1/applications?endpointId={BOT}");
    let listing: Value = api.send(reqwest::Method::GET, &listing, &bot, None).await.json().await.unwrap();
    let bot_app = listing["_links"]["ms:rtc:saas:application"]["href"].as_str().unwrap().to_owned();
    let adhoc = bot_app.replacen("?", "/adhocMeetings?", 1);
    let meeting =
        api.send(reqwest::Method::POST, &adhoc, &bot, Some(json!({"subject": "churn", "accessLevel": "Everyone"})));
    let meeting: Value = meeting.await.json().await.unwrap();
    let join_adhoc = meeting["_links"]["ms:rtc:saas:joinAdhocMeeting"]["href"].as_str().unwrap();
    let body = json!({"operationId": "op-bot", "callbackUrl": receiver.url});
    assert_eq!(api.send(reqwest::Method::POST, join_adhoc, &bot, Some(body)).await.status(), StatusCode::CREATED);
    let uri = meeting["onlineMeetingUri"].as_str().unwrap().to_owned();

    let shared = Arc::new(Mutex::new(api.clone()));
    let stop = tokio_util::sync::CancellationToken::new();
    let (alice, bob, carol) = (
        user(&api, "alice@example.com").await,
        user(&api, "bob@example.com").await,
        user(&api, "carol@example.com").await,
    );
    let mut readers = Vec::new();
    for u in [&alice, &bob, &carol] {
        readers.push(tokio::spawn(follow(shared.clone(), u.clone(), stop.clone())));
    }
    let alice_conv = join_with_messaging(&api, &alice, &uri, "op-a").await;
    let bob_conv = join_with_messaging(&api, &bob, &uri, "op-b").await;

    // Churn: numbered messages both ways, and Carol joining and leaving.
    let churn = tokio_util::sync::CancellationToken::new();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for (who, u, conv) in [("a", alice.clone(), alice_conv.clone()), ("b", bob.clone(), bob_conv.clone())] {
        let (shared, churn, acked) = (shared.clone(), churn.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                if churn.is_cancelled() {
                    break;
                }
                let text = format!("m-{who}-{n}");
                let api = shared.lock().unwrap().clone();
                let send = api
                    .client
                    .post(api.url(&format!("{conv}/messaging/messages")))
                    .bearer_auth(&u.token)
                    .header("content-type", "text/plain")
                    .body(text.clone())
                    .send();
                if let Ok(Ok(resp)) = tokio::time::timeout(Duration::from_secs(5), send).await
                    && resp.status() == StatusCode::CREATED
                {
                    acked.lock().unwrap().push(text);
                }
                sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    let joins_acked: Arc<Mutex<Vec<String>>> = Arc::default();
    {
        let (shared, churn, carol, joins_acked, uri) =
            (shared.clone(), churn.clone(), carol.clone(), joins_acked.clone(), uri.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                if churn.is_cancelled() {
                    break;
                }
                let api = shared.lock().unwrap().clone();
                let joins = api.url(&format!("{}/communication/onlineMeetingInvitations", carol.app));
                let body = json!({"onlineMeetingUri": uri, "operationId": format!("op-c{n}")});
                let sent = api.client.post(joins).bearer_auth(&carol.token).json(&body).send();
                if let Ok(Ok(resp)) = tokio::time::timeout(Duration::from_secs(5), sent).await
                    && resp.status() == StatusCode::CREATED
                {
                    let invitation = path_of(resp.headers()["location"].to_str().unwrap());
                    joins_acked.lock().unwrap().push(invitation.clone());
                    // Leave once the join completed (or give up on it after a while).
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while Instant::now() < deadline
                        && !carol
                            .seen
                            .lock()
                            .unwrap()
                            .iter()
                            .any(|e| e["type"] == "completed" && e["link"]["href"] == invitation.as_str())
                    {
                        sleep(Duration::from_millis(20)).await;
                    }
                    let conversation = invitation.replace("onlineMeetingInvitations", "conversations");
                    let api = shared.lock().unwrap().clone();
                    let _ = api.client.delete(api.url(&conversation)).bearer_auth(&carol.token).send().await;
                } else {
                    // A join or leave lost in the crash may have left Carol in the meeting:
                    // leave every conversation her channel saw start.
                    let started: Vec<String> = carol
                        .seen
                        .lock()
                        .unwrap()
                        .iter()
                        .filter(|e| e["link"]["rel"] == "onlineMeetingInvitation" && e["type"] == "started")
                        .filter_map(|e| {
                            e["link"]["href"].as_str().map(|h| h.replace("onlineMeetingInvitations", "conversations"))
                        })
                        .collect();
                    let api = shared.lock().unwrap().clone();
                    for conversation in started {
                        let _ = api.client.delete(api.url(&conversation)).bearer_auth(&carol.token).send().await;
                    }
                }
                sleep(Duration::from_millis(30)).await;
            }
        }));
    }

    sleep(Duration::from_millis(1500)).await;
    receiver.stop().await;
    sleep(Duration::from_millis(1000)).await;
    // SIGKILL: no shutdown, no flush beyond what SQLite committed.
    let mut first = first;
    first.0.kill().expect("SIGKILL");
    first.0.wait().expect("the server died");
    let acked_before = (acked.lock().unwrap().len(), joins_acked.lock().unwrap().len());
    sleep(Duration::from_millis(300)).await;
    let (second, addr2) = start(&db, &addr);
    assert_eq!(addr2, addr, "restarted on the same port");
    sleep(Duration::from_millis(1500)).await;
    receiver.resume().await;
    sleep(Duration::from_millis(500)).await;
    churn.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    let (sent, joined) = (acked.lock().unwrap().clone(), joins_acked.lock().unwrap().clone());
    assert!(
        acked_before.0 > 10 && sent.len() > acked_before.0,
        "messages before and after: {acked_before:?} {}",
        sent.len()
    );
    assert!(
        acked_before.1 > 2 && joined.len() > acked_before.1,
        "joins before and after: {acked_before:?} {}",
        joined.len()
    );

    // Everything acknowledged arrives, once.
    let everything =
        |u: &User, from: &str| sent.iter().filter(|t| t.starts_with(from)).all(|t| messages(u).contains(t));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(everything(&bob, "m-a-") && everything(&alice, "m-b-")) {
        assert!(
            Instant::now() < deadline,
            "acknowledged messages were lost: {sent:?}\nbob got {:?}\nalice got {:?}",
            messages(&bob),
            messages(&alice)
        );
        sleep(Duration::from_millis(100)).await;
    }
    sleep(Duration::from_millis(1500)).await;
    for u in [&alice, &bob] {
        let got = messages(u);
        let mut unique = got.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), got.len(), "a message was delivered twice: {got:?}");
    }
    // Each invitation Carol's channel saw start completed exactly once, acknowledged joins too.
    let seen = carol.seen.lock().unwrap().clone();
    let of_kind = |kind: &str, href: &str| {
        seen.iter()
            .filter(|e| e["link"]["rel"] == "onlineMeetingInvitation" && e["type"] == kind && e["link"]["href"] == href)
            .count()
    };
    let started: Vec<&str> = seen
        .iter()
        .filter(|e| e["link"]["rel"] == "onlineMeetingInvitation" && e["type"] == "started")
        .filter_map(|e| e["link"]["href"].as_str())
        .collect();
    for invitation in &joined {
        assert_eq!(of_kind("started", invitation), 1, "{invitation} started once");
    }
    for invitation in &started {
        assert_eq!(of_kind("completed", invitation), 1, "{invitation} completed exactly once");
    }

    // Callbacks: all signed, and in order (repeats of whole batches allowed). Each batch is
    // numbered by its `ack` in the conversation's callback stream; a retry repeats a whole
    // batch with its number.
    let wanted = started.len();
    let ack_of = |b: &Recorded| -> Option<u64> {
        let href = b.json()["_links"]["self"]["href"].as_str()?.to_owned();
        href.split(['?', '&']).find_map(|p| p.strip_prefix("ack=")?.parse().ok())
    };
    // Carol's participant events (href, `added` or `deleted`) in the stream, each batch once.
    // Her participant href names her (`participants/carol@example.com`, `~2` while a second
    // session of hers is in), the same for every join, so the order shows as added and
    // deleted taking turns for each href.
    let carol_moves = |batches: &[Recorded]| -> Vec<(String, String)> {
        let mut seen = std::collections::BTreeSet::new();
        let mut moves = Vec::new();
        for batch in batches.iter().filter(|b| ack_of(b).is_some_and(|ack| seen.insert(ack))) {
            for e in events_of(&batch.json()) {
                let title = e["link"]["title"].as_str().unwrap_or_default();
                let kind = e["type"].as_str().unwrap_or_default();
                if e["link"]["rel"] == "ms:rtc:saas:participant"
                    && title.contains("Carol")
                    && (kind == "added" || kind == "deleted")
                {
                    let href = e["link"]["href"].as_str().unwrap_or_default();
                    moves.push((href.to_owned(), kind.to_owned()));
                }
            }
        }
        moves
    };
    let batches = receiver
        .wait_for(Duration::from_secs(30), |b| carol_moves(b).iter().filter(|(_, k)| k == "added").count() >= wanted)
        .await;
    assert!(batches.iter().all(|b| verify(&key, b)), "every callback is signed");
    eprintln!(
        "{} messages and {} joins acknowledged ({} and {} before the kill), {} invitations started, {} callback batches",
        sent.len(),
        joined.len(),
        acked_before.0,
        acked_before.1,
        started.len(),
        batches.len()
    );
    let acks: Vec<u64> = batches.iter().filter_map(ack_of).collect();
    assert!(acks.windows(2).all(|w| w[0] <= w[1]), "batches arrive in order, a retry repeating one: {acks:?}");
    // Each of Carol's participants is added, then deleted, then added again: never added
    // twice in a row, never deleted before it was added.
    let moves = carol_moves(&batches);
    let mut present = std::collections::BTreeMap::new();
    for (href, kind) in &moves {
        let inside = present.entry(href.clone()).or_insert(false);
        assert_eq!(*inside, kind == "deleted", "{href} {kind} in order: {moves:?}");
        *inside = kind == "added";
    }
    stop.cancel();
    for r in readers {
        r.await.unwrap();
    }
    drop(second);
}
