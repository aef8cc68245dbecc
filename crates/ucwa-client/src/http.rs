//! The HTTP layer every handle shares: hrefs resolved against the server, the bearer token
//! (renewed before it expires and once more after a `401`), the `Origin` of `psat` guests, and
//! error answers turned into [`Error`] with the server's UCWA error body.
//!
//! # Concurrency
//! The token lives behind a `tokio::sync::Mutex` that is held across a renewal (an HTTP
//! round trip), so concurrent requests that find the token stale renew it once and then all
//! use the new one; a request that got `401` with an older token than the current one retries
//! with the current one instead of renewing again (the `generation` check).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, IF_MATCH, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use tokio::time::Instant;
use ucwa_proto::error::ErrorBody;
use ucwa_proto::model::{Hal, OAuthError, TokenResponse};
use ucwa_proto::request::TokenGrant;

use crate::error::{Error, Result};

/// Requests other than the event channel's long poll give up after this long.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A request body.
pub(crate) enum Body {
    Empty,
    Json(Vec<u8>),
    Text { content_type: &'static str, text: String },
}

impl Body {
    pub(crate) fn json(value: &impl Serialize) -> Result<Self> {
        serde_json::to_vec(value).map(Body::Json).map_err(|e| Error::Invalid(format!("request body: {e}")))
    }
}

/// How a token is renewed.
enum Renewal {
    /// Ask the token endpoint again with the same grant (an anonymous grant asks with
    /// `ms_rtc_renew`, keeping the guest's identity).
    Grant { token_url: Url, grant: TokenGrant },
    /// A token obtained elsewhere (a stored one): when it expires, sign in again.
    Never,
}

struct TokenState {
    token: String,
    /// When to renew: a margin before the server's expiry.
    renew_at: Option<Instant>,
    generation: u64,
}

struct Auth {
    renewal: Renewal,
    state: Mutex<TokenState>,
}

struct Inner {
    client: reqwest::Client,
    base: Url,
    auth: Option<Auth>,
    origin: Option<HeaderValue>,
}

/// A handle on the server for one signed-in identity (or none). Cheap to clone.
#[derive(Clone)]
pub(crate) struct Http {
    inner: Arc<Inner>,
}

/// When to renew a token the server gave for `expires_in` seconds: a tenth of its life (at most
/// a minute) before it ends, so a renewal never races the expiry.
fn renew_at(expires_in: u64) -> Option<Instant> {
    if expires_in == 0 {
        return None;
    }
    let life = Duration::from_secs(expires_in);
    let margin = (life / 10).min(Duration::from_secs(60));
    Some(Instant::now() + life - margin)
}

/// Asks the token endpoint; `Ok` is the token answer.
pub(crate) async fn request_token(
    client: &reqwest::Client,
    token_url: &Url,
    grant: &TokenGrant,
) -> Result<TokenResponse> {
    let resp = client
        .post(token_url.clone())
        .header(ACCEPT, "application/json")
        .form(&grant.form())
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|source| Error::Transport { url: token_url.to_string(), source })?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|source| Error::Transport { url: token_url.to_string(), source })?;
    if status != StatusCode::OK {
        let error = serde_json::from_slice::<OAuthError>(&bytes).map_or_else(|_| status.to_string(), |e| e.error);
        return Err(Error::SignIn { status: status.as_u16(), error });
    }
    serde_json::from_slice(&bytes).map_err(|e| Error::Protocol { url: token_url.to_string(), problem: e.to_string() })
}

/// The token URL of the `MsRtcOAuth` challenge in a `401`'s `WWW-Authenticate` headers
/// ([Authentication in UCWA](https://learn.microsoft.com/en-us/skype-sdk/ucwa/authenticationinucwa)).
pub(crate) fn token_url_of_challenge(headers: &HeaderMap, base: &Url) -> Option<Url> {
    headers.get_all(WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok()).find_map(|value| {
        let rest = value.trim().strip_prefix("MsRtcOAuth")?;
        let start = rest.find("href=\"")? + "href=\"".len();
        let end = rest[start..].find('"')? + start;
        base.join(&rest[start..end]).ok()
    })
}

impl std::fmt::Debug for Http {
    // The token stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").field("base", &self.inner.base.as_str()).finish_non_exhaustive()
    }
}

impl Http {
    /// Unauthenticated requests to `base`.
    pub(crate) fn anonymous(client: reqwest::Client, base: Url) -> Self {
        Self { inner: Arc::new(Inner { client, base, auth: None, origin: None }) }
    }

