//! Invariants over random command sequences: random settings, 2-6 sessions, random actors and
//! targets, random time advances. Every step is checked, and the notices are replayed into a
//! model of what each session has been told, which must match the meeting's state.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::fixtures::*;
use super::*;

const IDENTITIES: usize = 8;

/// A session chosen either blindly (`aimed == false`: any index, often an invalid target) or
/// among the sessions a valid command would name, so that successful lobby and roster actions
/// are frequent.
#[derive(Debug, Clone, Copy)]
struct Pick {
    index: usize,
    aimed: bool,
}

#[derive(Debug, Clone)]
enum Op {
    Join { session: usize, who: usize, lobby_timeout_ms: u64 },
    Admit { actor: Pick, target: Pick },
    Reject { actor: Pick, target: Pick },
    Cancel { session: Pick },
    Leave { session: Pick },
    Promote { actor: Pick, target: Pick },
    Demote { actor: Pick, target: Pick },
    Eject { actor: Pick, target: Pick },
    ExpireLobbies,
    End,
    Forget { session: Pick },
    Invite { actor: Pick, who: usize, apps: usize, timeout_ms: u64 },
    Accept { session: Pick },
    Decline { session: Pick, local_only: bool },
    CancelInvitation { actor: Pick, index: usize },
    AddMessaging { session: Pick },
    StopMessaging { session: Pick },
    SendMessage { session: Pick },
    SetTyping { session: Pick },
}

fn access_level() -> impl Strategy<Value = AccessLevel> {
    prop_oneof![
        Just(AccessLevel::Everyone),
        Just(AccessLevel::Invited),
        Just(AccessLevel::SameEnterprise),
        Just(AccessLevel::Locked),
    ]
}

fn leader_assignment() -> impl Strategy<Value = AutomaticLeaderAssignment> {
    prop_oneof![
        Just(AutomaticLeaderAssignment::Disabled),
        Just(AutomaticLeaderAssignment::SameEnterprise),
        Just(AutomaticLeaderAssignment::Everyone),
    ]
}

fn meeting_settings() -> impl Strategy<Value = MeetingSettings> {
    (access_level(), leader_assignment(), any::<bool>(), any::<[bool; 5]>()).prop_map(
        |(level, auto, bypass, listed)| {
            let pick =
                |uris: &[(&str, bool)]| uris.iter().filter(|(_, on)| *on).map(|(uri, _)| (*uri).to_owned()).collect();
            MeetingSettings {
                access_level: level,
                automatic_leader_assignment: auto,
                lobby_bypass_for_phone_users: if bypass { Toggle::Enabled } else { Toggle::Disabled },
                leaders: pick(&[(LEADER, listed[0]), (COLLEAGUE, listed[1])]),
                attendees: pick(&[(INVITEE, listed[2]), (OUTSIDER, listed[3]), (COLLEAGUE, listed[4])]),
                ..MeetingSettings::new(ORGANIZER, EXPIRES)
            }
        },
    )
}

fn pick() -> impl Strategy<Value = Pick> {
    (0usize..6, any::<bool>()).prop_map(|(index, aimed)| Pick { index, aimed })
}

fn op() -> impl Strategy<Value = Op> {
    let pair = || (pick(), pick());
    prop_oneof![
        16 => (0usize..6, 0..IDENTITIES, 0u64..200_000)
            .prop_map(|(session, who, lobby_timeout_ms)| Op::Join { session, who, lobby_timeout_ms }),
        10 => pair().prop_map(|(actor, target)| Op::Admit { actor, target }),
        6 => pair().prop_map(|(actor, target)| Op::Reject { actor, target }),
        4 => pick().prop_map(|session| Op::Cancel { session }),
        4 => pick().prop_map(|session| Op::Leave { session }),
        6 => pair().prop_map(|(actor, target)| Op::Promote { actor, target }),
        6 => pair().prop_map(|(actor, target)| Op::Demote { actor, target }),
        4 => pair().prop_map(|(actor, target)| Op::Eject { actor, target }),
        6 => Just(Op::ExpireLobbies),
        4 => pick().prop_map(|session| Op::Forget { session }),
        // Rare, so that most runs live long; every run also ends with one.
        1 => Just(Op::End),
        8 => (pick(), 0..IDENTITIES, 0usize..3, 0u64..200_000)
            .prop_map(|(actor, who, apps, timeout_ms)| Op::Invite { actor, who, apps, timeout_ms }),
        8 => pick().prop_map(|session| Op::Accept { session }),
        4 => (pick(), any::<bool>()).prop_map(|(session, local_only)| Op::Decline { session, local_only }),
        2 => (pick(), 0usize..4).prop_map(|(actor, index)| Op::CancelInvitation { actor, index }),
        4 => pick().prop_map(|session| Op::AddMessaging { session }),
        2 => pick().prop_map(|session| Op::StopMessaging { session }),
        4 => pick().prop_map(|session| Op::SendMessage { session }),
        4 => pick().prop_map(|session| Op::SetTyping { session }),
    ]
}

