//! Sign-in and bearer tokens (the web-ticket OAuth endpoint,
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/authenticationinucwa>): the password
//! grant, the anonymous meeting grant, the client-credentials grant of service applications
//! (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/authenticationandauthorization>),
//! token lookup with its cache, the sign-in rate limit and password hashing.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use serde::Deserialize;
use ucwa_core::clock::millis;
use ucwa_core::conference::{conference_uri, parse_conference_uri};
use ucwa_core::credentials::{hash_token, mint_token, new_id};
use ucwa_core::model::{Principal, TokenRecord};

use crate::Services;
use crate::error::{ServiceError, ServiceResult};
use crate::meetings::is_joinable;
use crate::validate::normalize_sip_uri;

/// A token request (form fields; unknown ones are ignored).
#[derive(Debug, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub ms_rtc_conferenceuri: Option<String>,
    pub ms_rtc_renew: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// An issued token: the secret (shown once) and its lifetime.
#[derive(Debug)]
pub struct Grant {
    pub access_token: String,
    pub expires_in: Duration,
}

/// Anonymous meeting tokens are shorter-lived than users' (documented: 1 h).
const ANONYMOUS_TOKEN_TTL: Duration = Duration::from_secs(3600);

const INVALID_REQUEST: ServiceError = ServiceError::OAuth("invalid_request");
const INVALID_GRANT: ServiceError = ServiceError::OAuth("invalid_grant");
const INVALID_CLIENT: ServiceError = ServiceError::OAuth("invalid_client");

impl Services {
    /// `POST /WebTicket/oauthtoken`.
    pub async fn sign_in(&self, request: TokenRequest) -> ServiceResult<Grant> {
        match request.grant_type.as_deref() {
            Some("password") => self.password_grant(request).await,
            Some("urn:microsoft.rtc:anonmeeting") => self.anonymous_grant(request).await,
            Some("client_credentials") => self.client_credentials_grant(request).await,
            Some(_) => Err(ServiceError::OAuth("unsupported_grant_type")),
            None => Err(INVALID_REQUEST),
        }
    }

    /// Refuses with 429 while `name` is over its failed sign-in budget. The failures are
    /// counted in the store, so the budget is one for every node together.
    async fn check_signin_rate(&self, name: &str, now: i64) -> ServiceResult<()> {
        if self.store.signin_failures(name, now).await? < self.limits.signin_attempts_per_minute {
            Ok(())
        } else {
            Err(ServiceError::TooManyRequests)
        }
    }

    /// Counts a failed sign-in of `name` in its one-minute window.
    async fn record_signin_failure(&self, name: &str, now: i64) -> ServiceResult<()> {
        Ok(self.store.record_signin_failure(name, now, SIGNIN_WINDOW_MS).await?)
    }

    async fn password_grant(&self, request: TokenRequest) -> ServiceResult<Grant> {
        let store = &self.store;
        let uri = self
            .check_secret(request.username, request.password, INVALID_GRANT, async |uri| {
                Ok(store.find_user(uri).await?.map(|u| u.password_hash))
            })
            .await?;
        self.grant(Principal::User { uri }, self.limits.token_ttl()).await
    }

    /// `grant_type=client_credentials`: a service application endpoint signs in with its
    /// endpoint URI as `client_id` and the secret given to `service-app add`.
    async fn client_credentials_grant(&self, request: TokenRequest) -> ServiceResult<Grant> {
        let store = &self.store;
        let uri = self
            .check_secret(request.client_id, request.client_secret, INVALID_CLIENT, async |uri| {
                Ok(store.find_service_app(uri).await?.map(|a| a.secret_hash))
            })
            .await?;
        self.grant(Principal::Service { uri }, self.limits.token_ttl()).await
    }

    /// Checks a user name (or client id) and its secret against the hash `stored` finds for
    /// the normalised SIP URI, within the sign-in rate limit; returns the URI, or `refused`.
    async fn check_secret(
        &self,
        name: Option<String>,
        secret: Option<String>,
        refused: ServiceError,
        stored: impl AsyncFnOnce(&str) -> ServiceResult<Option<String>>,
    ) -> ServiceResult<String> {
        let (Some(name), Some(secret)) = (name, secret) else { return Err(INVALID_REQUEST) };
        let Some(uri) = normalize_sip_uri(&name) else { return Err(refused) };
        let now = self.now_ms();
        self.check_signin_rate(&uri, now).await?;
        if !verify_password(stored(&uri).await?, secret).await {
            self.record_signin_failure(&uri, now).await?;
            tracing::info!(name = %uri, "sign-in refused");
            return Err(refused);
        }
        Ok(uri)
    }

