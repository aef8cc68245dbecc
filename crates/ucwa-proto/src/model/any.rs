//! Any resource, by kind: what `_embedded` holds and what a client reads when it does not know
//! in advance which resource an href returns.
//!
//! The kind is chosen by the resource's `rel` (without prefix), or by the key it is embedded
//! under when it has no `rel`. A rel without a typed model, or a payload that does not fit its
//! model, is kept as [`AnyResource::Other`] with untyped properties, so relaying never loses
//! data; under [`crate::string_enum::strict`] both are errors instead.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::application::{Application, Dashboard, Me, Policies};
use super::communication::Communication;
use super::conversation::{Conversation, MediaModality};
use super::hal::{Embedded, Hal, Links};
use super::invitation::{MessagingInvitation, OnlineMeetingInvitation, ParticipantInvitation};
use super::meeting::{
    AdhocMeeting, MyOnlineMeeting, OnlineMeeting, OnlineMeetingDefaultValues, OnlineMeetingEligibleValues,
};
use super::messaging::{Message, Messaging};
use super::participant::Participant;
use super::people::{Contact, Location, Note, Presence, PresenceSubscription, Search};
use super::platform::{AnonApplicationToken, Discover};
use crate::rel::{Rel, RelName};
use crate::string_enum::is_strict;

/// A kind of resource: the properties type `P` of a [`Hal<P>`] that [`AnyResource`] can hold.
pub trait Kind: Sized {
    /// The resource, if `any` is of this kind.
    fn from_any(any: &AnyResource) -> Option<&Hal<Self>>;
    /// Wraps a resource of this kind.
    fn into_any(hal: Hal<Self>) -> AnyResource;
}

