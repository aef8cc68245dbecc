//! Sign-in and bearer tokens (the web-ticket OAuth endpoint,
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/authenticationinucwa>): the password
//! grant, the anonymous meeting grant, the client-credentials grant of service applications
//! (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/authenticationandauthorization>),
//! token lookup with its cache, the sign-in limits and password hashing.
//!
//! # Abuse (docs/SECURITY.md, findings 1, 9 and 12)
//! - **Hashing is capped.** An argon2 check takes about 19 MiB and tens of milliseconds of
//!   a core, so at most `--hash-concurrency` run at once (default: the number of cores);
//!   a sign-in waits up to `--hash-queue-wait-ms` for a turn, then gets 503 with
//!   `Retry-After`. An unknown user name is checked against a fixed dummy hash with the same
//!   parameters under the same cap, so it costs the same time and no extra memory, and the
//!   two cannot be told apart by their answers under load either.
//! - **Failures are counted per client address** (all names; IPv6 by /64) and per user name
//!   *and* client address, each in one-minute windows on the injected clock; 429 with
//!   `Retry-After` past either budget. A client that has not failed is never refused because
//!   others failed for the same name: guessing from many addresses is bounded by the hashing
//!   cap instead. The windows are kept in the store (`Store::signin_failures`), so the
//!   budgets hold for all nodes together, and closed ones are purged with expired tokens.
//! - **Anonymous meeting grants** count their failures under the normalised meeting (its
//!   organizer and lower-cased id, however the URI was spelled) and the client address.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::Deserialize;
use ucwa_core::clock::millis;
use ucwa_core::conference::{conference_uri, parse_conference_uri};
use ucwa_core::credentials::{hash_token, mint_token, new_id, random_bytes};
use ucwa_core::model::{Application, Principal, TokenRecord};

