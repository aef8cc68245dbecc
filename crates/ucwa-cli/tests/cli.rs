//! The `ucwa` binary driven as a user would, against the real server on a loopback port:
//! plain runs with `--output json` for what scripts read, and the live views in a
//! pseudo-terminal (util-linux `script`, which also turns a typed Ctrl-C into SIGINT).
//! Exit codes: 0 done, 1 error, 2 usage, 3 a failed join.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::Notify;
use ucwa_testkit::TestServer;

const UCWA: &str = env!("CARGO_BIN_EXE_ucwa");
const WAIT: Duration = Duration::from_secs(20);

/// A user of the command line: their own config directory.
struct User {
    config: TempDir,
}

impl User {
    fn new() -> Self {
        Self { config: tempfile::tempdir().unwrap() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(UCWA);
        command.args(args).env("UCWA_CONFIG_DIR", self.config.path()).env_remove("UCWA_OUTPUT").kill_on_drop(true);
        command
    }

    /// Runs `ucwa args` with `stdin` and waits for it.
    async fn run_with(&self, args: &[&str], stdin: &str) -> Output {
        let mut child =
            self.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).await.unwrap();
        tokio::time::timeout(WAIT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("ucwa {args:?} hangs"))
            .unwrap()
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, "").await
    }

    /// Runs `ucwa args`, which must succeed; its stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert_eq!(out.status.code(), Some(0), "ucwa {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// `ucwa --output json args`: the one JSON value it printed.
    async fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        serde_json::from_str(self.ok(&all).await.trim()).unwrap()
    }

    async fn login(&self, server: &TestServer, user: &str, password: &str) {
        let out =
            self.run_with(&["login", "--server", &server.url, "--user", user, "--password-stdin"], password).await;
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }

    fn session_file(&self) -> PathBuf {
        self.config.path().join("session.json")
    }

    /// Runs `ucwa args` in a pseudo-terminal.
    fn terminal(&self, args: &[&str]) -> Terminal {
        let quoted: Vec<String> = std::iter::once(UCWA)
            .chain(args.iter().copied())
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect();
        // `script` runs the command through `$SHELL -c`; `exec` makes `ucwa` the process the
        // terminal's Ctrl-C reaches (dash, the default `/bin/sh` on Debian, would otherwise stay
        // in between, die of the SIGINT and report 130).
        let command = format!("exec {}", quoted.join(" "));
        let mut script = Command::new("script");
        script
            .args(["-qefc", &command, "/dev/null"])
            .env("UCWA_CONFIG_DIR", self.config.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = script.spawn().expect("util-linux `script` runs the terminal tests");
        let screen = Screen::default();
        screen.collect(child.stdout.take().unwrap());
        Terminal { keyboard: child.stdin.take().unwrap(), child, screen }
    }

    /// Runs `ucwa args` with stdout piped, reading it line by line as it comes.
    fn background(&self, args: &[&str]) -> (Child, Screen) {
        let mut child = self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let screen = Screen::default();
        screen.collect(child.stdout.take().unwrap());
        (child, screen)
    }
}

/// Everything a process printed so far.
#[derive(Clone, Default)]
struct Screen {
    text: Arc<Mutex<String>>,
    changed: Arc<Notify>,
}