fn identity(who: usize, session: usize) -> Identity {
    match who {
        0 => user(ORGANIZER),
        1 => user(LEADER),
        2 => user(INVITEE),
        3 => user(COLLEAGUE),
        4 => user(OUTSIDER),
        5 => anonymous(session as u32),
        6 => user("tel:+14255550100"),
        _ => trusted_app(),
    }
}

/// Turns an op into a command over sessions `s0..s{n-1}` (invitees get fresh `i<k>` ids);
/// each join and invitation gets a fresh id.
fn command(op: &Op, meeting: &Meeting, n: usize, joins: &mut usize) -> Command {
    let blind = |i: usize| format!("s{}", i % n);
    // An aimed pick names one of the sessions that fit, if any do.
    let choose = |pick: Pick, fits: fn(&Session) -> bool| {
        let fitting: Vec<&SessionId> = meeting.sessions().iter().filter(|(_, s)| fits(s)).map(|(id, _)| id).collect();
        match fitting.len() {
            len if pick.aimed && len > 0 => fitting[pick.index % len].clone(),
            _ => blind(pick.index),
        }
    };
    let leader = |pick| choose(pick, Session::leads);
    match *op {
        Op::Join { session, who, lobby_timeout_ms } => {
            *joins += 1;
            Join {
                session_id: blind(session),
                app_id: format!("app{}", session % n),
                identity: identity(who, session % n),
                invitation: InvitationRequest::outgoing(format!("inv{joins}")),
                lobby_timeout_ms,
            }
            .into()
        }
        Op::Admit { actor, target } => {
            Command::Admit { actor: leader(actor), target: choose(target, Session::is_waiting) }
        }
        Op::Reject { actor, target } => {
            Command::Reject { actor: leader(actor), target: choose(target, Session::is_waiting) }
        }
        Op::Cancel { session } => Command::Cancel { session: choose(session, Session::is_waiting) },
        Op::Leave { session } => {
            Command::Leave { session: choose(session, |s| s.state != ConversationState::Disconnected) }
        }
        Op::Promote { actor, target } => Command::Promote {
            actor: leader(actor),
            target: choose(target, |s| s.is_shown() && s.role == Role::Attendee),
        },
        Op::Demote { actor, target } => {
            Command::Demote { actor: leader(actor), target: choose(target, |s| s.is_shown() && s.role == Role::Leader) }
        }
        Op::Eject { actor, target } => {
            Command::Eject { actor: leader(actor), target: choose(target, Session::is_shown) }
        }
        Op::ExpireLobbies => Command::ExpireLobbies,
        Op::End => Command::End,
        Op::Forget { session } => {
            Command::Forget { session: choose(session, |s| s.state == ConversationState::Disconnected) }
        }
        Op::Invite { actor, who, apps, timeout_ms } => {
            *joins += 1;
            let identity = identity(who, *joins);
            let invitees = (0..apps)
                .map(|k| Invitee {
                    session_id: format!("i{joins}-{k}"),
                    app_id: format!("app-i{joins}-{k}"),
                    identity: identity.clone(),
                })
                .collect();
            Invite {
                actor: choose(actor, Session::in_roster),
                invitation: ParticipantInvitationRequest {
                    id: format!("p{joins}"),
                    operation_id: None,
                    to: identity.uri.clone(),
                    subject: None,
                    importance: Importance::Normal,
                    message: Some(Content::new("text/plain", "hi")),
                    custom_content: None,
                },
                invitees,
                answer_timeout_ms: timeout_ms,
            }
            .into()
        }
        Op::Accept { session } => Command::Accept { session: choose_any(meeting, session, n, Session::is_ringing) },
        Op::Decline { session, local_only } => {
            Command::Decline { session: choose_any(meeting, session, n, Session::is_ringing), local_only }
        }
        Op::CancelInvitation { actor, index } => {
            let actor = choose(actor, |s| !s.participant_invitations.is_empty());
            let invitation = meeting
                .session(&actor)
                .and_then(|s| s.participant_invitations.get(index % s.participant_invitations.len().max(1)))
                .map(|p| p.id.clone())
                .unwrap_or_else(|| "p0".to_owned());
            Command::CancelParticipantInvitation { actor, invitation }
        }
        Op::AddMessaging { session } => Command::AddMessaging {
            session: choose(session, |s| s.in_roster() && s.messaging == ModalityState::Disconnected),
            operation_id: None,
        },
        Op::StopMessaging { session } => {
            Command::StopMessaging { session: choose(session, Session::receives_messages) }
        }
        Op::SetTyping { session } => Command::SetTyping { session: choose(session, Session::receives_messages) },
        Op::SendMessage { session } => {
            *joins += 1;
            Command::SendMessage {
                session: choose(session, Session::receives_messages),
                message: MessageRequest {
                    id: format!("m{joins}"),
                    operation_id: None,
                    content: Content::new("text/html", "<b>x</b>"),
                },
            }
        }
    }
}

