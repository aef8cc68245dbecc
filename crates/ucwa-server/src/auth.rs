//! Authentication: the 401 challenge, bearer-token lookup, password checks and the
//! sign-in rate limit.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ucwa_core::credentials::hash_token;
use ucwa_core::model::{Principal, TokenRecord};

use crate::error::ApiError;
use crate::state::{AppState, now_ms};
use crate::urls::public_base;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

/// A request without a valid token: the challenge a real server sends, pointing at the
/// token endpoint with the grant types we accept (`ucwa-spec.md` §2.1).
pub struct Challenge {
    token_url: String,
}

impl Challenge {
    pub fn new(state: &AppState, parts: &Parts) -> Self {
        Self { token_url: format!("{}/WebTicket/oauthtoken", public_base(state, &parts.headers)) }
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

/// Rejection of [`Caller`]: the challenge, or a store failure.
pub enum AuthRejection {
    Challenge(Challenge),
    Failed(ApiError),
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            AuthRejection::Challenge(c) => c.into_response(),
            AuthRejection::Failed(e) => e.into_response(),
        }
    }
}

/// The bearer token of a request, if it carries one.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty() && t.len() <= 512)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AuthRejection> {
        let Some(token) = bearer(parts) else {
            return Err(AuthRejection::Challenge(Challenge::new(state, parts)));
        };
        let hash = hash_token(token);
        let now = now_ms();
        let principal = match state.tokens.get(&hash, now) {
            Some(principal) => principal,
            None => match state.store.find_token(&hash, now).await {
                Ok(Some(record)) => {
                    state.tokens.insert(record.clone(), now);
                    record.principal
                }
                Ok(None) => return Err(AuthRejection::Challenge(Challenge::new(state, parts))),
                Err(e) => return Err(AuthRejection::Failed(e.into())),
            },
        };
        check_origin(parts, &principal).map_err(AuthRejection::Failed)?;
        Ok(Caller(principal))
    }
}

/// Tokens this node has already looked up. A token never changes once issued and is only
/// ever removed by expiry, so a cached record stays true until its `expires_ms` (and every
/// node may cache independently). Bounded: when full, expired entries go, and if it is still
/// full, everything goes (a refill costs one store read per live token).
#[derive(Default)]
pub struct TokenCache {
    records: Mutex<HashMap<Vec<u8>, TokenRecord>>,
}

impl TokenCache {
    const CAPACITY: usize = 100_000;

    pub fn get(&self, hash: &[u8], now: i64) -> Option<Principal> {
        let records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        records.get(hash).filter(|r| r.expires_ms > now).map(|r| r.principal.clone())
    }

    pub fn insert(&self, record: TokenRecord, now: i64) {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if records.len() >= Self::CAPACITY {
            records.retain(|_, r| r.expires_ms > now);
            if records.len() >= Self::CAPACITY {
                records.clear();
            }
        }
        records.insert(record.hash.clone(), record);
    }
}

/// A `psat` guest token is good only from the browser origins the service application
/// allowed (`ucwa-spec.md` §2.3): a request from another origin, or without an `Origin`
/// header, is refused with 403 Forbidden / `OriginNotAllowed`. Tokens minted without
/// `allowedOrigins` are not bound to an origin.
fn check_origin(parts: &Parts, principal: &Principal) -> Result<(), ApiError> {
    let Principal::PsGuest { origins, .. } = principal else { return Ok(()) };
    if origins.is_empty() {
        return Ok(());
    }
    let origin = parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(|o| o.trim_end_matches('/'));
    if origin.is_some_and(|o| origins.iter().any(|allowed| allowed.eq_ignore_ascii_case(o))) {
        return Ok(());
    }
    Err(ApiError::Forbidden {
        subcode: Some("OriginNotAllowed"),
        message: "This token may not be used from this origin.".into(),
    })
}

/// Normalises a user name as clients send it (`alice@example.com` or `sip:Alice@Example.com`)
/// into the stored SIP URI.
pub fn normalize_sip_uri(name: &str) -> Option<String> {
    let name = name.trim();
    let bare = if name.len() >= 4 && name[..4].eq_ignore_ascii_case("sip:") { &name[4..] } else { name };
    let (user, domain) = bare.split_once('@')?;
    let valid = |s: &str| {
        !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-+'".contains(c))
    };
    (valid(user) && valid(domain)).then(|| format!("sip:{}", bare.to_ascii_lowercase()))
}

/// Hashes a password for storage (argon2id, random salt, PHC string). CPU-heavy: call it
/// from `spawn_blocking`.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))
}

/// A PHC string of a password nobody has, verified when the user does not exist so that a
/// wrong user name costs as much time as a wrong password.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("not a real password").unwrap_or_default());

/// Checks `password` against a stored hash (or against a dummy one when `stored` is None),
/// off the async runtime because argon2 is deliberately slow.
pub async fn verify_password(stored: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let exists = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let ok = PasswordHash::new(&phc)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        ok && exists
    })
    .await
    .unwrap_or(false)
}

/// Counts failed sign-ins per user name in one-minute windows. In memory and per node:
/// enough to make online password guessing slow; a shared limit would need the store.
#[derive(Default)]
pub struct SigninLimiter {
    failures: Mutex<HashMap<String, (i64, u32)>>,
}

impl SigninLimiter {
    const WINDOW_MS: i64 = 60_000;

    /// Whether another attempt for `name` is allowed now.
    pub fn allows(&self, name: &str, per_minute: u32, now: i64) -> bool {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.get(name).is_none_or(|(start, count)| now - start >= Self::WINDOW_MS || *count < per_minute)
    }

    pub fn record_failure(&self, name: &str, now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now - *start < Self::WINDOW_MS);
        }
        let entry = map.entry(name.to_owned()).or_insert((now, 0));
        if now - entry.0 >= Self::WINDOW_MS {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uris_normalise() {
        assert_eq!(normalize_sip_uri("Alice@Example.com").as_deref(), Some("sip:alice@example.com"));
        assert_eq!(normalize_sip_uri("SIP:alice@example.com").as_deref(), Some("sip:alice@example.com"));
        assert_eq!(normalize_sip_uri("alice"), None);
        assert_eq!(normalize_sip_uri("a@b@c"), None);
        assert_eq!(normalize_sip_uri("sip:@x"), None);
    }

    #[test]
    fn limiter_opens_after_the_window() {
        let l = SigninLimiter::default();
        for _ in 0..3 {
            l.record_failure("a", 0);
        }
        assert!(!l.allows("a", 3, 1000));
        assert!(l.allows("b", 3, 1000));
        assert!(l.allows("a", 3, 61_000));
    }
}
