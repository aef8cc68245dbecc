//! Lobby admission and the role a joiner gets (docs/protocol.md, lobby).

use super::session::{Identity, InvitationRequest, Role};
use super::settings::{AccessLevel, AutomaticLeaderAssignment, MeetingSettings, Toggle, is_tel_uri};

/// Where a joiner goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    Direct,
    Lobby,
}

pub(crate) fn admission(settings: &MeetingSettings, who: &Identity, invitation: &InvitationRequest) -> Admission {
    let direct = who.trusted
        || settings.is_organizer(who)
        || settings.is_listed_leader(who)
        || admitted_by_access_level(settings, who)
        || bypasses_as_phone_user(settings, who, invitation);
    if direct { Admission::Direct } else { Admission::Lobby }
}

fn admitted_by_access_level(settings: &MeetingSettings, who: &Identity) -> bool {
    match settings.access_level {
        AccessLevel::Everyone => true,
        AccessLevel::SameEnterprise => settings.is_same_enterprise(who),
        AccessLevel::Invited => settings.is_listed_attendee(who),
        // The organizer and leaders were let in before this rule is consulted.
        AccessLevel::Locked => false,
    }
}

/// `lobbyBypassForPhoneUsers` never opens a `Locked` meeting.
fn bypasses_as_phone_user(settings: &MeetingSettings, who: &Identity, invitation: &InvitationRequest) -> bool {
    settings.lobby_bypass_for_phone_users == Toggle::Enabled
        && settings.access_level != AccessLevel::Locked
        && is_phone_user(who, invitation)
}

/// A `tel:` identity, or a join as `GatewayParticipant` (docs/protocol.md,
/// ms:rtc:saas:application).
fn is_phone_user(who: &Identity, invitation: &InvitationRequest) -> bool {
    is_tel_uri(&who.uri)
        || invitation
            .local_participant_type
            .as_deref()
            .is_some_and(|kind| kind.eq_ignore_ascii_case("GatewayParticipant"))
}

pub(crate) fn initial_role(settings: &MeetingSettings, who: &Identity) -> Role {
    let leader = who.trusted
        || settings.is_organizer(who)
        || settings.is_listed_leader(who)
        || match settings.automatic_leader_assignment {
            AutomaticLeaderAssignment::Everyone => true,
            AutomaticLeaderAssignment::SameEnterprise => settings.is_same_enterprise(who),
            AutomaticLeaderAssignment::Disabled => false,
        };
    if leader { Role::Leader } else { Role::Attendee }
}
