//! Who is asking: the 401 challenge, the bearer token ([`Caller`]) and the caller's
//! application named in the path ([`OwnApp`], [`OwnServiceApp`]). Extractors only read the
//! request; the rules (token lookup, ownership, the `psat` origin check, the `endpointId`
//! check) are `ucwa-service` use cases.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ucwa_core::model::{Application, Principal};
use ucwa_service::Services;
use ucwa_service::conversations::SessionRef;
use ucwa_service::tokens::Authenticated;

use crate::error::ApiError;
use crate::state::AppState;
use crate::urls::public_base;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

/// A request without a valid token: the challenge a real server sends, pointing at the
/// token endpoint with the grant types we accept
/// (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/authenticationinucwa>).
pub struct Challenge {
    token_url: String,
}

impl Challenge {
    pub fn new(state: &AppState, parts: &Parts) -> Self {
        Self { token_url: format!("{}{}", public_base(state, &parts.headers), ucwa_proto::paths::TOKEN) }
    }
}

impl IntoResponse for Challenge {
    fn into_response(self) -> Response {
        let mut resp =
            (StatusCode::UNAUTHORIZED, "<html><body><h2>401 - Unauthorized</h2></body></html>").into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        headers.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer trusted_issuers="", client_id="00000004-0000-0ff1-ce00-000000000000""#),
        );
        let ms = format!(
            r#"MsRtcOAuth href="{}",grant_type="urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password""#,
            self.token_url
        );
        if let Ok(v) = HeaderValue::from_str(&ms) {
            headers.append(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// The bearer token of a request, if it carries one.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty() && t.len() <= 512)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let challenge = || Challenge::new(state, parts).into_response();
        let token = bearer(parts).ok_or_else(challenge)?;
        match state.services.authenticate(token, origin(parts)).await {
            Ok(Some(principal)) => Ok(Caller(principal)),
            Ok(None) => Err(challenge()),
            Err(e) => Err(ApiError::from(e).into_response()),
        }
    }
}

/// The browser origin of a request, if it names one.
fn origin(parts: &Parts) -> Option<&str> {
    parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// The first of the path's segments called one of `names` (404 if none is).
async fn path_param(parts: &mut Parts, state: &AppState, names: &[&str]) -> Result<String, Response> {
    let params = RawPathParams::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
    let value = params.iter().find(|(name, _)| names.contains(name)).map(|(_, value)| value.to_owned());
    value.ok_or_else(|| ApiError::not_found().into_response())
}

/// The `endpointId` of the query string, if any.
pub fn endpoint_param(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k.eq_ignore_ascii_case("endpointId")).map(|(_, v)| v)
}

/// The caller and its application named by the path's `{app}` (404 for anyone else's,
/// 410 once expired), with the use cases to call on it.
pub struct OwnApp {
    pub services: Services,
    pub caller: Principal,
    pub app: Application,
}

impl OwnApp {
    /// Authenticates the caller and loads the application: as a UCWA application, or (for
    /// the Trusted Application API's own resources) as a service application whose endpoint
    /// is the query's `endpointId`, when it names one. With `session`, the names of the
    /// path's session segment, where that session lives is read along (see [`OwnSession`]).
    async fn extract(
        parts: &mut Parts,
        state: &AppState,
        service: bool,
        session: &[&str],
    ) -> Result<(Self, Option<SessionRef>), Response> {
        let Some(token) = bearer(parts).map(str::to_owned) else {
            return Err(Challenge::new(state, parts).into_response());
        };
        let app_id = path_param(parts, state, &["app"]).await?;
        let session_id = if session.is_empty() { None } else { Some(path_param(parts, state, session).await?) };
        let services = &state.services;
        let found = services.authenticate_with_application(&token, origin(parts), &app_id, session_id.as_deref()).await;
        let Authenticated { caller, app, session } = match found {
            Ok(Some(found)) => found,
            Ok(None) => return Err(Challenge::new(state, parts).into_response()),
            Err(e) => return Err(ApiError::from(e).into_response()),
        };
        let app = if service {
            Services::owned_service(&caller, app, endpoint_param(parts.uri.query()).as_deref())
        } else {
            Services::owned(&caller, app)
        };
        match app {
            Ok(app) => Ok((OwnApp { services: services.clone(), caller, app }, session)),
            Err(e) => Err(ApiError::from(e).into_response()),
        }
    }
}

impl FromRequestParts<AppState> for OwnApp {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        Ok(OwnApp::extract(parts, state, false, &[]).await?.0)
    }
}

/// An [`OwnApp`] and the conversation or invitation the path names under it (`{conv}` or
/// `{inv}`; the use case checks it belongs to the application). On a store several nodes
/// share, where the session lives is read with the token, in the same round trip.
pub struct OwnSession {
    pub own: OwnApp,
    pub session: SessionRef,
}

impl FromRequestParts<AppState> for OwnSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let (own, session) = OwnApp::extract(parts, state, false, &["conv", "inv"]).await?;
        let session = session.ok_or_else(|| ApiError::not_found().into_response())?;
        Ok(OwnSession { own, session })
    }
}

/// An [`OwnApp`] and the participant invitation the path names under it (`{pinv}`; the use
/// case checks it belongs to the application).
pub struct OwnParticipantInvitation {
    pub own: OwnApp,
    pub id: String,
}

impl FromRequestParts<AppState> for OwnParticipantInvitation {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let own = OwnApp::from_request_parts(parts, state).await?;
        let id = path_param(parts, state, &["pinv"]).await?;
        Ok(OwnParticipantInvitation { own, id })
    }
}

/// A service application caller and its application named by the path's `{app}`; an
/// `endpointId` in the query must be its endpoint (403 `ApplicationNotFound`).
pub struct OwnServiceApp(pub OwnApp);

impl std::ops::Deref for OwnServiceApp {
    type Target = OwnApp;

    fn deref(&self) -> &OwnApp {
        &self.0
    }
}

impl FromRequestParts<AppState> for OwnServiceApp {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        Ok(OwnServiceApp(OwnApp::extract(parts, state, true, &[]).await?.0))
    }
}
