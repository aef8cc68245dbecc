//! `conversation`, its `onlineMeeting`, the roster collections and participant actions
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/conversation_ref>). Capability links
//! follow the viewer; acting without the capability answers 403.

use axum::extract::Path;
use axum::http::StatusCode;
use ucwa_service::render::conversation::conversations;

use crate::auth::{OwnApp, OwnSession};
use crate::error::ApiResult;
use crate::input::Tail;
use crate::response::Json;

/// `GET communication/conversations`: the application's live conversations.
pub async fn list(own: OwnApp) -> ApiResult<Json> {
    let sessions = own.services.conversations(&own.app).await?;
    Ok(Json(conversations(&own.app, &sessions).into_value()))
}

pub async fn get(OwnSession { own, session }: OwnSession) -> ApiResult<Json> {
    Ok(Json(own.services.conversation(&own.app, &session).await?))
}

/// `DELETE` the conversation: leave the meeting (or stop waiting in its lobby).
pub async fn delete(OwnSession { own, session }: OwnSession) -> ApiResult<StatusCode> {
    own.services.leave(&own.app, &session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sub-resources of a conversation: its modalities, its meeting and roster views.
pub async fn part(OwnSession { own, session }: OwnSession, Tail(part): Tail) -> ApiResult<Json> {
    Ok(Json(own.services.conversation_part(&own.app, &session, &part).await?))
}

/// `GET participants/{subject}`: the subject (a participant key such as `bob@example.com`)
/// percent-decoded.
pub async fn participant_get(
    OwnSession { own, session }: OwnSession,
    Path((_, _, subject)): Path<(String, String, String)>,
) -> ApiResult<Json> {
    Ok(Json(own.services.participant(&own.app, &session, &subject).await?))
}

/// `POST participants/{p}/admit|reject|promote|demote|eject` (bodiless, 204).
pub async fn participant_action(
    OwnSession { own, session }: OwnSession,
    Path((_, _, subject, action)): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    own.services.act_on_participant(&own.app, &session, &subject, &action).await?;
    Ok(StatusCode::NO_CONTENT)
}
