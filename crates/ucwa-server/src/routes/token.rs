//! `POST /WebTicket/oauthtoken`: the web-ticket OAuth endpoint (`ucwa-spec.md` §2.1).
//! Form-encoded input, unknown fields ignored; errors are OAuth-style
//! `400 {"error": "..."}` with `Cache-Control: no-store`.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use ucwa_core::conference::{conference_uri, parse_conference_uri};
use ucwa_core::credentials::{hash_token, mint_token, new_id};
use ucwa_core::model::{Principal, TokenRecord};

use crate::auth::{normalize_sip_uri, verify_password};
use crate::error::ApiError;
use crate::input::read_body;
use crate::state::{AppState, now_ms};

#[derive(Debug, Default, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    ms_rtc_conferenceuri: Option<String>,
    ms_rtc_renew: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Anonymous meeting tokens are shorter-lived than users' (documented: 1 h).
const ANONYMOUS_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

fn oauth_error(status: StatusCode, error: &str) -> Response {
    no_store((status, axum::Json(json!({ "error": error }))).into_response())
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub async fn issue(State(state): State<AppState>, req: Request) -> Response {
    let body = match read_body(req, state.limits.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let Ok(form) = serde_urlencoded::from_bytes::<TokenForm>(&body) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    match form.grant_type.as_deref() {
        Some("password") => password_grant(&state, form).await,
        Some("urn:microsoft.rtc:anonmeeting") => anonymous_grant(&state, form).await,
        Some("client_credentials") => client_credentials_grant(&state, form).await,
        Some(_) => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        None => oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
    }
}

async fn password_grant(state: &AppState, form: TokenForm) -> Response {
    let (Some(username), Some(password)) = (form.username, form.password) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let Some(uri) = normalize_sip_uri(&username) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let now = now_ms();
    if !state.signin.allows(&uri, state.limits.signin_attempts_per_minute, now) {
        return ApiError::TooManyRequests.into_response();
    }
    let user = match state.store.find_user(&uri).await {
        Ok(u) => u,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !verify_password(user.map(|u| u.password_hash), password).await {
        state.signin.record_failure(&uri, now);
        tracing::info!(user = %uri, "sign-in refused");
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    grant(state, Principal::User { uri }).await
}

/// `grant_type=client_credentials` (`ucwa-spec.md` §2.2): a service application endpoint
/// signs in with its endpoint URI as `client_id` and the secret given to `service-app add`.
async fn client_credentials_grant(state: &AppState, form: TokenForm) -> Response {
    let (Some(client_id), Some(secret)) = (form.client_id, form.client_secret) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let Some(uri) = normalize_sip_uri(&client_id) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client");
    };
    let now = now_ms();
    if !state.signin.allows(&uri, state.limits.signin_attempts_per_minute, now) {
        return ApiError::TooManyRequests.into_response();
    }
    let app = match state.store.find_service_app(&uri).await {
        Ok(a) => a,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !verify_password(app.map(|a| a.secret_hash), secret).await {
        state.signin.record_failure(&uri, now);
        tracing::info!(endpoint = %uri, "service application sign-in refused");
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client");
    }
    grant(state, Principal::Service { uri }).await
}

/// `grant_type=urn:microsoft.rtc:anonmeeting`: `password` is the meeting's conference id,
/// `ms_rtc_conferenceuri` its URI. The token lets an anonymous guest join that one meeting;
/// `ms_rtc_renew` (a previous token) keeps the same anonymous identity.
async fn anonymous_grant(state: &AppState, form: TokenForm) -> Response {
    let (Some(conference_id), Some(uri)) = (form.password, form.ms_rtc_conferenceuri) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let Some((organizer, id)) = parse_conference_uri(&uri) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let now = now_ms();
    if !state.signin.allows(&uri, state.limits.signin_attempts_per_minute, now) {
        return ApiError::TooManyRequests.into_response();
    }
    let meeting = match state.store.meeting(&id).await {
        Ok(m) => m,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let valid = meeting.is_some_and(|m| {
        m.meeting.settings().organizer_uri == organizer
            && conference_id.trim().eq_ignore_ascii_case(m.meeting.id())
            && m.meeting.settings().expiration_ms > now
    });
    if !valid {
        state.signin.record_failure(&uri, now);
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let meeting_uri = conference_uri(&organizer, &id);
    let previous = match form.ms_rtc_renew.as_deref().map(str::trim) {
        Some(old) if !old.is_empty() => state.store.find_token(&hash_token(old), now).await.ok().flatten(),
        _ => None,
    };
    let guest = match previous.map(|t| t.principal) {
        Some(Principal::Anonymous { uri, meeting_uri: m }) if m == meeting_uri => uri,
        _ => format!("sip:{}@anonymous.invalid", new_id()),
    };
    grant_for(state, Principal::Anonymous { uri: guest, meeting_uri }, ANONYMOUS_TOKEN_TTL).await
}

/// Mints a token for `principal` and answers the OAuth success body.
pub async fn grant(state: &AppState, principal: Principal) -> Response {
    grant_for(state, principal, state.limits.token_ttl()).await
}

async fn grant_for(state: &AppState, principal: Principal, ttl: std::time::Duration) -> Response {
    let token = mint_token();
    let record = TokenRecord { hash: token.hash, principal, expires_ms: now_ms() + ttl.as_millis() as i64 };
    if let Err(e) = state.store.insert_token(&record).await {
        return ApiError::from(e).into_response();
    }
    no_store(
        axum::Json(json!({
            "access_token": token.secret,
            "expires_in": ttl.as_secs(),
            "ms_rtc_identityscope": "local",
            "token_type": "Bearer",
        }))
        .into_response(),
    )
}
