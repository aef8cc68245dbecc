//! The Trusted Application API's own resources
//! (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/newconcepts>):
//! `discover`, the per-endpoint `applications` / `application`, its `communication`
//! dashboard, `adhocMeetings`, `myOnlineMeetings` and `anonApplicationTokens`.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use ucwa_service::render::service as render;
use ucwa_service::service_apps::not_offered as not_offered_error;

use crate::auth::{Caller, OwnServiceApp, endpoint_param};
use crate::error::{ApiError, ApiResult};
use crate::input::{Input, Tail};
use crate::response::{Json, json_response};
use crate::state::AppState;
use crate::urls::{PublicBase, with_query};

/// `GET /platformservice/discover`.
pub async fn discover(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    RawQuery(query): RawQuery,
    Caller(caller): Caller,
) -> ApiResult<Json> {
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
    own: OwnServiceApp,
    PublicBase(base): PublicBase,
    Input(input): Input,
) -> ApiResult<Response> {
    let record = own.services.create_adhoc_meeting(&own.app, &base, &input).await?;
    Ok(json_response(StatusCode::OK, render::adhoc_meeting(&own.app, &base, &record).to_string()))
}

pub async fn adhoc_meeting(own: OwnServiceApp, PublicBase(base): PublicBase, Tail(id): Tail) -> ApiResult<Json> {
    let record = own.services.adhoc_meeting(&own.app, &id).await?;
    Ok(Json(render::adhoc_meeting(&own.app, &base, &record)))
}

pub async fn my_online_meetings(own: OwnServiceApp) -> ApiResult<Json> {
    let meetings = own.services.my_meetings(&own.app).await?;
    Ok(Json(render::my_online_meetings(&own.app, &meetings)))
}

/// `POST anonApplicationTokens`: a `psat` token for an anonymous guest (200).
pub async fn anon_application_token(
    own: OwnServiceApp,
    PublicBase(base): PublicBase,
    Input(input): Input,
) -> ApiResult<Response> {
    let token = own.services.anon_application_token(&own.app, &input).await?;
    let body = render::anon_application_token(&own.app, &base, &token);
    Ok(json_response(StatusCode::OK, body.to_string()))
}
