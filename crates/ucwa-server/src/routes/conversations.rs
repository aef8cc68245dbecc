//! `conversation`, its `onlineMeeting`, the roster collections and participant actions
//! (`ucwa-spec.md` §8–9). Capability links follow the viewer; acting without the
//! capability answers 403.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ucwa_core::meeting::{Command, View};
use ucwa_proto::Resource;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::render::conversation::{MODALITIES, collection, conversation, modality};
use crate::render::online_meeting::online_meeting;
use crate::render::participant::participant;
use crate::render::{Viewer, namespace};
use crate::response::Json;
use crate::routes::applications::load_owned;
use crate::routes::invitations::{locate, surface_of, with_viewer};
use crate::state::AppState;
use crate::urls::AppUrls;

/// `GET communication/conversations`: the application's live conversations.
pub async fn list(State(state): State<AppState>, caller: Caller, Path(app_id): Path<String>) -> ApiResult<Json> {
    let app = load_owned(&state, &caller, &app_id).await?;
    let urls = AppUrls::of(&app);
    let sessions = state.store.sessions_of_application(&app.id).await?;
    let links = sessions.iter().map(|s| (urls.conversation(&s.session_id), None));
    let ns = namespace(&surface_of(&app));
    let r =
        Resource::new(ns, "conversations", urls.at("communication/conversations")).link_array("conversation", links);
    Ok(Json(r.into_value()))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, session_id)): Path<(String, String)>,
) -> ApiResult<Json> {
    with_viewer(&state, &caller, &app_id, &session_id, |v| Ok(Json(conversation(v, v.session.state).into_value())))
        .await
}

/// `DELETE` the conversation: leave the meeting (or stop waiting in its lobby).
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, session_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (_, meeting_id) = locate(&state, &caller, &app_id, &session_id).await?;
    state.meetings.command(&state, &meeting_id, Command::Leave { session: session_id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sub-resources of a conversation: its modalities, and what exists only once it is
/// `Conferenced` (the meeting and the roster views).
pub async fn part(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, session_id, part)): Path<(String, String, String)>,
) -> ApiResult<Json> {
    with_viewer(&state, &caller, &app_id, &session_id, |v| {
        if MODALITIES.contains(&part.as_str()) {
            return Ok(Json(modality(v, &part).into_value()));
        }
        if !v.session.in_roster() {
            return Err(ApiError::not_found());
        }
        let resource = match part.as_str() {
            "onlineMeeting" => online_meeting(v),
            "participants" => collection(v, None),
            "leaders" => collection(v, Some(View::Leaders)),
            "attendees" => collection(v, Some(View::Attendees)),
            "lobby" => collection(v, Some(View::Lobby)),
            _ => return Err(ApiError::not_found()),
        };
        Ok(Json(resource.into_value()))
    })
    .await
}

/// Whether `viewer` may see `subject` at all: itself, roster members, and (for leaders)
/// lobby participants; hidden trusted sessions only themselves.
fn visible(v: &Viewer<'_>, subject_id: &str) -> bool {
    let Some(subject) = v.meeting().session(subject_id) else { return false };
    if subject_id == v.id {
        return true;
    }
    v.session.in_roster()
        && !subject.identity.trusted
        && (subject.in_roster() || (subject.is_waiting() && v.session.leads()))
}

pub async fn participant_get(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, session_id, subject)): Path<(String, String, String)>,
) -> ApiResult<Json> {
    with_viewer(&state, &caller, &app_id, &session_id, |v| {
        if !visible(v, &subject) {
            return Err(ApiError::not_found());
        }
        let rel = if subject == session_id { "localParticipant" } else { "participant" };
        Ok(Json(participant(v, &subject, rel).into_value()))
    })
    .await
}

/// `POST participants/{p}/admit|reject|promote|demote|eject` (bodiless, 204).
pub async fn participant_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, session_id, subject, action)): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    let (_, meeting_id) = locate(&state, &caller, &app_id, &session_id).await?;
    let (actor, target) = (session_id, subject);
    let cmd = match action.as_str() {
        "admit" => Command::Admit { actor, target },
        "reject" => Command::Reject { actor, target },
        "promote" => Command::Promote { actor, target },
        "demote" => Command::Demote { actor, target },
        "eject" => Command::Eject { actor, target },
        _ => return Err(ApiError::not_found()),
    };
    state.meetings.command(&state, &meeting_id, cmd).await?;
    Ok(StatusCode::NO_CONTENT)
}
