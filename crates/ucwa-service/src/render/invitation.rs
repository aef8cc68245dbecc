//! `onlineMeetingInvitation` (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/onlinemeetinginvitation_ref>),
//! `messagingInvitation` (two-party calls and `addMessaging`) and `participantInvitation`
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/participantinvitation_ref>).

use serde_json::json;
use ucwa_core::conference::conference_uri;
use ucwa_core::meeting::{
    Content, Direction, Identity, InvitationKind, InvitationState, ModalityOperation, ParticipantInvitation,
    address_key,
};
use ucwa_proto::encode::{data_uri, form_data_uri};
use ucwa_proto::{Namespace, Resource};

use super::participant::{participant, source_network_of, with_person_links};
use super::{Viewer, wire};
use crate::urls::child;

/// Modalities a meeting offers: media is out of scope, messaging is the one we carry.
pub const AVAILABLE_MODALITIES: &[&str] = &["Messaging"];

/// The invitation as it stands now.
pub fn invitation(v: &Viewer<'_>) -> Resource {
    invitation_in(v, v.session.invitation.state)
}

/// The href of the session's own invitation.
pub fn invitation_href(v: &Viewer<'_>) -> String {
    match v.session.invitation.kind {
        InvitationKind::OnlineMeeting => v.urls.invitation(v.id),
        InvitationKind::Messaging => v.urls.messaging_invitation(v.id),
    }
}

/// A first message or custom content as a data-URI link (messages encoded as recorded).
fn content_link(r: Resource, rel: &str, content: Option<&Content>) -> Resource {
    match content {
        Some(c) if c.mime.starts_with("text/") => r.link(rel, form_data_uri(&c.mime, &c.text)),
        Some(c) => r.link(rel, data_uri(&c.mime, &c.text)),
        None => r,
    }
}

/// The inviter of an incoming invitation, as the invitee sees it (`from`): rendered from
/// what the invitation recorded, so it stays complete after the inviter left.
fn inviter(v: &Viewer<'_>, inviter_session: &str, who: &Identity) -> Resource {
    let r = Resource::new(v.ns, "participant", v.participant_href_of(inviter_session, &who.uri))
        .prop("sourceNetwork", source_network_of(v, who))
        .prop("anonymous", who.anonymous)
        .prop("name", who.display_name.as_str())
        .prop("uri", who.uri.as_str())
        .link("conversation", v.conversation_href());
    with_person_links(v, r, false, who)
}

/// The `to` link of an invitation to a person (the invitee, or the callee), as recorded: the
/// person's contact (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/receiveanim>, step 8).
/// Only where the viewer has `people`; a join's target is a conference, not a person.
fn to_link(v: &Viewer<'_>, r: Resource, to: Option<&str>) -> Resource {
    match to.filter(|uri| v.has_people() && uri.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("sip:"))) {
        Some(uri) => r.link("to", v.urls.contact(&address_key(uri))),
        None => r,
    }
}

