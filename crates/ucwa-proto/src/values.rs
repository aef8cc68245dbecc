//! Property values: the enumerations of the UCWA reference (each spelled once, see
//! [`crate::string_enum`]) and dates.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::encode::aspnet_date;
use crate::string_enum::string_enum;

string_enum! {
    /// `state` of a conversation
    /// ([ConversationState](https://learn.microsoft.com/en-us/skype-sdk/ucwa/conversationstate_ref)).
    pub enum ConversationState {
        Incoming = "Incoming",
        Connecting = "Connecting",
        Connected = "Connected",
        Conferencing = "Conferencing",
        Conferenced = "Conferenced",
        InLobby = "InLobby",
        Disconnecting = "Disconnecting",
        Disconnected = "Disconnected",
    }
}

string_enum! {
    /// `state` of an invitation. This server completes invitations only as `Connected` or
    /// `Failed` (docs/protocol.md, onlineMeetingInvitation).
    pub enum InvitationState {
        Connecting = "Connecting",
        Connected = "Connected",
        Failed = "Failed",
        Alerting = "Alerting",
        Cancelled = "Cancelled",
        Declined = "Declined",
        Forwarded = "Forwarded",
        TeamRing = "TeamRing",
    }
}

string_enum! {
    /// `direction` of an invitation or message.
    pub enum Direction {
        Incoming = "Incoming",
        Outgoing = "Outgoing",
    }
}

string_enum! {
    /// `importance` of an invitation or conversation.
    pub enum Importance {
        Normal = "Normal",
        Urgent = "Urgent",
        Emergency = "Emergency",
        NonUrgent = "NonUrgent",
    }
}

string_enum! {
    /// `role` of a participant.
    pub enum Role {
        Leader = "Leader",
        Attendee = "Attendee",
        Unknown = "Unknown",
    }
}

string_enum! {
    /// `sourceNetwork` of a participant.
    pub enum SourceNetwork {
        SameEnterprise = "SameEnterprise",
        Federated = "Federated",
        PublicCloud = "PublicCloud",
        Everyone = "Everyone",
        Unknown = "Unknown",
    }
}

string_enum! {
    /// `availability` of a user or contact
    /// ([Availability](https://learn.microsoft.com/en-us/skype-sdk/ucwa/availability_ref)).
    pub enum Availability {
        Online = "Online",
        Busy = "Busy",
        DoNotDisturb = "DoNotDisturb",
        BeRightBack = "BeRightBack",
        Away = "Away",
        IdleOnline = "IdleOnline",
        IdleBusy = "IdleBusy",
        Offline = "Offline",
    }
}

string_enum! {
    /// The availability a user sets (`me/presence`, `makeMeAvailable`'s `signInAs`)
    /// ([PreferredAvailability](https://learn.microsoft.com/en-us/skype-sdk/ucwa/preferredavailability_ref)).
    pub enum PreferredAvailability {
        Online = "Online",
        Busy = "Busy",
        DoNotDisturb = "DoNotDisturb",
        BeRightBack = "BeRightBack",
        Away = "Away",
        Offwork = "Offwork",
    }
}

string_enum! {
    /// `type` of a note ([NoteType](https://learn.microsoft.com/en-us/skype-sdk/ucwa/notetype_ref)).
    pub enum NoteType {
        Personal = "Personal",
        OutOfOffice = "OutOfOffice",
    }
}

string_enum! {
    /// `type` of a contact ([ContactType](https://learn.microsoft.com/en-us/skype-sdk/ucwa/contacttype_ref)).
    pub enum ContactType {
        User = "User",
        Phone = "Phone",
        Bot = "Bot",
        Unknown = "Unknown",
    }
}

string_enum! {
    /// `accessLevel` of a meeting: who enters without waiting in the lobby
    /// (docs/protocol.md, lobby).
    pub enum AccessLevel {
        Everyone = "Everyone",
        Invited = "Invited",
        SameEnterprise = "SameEnterprise",
        Locked = "Locked",
        None = "None",
    }
}

string_enum! {
    /// `automaticLeaderAssignment` of a meeting.
    pub enum AutomaticLeaderAssignment {
        Disabled = "Disabled",
        SameEnterprise = "SameEnterprise",
        Everyone = "Everyone",
    }
}

string_enum! {
    /// The `Disabled` / `Enabled` switches (`lobbyBypassForPhoneUsers`,
    /// `phoneUserAdmission`, and Trusted Application API settings such as `supportsReplaces`).
    pub enum Toggle {
        Disabled = "Disabled",
        Enabled = "Enabled",
    }
}

