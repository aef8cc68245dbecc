//! `myOnlineMeetings` / `myOnlineMeeting`
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/myonlinemeetings_ref>): the organizer
//! schedules, lists, reads, updates (PUT with `If-Match`) and deletes meetings; and the
//! `defaultValues` / `eligibleValues` a client builds its form from.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use ucwa_core::model::{Application, MeetingRecord};
use ucwa_service::render::online_meeting::{default_values as defaults, eligible_values as eligible, etag};
use ucwa_service::render::online_meeting::{my_online_meeting, my_online_meetings};
use ucwa_service::urls::AppUrls;

use crate::auth::OwnApp;
use crate::error::ApiResult;
use crate::input::{Input, Tail};
use crate::response::{Json, json_response};
use crate::urls::PublicBase;

/// The organizer's `myOnlineMeeting` with its `ETag`.
fn meeting_response(status: StatusCode, app: &Application, record: &MeetingRecord) -> Response {
    let urls = AppUrls::of(app);
    let mut resp = json_response(status, my_online_meeting(&urls, record).into_value().to_string());
    if let Ok(v) = HeaderValue::from_str(&etag(record)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

pub async fn list(own: OwnApp) -> ApiResult<Json> {
    let meetings = own.services.my_meetings(&own.app).await?;
    Ok(Json(my_online_meetings(&own.app, &meetings).into_value()))
}

pub async fn create(own: OwnApp, PublicBase(base): PublicBase, Input(input): Input) -> ApiResult<Response> {
    let record = own.services.schedule_meeting(&own.app, &base, &input).await?;
    let mut resp = meeting_response(StatusCode::CREATED, &own.app, &record);
    if let Ok(v) = HeaderValue::from_str(&AppUrls::of(&own.app).my_meeting(record.meeting.id())) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn get(own: OwnApp, Tail(id): Tail) -> ApiResult<Response> {
    let record = own.services.my_meeting(&own.app, &id).await?;
    Ok(meeting_response(StatusCode::OK, &own.app, &record))
}

pub async fn put(own: OwnApp, Tail(id): Tail, headers: HeaderMap, Input(input): Input) -> ApiResult<Response> {
    let if_match = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok());
    let record = own.services.update_meeting(&own.app, &id, if_match, &input).await?;
    Ok(meeting_response(StatusCode::OK, &own.app, &record))
}

pub async fn delete(own: OwnApp, Tail(id): Tail) -> ApiResult<StatusCode> {
    own.services.delete_meeting(&own.app, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `onlineMeetings/defaultValues`: what a meeting gets when its creator leaves a value out.
pub async fn default_values(own: OwnApp) -> Json {
    Json(defaults(&own.app).into_value())
}

/// `onlineMeetings/eligibleValues`: every value a meeting property accepts here.
pub async fn eligible_values(own: OwnApp) -> Json {
    Json(eligible(&own.app).into_value())
}
