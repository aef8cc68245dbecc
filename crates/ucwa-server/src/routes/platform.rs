//! The Trusted Application API's own resources
//! (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/trustedapplicationapi>):
//! `discover`, the per-endpoint `applications` / `application`, its `communication`
//! dashboard, `adhocMeetings`, `myOnlineMeetings` and `anonApplicationTokens`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ucwa_service::render::service as render;
use ucwa_service::service_apps::not_offered as not_offered_error;

use crate::auth::{Caller, OwnServiceApp, endpoint_param};
use crate::error::{ApiError, ApiResult};
use crate::input::Input;
use crate::response::{Json, json_response};
use crate::state::AppState;
use crate::urls::{public_base, with_query};

/// `GET /platformservice/discover`.
pub async fn discover(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    Caller(caller): Caller,
) -> ApiResult<Json> {
    let base = public_base(&state, &headers);
    let self_href = format!("{base}/platformservice/discover");
    let self_href = query.as_deref().map_or(self_href.clone(), |q| with_query(&self_href, q));
    Ok(Json(state.services.discover(&caller, &base, self_href)?))
}

/// `GET /platformservice/v1/applications?endpointId=sip:...`: the link to the endpoint's
/// application.
pub async fn applications(
    State(state): State<AppState>,
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Json> {
    let endpoint = endpoint_param(query.as_deref());
    let app = state.services.endpoint_application(&caller, endpoint.as_deref()).await?;
    Ok(Json(render::applications(&app)))
}

pub async fn application(own: OwnServiceApp) -> Json {
    Json(render::application(&own.app))
}

pub async fn communication(own: OwnServiceApp) -> Json {
    Json(render::communication(&own.app).into_value())
}

/// Capabilities the application advertises that this server does not carry out yet.
pub async fn not_offered() -> ApiError {
    not_offered_error().into()
}

pub async fn adhoc_meetings(own: OwnServiceApp) -> Json {
    Json(render::adhoc_meetings(&own.app))
}

/// `POST adhocMeetings`: answers 200 with the meeting, as documented.
pub async fn create_adhoc_meeting(
    State(state): State<AppState>,
    own: OwnServiceApp,
    headers: HeaderMap,
    Input(input): Input,
) -> ApiResult<Response> {
    let base = public_base(&state, &headers);
    let record = state.services.create_adhoc_meeting(&own.app, &base, &input).await?;
    Ok(json_response(StatusCode::OK, render::adhoc_meeting(&own.app, &base, &record).to_string()))
}

pub async fn adhoc_meeting(
    State(state): State<AppState>,
    own: OwnServiceApp,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json> {
    let record = state.services.adhoc_meeting(&own.app, &id).await?;
    Ok(Json(render::adhoc_meeting(&own.app, &public_base(&state, &headers), &record)))
}

pub async fn my_online_meetings(State(state): State<AppState>, own: OwnServiceApp) -> ApiResult<Json> {
    let meetings = state.services.my_meetings(&own.app).await?;
    Ok(Json(render::my_online_meetings(&own.app, &meetings)))
}

/// `POST anonApplicationTokens`: a `psat` token for an anonymous guest (200).
pub async fn anon_application_token(
    State(state): State<AppState>,
    own: OwnServiceApp,
    headers: HeaderMap,
    Input(input): Input,
) -> ApiResult<Response> {
    let token = state.services.anon_application_token(&own.app, &input).await?;
    let body = render::anon_application_token(&own.app, &public_base(&state, &headers), &token);
    Ok(json_response(StatusCode::OK, body.to_string()))
}
