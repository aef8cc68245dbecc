//! Policy rows (docs/protocol.md, lobby), notice traces (onlineMeetingInvitation) and
//! refusals.

use super::fixtures::*;
use super::*;
use ConversationState as Cs;
use NoticeKind as K;

fn updated(state: ConversationState) -> NoticeKind {
    K::ConversationUpdated { state }
}

fn added(subject: &str, view: View) -> NoticeKind {
    K::ParticipantAdded { subject: subject.to_owned(), in_view: Some(view) }
}

fn deleted(subject: &str, in_view: Option<View>, reason: Option<Reason>) -> NoticeKind {
    K::ParticipantDeleted { subject: subject.to_owned(), in_view, reason }
}

fn p_updated(subject: &str) -> NoticeKind {
    K::ParticipantUpdated { subject: subject.to_owned() }
}

const COMPLETED_OK: NoticeKind = K::InvitationCompleted { state: InvitationState::Connected };
const COMPLETED_FAILED: NoticeKind = K::InvitationCompleted { state: InvitationState::Failed };

/// What a joiner is told before it is placed (docs/protocol.md, onlineMeetingInvitation).
fn joining_prefix() -> Vec<NoticeKind> {
    vec![K::InvitationStarted, K::ConversationAdded { state: Cs::Connecting }, K::LocalParticipantAdded]
}

/// What a joiner is told on entering the conference, before its roster listing.
fn conferencing() -> Vec<NoticeKind> {
    vec![updated(Cs::Conferencing), updated(Cs::Conferenced), K::OnlineMeetingAdded, K::LocalParticipantAdded]
}

/// What a session whose join fails is told (docs/protocol.md, onlineMeetingInvitation).
fn failed_join() -> Vec<NoticeKind> {
    vec![COMPLETED_FAILED, updated(Cs::Disconnected), K::ConversationDeleted]
}

fn ok(meeting: &mut Meeting, cmd: Command) -> Vec<Notice> {
    meeting.handle(cmd, 0).expect("command should succeed")
}

fn state_of(meeting: &Meeting, id: &str) -> ConversationState {
    meeting.session(id).expect("session exists").state
}

fn placement(meeting: &mut Meeting, who: Identity) -> ConversationState {
    ok(meeting, join_cmd("x", who));
    state_of(meeting, "x")
}

fn placed(access_level: AccessLevel, who: Identity) -> ConversationState {
    placement(&mut meeting(access_level), who)
}

fn role_in(settings: MeetingSettings, who: Identity) -> Role {
    let mut meeting = Meeting::new("ABCDE", settings);
    ok(&mut meeting, join_cmd("x", who));
    meeting.session("x").expect("joined").role
}

/// Organizer `o` (leader) and colleague `a` (attendee) in an Invited meeting; `w`, from
/// another company, waits in the lobby.
fn meeting_with_waiter() -> Meeting {
    let mut meeting = meeting(AccessLevel::Invited);
    ok(&mut meeting, join_cmd("o", user(ORGANIZER)));
    ok(&mut meeting, join_cmd("a", user(INVITEE)));
    ok(&mut meeting, join_cmd("w", user(OUTSIDER)));
    assert_eq!(state_of(&meeting, "w"), Cs::InLobby);
    meeting
}

// ---- lobby policy (docs/protocol.md, lobby) ----

#[test]
fn everyone_admits_all_including_anonymous() {
    for who in [user(OUTSIDER), user(COLLEAGUE), anonymous(1), user("tel:+14255550100")] {
        assert_eq!(placed(AccessLevel::Everyone, who), Cs::Conferenced);
    }
}

#[test]
fn same_enterprise_admits_authenticated_tenant_users_only() {
    assert_eq!(placed(AccessLevel::SameEnterprise, user(COLLEAGUE)), Cs::Conferenced);
    assert_eq!(placed(AccessLevel::SameEnterprise, user("sip:Colleague@CONTOSO.com")), Cs::Conferenced);
    assert_eq!(placed(AccessLevel::SameEnterprise, user(OUTSIDER)), Cs::InLobby);
    // A listed attendee from elsewhere still waits: the list only matters for Invited.
    assert_eq!(placed(AccessLevel::SameEnterprise, user(INVITEE)), Cs::InLobby);
    let anonymous_with_tenant_uri = Identity { anonymous: true, ..user(COLLEAGUE) };
    assert_eq!(placed(AccessLevel::SameEnterprise, anonymous_with_tenant_uri), Cs::InLobby);
}

#[test]
fn same_enterprise_uses_the_tenant_domain_not_the_pool_organizer() {
    let mut settings = MeetingSettings::new("sip:meet1692@noammeetings.lync.com", EXPIRES);
    settings.tenant_domain = "contoso.com".to_owned();
    let mut meeting = Meeting::new("YOKMXY1C", settings);
    assert_eq!(placement(&mut meeting, user(COLLEAGUE)), Cs::Conferenced);
}

#[test]
fn invited_admits_listed_attendees_and_leaders() {
    assert_eq!(placed(AccessLevel::Invited, user(INVITEE)), Cs::Conferenced);
    assert_eq!(placed(AccessLevel::Invited, user("sip:GUEST@fabrikam.com")), Cs::Conferenced);
    assert_eq!(placed(AccessLevel::Invited, user(LEADER)), Cs::Conferenced);
    assert_eq!(placed(AccessLevel::Invited, user(COLLEAGUE)), Cs::InLobby);
    assert_eq!(placed(AccessLevel::Invited, anonymous(1)), Cs::InLobby);
}

#[test]
fn locked_admits_only_organizer_and_leaders() {
    assert_eq!(placed(AccessLevel::Locked, user(ORGANIZER)), Cs::Conferenced);
    assert_eq!(placed(AccessLevel::Locked, user(LEADER)), Cs::Conferenced);
    assert_eq!(placed(AccessLevel::Locked, user(INVITEE)), Cs::InLobby);
    assert_eq!(placed(AccessLevel::Locked, user(COLLEAGUE)), Cs::InLobby);
}

