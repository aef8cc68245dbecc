//! Messaging (`ucwa-spec.md` §12.0; recorded `Event_Messaging*` / `Event_Message*`):
//! `startMessaging` (a two-party conversation), `addMessaging` (messaging in a meeting
//! conversation), the `messagingInvitation` operation and its accept / decline / cancel,
//! `sendMessage`, the `message` operation and `stopMessaging`.
//!
//! `POST communication/messagingInvitations` is `startMessaging` without a `conversation`
//! parameter and `addMessaging` with one (the shape real servers advertise). A message is
//! sent as the raw request body, `text/plain` or `text/html` (UTF-8, also when no charset
//! is given), to `<messaging>/messages`: clients build that URL by appending `/messages`.

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use ucwa_core::credentials::new_id;
use ucwa_core::meeting::{
    Call, Command, Content, InvitationKind, InvitationRequest, Meeting, MeetingSettings, MessageRequest,
};
use ucwa_proto::input::{PropertyBag, Validator};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::{Input, read_body};
use crate::render::invitation::{invitation, messaging_operation};
use crate::render::messaging::sent_message;
use crate::response::{Json, created_at};
use crate::routes::applications::load_owned;
use crate::routes::invitations::{
    DEFAULT_MEETING_LIFETIME_MS, IMPORTANCE, act_on_invitation, identity_of, importance, locate, with_viewer,
};
use crate::routes::my_meetings::create_meeting;
use crate::routes::participant_invitations::{content, ensure_signed_in, invited_user, invitees, sip_target};
use crate::state::{AppState, now_ms};
use crate::urls::{AppUrls, public_base};

/// `POST communication/messagingInvitations[?conversation=<id>]`.
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    Input(input): Input,
) -> ApiResult<Response> {
    if input.contains("conversation") {
        return add_messaging(&state, &caller, &app_id, &input).await;
    }
    let mut v = Validator::new();
    let to = sip_target(&mut v, &input);
    let operation_id = v.check(input.string("operationId", 50));
    let subject = v.check(input.string("subject", 250));
    let importance_value = v.check(input.enumeration("importance", IMPORTANCE));
    let thread_id = v.check(input.string("threadId", 250));
    let message = content(&mut v, &input, "message", true);
    v.finish()?;
    let to = to.unwrap_or_default();
    let app = load_owned(&state, &caller, &app_id).await?;
    ensure_signed_in(&app)?;
    let user = invited_user(&state, &to).await?;
    // The caller's own other applications ring too when calling oneself, but not this one.
    let apps: Vec<_> =
        state.store.online_applications(&user.uri).await?.into_iter().filter(|a| a.id != app.id).collect();

    // The conversation is a two-party meeting aggregate; the settings apply if it is ever
    // escalated (the caller then organizes the ad hoc meeting).
    let now = now_ms();
    let mut settings = MeetingSettings::new(app.owner_uri.clone(), now + DEFAULT_MEETING_LIFETIME_MS);
    settings.subject = subject.clone().unwrap_or_default();
    let record = create_meeting(&state, &public_base(&state, &headers), settings, now, Meeting::two_party).await?;
    let conference_id = record.meeting.id();
    let session_id = new_id();
    let call = Call {
        session_id: session_id.clone(),
        app_id: app.id.clone(),
        identity: identity_of(&app),
        invitation: InvitationRequest {
            operation_id,
            subject,
            importance: importance(importance_value),
            thread_id: Some(thread_id.unwrap_or_else(new_id)),
            kind: InvitationKind::Messaging,
            to: Some(user.uri.clone()),
            message,
            ..InvitationRequest::outgoing(session_id.clone())
        },
        invitees: invitees(&user, &apps, None),
        answer_timeout_ms: state.limits.invitation_timeout_secs.saturating_mul(1000),
    };
    state.meetings.command(&state, conference_id, Command::Call(Box::new(call))).await?;
    Ok(created_at(&AppUrls::of(&app).messaging_invitation(&session_id)))
}

/// `addMessaging` of a meeting conversation.
async fn add_messaging(state: &AppState, caller: &Caller, app_id: &str, input: &PropertyBag) -> ApiResult<Response> {
    let mut v = Validator::new();
    let conversation = v.check(input.required_string("conversation", 100));
    let operation_id = v.check(input.string("operationId", 50));
    v.finish()?;
    let (app, meeting_id) = locate(state, caller, app_id, &conversation).await?;
    let cmd = Command::AddMessaging { session: conversation.clone(), operation_id };
    state.meetings.command(state, &meeting_id, cmd).await?;
    Ok(created_at(&AppUrls::of(&app).messaging_invitation(&conversation)))
}

