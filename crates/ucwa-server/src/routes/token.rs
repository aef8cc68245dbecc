//! `POST /WebTicket/oauthtoken`: the web-ticket OAuth endpoint
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/authenticationinucwa>). Form-encoded
//! input, unknown fields ignored; refusals are OAuth-style `400 {"error": "..."}` with
//! `Cache-Control: no-store` (mapped in [`crate::error`]).

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use ucwa_service::ServiceError;
use ucwa_service::render::token::grant;
use ucwa_service::tokens::TokenRequest;

use crate::error::ApiResult;
use crate::input::read_body;
use crate::response::no_store;
use crate::state::AppState;

pub async fn issue(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let body = read_body(req, state.services.limits.max_body_bytes).await?;
    let form =
        serde_urlencoded::from_bytes::<TokenRequest>(&body).map_err(|_| ServiceError::OAuth("invalid_request"))?;
    let issued = state.services.sign_in(form).await?;
    Ok(no_store(axum::Json(grant(&issued)).into_response()))
}
