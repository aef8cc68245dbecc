//! `conversation` (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/conversation_ref>) and its roster collections
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/participants_ref>).

use ucwa_core::meeting::{ConversationState, ModalityState, View};
use ucwa_core::model::Application;
use ucwa_core::store::SessionLocation;
use ucwa_proto::RelName;
use ucwa_proto::model::{self, AnyResource, Dashboard, Hal, Link, MediaModality};
use ucwa_proto::values::{self as wire, ModalityType, WireDate};

use super::messaging::messaging;
use super::participant::participant;
use super::values::{conversation_state, importance};
use super::{Viewer, namespace};
use crate::join::surface_of;
use crate::urls::{AppUrls, child};

/// Modality resources every conversation has. Media is out of scope, so audio/video,
/// sharing and data collaboration stay `Disconnected` with no action to start them;
/// messaging is real.
pub const MODALITIES: [RelName; 4] =
    [RelName::ApplicationSharing, RelName::AudioVideo, RelName::DataCollaboration, RelName::Messaging];

/// A modality of the conversation: messaging in its real state, the others present and
/// never started.
pub fn modality(v: &Viewer<'_>, name: RelName) -> AnyResource {
    if name == RelName::Messaging {
        return messaging(v, v.session.messaging).into();
    }
    let href = child(&v.conversation_href(), name.as_str());
    let props = MediaModality { state: wire::ModalityState::Disconnected, call_context: None, supports_replaces: None };
    Hal::new(v.ns, name, href, props).link(RelName::Conversation, v.conversation_href()).into()
}

/// The conversation as it is in `state` (a command may pass through `Conferencing` to
/// `Conferenced`, and each step is announced with its own links).
pub fn conversation(v: &Viewer<'_>, state: ConversationState) -> Hal<model::Conversation> {
    let href = v.conversation_href();
    let inv = &v.session.invitation;
    let conferenced = state == ConversationState::Conferenced;
    let connected = state == ConversationState::Connected;
    let shown = || v.meeting().sessions().values().filter(|s| s.is_shown()).count();
    let props = model::Conversation {
        state: conversation_state(state),
        subject: Some(inv.subject.clone().unwrap_or_else(|| v.meeting().settings().subject.clone())),
        thread_id: inv.thread_id.clone(),
        importance: Some(importance(inv.importance)),
        active_modalities: Some(active_modalities(v, state)),
        expiration_time: Some(WireDate::from_unix_ms(v.meeting().settings().expiration_ms)),
        participant_count: (conferenced || connected).then(|| u32::try_from(shown()).unwrap_or(u32::MAX)),
        online_meeting_lobby_status: None,
    };
    let r = MODALITIES.iter().fold(Hal::new(v.ns, RelName::Conversation, href.clone(), props), |r, m| {
        r.link(m.clone(), child(&href, m.as_str()))
    });
    let local = |r: Hal<model::Conversation>| {
        r.titled_link(RelName::LocalParticipant, v.participant_href(v.id), v.session.identity.display_name.as_str())
            .link(RelName::AddParticipant, v.urls.add_participant(v.id))
    };
    if conferenced {
        let r = r
            .link(RelName::OnlineMeeting, child(&href, "onlineMeeting"))
            .link(RelName::Participants, child(&href, "participants"))
            .link(RelName::Leaders, child(&href, "leaders"))
            .link(RelName::Attendees, child(&href, "attendees"))
            .link(RelName::Lobby, child(&href, "lobby"));
        return local(r);
    }
    if connected {
        // A two-party conversation (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/sendanim>): the local participant, the other party and
        // addParticipant, which escalates it to a meeting.
        return local(r.link(RelName::Participants, child(&href, "participants")));
    }
    r
}

/// `Messaging` while the conversation's messaging is connected (and the conversation live).
fn active_modalities(v: &Viewer<'_>, state: ConversationState) -> Vec<ModalityType> {
    let live = matches!(state, ConversationState::Connected | ConversationState::Conferenced);
    if live && v.session.messaging == ModalityState::Connected { vec![ModalityType::Messaging] } else { Vec::new() }
}

/// The collection name of a view.
pub fn view_rel(view: Option<View>) -> RelName {
    match view {
        None => RelName::Participants,
        Some(View::Lobby) => RelName::Lobby,
        Some(View::Leaders) => RelName::Leaders,
        Some(View::Attendees) => RelName::Attendees,
    }
}

/// `participants` (leaders + attendees), `leaders`, `attendees` or `lobby`: whom the viewer
/// may see there. Only leaders see the lobby's members.
pub fn collection(v: &Viewer<'_>, view: Option<View>) -> Hal<Dashboard> {
    let name = view_rel(view);
    let members: Vec<AnyResource> = v
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
        .map(|(id, _)| participant(v, id, RelName::Participant).into())
        .collect();
    let href = child(&v.conversation_href(), name.as_str());
    Hal::new(v.ns, name, href, Dashboard {}).embed_array(RelName::Participant, members)
}

/// `conversations`: links to the application's live conversations.
pub fn conversations(app: &Application, sessions: &[SessionLocation]) -> Hal<Dashboard> {
    let urls = AppUrls::of(app);
    let links = sessions.iter().map(|s| Link::new(urls.conversation(&s.session_id)));
    Hal::new(namespace(&surface_of(app)), RelName::Conversations, urls.at("communication/conversations"), Dashboard {})
        .link_array(RelName::Conversation, links)
}
