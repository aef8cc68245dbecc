//! `addParticipant` (`POST communication/participantInvitations?conversation=<id>`) and the
//! inviter's `participantInvitation`
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/participantinvitation_ref>).

use axum::http::StatusCode;
use axum::response::Response;
use ucwa_service::urls::AppUrls;

use crate::auth::{OwnApp, OwnParticipantInvitation};
use crate::error::ApiResult;
use crate::input::Input;
use crate::response::{Json, created_at};

pub async fn create(own: OwnApp, Input(input): Input) -> ApiResult<Response> {
    let id = own.services.add_participant(&own.app, &input).await?;
    Ok(created_at(&AppUrls::of(&own.app).participant_invitation(&id)))
}

pub async fn get(OwnParticipantInvitation { own, id }: OwnParticipantInvitation) -> ApiResult<Json> {
    Ok(Json(own.services.participant_invitation(&own.app, &id).await?))
}

/// `POST .../cancel`: the inviter withdraws an invitation nobody answered yet.
pub async fn cancel(OwnParticipantInvitation { own, id }: OwnParticipantInvitation) -> ApiResult<StatusCode> {
    own.services.cancel_participant_invitation(&own.app, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