/// Like an aimed pick, over every session id (invitees' ids are not `s<k>`).
fn choose_any(meeting: &Meeting, pick: Pick, n: usize, fits: fn(&Session) -> bool) -> SessionId {
    let fitting: Vec<&SessionId> = meeting.sessions().iter().filter(|(_, s)| fits(s)).map(|(id, _)| id).collect();
    match fitting.len() {
        len if pick.aimed && len > 0 => fitting[pick.index % len].clone(),
        _ => format!("s{}", pick.index % n),
    }
}

/// What one conversation has been told about the others.
#[derive(Debug, Default, PartialEq)]
struct Views {
    lobby: BTreeSet<SessionId>,
    roster: BTreeMap<SessionId, View>,
}

/// Everything learnt from the notices so far, keyed by invitation id (a session id can be
/// reused after `Forget`).
#[derive(Debug, Default)]
struct Observer {
    started: BTreeSet<String>,
    completions: BTreeMap<String, usize>,
    conferenced: BTreeSet<String>,
    in_roster: BTreeSet<String>,
    deleted: BTreeSet<String>,
    views: BTreeMap<String, Views>,
    /// Participant invitations started, and how often each completed.
    pinv_started: BTreeSet<String>,
    pinv_completions: BTreeMap<String, usize>,
    /// (viewer, typist) pairs announced and not yet stopped.
    typing: BTreeSet<(String, String)>,
}

impl Observer {
    fn replay(&mut self, meeting: &Meeting, notices: &[Notice]) -> Result<(), TestCaseError> {
        for notice in notices {
            let to = meeting.session(&notice.to);
            let to = to.ok_or_else(|| TestCaseError::fail(format!("notice to unknown session: {notice:?}")))?;
            let inv = to.invitation.id.clone();
            prop_assert!(!self.deleted.contains(&inv), "notice after ConversationDeleted: {notice:?}");
            prop_assert!(
                self.started.contains(&inv) || notice.kind == NoticeKind::InvitationStarted,
                "notice before InvitationStarted: {notice:?}"
            );
            if let Some(subject) = participant_subject(&notice.kind) {
                prop_assert_ne!(subject, &notice.to);
                let hidden = meeting.session(subject).is_some_and(|s| s.identity.trusted);
                prop_assert!(!hidden, "a trusted session was shown: {notice:?}");
            }
            self.observe_operations(meeting, notice)?;
            self.observe(&inv, &notice.kind)?;
        }
        Ok(())
    }

