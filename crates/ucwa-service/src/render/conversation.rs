//! `conversation` (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/conversation_ref>) and its roster collections
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/participants_ref>).

use serde_json::json;
use ucwa_core::meeting::{ConversationState, ModalityState, View};
use ucwa_core::model::Application;
use ucwa_core::store::SessionLocation;
use ucwa_proto::Resource;

use super::messaging::messaging;
use super::participant::participant;
use super::{Viewer, namespace, wire};
use crate::join::surface_of;
use crate::urls::{AppUrls, child};

/// Modality resources every conversation has. Media is out of scope, so audio/video,
/// sharing and data collaboration stay `Disconnected` with no action to start them;
/// messaging is real.
pub const MODALITIES: &[&str] = &["applicationSharing", "audioVideo", "dataCollaboration", "messaging"];

/// A modality of the conversation: messaging in its real state, the others present and
/// never started.
pub fn modality(v: &Viewer<'_>, rel: &str) -> Resource {
    if rel == "messaging" {
        return messaging(v, v.session.messaging);
    }
    Resource::new(v.ns, rel, child(&v.conversation_href(), rel))
        .prop("state", "Disconnected")
        .link("conversation", v.conversation_href())
}

/// The conversation as it is in `state` (a command may pass through `Conferencing` to
/// `Conferenced`, and each step is announced with its own links).
pub fn conversation(v: &Viewer<'_>, state: ConversationState) -> Resource {
    let href = v.conversation_href();
    let inv = &v.session.invitation;
    let conferenced = state == ConversationState::Conferenced;
    let connected = state == ConversationState::Connected;
    let subject = inv.subject.clone().unwrap_or_else(|| v.meeting().settings().subject.clone());
    let mut r =
        MODALITIES.iter().fold(Resource::new(v.ns, "conversation", href.clone()), |r, m| r.link(m, child(&href, m)));
    r = r
        .prop("state", wire(state))
        .prop("subject", subject)
        .opt_prop("threadId", inv.thread_id.as_deref())
        .prop("importance", wire(inv.importance))
        .prop("activeModalities", active_modalities(v, state))
        .prop("expirationTime", ucwa_proto::encode::aspnet_date(v.meeting().settings().expiration_ms));
    if conferenced {
        let count = v.meeting().sessions().values().filter(|s| s.is_shown()).count();
        r = r
            .prop("participantCount", count)
            .link("onlineMeeting", child(&href, "onlineMeeting"))
            .link("participants", child(&href, "participants"))
            .link("leaders", child(&href, "leaders"))
            .link("attendees", child(&href, "attendees"))
            .link("lobby", child(&href, "lobby"))
            .titled_link("localParticipant", v.participant_href(v.id), &v.session.identity.display_name)
            .link("addParticipant", v.urls.add_participant(v.id));
    }
    if connected {
        // A two-party conversation (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/sendanim>): the local participant, the other party and
        // addParticipant, which escalates it to a meeting.
        let count = v.meeting().sessions().values().filter(|s| s.is_shown()).count();
        r = r
            .prop("participantCount", count)
            .link("participants", child(&href, "participants"))
            .titled_link("localParticipant", v.participant_href(v.id), &v.session.identity.display_name)
            .link("addParticipant", v.urls.add_participant(v.id));
    }
    r
}

/// `Messaging` while the conversation's messaging is connected (and the conversation live).
fn active_modalities(v: &Viewer<'_>, state: ConversationState) -> serde_json::Value {
    let live = matches!(state, ConversationState::Connected | ConversationState::Conferenced);
    if live && v.session.messaging == ModalityState::Connected { json!(["Messaging"]) } else { json!([]) }
}

/// The collection name of a view.
pub fn view_rel(view: Option<View>) -> &'static str {
    match view {
        None => "participants",
        Some(View::Lobby) => "lobby",
        Some(View::Leaders) => "leaders",
        Some(View::Attendees) => "attendees",
    }
}

/// `participants` (leaders + attendees), `leaders`, `attendees` or `lobby`: whom the viewer
/// may see there. Only leaders see the lobby's members.
pub fn collection(v: &Viewer<'_>, view: Option<View>) -> Resource {
    let rel = view_rel(view);
    let members: Vec<Resource> = v
        .meeting()
        .sessions()
        .iter()
        .filter(|(id, s)| {
            let visible = !s.identity.trusted || id.as_str() == v.id;
            let in_view = match view {
                None => s.in_roster(),
                Some(View::Lobby) => s.is_waiting() && v.session.leads(),
                Some(roster) => s.in_roster() && s.view() == roster,
            };
            visible && in_view
        })
        .map(|(id, _)| participant(v, id, "participant"))
        .collect();
    Resource::new(v.ns, rel, child(&v.conversation_href(), rel)).embed_array("participant", members)
}

/// `conversations`: links to the application's live conversations.
pub fn conversations(app: &Application, sessions: &[SessionLocation]) -> Resource {
    let urls = AppUrls::of(app);
    let links = sessions.iter().map(|s| (urls.conversation(&s.session_id), None));
    Resource::new(namespace(&surface_of(app)), "conversations", urls.at("communication/conversations"))
        .link_array("conversation", links)
}
