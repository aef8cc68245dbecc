//! Invitations: `addParticipant` (`POST communication/participantInvitations?conversation=`,
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/addparticipant_ref>), the
//! inviter's `participantInvitation`, and accepting, declining and cancelling the
//! `onlineMeetingInvitation` and `messagingInvitation` operations
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/onlinemeetinginvitation_ref>).
//!
//! The invited user's applications that are signed in and available each get an incoming
//! invitation; the first to accept wins. Synchronous errors: bad input, 404
//! `DestinationNotFound` when `to` is no user of this server, 404 for an unknown
//! conversation, 409 when the inviter is not in the conversation's roster. A user without an
//! application online is not an error here: the invitation starts and completes Failure
//! `RemoteFailure / TemporarilyUnavailable`.

use std::collections::BTreeSet;

use serde_json::Value;
use ucwa_core::credentials::new_id;
use ucwa_core::meeting::{
    Command, ConversationState, Identity, InvitationKind, InvitationState, Invite, Invitee,
    ParticipantInvitationRequest,
};
use ucwa_core::model::{Application, MeetingRecord, User};
use ucwa_proto::input::{PropertyBag, Validator};

use crate::Services;
use crate::conversations::SessionRef;
use crate::error::{ServiceError, ServiceResult};
use crate::join::surface_of;
use crate::render::invitation::{invitation, messaging_operation, participant_invitation};
use crate::validate::{IMPORTANCE, MAX_CONTENT_CHARS, content, importance, sip_target};

/// CallDeclineReason
/// (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/calldeclinereason_ref>). `Local`
/// declines on this application only.
pub const DECLINE_REASONS: &[&str] = &[
    "Unknown",
    "Local",
    "Global",
    "MediaAllocationFailure",
    "EncryptionMismatch",
    "IPv6NotSupported",
    "MediaConnectivityFailure",
    "CodecMismatch",
    "UnsupportedMedia",
    "InvalidMediaOffer",
    "InsufficientBandwidth",
    "InsufficientBandwidthRerouteOverPstn",
];

/// One new session per application of `user` that has no live conversation in `record`.
pub fn invitees(user: &User, apps: &[Application], record: Option<&MeetingRecord>) -> Vec<Invitee> {
    let busy: BTreeSet<&str> = record
        .map(|r| {
            r.meeting
                .sessions()
                .values()
                .filter(|s| s.state != ConversationState::Disconnected)
                .map(|s| s.app_id.as_str())
                .collect()
        })
        .unwrap_or_default();
    apps.iter()
        .filter(|a| !busy.contains(a.id.as_str()))
        .map(|a| Invitee {
            session_id: new_id(),
            app_id: a.id.clone(),
            identity: Identity {
                uri: user.uri.clone(),
                display_name: user.display_name.clone(),
                anonymous: false,
                trusted: false,
                surface: surface_of(a),
            },
        })
        .collect()
}

/// Signed-in users only: anonymous guests neither invite nor call.
pub fn ensure_signed_in(app: &Application) -> ServiceResult<()> {
    if app.anonymous {
        return Err(ServiceError::forbidden("Anonymous users cannot invite others."));
    }
    Ok(())
}

/// The inviter's session of a participant invitation id (`<session>.<n>`).
fn inviter_session(id: &str) -> ServiceResult<&str> {
    Ok(id.rsplit_once('.').ok_or_else(ServiceError::not_found)?.0)
}

impl Services {
    /// The invited user, or the documented synchronous 404.
    pub async fn invited_user(&self, to: &str) -> ServiceResult<User> {
        self.store
            .find_user(to)
            .await?
            .ok_or_else(|| ServiceError::destination_not_found("The invited user does not exist."))
    }

