//! The browser side: the `ucwa-web` pages, and a browser opening a meeting's `joinUrl`
//! (`<base>/meet/<organizer alias>/<id>`). A client that prefers HTML gets the meeting's join
//! page, with the subject, the organizer and the meeting's id and URI (what a guest needs for
//! the anonymous meeting grant); anyone else keeps the JSON 404 the URL always answered.

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::http::header::ACCEPT;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ucwa_core::conference::conference_uri;

use crate::error::ApiError;
use crate::routes::platform::meeting_of_join_url;
use crate::state::{AppState, now_ms};
use crate::urls::public_base;

pub fn routes() -> Router<AppState> {
    ucwa_web::routes().route("/meet/{alias}/{id}", get(join_page))
}

async fn join_page(State(state): State<AppState>, headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ucwa_web::prefers_html(accept) {
        return ApiError::not_found().into_response();
    }
    let url = format!("{}{}", public_base(&state, &headers), uri.path());
    let record = match meeting_of_join_url(&state, &url, now_ms()).await {
        Ok(record) => record,
        Err(e) => return e.into_response(),
    };
    let Some(record) = record else { return ucwa_web::join_page(None) };
    let settings = record.meeting.settings();
    let organizer = match state.store.find_user(&settings.organizer_uri).await {
        Ok(user) => user.map(|u| u.display_name).unwrap_or_default(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let meeting_uri = conference_uri(&settings.organizer_uri, record.meeting.id());
    ucwa_web::join_page(Some(&ucwa_web::JoinPage {
        subject: &settings.subject,
        organizer_name: &organizer,
        organizer_uri: &settings.organizer_uri,
        meeting_id: record.meeting.id(),
        meeting_uri: &meeting_uri,
    }))
}