/// The invitation in `state`: `started` and `updated` events describe it while it is still
/// `Connecting`, even when the same command went on to complete it.
pub fn invitation_in(v: &Viewer<'_>, state: InvitationState) -> Resource {
    let inv = &v.session.invitation;
    let meeting = v.meeting();
    let href = invitation_href(v);
    let outgoing = inv.direction == Direction::Outgoing;
    let connecting = state == InvitationState::Connecting;
    let meeting_invitation = inv.kind == InvitationKind::OnlineMeeting;
    let meeting_uri = conference_uri(&meeting.settings().organizer_uri, meeting.id());
    let rel = if meeting_invitation { "onlineMeetingInvitation" } else { "messagingInvitation" };
    let to =
        if meeting_invitation { Some(inv.to.clone().unwrap_or_else(|| meeting_uri.clone())) } else { inv.to.clone() };
    // Recorded UCWA invitations that arrive carry no operationId (the invitee's client did
    // not start them); recorded Trusted Application API ones do.
    let operation_id = inv.operation_id.as_deref().filter(|_| outgoing || v.ns == Namespace::Saas);
    let mut r = Resource::new(v.ns, rel, href.clone())
        .prop("direction", wire(inv.direction))
        .prop("importance", wire(inv.importance))
        .opt_prop("operationId", operation_id)
        .opt_prop("onlineMeetingUri", meeting_invitation.then_some(meeting_uri.as_str()))
        .opt_prop("to", to)
        .prop("state", wire(state))
        .opt_prop("subject", inv.subject.as_deref())
        .opt_prop("threadId", inv.thread_id.as_deref())
        .opt_prop("anonymousDisplayName", inv.anonymous_display_name.as_deref())
        .opt_prop("localParticipantUri", inv.local_participant_uri.as_deref())
        .opt_prop("localParticipantDisplayName", inv.local_participant_display_name.as_deref())
        .opt_prop("localParticipantType", inv.local_participant_type.as_deref());
    if meeting_invitation {
        r = r.prop("availableModalities", json!(AVAILABLE_MODALITIES));
    }
    r = to_link(v, r, inv.to.as_deref()).link("conversation", v.conversation_href());
    if !meeting_invitation {
        r = r.link("messaging", v.urls.messaging(v.id));
    }
    r = r
        .link_if(outgoing && connecting, "cancel", || child(&href, "cancel"))
        .link_if(!outgoing && connecting, "accept", || child(&href, "accept"))
        .link_if(!outgoing && connecting, "decline", || child(&href, "decline"));
    r = content_link(r, "message", inv.message.as_ref());
    r = content_link(r, "customContent", inv.custom_content.as_ref());
    match &inv.ring {
        Some(ring) => r
            .titled_link("from", v.participant_href_of(&ring.inviter, &ring.from.uri), &ring.from.display_name)
            .embed_as("from", inviter(v, &ring.inviter, &ring.from)),
        None => {
            let from = participant(v, v.id, "participant");
            r = r
                .titled_link("from", v.participant_href(v.id), &v.session.identity.display_name)
                .embed_as("from", from);
            match inv.accepted_by.as_deref().filter(|_| state == InvitationState::Connected) {
                Some(callee) => r.embed_array("acceptedByParticipant", vec![participant(v, callee, "participant")]),
                None => r,
            }
        }
    }
}

/// The inviter's `participantInvitation` in `state`.
pub fn participant_invitation(v: &Viewer<'_>, pinv: &ParticipantInvitation, state: InvitationState) -> Resource {
    let href = v.urls.participant_invitation(&pinv.id);
    let connecting = state == InvitationState::Connecting;
    let r = Resource::new(v.ns, "participantInvitation", href.clone())
        .prop("direction", "Outgoing")
        .prop("importance", wire(pinv.importance))
        .opt_prop("operationId", pinv.operation_id.as_deref())
        .prop("state", wire(state))
        .opt_prop("subject", pinv.subject.as_deref())
        .opt_prop("threadId", v.session.invitation.thread_id.as_deref())
        .prop("to", pinv.to.as_str());
    let mut r = to_link(v, r, Some(&pinv.to))
        .link("conversation", v.conversation_href())
        .titled_link("from", v.participant_href(v.id), &v.session.identity.display_name)
        .link_if(connecting, "cancel", || child(&href, "cancel"));
    r = content_link(r, "message", pinv.message.as_ref());
    r = content_link(r, "customContent", pinv.custom_content.as_ref());
    match pinv.accepted_by.as_deref().filter(|_| state == InvitationState::Connected) {
        Some(invitee) => {
            let title = v.meeting().session(invitee).map(|s| s.identity.display_name.clone()).unwrap_or_default();
            r.titled_link("participant", v.participant_href(invitee), &title)
                .embed_array("acceptedByParticipant", vec![participant(v, invitee, "participant")])
        }
        None => r,
    }
}

/// The `messagingInvitation` of an `addMessaging` (always outgoing).
pub fn messaging_operation(v: &Viewer<'_>, op: &ModalityOperation, state: InvitationState) -> Resource {
    let href = v.urls.messaging_invitation(v.id);
    Resource::new(v.ns, "messagingInvitation", href)
        .prop("direction", "Outgoing")
        .prop("importance", wire(v.session.invitation.importance))
        .opt_prop("operationId", op.operation_id.as_deref())
        .prop("state", wire(state))
        .opt_prop("threadId", v.session.invitation.thread_id.as_deref())
        .link("conversation", v.conversation_href())
        .link("messaging", v.urls.messaging(v.id))
        .titled_link("from", v.participant_href(v.id), &v.session.identity.display_name)
}