#[test]
fn organizer_leaders_and_trusted_never_wait() {
    let levels = [AccessLevel::Everyone, AccessLevel::Invited, AccessLevel::SameEnterprise, AccessLevel::Locked];
    for level in levels {
        for who in [user(ORGANIZER), user(LEADER), trusted_app()] {
            assert_eq!(placed(level, who), Cs::Conferenced, "{level:?}");
        }
    }
}

#[test]
fn anonymous_never_matches_organizer_or_lists() {
    let forged = Identity { anonymous: true, ..user(ORGANIZER) };
    assert_eq!(placed(AccessLevel::Locked, forged.clone()), Cs::InLobby);
    assert_eq!(role_in(settings(AccessLevel::Everyone), forged), Role::Attendee);
}

#[test]
fn phone_users_bypass_the_lobby_unless_locked() {
    let phone = || user("tel:+14255550100");
    let gateway = InvitationRequest {
        local_participant_type: Some("gatewayparticipant".to_owned()),
        ..InvitationRequest::outgoing("inv-x")
    };
    for level in [AccessLevel::Invited, AccessLevel::SameEnterprise] {
        let mut bypass = meeting(level);
        bypass.settings.lobby_bypass_for_phone_users = Toggle::Enabled;
        assert_eq!(placement(&mut bypass.clone(), phone()), Cs::Conferenced);
        ok(&mut bypass, join_with("x", user(OUTSIDER), gateway.clone()));
        assert_eq!(state_of(&bypass, "x"), Cs::Conferenced);
        assert_eq!(placed(level, phone()), Cs::InLobby, "bypass disabled");
    }
    let mut locked = meeting(AccessLevel::Locked);
    locked.settings.lobby_bypass_for_phone_users = Toggle::Enabled;
    assert_eq!(placement(&mut locked, phone()), Cs::InLobby);
}

#[test]
fn roles_follow_lists_and_automatic_leader_assignment() {
    let with_auto = |auto| MeetingSettings { automatic_leader_assignment: auto, ..settings(AccessLevel::Everyone) };
    let disabled = with_auto(AutomaticLeaderAssignment::Disabled);
    assert_eq!(role_in(disabled.clone(), user(ORGANIZER)), Role::Leader);
    assert_eq!(role_in(disabled.clone(), user(LEADER)), Role::Leader);
    assert_eq!(role_in(disabled.clone(), trusted_app()), Role::Leader);
    assert_eq!(role_in(disabled.clone(), user(COLLEAGUE)), Role::Attendee);
    assert_eq!(role_in(disabled, user(INVITEE)), Role::Attendee);

    let same = with_auto(AutomaticLeaderAssignment::SameEnterprise);
    assert_eq!(role_in(same.clone(), user(COLLEAGUE)), Role::Leader);
    assert_eq!(role_in(same.clone(), user(OUTSIDER)), Role::Attendee);
    assert_eq!(role_in(same, anonymous(1)), Role::Attendee);

    let everyone = with_auto(AutomaticLeaderAssignment::Everyone);
    assert_eq!(role_in(everyone.clone(), user(OUTSIDER)), Role::Leader);
    assert_eq!(role_in(everyone, anonymous(1)), Role::Leader);
}

#[test]
fn sip_uris_compare_case_insensitively_with_or_without_scheme() {
    assert_eq!(sip_domain("sip:a@Contoso.com;gruu;opaque=app:conf:focus:id:X"), Some("Contoso.com"));
    assert_eq!(sip_domain("SIP:a@contoso.com:5061"), Some("contoso.com"));
    assert_eq!(sip_domain("tel:+14255550100"), None);
    assert_eq!(sip_domain("sip:nodomain"), None);
    assert_eq!(sip_domain("sé"), None);
    assert!(same_uri("sip:Alice@Contoso.com", "alice@contoso.com"));
    assert!(!same_uri("sip:alice@contoso.com", "sip:alice@fabrikam.com"));
    assert_eq!(MeetingSettings::new("no uri", 0).tenant_domain, "");
}

#[test]
fn ad_hoc_joiner_is_the_organizer_and_leads() {
    let mut meeting = Meeting::new("ADHOC1", MeetingSettings::new(COLLEAGUE, EXPIRES));
    ok(&mut meeting, join_cmd("c", user(COLLEAGUE)));
    let session = meeting.session("c").expect("joined");
    assert_eq!((session.state, session.role), (Cs::Conferenced, Role::Leader));
}

// ---- traces (docs/protocol.md, onlineMeetingInvitation) ----

#[test]
fn direct_join_trace() {
    let mut meeting = meeting(AccessLevel::Invited);
    ok(&mut meeting, join_cmd("o", user(ORGANIZER)));
    ok(&mut meeting, join_cmd("a", user(INVITEE)));
    ok(&mut meeting, join_cmd("t", trusted_app()));
    let notices = ok(&mut meeting, join_cmd("j", user(LEADER)));

    let mut expected = joining_prefix();
    expected.extend(conferencing());
    expected.extend([COMPLETED_OK, added("a", View::Attendees), added("o", View::Leaders)]);
    assert_eq!(seen_by(&notices, "j"), expected, "the trusted session is not listed");
    assert_eq!(seen_by(&notices, "o"), vec![added("j", View::Leaders)]);
    assert_eq!(seen_by(&notices, "a"), vec![added("j", View::Leaders)]);
    assert_eq!(seen_by(&notices, "t"), vec![added("j", View::Leaders)]);
    assert_eq!(meeting.session("j").expect("joined").invitation.state, InvitationState::Connected);
}

#[test]
fn lobby_join_trace() {
    let mut meeting = meeting(AccessLevel::Invited);
    ok(&mut meeting, join_cmd("o", user(ORGANIZER)));
    ok(&mut meeting, join_cmd("a", user(INVITEE)));
    ok(&mut meeting, join_cmd("t", trusted_app()));
    let notices = meeting.handle(join_cmd("w", user(OUTSIDER)), 1_000).expect("join");

    let mut expected = joining_prefix();
    expected.extend([updated(Cs::InLobby), K::InvitationUpdated]);
    assert_eq!(seen_by(&notices, "w"), expected);
    assert_eq!(seen_by(&notices, "o"), vec![added("w", View::Lobby)]);
    assert_eq!(seen_by(&notices, "t"), vec![added("w", View::Lobby)], "trusted sessions lead");
    assert!(seen_by(&notices, "a").is_empty(), "attendees do not see the lobby");
    let waiter = meeting.session("w").expect("joined");
    assert_eq!(waiter.invitation.state, InvitationState::Connecting);
    assert_eq!(waiter.lobby_deadline_ms, Some(1_000 + 60_000));
    assert_eq!(meeting.next_deadline(), Some(61_000));
}

