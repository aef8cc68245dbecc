//! `ms:rtc:saas:joinOnlineMeeting` / `ms:rtc:saas:joinAdhocMeeting`
//! (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/joinonlinemeeting>):
//! a service application joins a meeting (rules in `ucwa_service::service_apps`); 201 with
//! the invitation's `Location`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use ucwa_service::urls::AppUrls;

use crate::auth::OwnServiceApp;
use crate::error::ApiResult;
use crate::input::Input;
use crate::response::created_at;
use crate::state::AppState;
use crate::urls::public_base;

pub async fn join(
    State(state): State<AppState>,
    OwnServiceApp { caller, app }: OwnServiceApp,
    headers: HeaderMap,
    Input(input): Input,
) -> ApiResult<Response> {
    let session = state.services.service_join(&caller, &app, &public_base(&state, &headers), &input).await?;
    Ok(created_at(&AppUrls::of(&app).invitation(&session)))
}
