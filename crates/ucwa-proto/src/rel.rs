//! Link relations: the names of links, embedded resources and resources themselves.
//!
//! A [`Rel`] is a [`RelName`] (`conversation`, `lobby`, `admit`, ...) plus whether it is
//! spelled with the Trusted Application API prefix `ms:rtc:saas:`. Keeping the prefix as a flag
//! rather than as part of the name is what lets one set of resource types serve both
//! surfaces: a client asks a resource for its `lobby` link whatever the surface, a server builds
//! links by name and lets the resource's [`Namespace`] decide the spelling, and a payload that
//! mixes spellings (the recorded guest `discover` has both `applications` and
//! `ms:rtc:saas:applications`) round-trips exactly. See docs/protocol.md, Rel namespace.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::string_enum::string_enum;

/// The prefix of Trusted Application API rels.
pub const SAAS_PREFIX: &str = "ms:rtc:saas:";

/// The rel namespace of a surface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// UCWA 2.0 and anonymous guests: bare rels.
    #[default]
    Ucwa,
    /// Trusted Application API: `ms:rtc:saas:` rels.
    Saas,
}

impl Namespace {
    /// `name` as this namespace spells it: prefixed in [`Namespace::Saas`], except the rels the
    /// recorded Trusted Application API payloads show bare ([`RelName::is_bare_in_saas`]).
    pub fn rel_of(self, name: RelName) -> Rel {
        let prefixed = self == Namespace::Saas && !name.is_bare_in_saas();
        Rel { name, prefixed }
    }

    /// Spells a rel given as text (the resource builder of [`crate::resource`]).
    pub fn rel(self, rel: &str) -> String {
        self.rel_of(RelName::from(rel)).to_string()
    }
}

string_enum! {
    /// The name of a link relation, without namespace prefix. One variant per rel this server
    /// emits or reads; any other name is kept as received.
    pub enum RelName {
        SelfLink = "self",
        Next = "next",
        Resume = "resume",
        Resync = "resync",
        User = "user",
        Xframe = "xframe",
        Redirect = "redirect",
        Applications = "applications",
        Application = "application",
        Me = "me",
        People = "people",
        OnlineMeetings = "onlineMeetings",
        Communication = "communication",
        Policies = "policies",
        Batch = "batch",
        Events = "events",
        MakeMeAvailable = "makeMeAvailable",
        ReportMyActivity = "reportMyActivity",
        Photo = "photo",
        PresenceSubscriptions = "presenceSubscriptions",
        SubscribedContacts = "subscribedContacts",
        PresenceSubscriptionMemberships = "presenceSubscriptionMemberships",
        MyGroups = "myGroups",
        MyGroupMemberships = "myGroupMemberships",
        MyContacts = "myContacts",
        MyPrivacyRelationships = "myPrivacyRelationships",
        MyContactsAndGroupsSubscription = "myContactsAndGroupsSubscription",
        Search = "search",
        MyOnlineMeetings = "myOnlineMeetings",
        MyOnlineMeeting = "myOnlineMeeting",
        MyAssignedOnlineMeeting = "myAssignedOnlineMeeting",
        OnlineMeetingDefaultValues = "onlineMeetingDefaultValues",
        OnlineMeetingEligibleValues = "onlineMeetingEligibleValues",
        OnlineMeetingInvitationCustomization = "onlineMeetingInvitationCustomization",
        OnlineMeetingPolicies = "onlineMeetingPolicies",
        PhoneDialInInformation = "phoneDialInInformation",
        Conversations = "conversations",
        Conversation = "conversation",
        StartMessaging = "startMessaging",
        StartMessagingWithIdentity = "startMessagingWithIdentity",
        StartOnlineMeeting = "startOnlineMeeting",
        JoinOnlineMeeting = "joinOnlineMeeting",
        InviteUserToMeeting = "inviteUserToMeeting",
        StartAudio = "startAudio",
        StartAudioVideo = "startAudioVideo",
        MediaRelayAccessToken = "mediaRelayAccessToken",
        MediaPolicies = "mediaPolicies",
        OnlineMeetingInvitation = "onlineMeetingInvitation",
        ParticipantInvitation = "participantInvitation",
        MessagingInvitation = "messagingInvitation",
        AudioVideoInvitation = "audioVideoInvitation",
        Accept = "accept",
        Decline = "decline",
        Cancel = "cancel",
        From = "from",
        Message = "message",
        CustomContent = "customContent",
        AcceptedByParticipant = "acceptedByParticipant",
        Participant = "participant",
        LocalParticipant = "localParticipant",
        SenderParticipant = "senderParticipant",
        Participants = "participants",
        Leaders = "leaders",
        Attendees = "attendees",
        Lobby = "lobby",
        Admit = "admit",
        Reject = "reject",
        Promote = "promote",
        Demote = "demote",
        Eject = "eject",
        ParticipantMessaging = "participantMessaging",
        OnlineMeeting = "onlineMeeting",
        AddParticipant = "addParticipant",
        AddMessaging = "addMessaging",
        Messaging = "messaging",
        AudioVideo = "audioVideo",
        ApplicationSharing = "applicationSharing",
        DataCollaboration = "dataCollaboration",
        SendMessage = "sendMessage",
        StopMessaging = "stopMessaging",
        SetIsTyping = "setIsTyping",
        TypingParticipants = "typingParticipants",
        PlainMessage = "plainMessage",
        HtmlMessage = "htmlMessage",
        Discover = "discover",
        MyApplications = "myApplications",
        AnonApplications = "anonApplications",
        AnonApplicationTokens = "anonApplicationTokens",
        AnonApplicationToken = "anonApplicationToken",
        AdhocMeetings = "adhocMeetings",
        AdhocMeeting = "adhocMeeting",
        JoinAdhocMeeting = "joinAdhocMeeting",
        StartAdhocMeeting = "startAdhocMeeting",
        Presence = "presence",
        Note = "note",
        Location = "location",
        Phones = "phones",
        Phone = "phone",
        To = "to",
        Contact = "contact",
        ContactPresence = "contactPresence",
        ContactNote = "contactNote",
        ContactLocation = "contactLocation",
        ContactPhoto = "contactPhoto",
        PresenceSubscription = "presenceSubscription",
        AddToPresenceSubscription = "addToPresenceSubscription",
    }
}