use crate::Services;
use crate::conversations::SessionRef;
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
    /// The client's network address (not a form field: the server fills it in).
    #[serde(skip)]
    pub client_address: Option<IpAddr>,
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

    /// Refuses with 429 while the client address, or `name` from that address, is over its
    /// failed sign-in budget. The failures are counted in the store, so each budget is one
    /// for every node together.
    async fn check_signin_rate(&self, name: &str, client: Option<IpAddr>, now: i64) -> ServiceResult<()> {
        let budgets = [self.limits.signin_address_attempts_per_minute, self.limits.signin_attempts_per_minute];
        let mut wait_ms = None;
        for (key, budget) in signin_keys(name, client).iter().zip(budgets) {
            if let Some(window) = self.store.signin_failures(key, now).await?
                && window.failures >= budget
            {
                wait_ms = wait_ms.max(Some(window.until_ms - now));
            }
        }
        match wait_ms {
            None => Ok(()),
            // Whole seconds, rounded up: `Retry-After` must not invite a retry that fails again.
            Some(ms) => {
                self.metrics.rate_limited("signin");
                let secs = u64::try_from(ms).unwrap_or(0).div_ceil(1000);
                Err(ServiceError::TooManyRequests { retry_after_secs: secs.max(1) })
            }
        }
    }

    async fn password_grant(&self, request: TokenRequest) -> ServiceResult<Grant> {
        let store = &self.store;
        let client = request.client_address;
        let uri = self
            .check_secret(request.username, request.password, client, INVALID_GRANT, async |uri| {
                Ok(store.find_user(uri).await?.map(|u| u.password_hash))
            })
            .await?;
        self.grant(Principal::User { uri }, self.limits.token_ttl()).await
    }

    /// `grant_type=client_credentials`: a service application endpoint signs in with its
    /// endpoint URI as `client_id` and the secret given to `service-app add`.
    async fn client_credentials_grant(&self, request: TokenRequest) -> ServiceResult<Grant> {
        let store = &self.store;
        let client = request.client_address;
        let uri = self
            .check_secret(request.client_id, request.client_secret, client, INVALID_CLIENT, async |uri| {
                Ok(store.find_service_app(uri).await?.map(|a| a.secret_hash))
            })
            .await?;
        self.grant(Principal::Service { uri }, self.limits.token_ttl()).await
    }

    /// Checks a user name (or client id) and its secret against the hash `stored` finds for
    /// the normalised SIP URI, within the sign-in limits and the hashing cap; returns the
    /// URI, or `refused`.
    async fn check_secret(
        &self,
        name: Option<String>,
        secret: Option<String>,
        client: Option<IpAddr>,
        refused: ServiceError,
        stored: impl AsyncFnOnce(&str) -> ServiceResult<Option<String>>,
    ) -> ServiceResult<String> {
        let (Some(name), Some(secret)) = (name, secret) else { return Err(INVALID_REQUEST) };
        let Some(uri) = normalize_sip_uri(&name) else { return Err(refused) };
        let now = self.now_ms();
        self.check_signin_rate(&uri, client, now).await?;
        let wait = Duration::from_millis(self.limits.hash_queue_wait_ms);
        let checked = self.hashing.verify(stored(&uri).await?, secret, wait).await;
        if let Err(ServiceError::Unavailable { .. }) = &checked {
            self.metrics.rate_limited("hashing");
        }
        if !checked? {
            self.record_signin_failure(&uri, client, now).await?;
            let grant = if matches!(refused, ServiceError::OAuth("invalid_client")) {
                "client_credentials"
            } else {
                "password"
            };
            self.metrics.signin_failed(grant);
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
        // However the URI is spelled, one meeting is one budget.
        let meeting_key = format!("meeting:{organizer}/{}", id.to_ascii_lowercase());
        let client = request.client_address;
        self.check_signin_rate(&meeting_key, client, now).await?;
        let meeting = self.store.meeting(&id).await?;
        let valid = meeting.is_some_and(|m| {
            m.meeting.settings().organizer_uri == organizer
                && conference_id.trim().eq_ignore_ascii_case(m.meeting.id())
                && is_joinable(&m, now)
        });
        if !valid {
            self.record_signin_failure(&meeting_key, client, now).await?;
            self.metrics.signin_failed("anonmeeting");
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
                        self.tokens.insert(record.clone(), now);
                    }
                    record.principal
                }
                None => {
                    self.tokens.remove(&hash);
                    return Ok(None);
                }
            },
        };
        check_origin(origin, &principal)?;
        Ok(Some(principal))
    }

    /// [`Services::authenticate`] and the application `app_id` as stored, whoever owns it
    /// (the caller checks that with [`Services::owned`]), and the session `session_id` names
    /// under it, when it names one: how every request on an application's resources starts.
    /// With several nodes all of it is read in one round trip (the session's location too,
    /// which the use case would otherwise look up first); with one, tokens come from the
    /// cache and the session is looked up by the use case.
    pub async fn authenticate_with_application(
        &self,
        token: &str,
        origin: Option<&str>,
        app_id: &str,
        session_id: Option<&str>,
    ) -> ServiceResult<Option<Authenticated>> {
        if self.store.sees_every_write() {
            let Some(caller) = self.authenticate(token, origin).await? else { return Ok(None) };
            let app = self.store.application(app_id).await?;
            return Ok(Some(Authenticated { caller, app, session: session_id.map(SessionRef::unread) }));
        }
        let scope = self.store.find_request_scope(&hash_token(token), self.now_ms(), app_id, session_id).await?;
        let Some(scope) = scope else { return Ok(None) };
        check_origin(origin, &scope.token.principal)?;
        let session = session_id.map(|id| SessionRef::read(id, scope.session));
        Ok(Some(Authenticated { caller: scope.token.principal, app: scope.application, session }))
    }
}

/// Who is asking about which application ([`Services::authenticate_with_application`]).
pub struct Authenticated {
    pub caller: Principal,
    /// The application the request's path names, whoever owns it.
    pub app: Option<Application>,
    /// The session the request's path names under it, when it names one.
    pub session: Option<SessionRef>,
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

/// Tokens this node has already looked up, used when this process makes every write the
/// server makes to the store (SQLite; with several nodes every lookup reads the store, see
/// `authenticate`). A token never changes once issued; it is removed by expiry (checked
/// against the injected clock on every read) or by revocation (a password change, `user
/// revoke`), which may happen in another process (the command line). So a cached record is
/// trusted for [`TokenCache::FRESH_MS`] of clock time after it was read from the store, then
/// read again: a revoked token stops working within that time, at the cost of one store read
/// per token and period.
/// Bounded: past `TokenCache::CAPACITY` the cache evicts the entries least likely to be
/// used again (a miss costs one store read).
pub struct TokenCache {
    records: moka::sync::Cache<Vec<u8>, (TokenRecord, i64)>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self { records: moka::sync::Cache::new(Self::CAPACITY) }
    }
}

