//! `addParticipant` (`POST communication/participantInvitations?conversation=<id>`) and the
//! inviter's `participantInvitation` (`ucwa-spec.md` §7). The invited user's applications
//! that are signed in and available each get an incoming `onlineMeetingInvitation` (or
//! `messagingInvitation`, see [`crate::routes::messaging`]).
//!
//! Synchronous errors: 400 for bad input, 404 `DestinationNotFound` when `to` is no user of
//! this server, 404 when the conversation is unknown, 409 when the inviter is not in the
//! conversation's roster. A user without an application online is not an error here: the
//! invitation starts and completes Failure `RemoteFailure / TemporarilyUnavailable`.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use ucwa_core::credentials::new_id;
use ucwa_core::meeting::{
    Command, Content, ConversationState, Identity, Invite, Invitee, ParticipantInvitationRequest,
};
use ucwa_core::model::{Application, MeetingRecord, User};
use ucwa_proto::encode::decode_data_uri;
use ucwa_proto::input::{PropertyBag, Validator};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::Input;
use crate::meetings::meeting_error;
use crate::render::invitation::participant_invitation;
use crate::response::{Json, created_at};
use crate::routes::invitations::{IMPORTANCE, importance, locate, surface_of, view_meeting};
use crate::state::AppState;
use crate::urls::AppUrls;

/// Largest first message or custom content, in characters (after decoding).
pub const MAX_CONTENT_CHARS: usize = 16 * 1024;

/// A SIP URI of a user: `sip:user@domain`, at most 256 characters.
pub fn sip_target(v: &mut Validator, input: &PropertyBag) -> Option<String> {
    let to = v.check(input.required_string("to", 256).map(Some))?;
    let to = to.trim().to_ascii_lowercase();
    let valid = to.strip_prefix("sip:").is_some_and(|rest| {
        rest.split_once('@').is_some_and(|(user, host)| !user.is_empty() && !host.is_empty())
            && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
    });
    if valid {
        Some(to)
    } else {
        v.fail("to", "must be a SIP URI such as sip:alice@example.com");
        None
    }
}

/// A first message or custom content: a data URI (`data:text/plain;charset=utf-8,Hi`) or,
/// for `message`, plain text.
pub fn content(v: &mut Validator, input: &PropertyBag, name: &'static str, plain_allowed: bool) -> Option<Content> {
    let raw = v.check(input.string(name, 4 * MAX_CONTENT_CHARS))?;
    let content = if raw.starts_with("data:") {
        match decode_data_uri(&raw) {
            Some((mime, text)) => Content::new(mime.to_ascii_lowercase(), text),
            None => {
                v.fail(name, "must be a data URI (RFC 2397) with UTF-8, percent-encoded text");
                return None;
            }
        }
    } else if plain_allowed {
        Content::new("text/plain", raw)
    } else {
        v.fail(name, "must be a data URI (RFC 2397)");
        return None;
    };
    if content.text.chars().count() > MAX_CONTENT_CHARS {
        v.fail(name, format!("longer than {MAX_CONTENT_CHARS} characters"));
        return None;
    }
    if content.mime.is_empty() || !content.mime.contains('/') || content.mime.len() > 100 {
        v.fail(name, "has no valid media type");
        return None;
    }
    Some(content)
}

/// The invited user, or the documented synchronous 404.
pub async fn invited_user(state: &AppState, to: &str) -> ApiResult<User> {
    state.store.find_user(to).await?.ok_or_else(|| ApiError::NotFound {
        subcode: Some("DestinationNotFound"),
        message: "The invited user does not exist.".into(),
    })
}

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
pub fn ensure_signed_in(app: &Application) -> ApiResult<()> {
    if app.anonymous {
        return Err(ApiError::Forbidden { subcode: None, message: "Anonymous users cannot invite others.".into() });
    }
    Ok(())
}

/// `POST communication/participantInvitations?conversation=<id>`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
    Input(input): Input,
) -> ApiResult<Response> {
    let mut v = Validator::new();
    let conversation = v.check(input.required_string("conversation", 100));
    let to = sip_target(&mut v, &input);
    let operation_id = v.check(input.string("operationId", 50));
    let subject = v.check(input.string("subject", 250));
    let importance_value = v.check(input.enumeration("importance", IMPORTANCE));
    let message = content(&mut v, &input, "message", true);
    let custom_content = content(&mut v, &input, "customContent", false);
    v.finish()?;
    let to = to.unwrap_or_default();
    let (app, meeting_id) = locate(&state, &caller, &app_id, &conversation).await?;
    ensure_signed_in(&app)?;
    let user = invited_user(&state, &to).await?;
    let apps = state.store.online_applications(&user.uri).await?;
    let timeout_ms = state.limits.invitation_timeout_secs.saturating_mul(1000);
    let id = state
        .meetings
        .run(&state, &meeting_id, |record, now| {
            let session = record.meeting.session(&conversation).ok_or_else(ApiError::not_found)?;
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
                answer_timeout_ms: timeout_ms,
            };
            let notices = record.meeting.handle(Command::Invite(Box::new(invite)), now).map_err(meeting_error)?;
            Ok((id, notices))
        })
        .await?;
    Ok(created_at(&AppUrls::of(&app).participant_invitation(&id)))
}

/// The inviter's session of a participant invitation id (`<session>.<n>`).
async fn locate_invitation(state: &AppState, caller: &Caller, app_id: &str, id: &str) -> ApiResult<(String, String)> {
    let (session, _) = id.rsplit_once('.').ok_or_else(ApiError::not_found)?;
    let (_, meeting_id) = locate(state, caller, app_id, session).await?;
    Ok((session.to_owned(), meeting_id))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, id)): Path<(String, String)>,
) -> ApiResult<Json> {
    let (session, meeting_id) = locate_invitation(&state, &caller, &app_id, &id).await?;
    view_meeting(&state, &meeting_id, &session, |viewer| {
        let pinv =
            viewer.session.participant_invitations.iter().find(|p| p.id == id).ok_or_else(ApiError::not_found)?;
        Ok(Json(participant_invitation(viewer, pinv, pinv.state).into_value()))
    })
    .await
}

/// `POST .../cancel`: the inviter withdraws an invitation nobody answered yet.
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (actor, meeting_id) = locate_invitation(&state, &caller, &app_id, &id).await?;
    let cmd = Command::CancelParticipantInvitation { actor, invitation: id };
    state.meetings.command(&state, &meeting_id, cmd).await?;
    Ok(StatusCode::NO_CONTENT)
}