#[test]
fn admit_trace() {
    let mut meeting = meeting_with_waiter();
    let notices = ok(&mut meeting, admit("o", "w"));

    assert_eq!(
        seen_by(&notices, "o"),
        vec![deleted("w", Some(View::Lobby), None), added("w", View::Attendees), p_updated("w")]
    );
    assert_eq!(seen_by(&notices, "a"), vec![added("w", View::Attendees)]);
    let mut expected = conferencing();
    expected.extend([COMPLETED_OK, added("a", View::Attendees), added("o", View::Leaders)]);
    assert_eq!(seen_by(&notices, "w"), expected);
    let admitted = meeting.session("w").expect("joined");
    assert_eq!((admitted.state, admitted.lobby_deadline_ms), (Cs::Conferenced, None));
    assert_eq!(admitted.invitation.state, InvitationState::Connected);
    assert_eq!(meeting.next_deadline(), None);
}

#[test]
fn reject_trace() {
    let mut meeting = meeting_with_waiter();
    let notices = ok(&mut meeting, reject("o", "w"));

    assert_eq!(seen_by(&notices, "w"), failed_join());
    assert_eq!(seen_by(&notices, "o"), vec![deleted("w", Some(View::Lobby), Some(Reason::denied()))]);
    assert!(seen_by(&notices, "a").is_empty());
    let rejected = meeting.session("w").expect("kept until forgotten");
    assert_eq!(rejected.state, Cs::Disconnected);
    assert_eq!(rejected.invitation.state, InvitationState::Failed);
    let reason = rejected.invitation.reason.as_ref().expect("failure reason");
    assert_eq!((reason.code.as_str(), reason.subcode.as_str()), ("Forbidden", "Denied"));
}

#[test]
fn cancel_trace() {
    let mut meeting = meeting_with_waiter();
    let notices = ok(&mut meeting, Command::Cancel { session: "w".to_owned() });

    assert_eq!(seen_by(&notices, "w"), failed_join());
    assert_eq!(seen_by(&notices, "o"), vec![deleted("w", Some(View::Lobby), Some(Reason::canceled()))]);
    let reason = meeting.session("w").and_then(|s| s.invitation.reason.clone()).expect("reason");
    assert_eq!((reason.code.as_str(), reason.subcode.as_str()), ("LocalFailure", "Canceled"));
}

#[test]
fn deleting_a_waiting_conversation_cancels_the_join() {
    let mut meeting = meeting_with_waiter();
    let notices = ok(&mut meeting, Command::Leave { session: "w".to_owned() });
    assert_eq!(seen_by(&notices, "w"), failed_join());
    assert_eq!(meeting.session("w").and_then(|s| s.invitation.reason.clone()), Some(Reason::canceled()));
}

#[test]
fn lobby_timeout_trace() {
    let mut meeting = meeting_with_waiter();
    assert_eq!(meeting.next_deadline(), Some(LOBBY_TIMEOUT as i64));
    let early = meeting.handle(Command::ExpireLobbies, LOBBY_TIMEOUT as i64 - 1).expect("expire");
    assert!(early.is_empty());
    assert_eq!(state_of(&meeting, "w"), Cs::InLobby);

    let notices = meeting.handle(Command::ExpireLobbies, LOBBY_TIMEOUT as i64).expect("expire");
    assert_eq!(seen_by(&notices, "w"), failed_join());
    assert_eq!(seen_by(&notices, "o"), vec![deleted("w", Some(View::Lobby), Some(Reason::lobby_timeout()))]);
    let reason = meeting.session("w").and_then(|s| s.invitation.reason.clone()).expect("reason");
    assert_eq!((reason.code.as_str(), reason.subcode.as_str()), ("Timeout", "Timeout"));
    assert_eq!(meeting.next_deadline(), None);
}

#[test]
fn expiry_fails_waiters_earliest_first() {
    let mut meeting = meeting(AccessLevel::Locked);
    meeting.handle(join_cmd("late", user(OUTSIDER)), 500).expect("join");
    meeting.handle(join_cmd("early", user(COLLEAGUE)), 100).expect("join");
    assert_eq!(meeting.next_deadline(), Some(100 + LOBBY_TIMEOUT as i64));
    let notices = meeting.handle(Command::ExpireLobbies, i64::MAX).expect("expire");
    let order: Vec<&str> = notices.iter().filter(|n| n.kind == COMPLETED_FAILED).map(|n| n.to.as_str()).collect();
    assert_eq!(order, ["early", "late"]);
}

#[test]
fn end_trace() {
    let mut meeting = meeting_with_waiter();
    let notices = ok(&mut meeting, Command::End);

    assert_eq!(seen_by(&notices, "w"), failed_join());
    let disconnected = vec![updated(Cs::Disconnected), K::ConversationDeleted];
    assert_eq!(seen_by(&notices, "o"), disconnected);
    assert_eq!(seen_by(&notices, "a"), disconnected);
    assert!(meeting.is_ended());
    for session in meeting.sessions().values() {
        assert_eq!(session.state, Cs::Disconnected);
        assert_eq!(session.disconnect_reason, Some(Reason::meeting_ended()));
    }
    let reason = meeting.session("w").and_then(|s| s.invitation.reason.clone()).expect("reason");
    assert_eq!((reason.code.as_str(), reason.subcode.as_str()), ("RemoteFailure", "Ended"));
    assert_eq!(meeting.next_deadline(), None);
}

#[test]
fn an_ended_meeting_refuses_everything_but_forget() {
    let mut meeting = meeting_with_waiter();
    ok(&mut meeting, Command::End);
    let refused = [
        join_cmd("n", user(ORGANIZER)),
        admit("o", "w"),
        Command::Leave { session: "o".to_owned() },
        Command::ExpireLobbies,
        Command::End,
    ];
    for cmd in refused {
        assert_eq!(meeting.handle(cmd, 0), Err(MeetingError::Ended));
    }
    ok(&mut meeting, Command::Forget { session: "w".to_owned() });
    assert!(meeting.session("w").is_none());
}

