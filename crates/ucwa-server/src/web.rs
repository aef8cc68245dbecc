//! The browser side: the `ucwa-web` pages, and a browser opening a meeting's `joinUrl`
//! (`<base>/meet/<organizer alias>/<id>`). A client that prefers HTML gets the meeting's join
//! page, with the subject, the organizer and the meeting's id and URI (what a guest needs for
//! the anonymous meeting grant); anyone else keeps the JSON 404 the URL always answered.

use axum::Router;
use axum::extract::State;
use axum::http::header::ACCEPT;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;
use crate::urls::public_base;

pub fn routes() -> Router<AppState> {
    ucwa_web::routes().route("/meet/{alias}/{id}", get(join_page))
}

async fn join_page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ucwa_web::prefers_html(accept) {
        return ApiError::not_found().into_response();
    }
    let url = format!("{}{}", public_base(&state, &headers), uri.path());
    match state.services.join_page(&url).await {
        Ok(None) => ucwa_web::join_page(None),
        Ok(Some(m)) => ucwa_web::join_page(Some(&ucwa_web::JoinPage {
            subject: &m.subject,
            organizer_name: &m.organizer_name,
            organizer_uri: &m.organizer_uri,
            meeting_id: &m.meeting_id,
            meeting_uri: &m.meeting_uri,
        })),
        Err(e) => ApiError::from(e).into_response(),
    }
}
