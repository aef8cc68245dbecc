//! `POST /WebTicket/oauthtoken`: the web-ticket OAuth endpoint
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/authenticationinucwa>). Form-encoded
//! input, unknown fields ignored; refusals are OAuth-style `400 {"error": "..."}` with
//! `Cache-Control: no-store` (mapped in [`crate::error`]). The sign-in limits count
//! failures per client address, which the accept loop records on each request; too many
//! is 429, every hashing slot busy 503, both with `Retry-After`.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use ucwa_service::ServiceError;
use ucwa_service::render::token::grant;
use ucwa_service::tokens::TokenRequest;

use crate::connections::client_address;
use crate::error::ApiResult;
use crate::input::read_body;
use crate::response::no_store;
use crate::state::AppState;

pub async fn issue(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let client_address = client_address(req.extensions()).map(|a| a.ip());
    let body = read_body(req, state.services.limits.max_body_bytes).await?;
    let mut form =
        serde_urlencoded::from_bytes::<TokenRequest>(&body).map_err(|_| ServiceError::OAuth("invalid_request"))?;
    form.client_address = client_address;
    let issued = state.services.sign_in(form).await?;
    Ok(no_store(axum::Json(grant(&issued)).into_response()))
}
