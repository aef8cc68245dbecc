//! `addParticipant` (`POST communication/participantInvitations?conversation=<id>`) and the
//! inviter's `participantInvitation`
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/participantinvitation_ref>).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use ucwa_service::urls::AppUrls;

use crate::auth::OwnApp;
use crate::error::ApiResult;
use crate::input::Input;
use crate::response::{Json, created_at};
use crate::state::AppState;

pub async fn create(State(state): State<AppState>, own: OwnApp, Input(input): Input) -> ApiResult<Response> {
    let id = state.services.add_participant(&own.app, &input).await?;
    Ok(created_at(&AppUrls::of(&own.app).participant_invitation(&id)))
}

pub async fn get(State(state): State<AppState>, own: OwnApp, Path((_, id)): Path<(String, String)>) -> ApiResult<Json> {
    Ok(Json(state.services.participant_invitation(&own.app, &id).await?))
}

/// `POST .../cancel`: the inviter withdraws an invitation nobody answered yet.
pub async fn cancel(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.services.cancel_participant_invitation(&own.app, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