#[test]
fn joining_an_expired_meeting_fails() {
    let mut meeting = meeting(AccessLevel::Everyone);
    assert_eq!(meeting.handle(join_cmd("o", user(ORGANIZER)), EXPIRES), Err(MeetingError::Ended));
    assert!(meeting.sessions().is_empty());
}

#[test]
fn leave_from_roster_trace() {
    let mut meeting = meeting_with_waiter();
    let notices = ok(&mut meeting, Command::Leave { session: "a".to_owned() });
    assert_eq!(seen_by(&notices, "a"), vec![updated(Cs::Disconnected), K::ConversationDeleted]);
    assert_eq!(seen_by(&notices, "o"), vec![deleted("a", None, None)]);
    assert!(seen_by(&notices, "w").is_empty());
    let left = meeting.session("a").expect("kept until forgotten");
    assert_eq!((left.invitation.state, left.disconnect_reason.clone()), (InvitationState::Connected, None));
    assert_eq!(meeting.handle(Command::Leave { session: "a".to_owned() }, 0), Err(MeetingError::NotFound));
}

#[test]
fn eject_trace() {
    let mut meeting = meeting_with_waiter();
    let notices = ok(&mut meeting, Command::Eject { actor: "o".to_owned(), target: "a".to_owned() });
    assert_eq!(seen_by(&notices, "a"), vec![updated(Cs::Disconnected), K::ConversationDeleted]);
    assert_eq!(seen_by(&notices, "o"), vec![deleted("a", None, Some(Reason::ejected()))]);
    let ejected = meeting.session("a").expect("kept until forgotten");
    assert_eq!(ejected.disconnect_reason.as_ref().map(|r| r.subcode.as_str()), Some("Ejected"));
    assert_eq!(ejected.invitation.state, InvitationState::Connected, "its join had succeeded");
}

#[test]
fn promote_trace() {
    let mut meeting = meeting_with_waiter();
    let notices = ok(&mut meeting, Command::Promote { actor: "o".to_owned(), target: "a".to_owned() });
    assert_eq!(
        seen_by(&notices, "a"),
        vec![K::LocalParticipantUpdated, p_updated("o"), added("w", View::Lobby)],
        "the new leader's links on others change and it now sees the lobby"
    );
    assert_eq!(
        seen_by(&notices, "o"),
        vec![deleted("a", Some(View::Attendees), None), added("a", View::Leaders), p_updated("a")]
    );
    assert!(seen_by(&notices, "w").is_empty());
    assert_eq!(meeting.session("a").map(|s| s.role), Some(Role::Leader));
    ok(&mut meeting, admit("a", "w"));
}

#[test]
fn demote_trace() {
    let mut meeting = meeting_with_waiter();
    ok(&mut meeting, Command::Promote { actor: "o".to_owned(), target: "a".to_owned() });
    let notices = ok(&mut meeting, Command::Demote { actor: "o".to_owned(), target: "a".to_owned() });
    assert_eq!(
        seen_by(&notices, "a"),
        vec![K::LocalParticipantUpdated, p_updated("o"), deleted("w", Some(View::Lobby), None)]
    );
    assert_eq!(
        seen_by(&notices, "o"),
        vec![deleted("a", Some(View::Leaders), None), added("a", View::Attendees), p_updated("a")]
    );
    assert_eq!(meeting.handle(admit("a", "w"), 0), Err(MeetingError::Forbidden));
}

#[test]
fn waiters_outlast_the_leaders_and_a_later_leader_sees_them() {
    let mut meeting = meeting_with_waiter();
    ok(&mut meeting, Command::Leave { session: "o".to_owned() });
    let waiter = meeting.session("w").expect("still there");
    assert_eq!((waiter.state, waiter.lobby_deadline_ms), (Cs::InLobby, Some(LOBBY_TIMEOUT as i64)));

    let notices = ok(&mut meeting, join_cmd("l", user(LEADER)));
    let mut expected = joining_prefix();
    expected.extend(conferencing());
    expected.extend([COMPLETED_OK, added("a", View::Attendees), added("w", View::Lobby)]);
    assert_eq!(seen_by(&notices, "l"), expected);
    ok(&mut meeting, admit("l", "w"));
    assert_eq!(state_of(&meeting, "w"), Cs::Conferenced);
}

#[test]
fn trusted_join_is_hidden_but_leads() {
    let mut meeting = meeting_with_waiter();
    let notices = ok(&mut meeting, join_cmd("t", trusted_app()));
    let mut expected = joining_prefix();
    expected.extend(conferencing());
    expected.extend([COMPLETED_OK, added("a", View::Attendees), added("o", View::Leaders), added("w", View::Lobby)]);
    assert_eq!(seen_by(&notices, "t"), expected);
    assert!(notices.iter().all(|n| n.to == "t"), "nobody else is told");

    let ejecting = ok(&mut meeting, Command::Eject { actor: "t".to_owned(), target: "a".to_owned() });
    assert_eq!(seen_by(&ejecting, "o"), vec![deleted("a", None, Some(Reason::ejected()))]);
    let leaving = ok(&mut meeting, Command::Leave { session: "t".to_owned() });
    assert!(leaving.iter().all(|n| n.to == "t"), "its departure is hidden too");
}

// ---- refusals and races ----