macro_rules! any_resource {
    ($( $(#[$meta:meta])* $variant:ident($props:ty) = [$($name:ident),+] ),+ $(,)?) => {
        /// A resource of any kind.
        #[derive(Debug, Clone, PartialEq)]
        pub enum AnyResource {
            $( $(#[$meta])* $variant(Hal<$props>), )+
            /// A resource without a typed model here, properties untyped.
            Other(Hal<Map<String, Value>>),
        }

        impl AnyResource {
            /// Reads a resource, choosing its kind by its `rel` or else by `fallback_rel`.
            pub fn from_value(value: Value, fallback_rel: Option<&Rel>) -> serde_json::Result<Self> {
                let Value::Object(object) = value else {
                    return Err(serde::de::Error::custom("a resource must be a JSON object"));
                };
                let rel = match object.get("rel") {
                    Some(Value::String(text)) => Some(Rel::parse(text)),
                    _ => fallback_rel.cloned(),
                };
                let typed = match rel.as_ref().map(|r| &r.name) {
                    $( Some($(RelName::$name)|+) => Some(Hal::from_object(object.clone(), fallback_rel).map(AnyResource::$variant)), )+
                    _ => None,
                };
                match typed {
                    Some(Ok(resource)) => Ok(resource),
                    Some(Err(e)) if is_strict() => Err(e),
                    None if is_strict() => Err(serde::de::Error::custom(format!(
                        "no typed model for the resource `{}`",
                        rel.map_or_else(String::new, |r| r.to_string())
                    ))),
                    _ => Hal::from_object(object, fallback_rel).map(AnyResource::Other),
                }
            }

            /// The resource's `rel`.
            pub fn rel(&self) -> Option<&Rel> {
                match self {
                    $( AnyResource::$variant(hal) => hal.rel.as_ref(), )+
                    AnyResource::Other(hal) => hal.rel.as_ref(),
                }
            }

            /// The resource's `self` href.
            pub fn self_href(&self) -> Option<&str> {
                self.links().href(RelName::SelfLink)
            }

            /// The resource's links.
            pub fn links(&self) -> &Links {
                match self {
                    $( AnyResource::$variant(hal) => &hal.links, )+
                    AnyResource::Other(hal) => &hal.links,
                }
            }

            /// The resources embedded in this one.
            pub fn embedded(&self) -> &Embedded {
                match self {
                    $( AnyResource::$variant(hal) => &hal.embedded, )+
                    AnyResource::Other(hal) => &hal.embedded,
                }
            }

            /// Whether resources named `name` have a typed model (any other is read as
            /// [`AnyResource::Other`]).
            pub fn has_model(name: &RelName) -> bool {
                matches!(name, $( $(RelName::$name)|+ )|+)
            }
        }

        impl Serialize for AnyResource {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( AnyResource::$variant(hal) => hal.serialize(serializer), )+
                    AnyResource::Other(hal) => hal.serialize(serializer),
                }
            }
        }

        $(
            impl Kind for $props {
                fn from_any(any: &AnyResource) -> Option<&Hal<Self>> {
                    match any {
                        AnyResource::$variant(hal) => Some(hal),
                        _ => None,
                    }
                }

                fn into_any(hal: Hal<Self>) -> AnyResource {
                    AnyResource::$variant(hal)
                }
            }

            impl From<Hal<$props>> for AnyResource {
                fn from(hal: Hal<$props>) -> Self {
                    AnyResource::$variant(hal)
                }
            }
        )+
    };
}

any_resource! {
    Application(Application) = [Application],
    Me(Me) = [Me],
    Policies(Policies) = [Policies],
    Communication(Communication) = [Communication],
    /// Dashboards, collections and roster views; the `rel` says which.
    Dashboard(Dashboard) = [
        People, OnlineMeetings, PresenceSubscriptions, SubscribedContacts, PresenceSubscriptionMemberships,
        MyGroups, MyGroupMemberships, MyContacts, MyPrivacyRelationships, MyContactsAndGroupsSubscription,
        OnlineMeetingInvitationCustomization, OnlineMeetingPolicies, PhoneDialInInformation,
        MyOnlineMeetings, AdhocMeetings, Applications, Conversations, Participants, Leaders, Attendees, Lobby,
        ParticipantMessaging, Phones, TypingParticipants
    ],
    /// `presence` (one's own) and `contactPresence`.
    Presence(Presence) = [Presence, ContactPresence],
    /// `note` and `contactNote`.
    Note(Note) = [Note, ContactNote],
    /// `location` and `contactLocation`.
    Location(Location) = [Location, ContactLocation],
    Contact(Contact) = [Contact],
    Search(Search) = [Search],
    PresenceSubscription(PresenceSubscription) = [PresenceSubscription],
    OnlineMeetingInvitation(OnlineMeetingInvitation) = [OnlineMeetingInvitation],
    MessagingInvitation(MessagingInvitation) = [MessagingInvitation],
    ParticipantInvitation(ParticipantInvitation) = [ParticipantInvitation],
    Conversation(Conversation) = [Conversation],
    /// `audioVideo`, `applicationSharing` or `dataCollaboration`.
    MediaModality(MediaModality) = [AudioVideo, ApplicationSharing, DataCollaboration],
    Messaging(Messaging) = [Messaging],
    Message(Message) = [Message],
    /// `participant`, `localParticipant`, `from` and the other names a participant is
    /// embedded under.
    Participant(Participant) = [Participant, LocalParticipant, From, SenderParticipant, AcceptedByParticipant],
    OnlineMeeting(OnlineMeeting) = [OnlineMeeting],
    MyOnlineMeeting(MyOnlineMeeting) = [MyOnlineMeeting],
    AdhocMeeting(AdhocMeeting) = [AdhocMeeting],
    OnlineMeetingDefaultValues(OnlineMeetingDefaultValues) = [OnlineMeetingDefaultValues],
    OnlineMeetingEligibleValues(OnlineMeetingEligibleValues) = [OnlineMeetingEligibleValues],
    Discover(Discover) = [Discover],
    AnonApplicationToken(AnonApplicationToken) = [AnonApplicationToken],
}

impl Kind for Map<String, Value> {
    fn from_any(any: &AnyResource) -> Option<&Hal<Self>> {
        match any {
            AnyResource::Other(hal) => Some(hal),
            _ => None,
        }
    }

    fn into_any(hal: Hal<Self>) -> AnyResource {
        AnyResource::Other(hal)
    }
}

impl From<Hal<Map<String, Value>>> for AnyResource {
    fn from(hal: Hal<Map<String, Value>>) -> Self {
        AnyResource::Other(hal)
    }
}

impl<'de> serde::Deserialize<'de> for AnyResource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        AnyResource::from_value(value, None).map_err(serde::de::Error::custom)
    }
}
