//! Service applications of the Trusted Application API: client-credentials sign-in,
//! discovery, ad hoc meetings, trusted and impersonated joins, and anonymous application
//! tokens for guests ([Trusted Application API](https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/);
//! docs/protocol.md, discover, ms:rtc:saas:application, adhocMeetings, anonApplicationTokens,
//! callbacks).
//!
//! The entry point is the platform discovery URL (`/platformservice/discover` on the server,
//! as Microsoft's was a well-known URL); from there everything is a link. A service
//! application's events come as signed HTTP callbacks to its callback URL: hand them to the
//! [`CallbackInbox`] and the [`Join`] and [`Conversation`](crate::Conversation) handles follow
//! them as on an event channel.

use std::sync::Arc;

use ucwa_proto::model::{self, Dashboard, Discover, Hal};
use ucwa_proto::paths::{PLATFORM_DISCOVER, query_value, with_query};
use ucwa_proto::request::{AnonApplicationTokenRequest, JoinOnlineMeeting, MeetingSettings, TokenGrant};
use ucwa_proto::values::{LocalParticipantType, WireDate};
use ucwa_proto::{RelName, SipUri};

use crate::application::{AppOptions, Application, Surface};
use crate::client::{Client, MeetingAddress};
use crate::error::{Error, Result};
use crate::http::{Body, Http, read_json, request_token};
use crate::join::Join;
use crate::webhook::CallbackInbox;

/// A service application endpoint, signed in.
#[derive(Clone, Debug)]
pub struct ServiceApplication {
    app: Application,
    endpoint: SipUri,
}

/// An on-demand meeting of a service application (`ms:rtc:saas:adhocMeeting`).
#[derive(Debug, Clone)]
pub struct AdhocMeeting {
    resource: Hal<model::AdhocMeeting>,
}

/// A `psat` token for one anonymous guest of one meeting.
#[derive(Debug, Clone)]
pub struct AnonymousToken {
    /// The bearer token (`psat=...`).
    pub token: String,
    /// Where the guest starts: the token's `discover` link (absolute).
    pub discover_href: String,
    /// When it expires.
    pub expiry: WireDate,
}

/// How a service application appears in a meeting it joins.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ServiceJoin {
    /// A hidden leader: skips the lobby, may admit, reject and eject, seen by nobody.
    Trusted,
    /// As a person: in the roster under this URI and name, passing the lobby as they would.
    As {
        /// The person's SIP URI.
        uri: SipUri,
        /// The person's display name.
        name: String,
    },
}

impl Client {
    /// Signs in as the service application endpoint `endpoint` with its client secret and
    /// finds its application.
    pub async fn service_application(&self, endpoint: &SipUri, client_secret: &str) -> Result<ServiceApplication> {
        let token_url = self.token_url().await?;
        let grant =
            TokenGrant::ClientCredentials { client_id: endpoint.clone(), client_secret: client_secret.to_owned() };
        let token = request_token(self.http_client(), &token_url, &grant).await?;
        let http = Http::with_grant(self.http_client().clone(), self.root().clone(), token_url, grant, token);
        let discover_href = http.resolve(PLATFORM_DISCOVER[0])?.to_string();
        let discover: Hal<Discover> = http.get(&discover_href).await?;
        let applications = discover
            .links
            .href(RelName::Applications)
            .ok_or_else(|| Error::NotAvailable { rel: RelName::Applications, resource: discover_href.clone() })?;
        // `endpointId` is the documented input of every Trusted Application API request.
        let applications = with_query(applications, &format!("endpointId={}", query_value(endpoint.as_str())));
        let list: Hal<Dashboard> = http.get(&applications).await?;
        let application = list
            .links
            .href(RelName::Application)
            .ok_or_else(|| Error::NotAvailable { rel: RelName::Application, resource: applications.clone() })?;
        let resource = read_json(http.send(reqwest::Method::GET, application, &Body::Empty, None).await?).await?;
        // A service application never expires and is not deleted: it is the endpoint's one.
        let options = AppOptions::new(endpoint.as_str()).keep_on_drop();
        let app = Application::new(http, resource, Surface::Service, options)?;
        Ok(ServiceApplication { app, endpoint: endpoint.clone() })
    }
}