    /// `grant_type=urn:microsoft.rtc:anonmeeting`: `password` is the meeting's conference id,
    /// `ms_rtc_conferenceuri` its URI. The token lets an anonymous guest join that one
    /// meeting; `ms_rtc_renew` (a previous token) keeps the same anonymous identity.
    async fn anonymous_grant(&self, request: TokenRequest) -> ServiceResult<Grant> {
        let (Some(conference_id), Some(uri)) = (request.password, request.ms_rtc_conferenceuri) else {
            return Err(INVALID_REQUEST);
        };
        let (organizer, id) = parse_conference_uri(&uri).ok_or(INVALID_GRANT)?;
        let now = self.now_ms();
        self.check_signin_rate(&uri, now).await?;
        let meeting = self.store.meeting(&id).await?;
        let valid = meeting.is_some_and(|m| {
            m.meeting.settings().organizer_uri == organizer
                && conference_id.trim().eq_ignore_ascii_case(m.meeting.id())
                && is_joinable(&m, now)
        });
        if !valid {
            self.record_signin_failure(&uri, now).await?;
            return Err(INVALID_GRANT);
        }
        let meeting_uri = conference_uri(&organizer, &id);
        let previous = match request.ms_rtc_renew.as_deref().map(str::trim) {
            Some(old) if !old.is_empty() => self.store.find_token(&hash_token(old), now).await.ok().flatten(),
            _ => None,
        };
        let guest = match previous.map(|t| t.principal) {
            Some(Principal::Anonymous { uri, meeting_uri: m }) if m == meeting_uri => uri,
            _ => format!("sip:{}@anonymous.invalid", new_id()),
        };
        self.grant(Principal::Anonymous { uri: guest, meeting_uri }, ANONYMOUS_TOKEN_TTL).await
    }

    /// Mints and stores a token for `principal`.
    async fn grant(&self, principal: Principal, ttl: Duration) -> ServiceResult<Grant> {
        let token = mint_token();
        let expires_ms = self.now_ms().saturating_add(millis(ttl));
        self.store.insert_token(&TokenRecord { hash: token.hash, principal, expires_ms }).await?;
        Ok(Grant { access_token: token.secret, expires_in: ttl })
    }

    /// Who a bearer token speaks for, if it is valid now. `origin` is the request's browser
    /// origin: a `psat` guest token is good only from the origins its service application
    /// allowed (403 `OriginNotAllowed` otherwise).
    pub async fn authenticate(&self, token: &str, origin: Option<&str>) -> ServiceResult<Option<Principal>> {
        let hash = hash_token(token);
        let now = self.now_ms();
        // Several nodes: a token removed through another node must stop working here at
        // once, so it is read from the store every time (one indexed read).
        let cache = self.store.sees_every_write();
        let principal = match self.tokens.get(&hash, now).filter(|_| cache) {
            Some(principal) => principal,
            None => match self.store.find_token(&hash, now).await? {
                Some(record) => {
                    if cache {
                        self.tokens.insert(record.clone());
                    }
                    record.principal
                }
                None => return Ok(None),
            },
        };
        check_origin(origin, &principal)?;
        Ok(Some(principal))
    }
}

/// A `psat` guest token is good only from the browser origins the service application
/// allowed: a request from another origin, or without an `Origin`, is refused with 403
/// `OriginNotAllowed`. Tokens minted without `allowedOrigins` are not bound to an origin.
fn check_origin(origin: Option<&str>, principal: &Principal) -> ServiceResult<()> {
    let Principal::PsGuest { origins, .. } = principal else { return Ok(()) };
    if origins.is_empty() {
        return Ok(());
    }
    let origin = origin.map(|o| o.trim_end_matches('/'));
    if origin.is_some_and(|o| origins.iter().any(|allowed| allowed.eq_ignore_ascii_case(o))) {
        return Ok(());
    }
    Err(ServiceError::Forbidden {
        subcode: Some("OriginNotAllowed"),
        message: "This token may not be used from this origin.".into(),
    })
}

/// Tokens this node has already looked up, when this process makes every write to the store
/// (SQLite): a token never changes once issued and is removed only through this process, so
/// a cached record stays true until its `expires_ms` (checked against the injected clock on
/// every read). With several nodes the cache is not used (see `authenticate`).
/// Bounded: past [`TokenCache::CAPACITY`] the cache evicts the entries least likely to be
/// used again (a miss costs one store read).
pub struct TokenCache {
    records: moka::sync::Cache<Vec<u8>, TokenRecord>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self { records: moka::sync::Cache::new(Self::CAPACITY) }
    }
}

impl TokenCache {
    const CAPACITY: u64 = 100_000;

    pub fn get(&self, hash: &[u8], now: i64) -> Option<Principal> {
        self.records.get(hash).filter(|r| r.expires_ms > now).map(|r| r.principal)
    }

    pub fn insert(&self, record: TokenRecord) {
        self.records.insert(record.hash.clone(), record);
    }
}

/// Hashes a password for storage (argon2id, random salt, PHC string). CPU-heavy: call it
/// from `spawn_blocking`.
pub fn hash_password(password: &str) -> ServiceResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
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

/// The window in which `--signin-attempts-per-minute` failures are allowed.
const SIGNIN_WINDOW_MS: i64 = 60_000;