    /// Participant invitations and messages.
    fn observe_operations(&mut self, meeting: &Meeting, notice: &Notice) -> Result<(), TestCaseError> {
        match &notice.kind {
            NoticeKind::ParticipantInvitationStarted { id } => {
                prop_assert!(self.pinv_started.insert(id.clone()), "participant invitation started twice: {}", id);
            }
            NoticeKind::ParticipantInvitationCompleted { id } => {
                prop_assert!(self.pinv_started.contains(id), "completed before started: {}", id);
                let count = self.pinv_completions.entry(id.clone()).or_default();
                *count += 1;
                prop_assert_eq!(*count, 1, "second completion of participant invitation {}", id);
                let pinv =
                    meeting.session(&notice.to).and_then(|s| s.participant_invitations.iter().find(|p| &p.id == id));
                let pinv = pinv.ok_or_else(|| TestCaseError::fail(format!("no such participant invitation {id}")))?;
                if pinv.state == InvitationState::Connected {
                    let accepted = pinv.accepted_by.as_deref().and_then(|a| meeting.session(a));
                    prop_assert!(accepted.is_some_and(Session::in_roster), "success before the invitee is listed");
                }
            }
            NoticeKind::TypingStarted { subject } => {
                let to = meeting.session(&notice.to);
                prop_assert!(to.is_some_and(Session::receives_messages), "typing told to {}: {:?}", notice.to, to);
                let typing = meeting.session(subject).and_then(|s| s.typing.as_ref());
                prop_assert!(typing.is_some_and(|t| t.told.contains(&notice.to)), "{} typing untracked", subject);
                prop_assert!(
                    self.typing.insert((notice.to.clone(), subject.clone())),
                    "typing started twice: {notice:?}"
                );
            }
            NoticeKind::TypingStopped { subject } => {
                prop_assert!(
                    self.typing.remove(&(notice.to.clone(), subject.clone())),
                    "stopped unannounced: {notice:?}"
                );
            }
            // A viewer that no longer receives messages is not told of typing any more.
            NoticeKind::MessagingUpdated { state: ModalityState::Disconnected } | NoticeKind::ConversationDeleted => {
                self.typing.retain(|(viewer, _)| viewer != &notice.to);
            }
            NoticeKind::MessageReceived { message } => {
                let to = meeting.session(&notice.to);
                prop_assert!(to.is_some_and(Session::receives_messages), "a message reached {}: {:?}", notice.to, to);
                prop_assert_ne!(&message.sender, &notice.to);
            }
            _ => {}
        }
        Ok(())
    }

    fn observe(&mut self, inv: &str, kind: &NoticeKind) -> Result<(), TestCaseError> {
        let views = self.views.entry(inv.to_owned()).or_default();
        match kind {
            NoticeKind::InvitationStarted => {
                prop_assert!(self.started.insert(inv.to_owned()), "started twice")
            }
            NoticeKind::InvitationCompleted { state } => {
                let count = self.completions.entry(inv.to_owned()).or_default();
                *count += 1;
                prop_assert_eq!(*count, 1, "second completion of {}", inv);
                prop_assert_ne!(*state, InvitationState::Connecting);
                if *state == InvitationState::Connected {
                    prop_assert!(self.in_roster.contains(inv), "success before its participant is in the roster");
                }
            }
            NoticeKind::ConversationUpdated { state: ConversationState::Conferenced } => {
                self.conferenced.insert(inv.to_owned());
            }
            // A two-party caller's local participant was listed at the start of the call.
            NoticeKind::ConversationUpdated { state: ConversationState::Connected } => {
                self.conferenced.insert(inv.to_owned());
                self.in_roster.insert(inv.to_owned());
            }
            NoticeKind::LocalParticipantAdded if self.conferenced.contains(inv) => {
                self.in_roster.insert(inv.to_owned());
            }
            NoticeKind::ConversationDeleted => {
                self.deleted.insert(inv.to_owned());
                self.views.remove(inv);
            }
            NoticeKind::ParticipantAdded { subject, in_view: Some(View::Lobby) } => {
                prop_assert!(views.lobby.insert(subject.clone()), "added to the lobby twice: {}", subject);
            }
            NoticeKind::ParticipantAdded { subject, in_view: Some(view) } => {
                prop_assert_eq!(views.roster.insert(subject.clone(), *view), None, "added twice: {}", subject);
            }
            NoticeKind::ParticipantDeleted { subject, in_view: Some(View::Lobby), .. } => {
                prop_assert!(views.lobby.remove(subject), "deleted from a lobby it was not in: {}", subject);
            }
            NoticeKind::ParticipantDeleted { subject, in_view: Some(view), .. } => {
                prop_assert_eq!(views.roster.remove(subject), Some(*view), "deleted from the wrong view: {}", subject);
            }
            NoticeKind::ParticipantDeleted { subject, in_view: None, .. } => {
                prop_assert!(views.roster.remove(subject).is_some(), "deleted but never added: {}", subject);
            }
            NoticeKind::ParticipantUpdated { subject } => {
                prop_assert!(views.roster.contains_key(subject), "updated but not shown: {}", subject);
            }
            NoticeKind::ParticipantAdded { in_view: None, .. } => {
                prop_assert!(false, "add without a view")
            }
            _ => {}
        }
        Ok(())
    }

