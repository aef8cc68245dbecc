//! `GET .../events?ack=N[&timeout&low&medium&priority]`: the event channel
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/events_ref>). The engine is
//! `ucwa_service::events`; this handler parses the query and answers.

use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::Response;
use ucwa_core::channel::ChannelRequest;
use ucwa_proto::input::{ParamError, Validator};

use crate::auth::OwnApp;
use crate::error::ApiResult;
use crate::response::json_response;

pub async fn get(own: OwnApp, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let pairs: Vec<(String, String)> =
        query.as_deref().map(|q| serde_urlencoded::from_str(q).unwrap_or_default()).unwrap_or_default();
    let mut v = Validator::new();
    let mut number = |name: &'static str| -> Option<u64> {
        let raw = pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())?;
        // Negative and absurdly large values clamp rather than fail; non-numbers fail.
        match raw.parse::<i128>() {
            Ok(n) => Some(u64::try_from(n.max(0)).unwrap_or(u64::MAX)),
            Err(_) => {
                v.check::<()>(Err(ParamError { name, problem: "must be a whole number".into() }));
                None
            }
        }
    };
    let ack = number("ack");
    let req = ChannelRequest {
        timeout_s: number("timeout"),
        low_s: number("low"),
        medium_s: number("medium"),
        priority: number("priority"),
    };
    v.finish()?;
    let batch = own.services.poll(own.app, ack, req).await?;
    Ok(json_response(StatusCode::OK, batch.0))
}
