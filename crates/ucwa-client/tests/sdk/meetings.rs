//! Meetings through the SDK: scheduling (create, list, find, update, delete), joining with
//! the lobby (admit, reject, cancel, the meeting ending), a guest joining by the join URL,
//! and the roster actions of a leader.

use ucwa_client::proto::error::ErrorSubcode;
use ucwa_client::proto::request::MeetingSettings;
use ucwa_client::proto::values::{AccessLevel, Role};
use ucwa_client::{
    AppOptions, Client, Conversation, ConversationChange, Credentials, FailureReason, Join, JoinState, MeetingAddress,
    Participant, ScheduledMeeting, View,
};
use ucwa_testkit::TestServer;

use crate::{quick, reaches_lobby, state, until, user_app, within};

fn locked(subject: &str) -> MeetingSettings {
    let mut settings = MeetingSettings::default();
    settings.subject = Some(subject.into());
    settings.access_level = Some(AccessLevel::Locked);
    settings
}

/// The next participant to enter the lobby.
pub(crate) async fn next_in_lobby(conversation: &mut Conversation) -> Participant {
    until(conversation, |change| match change {
        ConversationChange::Entered { participant, view: View::Lobby } => Some(participant),
        _ => None,
    })
    .await
}

/// A guest application of the meeting at `reference` (a join URL or URI).
async fn guest_join(server: &TestServer, reference: &str, name: &str) -> (MeetingAddress, Join) {
    let client = Client::new(&server.url).unwrap();
    let meeting = client.resolve_meeting(reference).await.unwrap();
    let session = client.sign_in(Credentials::guest(meeting.clone(), name)).await.unwrap();
    let app = session.application_with(AppOptions::new(format!("guest-{name}")).channel(quick())).await.unwrap();
    let join = app.join_meeting(&meeting).await.unwrap();
    (meeting, join)
}

/// Alice organizes a Locked meeting and is in it.
async fn alice_in_her_meeting(server: &TestServer) -> (ScheduledMeeting, Conversation) {
    let (_, alice) = user_app(server, "sip:alice@example.com", "Alice").await;
    let meeting = alice.meetings().unwrap().create(&locked("Weekly")).await.unwrap();
    let mut join = alice.join_meeting(&meeting.address().unwrap()).await.unwrap();
    assert_eq!(state(&mut join).await, JoinState::Connecting);
    assert_eq!(state(&mut join).await, JoinState::Connected, "the organizer never waits");
    (meeting, join.connected().await.unwrap())
}

#[tokio::test]
async fn meetings_are_created_listed_found_updated_and_deleted() {
    let server = TestServer::start().await;
    let (client, alice) = user_app(&server, "sip:alice@example.com", "Alice").await;
    let meetings = alice.meetings().unwrap();
    let mut meeting = meetings.create(&locked("Weekly")).await.unwrap();
    let join_url = meeting.join_url().unwrap().to_owned();
    let id = meeting.id().unwrap().to_owned();
    let list = meetings.list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].subject.as_deref(), Some("Weekly"));
    for reference in [id.as_str(), &id.to_lowercase(), join_url.as_str(), meeting.address().unwrap().uri.as_str()] {
        let found = meetings.find(reference).await.unwrap().unwrap_or_else(|| panic!("{reference}"));
        assert_eq!(found.href(), meeting.href());
    }
    assert!(meetings.find("NOPE1234").await.unwrap().is_none());
    // The join URL leads to the same meeting for anyone holding it.
    let address = client.resolve_meeting(&join_url).await.unwrap();
    assert_eq!((address.uri, address.id), (meeting.address().unwrap().uri, id.clone()));

    meeting.update(|m| m.subject = Some("Weekly, moved".into())).await.unwrap();
    // A second update with the ETag of the first answer works as well.
    meeting.update(|m| m.description = Some("Room 4".into())).await.unwrap();
    let read = meetings.get(meeting.href()).await.unwrap();
    assert_eq!(read.properties().subject.as_deref(), Some("Weekly, moved"));
    assert_eq!(read.properties().description.as_deref(), Some("Room 4"));
    // Someone else's update meanwhile: the stale copy is read again and the change reapplied.
    let mut stale = read.clone();
    let mut fresh = read;
    fresh.update(|m| m.description = Some("Room 5".into())).await.unwrap();
    stale.update(|m| m.subject = Some("Weekly, again".into())).await.unwrap();
    let read = meetings.get(meeting.href()).await.unwrap();
    assert_eq!(
        (read.properties().subject.as_deref(), read.properties().description.as_deref()),
        (Some("Weekly, again"), Some("Room 5"))
    );

    // Deleting ends it for a guest who waits in its lobby.
    let (_, mut guest) = guest_join(&server, &join_url, "Grace").await;
    reaches_lobby(&mut guest).await;
    meeting.delete().await.unwrap();
    match state(&mut guest).await {
        JoinState::Failed(failure) => assert_eq!(failure.reason, FailureReason::MeetingEnded),
        other => panic!("{other:?}"),
    }
    assert!(meetings.list().await.unwrap().is_empty());
    let gone = client.resolve_meeting(&join_url).await.unwrap_err();
    assert_eq!(gone.status(), Some(404));
}