    /// The meeting and what each session was told agree.
    fn check(&self, meeting: &Meeting) -> Result<(), TestCaseError> {
        for (id, session) in meeting.sessions() {
            let inv = &session.invitation;
            let completions = self.completions.get(&inv.id).copied().unwrap_or_default();
            prop_assert_eq!(completions, usize::from(inv.state != InvitationState::Connecting), "{}", id);
            match session.state {
                ConversationState::InLobby => {
                    prop_assert_eq!(inv.state, InvitationState::Connecting);
                    prop_assert!(session.lobby_deadline_ms.is_some());
                }
                ConversationState::Conferenced | ConversationState::Connected => {
                    prop_assert_eq!(inv.state, InvitationState::Connected);
                    prop_assert_eq!(session.lobby_deadline_ms, None);
                }
                ConversationState::Incoming => {
                    // A copy rings only while its outgoing invitation is pending.
                    prop_assert_eq!(inv.state, InvitationState::Connecting);
                    let ring = inv.ring.as_ref().ok_or_else(|| TestCaseError::fail("incoming without ring"))?;
                    prop_assert!(outgoing_pending(meeting, &ring.inviter, &ring.offer), "{} rings for nothing", id);
                    prop_assert_eq!(session.messaging, ModalityState::Disconnected);
                }
                ConversationState::Connecting => {
                    prop_assert_eq!(inv.state, InvitationState::Connecting);
                    prop_assert!(ringing_copies(meeting, &inv.id) > 0, "{} calls nobody", id);
                }
                ConversationState::Disconnected => {
                    prop_assert_ne!(inv.state, InvitationState::Connecting);
                    prop_assert_eq!(session.lobby_deadline_ms, None);
                    prop_assert!(self.deleted.contains(&inv.id));
                }
                transient => prop_assert!(false, "{} at rest in {:?}", id, transient),
            }
            prop_assert!(!(meeting.is_ended() && session.state != ConversationState::Disconnected));
            // A participant href names one session: keys are unique among the sessions
            // others can see (only ringing copies of one invitation share theirs).
            if !matches!(session.state, ConversationState::Disconnected | ConversationState::Incoming) {
                let holders = meeting
                    .sessions()
                    .values()
                    .filter(|s| s.participant_key == session.participant_key)
                    .filter(|s| !matches!(s.state, ConversationState::Disconnected | ConversationState::Incoming))
                    .count();
                prop_assert_eq!(holders, 1, "{} shares its participant key", id);
                prop_assert_eq!(meeting.participant_session(&session.participant_key), Some(id));
            }
            for pinv in &session.participant_invitations {
                let completions = self.pinv_completions.get(&pinv.id).copied().unwrap_or_default();
                prop_assert_eq!(completions, usize::from(pinv.state != InvitationState::Connecting), "{}", pinv.id);
                if pinv.state == InvitationState::Connecting {
                    prop_assert!(ringing_copies(meeting, &pinv.id) > 0, "{} pending but rings nobody", pinv.id);
                }
            }
            if session.messaging != ModalityState::Disconnected {
                prop_assert!(session.in_roster() || session.state == ConversationState::Connecting);
            }
            // Only who can send a message types, and it is told to those it was announced to.
            if let Some(typing) = &session.typing {
                prop_assert!(session.receives_messages(), "{} types without messaging", id);
                for viewer in &typing.told {
                    prop_assert!(self.typing.contains(&(viewer.clone(), id.clone())), "{} not told {}", viewer, id);
                }
            }
            let told = self.views.get(&inv.id).map(|v| (&v.lobby, &v.roster));
            let expected = expected_views(meeting, id);
            let empty = Views::default();
            prop_assert_eq!(
                told.unwrap_or((&empty.lobby, &empty.roster)),
                (&expected.lobby, &expected.roster),
                "{}",
                id
            );
        }
        let lobby = meeting.sessions().values().filter(|s| s.is_waiting()).filter_map(|s| s.lobby_deadline_ms);
        let rings = meeting.sessions().values().filter(|s| s.is_ringing()).filter_map(|s| s.invitation.ring.as_ref());
        let typing = meeting.sessions().values().filter_map(|s| s.typing.as_ref().map(|t| t.until_ms));
        let deadline = lobby.chain(rings.map(|r| r.deadline_ms)).chain(typing).min();
        prop_assert_eq!(meeting.next_deadline(), deadline);
        Ok(())
    }
}

