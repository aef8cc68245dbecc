//! `joinOnlineMeeting` / `startOnlineMeeting` (`POST communication/onlineMeetingInvitations`)
//! and the `onlineMeetingInvitation` operation
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/onlinemeetinginvitation_ref>): a good
//! join answers `201 Created` with the invitation's `Location` and an empty body; the
//! invitation itself arrives as events, possibly before the 201.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use ucwa_core::meeting::InvitationKind;
use ucwa_service::urls::AppUrls;

use crate::auth::{OwnApp, OwnSession};
use crate::error::{ApiError, ApiResult};
use crate::input::Input;
use crate::response::{Json, created_at};
use crate::urls::PublicBase;

pub async fn join(own: OwnApp, PublicBase(base): PublicBase, Input(input): Input) -> ApiResult<Response> {
    let session = own.services.join(&own.caller, &own.app, &base, &input).await?;
    Ok(created_at(&AppUrls::of(&own.app).invitation(&session)))
}

pub async fn get(OwnSession { own, session }: OwnSession) -> ApiResult<Json> {
    Ok(Json(own.services.meeting_invitation(&own.app, &session).await?))
}

/// `POST onlineMeetingInvitations/{inv}/accept|decline` (incoming meeting invitations).
pub async fn answer(
    OwnSession { own, session }: OwnSession,
    Path((_, _, action)): Path<(String, String, String)>,
    Input(input): Input,
) -> ApiResult<StatusCode> {
    if action == "cancel" {
        return Err(ApiError::not_found());
    }
    own.services.act_on_invitation(&own.app, &session, InvitationKind::OnlineMeeting, &action, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST .../cancel`: gives up an outgoing join that is still `Connecting`.
pub async fn cancel(OwnSession { own, session }: OwnSession) -> ApiResult<StatusCode> {
    own.services.cancel_join(&own.app, &session).await?;
    Ok(StatusCode::NO_CONTENT)
}
