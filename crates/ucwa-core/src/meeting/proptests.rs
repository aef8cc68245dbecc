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

/// Turns an op into a command over sessions `s0..s{n-1}`; each join gets a fresh invitation id.
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
            self.observe(&inv, &notice.kind)?;
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
                ConversationState::Conferenced => {
                    prop_assert_eq!(inv.state, InvitationState::Connected);
                    prop_assert_eq!(session.lobby_deadline_ms, None);
                }
                ConversationState::Disconnected => {
                    prop_assert_ne!(inv.state, InvitationState::Connecting);
                    prop_assert_eq!(session.lobby_deadline_ms, None);
                    prop_assert!(self.deleted.contains(&inv.id));
                }
                transient => prop_assert!(false, "{} at rest in {:?}", id, transient),
            }
            prop_assert!(!(meeting.is_ended() && session.state != ConversationState::Disconnected));
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
        let deadline = meeting.sessions().values().filter(|s| s.is_waiting()).filter_map(|s| s.lobby_deadline_ms).min();
        prop_assert_eq!(meeting.next_deadline(), deadline);
        Ok(())
    }
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
    let mut meeting = Meeting::new("ABCDE", settings);
    let mut observer = Observer::default();
    let (mut now, mut joins) = (0i64, 0usize);
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
    Ok(())
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
