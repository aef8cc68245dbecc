//! `joinOnlineMeeting` / `startOnlineMeeting` (`POST communication/onlineMeetingInvitations`)
//! and the `onlineMeetingInvitation` operation
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/onlinemeetinginvitation_ref>): a good
//! join answers `201 Created` with the invitation's `Location` and an empty body; the
//! invitation itself arrives as events, possibly before the 201.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ucwa_core::meeting::InvitationKind;
use ucwa_service::urls::AppUrls;

use crate::auth::OwnApp;
use crate::error::{ApiError, ApiResult};
use crate::input::Input;
use crate::response::{Json, created_at};
use crate::state::AppState;
use crate::urls::public_base;

pub async fn join(
    State(state): State<AppState>,
    OwnApp { caller, app }: OwnApp,
    headers: HeaderMap,
    Input(input): Input,
) -> ApiResult<Response> {
    let session = state.services.join(&caller, &app, &public_base(&state, &headers), &input).await?;
    Ok(created_at(&AppUrls::of(&app).invitation(&session)))
}

pub async fn get(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, inv)): Path<(String, String)>,
) -> ApiResult<Json> {
    Ok(Json(state.services.meeting_invitation(&own.app, &inv).await?))
}

/// `POST onlineMeetingInvitations/{inv}/accept|decline` (incoming meeting invitations).
pub async fn answer(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, inv, action)): Path<(String, String, String)>,
    Input(input): Input,
) -> ApiResult<StatusCode> {
    if action == "cancel" {
        return Err(ApiError::not_found());
    }
    state.services.act_on_invitation(&own.app, &inv, InvitationKind::OnlineMeeting, &action, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST .../cancel`: gives up an outgoing join that is still `Connecting`.
pub async fn cancel(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, inv)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.services.cancel_join(&own.app, &inv).await?;
    Ok(StatusCode::NO_CONTENT)
}