impl RelName {
    /// Rels the recorded Trusted Application API payloads spell without the prefix
    /// (`fixtures/tap-recorded`: `self`, `myOnlineMeetings`, `applications`, `myApplications`
    /// and `anonApplications` of discover, `customContent` and the message text links).
    pub fn is_bare_in_saas(&self) -> bool {
        matches!(
            self,
            RelName::SelfLink
                | RelName::MyOnlineMeetings
                | RelName::Applications
                | RelName::MyApplications
                | RelName::AnonApplications
                | RelName::CustomContent
                | RelName::PlainMessage
                | RelName::HtmlMessage
        )
    }
}

/// A rel as spelled on the wire: a name, prefixed with `ms:rtc:saas:` or not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rel {
    pub name: RelName,
    /// Spelled `ms:rtc:saas:<name>`.
    pub prefixed: bool,
}

impl Rel {
    /// `name` without prefix (UCWA, and the batch links `self`/`next`/`resync`).
    pub fn bare(name: RelName) -> Self {
        Self { name, prefixed: false }
    }

    /// `name` with the `ms:rtc:saas:` prefix, whatever [`RelName::is_bare_in_saas`] says.
    pub fn saas(name: RelName) -> Self {
        Self { name, prefixed: true }
    }

    /// The namespace this spelling belongs to (bare rels count as UCWA).
    pub fn namespace(&self) -> Namespace {
        if self.prefixed { Namespace::Saas } else { Namespace::Ucwa }
    }

    /// Parses a wire spelling.
    pub fn parse(text: &str) -> Self {
        match text.strip_prefix(SAAS_PREFIX) {
            Some(name) => Self::saas(RelName::from(name)),
            None => Self::bare(RelName::from(text)),
        }
    }
}

impl From<RelName> for Rel {
    fn from(name: RelName) -> Self {
        Self::bare(name)
    }
}

impl fmt::Display for Rel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefixed {
            f.write_str(SAAS_PREFIX)?;
        }
        f.write_str(self.name.as_str())
    }
}

impl Serialize for Rel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let rel = Rel::parse(&text);
        if !rel.name.is_known() && crate::string_enum::is_strict() {
            return Err(serde::de::Error::custom(format!("`{text}` is not a rel this model knows")));
        }
        Ok(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saas_prefixes_all_but_the_recorded_bare_rels() {
        assert_eq!(Namespace::Saas.rel_of(RelName::Communication).to_string(), "ms:rtc:saas:communication");
        assert_eq!(Namespace::Saas.rel_of(RelName::SelfLink).to_string(), "self");
        assert_eq!(Namespace::Saas.rel_of(RelName::MyOnlineMeetings).to_string(), "myOnlineMeetings");
        assert_eq!(Namespace::Ucwa.rel_of(RelName::Communication).to_string(), "communication");
        assert_eq!(Namespace::Saas.rel("lobby"), "ms:rtc:saas:lobby");
        assert_eq!(Namespace::Ucwa.rel("ms:rtc:saas:discover"), "ms:rtc:saas:discover");
    }

    #[test]
    fn wire_spellings_round_trip() {
        for text in ["ms:rtc:saas:applications", "applications", "ms:rtc:saas:somethingNew", "service:applications"] {
            let rel: Rel = serde_json::from_value(serde_json::json!(text)).unwrap();
            assert_eq!(serde_json::to_value(&rel).unwrap(), serde_json::json!(text));
        }
        let rel = Rel::parse("ms:rtc:saas:lobby");
        assert_eq!((rel.name, rel.prefixed), (RelName::Lobby, true));
    }
}
