//! The `messaging` modality of a conversation, its `message` operations and
//! `participantMessaging` (shapes of the recorded `Event_Messaging*`, `Event_Message*` and
//! `Event_ParticipantMessaging*` payloads, UCWA spelling). Message text is carried as a
//! data URI, percent-encoded like the recordings; HTML is data and is never rendered.

use ucwa_core::meeting::{Direction, Message, ModalityState};
use ucwa_proto::RelName;
use ucwa_proto::encode::form_data_uri;
use ucwa_proto::model::{self, Dashboard, Hal, Messaging};
use ucwa_proto::values::{self as wire, MessageFormat, WireDate};

use super::Viewer;
use super::participant::participant;
use super::values::{direction, modality_state};
use crate::urls::child;

/// The messaging modality as it is in `state`, with the actions that state allows.
pub fn messaging(v: &Viewer<'_>, state: ModalityState) -> Hal<Messaging> {
    let href = v.urls.messaging(v.id);
    let connected = state == ModalityState::Connected;
    let props = Messaging {
        state: modality_state(state),
        negotiated_message_formats: connected.then(|| vec![MessageFormat::Plain, MessageFormat::Html]),
    };
    let mut r = Hal::new(v.ns, RelName::Messaging, href.clone(), props);
    if connected {
        r = r
            .link(RelName::StopMessaging, child(&href, "terminate"))
            .link(RelName::SendMessage, child(&href, "messages"))
            .link(RelName::SetIsTyping, v.urls.set_is_typing(v.id))
            .link(RelName::TypingParticipants, v.urls.typing_participants(v.id));
    }
    // A two-party conversation's messaging is started by its call, never added.
    let can_add =
        state == ModalityState::Disconnected && v.session.state == ucwa_core::meeting::ConversationState::Conferenced;
    r.link_if(can_add, RelName::AddMessaging, || v.urls.add_messaging(v.id))
        .link(RelName::Conversation, v.conversation_href())
}

/// A `message` of `direction` (the operation id only on the sender's copy).
fn message_resource(
    v: &Viewer<'_>,
    id: &str,
    direction: wire::Direction,
    operation_id: Option<&str>,
    at_ms: i64,
) -> Hal<model::Message> {
    let props = model::Message {
        direction,
        operation_id: operation_id.map(str::to_owned),
        time_stamp: Some(WireDate::from_unix_ms(at_ms)),
    };
    Hal::new(v.ns, RelName::Message, v.urls.message(v.id, id), props)
}

/// One copy of a message: the sender's (Outgoing, no content) or a receiver's (Incoming,
/// with the sender's `contact`, participant and the text, in the order of the recorded
/// message: <https://learn.microsoft.com/en-us/skype-sdk/ucwa/receiveanim>, step 16).
pub fn message(v: &Viewer<'_>, m: &Message) -> Hal<model::Message> {
    let own = if m.sender == v.id { Direction::Outgoing } else { Direction::Incoming };
    let operation_id = m.operation_id.as_deref().filter(|_| own == Direction::Outgoing);
    let r = message_resource(v, &m.id, direction(own), operation_id, m.at_ms);
    if own == Direction::Outgoing {
        return r.link(RelName::Messaging, v.urls.messaging(v.id));
    }
    let sender = v.meeting().session(&m.sender);
    let title = sender.map(|s| s.identity.display_name.clone()).unwrap_or_default();
    let r = match sender.and_then(|s| v.contact_key(&s.identity)) {
        Some(key) => r.link(RelName::Contact, v.urls.contact(&key)),
        None => r,
    };
    let text = if m.content.is_html() { RelName::HtmlMessage } else { RelName::PlainMessage };
    r.titled_link(RelName::Participant, v.participant_href(&m.sender), title)
        .link(RelName::Messaging, v.urls.messaging(v.id))
        .link(text, form_data_uri(&m.content.mime, &m.content.text))
}

/// The sender's kept record of a message it sent (GET of the `message` operation).
pub fn sent_message(v: &Viewer<'_>, id: &str, operation_id: Option<&str>, at_ms: i64) -> Hal<model::Message> {
    message_resource(v, id, wire::Direction::Outgoing, operation_id, at_ms)
        .link(RelName::Messaging, v.urls.messaging(v.id))
}

/// `participantMessaging` of `subject`: its presence in the messaging modality.
pub fn participant_messaging(v: &Viewer<'_>, subject: &str) -> Hal<Dashboard> {
    let participant = v.participant_href(subject);
    let title = v.meeting().session(subject).map(|s| s.identity.display_name.clone()).unwrap_or_default();
    let rel = if subject == v.id { RelName::LocalParticipant } else { RelName::Participant };
    Hal::new(v.ns, RelName::ParticipantMessaging, child(&participant, "messaging"), Dashboard {}).titled_link(
        rel,
        participant,
        title,
    )
}

/// `typingParticipants`: the others now typing, as `v` sees them. The reference page lists
/// no properties or links; the embedded list mirrors the roster views.
pub fn typing_participants(v: &Viewer<'_>) -> Hal<Dashboard> {
    let typing = v
        .meeting()
        .sessions()
        .iter()
        .filter(|(id, s)| id.as_str() != v.id && s.typing.is_some() && !s.identity.trusted)
        .map(|(id, _)| participant(v, id, RelName::Participant).into());
    Hal::new(v.ns, RelName::TypingParticipants, v.urls.typing_participants(v.id), Dashboard {})
        .embed_array(RelName::Participant, typing)
}
