//! Request bodies a client sends: one typed struct per operation, spelled the way the reference
//! pages and the recorded clients spell them (camelCase, absent values left out). Servers read
//! input case-insensitively through [`crate::input::PropertyBag`]; these types are the client
//! side of the same contracts (docs/protocol.md, section of each operation).
//!
//! Every struct is `#[non_exhaustive]` with a constructor for its required fields and public
//! optional fields, so fields can be added without breaking callers:
//!
//! ```
//! use ucwa_proto::request::JoinOnlineMeeting;
//! use ucwa_proto::SipUri;
//!
//! let uri = SipUri::parse("sip:alice@example.com;gruu;opaque=app:conf:focus:id:JE49B6SO").unwrap();
//! let mut join = JoinOnlineMeeting::new(Some(uri), "op-1");
//! join.anonymous_display_name = Some("Grace".into());
//! let json = serde_json::to_value(&join).unwrap();
//! assert_eq!(json["onlineMeetingUri"], "sip:alice@example.com;gruu;opaque=app:conf:focus:id:JE49B6SO");
//! assert_eq!(json["anonymousDisplayName"], "Grace");
//! assert!(json.get("subject").is_none());
//! ```

use serde::{Deserialize, Serialize};

use crate::ids::SipUri;
use crate::values::{
    AccessLevel, AutomaticLeaderAssignment, EntryExitAnnouncement, Importance, LocalParticipantType, MessageFormat,
    ModalityType, Toggle, WireDate,
};

/// The token endpoint's form (`POST /WebTicket/oauthtoken`, docs/protocol.md, oauthtoken): one
/// variant per grant this server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenGrant {
    /// `grant_type=password`: a user's name (`alice@example.com` or `sip:...`) and password.
    Password { username: String, password: String },
    /// `grant_type=urn:microsoft.rtc:anonmeeting`: an anonymous guest of one meeting, named by
    /// its conference id and URI; `renew` is a previous token whose guest identity to keep.
    AnonymousMeeting { conference_id: String, meeting_uri: SipUri, renew: Option<String> },
    /// `grant_type=client_credentials`: a service application endpoint and its secret.
    ClientCredentials { client_id: SipUri, client_secret: String },
}

impl TokenGrant {
    /// The form fields, in the order the reference pages list them.
    pub fn form(&self) -> Vec<(&'static str, String)> {
        match self {
            TokenGrant::Password { username, password } => {
                vec![("grant_type", "password".into()), ("username", username.clone()), ("password", password.clone())]
            }
            TokenGrant::AnonymousMeeting { conference_id, meeting_uri, renew } => {
                let mut form = vec![
                    ("grant_type", "urn:microsoft.rtc:anonmeeting".into()),
                    ("password", conference_id.clone()),
                    ("ms_rtc_conferenceuri", meeting_uri.to_string()),
                ];
                if let Some(previous) = renew {
                    form.push(("ms_rtc_renew", previous.clone()));
                }
                form
            }
            TokenGrant::ClientCredentials { client_id, client_secret } => vec![
                ("grant_type", "client_credentials".into()),
                ("client_id", client_id.to_string()),
                ("client_secret", client_secret.clone()),
            ],
        }
    }
}

/// `POST applications` (docs/protocol.md, applications): creating is idempotent per
/// `endpointId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NewApplication {
    pub user_agent: String,
    pub endpoint_id: String,
    pub culture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

impl NewApplication {
    pub fn new(user_agent: impl Into<String>, endpoint_id: impl Into<String>, culture: impl Into<String>) -> Self {
        Self {
            user_agent: user_agent.into(),
            endpoint_id: endpoint_id.into(),
            culture: culture.into(),
            instance_id: None,
        }
    }
}

/// `POST /ucwa/psanon/v1/applications` with a `psat` token: an anonymous guest's application
/// (docs/protocol.md, anonApplications).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NewAnonApplication {
    pub anonymous_display_name: String,
    pub user_agent: String,
    pub culture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

impl NewAnonApplication {
    pub fn new(
        anonymous_display_name: impl Into<String>,
        user_agent: impl Into<String>,
        culture: impl Into<String>,
    ) -> Self {
        Self {
            anonymous_display_name: anonymous_display_name.into(),
            user_agent: user_agent.into(),
            culture: culture.into(),
            endpoint_id: None,
            instance_id: None,
        }
    }
}

/// `POST me/makeMeAvailable` (docs/protocol.md, me). Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MakeMeAvailable {
    /// `Online`, `Busy`, `DoNotDisturb`, `BeRightBack`, `Away` or `Offwork`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_as: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_modalities: Option<Vec<ModalityType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_message_formats: Option<Vec<MessageFormat>>,
}

/// `POST communication/onlineMeetingInvitations`: `joinOnlineMeeting`, `startOnlineMeeting`
/// (no URI) and the Trusted Application API's `joinAdhocMeeting` (docs/protocol.md,
/// onlineMeetingInvitation and ms:rtc:saas:application).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct JoinOnlineMeeting {
    /// The meeting to join; `None` starts a new ad hoc meeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_meeting_uri: Option<SipUri>,
    /// The caller's correlation id, echoed in every event about the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<Importance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// Required for anonymous guests, refused for signed-in users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_display_name: Option<String>,
    /// Trusted Application API: where the conversation's events are POSTed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// Trusted Application API: echoed as `?callbackContext=` on every callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_context: Option<String>,
    /// Trusted Application API: join as this person (passing the lobby as they would).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_participant_uri: Option<SipUri>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_participant_display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_participant_type: Option<LocalParticipantType>,
}

