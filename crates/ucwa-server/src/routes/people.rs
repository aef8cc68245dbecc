//! Presence and people (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/people_ref>): the
//! user's `presence`, `note`, `location`, `phones` and photo; contacts, their presence, note
//! and location; `myContacts`, `search` and presence subscriptions.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use ucwa_service::ServiceError;
use ucwa_service::render::{application as dashboards, people as render};
use ucwa_service::urls::AppUrls;

use crate::auth::OwnApp;
use crate::error::ApiResult;
use crate::input::Input;
use crate::response::{Json, json_response};

/// `GET me/presence|note|location`.
pub async fn my_part(own: OwnApp, Path((_, part)): Path<(String, String)>) -> ApiResult<Json> {
    Ok(Json(own.services.my_publication(&own.app, &part).await?))
}

/// `POST me/presence|note|location` (204).
pub async fn publish(
    own: OwnApp,
    Path((_, part)): Path<(String, String)>,
    Input(input): Input,
) -> ApiResult<StatusCode> {
    own.services.publish(&own.app, &part, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET me/phones`: no phone numbers are known here (anonymous guests: 403).
pub async fn phones(own: OwnApp) -> ApiResult<Json> {
    if own.app.anonymous {
        return Err(ServiceError::Forbidden {
            subcode: Some("AnonymousNotAllowed"),
            message: "Anonymous users have no phones.".into(),
        }
        .into());
    }
    Ok(Json(render::phones(&AppUrls::of(&own.app)).into_value()))
}

/// `GET photos/{key}`: this server keeps no photos (its `policies` say `photoPolicy`
/// `Disabled`), so every photo is 404 `NotFound`.
pub async fn photo(_own: OwnApp) -> ApiResult<Json> {
    Err(ServiceError::NotFound { subcode: None, message: "No photo is available.".into() }.into())
}

/// `GET people/contacts` (`myContacts`).
pub async fn contacts(own: OwnApp) -> ApiResult<Json> {
    Ok(Json(own.services.my_contacts(&own.app).await?))
}

/// `GET people/search?query=&limit=`.
pub async fn search(own: OwnApp, Input(input): Input) -> ApiResult<Json> {
    Ok(Json(own.services.search(&own.app, &input).await?))
}

/// `GET people/{key}`: a contact by its address (`bob@example.com`). The dashboards linked
/// below `people` (`people/groups`, ...) share the shape of this route; addresses always
/// carry an `@`, dashboard names never.
pub async fn contact(own: OwnApp, Path((_, key)): Path<(String, String)>) -> ApiResult<Json> {
    if let Some(body) = dashboards::dashboard(&own.app, &format!("people/{key}")) {
        return Ok(Json(body));
    }
    Ok(Json(own.services.contact(&own.app, &key).await?))
}

/// `GET people/{key}/presence|note|location` (`contactPresence`, ...).
pub async fn contact_part(own: OwnApp, Path((_, key, part)): Path<(String, String, String)>) -> ApiResult<Json> {
    Ok(Json(own.services.contact_publication(&own.app, &key, &part).await?))
}

/// `GET people/presenceSubscriptions`.
pub async fn subscriptions(own: OwnApp) -> ApiResult<Json> {
    Ok(Json(own.services.presence_subscriptions(&own.app).await?))
}

/// `POST people/presenceSubscriptions` `{duration, uris}`: 201 with the subscription and its
/// `Location`.
pub async fn subscribe(own: OwnApp, Input(input): Input) -> ApiResult<Response> {
    let body = own.services.subscribe(&own.app, &input).await?;
    created_with_body(body)
}

/// `GET people/presenceSubscriptions/{id}`.
pub async fn subscription(own: OwnApp, Path((_, id)): Path<(String, String)>) -> ApiResult<Json> {
    Ok(Json(own.services.presence_subscription(&own.app, &id).await?))
}

/// `POST people/presenceSubscriptions/{id}` `{duration}`: extends it; 201 with it, as the
/// reference page shows.
pub async fn extend(own: OwnApp, Path((_, id)): Path<(String, String)>, Input(input): Input) -> ApiResult<Response> {
    let body = own.services.extend_subscription(&own.app, &id, &input).await?;
    created_with_body(body)
}

/// `DELETE people/presenceSubscriptions/{id}` (204).
pub async fn unsubscribe(own: OwnApp, Path((_, id)): Path<(String, String)>) -> ApiResult<StatusCode> {
    own.services.unsubscribe(&own.app, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST people/presenceSubscriptions/{id}/addToPresenceSubscription` `{uris}` (204).
pub async fn add_to_subscription(
    own: OwnApp,
    Path((_, id)): Path<(String, String)>,
    Input(input): Input,
) -> ApiResult<StatusCode> {
    own.services.add_to_subscription(&own.app, &id, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 201 with `body`, its `self` href as `Location`.
fn created_with_body(body: serde_json::Value) -> ApiResult<Response> {
    let mut resp = json_response(StatusCode::CREATED, body.to_string());
    if let Some(Ok(location)) = body["_links"]["self"]["href"].as_str().map(HeaderValue::from_str) {
        resp.headers_mut().insert(header::LOCATION, location);
    }
    Ok(resp)
}