impl TokenCache {
    const CAPACITY: u64 = 100_000;
    /// How long a cached token is trusted without asking the store again, milliseconds.
    pub const FRESH_MS: i64 = 5_000;

    pub fn get(&self, hash: &[u8], now: i64) -> Option<Principal> {
        self.records
            .get(hash)
            .filter(|(r, read_at)| r.expires_ms > now && now - read_at < Self::FRESH_MS)
            .map(|(r, _)| r.principal)
    }

    /// Caches `record`, read from the store at `now`.
    pub fn insert(&self, record: TokenRecord, now: i64) {
        self.records.insert(record.hash.clone(), (record, now));
    }

    /// Forgets a token (one the store no longer has).
    pub fn remove(&self, hash: &[u8]) {
        self.records.invalidate(hash);
    }
}

/// Hashes a password for storage (argon2id, random salt, PHC string). CPU-heavy: call it
/// from `spawn_blocking`.
pub fn hash_password(password: &str) -> ServiceResult<String> {
    // 16 bytes, the salt length the PHC format recommends, from the same source as tokens.
    let salt = SaltString::encode_b64(&random_bytes::<16>())
        .map_err(|e| ServiceError::Internal(format!("password salt encoding failed: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
}

/// The PHC string of a password nobody has, with `Argon2::default()`'s parameters (a unit
/// test checks they match), verified when the user does not exist so that a wrong user name
/// costs as much as a wrong password. Fixed, so that nothing is hashed at startup.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$VniCk2Cj7ulvODP2TnaiCQ$wXGIIHWhJasLUgAvDm9W4wmuvVVTb0XFQ8hSF9e/g7k";

/// Largest argon2 memory a stored hash may ask for, KiB (the default is 19 MiB).
const MAX_M_COST_KIB: u32 = 256 * 1024;

/// Checks `password` against the PHC string `phc` (CPU- and memory-heavy), in `memory`:
/// argon2's working memory, kept between checks and grown when a hash needs more. Reusing it
/// matters: each check allocating its own 19 MiB left the freed memory in the allocator's
/// per-thread arenas, and 34 checks two at a time still took the server to 625 MB.
fn verify_in(phc: &str, password: &[u8], memory: &mut Vec<Block>) -> bool {
    let mut check = || -> Option<bool> {
        let hash = PasswordHash::new(phc).ok()?;
        let params = Params::try_from(&hash).ok()?;
        if params.m_cost() > MAX_M_COST_KIB {
            return None;
        }
        let algorithm = Algorithm::try_from(hash.algorithm).ok()?;
        let version = match hash.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let expected = hash.hash?;
        let mut salt = [0u8; 64];
        let salt = hash.salt?.decode_b64(&mut salt).ok()?;
        if memory.len() < params.block_count() {
            memory.resize(params.block_count(), Block::default());
        }
        let mut out = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params);
        argon2.hash_password_into_with_memory(password, salt, &mut out, &mut memory[..]).ok()?;
        // `Output` compares in constant time.
        Some(Output::new(&out).ok()? == expected)
    };
    check().unwrap_or(false)
}

/// The cap on concurrent argon2 checks: a semaphore of `--hash-concurrency` permits, one
/// per check (the dummy check of an unknown user too), waited for at most
/// `--hash-queue-wait-ms` of real time (a wait for a core, not a protocol deadline). The
/// checks run on the blocking pool, each in a working memory taken from a pool that holds
/// at most one per permit, so argon2 never holds more than `--hash-concurrency` times 19 MiB.
pub struct Hashing {
    permits: tokio::sync::Semaphore,
    /// Working memories of finished checks, for the next ones (a `std` mutex held only to
    /// push or pop).
    memories: Mutex<Vec<Vec<Block>>>,
    capacity: usize,
    running: AtomicUsize,
    peak: AtomicUsize,
}

/// Releases a hashing slot's bookkeeping when dropped (also if the task is cancelled).
struct Running<'a>(&'a Hashing);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hashing {
    /// `concurrency` checks at once; 0 means one per core.
    pub fn new(concurrency: usize) -> Self {
        let capacity = if concurrency > 0 {
            concurrency
        } else {
            std::thread::available_parallelism().map(usize::from).unwrap_or(2)
        };
        Self {
            permits: tokio::sync::Semaphore::new(capacity),
            memories: Mutex::new(Vec::new()),
            capacity,
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// How many checks may run at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The most checks that ever ran at once (tests assert it never exceeds the capacity).
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Checks `password` against `stored` (against the dummy hash when `None`); 503 with
    /// `Retry-After` when no slot frees up within `wait`.
    pub async fn verify(&self, stored: Option<String>, password: String, wait: Duration) -> ServiceResult<bool> {
        let busy = ServiceError::Unavailable { retry_after_secs: 1 };
        let permit = match tokio::time::timeout(wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => return Err(busy),
        };
        let now_running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        let _running = Running(self);
        self.peak.fetch_max(now_running, Ordering::SeqCst);
        let mut memory = self.memories.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default();
        let checked = tokio::task::spawn_blocking(move || {
            let exists = stored.is_some();
            let ok = verify_in(stored.as_deref().unwrap_or(DUMMY_HASH), password.as_bytes(), &mut memory);
            (ok && exists, memory)
        })
        .await;
        // A panicked check is a refusal (and its memory is dropped).
        let ok = match checked {
            Ok((ok, memory)) => {
                self.memories.lock().unwrap_or_else(|p| p.into_inner()).push(memory);
                ok
            }
            Err(_) => false,
        };
        drop(permit);
        Ok(ok)
    }
}

/// The window in which the sign-in budgets are counted.
const SIGNIN_WINDOW_MS: i64 = 60_000;

/// The store keys a failed sign-in of `name` from `client` is counted under: every failure
/// from the client address, and failures for that name from that address.
fn signin_keys(name: &str, client: Option<IpAddr>) -> [String; 2] {
    let address = address_key(client);
    [format!("address {address}"), format!("name {address} {name}")]
}

/// The address failures are counted under: IPv4 as it is (IPv4-mapped IPv6 too), IPv6 by
/// its /64 (one host usually owns a whole /64, so counting single addresses would let it
/// count afresh with each). No address (a caller outside HTTP) counts as one.
fn address_key(client: Option<IpAddr>) -> IpAddr {
    match client {
        None => IpAddr::from([0, 0, 0, 0]),
        Some(IpAddr::V4(v4)) => IpAddr::V4(v4),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl Services {
    /// Counts a failed sign-in of `name` from `client` under both of its keys.
    async fn record_signin_failure(&self, name: &str, client: Option<IpAddr>, now: i64) -> ServiceResult<()> {
        for key in signin_keys(name, client) {
            self.store.record_signin_failure(&key, now, SIGNIN_WINDOW_MS).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_counted_per_address_and_addresses_apart_from_names() {
        let (a, b) = (Some(IpAddr::from([10, 0, 0, 1])), Some(IpAddr::from([10, 0, 0, 2])));
        let [address_a, alice_a] = signin_keys("sip:alice@x", a);
        assert_eq!(address_a, signin_keys("sip:bob@x", a)[0], "one address budget for every name");
        assert_ne!(alice_a, signin_keys("sip:alice@x", b)[1], "a name counts apart per address");
        assert_ne!(alice_a, signin_keys("sip:bob@x", a)[1]);
        // A name cannot pose as an address key.
        assert_ne!(signin_keys("10.0.0.1", a)[1], address_a);
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_ipv4_as_ipv4() {
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(address_key(Some(one)), address_key(Some(other)));
        assert_ne!(address_key(Some(one)), address_key(Some("2001:db8:1:3::1".parse().unwrap())));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(address_key(Some(mapped)), IpAddr::from([10, 0, 0, 1]));
    }

    #[test]
    fn the_dummy_hash_has_the_default_parameters() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let params = argon2::Params::try_from(&dummy).unwrap();
        let default = argon2::Params::default();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (default.m_cost(), default.t_cost(), default.p_cost())
        );
        assert_eq!(dummy.algorithm, argon2::Algorithm::default().ident());
        let mut memory = Vec::new();
        assert!(verify_in(DUMMY_HASH, b"not a real password", &mut memory));
        assert!(!verify_in(DUMMY_HASH, b"guess", &mut memory));
        // A hash made the usual way verifies in the reused memory too.
        let stored = hash_password("s3cret").unwrap();
        assert!(verify_in(&stored, b"s3cret", &mut memory));
        assert!(!verify_in(&stored, b"s3cres", &mut memory));
        assert!(!verify_in("not a PHC string", b"s3cret", &mut memory));
    }
}