#[test]
fn only_leaders_in_the_roster_act() {
    let mut meeting = meeting_with_waiter();
    ok(&mut meeting, join_cmd("w2", user(COLLEAGUE)));
    let before = meeting.clone();
    let cases = [
        (admit("a", "w"), MeetingError::Forbidden),
        (admit("w2", "w"), MeetingError::Forbidden),
        (admit("nobody", "w"), MeetingError::NotFound),
        (admit("o", "nobody"), MeetingError::NotFound),
        (admit("o", "a"), MeetingError::Conflict),
        (reject("o", "a"), MeetingError::Conflict),
        (Command::Promote { actor: "a".to_owned(), target: "a".to_owned() }, MeetingError::Forbidden),
        (Command::Promote { actor: "o".to_owned(), target: "o".to_owned() }, MeetingError::Conflict),
        (Command::Promote { actor: "o".to_owned(), target: "w".to_owned() }, MeetingError::Conflict),
        (Command::Demote { actor: "o".to_owned(), target: "a".to_owned() }, MeetingError::Conflict),
        (Command::Demote { actor: "o".to_owned(), target: "o".to_owned() }, MeetingError::Forbidden),
        (Command::Eject { actor: "o".to_owned(), target: "o".to_owned() }, MeetingError::Forbidden),
        (Command::Eject { actor: "o".to_owned(), target: "w".to_owned() }, MeetingError::Conflict),
        (Command::Eject { actor: "a".to_owned(), target: "o".to_owned() }, MeetingError::Forbidden),
        (Command::Cancel { session: "a".to_owned() }, MeetingError::Conflict),
        (Command::Cancel { session: "nobody".to_owned() }, MeetingError::NotFound),
        (Command::Forget { session: "a".to_owned() }, MeetingError::Conflict),
        (Command::Forget { session: "nobody".to_owned() }, MeetingError::NotFound),
        (join_cmd("a", user(COLLEAGUE)), MeetingError::Conflict),
    ];
    for (cmd, error) in cases {
        assert_eq!(meeting.handle(cmd.clone(), 0), Err(error), "{cmd:?}");
        assert_eq!(meeting, before, "{cmd:?} changed the meeting");
    }
}

#[test]
fn trusted_sessions_cannot_be_targeted_by_others() {
    let mut meeting = meeting_with_waiter();
    ok(&mut meeting, join_cmd("t", trusted_app()));
    let eject = Command::Eject { actor: "o".to_owned(), target: "t".to_owned() };
    assert_eq!(meeting.handle(eject, 0), Err(MeetingError::NotFound));
    let demote_self = Command::Demote { actor: "t".to_owned(), target: "t".to_owned() };
    assert_eq!(meeting.handle(demote_self, 0), Err(MeetingError::Forbidden));
}

#[test]
fn admit_after_cancel_is_refused_without_a_second_completion() {
    let mut meeting = meeting_with_waiter();
    ok(&mut meeting, Command::Cancel { session: "w".to_owned() });
    let before = meeting.clone();
    assert_eq!(meeting.handle(admit("o", "w"), 0), Err(MeetingError::Conflict));
    assert_eq!(meeting.handle(reject("o", "w"), 0), Err(MeetingError::Conflict));
    assert_eq!(meeting.handle(Command::Cancel { session: "w".to_owned() }, 0), Err(MeetingError::Conflict));
    assert_eq!(meeting, before);
}

#[test]
fn reject_racing_admit_exactly_one_wins() {
    for admit_first in [true, false] {
        let mut meeting = meeting_with_waiter();
        ok(&mut meeting, join_cmd("l", user(LEADER)));
        let (first, second) =
            if admit_first { (admit("o", "w"), reject("l", "w")) } else { (reject("l", "w"), admit("o", "w")) };
        let won = ok(&mut meeting, first);
        assert_eq!(won.iter().filter(|n| n.to == "w" && matches!(n.kind, K::InvitationCompleted { .. })).count(), 1);
        assert_eq!(meeting.handle(second, 0), Err(MeetingError::Conflict));
        let expected = if admit_first { Cs::Conferenced } else { Cs::Disconnected };
        assert_eq!(state_of(&meeting, "w"), expected);
    }
}

#[test]
fn forget_removes_only_finished_sessions() {
    let mut meeting = meeting_with_waiter();
    ok(&mut meeting, reject("o", "w"));
    ok(&mut meeting, Command::Forget { session: "w".to_owned() });
    assert!(meeting.session("w").is_none());
    // The id is free again: a new join gets a fresh invitation.
    ok(&mut meeting, join_cmd("w", user(OUTSIDER)));
    assert_eq!(meeting.session("w").map(|s| s.invitation.state), Some(InvitationState::Connecting));
}

#[test]
fn version_counts_successful_commands_only() {
    let mut meeting = meeting_with_waiter();
    assert_eq!(meeting.version(), 3);
    assert!(meeting.handle(admit("a", "w"), 0).is_err());
    assert_eq!(meeting.version(), 3);
    ok(&mut meeting, Command::ExpireLobbies);
    assert_eq!(meeting.version(), 4);
}

#[test]
fn huge_times_do_not_overflow() {
    let mut meeting = Meeting::new("ABCDE", MeetingSettings::new(ORGANIZER, i64::MAX));
    let join = Join {
        session_id: "w".to_owned(),
        app_id: "app".to_owned(),
        identity: user(OUTSIDER),
        invitation: InvitationRequest::outgoing("inv"),
        lobby_timeout_ms: u64::MAX,
    };
    meeting.handle(join.into(), i64::MAX - 1).expect("join");
    assert_eq!(meeting.next_deadline(), Some(i64::MAX));
}

#[test]
fn meeting_round_trips_through_json() {
    let mut meeting = meeting_with_waiter();
    ok(&mut meeting, join_cmd("t", trusted_app()));
    ok(&mut meeting, reject("o", "w"));
    let json = serde_json::to_string(&meeting).expect("serialize");
    let back: Meeting = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, meeting);
}

#[test]
fn invitation_echoes_the_request() {
    let request = InvitationRequest {
        operation_id: Some("op1".to_owned()),
        subject: Some("s".to_owned()),
        importance: Importance::Urgent,
        thread_id: Some("t1".to_owned()),
        anonymous_display_name: Some("John Doe".to_owned()),
        ..InvitationRequest::outgoing("i1")
    };
    let mut meeting = meeting(AccessLevel::Everyone);
    ok(&mut meeting, join_with("j", anonymous(7), request));
    let invitation = &meeting.session("j").expect("joined").invitation;
    assert_eq!(invitation.id, "i1");
    assert_eq!(invitation.operation_id.as_deref(), Some("op1"));
    assert_eq!(invitation.direction, Direction::Outgoing);
    assert_eq!(invitation.importance, Importance::Urgent);
    assert_eq!(invitation.anonymous_display_name.as_deref(), Some("John Doe"));
    assert_eq!(invitation.reason, None);
}