/// `GET messagingInvitations/{id}`: a two-party call's invitation, or an `addMessaging`.
pub async fn get_invitation(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, session_id)): Path<(String, String)>,
) -> ApiResult<Json> {
    with_viewer(&state, &caller, &app_id, &session_id, |v| {
        if let Some(op) = &v.session.messaging_operation {
            return Ok(Json(messaging_operation(v, op, op.state).into_value()));
        }
        if v.session.invitation.kind == InvitationKind::Messaging {
            return Ok(Json(invitation(v).into_value()));
        }
        Err(ApiError::not_found())
    })
    .await
}

/// `POST messagingInvitations/{id}/accept|decline|cancel`.
pub async fn invitation_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, session_id, action)): Path<(String, String, String)>,
    Input(input): Input,
) -> ApiResult<StatusCode> {
    act_on_invitation(&state, &caller, &app_id, session_id, InvitationKind::Messaging, &action, &input).await
}

/// The text of a `sendMessage` body: `text/plain` or `text/html`, UTF-8.
fn message_body(headers: &HeaderMap, body: &Bytes) -> ApiResult<Content> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut params = content_type.split(';').map(str::trim);
    let mime = params.next().unwrap_or("").to_ascii_lowercase();
    if mime != "text/plain" && mime != "text/html" {
        return Err(ApiError::UnsupportedMediaType);
    }
    let charset_ok = params
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .all(|(_, cs)| {
            ["utf-8", "utf8", "us-ascii"].contains(&cs.trim().trim_matches('"').to_ascii_lowercase().as_str())
        });
    if !charset_ok {
        return Err(ApiError::UnsupportedMediaType);
    }
    let mut v = Validator::new();
    let text = match std::str::from_utf8(body) {
        Ok("") => {
            v.fail("message", "must not be empty");
            String::new()
        }
        Ok(text) => text.to_owned(),
        Err(_) => {
            v.fail("message", "must be UTF-8 text");
            String::new()
        }
    };
    v.finish()?;
    Ok(Content::new(mime, text))
}

#[derive(serde::Deserialize)]
pub struct SendQuery {
    #[serde(rename = "operationId", alias = "operationid", alias = "OperationId")]
    operation_id: Option<String>,
}

/// `POST <messaging>/messages` (`sendMessage`): 201 with the `message` operation's Location.
/// Refused with 409 unless this conversation's messaging is connected.
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, session_id)): Path<(String, String)>,
    Query(query): Query<SendQuery>,
    req: Request,
) -> ApiResult<Response> {
    let mut v = Validator::new();
    if query.operation_id.as_ref().is_some_and(|o| o.chars().count() > 50) {
        v.fail("operationId", "longer than 50 characters");
    }
    v.finish()?;
    let headers = req.headers().clone();
    // The same size limit as every other body (413 past it).
    let body = read_body(req, state.limits.max_body_bytes).await?;
    let content = message_body(&headers, &body)?;
    let (app, meeting_id) = locate(&state, &caller, &app_id, &session_id).await?;
    let id = new_id();
    let message = MessageRequest { id: id.clone(), operation_id: query.operation_id, content };
    state.meetings.command(&state, &meeting_id, Command::SendMessage { session: session_id.clone(), message }).await?;
    Ok(created_at(&AppUrls::of(&app).message(&session_id, &id)))
}

/// `GET <messaging>/messages/{id}`: one of the session's recently sent messages.
pub async fn get_message(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, session_id, message_id)): Path<(String, String, String)>,
) -> ApiResult<Json> {
    with_viewer(&state, &caller, &app_id, &session_id, |v| {
        let sent = v.session.sent_messages.iter().find(|m| m.id == message_id).ok_or_else(ApiError::not_found)?;
        Ok(Json(sent_message(v, &sent.id, sent.operation_id.as_deref(), sent.at_ms).into_value()))
    })
    .await
}

/// `POST <messaging>/terminate` (`stopMessaging`).
pub async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, session_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (_, meeting_id) = locate(&state, &caller, &app_id, &session_id).await?;
    state.meetings.command(&state, &meeting_id, Command::StopMessaging { session: session_id }).await?;
    Ok(StatusCode::NO_CONTENT)
}
