//! Every example of `crates/ucwa-client/examples`, run against a test server: the examples'
//! `run` functions are compiled into this test as they are, and their `main`s (which read the
//! command line) are left unused. The lobby bot's grace period runs on a clock the test moves.

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/echo_bot.rs"]
mod echo_bot;
#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/join_and_wait.rs"]
mod join_and_wait;
#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/lobby_bot.rs"]
mod lobby_bot;

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use ucwa_client::proto::SipUri;
use ucwa_client::proto::request::MeetingSettings;
use ucwa_client::proto::values::AccessLevel;
use ucwa_client::{Client, ConversationChange, FailureReason, Join, JoinState};
use ucwa_testkit::TestServer;

use crate::meetings::next_in_lobby;
use crate::{reaches_lobby, state, until, user_app, within};

/// The lobby bot's clock: `sleep` ends when the test has moved it far enough.
#[derive(Clone)]
struct BotClock(watch::Sender<Duration>);

impl BotClock {
    fn new() -> Self {
        Self(watch::Sender::new(Duration::ZERO))
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'static + use<> {
        let mut now = self.0.subscribe();
        let until = *now.borrow() + duration;
        async move {
            let _ = now.wait_for(|now| *now >= until).await;
        }
    }

    fn advance(&self, by: Duration) {
        self.0.send_modify(|now| *now += by);
    }
}

fn locked() -> MeetingSettings {
    let mut settings = MeetingSettings::default();
    settings.subject = Some("Standup".into());
    settings.access_level = Some(AccessLevel::Locked);
    settings
}

/// `uri` joins and waits in the lobby.
async fn waiting(server: &TestServer, uri: &str, name: &str, meeting: &ucwa_client::MeetingAddress) -> Join {
    let (_, app) = user_app(server, uri, name).await;
    let mut join = app.join_meeting(meeting).await.unwrap();
    reaches_lobby(&mut join).await;
    join
}

fn rejected(state: JoinState) -> bool {
    matches!(state, JoinState::Failed(f) if f.reason == FailureReason::Rejected)
}

#[tokio::test]
async fn the_lobby_bot_admits_allowed_domains_and_rejects_the_rest_after_the_grace_period() {
    let server = TestServer::start().await;
    let (_, alice) = user_app(&server, "sip:alice@example.com", "Alice").await;
    let meeting = alice.meetings().unwrap().create(&locked()).await.unwrap();
    let address = meeting.address().unwrap();
    // Alice watches the lobby from a second application; the bot runs in the first.
    let (_, watcher) = user_app(&server, "sip:alice@example.com", "Alice-watch").await;
    let mut alice_view = watcher.join_meeting(&address).await.unwrap().connected().await.unwrap();

    let mut bob = waiting(&server, "sip:bob@example.com", "Bob", &address).await;
    let bot_meeting = alice.join_meeting(&address).await.unwrap().connected().await.unwrap();
    let clock = BotClock::new();
    let grace = Duration::from_secs(30);
    let bot = {
        let clock = clock.clone();
        tokio::spawn(lobby_bot::run(bot_meeting, vec!["example.com".into()], grace, move |d| clock.sleep(d)))
    };
    assert_eq!(state(&mut bob).await, JoinState::Connected, "already waiting and allowed");

    let mut carol = waiting(&server, "sip:carol@other.example", "Carol", &address).await;
    let client = Client::new(&server.url).unwrap();
    let guest = client.sign_in(ucwa_client::Credentials::guest(address.clone(), "Grace")).await.unwrap();
    let mut grace_join = guest.application("guest").await.unwrap().join_meeting(&address).await.unwrap();
    reaches_lobby(&mut grace_join).await;
    let mut erin = waiting(&server, "sip:erin@other.example", "Erin", &address).await;
    let mut dave = waiting(&server, "sip:Dave@EXAMPLE.com", "Dave", &address).await;
    assert_eq!(state(&mut dave).await, JoinState::Connected, "domains compare without case");

    // The bot has seen everyone by now (Dave came last); the others still wait.
    let mut names: Vec<String> =
        alice_view.lobby().await.unwrap().iter().map(|p| p.name().unwrap_or_default().to_owned()).collect();
    names.sort();
    assert_eq!(names, ["Carol", "Erin", "Grace"]);
    // Alice lets Erin in herself during the grace period.
    loop {
        let p = next_in_lobby(&mut alice_view).await;
        if p.name() == Some("Erin") {
            p.admit().await.unwrap();
            break;
        }
    }
    assert_eq!(state(&mut erin).await, JoinState::Connected);
    clock.advance(grace - Duration::from_secs(1));
    assert_eq!(alice_view.lobby().await.unwrap().len(), 2, "not yet");
    clock.advance(Duration::from_secs(1));
    assert!(rejected(state(&mut carol).await));
    assert!(rejected(state(&mut grace_join).await));
    assert!(alice_view.lobby().await.unwrap().is_empty());
    let roster = alice_view.participants().await.unwrap();
    assert!(roster.iter().any(|p| p.name() == Some("Erin")), "the late reject did not undo Alice's admission");
    // The bot stops when its meeting ends.
    meeting.delete().await.unwrap();
    within("the bot to stop", bot).await.unwrap();
}

