//! Meeting policy settings (`onlineMeeting` properties, docs/protocol.md,
//! lobby) and the SIP URI
//! comparisons the lobby rules need.

use serde::{Deserialize, Serialize};

use super::session::Identity;

/// Who may enter without waiting in the lobby (`accessLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessLevel {
    /// Everyone, anonymous guests included.
    Everyone,
    /// Listed attendees (and leaders).
    Invited,
    /// Authenticated users of the tenant's domain.
    SameEnterprise,
    /// Only the organizer and listed leaders.
    Locked,
}

/// Who becomes a Leader on entry besides the organizer and listed leaders
/// (`automaticLeaderAssignment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AutomaticLeaderAssignment {
    Disabled,
    SameEnterprise,
    Everyone,
}

/// The `Disabled` / `Enabled` switches of an online meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Toggle {
    Disabled,
    Enabled,
}

/// The organizer's policy for one meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingSettings {
    pub organizer_uri: String,
    pub subject: String,
    pub description: String,
    pub access_level: AccessLevel,
    /// SIP URIs admitted directly when `access_level` is `Invited`.
    pub attendees: Vec<String>,
    /// SIP URIs that always enter directly, as Leaders (the organizer is implicitly one).
    pub leaders: Vec<String>,
    pub automatic_leader_assignment: AutomaticLeaderAssignment,
    /// Lets phone / gateway joiners skip the lobby unless the meeting is `Locked`.
    pub lobby_bypass_for_phone_users: Toggle,
    /// Stored and echoed only: no PSTN dial-in exists to apply it to.
    pub phone_user_admission: Toggle,
    /// Stored and echoed only: announcements are an audio feature.
    pub entry_exit_announcement: Toggle,
    /// Joins at or after this instant fail with `MeetingError::Ended`; the store sends
    /// `Command::End` when it passes.
    pub expiration_ms: i64,
    /// Domain whose authenticated users count as `SameEnterprise`. It is separate from the
    /// organizer's domain because Trusted Application meetings are organized by a pool account
    /// (`sip:meet1692@noammeetings.lync.com`) on behalf of the tenant.
    pub tenant_domain: String,
}

impl MeetingSettings {
    /// Settings with the conservative defaults of a scheduled Lync meeting (same-enterprise
    /// access, no automatic leaders, switches off) and the tenant taken from the organizer's
    /// domain.
    pub fn new(organizer_uri: impl Into<String>, expiration_ms: i64) -> Self {
        let organizer_uri = organizer_uri.into();
        let tenant_domain = sip_domain(&organizer_uri).unwrap_or_default().to_owned();
        Self {
            organizer_uri,
            subject: String::new(),
            description: String::new(),
            access_level: AccessLevel::SameEnterprise,
            attendees: Vec::new(),
            leaders: Vec::new(),
            automatic_leader_assignment: AutomaticLeaderAssignment::Disabled,
            lobby_bypass_for_phone_users: Toggle::Disabled,
            phone_user_admission: Toggle::Disabled,
            entry_exit_announcement: Toggle::Disabled,
            expiration_ms,
            tenant_domain,
        }
    }

    /// Anonymous guests never match a URI: theirs is synthetic and could collide.
    pub fn is_organizer(&self, who: &Identity) -> bool {
        !who.anonymous && same_uri(&who.uri, &self.organizer_uri)
    }

    pub fn is_listed_leader(&self, who: &Identity) -> bool {
        !who.anonymous && self.leaders.iter().any(|uri| same_uri(&who.uri, uri))
    }

    pub fn is_listed_attendee(&self, who: &Identity) -> bool {
        !who.anonymous && self.attendees.iter().any(|uri| same_uri(&who.uri, uri))
    }

    /// An authenticated `sip:` user of the tenant's domain (case-insensitive).
    pub fn is_same_enterprise(&self, who: &Identity) -> bool {
        !who.anonymous
            && !self.tenant_domain.is_empty()
            && sip_domain(&who.uri).is_some_and(|domain| domain.eq_ignore_ascii_case(&self.tenant_domain))
    }
}

/// The host part of a `sip:` URI: `sip:a@Contoso.com;gruu` gives `Contoso.com`.
/// Other schemes (`tel:`) have none.
pub fn sip_domain(uri: &str) -> Option<&str> {
    let rest = strip_scheme(uri.trim(), "sip:")?;
    let (_, host) = rest.rsplit_once('@')?;
    let host = host.split([';', '?', ':', '>']).next().unwrap_or_default();
    (!host.is_empty()).then_some(host)
}

/// SIP URIs compare case-insensitively, with or without the `sip:` scheme, the way Lync
/// matched its leader and attendee lists.
pub fn same_uri(a: &str, b: &str) -> bool {
    without_sip_scheme(a).eq_ignore_ascii_case(without_sip_scheme(b))
}

fn without_sip_scheme(uri: &str) -> &str {
    let uri = uri.trim();
    strip_scheme(uri, "sip:").unwrap_or(uri)
}

/// `tel:` URIs are phone users.
pub(crate) fn is_tel_uri(uri: &str) -> bool {
    strip_scheme(uri.trim(), "tel:").is_some()
}

fn strip_scheme<'a>(uri: &'a str, scheme: &str) -> Option<&'a str> {
    let (head, rest) = (uri.get(..scheme.len())?, uri.get(scheme.len()..)?);
    head.eq_ignore_ascii_case(scheme).then_some(rest)
}
