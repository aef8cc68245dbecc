//! `conversation`, its `onlineMeeting`, the roster collections and participant actions
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/conversation_ref>). Capability links
//! follow the viewer; acting without the capability answers 403.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ucwa_service::render::conversation::conversations;

use crate::auth::OwnApp;
use crate::error::ApiResult;
use crate::response::Json;
use crate::state::AppState;

/// `GET communication/conversations`: the application's live conversations.
pub async fn list(State(state): State<AppState>, own: OwnApp) -> ApiResult<Json> {
    let sessions = state.services.conversations(&own.app).await?;
    Ok(Json(conversations(&own.app, &sessions).into_value()))
}

pub async fn get(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, conv)): Path<(String, String)>,
) -> ApiResult<Json> {
    Ok(Json(state.services.conversation(&own.app, &conv).await?))
}

/// `DELETE` the conversation: leave the meeting (or stop waiting in its lobby).
pub async fn delete(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, conv)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.services.leave(&own.app, &conv).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sub-resources of a conversation: its modalities, its meeting and roster views.
pub async fn part(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, conv, part)): Path<(String, String, String)>,
) -> ApiResult<Json> {
    Ok(Json(state.services.conversation_part(&own.app, &conv, &part).await?))
}

pub async fn participant_get(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, conv, subject)): Path<(String, String, String)>,
) -> ApiResult<Json> {
    Ok(Json(state.services.participant(&own.app, &conv, &subject).await?))
}

/// `POST participants/{p}/admit|reject|promote|demote|eject` (bodiless, 204).
pub async fn participant_action(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, conv, subject, action)): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    state.services.act_on_participant(&own.app, &conv, &subject, &action).await?;
    Ok(StatusCode::NO_CONTENT)
}