/// How many incoming copies of `offer` still ring.
fn ringing_copies(meeting: &Meeting, offer: &str) -> usize {
    meeting
        .sessions()
        .values()
        .filter(|s| s.is_ringing() && s.invitation.ring.as_ref().is_some_and(|r| r.offer == offer))
        .count()
}

/// The outgoing side of `offer` (a participant invitation or a call) is still `Connecting`.
fn outgoing_pending(meeting: &Meeting, inviter: &str, offer: &str) -> bool {
    meeting.session(inviter).is_some_and(|s| {
        s.participant_invitations.iter().any(|p| p.id == offer && p.state == InvitationState::Connecting)
            || (s.invitation.id == offer && s.invitation.state == InvitationState::Connecting)
    })
}

fn participant_subject(kind: &NoticeKind) -> Option<&SessionId> {
    match kind {
        NoticeKind::ParticipantAdded { subject, .. }
        | NoticeKind::ParticipantUpdated { subject }
        | NoticeKind::ParticipantDeleted { subject, .. } => Some(subject),
        _ => None,
    }
}

/// What `viewer` should currently see: shown roster members, and the lobby if it leads.
fn expected_views(meeting: &Meeting, viewer: &str) -> Views {
    let Some(me) = meeting.session(viewer).filter(|s| s.in_roster()) else {
        return Views::default();
    };
    let others = || meeting.sessions().iter().filter(|(id, _)| id.as_str() != viewer);
    Views {
        lobby: others().filter(|(_, s)| me.leads() && s.is_waiting()).map(|(id, _)| id.clone()).collect(),
        roster: others().filter(|(_, s)| s.is_shown()).map(|(id, s)| (id.clone(), s.view())).collect(),
    }
}

fn run(settings: MeetingSettings, n: usize, steps: &[(i64, Op)]) -> Result<(), TestCaseError> {
    run_from(Meeting::new("ABCDE", settings), Observer::default(), n, steps, 0)
}

/// Runs `steps` on `meeting`, whose earlier notices `observer` has seen.
fn run_from(
    mut meeting: Meeting,
    mut observer: Observer,
    n: usize,
    steps: &[(i64, Op)],
    joins: usize,
) -> Result<(), TestCaseError> {
    let (mut now, mut joins) = (0i64, joins);
    let mut last_ops = steps.iter().map(|(advance, op)| (*advance, op.clone())).collect::<Vec<_>>();
    // Finish every run with the end of the meeting, so every invitation must have completed.
    last_ops.push((0, Op::End));
    for (advance, op) in last_ops {
        now += advance;
        let cmd = command(&op, &meeting, n, &mut joins);
        let before = serde_json::to_string(&meeting).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let version = meeting.version();
        match meeting.handle(cmd.clone(), now) {
            Ok(notices) => {
                prop_assert!(meeting.version() > version);
                observer.replay(&meeting, &notices)?;
            }
            Err(error) => {
                let after = serde_json::to_string(&meeting).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(before, after, "{:?} failed with {:?} but changed the meeting", cmd, error);
            }
        }
        observer.check(&meeting)?;
    }
    prop_assert!(meeting.is_ended());
    for inv in &observer.started {
        prop_assert_eq!(observer.completions.get(inv).copied(), Some(1), "{} never completed", inv);
    }
    for inv in &observer.pinv_started {
        prop_assert_eq!(observer.pinv_completions.get(inv).copied(), Some(1), "{} never completed", inv);
    }
    Ok(())
}