string_enum! {
    /// `entryExitAnnouncement` of a meeting.
    pub enum EntryExitAnnouncement {
        Disabled = "Disabled",
        Enabled = "Enabled",
        Unsupported = "Unsupported",
    }
}

string_enum! {
    /// `state` of a modality (messaging, audioVideo, ...).
    pub enum ModalityState {
        Disconnected = "Disconnected",
        Connecting = "Connecting",
        Connected = "Connected",
        Notified = "Notified",
        OnHold = "OnHold",
        Disconnecting = "Disconnecting",
    }
}

string_enum! {
    /// A modality in `activeModalities`, `availableModalities` and `supportedModalities`.
    pub enum ModalityType {
        Messaging = "Messaging",
        Audio = "Audio",
        Video = "Video",
        PhoneAudio = "PhoneAudio",
        ApplicationSharing = "ApplicationSharing",
        DataCollaboration = "DataCollaboration",
        PanoramicVideo = "PanoramicVideo",
    }
}

string_enum! {
    /// An instant message format.
    pub enum MessageFormat {
        Plain = "Plain",
        Html = "Html",
    }
}

string_enum! {
    /// `localParticipantType` of a Trusted Application API join (docs/protocol.md,
    /// ms:rtc:saas:application).
    pub enum LocalParticipantType {
        Default = "Default",
        TrustedParticipant = "TrustedParticipant",
        GatewayParticipant = "GatewayParticipant",
    }
}

string_enum! {
    /// `type` of an application (only one value exists).
    pub enum ApplicationType {
        Browser = "Browser",
    }
}

string_enum! {
    /// `onlineMeetingLobbyStatus` of a Trusted Application API conversation (only `None` has
    /// been observed).
    pub enum LobbyStatus {
        None = "None",
    }
}

/// A date as UCWA writes it in JSON, the ASP.NET AJAX form `/Date(<ms since 1970>)/`. Some
/// recorded payloads carry ISO 8601 instead (`2016-12-15T20:05:08.631Z`); the text is kept as
/// received either way, and [`WireDate::unix_ms`] reads both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WireDate(String);

impl WireDate {
    /// The ASP.NET form of `unix_ms`.
    pub fn from_unix_ms(unix_ms: i64) -> Self {
        Self(aspnet_date(unix_ms))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Milliseconds since 1970, if the text is `/Date(ms)/` (optionally with a `+hhmm` zone
    /// suffix, which does not change the instant) or ISO 8601 in UTC.
    pub fn unix_ms(&self) -> Option<i64> {
        let text = self.0.trim();
        match text.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
            Some(inner) => {
                let digits = inner.find(['+', '-']).filter(|&i| i > 0).map_or(inner, |i| &inner[..i]);
                digits.parse().ok()
            }
            None => iso8601_utc_ms(text),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` in milliseconds since 1970.
fn iso8601_utc_ms(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
    let valid = (1..=12).contains(&month) && (1..=31).contains(&day) && hour < 24 && minute < 60 && second < 61;
    if !valid || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let millis = format!("{fraction:0<3}").get(..3)?.parse::<i64>().ok()?;
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(seconds * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl From<String> for WireDate {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl fmt::Display for WireDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for WireDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for WireDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_both_recorded_forms() {
        assert_eq!(WireDate::from_unix_ms(1466181726193).as_str(), "/Date(1466181726193)/");
        assert_eq!(WireDate::from_unix_ms(1466181726193).unix_ms(), Some(1466181726193));
        assert_eq!(WireDate::from("/Date(1466181726193+0100)/".to_owned()).unix_ms(), Some(1466181726193));
        assert_eq!(WireDate::from("2016-12-15T20:05:08.631Z".to_owned()).unix_ms(), Some(1481832308631));
        assert_eq!(WireDate::from("1970-01-01T00:00:00Z".to_owned()).unix_ms(), Some(0));
        assert_eq!(WireDate::from("2000-03-01T00:00:00.5Z".to_owned()).unix_ms(), Some(951868800500));
        assert_eq!(WireDate::from("soon".to_owned()).unix_ms(), None);
        assert_eq!(WireDate::from("/Date(-5)/".to_owned()).unix_ms(), Some(-5));
    }

    #[test]
    fn enums_use_the_reference_spelling() {
        assert_eq!(serde_json::to_value(ConversationState::InLobby).unwrap(), "InLobby");
        assert_eq!(
            serde_json::from_value::<AccessLevel>("SameEnterprise".into()).unwrap(),
            AccessLevel::SameEnterprise
        );
        assert_eq!(Importance::from("Loud").as_str(), "Loud");
    }
}