#[tokio::test]
async fn join_and_wait_prints_each_state_then_the_roster() {
    let server = TestServer::start().await;
    let (_, alice) = user_app(&server, "sip:alice@example.com", "Alice").await;
    let meeting = alice.meetings().unwrap().create(&locked()).await.unwrap();
    let mut alice_in = alice.join_meeting(&meeting.address().unwrap()).await.unwrap().connected().await.unwrap();
    let join_url = meeting.join_url().unwrap().to_owned();

    let run = |name: &'static str| {
        let (client, url) = (Client::for_join_url(&join_url).unwrap(), join_url.clone());
        let (tx, rx) = mpsc::unbounded_channel();
        let task =
            tokio::spawn(async move { join_and_wait::run(&client, &url, name, |line| tx.send(line).unwrap()).await });
        (task, rx)
    };
    let (task, mut lines) = run("Grace");
    assert_eq!(within("a line", lines.recv()).await.unwrap(), "Connecting");
    assert_eq!(within("a line", lines.recv()).await.unwrap(), "InLobby");
    next_in_lobby(&mut alice_in).await.admit().await.unwrap();
    assert_eq!(within("the run", task).await.unwrap().unwrap(), JoinState::Connected);
    let mut rest = Vec::new();
    while let Ok(line) = lines.try_recv() {
        rest.push(line);
    }
    assert_eq!(rest[0], "Connected");
    assert!(rest.iter().any(|l| l == "  Alice <sip:alice@example.com>"), "{rest:?}");
    assert!(rest.iter().any(|l| l.starts_with("  Grace <sip:")), "{rest:?}");

    let (task, mut lines) = run("Mallory");
    assert_eq!(within("a line", lines.recv()).await.unwrap(), "Connecting");
    assert_eq!(within("a line", lines.recv()).await.unwrap(), "InLobby");
    next_in_lobby(&mut alice_in).await.reject().await.unwrap();
    assert!(rejected(within("the run", task).await.unwrap().unwrap()));
    assert!(within("a line", lines.recv()).await.unwrap().starts_with("Failed: "));
}

#[tokio::test]
async fn the_echo_bot_answers_calls_and_meeting_chat() {
    let server = TestServer::start().await;
    let (_, bob) = user_app(&server, "sip:bob@example.com", "Bob").await;
    // Available before the bot runs, so the call below finds it; events wait in its channel.
    bob.make_me_available().await.unwrap();
    let bot = {
        let bob = bob.clone();
        tokio::spawn(async move { echo_bot::run(&bob).await })
    };
    let (_, alice) = user_app(&server, "sip:alice@example.com", "Alice").await;
    let call = alice.start_messaging(SipUri::parse("sip:bob@example.com").unwrap(), Some("hello")).await.unwrap();
    let mut call = within("the call", call.connected()).await.unwrap();
    let echo = |change| match change {
        ConversationChange::Message(m) => Some(m.text),
        _ => None,
    };
    assert_eq!(until(&mut call, echo).await, "echo: hello");
    call.send("again").await.unwrap();
    assert_eq!(until(&mut call, echo).await, "echo: again");

    // Invited into a meeting, it echoes the meeting's chat.
    let meeting = alice.meetings().unwrap().create(&MeetingSettings::default()).await.unwrap();
    let mut alice_in = alice.join_meeting(&meeting.address().unwrap()).await.unwrap().connected().await.unwrap();
    alice_in.start_messaging().await.unwrap();
    alice_in.add_participant(SipUri::parse("sip:bob@example.com").unwrap()).await.unwrap();
    // Messages reach Bob once his messaging is connected, which Alice is told.
    until(&mut alice_in, |change| match change {
        ConversationChange::ParticipantMessaging { participant, connected: true } => {
            (participant.name.as_deref() == Some("Bob")).then_some(())
        }
        _ => None,
    })
    .await;
    alice_in.send("anyone here?").await.unwrap();
    assert_eq!(until(&mut alice_in, echo).await, "echo: anyone here?");
    bot.abort();
}
