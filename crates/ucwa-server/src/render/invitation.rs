//! `onlineMeetingInvitation` (`ucwa-spec.md` §6.2–6.3).

use serde_json::json;
use ucwa_core::conference::conference_uri;
use ucwa_core::meeting::{Direction, InvitationState};
use ucwa_proto::Resource;

use super::participant::participant;
use super::{Viewer, wire};
use crate::urls::child;

/// Modalities a meeting offers: media is out of scope, messaging is the one we carry.
pub const AVAILABLE_MODALITIES: &[&str] = &["Messaging"];

/// The invitation as it stands now.
pub fn invitation(v: &Viewer<'_>) -> Resource {
    invitation_in(v, v.session.invitation.state)
}

/// The invitation in `state`: `started` and `updated` events describe it while it is still
/// `Connecting`, even when the same command went on to complete it.
pub fn invitation_in(v: &Viewer<'_>, state: InvitationState) -> Resource {
    let inv = &v.session.invitation;
    let meeting = v.meeting();
    let meeting_uri = conference_uri(&meeting.settings().organizer_uri, meeting.id());
    let href = v.urls.invitation(v.id);
    let outgoing = inv.direction == Direction::Outgoing;
    let connecting = state == InvitationState::Connecting;
    let from = participant(v, v.id, "from");
    let from_href = v.participant_href(v.id);
    Resource::new(v.ns, "onlineMeetingInvitation", href.clone())
        .prop("direction", wire(inv.direction))
        .prop("importance", wire(inv.importance))
        .opt_prop("operationId", inv.operation_id.as_deref())
        .prop("onlineMeetingUri", meeting_uri.as_str())
        .prop("to", meeting_uri.as_str())
        .prop("state", wire(state))
        .opt_prop("subject", inv.subject.as_deref())
        .opt_prop("threadId", inv.thread_id.as_deref())
        .opt_prop("anonymousDisplayName", inv.anonymous_display_name.as_deref())
        .opt_prop("localParticipantUri", inv.local_participant_uri.as_deref())
        .opt_prop("localParticipantDisplayName", inv.local_participant_display_name.as_deref())
        .opt_prop("localParticipantType", inv.local_participant_type.as_deref())
        .prop("availableModalities", json!(AVAILABLE_MODALITIES))
        .opt_link("customContent", inv.custom_content.as_deref())
        .link("conversation", v.conversation_href())
        .titled_link("from", from_href, &v.session.identity.display_name)
        .link_if(outgoing && connecting, "cancel", || child(&href, "cancel"))
        .link_if(!outgoing && connecting, "accept", || child(&href, "accept"))
        .link_if(!outgoing && connecting, "decline", || child(&href, "decline"))
        .embed_as("from", from)
}