impl ServiceApplication {
    /// The application, for what service and UCWA applications share.
    pub fn application(&self) -> &Application {
        &self.app
    }

    /// The endpoint's SIP URI.
    pub fn endpoint(&self) -> &SipUri {
        &self.endpoint
    }

    /// Where this application's callbacks go in; `signing_key` is the key `ucwa-server
    /// service-app add` printed (`None` skips the signature check).
    pub fn callbacks(&self, signing_key: Option<&str>) -> CallbackInbox {
        CallbackInbox::new(Arc::clone(&self.app.inner.hub), signing_key.map(str::to_owned))
    }

    /// Creates an on-demand meeting organized by the endpoint.
    pub async fn create_adhoc_meeting(&self, settings: &MeetingSettings) -> Result<AdhocMeeting> {
        let href = self.app.find_href(RelName::AdhocMeetings)?;
        let resp = self.app.http().send(reqwest::Method::POST, &href, &Body::json(settings)?, None).await?;
        Ok(AdhocMeeting { resource: read_json(resp).await? })
    }

    /// Joins `meeting` as `how`, with its events POSTed to `callback_url` (or the endpoint's
    /// registered one when `None`). The server first sends the callback URL a heartbeat, which
    /// must be answered, so the callback endpoint must be running.
    pub async fn join(&self, meeting: &MeetingAddress, how: ServiceJoin, callback_url: Option<&str>) -> Result<Join> {
        let mut body = JoinOnlineMeeting::new(Some(meeting.uri.clone()), self.app.operation_id());
        body.callback_url = callback_url.map(str::to_owned);
        match how {
            ServiceJoin::Trusted => body.local_participant_type = Some(LocalParticipantType::TrustedParticipant),
            ServiceJoin::As { uri, name } => {
                body.local_participant_uri = Some(uri);
                body.local_participant_display_name = Some(name);
            }
        }
        self.app.join_with(body).await
    }

    /// Mints a token with which one anonymous guest may join the meeting at `meeting_url`
    /// (its https join URL), from the `;`-separated `allowed_origins` (or from anywhere).
    /// The same `session_id` always gives the same guest.
    pub async fn anonymous_token(
        &self,
        meeting_url: &str,
        session_id: &str,
        allowed_origins: Option<&str>,
    ) -> Result<AnonymousToken> {
        let href = self.app.find_href(RelName::AnonApplicationTokens)?;
        let mut body = AnonApplicationTokenRequest::new(session_id, meeting_url);
        body.allowed_origins = allowed_origins.map(str::to_owned);
        let resp = self.app.http().send(reqwest::Method::POST, &href, &Body::json(&body)?, None).await?;
        let token: Hal<model::AnonApplicationToken> = read_json(resp).await?;
        let discover = token
            .links
            .href(RelName::Discover)
            .ok_or_else(|| Error::NotAvailable { rel: RelName::Discover, resource: href.clone() })?;
        Ok(AnonymousToken {
            discover_href: self.app.http().resolve(discover)?.to_string(),
            token: token.props.token,
            expiry: token.props.expiry_time,
        })
    }
}

impl AdhocMeeting {
    /// The resource.
    pub fn resource(&self) -> &Hal<model::AdhocMeeting> {
        &self.resource
    }

    /// The https join URL to hand out.
    pub fn join_url(&self) -> Option<&str> {
        self.resource.props.meeting.join_url.as_deref()
    }

    /// The meeting's address.
    pub fn address(&self) -> Result<MeetingAddress> {
        let uri = self.resource.props.meeting.online_meeting_uri.clone().ok_or_else(|| Error::Protocol {
            url: self.resource.self_href().unwrap_or_default().to_owned(),
            problem: "an ad hoc meeting without onlineMeetingUri".into(),
        })?;
        let mut address = MeetingAddress::from_uri(uri)?;
        address.join_url = self.join_url().map(str::to_owned);
        Ok(address)
    }
}
