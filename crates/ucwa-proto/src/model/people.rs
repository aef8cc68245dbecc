//! Presence and people: the user's own `presence`, `note` and `location`, a `contact` and its
//! `contactPresence` / `contactNote` / `contactLocation`, `search` results and
//! `presenceSubscription` (docs/protocol.md, me, people).

use serde::{Deserialize, Serialize};

use crate::values::{Availability, ContactType, NoteType, SourceNetwork, WireDate};

/// [presence](https://learn.microsoft.com/en-us/skype-sdk/ucwa/presence_ref) and
/// [contactPresence](https://learn.microsoft.com/en-us/skype-sdk/ucwa/contactpresence_ref):
/// someone's availability, and an activity (a well-known token such as `off-work`) when
/// there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    pub availability: Availability,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active: Option<WireDate>,
}

/// [note](https://learn.microsoft.com/en-us/skype-sdk/ucwa/note_ref) and
/// [contactNote](https://learn.microsoft.com/en-us/skype-sdk/ucwa/contactnote_ref).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Empty when there is no note.
    pub message: String,
    #[serde(rename = "type")]
    pub kind: NoteType,
}

/// [location](https://learn.microsoft.com/en-us/skype-sdk/ucwa/location_ref) and
/// `contactLocation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Empty when none is set.
    pub location: String,
}

/// [contact](https://learn.microsoft.com/en-us/skype-sdk/ucwa/contact_ref): a person the user
/// can communicate with; its presence, note, location and photo are links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub uri: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ContactType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_network: Option<SourceNetwork>,
}

/// [search](https://learn.microsoft.com/en-us/skype-sdk/ucwa/search_ref): the contacts found
/// are embedded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Search {
    pub more_results_available: bool,
}

/// [presenceSubscription](https://learn.microsoft.com/en-us/skype-sdk/ucwa/presencesubscription_ref).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceSubscription {
    pub id: String,
}