impl JoinOnlineMeeting {
    /// A join of `meeting` (or a new meeting) with the correlation id `operation_id`.
    pub fn new(meeting: Option<SipUri>, operation_id: impl Into<String>) -> Self {
        Self { online_meeting_uri: meeting, operation_id: Some(operation_id.into()), ..Self::default() }
    }
}

/// `POST communication/participantInvitations?conversation=` (the conversation's
/// `addParticipant` link; docs/protocol.md, participantInvitation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AddParticipant {
    pub to: SipUri,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<Importance>,
    /// Text, or a data URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl AddParticipant {
    pub fn new(to: SipUri, operation_id: impl Into<String>) -> Self {
        Self { to, operation_id: Some(operation_id.into()), subject: None, importance: None, message: None }
    }
}

/// `POST communication/messagingInvitations` (`startMessaging`, a person-to-person
/// conversation; docs/protocol.md, messagingInvitation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StartMessaging {
    pub to: SipUri,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<Importance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// The first message, text or a data URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl StartMessaging {
    pub fn new(to: SipUri, operation_id: impl Into<String>) -> Self {
        Self {
            to,
            operation_id: Some(operation_id.into()),
            subject: None,
            importance: None,
            thread_id: None,
            message: None,
        }
    }
}

/// `POST` of a messaging modality's `addMessaging` link (messaging in a meeting).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AddMessaging {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
}

impl AddMessaging {
    pub fn new(operation_id: impl Into<String>) -> Self {
        Self { operation_id: Some(operation_id.into()) }
    }
}

/// `POST` of an incoming invitation's `decline` link. `reason: "Local"` declines only this
/// application's copy; any other reason (or none) declines for every application of the user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Decline {
    /// A CallDeclineReason: `Local`, `Global`, `Unknown`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Decline {
    pub fn new(reason: Option<&str>) -> Self {
        Self { reason: reason.map(str::to_owned) }
    }
}

/// The settings of a meeting to schedule (`POST myOnlineMeetings`, `POST adhocMeetings`;
/// docs/protocol.md, myOnlineMeetings). Every field is optional; the server fills defaults.
/// To update a meeting, PUT the `myOnlineMeeting` it answered back with changed properties.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MeetingSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_level: Option<AccessLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attendees: Option<Vec<SipUri>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaders: Option<Vec<SipUri>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_leader_assignment: Option<AutomaticLeaderAssignment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_exit_announcement: Option<EntryExitAnnouncement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<WireDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lobby_bypass_for_phone_users: Option<Toggle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_user_admission: Option<Toggle>,
}

/// `POST anonApplicationTokens` (Trusted Application API; docs/protocol.md,
/// anonApplicationTokens): a `psat` token for an anonymous guest of one meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AnonApplicationTokenRequest {
    /// The same id always gives the same guest (a rejoin after a drop).
    pub application_session_id: String,
    /// The meeting's https join URL.
    pub meeting_url: String,
    /// `;`-separated `https://host[:port]` origins the token may be used from; `None` binds it
    /// to no origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<String>,
}

impl AnonApplicationTokenRequest {
    pub fn new(application_session_id: impl Into<String>, meeting_url: impl Into<String>) -> Self {
        Self {
            application_session_id: application_session_id.into(),
            meeting_url: meeting_url.into(),
            allowed_origins: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn grants_spell_the_documented_fields() {
        let uri = SipUri::parse("sip:a@b.c;gruu;opaque=app:conf:focus:id:X").unwrap();
        let anon =
            TokenGrant::AnonymousMeeting { conference_id: "X".into(), meeting_uri: uri, renew: Some("t".into()) };
        assert_eq!(
            anon.form(),
            [
                ("grant_type", "urn:microsoft.rtc:anonmeeting".to_owned()),
                ("password", "X".to_owned()),
                ("ms_rtc_conferenceuri", "sip:a@b.c;gruu;opaque=app:conf:focus:id:X".to_owned()),
                ("ms_rtc_renew", "t".to_owned()),
            ]
        );
        let service = TokenGrant::ClientCredentials {
            client_id: SipUri::parse("sip:bot@b.c").unwrap(),
            client_secret: "s".into(),
        };
        assert_eq!(service.form()[0], ("grant_type", "client_credentials".to_owned()));
    }

    #[test]
    fn bodies_leave_out_what_is_absent() {
        let settings = MeetingSettings {
            subject: Some("Weekly".into()),
            access_level: Some(AccessLevel::Locked),
            ..Default::default()
        };
        assert_eq!(serde_json::to_value(&settings).unwrap(), json!({"subject": "Weekly", "accessLevel": "Locked"}));
        let app = NewApplication::new("sdk", "laptop", "en-US");
        assert_eq!(
            serde_json::to_value(&app).unwrap(),
            json!({"userAgent": "sdk", "endpointId": "laptop", "culture": "en-US"})
        );
        assert_eq!(serde_json::to_value(Decline::new(None)).unwrap(), json!({}));
        let mut tokens = AnonApplicationTokenRequest::new("s1", "https://x/meet/a/B");
        tokens.allowed_origins = Some("https://a.example".into());
        assert_eq!(
            serde_json::to_value(&tokens).unwrap(),
            json!({"applicationSessionId": "s1", "meetingUrl": "https://x/meet/a/B", "allowedOrigins": "https://a.example"})
        );
    }
}