/// A two-party call from `s0` to 1-3 applications of another user, then random steps.
fn run_two_party(callee_apps: usize, steps: &[(i64, Op)]) -> Result<(), TestCaseError> {
    let mut meeting = Meeting::two_party("P2P", MeetingSettings::new(ORGANIZER, EXPIRES));
    let mut observer = Observer::default();
    let invitees = (0..callee_apps)
        .map(|k| Invitee { session_id: format!("c{k}"), app_id: format!("app-c{k}"), identity: user(COLLEAGUE) })
        .collect();
    let call = Call {
        session_id: "s0".to_owned(),
        app_id: "app0".to_owned(),
        identity: user(ORGANIZER),
        invitation: InvitationRequest { to: Some(COLLEAGUE.to_owned()), ..InvitationRequest::outgoing("s0") },
        invitees,
        answer_timeout_ms: 30_000,
    };
    let notices = meeting.handle(Command::Call(Box::new(call)), 0).map_err(|e| TestCaseError::fail(e.to_string()))?;
    observer.replay(&meeting, &notices)?;
    observer.check(&meeting)?;
    run_from(meeting, observer, 2, steps, 100)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_over_random_runs(
        settings in meeting_settings(),
        n in 2usize..=6,
        steps in prop::collection::vec((0i64..90_000, op()), 1..80),
    ) {
        run(settings, n, &steps)?;
    }

    /// Two-party calls: answered, declined, missed, escalated by addParticipant, messaged.
    #[test]
    fn two_party_invariants_hold(
        apps in 0usize..=3,
        steps in prop::collection::vec((0i64..40_000, op()), 1..40),
    ) {
        run_two_party(apps, &steps)?;
    }

    /// Two applications of the invitee race to accept: exactly one wins, each copy and the
    /// inviter's participant invitation complete once.
    #[test]
    fn accept_race_has_one_winner(first in 0usize..2, decline_other in any::<bool>()) {
        let mut meeting = Meeting::new("ABCDE", MeetingSettings { access_level: AccessLevel::Locked, ..settings(AccessLevel::Locked) });
        meeting.handle(join_cmd("o", user(ORGANIZER)), 0).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let invitees = (0..2)
            .map(|k| Invitee { session_id: format!("b{k}"), app_id: format!("app-b{k}"), identity: user(OUTSIDER) })
            .collect();
        let invite = Invite {
            actor: "o".to_owned(),
            invitation: ParticipantInvitationRequest {
                id: "p1".to_owned(), operation_id: None, to: OUTSIDER.to_owned(), subject: None,
                importance: Importance::Normal, message: None, custom_content: None,
            },
            invitees,
            answer_timeout_ms: 30_000,
        };
        let mut all = meeting.handle(Command::Invite(Box::new(invite)), 0).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (winner, loser) = (format!("b{first}"), format!("b{}", 1 - first));
        all.extend(meeting.handle(Command::Accept { session: winner.clone() }, 1).map_err(|e| TestCaseError::fail(e.to_string()))?);
        let second = if decline_other {
            Command::Decline { session: loser.clone(), local_only: false }
        } else {
            Command::Accept { session: loser.clone() }
        };
        prop_assert_eq!(meeting.handle(second, 2), Err(MeetingError::Conflict));
        let completions = |to: &str| all.iter().filter(|n| n.to == to && matches!(n.kind, NoticeKind::InvitationCompleted { .. })).count();
        prop_assert_eq!(completions(&winner), 1);
        prop_assert_eq!(completions(&loser), 1);
        let pinv = all.iter().filter(|n| matches!(n.kind, NoticeKind::ParticipantInvitationCompleted { .. })).count();
        prop_assert_eq!(pinv, 1);
        prop_assert!(meeting.session(&winner).is_some_and(Session::in_roster));
        prop_assert_eq!(meeting.session(&loser).map(|s| s.state), Some(ConversationState::Disconnected));
    }

    /// Two leaders race to admit and reject the same waiter: exactly one wins, and the
    /// waiter's invitation completes once.
    #[test]
    fn admit_and_reject_race_has_one_winner(admit_first in any::<bool>(), access in access_level()) {
        let mut meeting = Meeting::new("ABCDE", MeetingSettings { access_level: access, ..settings(AccessLevel::Locked) });
        for (id, who) in [("o", user(ORGANIZER)), ("l", user(LEADER)), ("w", anonymous(1))] {
            meeting.handle(join_cmd(id, who), 0).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        prop_assume!(meeting.session("w").is_some_and(|s| s.is_waiting()));
        let admit = Command::Admit { actor: "o".to_owned(), target: "w".to_owned() };
        let reject = Command::Reject { actor: "l".to_owned(), target: "w".to_owned() };
        let (first, second) = if admit_first { (admit, reject) } else { (reject, admit) };
        let won = meeting.handle(first, 1).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(meeting.handle(second, 2), Err(MeetingError::Conflict));
        let completions = won.iter().filter(|n| n.to == "w" && matches!(n.kind, NoticeKind::InvitationCompleted { .. }));
        prop_assert_eq!(completions.count(), 1);
    }
}
