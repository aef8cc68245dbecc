//! Messaging (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/sendanim>):
//! `startMessaging` / `addMessaging`, the `messagingInvitation` operation and its accept /
//! decline / cancel, `sendMessage`, the `message` operation and `stopMessaging`. A message is
//! sent as the raw request body to `<messaging>/messages`: clients build that URL by
//! appending `/messages`.

use axum::extract::{Path, Query, Request};
use axum::http::{StatusCode, header};
use axum::response::Response;
use ucwa_core::meeting::InvitationKind;
use ucwa_service::urls::AppUrls;

use crate::auth::{OwnApp, OwnSession};
use crate::error::ApiResult;
use crate::input::{Input, Tail, read_body};
use crate::response::{Json, created_at};
use crate::urls::PublicBase;

/// `POST communication/messagingInvitations[?conversation=<id>]`.
pub async fn start(own: OwnApp, PublicBase(base): PublicBase, Input(input): Input) -> ApiResult<Response> {
    let session = own.services.start_messaging(&own.app, &base, &input).await?;
    Ok(created_at(&AppUrls::of(&own.app).messaging_invitation(&session)))
}

/// `GET messagingInvitations/{id}`: a two-party call's invitation, or an `addMessaging`.
pub async fn get_invitation(OwnSession { own, session }: OwnSession) -> ApiResult<Json> {
    Ok(Json(own.services.messaging_invitation(&own.app, &session).await?))
}

/// `POST messagingInvitations/{id}/accept|decline|cancel`.
pub async fn invitation_action(
    OwnSession { own, session }: OwnSession,
    Path((_, _, action)): Path<(String, String, String)>,
    Input(input): Input,
) -> ApiResult<StatusCode> {
    own.services.act_on_invitation(&own.app, &session, InvitationKind::Messaging, &action, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
pub struct SendQuery {
    #[serde(rename = "operationId", alias = "operationid", alias = "OperationId")]
    operation_id: Option<String>,
}

/// `POST <messaging>/messages` (`sendMessage`): 201 with the `message` operation's Location.
pub async fn send(own: OwnSession, Query(query): Query<SendQuery>, req: Request) -> ApiResult<Response> {
    send_in(own, query, req).await
}

/// `POST <messaging>/messages/{id}`: text POSTed to a message (a bot answering what it
/// received) is a new message in the same conversation, exactly as `sendMessage`. The
/// reference documents only GET on a message and no page shows a server refusing this, so
/// it is taken as the reply it is (docs/compatibility.md, message). The message named is
/// not looked up: received messages are not kept, and a reply does not depend on them.
pub async fn reply(
    own: OwnSession,
    Tail(message): Tail,
    Query(query): Query<SendQuery>,
    req: Request,
) -> ApiResult<Response> {
    if message.len() > 100 {
        return Err(ucwa_service::ServiceError::not_found().into());
    }
    send_in(own, query, req).await
}

async fn send_in(OwnSession { own, session }: OwnSession, query: SendQuery, req: Request) -> ApiResult<Response> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // The same size limit as every other body (413 past it).
    let body = read_body(req, own.services.limits.max_body_bytes).await?;
    let services = &own.services;
    let message = services.send_message(&own.app, &session, query.operation_id, content_type.as_deref(), &body).await?;
    Ok(created_at(&AppUrls::of(&own.app).message(session.id(), &message)))
}

/// `GET <messaging>/messages/{id}`: one of the session's recently sent messages.
pub async fn get_message(OwnSession { own, session }: OwnSession, Tail(message): Tail) -> ApiResult<Json> {
    Ok(Json(own.services.sent_message(&own.app, &session, &message).await?))
}

/// `POST <messaging>/typing` (`setIsTyping`, 204).
pub async fn set_typing(OwnSession { own, session }: OwnSession) -> ApiResult<StatusCode> {
    own.services.set_typing(&own.app, &session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET <messaging>/typingParticipants`.
pub async fn typing_participants(OwnSession { own, session }: OwnSession) -> ApiResult<Json> {
    Ok(Json(own.services.typing_participants(&own.app, &session).await?))
}

/// `POST <messaging>/terminate` (`stopMessaging`).
pub async fn stop(OwnSession { own, session }: OwnSession) -> ApiResult<StatusCode> {
    own.services.stop_messaging(&own.app, &session).await?;
    Ok(StatusCode::NO_CONTENT)
}
