//! Discovery and sign-in: from a server's root URL to a [`Session`], whose applications
//! collection is where an [`Application`] is created
//! ([Root URL](https://learn.microsoft.com/en-us/skype-sdk/ucwa/rooturl),
//! [Authentication in UCWA](https://learn.microsoft.com/en-us/skype-sdk/ucwa/authenticationinucwa);
//! docs/protocol.md, discovery and oauthtoken).
//!
//! The root links the `user` resource; asked without a token it answers `401` with an
//! `MsRtcOAuth` challenge naming the token URL; with a token it links `applications`. Nothing
//! here builds a path: the one entry point is the root URL (and, for service applications, the
//! Trusted Application API's discovery URL).

use reqwest::header::ACCEPT;
use reqwest::{StatusCode, Url};
use ucwa_proto::model::{Dashboard, Hal};
use ucwa_proto::request::{NewAnonApplication, NewApplication, TokenGrant};
use ucwa_proto::{RelName, SipUri};

use crate::application::{AppOptions, Application, Surface};
use crate::error::{Error, Result};
use crate::http::{Body, Http, REQUEST_TIMEOUT, read_json, request_token, token_url_of_challenge};

/// What the SDK sends as `User-Agent` and as the application's `userAgent` by default.
pub const USER_AGENT: &str = concat!("ucwa-client/", env!("CARGO_PKG_VERSION"));

/// A UCWA server, known by its root URL. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    root: Url,
}

/// How to sign in.
#[derive(Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// A user's name (`alice@example.com` or `sip:alice@example.com`) and password. The SDK
    /// keeps them in memory to renew the token before it expires.
    Password {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// An anonymous guest of one meeting (the anonymous meeting grant), shown as
    /// `display_name`. Renewals keep the same guest.
    Guest {
        /// The meeting.
        meeting: MeetingAddress,
        /// The name others see.
        display_name: String,
    },
    /// A token obtained earlier (say, stored by a command line tool). It is not renewed: once
    /// it expires, requests fail with [`Error::TokenExpired`].
    Token {
        /// The bearer token.
        access_token: String,
    },
}

impl std::fmt::Debug for Credentials {
    // Secrets stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Password { username, .. } => write!(f, "Password({username})"),
            Credentials::Guest { meeting, display_name } => write!(f, "Guest({display_name} in {})", meeting.uri),
            Credentials::Token { .. } => f.write_str("Token"),
        }
    }
}

impl Credentials {
    /// [`Credentials::Password`].
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Password { username: username.into(), password: password.into() }
    }

    /// [`Credentials::Guest`].
    pub fn guest(meeting: MeetingAddress, display_name: impl Into<String>) -> Self {
        Credentials::Guest { meeting, display_name: display_name.into() }
    }

    /// [`Credentials::Token`].
    pub fn token(access_token: impl Into<String>) -> Self {
        Credentials::Token { access_token: access_token.into() }
    }
}

/// A meeting as a joiner needs it: its URI, and its id (the anonymous grant's password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingAddress {
    /// `sip:<organizer>;gruu;opaque=app:conf:focus:id:<id>`.
    pub uri: SipUri,
    /// The conference id.
    pub id: String,
    /// The https join URL, when the meeting was named by it.
    pub join_url: Option<String>,
}

impl MeetingAddress {
    /// The address of a meeting URI; its id is the `opaque=app:conf:focus:id:` parameter.
    pub fn from_uri(uri: SipUri) -> Result<Self> {
        let id = uri
            .as_str()
            .split(';')
            .filter_map(|param| param.split_once('='))
            .find(|(name, _)| name.eq_ignore_ascii_case("opaque"))
            .and_then(|(_, value)| {
                let prefix = "app:conf:focus:id:";
                value.get(..prefix.len()).filter(|p| p.eq_ignore_ascii_case(prefix)).and(value.get(prefix.len()..))
            })
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::Invalid(format!("`{uri}` is not a meeting URI")))?
            .to_owned();
        Ok(Self { uri, id, join_url: None })
    }
}

/// A signed-in identity: a user, or an anonymous guest of one meeting.
#[derive(Clone, Debug)]
pub struct Session {
    pub(crate) http: Http,
    applications: String,
    kind: SessionKind,
}

#[derive(Clone, Debug)]
enum SessionKind {
    User,
    /// An anonymous meeting guest: joins carry its display name.
    Guest {
        display_name: String,
    },
    /// A `psat` guest of a service application: its application is created with its name.
    PsGuest {
        display_name: String,
    },
}

impl Client {
    /// A client of the server whose discovery root is `root_url` (`https://ucwa.example.com`,
    /// or the autodiscover URL). Uses rustls with the ring provider for https.
    pub fn new(root_url: &str) -> Result<Self> {
        // reqwest refuses to build a rustls client until a process-wide provider is installed;
        // a second installation changes nothing.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| Error::Invalid(format!("HTTP client: {e}")))?;
        Self::with_http_client(root_url, http)
    }

