//! The invitation operation resources: `onlineMeetingInvitation`, `messagingInvitation` and
//! `participantInvitation` (docs/protocol.md, onlineMeetingInvitation, messagingInvitation,
//! participantInvitation). Their links (`cancel`, `accept`, `decline`, `conversation`, `from`,
//! data-URI `message` / `customContent`) and the embedded `from` / `acceptedByParticipant`
//! are in the envelope.

use serde::{Deserialize, Serialize};

use crate::ids::SipUri;
use crate::values::{Direction, Importance, InvitationState, LocalParticipantType, ModalityType};

/// The properties every invitation has
/// ([invitation](https://learn.microsoft.com/en-us/skype-sdk/ucwa/invitation_ref)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub direction: Direction,
    pub importance: Importance,
    /// The client's correlation id, echoed in every event about the operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    pub state: InvitationState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// The target: the meeting URI of a join, the invitee of an invitation (a SIP URI, or a
    /// phone URI on other servers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// [onlineMeetingInvitation](https://learn.microsoft.com/en-us/skype-sdk/ucwa/onlinemeetinginvitation_ref).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineMeetingInvitation {
    #[serde(flatten)]
    pub invitation: Invitation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_meeting_uri: Option<SipUri>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_modalities: Option<Vec<ModalityType>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous_display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_participant_uri: Option<SipUri>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_participant_display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_participant_type: Option<LocalParticipantType>,
}

/// [messagingInvitation](https://learn.microsoft.com/en-us/skype-sdk/ucwa/messaginginvitation_ref):
/// a person-to-person call, or `addMessaging` in a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagingInvitation {
    #[serde(flatten)]
    pub invitation: Invitation,
}

/// [participantInvitation](https://learn.microsoft.com/en-us/skype-sdk/ucwa/participantinvitation_ref):
/// the inviter's side of `addParticipant`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantInvitation {
    #[serde(flatten)]
    pub invitation: Invitation,
}