    /// Requests with a token obtained with `grant` at `token_url`, renewed the same way.
    pub(crate) fn with_grant(
        client: reqwest::Client,
        base: Url,
        token_url: Url,
        grant: TokenGrant,
        token: TokenResponse,
    ) -> Self {
        Self::build(client, base, Renewal::Grant { token_url, grant }, token.access_token, renew_at(token.expires_in))
    }

    /// Requests with a token obtained elsewhere, never renewed; `origin` is sent as `Origin`
    /// on every request (`psat` guests are bound to the origins their token allows).
    pub(crate) fn with_token(
        client: reqwest::Client,
        base: Url,
        token: String,
        expires_in: Option<u64>,
        origin: Option<&str>,
    ) -> Result<Self> {
        let origin = origin
            .map(|o| HeaderValue::from_str(o).map_err(|_| Error::Invalid(format!("`{o}` is not an origin"))))
            .transpose()?;
        let mut http = Self::build(client, base, Renewal::Never, token, expires_in.and_then(renew_at));
        if let Some(inner) = Arc::get_mut(&mut http.inner) {
            inner.origin = origin;
        }
        Ok(http)
    }

    fn build(client: reqwest::Client, base: Url, renewal: Renewal, token: String, renew_at: Option<Instant>) -> Self {
        let state = Mutex::new(TokenState { token, renew_at, generation: 0 });
        Self { inner: Arc::new(Inner { client, base, auth: Some(Auth { renewal, state }), origin: None }) }
    }

    /// The current access token (renewed first if it is about to expire).
    pub(crate) async fn access_token(&self) -> Result<Option<String>> {
        match &self.inner.auth {
            None => Ok(None),
            Some(auth) => self.fresh_token(auth, None).await.map(|(token, _)| Some(token)),
        }
    }

    /// An href as an absolute URL. Hrefs are relative to the server except where the
    /// protocol makes them absolute (docs/protocol.md, Wire format).
    pub(crate) fn resolve(&self, href: &str) -> Result<Url> {
        self.inner.base.join(href).map_err(|e| Error::Invalid(format!("`{href}` is not an href: {e}")))
    }

    /// The token to use, renewing it when it is due or when `stale` (the generation a `401`
    /// answered) is still the current one.
    async fn fresh_token(&self, auth: &Auth, stale: Option<u64>) -> Result<(String, u64)> {
        let mut state = auth.state.lock().await;
        let due = state.renew_at.is_some_and(|at| Instant::now() >= at);
        if due || stale == Some(state.generation) {
            let Renewal::Grant { token_url, grant } = &auth.renewal else { return Err(Error::TokenExpired) };
            let grant = match grant {
                // Renewing keeps the same guest (docs/protocol.md, oauthtoken).
                TokenGrant::AnonymousMeeting { conference_id, meeting_uri, .. } => TokenGrant::AnonymousMeeting {
                    conference_id: conference_id.clone(),
                    meeting_uri: meeting_uri.clone(),
                    renew: Some(state.token.clone()),
                },
                other => other.clone(),
            };
            let token = request_token(&self.inner.client, token_url, &grant).await?;
            state.token = token.access_token;
            state.renew_at = renew_at(token.expires_in);
            state.generation += 1;
        }
        Ok((state.token.clone(), state.generation))
    }

    /// Sends a request and answers the response whatever its status, after renewing the
    /// token once on a `401`.
    pub(crate) async fn send_raw(
        &self,
        method: Method,
        href: &str,
        body: &Body,
        if_match: Option<&str>,
        timeout: Duration,
    ) -> Result<reqwest::Response> {
        let url = self.resolve(href)?;
        let mut stale = None;
        loop {
            let mut req = self.inner.client.request(method.clone(), url.clone()).timeout(timeout);
            req = req.header(ACCEPT, "application/json");
            let mut generation = None;
            if let Some(auth) = &self.inner.auth {
                let (token, current) = self.fresh_token(auth, stale).await?;
                req = req.bearer_auth(token);
                generation = Some(current);
            }
            if let Some(origin) = &self.inner.origin {
                req = req.header("Origin", origin.clone());
            }
            if let Some(etag) = if_match {
                req = req.header(IF_MATCH, etag);
            }
            req = match body {
                Body::Empty => req.header(reqwest::header::CONTENT_LENGTH, "0"),
                Body::Json(bytes) => req.header(CONTENT_TYPE, "application/json").body(bytes.clone()),
                Body::Text { content_type, text } => req.header(CONTENT_TYPE, *content_type).body(text.clone()),
            };
            let resp = req.send().await.map_err(|source| Error::Transport { url: url.to_string(), source })?;
            if resp.status() == StatusCode::UNAUTHORIZED && stale.is_none() && generation.is_some() {
                stale = generation;
                continue;
            }
            if resp.status() == StatusCode::UNAUTHORIZED && generation.is_some() {
                return Err(Error::TokenExpired);
            }
            return Ok(resp);
        }
    }

