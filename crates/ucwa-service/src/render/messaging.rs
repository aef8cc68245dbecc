//! The `messaging` modality of a conversation, its `message` operations and
//! `participantMessaging` (shapes of the recorded `Event_Messaging*`, `Event_Message*` and
//! `Event_ParticipantMessaging*` payloads, UCWA spelling). Message text is carried as a
//! data URI, percent-encoded like the recordings; HTML is data and is never rendered.

use ucwa_core::meeting::{Direction, Message, ModalityState};
use ucwa_proto::Resource;
use ucwa_proto::encode::{aspnet_date, form_data_uri};

use crate::urls::child;

use super::{Viewer, wire};

/// The messaging modality as it is in `state`, with the actions that state allows.
pub fn messaging(v: &Viewer<'_>, state: ModalityState) -> Resource {
    let href = v.urls.messaging(v.id);
    let mut r = Resource::new(v.ns, "messaging", href.clone()).prop("state", wire(state));
    if state == ModalityState::Connected {
        r = r
            .prop("negotiatedMessageFormats", serde_json::json!(["Plain", "Html"]))
            .link("stopMessaging", child(&href, "terminate"))
            .link("sendMessage", child(&href, "messages"))
            .link("setIsTyping", v.urls.set_is_typing(v.id))
            .link("typingParticipants", v.urls.typing_participants(v.id));
    }
    // A two-party conversation's messaging is started by its call, never added.
    let can_add =
        state == ModalityState::Disconnected && v.session.state == ucwa_core::meeting::ConversationState::Conferenced;
    r.link_if(can_add, "addMessaging", || v.urls.add_messaging(v.id)).link("conversation", v.conversation_href())
}

/// One copy of a message: the sender's (Outgoing, no content) or a receiver's (Incoming,
/// with the sender's `contact`, participant and the text, in the order of the recorded
/// message: <https://learn.microsoft.com/en-us/skype-sdk/ucwa/receiveanim>, step 16).
pub fn message(v: &Viewer<'_>, m: &Message) -> Resource {
    let direction = if m.sender == v.id { Direction::Outgoing } else { Direction::Incoming };
    let r = Resource::new(v.ns, "message", v.urls.message(v.id, &m.id))
        .prop("direction", wire(direction))
        .opt_prop("operationId", m.operation_id.as_deref().filter(|_| direction == Direction::Outgoing))
        .prop("timeStamp", aspnet_date(m.at_ms));
    if direction == Direction::Outgoing {
        return r.link("messaging", v.urls.messaging(v.id));
    }
    let sender = v.meeting().session(&m.sender);
    let title = sender.map(|s| s.identity.display_name.clone()).unwrap_or_default();
    let r = match sender.and_then(|s| v.contact_key(&s.identity)) {
        Some(key) => r.link("contact", v.urls.contact(&key)),
        None => r,
    };
    let rel = if m.content.is_html() { "htmlMessage" } else { "plainMessage" };
    r.titled_link("participant", v.participant_href(&m.sender), &title)
        .link("messaging", v.urls.messaging(v.id))
        .link(rel, form_data_uri(&m.content.mime, &m.content.text))
}

/// The sender's kept record of a message it sent (GET of the `message` operation).
pub fn sent_message(v: &Viewer<'_>, id: &str, operation_id: Option<&str>, at_ms: i64) -> Resource {
    Resource::new(v.ns, "message", v.urls.message(v.id, id))
        .prop("direction", "Outgoing")
        .opt_prop("operationId", operation_id)
        .prop("timeStamp", aspnet_date(at_ms))
        .link("messaging", v.urls.messaging(v.id))
}

/// `participantMessaging` of `subject`: its presence in the messaging modality.
pub fn participant_messaging(v: &Viewer<'_>, subject: &str) -> Resource {
    let participant = v.participant_href(subject);
    let title = v.meeting().session(subject).map(|s| s.identity.display_name.clone()).unwrap_or_default();
    let rel = if subject == v.id { "localParticipant" } else { "participant" };
    Resource::new(v.ns, "participantMessaging", format!("{participant}/messaging")).titled_link(
        rel,
        participant,
        &title,
    )
}

/// `typingParticipants`: the others now typing, as `v` sees them. The reference page lists
/// no properties or links; the embedded list mirrors the roster views.
pub fn typing_participants(v: &Viewer<'_>) -> Resource {
    let typing = v
        .meeting()
        .sessions()
        .iter()
        .filter(|(id, s)| id.as_str() != v.id && s.typing.is_some() && !s.identity.trusted)
        .map(|(id, _)| super::participant::participant(v, id, "participant"))
        .collect();
    Resource::new(v.ns, "typingParticipants", v.urls.typing_participants(v.id)).embed_array("participant", typing)
}
