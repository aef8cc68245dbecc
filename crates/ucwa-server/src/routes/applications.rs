//! `applications` and `application`
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/applications_ref>): create, get,
//! delete; the dashboards embedded in an application (`me`, `people`, `onlineMeetings`,
//! `communication`); `makeMeAvailable` and `reportMyActivity`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use ucwa_service::render::application as render;

use crate::auth::{Caller, OwnApp};
use crate::error::{ApiError, ApiResult};
use crate::input::{Input, Tail};
use crate::response::{Json, json_response};
use crate::state::AppState;

pub async fn create(State(state): State<AppState>, Caller(caller): Caller, Input(input): Input) -> ApiResult<Response> {
    let created = state.services.create_application(&caller, &input).await?;
    let status = if created.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(json_response(status, render::application(&created.app).to_string()))
}

pub async fn get(own: OwnApp) -> Response {
    json_response(StatusCode::OK, own.services.application_body(&own.app))
}

pub async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(app_id): Path<String>,
) -> ApiResult<StatusCode> {
    state.services.delete_application(&caller, &app_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(OwnApp { app, .. }: OwnApp) -> Json {
    Json(render::me(&app).into_value())
}

pub async fn communication(OwnApp { app, .. }: OwnApp) -> Json {
    Json(render::communication(&app).into_value())
}

pub async fn make_me_available(
    State(state): State<AppState>,
    own: OwnApp,
    Input(input): Input,
) -> ApiResult<StatusCode> {
    state.services.make_me_available(&own.app, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn report_my_activity(State(state): State<AppState>, own: OwnApp) -> ApiResult<StatusCode> {
    state.services.report_my_activity(&own.app).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The dashboards and empty collections an application links to.
pub async fn dashboard(own: OwnApp, Tail(rest): Tail) -> ApiResult<Json> {
    render::dashboard(&own.app, &rest).map(Json).ok_or_else(ApiError::not_found)
}
