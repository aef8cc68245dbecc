//! Messaging and invitations through the SDK: a person-to-person call accepted or declined,
//! messages both ways with replies, chat in a meeting, and an invitation into a meeting.

use ucwa_client::proto::SipUri;
use ucwa_client::proto::error::ErrorSubcode;
use ucwa_client::proto::request::MeetingSettings;
use ucwa_client::{
    ConversationChange, FailureReason, Incoming, IncomingEvent, IncomingInvitation, IncomingMessage, InvitationKind,
    JoinState,
};
use ucwa_testkit::TestServer;

use crate::{state, until, user_app, within};

fn sip(uri: &str) -> SipUri {
    SipUri::parse(uri).unwrap()
}

/// The next incoming event `pick` takes.
async fn next_incoming<T>(incoming: &mut Incoming, pick: impl Fn(IncomingEvent) -> Option<T>) -> T {
    within("something incoming", async {
        loop {
            if let Some(found) = pick(incoming.next().await.expect("more").expect("no error")) {
                return found;
            }
        }
    })
    .await
}

async fn next_invitation(incoming: &mut Incoming) -> IncomingInvitation {
    next_incoming(incoming, |e| match e {
        IncomingEvent::Invitation(i) => Some(i),
        _ => None,
    })
    .await
}

fn message(change: ConversationChange) -> Option<IncomingMessage> {
    match change {
        ConversationChange::Message(m) => Some(m),
        _ => None,
    }
}

#[tokio::test]
async fn a_call_is_answered_and_messages_go_both_ways() {
    let server = TestServer::start().await;
    let (_, alice) = user_app(&server, "sip:alice@example.com", "Alice").await;
    let (_, bob) = user_app(&server, "sip:bob@example.com", "Bob").await;
    alice.make_me_available().await.unwrap();
    alice.make_me_available().await.unwrap();
    let mut incoming = alice.incoming().unwrap();
    let mut call = bob.start_messaging(sip("sip:alice@example.com"), Some("Hi Alice")).await.unwrap();
    assert_eq!(state(&mut call).await, JoinState::Connecting);
    let ringing = next_invitation(&mut incoming).await;
    assert_eq!(ringing.kind, InvitationKind::Messaging);
    assert_eq!(ringing.message.as_deref(), Some("Hi Alice"));
    assert_eq!(ringing.from_name.as_deref(), Some("Bob"));
    let mut alice_side = ringing.accept().await.unwrap();
    assert_eq!(state(&mut call).await, JoinState::Connected);
    let mut bob_side = call.connected().await.unwrap();

    alice_side.send("1 + 1 = 2\r\nçà va? 👋").await.unwrap();
    let got = until(&mut bob_side, message).await;
    assert_eq!((got.text.as_str(), got.content_type.as_str()), ("1 + 1 = 2\r\nçà va? 👋", "text/plain"));
    assert_eq!(got.from.as_ref().and_then(|f| f.name.as_deref()), Some("Alice"));
    got.reply("echo: yes").await.unwrap();
    assert_eq!(until(&mut alice_side, message).await.text, "echo: yes");
    // The application-wide stream sees the same message.
    let seen = next_incoming(&mut incoming, |e| match e {
        IncomingEvent::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(seen.conversation, alice_side.href());
    bob_side.send_html("<b>bye</b>").await.unwrap();
    let html = until(&mut alice_side, message).await;
    assert_eq!((html.text.as_str(), html.content_type.as_str()), ("<b>bye</b>", "text/html"));

    bob_side.leave().await.unwrap();
    let reason = until(&mut alice_side, |c| match c {
        ConversationChange::Ended { reason } => Some(reason),
        _ => None,
    })
    .await;
    assert_eq!(reason.and_then(|r| r.subcode), Some(ErrorSubcode::Ended));
}

#[tokio::test]
async fn a_declined_call_fails_with_its_reason() {
    let server = TestServer::start().await;
    let (_, alice) = user_app(&server, "sip:alice@example.com", "Alice").await;
    let (_, bob) = user_app(&server, "sip:bob@example.com", "Bob").await;
    alice.make_me_available().await.unwrap();
    let mut incoming = alice.incoming().unwrap();
    let mut call = bob.start_messaging(sip("sip:alice@example.com"), None).await.unwrap();
    next_invitation(&mut incoming).await.decline().await.unwrap();
    assert_eq!(state(&mut call).await, JoinState::Connecting);
    match state(&mut call).await {
        JoinState::Failed(failure) => assert_eq!(failure.reason, FailureReason::Declined),
        other => panic!("{other:?}"),
    }
    // Nobody online: the call fails at once with TemporarilyUnavailable.
    let (_, carol) = user_app(&server, "sip:carol@example.com", "Carol").await;
    let mut call = alice.start_messaging(sip("sip:carol@example.com"), None).await.unwrap();
    let last = loop {
        match state(&mut call).await {
            JoinState::Failed(failure) => break failure.reason,
            _ => continue,
        }
    };
    assert_eq!(last, FailureReason::Unavailable);
    drop(carol);
}

#[tokio::test]
async fn meeting_chat_and_an_invitation_into_the_meeting() {
    let server = TestServer::start().await;
    let (_, alice) = user_app(&server, "sip:alice@example.com", "Alice").await;
    let mut settings = MeetingSettings::default();
    settings.subject = Some("Chat".into());
    let meeting = alice.meetings().unwrap().create(&settings).await.unwrap();
    let mut alice_in = alice.join_meeting(&meeting.address().unwrap()).await.unwrap().connected().await.unwrap();

    // Carol is invited in and answers; an invitee does not wait in the lobby.
    let (_, carol) = user_app(&server, "sip:carol@example.com", "Carol").await;
    carol.make_me_available().await.unwrap();
    let mut incoming = carol.incoming().unwrap();
    alice_in.add_participant(sip("sip:carol@example.com")).await.unwrap();
    let invitation = next_invitation(&mut incoming).await;
    assert_eq!(invitation.kind, InvitationKind::Meeting);
    assert_eq!(invitation.from_name.as_deref(), Some("Alice"));
    let mut carol_in = invitation.accept().await.unwrap();
    let roster = carol_in.participants().await.unwrap();
    assert!(roster.iter().any(|p| p.uri() == Some("sip:alice@example.com")), "{roster:?}");

    // Messages reach those whose messaging is connected.
    carol_in.start_messaging().await.unwrap();
    alice_in.send("hello, meeting").await.unwrap();
    let got = until(&mut carol_in, message).await;
    assert_eq!(got.text, "hello, meeting");
    assert_eq!(got.conversation, carol_in.href());
    got.reply("hi Alice").await.unwrap();
    assert_eq!(until(&mut alice_in, message).await.text, "hi Alice");
    assert!(alice_in.lobby().await.unwrap().is_empty());
}