    /// Sends a request that must succeed (2xx).
    pub(crate) async fn send(
        &self,
        method: Method,
        href: &str,
        body: &Body,
        if_match: Option<&str>,
    ) -> Result<reqwest::Response> {
        let resp = self.send_raw(method.clone(), href, body, if_match, REQUEST_TIMEOUT).await?;
        check(method, resp).await
    }

    /// `GET href`, read as `T`.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, href: &str) -> Result<T> {
        let resp = self.send(Method::GET, href, &Body::Empty, None).await?;
        read_json(resp).await
    }

    /// `GET href`: a resource.
    pub(crate) async fn get<P: DeserializeOwned>(&self, href: &str) -> Result<Hal<P>> {
        self.get_json(href).await
    }

    /// `POST href` with no body, for actions answered `204`.
    pub(crate) async fn act(&self, href: &str) -> Result<()> {
        self.send(Method::POST, href, &Body::Empty, None).await.map(drop)
    }

    /// `POST href` with a JSON body, for actions answered `204`.
    pub(crate) async fn act_with(&self, href: &str, body: &impl Serialize) -> Result<()> {
        self.send(Method::POST, href, &Body::json(body)?, None).await.map(drop)
    }

    /// `POST href`: an operation answered `201 Created` with a `Location`; the absolute
    /// location.
    pub(crate) async fn start(&self, href: &str, body: Body) -> Result<String> {
        let resp = self.send(Method::POST, href, &body, None).await?;
        location(&resp).map(|l| self.resolve(&l).map(String::from))?
    }

    pub(crate) async fn delete(&self, href: &str) -> Result<()> {
        self.send(Method::DELETE, href, &Body::Empty, None).await.map(drop)
    }
}

/// The `Location` of a `201`.
pub(crate) fn location(resp: &reqwest::Response) -> Result<String> {
    resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned).ok_or_else(|| Error::Protocol {
        url: resp.url().to_string(),
        problem: format!("{} without a Location", resp.status()),
    })
}

/// A 2xx response as it is; any other as [`Error::Api`] with the UCWA error body.
pub(crate) async fn check(method: Method, resp: reqwest::Response) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let (status, url) = (resp.status().as_u16(), resp.url().to_string());
    let body = resp.bytes().await.ok().and_then(|b| serde_json::from_slice::<ErrorBody>(&b).ok()).map(Box::new);
    Err(Error::Api { method: method.to_string(), url, status, body })
}

/// The body of a response, read as `T`.
pub(crate) async fn read_json<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T> {
    let url = resp.url().to_string();
    let bytes = resp.bytes().await.map_err(|source| Error::Transport { url: url.clone(), source })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Protocol { url, problem: format!("not the expected JSON: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_url_comes_from_the_msrtcoauth_challenge() {
        let mut headers = HeaderMap::new();
        headers
            .append(WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer trusted_issuers="", client_id="00000004""#));
        headers.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"MsRtcOAuth href="/WebTicket/oauthtoken",grant_type="password""#),
        );
        let base = Url::parse("http://127.0.0.1:8080/autodiscover/x").unwrap();
        assert_eq!(
            token_url_of_challenge(&headers, &base).map(String::from).as_deref(),
            Some("http://127.0.0.1:8080/WebTicket/oauthtoken")
        );
        assert!(token_url_of_challenge(&HeaderMap::new(), &base).is_none());
    }

    #[test]
    fn tokens_are_renewed_a_margin_before_they_expire() {
        let close_to = |at: Instant, secs: u64| {
            let left = at.saturating_duration_since(Instant::now());
            left <= Duration::from_secs(secs) && left > Duration::from_secs(secs - 5)
        };
        assert!(close_to(renew_at(3600).unwrap(), 3540), "an hour: a minute before");
        assert!(close_to(renew_at(100).unwrap(), 90), "100 s: a tenth before");
        assert!(renew_at(0).is_none());
    }
}
