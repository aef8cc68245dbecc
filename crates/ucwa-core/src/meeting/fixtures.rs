//! Shared helpers for the meeting tests.

use super::*;

pub(super) const ORGANIZER: &str = "sip:org@contoso.com";
pub(super) const LEADER: &str = "sip:lead@contoso.com";
pub(super) const INVITEE: &str = "sip:guest@fabrikam.com";
pub(super) const COLLEAGUE: &str = "sip:colleague@contoso.com";
pub(super) const OUTSIDER: &str = "sip:stranger@fabrikam.com";
pub(super) const EXPIRES: i64 = 10_000_000;
pub(super) const LOBBY_TIMEOUT: u64 = 60_000;

/// The organizer lists one leader and one invitee from another company.
pub(super) fn settings(access_level: AccessLevel) -> MeetingSettings {
    MeetingSettings {
        access_level,
        leaders: vec![LEADER.to_owned()],
        attendees: vec![INVITEE.to_owned()],
        ..MeetingSettings::new(ORGANIZER, EXPIRES)
    }
}

pub(super) fn meeting(access_level: AccessLevel) -> Meeting {
    Meeting::new("ABCDE", settings(access_level))
}

pub(super) fn user(uri: &str) -> Identity {
    Identity {
        uri: uri.to_owned(),
        display_name: uri.to_owned(),
        anonymous: false,
        trusted: false,
        surface: Surface::Ucwa,
    }
}

pub(super) fn anonymous(n: u32) -> Identity {
    Identity {
        uri: format!("sip:{n}@anonymous.invalid"),
        display_name: format!("Guest {n}"),
        anonymous: true,
        trusted: false,
        surface: Surface::Ucwa,
    }
}

pub(super) fn trusted_app() -> Identity {
    Identity { trusted: true, ..user("sip:bot@contoso.com") }
}

pub(super) fn join_cmd(session: &str, identity: Identity) -> Command {
    join_with(session, identity, InvitationRequest::outgoing(format!("inv-{session}")))
}

pub(super) fn join_with(session: &str, identity: Identity, invitation: InvitationRequest) -> Command {
    Join {
        session_id: session.to_owned(),
        app_id: format!("app-{session}"),
        identity,
        invitation,
        lobby_timeout_ms: LOBBY_TIMEOUT,
    }
    .into()
}

pub(super) fn admit(actor: &str, target: &str) -> Command {
    Command::Admit { actor: actor.to_owned(), target: target.to_owned() }
}

pub(super) fn reject(actor: &str, target: &str) -> Command {
    Command::Reject { actor: actor.to_owned(), target: target.to_owned() }
}

/// The notices addressed to `to`, in order.
pub(super) fn seen_by(notices: &[Notice], to: &str) -> Vec<NoticeKind> {
    notices.iter().filter(|n| n.to == to).map(|n| n.kind.clone()).collect()
}
