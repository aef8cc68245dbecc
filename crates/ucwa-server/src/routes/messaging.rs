//! Messaging (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/messaging_ref>):
//! `startMessaging` / `addMessaging`, the `messagingInvitation` operation and its accept /
//! decline / cancel, `sendMessage`, the `message` operation and `stopMessaging`. A message is
//! sent as the raw request body to `<messaging>/messages`: clients build that URL by
//! appending `/messages`.

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use ucwa_core::meeting::InvitationKind;
use ucwa_service::urls::AppUrls;

use crate::auth::OwnApp;
use crate::error::ApiResult;
use crate::input::{Input, read_body};
use crate::response::{Json, created_at};
use crate::state::AppState;
use crate::urls::public_base;

/// `POST communication/messagingInvitations[?conversation=<id>]`.
pub async fn start(
    State(state): State<AppState>,
    own: OwnApp,
    headers: HeaderMap,
    Input(input): Input,
) -> ApiResult<Response> {
    let session = state.services.start_messaging(&own.app, &public_base(&state, &headers), &input).await?;
    Ok(created_at(&AppUrls::of(&own.app).messaging_invitation(&session)))
}

/// `GET messagingInvitations/{id}`: a two-party call's invitation, or an `addMessaging`.
pub async fn get_invitation(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, inv)): Path<(String, String)>,
) -> ApiResult<Json> {
    Ok(Json(state.services.messaging_invitation(&own.app, &inv).await?))
}

/// `POST messagingInvitations/{id}/accept|decline|cancel`.
pub async fn invitation_action(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, inv, action)): Path<(String, String, String)>,
    Input(input): Input,
) -> ApiResult<StatusCode> {
    state.services.act_on_invitation(&own.app, &inv, InvitationKind::Messaging, &action, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
pub struct SendQuery {
    #[serde(rename = "operationId", alias = "operationid", alias = "OperationId")]
    operation_id: Option<String>,
}

/// `POST <messaging>/messages` (`sendMessage`): 201 with the `message` operation's Location.
pub async fn send(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, conv)): Path<(String, String)>,
    Query(query): Query<SendQuery>,
    req: Request,
) -> ApiResult<Response> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // The same size limit as every other body (413 past it).
    let body = read_body(req, state.services.limits.max_body_bytes).await?;
    let services = &state.services;
    let id = services.send_message(&own.app, &conv, query.operation_id, content_type.as_deref(), &body).await?;
    Ok(created_at(&AppUrls::of(&own.app).message(&conv, &id)))
}

/// `GET <messaging>/messages/{id}`: one of the session's recently sent messages.
pub async fn get_message(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, conv, message)): Path<(String, String, String)>,
) -> ApiResult<Json> {
    Ok(Json(state.services.sent_message(&own.app, &conv, &message).await?))
}

/// `POST <messaging>/terminate` (`stopMessaging`).
pub async fn stop(
    State(state): State<AppState>,
    own: OwnApp,
    Path((_, conv)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.services.stop_messaging(&own.app, &conv).await?;
    Ok(StatusCode::NO_CONTENT)
}