#[tokio::test]
async fn a_guest_with_the_join_url_waits_until_admitted_and_then_sees_the_roster() {
    let server = TestServer::start().await;
    let (meeting, mut alice) = alice_in_her_meeting(&server).await;
    let (_, mut grace) = guest_join(&server, meeting.join_url().unwrap(), "Grace Hopper").await;
    reaches_lobby(&mut grace).await;
    let waiting = next_in_lobby(&mut alice).await;
    assert_eq!(waiting.name(), Some("Grace Hopper"));
    assert!(waiting.is_anonymous() && waiting.in_lobby());
    assert!(waiting.can(ucwa_client::proto::RelName::Admit));
    let lobby = alice.lobby().await.unwrap();
    assert_eq!(lobby.iter().map(|p| p.name()).collect::<Vec<_>>(), [Some("Grace Hopper")]);
    waiting.admit().await.unwrap();
    assert_eq!(state(&mut grace).await, JoinState::Connected);
    assert!(grace.next_state().await.is_none(), "nothing follows Connected");
    let grace = grace.connected().await.unwrap();
    let mut names: Vec<String> =
        grace.participants().await.unwrap().iter().map(|p| p.name().unwrap_or_default().to_owned()).collect();
    names.sort();
    assert_eq!(names, ["Alice", "Grace Hopper"]);
    assert!(alice.lobby().await.unwrap().is_empty());
    // Alice saw her leave the lobby and enter the attendees.
    until(&mut alice, |change| match change {
        ConversationChange::Entered { participant, view: View::Attendees } => participant.name().map(str::to_owned),
        _ => None,
    })
    .await;
}

#[tokio::test]
async fn rejection_cancellation_and_admit_all_end_joins_with_their_reasons() {
    let server = TestServer::start().await;
    let (meeting, mut alice) = alice_in_her_meeting(&server).await;
    let url = meeting.join_url().unwrap().to_owned();
    let (_, mut eve) = guest_join(&server, &url, "Eve").await;
    reaches_lobby(&mut eve).await;
    next_in_lobby(&mut alice).await.reject().await.unwrap();
    match state(&mut eve).await {
        JoinState::Failed(failure) => {
            assert_eq!(failure.reason, FailureReason::Rejected);
            assert_eq!(failure.error.and_then(|e| e.subcode), Some(ErrorSubcode::Denied));
        }
        other => panic!("{other:?}"),
    }

    let (_, mut mallory) = guest_join(&server, &url, "Mallory").await;
    reaches_lobby(&mut mallory).await;
    mallory.cancel().await.unwrap();
    match state(&mut mallory).await {
        JoinState::Failed(failure) => assert_eq!(failure.reason, FailureReason::Cancelled),
        other => panic!("{other:?}"),
    }
    assert!(mallory.cancel().await.is_err(), "nothing left to cancel");

    let (_, mut ann) = guest_join(&server, &url, "Ann").await;
    let (_, mut bo) = guest_join(&server, &url, "Bo").await;
    for join in [&mut ann, &mut bo] {
        reaches_lobby(join).await;
    }
    next_in_lobby(&mut alice).await;
    next_in_lobby(&mut alice).await;
    let mut admitted: Vec<String> =
        alice.admit_all().await.unwrap().iter().map(|p| p.name().unwrap_or_default().to_owned()).collect();
    admitted.sort();
    assert_eq!(admitted, ["Ann", "Bo"]);
    for join in [&mut ann, &mut bo] {
        assert_eq!(state(join).await, JoinState::Connected);
    }
}

#[tokio::test]
async fn a_leader_promotes_demotes_and_ejects() {
    let server = TestServer::start().await;
    let (meeting, mut alice) = alice_in_her_meeting(&server).await;
    let (_, bob) = user_app(&server, "sip:bob@other.example", "Bob").await;
    let join = bob.join_meeting(&meeting.address().unwrap()).await.unwrap();
    next_in_lobby(&mut alice).await.admit().await.unwrap();
    let mut bob_in = within("Bob's join", join.connected()).await.unwrap();
    let attendee = until(&mut alice, |change| match change {
        ConversationChange::Entered { participant, view: View::Attendees } => Some(participant),
        _ => None,
    })
    .await;
    assert_eq!(attendee.uri(), Some("sip:bob@other.example"));
    assert_eq!(attendee.role(), Some(&Role::Attendee));
    attendee.promote().await.unwrap();
    let leader = until(&mut alice, |change| match change {
        ConversationChange::Entered { participant, view: View::Leaders } if !participant.is_local() => {
            Some(participant)
        }
        _ => None,
    })
    .await;
    assert_eq!(leader.role(), Some(&Role::Leader));
    assert!(leader.refresh().await.unwrap().can(ucwa_client::proto::RelName::Demote));
    leader.refresh().await.unwrap().demote().await.unwrap();
    let attendee = until(&mut alice, |change| match change {
        ConversationChange::Entered { participant, view: View::Attendees } => Some(participant),
        _ => None,
    })
    .await;
    assert_eq!(attendee.role(), Some(&Role::Attendee));
    // An attendee cannot act on the organizer: the link is not there, and no request is made.
    let organizer = bob_in.participants().await.unwrap().into_iter().find(|p| p.is_organizer()).unwrap();
    assert!(matches!(organizer.eject().await, Err(ucwa_client::Error::NotAvailable { .. })));
    attendee.refresh().await.unwrap().eject().await.unwrap();
    let reason = until(&mut bob_in, |change| match change {
        ConversationChange::Ended { reason } => Some(reason),
        _ => None,
    })
    .await;
    assert_eq!(reason.and_then(|r| r.subcode), Some(ErrorSubcode::Ejected));
    assert!(bob_in.next_change().await.is_none(), "nothing follows the end");
}