    /// Like [`Client::new`], with an HTTP client of the caller's (proxies, trust roots).
    pub fn with_http_client(root_url: &str, http: reqwest::Client) -> Result<Self> {
        let root = Url::parse(root_url).map_err(|e| Error::Invalid(format!("`{root_url}` is not a URL: {e}")))?;
        Ok(Self { http, root })
    }

    /// A client of the server a meeting's join URL is on (its origin is the discovery root).
    pub fn for_join_url(join_url: &str) -> Result<Self> {
        let url = Url::parse(join_url).map_err(|e| Error::Invalid(format!("`{join_url}` is not a URL: {e}")))?;
        Self::new(&url.origin().ascii_serialization())
    }

    /// The discovery root.
    pub fn root(&self) -> &Url {
        &self.root
    }

    pub(crate) fn http_client(&self) -> &reqwest::Client {
        &self.http
    }

    /// The meeting named by `reference`: a meeting URI (`sip:...;gruu;opaque=app:conf:focus:id:...`)
    /// or its https join URL. A join URL is read as the browser join page the server answers
    /// there (README, "Join page and console"), which carries the meeting's id and URI.
    pub async fn resolve_meeting(&self, reference: &str) -> Result<MeetingAddress> {
        let reference = reference.trim();
        if reference.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("sip:")) {
            let uri = SipUri::parse(reference).map_err(|e| Error::Invalid(e.to_string()))?;
            return MeetingAddress::from_uri(uri);
        }
        let url = Url::parse(reference)
            .map_err(|_| Error::Invalid(format!("`{reference}` is neither a meeting URI nor a join URL")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Invalid(format!("`{reference}` is neither a meeting URI nor a join URL")));
        }
        let resp = self
            .http
            .get(url.clone())
            .header(ACCEPT, "text/html")
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|source| Error::Transport { url: url.to_string(), source })?;
        let status = resp.status();
        let page = resp.text().await.map_err(|source| Error::Transport { url: url.to_string(), source })?;
        if !status.is_success() {
            return Err(Error::Api { method: "GET".into(), url: url.to_string(), status: status.as_u16(), body: None });
        }
        let uri = attribute(&page, "data-meeting-uri")
            .and_then(|u| SipUri::parse(&u).ok())
            .ok_or_else(|| Error::Protocol { url: url.to_string(), problem: "no meeting on the join page".into() })?;
        let mut address = MeetingAddress::from_uri(uri)?;
        if let Some(id) = attribute(&page, "data-meeting-id") {
            address.id = id;
        }
        address.join_url = Some(url.to_string());
        Ok(address)
    }

    /// Discovers the `user` resource and the token URL from the root.
    async fn discover(&self) -> Result<(Url, Url)> {
        let http = Http::anonymous(self.http.clone(), self.root.clone());
        let root: Hal<Dashboard> = http.get(self.root.as_str()).await?;
        let user = root
            .links
            .href(RelName::User)
            .ok_or_else(|| Error::NotAvailable { rel: RelName::User, resource: self.root.to_string() })?;
        let user = http.resolve(user)?;
        let resp = http.send_raw(reqwest::Method::GET, user.as_str(), &Body::Empty, None, REQUEST_TIMEOUT).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Err(Error::Protocol {
                url: user.to_string(),
                problem: format!("{} instead of a 401 challenge", resp.status()),
            });
        }
        let token_url = token_url_of_challenge(resp.headers(), &user)
            .ok_or_else(|| Error::Protocol { url: user.to_string(), problem: "no MsRtcOAuth challenge".into() })?;
        Ok((user, token_url))
    }

    /// The token URL (from the challenge of the `user` resource).
    pub(crate) async fn token_url(&self) -> Result<Url> {
        self.discover().await.map(|(_, token_url)| token_url)
    }

    /// Signs in and finds the identity's applications collection.
    pub async fn sign_in(&self, credentials: Credentials) -> Result<Session> {
        let (user, token_url) = self.discover().await?;
        let (grant, kind) = match credentials {
            Credentials::Password { username, password } => {
                (TokenGrant::Password { username, password }, SessionKind::User)
            }
            Credentials::Guest { meeting, display_name } => (
                TokenGrant::AnonymousMeeting { conference_id: meeting.id, meeting_uri: meeting.uri, renew: None },
                SessionKind::Guest { display_name },
            ),
            Credentials::Token { access_token } => {
                let http = Http::with_token(self.http.clone(), self.root.clone(), access_token, None, None)?;
                return Session::from_user(http, user.as_str(), SessionKind::User).await;
            }
        };
        let token = request_token(&self.http, &token_url, &grant).await?;
        let http = Http::with_grant(self.http.clone(), self.root.clone(), token_url, grant, token);
        Session::from_user(http, user.as_str(), kind).await
    }

    /// Signs in as a `psat` guest: a token a service application minted for one meeting
    /// ([`ServiceApplication::anonymous_token`](crate::ServiceApplication::anonymous_token)),
    /// used from `origin`, one of the origins it allows. `discover_href` is the token's
    /// `discover` link.
    pub async fn sign_in_with_anonymous_token(
        &self,
        token: &str,
        discover_href: &str,
        origin: Option<&str>,
        display_name: &str,
    ) -> Result<Session> {
        let http = Http::with_token(self.http.clone(), self.root.clone(), token.to_owned(), None, origin)?;
        let discover: Hal<ucwa_proto::model::Discover> = http.get(discover_href).await?;
        let applications = discover
            .links
            .href(RelName::AnonApplications)
            .ok_or_else(|| Error::NotAvailable { rel: RelName::AnonApplications, resource: discover_href.into() })?;
        let applications = http.resolve(applications)?.to_string();
        Ok(Session { http, applications, kind: SessionKind::PsGuest { display_name: display_name.to_owned() } })
    }
}

