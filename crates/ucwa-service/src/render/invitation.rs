//! `onlineMeetingInvitation` (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/onlinemeetinginvitation_ref>),
//! `messagingInvitation` (two-party calls and `addMessaging`) and `participantInvitation`
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/participantinvitation_ref>).

use ucwa_core::conference::conference_uri;
use ucwa_core::meeting::{
    Content, Direction, Identity, InvitationKind, InvitationState, ModalityOperation, ParticipantInvitation,
    address_key,
};
use ucwa_proto::encode::{data_uri, form_data_uri};
use ucwa_proto::ids::SipUri;
use ucwa_proto::model::{
    self, AnyResource, Hal, Invitation, MessagingInvitation, OnlineMeetingInvitation, Participant,
};
use ucwa_proto::values::{self as wire, LocalParticipantType, ModalityType};
use ucwa_proto::{Namespace, RelName};

use super::Viewer;
use super::participant::{participant, source_network_of, with_person_links};
use super::values::{direction, importance, invitation_state};
use crate::urls::child;

/// Modalities a meeting offers: media is out of scope, messaging is the one we carry.
pub const AVAILABLE_MODALITIES: [ModalityType; 1] = [ModalityType::Messaging];

/// The invitation as it stands now.
pub fn invitation(v: &Viewer<'_>) -> AnyResource {
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
fn content_link<P>(r: Hal<P>, rel: RelName, content: Option<&Content>) -> Hal<P> {
    match content {
        Some(c) if c.mime.starts_with("text/") => r.link(rel, form_data_uri(&c.mime, &c.text)),
        Some(c) => r.link(rel, data_uri(&c.mime, &c.text)),
        None => r,
    }
}

/// The inviter of an incoming invitation, as the invitee sees it (`from`): rendered from
/// what the invitation recorded, so it stays complete after the inviter left.
fn inviter(v: &Viewer<'_>, inviter_session: &str, who: &Identity) -> Hal<Participant> {
    let props = Participant {
        source_network: Some(source_network_of(v, who)),
        anonymous: Some(who.anonymous),
        name: Some(who.display_name.clone()),
        uri: Some(who.uri.clone()),
        ..Participant::default()
    };
    let r = Hal::new(v.ns, RelName::Participant, v.participant_href_of(inviter_session, &who.uri), props)
        .link(RelName::Conversation, v.conversation_href());
    with_person_links(v, r, false, who)
}

/// The `to` link of an invitation to a person (the invitee, or the callee), as recorded: the
/// person's contact (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/receiveanim>, step 8).
/// Only where the viewer has `people`; a join's target is a conference, not a person.
fn to_link<P>(v: &Viewer<'_>, r: Hal<P>, to: Option<&str>) -> Hal<P> {
    match to.filter(|uri| v.has_people() && uri.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("sip:"))) {
        Some(uri) => r.link(RelName::To, v.urls.contact(&address_key(uri))),
        None => r,
    }
}

/// The invitation in `state`: `started` and `updated` events describe it while it is still
/// `Connecting`, even when the same command went on to complete it.
pub fn invitation_in(v: &Viewer<'_>, state: InvitationState) -> AnyResource {
    let inv = &v.session.invitation;
    let meeting = v.meeting();
    let href = invitation_href(v);
    let outgoing = inv.direction == Direction::Outgoing;
    let meeting_uri = conference_uri(&meeting.settings().organizer_uri, meeting.id());
    // Recorded UCWA invitations that arrive carry no operationId (the invitee's client did
    // not start them); recorded Trusted Application API ones do.
    let operation_id = inv.operation_id.clone().filter(|_| outgoing || v.ns == Namespace::Saas);
    let common = |to: Option<String>| Invitation {
        direction: direction(inv.direction),
        importance: importance(inv.importance),
        operation_id: operation_id.clone(),
        state: invitation_state(state),
        subject: inv.subject.clone(),
        thread_id: inv.thread_id.clone(),
        to,
    };
    match inv.kind {
        InvitationKind::OnlineMeeting => {
            let props = OnlineMeetingInvitation {
                invitation: common(Some(inv.to.clone().unwrap_or_else(|| meeting_uri.clone()))),
                online_meeting_uri: Some(SipUri::from_stored(meeting_uri.as_str())),
                available_modalities: Some(AVAILABLE_MODALITIES.to_vec()),
                anonymous_display_name: inv.anonymous_display_name.clone(),
                local_participant_uri: inv.local_participant_uri.as_deref().map(SipUri::from_stored),
                local_participant_display_name: inv.local_participant_display_name.clone(),
                local_participant_type: inv.local_participant_type.as_deref().map(LocalParticipantType::from),
            };
            let r = Hal::new(v.ns, RelName::OnlineMeetingInvitation, href.clone(), props);
            invitation_links(v, r, state, &href).into()
        }
        InvitationKind::Messaging => {
            let props = MessagingInvitation { invitation: common(inv.to.clone()) };
            let r = Hal::new(v.ns, RelName::MessagingInvitation, href.clone(), props);
            invitation_links(v, r, state, &href).into()
        }
    }
}

