//! `POST /ucwa/psanon/v1/applications` (`ucwa-spec.md` §2.4, `raw-http/snippet4.txt`): the
//! application of an anonymous guest who holds a service application's `psat` token. It is
//! an ordinary UCWA application (bare rels) under the `psanon` prefix; its owner is the
//! guest identity the token carries, so a second token with the same
//! `applicationSessionId` finds the same application and rejoins as the same guest.

use axum::http::StatusCode;
use axum::response::Response;
use ucwa_core::credentials::new_id;
use ucwa_core::model::{AppKind, NewApplication};
use ucwa_proto::input::{PropertyBag, Validator};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::response::json_response;
use crate::routes::applications::render_application;
use crate::routes::invitations::display_name;
use crate::state::{AppState, now_ms};

pub async fn create(state: &AppState, caller: &Caller, input: &PropertyBag) -> ApiResult<Response> {
    let mut v = Validator::new();
    let name = display_name(&mut v, input, "anonymousDisplayName");
    if name.is_none() && !input.contains("anonymousDisplayName") {
        v.fail("anonymousDisplayName", "is required");
    }
    let user_agent = v.check(input.required_string("userAgent", 100));
    let culture = v.check(input.required_string("culture", 100));
    let endpoint_id = v.check(input.string("endpointId", 100));
    let instance_id = v.check(input.string("instanceId", 100));
    v.finish()?;
    let new = NewApplication {
        id: new_id(),
        owner_uri: caller.0.uri().to_owned(),
        anonymous: true,
        display_name: name.unwrap_or_default(),
        endpoint_id: endpoint_id.unwrap_or_else(|| "psanon".to_owned()),
        user_agent,
        culture,
        instance_id,
        kind: AppKind::PsAnon,
    };
    let (app, created) = state.store.create_application(&new, state.channel_limits.defaults(), now_ms()).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(json_response(status, render_application(&app).to_string()))
}
