//! `ms:rtc:saas:joinOnlineMeeting` / `ms:rtc:saas:joinAdhocMeeting`
//! (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/newconcepts>):
//! a service application joins a meeting (rules in `ucwa_service::service_apps`); 201 with
//! the invitation's `Location`.

use axum::response::Response;
use ucwa_service::urls::AppUrls;

use crate::auth::OwnServiceApp;
use crate::error::ApiResult;
use crate::input::Input;
use crate::response::created_at;
use crate::urls::PublicBase;

pub async fn join(own: OwnServiceApp, PublicBase(base): PublicBase, Input(input): Input) -> ApiResult<Response> {
    let session = own.services.service_join(&own.caller, &own.app, &base, &input).await?;
    Ok(created_at(&AppUrls::of(&own.app).invitation(&session)))
}