impl Screen {
    fn collect(&self, mut from: impl AsyncRead + Unpin + Send + 'static) {
        let screen = self.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = from.read(&mut buf).await {
                screen.text.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                screen.changed.notify_waiters();
            }
        });
    }

    fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Waits until the output holds `what`.
    async fn expect(&self, what: &str) {
        let found = tokio::time::timeout(WAIT, async {
            loop {
                let changed = self.changed.notified();
                if self.text().contains(what) {
                    return;
                }
                changed.await;
            }
        })
        .await;
        assert!(found.is_ok(), "no {what:?} in {:?}", self.text());
    }

    /// What was drawn since the screen was last cleared.
    fn last_screen(&self) -> String {
        let text = self.text();
        text.rsplit("\x1b[2J").next().unwrap_or_default().to_owned()
    }

    /// Waits until the screen, as last redrawn, shows `what`.
    async fn expect_on_screen(&self, what: &str) {
        let found = tokio::time::timeout(WAIT, async {
            loop {
                let changed = self.changed.notified();
                if self.last_screen().contains(what) {
                    return;
                }
                changed.await;
            }
        })
        .await;
        assert!(found.is_ok(), "no {what:?} on the screen {:?}", self.last_screen());
    }

    /// The JSON lines printed so far.
    fn json_lines(&self) -> Vec<Value> {
        self.text().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

/// A process in a pseudo-terminal.
struct Terminal {
    keyboard: ChildStdin,
    child: Child,
    screen: Screen,
}

impl Terminal {
    /// Types Ctrl-C.
    async fn ctrl_c(&mut self) {
        self.keyboard.write_all(b"\x03").await.unwrap();
        self.keyboard.flush().await.unwrap();
    }

    async fn exit_code(mut self) -> Option<i32> {
        tokio::time::timeout(WAIT, self.child.wait()).await.expect("the program ends").unwrap().code()
    }
}

/// Sends SIGINT (what Ctrl-C does) to a background process.
fn interrupt(child: &Child) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(status.success());
}

async fn exit_code(mut child: Child) -> Option<i32> {
    tokio::time::timeout(WAIT, child.wait()).await.expect("the program ends").unwrap().code()
}