#[test]
fn sessions_stored_before_service_applications_still_load() {
    let mut meeting = meeting(AccessLevel::Everyone);
    ok(&mut meeting, join_cmd("x", user(COLLEAGUE)));
    let mut json = serde_json::to_value(meeting.session("x").expect("joined")).expect("serialize");
    json["identity"].as_object_mut().expect("identity").remove("surface");
    json["invitation"].as_object_mut().expect("invitation").remove("custom_content");
    let back: Session = serde_json::from_value(json).expect("old sessions deserialize");
    assert_eq!(back.identity.surface, Surface::Ucwa);
    assert_eq!(back.invitation.custom_content, None);
}

#[test]
fn a_trusted_service_session_leads_hidden_and_admits() {
    let mut meeting = meeting(AccessLevel::Locked);
    let bot = Identity { surface: Surface::Service { endpoint_id: "sip:bot@contoso.com".into() }, ..trusted_app() };
    ok(&mut meeting, join_cmd("bot", bot));
    ok(&mut meeting, join_cmd("w", user(OUTSIDER)));
    assert_eq!(state_of(&meeting, "w"), Cs::InLobby);
    let notices = ok(&mut meeting, admit("bot", "w"));
    assert!(seen_by(&notices, "w").contains(&COMPLETED_OK));
    // The waiter never sees the hidden bot in its roster.
    assert!(
        !seen_by(&notices, "w").iter().any(|k| matches!(k, K::ParticipantAdded { subject, .. } if subject == "bot"))
    );
}

// ---- addParticipant, incoming invitations and messaging (docs/protocol.md) ----

fn p_started(id: &str) -> NoticeKind {
    K::ParticipantInvitationStarted { id: id.to_owned() }
}

fn p_completed(id: &str) -> NoticeKind {
    K::ParticipantInvitationCompleted { id: id.to_owned() }
}

/// Organizer `o` alone in a Locked meeting invites OUTSIDER, who has applications `b0` and `b1`.
fn invited(apps: usize) -> (Meeting, Vec<Notice>) {
    let mut meeting = meeting(AccessLevel::Locked);
    ok(&mut meeting, join_cmd("o", user(ORGANIZER)));
    let invitees = (0..apps)
        .map(|k| Invitee { session_id: format!("b{k}"), app_id: format!("app-b{k}"), identity: user(OUTSIDER) })
        .collect();
    let invite = Invite {
        actor: "o".to_owned(),
        invitation: ParticipantInvitationRequest {
            id: "p1".to_owned(),
            operation_id: Some("op".to_owned()),
            to: OUTSIDER.to_owned(),
            subject: Some("Join us".to_owned()),
            importance: Importance::Normal,
            message: Some(Content::new("text/plain", "Hi")),
            custom_content: None,
        },
        invitees,
        answer_timeout_ms: 30_000,
    };
    let notices = ok(&mut meeting, invite.into());
    (meeting, notices)
}

fn pinv(meeting: &Meeting) -> &ParticipantInvitation {
    &meeting.session("o").expect("inviter").participant_invitations[0]
}

#[test]
fn invite_rings_every_application_of_the_invitee() {
    let (meeting, notices) = invited(2);
    assert_eq!(seen_by(&notices, "o"), [p_started("p1")]);
    for b in ["b0", "b1"] {
        assert_eq!(seen_by(&notices, b), [K::InvitationStarted, K::ConversationAdded { state: Cs::Incoming }]);
        let s = meeting.session(b).expect("ringing");
        assert_eq!(s.invitation.direction, Direction::Incoming);
        assert_eq!(s.invitation.message, Some(Content::new("text/plain", "Hi")));
        assert_eq!(s.invitation.ring.as_ref().map(|r| r.deadline_ms), Some(30_000));
    }
    assert_eq!(meeting.next_deadline(), Some(30_000));
}

#[test]
fn accept_joins_without_lobby_and_completes_both_sides_after_the_roster() {
    let (mut meeting, _) = invited(2);
    let notices = ok(&mut meeting, Command::Accept { session: "b1".to_owned() });
    let mut expected = conferencing();
    expected.extend([COMPLETED_OK, added("o", View::Leaders)]);
    assert_eq!(seen_by(&notices, "b1"), expected);
    assert_eq!(seen_by(&notices, "o"), [added("b1", View::Attendees), p_completed("p1")]);
    // The other application's copy ends: answered elsewhere.
    assert_eq!(seen_by(&notices, "b0"), failed_join());
    assert_eq!(meeting.session("b0").and_then(|s| s.invitation.reason.clone()), Some(Reason::answered_elsewhere()));
    assert_eq!(pinv(&meeting).state, InvitationState::Connected);
    assert_eq!(pinv(&meeting).accepted_by.as_deref(), Some("b1"));
    // Answering again, either copy: conflict.
    assert_eq!(meeting.handle(Command::Accept { session: "b1".to_owned() }, 1), Err(MeetingError::Conflict));
    assert_eq!(
        meeting.handle(Command::Decline { session: "b0".to_owned(), local_only: false }, 1),
        Err(MeetingError::Conflict)
    );
}

#[test]
fn decline_fails_both_sides_with_declined() {
    let (mut meeting, _) = invited(2);
    let notices = ok(&mut meeting, Command::Decline { session: "b0".to_owned(), local_only: false });
    assert_eq!(seen_by(&notices, "b0"), failed_join());
    assert_eq!(seen_by(&notices, "b1"), failed_join());
    assert_eq!(seen_by(&notices, "o"), [p_completed("p1")]);
    assert_eq!(pinv(&meeting).reason, Some(Reason::remote_declined()));
    assert_eq!(meeting.session("b0").and_then(|s| s.invitation.reason.clone()), Some(Reason::declined()));
}

#[test]
fn a_local_decline_leaves_the_other_copies_ringing() {
    let (mut meeting, _) = invited(2);
    let notices = ok(&mut meeting, Command::Decline { session: "b0".to_owned(), local_only: true });
    assert!(seen_by(&notices, "o").is_empty());
    assert!(meeting.session("b1").is_some_and(Session::is_ringing));
    let notices = ok(&mut meeting, Command::Decline { session: "b1".to_owned(), local_only: true });
    assert_eq!(seen_by(&notices, "o"), [p_completed("p1")]);
    assert_eq!(pinv(&meeting).reason, Some(Reason::remote_declined()));
}