/// The value of the first `name="..."` attribute in `html`, entities decoded.
fn attribute(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("{name}=\""))? + name.len() + 2;
    let end = html[start..].find('"')? + start;
    let raw = &html[start..end];
    let decoded = raw
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&");
    Some(decoded).filter(|v| !v.is_empty())
}

impl Session {
    async fn from_user(http: Http, user_href: &str, kind: SessionKind) -> Result<Self> {
        let mut user: Hal<Dashboard> = http.get(user_href).await?;
        // A server may send a user to its home pool once (`redirect`).
        if user.links.href(RelName::Applications).is_none()
            && let Some(redirect) = user.links.href(RelName::Redirect).map(str::to_owned)
        {
            user = http.get(&redirect).await?;
        }
        let applications = user
            .links
            .href(RelName::Applications)
            .ok_or_else(|| Error::NotAvailable { rel: RelName::Applications, resource: user_href.into() })?;
        let applications = http.resolve(applications)?.to_string();
        Ok(Self { http, applications, kind })
    }

    /// The current access token (renewed first if it is about to expire): for storing, or
    /// for requests the SDK does not make.
    pub async fn access_token(&self) -> Result<String> {
        self.http.access_token().await?.ok_or(Error::TokenExpired)
    }

    /// Creates the application of `endpoint_id` with the default options, or finds it: creating
    /// is idempotent per endpoint id (docs/protocol.md, applications).
    pub async fn application(&self, endpoint_id: &str) -> Result<Application> {
        self.application_with(AppOptions::new(endpoint_id)).await
    }

    /// Creates (or finds) an application with `options`.
    pub async fn application_with(&self, options: AppOptions) -> Result<Application> {
        let (body, guest_name) = match &self.kind {
            SessionKind::PsGuest { display_name } => {
                let mut body =
                    NewAnonApplication::new(display_name.clone(), options.user_agent.clone(), options.culture.clone());
                body.endpoint_id = Some(options.endpoint_id.clone());
                (Body::json(&body)?, Some(display_name.clone()))
            }
            SessionKind::Guest { display_name } => {
                let body = NewApplication::new(
                    options.user_agent.clone(),
                    options.endpoint_id.clone(),
                    options.culture.clone(),
                );
                (Body::json(&body)?, Some(display_name.clone()))
            }
            SessionKind::User => {
                let body = NewApplication::new(
                    options.user_agent.clone(),
                    options.endpoint_id.clone(),
                    options.culture.clone(),
                );
                (Body::json(&body)?, None)
            }
        };
        let resp = self.http.send(reqwest::Method::POST, &self.applications, &body, None).await?;
        let resource = read_json(resp).await?;
        Application::new(self.http.clone(), resource, Surface::Ucwa { guest_name }, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meeting_uri_carries_its_id() {
        let uri = SipUri::parse("sip:alice@example.com;gruu;OPAQUE=app:conf:focus:id:JE49B6SO").unwrap();
        assert_eq!(MeetingAddress::from_uri(uri).unwrap().id, "JE49B6SO");
        assert!(MeetingAddress::from_uri(SipUri::parse("sip:alice@example.com").unwrap()).is_err());
    }

    #[test]
    fn join_page_attributes_are_decoded() {
        let page = r#"<main id="main" data-meeting-id="AB&amp;C" data-meeting-uri="sip:a@b.c;gruu;opaque=app:conf:focus:id:ABC">"#;
        assert_eq!(attribute(page, "data-meeting-id").as_deref(), Some("AB&C"));
        assert_eq!(attribute(page, "data-meeting-uri").as_deref(), Some("sip:a@b.c;gruu;opaque=app:conf:focus:id:ABC"));
        assert_eq!(attribute(page, "data-nothing"), None);
    }
}