/// The links and embedded `from` of the session's own invitation.
fn invitation_links<P>(v: &Viewer<'_>, r: Hal<P>, state: InvitationState, href: &str) -> Hal<P> {
    let inv = &v.session.invitation;
    let outgoing = inv.direction == Direction::Outgoing;
    let connecting = state == InvitationState::Connecting;
    let mut r = to_link(v, r, inv.to.as_deref()).link(RelName::Conversation, v.conversation_href());
    if inv.kind == InvitationKind::Messaging {
        r = r.link(RelName::Messaging, v.urls.messaging(v.id));
    }
    r = r
        .link_if(outgoing && connecting, RelName::Cancel, || child(href, "cancel"))
        .link_if(!outgoing && connecting, RelName::Accept, || child(href, "accept"))
        .link_if(!outgoing && connecting, RelName::Decline, || child(href, "decline"));
    r = content_link(r, RelName::Message, inv.message.as_ref());
    r = content_link(r, RelName::CustomContent, inv.custom_content.as_ref());
    match &inv.ring {
        Some(ring) => r
            .titled_link(
                RelName::From,
                v.participant_href_of(&ring.inviter, &ring.from.uri),
                ring.from.display_name.as_str(),
            )
            .embed(RelName::From, inviter(v, &ring.inviter, &ring.from)),
        None => {
            let from = participant(v, v.id, RelName::Participant);
            r = r
                .titled_link(RelName::From, v.participant_href(v.id), v.session.identity.display_name.as_str())
                .embed(RelName::From, from);
            match inv.accepted_by.as_deref().filter(|_| state == InvitationState::Connected) {
                Some(callee) => {
                    r.embed_array(RelName::AcceptedByParticipant, [participant(v, callee, RelName::Participant).into()])
                }
                None => r,
            }
        }
    }
}

/// The inviter's `participantInvitation` in `state`.
pub fn participant_invitation(
    v: &Viewer<'_>,
    pinv: &ParticipantInvitation,
    state: InvitationState,
) -> Hal<model::ParticipantInvitation> {
    let href = v.urls.participant_invitation(&pinv.id);
    let connecting = state == InvitationState::Connecting;
    let props = model::ParticipantInvitation {
        invitation: Invitation {
            direction: wire::Direction::Outgoing,
            importance: importance(pinv.importance),
            operation_id: pinv.operation_id.clone(),
            state: invitation_state(state),
            subject: pinv.subject.clone(),
            thread_id: v.session.invitation.thread_id.clone(),
            to: Some(pinv.to.clone()),
        },
    };
    let r = Hal::new(v.ns, RelName::ParticipantInvitation, href.clone(), props);
    let mut r = to_link(v, r, Some(&pinv.to))
        .link(RelName::Conversation, v.conversation_href())
        .titled_link(RelName::From, v.participant_href(v.id), v.session.identity.display_name.as_str())
        .link_if(connecting, RelName::Cancel, || child(&href, "cancel"));
    r = content_link(r, RelName::Message, pinv.message.as_ref());
    r = content_link(r, RelName::CustomContent, pinv.custom_content.as_ref());
    match pinv.accepted_by.as_deref().filter(|_| state == InvitationState::Connected) {
        Some(invitee) => {
            let title = v.meeting().session(invitee).map(|s| s.identity.display_name.clone()).unwrap_or_default();
            r.titled_link(RelName::Participant, v.participant_href(invitee), title)
                .embed_array(RelName::AcceptedByParticipant, [participant(v, invitee, RelName::Participant).into()])
        }
        None => r,
    }
}

/// The `messagingInvitation` of an `addMessaging` (always outgoing).
pub fn messaging_operation(v: &Viewer<'_>, op: &ModalityOperation, state: InvitationState) -> Hal<MessagingInvitation> {
    let href = v.urls.messaging_invitation(v.id);
    let props = MessagingInvitation {
        invitation: Invitation {
            direction: wire::Direction::Outgoing,
            importance: importance(v.session.invitation.importance),
            operation_id: op.operation_id.clone(),
            state: invitation_state(state),
            subject: None,
            thread_id: v.session.invitation.thread_id.clone(),
            to: None,
        },
    };
    Hal::new(v.ns, RelName::MessagingInvitation, href, props)
        .link(RelName::Conversation, v.conversation_href())
        .link(RelName::Messaging, v.urls.messaging(v.id))
        .titled_link(RelName::From, v.participant_href(v.id), v.session.identity.display_name.as_str())
}