#[test]
fn unanswered_invitations_time_out_on_both_sides() {
    let (mut meeting, _) = invited(2);
    assert!(seen_by(&meeting.handle(Command::ExpireLobbies, 29_999).expect("sweep"), "o").is_empty());
    let notices = meeting.handle(Command::ExpireLobbies, 30_000).expect("sweep");
    assert_eq!(seen_by(&notices, "b0"), failed_join());
    assert_eq!(seen_by(&notices, "o"), [p_completed("p1")]);
    assert_eq!(pinv(&meeting).reason, Some(Reason::unanswered()));
    assert_eq!(meeting.session("b1").and_then(|s| s.invitation.reason.clone()), Some(Reason::missed()));
    assert_eq!(meeting.next_deadline(), None);
}

#[test]
fn the_inviter_cancelling_or_leaving_withdraws_the_invitation() {
    let (mut meeting, _) = invited(1);
    let cancel = Command::CancelParticipantInvitation { actor: "o".to_owned(), invitation: "p1".to_owned() };
    let notices = ok(&mut meeting, cancel.clone());
    assert_eq!(seen_by(&notices, "o"), [p_completed("p1")]);
    assert_eq!(seen_by(&notices, "b0"), failed_join());
    assert_eq!(meeting.session("b0").and_then(|s| s.invitation.reason.clone()), Some(Reason::withdrawn()));
    assert_eq!(meeting.handle(cancel, 1), Err(MeetingError::Conflict));

    let (mut meeting, _) = invited(1);
    let notices = ok(&mut meeting, Command::Leave { session: "o".to_owned() });
    assert_eq!(seen_by(&notices, "b0"), failed_join());
    assert_eq!(seen_by(&notices, "o")[0], p_completed("p1"));
}

#[test]
fn nobody_online_fails_the_invitation_at_once() {
    let (meeting, notices) = invited(0);
    assert_eq!(seen_by(&notices, "o"), [p_started("p1"), p_completed("p1")]);
    assert_eq!(pinv(&meeting).reason, Some(Reason::unreachable()));
}

#[test]
fn incoming_invitations_cannot_be_cancelled_nor_outgoing_ones_answered() {
    let (mut meeting, _) = invited(1);
    assert_eq!(meeting.handle(Command::Cancel { session: "b0".to_owned() }, 0), Err(MeetingError::Conflict));
    assert_eq!(meeting.handle(Command::Accept { session: "o".to_owned() }, 0), Err(MeetingError::Conflict));
    // Not in the roster yet: no inviting, no messages.
    let msg = MessageRequest { id: "m".to_owned(), operation_id: None, content: Content::new("text/plain", "x") };
    assert_eq!(
        meeting.handle(Command::SendMessage { session: "b0".to_owned(), message: msg }, 0),
        Err(MeetingError::Conflict)
    );
}

#[test]
fn meeting_messages_reach_connected_roster_members_only() {
    let mut meeting = meeting_with_waiter();
    let (o, a) = ("o".to_owned(), "a".to_owned());
    let notices = ok(&mut meeting, Command::AddMessaging { session: o.clone(), operation_id: None });
    assert_eq!(
        seen_by(&notices, "o"),
        [
            K::MessagingInvitationStarted,
            K::MessagingUpdated { state: ModalityState::Connecting },
            K::MessagingUpdated { state: ModalityState::Connected },
            K::ParticipantMessagingAdded { subject: o.clone() },
            K::MessagingInvitationCompleted,
        ]
    );
    let notices = ok(&mut meeting, Command::AddMessaging { session: a.clone(), operation_id: None });
    assert_eq!(seen_by(&notices, "o"), [K::ParticipantMessagingAdded { subject: a.clone() }]);
    let content = Content::new("text/html", "<b>Grüße</b>");
    let msg = MessageRequest { id: "m1".to_owned(), operation_id: None, content: content.clone() };
    let notices = meeting.handle(Command::SendMessage { session: o.clone(), message: msg }, 5).expect("sent");
    let message = Message { id: "m1".to_owned(), sender: o.clone(), operation_id: None, content, at_ms: 5 };
    assert_eq!(
        seen_by(&notices, "o"),
        [K::MessageStarted { message: message.clone() }, K::MessageCompleted { message: message.clone() }]
    );
    assert_eq!(seen_by(&notices, "a"), [K::MessageReceived { message }]);
    assert!(seen_by(&notices, "w").is_empty(), "the lobby gets no meeting messages");
    let notices = ok(&mut meeting, Command::StopMessaging { session: a.clone() });
    assert_eq!(seen_by(&notices, "o"), [K::ParticipantMessagingDeleted { subject: a }]);
}

/// `s0` calls COLLEAGUE, who has applications `c0` and `c1`.
fn calling() -> Meeting {
    let mut meeting = Meeting::two_party("P2P", MeetingSettings::new(ORGANIZER, EXPIRES));
    let invitees = (0..2)
        .map(|k| Invitee { session_id: format!("c{k}"), app_id: format!("app-c{k}"), identity: user(COLLEAGUE) })
        .collect();
    let invitation = InvitationRequest {
        to: Some(COLLEAGUE.to_owned()),
        message: Some(Content::new("text/plain", "ping")),
        ..InvitationRequest::outgoing("s0")
    };
    let call = Call {
        session_id: "s0".to_owned(),
        app_id: "app0".to_owned(),
        identity: user(ORGANIZER),
        invitation,
        invitees,
        answer_timeout_ms: 30_000,
    };
    let notices = ok(&mut meeting, Command::Call(Box::new(call)));
    assert_eq!(
        seen_by(&notices, "s0"),
        [
            K::InvitationStarted,
            K::ConversationAdded { state: Cs::Connecting },
            K::LocalParticipantAdded,
            K::MessagingUpdated { state: ModalityState::Connecting },
        ]
    );
    assert_eq!(seen_by(&notices, "c1"), [K::InvitationStarted, K::ConversationAdded { state: Cs::Incoming }]);
    meeting
}