    /// `addParticipant`: returns the new participant invitation's id.
    pub async fn add_participant(&self, app: &Application, input: &PropertyBag) -> ServiceResult<String> {
        let mut v = Validator::new();
        let conversation = v.check(input.required_string("conversation", 100));
        let to = sip_target(&mut v, input);
        let operation_id = v.check(input.string("operationId", 50));
        let subject = v.check(input.string("subject", 250));
        let importance_value = v.check(input.enumeration("importance", IMPORTANCE));
        let message = content(&mut v, input, "message", true, self.limits.max_invitation_message_chars);
        let custom_content = content(&mut v, input, "customContent", false, MAX_CONTENT_CHARS);
        v.finish()?;
        let to = to.unwrap_or_default();
        let meeting_id = self.locate(app, &SessionRef::unread(&conversation)).await?;
        ensure_signed_in(app)?;
        let user = self.invited_user(&to).await?;
        let apps = self.store.online_applications(&user.uri).await?;
        let answer_timeout_ms = self.limits.invitation_timeout_ms();
        let max_pending = self.limits.max_pending_invitations;
        let metrics = &self.metrics;
        self.meetings
            .run(&meeting_id, |record, now| {
                let session = record.meeting.session(&conversation).ok_or_else(ServiceError::not_found)?;
                // A retry: the invitation this operationId started (nothing changes).
                if let Some(op) = &operation_id
                    && let Some(started) =
                        session.participant_invitations.iter().find(|p| p.operation_id.as_ref() == Some(op))
                {
                    return Ok((started.id.clone(), Vec::new()));
                }
                // Every invitation stays in the conversation's record: bound both.
                let pending = session.participant_invitations.iter().filter(|p| p.state == InvitationState::Connecting);
                if pending.count() >= max_pending || session.participant_invitations.len() >= 10 * max_pending {
                    metrics.rate_limited("invitations_per_conversation");
                    return Err(ServiceError::Conflict {
                        subcode: Some("TooManyParticipants"),
                        message: "This conversation has too many invitations; wait for them to be answered.".into(),
                    });
                }
                let id = format!("{conversation}.{}", session.participant_invitations.len() + 1);
                let invite = Invite {
                    actor: conversation.clone(),
                    invitation: ParticipantInvitationRequest {
                        id: id.clone(),
                        operation_id: operation_id.clone(),
                        to: user.uri.clone(),
                        subject: subject.clone(),
                        importance: importance(importance_value),
                        message: message.clone(),
                        custom_content: custom_content.clone(),
                    },
                    invitees: invitees(&user, &apps, Some(record)),
                    answer_timeout_ms,
                };
                Ok((id, record.meeting.handle(Command::Invite(Box::new(invite)), now)?))
            })
            .await
    }

    /// `GET participantInvitations/{id}`.
    pub async fn participant_invitation(&self, app: &Application, id: &str) -> ServiceResult<Value> {
        self.view(app, &SessionRef::unread(inviter_session(id)?), |viewer| {
            let pinv = viewer
                .session
                .participant_invitations
                .iter()
                .find(|p| p.id == id)
                .ok_or_else(ServiceError::not_found)?;
            Ok(participant_invitation(viewer, pinv, pinv.state).into_value())
        })
        .await
    }

    /// `POST participantInvitations/{id}/cancel`: the inviter withdraws an invitation nobody
    /// answered yet.
    pub async fn cancel_participant_invitation(&self, app: &Application, id: &str) -> ServiceResult<()> {
        let actor = inviter_session(id)?.to_owned();
        let meeting_id = self.locate(app, &SessionRef::unread(&actor)).await?;
        self.meetings
            .command(&meeting_id, Command::CancelParticipantInvitation { actor, invitation: id.to_owned() })
            .await
    }

    /// `GET onlineMeetingInvitations/{id}` (a two-party call's invitation lives under
    /// `messagingInvitations` instead).
    pub async fn meeting_invitation(&self, app: &Application, session: &SessionRef) -> ServiceResult<Value> {
        self.view(app, session, |viewer| {
            if viewer.session.invitation.kind != InvitationKind::OnlineMeeting {
                return Err(ServiceError::not_found());
            }
            Ok(invitation(viewer).into_value())
        })
        .await
    }

    /// `GET messagingInvitations/{id}`: a two-party call's invitation, or an `addMessaging`.
    pub async fn messaging_invitation(&self, app: &Application, session: &SessionRef) -> ServiceResult<Value> {
        self.view(app, session, |v| {
            if let Some(op) = &v.session.messaging_operation {
                return Ok(messaging_operation(v, op, op.state).into_value());
            }
            if v.session.invitation.kind == InvitationKind::Messaging {
                return Ok(invitation(v).into_value());
            }
            Err(ServiceError::not_found())
        })
        .await
    }

    /// `POST onlineMeetingInvitations/{id}/cancel`: gives up an outgoing join that is still
    /// `Connecting`.
    pub async fn cancel_join(&self, app: &Application, session: &SessionRef) -> ServiceResult<()> {
        let meeting_id = self.locate(app, session).await?;
        self.meetings.command(&meeting_id, Command::Cancel { session: session.id().to_owned() }).await
    }

    /// `accept` / `decline` / `cancel` of an invitation of `kind`. Answering an invitation
    /// that is outgoing or already completed is 409, as is cancelling an incoming one.
    pub async fn act_on_invitation(
        &self,
        app: &Application,
        session: &SessionRef,
        kind: InvitationKind,
        action: &str,
        input: &PropertyBag,
    ) -> ServiceResult<()> {
        let id = session.id().to_owned();
        let cmd = match action {
            "accept" => Command::Accept { session: id },
            "cancel" => Command::Cancel { session: id },
            "decline" => {
                let mut v = Validator::new();
                let reason = v.check(input.enumeration("reason", DECLINE_REASONS));
                v.finish()?;
                Command::Decline { session: id, local_only: reason == Some("Local") }
            }
            _ => return Err(ServiceError::not_found()),
        };
        let meeting_id = self.locate(app, session).await?;
        self.view_meeting(&meeting_id, session.id(), |v| {
            if v.session.invitation.kind == kind { Ok(()) } else { Err(ServiceError::not_found()) }
        })
        .await?;
        self.meetings.command(&meeting_id, cmd).await
    }
}