/// Alice, signed in, with a Locked meeting: its id and join URL.
async fn alice_with_a_meeting(server: &TestServer) -> (User, String, String) {
    server.add_user("sip:alice@example.com", "Alice", "alice-password").await;
    let alice = User::new();
    alice.login(server, "alice@example.com", "alice-password").await;
    let meeting = alice.json(&["meeting", "create", "--subject", "Weekly", "--access-level", "locked"]).await;
    let id = meeting["onlineMeetingId"].as_str().unwrap().to_owned();
    let url = meeting["joinUrl"].as_str().unwrap().to_owned();
    (alice, id, url)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn login_meetings_and_logout_with_exit_codes() {
    let server = TestServer::start().await;
    server.add_user("sip:alice@example.com", "Alice", "alice-password").await;
    let alice = User::new();
    let refused = alice
        .run_with(&["login", "--server", &server.url, "--user", "alice@example.com", "--password-stdin"], "wrong\n")
        .await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("sign-in refused"));
    assert!(!alice.session_file().exists());
    alice.login(&server, "alice@example.com", "alice-password\n").await;
    let saved = std::fs::read_to_string(alice.session_file()).unwrap();
    assert!(!saved.contains("alice-password"), "the password is never stored");
    #[cfg(unix)]
    assert_eq!((mode(alice.config.path()), mode(&alice.session_file())), (0o700, 0o600), "owner-only");

    let created = alice.json(&["meeting", "create", "--subject", "Weekly", "--access-level", "locked"]).await;
    let id = created["onlineMeetingId"].as_str().unwrap().to_owned();
    assert!(created["joinUrl"].as_str().unwrap().starts_with(&server.url));
    assert_eq!(created["accessLevel"], "Locked");
    let text = alice.ok(&["meeting", "create", "--subject", "Retro"]).await;
    assert!(text.contains("join url") && text.contains("/meet/alice/"), "{text}");
    let list = alice.json(&["meeting", "list"]).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let table = alice.ok(&["meeting", "list"]).await;
    assert!(table.starts_with("ID") && table.contains("Weekly") && table.contains("Retro"), "{table}");
    let updated =
        alice.json(&["meeting", "update", &id, "--subject", "Weekly, moved", "--leader", "sip:bob@example.com"]).await;
    assert_eq!(updated["subject"], "Weekly, moved");
    assert_eq!(updated["leaders"], serde_json::json!(["sip:bob@example.com"]));
    assert_eq!(updated["accessLevel"], "Locked", "what was not given stays");
    let shown = alice.ok(&["meeting", "show", &id.to_lowercase()]).await;
    assert!(shown.contains("Weekly, moved"), "{shown}");
    assert_eq!(alice.json(&["meeting", "delete", &id]).await["deleted"], id.as_str());
    let gone = alice.run(&["meeting", "show", &id]).await;
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no meeting"));

    // Usage errors.
    for args in [&["meeting", "create", "--access-level", "sometimes"][..], &["admit", &id], &["frobnicate"]] {
        assert_eq!(alice.run(args).await.status.code(), Some(2), "{args:?}");
    }
    let completions = alice.ok(&["completions", "bash"]).await;
    assert!(completions.contains("_ucwa"), "a bash completion script");
    assert!(alice.ok(&["completions", "zsh"]).await.contains("#compdef ucwa"));
    assert!(alice.ok(&["completions", "fish"]).await.contains("complete -c ucwa"));

    assert_eq!(alice.json(&["logout"]).await["signedOut"], true);
    assert!(!alice.session_file().exists());
    let out = alice.run(&["meeting", "list"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ucwa login"));
}

#[tokio::test]
async fn a_guest_waits_in_a_terminal_while_the_organizer_runs_the_lobby() {
    let server = TestServer::start().await;
    let (alice, id, url) = alice_with_a_meeting(&server).await;

    // Alice watches the lobby in a terminal: a table redrawn in place.
    let mut watch = alice.terminal(&["lobby", &id, "--watch"]);
    watch.screen.expect_on_screen("Weekly: 0 waiting").await;

    // Grace joins from a terminal: a live line with the time waited.
    let guest = User::new();
    let mut grace = guest.terminal(&["join", &url, "--as-guest", "Grace Hopper"]);
    grace.screen.expect("In lobby 0:0").await;
    watch.screen.expect_on_screen("Weekly: 1 waiting").await;
    watch.screen.expect_on_screen("Grace Hopper").await;
    assert!(watch.screen.last_screen().contains("GUEST"), "{}", watch.screen.last_screen());
    // The other commands use the watch's conversation; the watch goes on.
    let lobby = alice.json(&["lobby", &id]).await;
    let waiting = lobby["lobby"].as_array().unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!((waiting[0]["name"].as_str(), waiting[0]["anonymous"].as_bool()), (Some("Grace Hopper"), Some(true)));
    let table = alice.ok(&["lobby", &id]).await;
    assert!(table.contains("Weekly: 1 waiting") && table.contains("Grace Hopper"), "{table}");
    let admitted = alice.ok(&["admit", &id, "grace hopper"]).await;
    assert!(admitted.starts_with("admitted Grace Hopper <sip:"), "{admitted}");
    grace.screen.expect("Connected").await;
    grace.screen.expect("Grace Hopper <sip:").await;
    watch.screen.expect_on_screen("Weekly: 0 waiting").await;
    // Chat reaches her; Ctrl-C leaves.
    alice.ok(&["send", &id, "welcome, Grace"]).await;
    grace.screen.expect("welcome, Grace").await;
    grace.ctrl_c().await;
    grace.screen.expect("left the meeting").await;
    assert_eq!(grace.exit_code().await, Some(0));
    watch.ctrl_c().await;
    let screen = watch.screen.clone();
    assert_eq!(watch.exit_code().await, Some(0), "{}", screen.text());

    // Mallory is turned away: exit code 3.
    let mallory = guest.terminal(&["join", &url, "--as-guest", "Mallory"]);
    mallory.screen.expect("In lobby").await;
    assert_eq!(alice.run(&["admit", &id, "Nobody"]).await.status.code(), Some(1), "nobody by that name");
    alice.ok(&["reject", &id, "Mallory"]).await;
    mallory.screen.expect("rejected").await;
    assert_eq!(mallory.exit_code().await, Some(3));

    // Ctrl-C while waiting cancels the join: exit code 3, and the lobby is empty again.
    let mut eve = guest.terminal(&["join", &url, "--as-guest", "Eve"]);
    eve.screen.expect("In lobby").await;
    eve.ctrl_c().await;
    eve.screen.expect("cancelled").await;
    assert_eq!(eve.exit_code().await, Some(3));
    assert_eq!(alice.json(&["lobby", &id]).await["lobby"], serde_json::json!([]));
    // A link to no meeting: a failed join.
    let nowhere = guest.run(&["join", &url.replace(&id, "NOPE2345"), "--as-guest", "Eve"]).await;
    assert_eq!(nowhere.status.code(), Some(3));
}

#[tokio::test]
async fn a_watched_lobby_and_a_json_join_for_scripts() {
    let server = TestServer::start().await;
    let (alice, id, url) = alice_with_a_meeting(&server).await;
    // The watch joins the meeting and prints the lobby on every change.
    let (watch, watched) = alice.background(&["--output", "json", "lobby", &id, "--watch"]);
    let lobby_lines =
        || watched.json_lines().into_iter().filter_map(|l| l["lobby"].as_array().cloned()).collect::<Vec<_>>();
    watched.expect(r#"{"lobby":[]}"#).await;

    let guest = User::new();
    let (join, joining) = guest.background(&["--output", "json", "join", &url, "--as-guest", "Ann"]);
    joining.expect(r#"{"state":"InLobby"}"#).await;
    watched.expect("\"Ann\"").await;
    // Admitting from another process uses the watch's conversation: no second reader.
    let admitted = alice.json(&["admit", &id, "--all"]).await;
    assert_eq!(admitted["admitted"][0]["name"], "Ann");
    joining.expect(r#"{"state":"Connected"}"#).await;
    joining.expect("\"roster\"").await;
    let states: Vec<Value> = joining.json_lines().into_iter().filter(|l| l.get("state").is_some()).collect();
    assert_eq!(
        states,
        [
            serde_json::json!({"state": "Connecting"}),
            serde_json::json!({"state": "InLobby"}),
            serde_json::json!({"state": "Connected"}),
        ]
    );
    let roster = joining.json_lines().into_iter().find_map(|l| l["roster"].as_array().cloned()).unwrap();
    assert!(roster.iter().any(|p| p["name"] == "Ann"), "{roster:?}");
    // The lobby emptied for the watch.
    tokio::time::timeout(WAIT, async {
        while lobby_lines().last().is_none_or(|l| !l.is_empty()) {
            watched.changed.notified().await;
        }
    })
    .await
    .expect("the watch shows the empty lobby");
    interrupt(&join);
    assert_eq!(exit_code(join).await, Some(0));
    interrupt(&watch);
    assert_eq!(exit_code(watch).await, Some(0));
}

#[tokio::test]
async fn events_are_printed_as_json_lines_and_never_twice() {
    let server = TestServer::start().await;
    let (alice, id, _) = alice_with_a_meeting(&server).await;
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(alice.session_file()).unwrap()).unwrap();
    let (token, app) = (saved["token"].as_str().unwrap(), saved["application"].as_str().unwrap());
    // Alice's application joins her meeting by hand; its events wait in the channel.
    let body: Value = server.call(reqwest::Method::GET, app, token, None).await.json().await.unwrap();
    let join = body["_embedded"]["communication"]["_links"]["joinOnlineMeeting"]["href"].as_str().unwrap();
    let uri = format!("sip:alice@example.com;gruu;opaque=app:conf:focus:id:{id}");
    let resp =
        server.call(reqwest::Method::POST, join, token, Some(serde_json::json!({"onlineMeetingUri": uri}))).await;
    assert_eq!(resp.status(), 201);
    let first = alice.ok(&["events"]).await;
    let first: Vec<Value> = first.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(first[0]["link"]["rel"], "onlineMeetingInvitation");
    assert_eq!(first[0]["type"], "started");
    assert_eq!(first[0]["sender"]["rel"], "communication");

    let (follow, followed) = alice.background(&["events", "--follow"]);
    // Whatever was left of the join, then Alice leaves: the conversation is deleted.
    let conversation =
        first[0]["_embedded"]["onlineMeetingInvitation"]["_links"]["conversation"]["href"].as_str().unwrap();
    assert_eq!(server.call(reqwest::Method::DELETE, conversation, token, None).await.status(), 204);
    followed.expect(r#""type":"deleted""#).await;
    interrupt(&follow);
    assert_eq!(exit_code(follow).await, Some(0));
    let second = followed.json_lines();
    for event in &second {
        assert!(!first.contains(event), "printed twice: {event}");
    }
    let all: Vec<&Value> = first.iter().chain(&second).collect();
    assert_eq!(
        all.iter().filter(|e| e["link"]["rel"] == "onlineMeetingInvitation" && e["type"] == "completed").count(),
        1
    );
}