#[test]
fn a_call_completes_only_after_the_remote_participant_appears() {
    let mut meeting = calling();
    let notices = ok(&mut meeting, Command::Accept { session: "c1".to_owned() });
    let messaging_added = |s: &str| K::ParticipantMessagingAdded { subject: s.to_owned() };
    assert_eq!(
        seen_by(&notices, "s0"),
        [
            updated(Cs::Connected),
            added("c1", View::Attendees),
            messaging_added("c1"),
            messaging_added("s0"),
            K::MessagingUpdated { state: ModalityState::Connected },
            COMPLETED_OK,
        ]
    );
    assert_eq!(seen_by(&notices, "c0"), failed_join());
    assert_eq!(seen_by(&notices, "c1").last(), Some(&COMPLETED_OK));
    // Messages both ways; then stopMessaging ends the conversation for both.
    for (from, to) in [("s0", "c1"), ("c1", "s0")] {
        let msg =
            MessageRequest { id: format!("m-{from}"), operation_id: None, content: Content::new("text/plain", "x") };
        let notices = ok(&mut meeting, Command::SendMessage { session: from.to_owned(), message: msg });
        assert!(matches!(seen_by(&notices, to)[..], [K::MessageReceived { .. }]));
    }
    // Leader capabilities do not exist in a two-party conversation.
    assert_eq!(
        meeting.handle(Command::Eject { actor: "s0".into(), target: "c1".into() }, 0),
        Err(MeetingError::Forbidden)
    );
    let notices = ok(&mut meeting, Command::StopMessaging { session: "c1".to_owned() });
    assert_eq!(seen_by(&notices, "s0").first(), Some(&deleted("c1", None, None)));
    assert_eq!(seen_by(&notices, "s0").last(), Some(&K::ConversationDeleted));
    assert_eq!(meeting.session("s0").and_then(|s| s.disconnect_reason.clone()), Some(Reason::remote_left()));
}

#[test]
fn a_declined_call_ends_the_callers_conversation() {
    let mut meeting = calling();
    let notices = ok(&mut meeting, Command::Decline { session: "c0".to_owned(), local_only: false });
    assert_eq!(
        seen_by(&notices, "s0"),
        [
            COMPLETED_FAILED,
            K::MessagingUpdated { state: ModalityState::Disconnected },
            updated(Cs::Disconnected),
            K::ConversationDeleted
        ]
    );
    assert_eq!(meeting.session("s0").and_then(|s| s.invitation.reason.clone()), Some(Reason::remote_declined()));
}

#[test]
fn add_participant_escalates_a_two_party_conversation() {
    let mut meeting = calling();
    ok(&mut meeting, Command::Accept { session: "c0".to_owned() });
    let invite = Invite {
        actor: "c0".to_owned(),
        invitation: ParticipantInvitationRequest {
            id: "p9".to_owned(),
            operation_id: None,
            to: LEADER.to_owned(),
            subject: None,
            importance: Importance::Normal,
            message: None,
            custom_content: None,
        },
        invitees: vec![Invitee { session_id: "l0".to_owned(), app_id: "app-l0".to_owned(), identity: user(LEADER) }],
        answer_timeout_ms: 30_000,
    };
    let notices = ok(&mut meeting, invite.into());
    assert_eq!(meeting.kind(), MeetingKind::Conference);
    assert_eq!(seen_by(&notices, "s0"), [updated(Cs::Conferencing), updated(Cs::Conferenced), K::OnlineMeetingAdded]);
    assert_eq!(seen_by(&notices, "c0").last(), Some(&p_started("p9")));
    let notices = ok(&mut meeting, Command::Accept { session: "l0".to_owned() });
    assert_eq!(seen_by(&notices, "c0").last(), Some(&p_completed("p9")));
    assert_eq!(state_of(&meeting, "l0"), Cs::Conferenced);
}

#[test]
fn participants_are_keyed_by_address_and_unique_in_the_meeting() {
    let mut meeting = meeting(AccessLevel::Everyone);
    ok(&mut meeting, join_cmd("o", user(ORGANIZER)));
    ok(&mut meeting, join_cmd("o2", user(ORGANIZER)));
    ok(&mut meeting, join_cmd("g", anonymous(7)));
    ok(&mut meeting, join_cmd("t", Identity { uri: "tel:+14255550100".to_owned(), ..user(LEADER) }));
    let key = |m: &Meeting, id: &str| m.participant_key(id).to_owned();
    assert_eq!(key(&meeting, "o"), "org@contoso.com");
    assert_eq!(key(&meeting, "o2"), "org@contoso.com~2", "the same person twice stays tellable apart");
    assert_eq!(key(&meeting, "g"), "7@anonymous.invalid");
    assert_eq!(key(&meeting, "t"), "tel:+14255550100");
    assert_eq!(meeting.participant_session("org@contoso.com~2").map(String::as_str), Some("o2"));
    // Hrefs handed out before keys existed name the session id.
    assert_eq!(meeting.participant_session("g").map(String::as_str), Some("g"));
    assert_eq!(meeting.participant_key("gone"), "gone");
    // Once the first leaves, a newcomer takes the plain key; the second keeps its own.
    ok(&mut meeting, Command::Leave { session: "o".to_owned() });
    ok(&mut meeting, Command::Forget { session: "o".to_owned() });
    ok(&mut meeting, join_cmd("o3", user(ORGANIZER)));
    assert_eq!(key(&meeting, "o2"), "org@contoso.com~2");
    assert_eq!(key(&meeting, "o3"), "org@contoso.com");
}

#[test]
fn an_invitees_ringing_applications_share_the_plain_key() {
    let mut meeting = calling();
    assert_eq!(meeting.participant_key("s0"), "org@contoso.com");
    assert_eq!(
        (meeting.participant_key("c0"), meeting.participant_key("c1")),
        ("colleague@contoso.com", "colleague@contoso.com")
    );
    // Whichever answers keeps it, and it names that one.
    ok(&mut meeting, Command::Accept { session: "c1".to_owned() });
    assert_eq!(meeting.participant_session("colleague@contoso.com").map(String::as_str), Some("c1"));
}
