//! Anonymous guests of service applications
//! (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/anonymousmeetingjoin>):
//! `anonApplicationTokens` mints a `psat` token that lets a guest join one meeting from the
//! allowed browser origins, and the guest's application under `/ucwa/psanon/v1` (recorded as
//! `raw-http/snippet4.txt`). That application is an ordinary UCWA application (bare rels);
//! its owner is the guest identity the token carries, so a second token with the same
//! `applicationSessionId` finds the same application and rejoins as the same guest.

use ucwa_core::conference::conference_uri;
use ucwa_core::credentials::{hash_token, mint_token, new_id};
use ucwa_core::model::{AppKind, Application, MeetingRecord, NewApplication, Principal, TokenRecord};
use ucwa_core::service::guest_uri;
use ucwa_proto::input::{PropertyBag, Validator};
use url::Url;

use crate::Services;
use crate::applications::CreatedApplication;
use crate::error::{ServiceError, ServiceResult};
use crate::meetings::is_joinable;
use crate::validate::display_name;

/// Lifetime of `psat` guest tokens (exp - nbf = 8 h in the recorded tokens).
pub const PSAT_TTL_MS: i64 = 8 * 3600 * 1000;
/// Longest `allowedOrigins`.
const ANON_ORIGINS_MAX: usize = 500;

/// A minted `psat` token.
pub struct GuestToken {
    /// `psat=...`, shown once.
    pub secret: String,
    pub expires_ms: i64,
}

/// An allowed origin: `https://host[:port]`, nothing after.
fn valid_origin(origin: &str) -> bool {
    Url::parse(origin).is_ok_and(|u| {
        u.scheme() == "https"
            && u.host_str().is_some_and(|h| !h.is_empty())
            && u.path() == "/"
            && u.query().is_none()
            && u.fragment().is_none()
            && u.username().is_empty()
            && !origin.trim_end_matches('/').ends_with(':')
    })
}

/// A meeting as its join page presents it.
#[derive(Debug, Clone)]
pub struct JoinPageMeeting {
    pub subject: String,
    pub organizer_name: String,
    pub organizer_uri: String,
    pub meeting_id: String,
    pub meeting_uri: String,
}

impl Services {
    /// The meeting of an https join URL (`<base>/meet/<alias>/<id>`), if a joinable meeting
    /// with that id and join URL path exists.
    async fn meeting_of_join_url(&self, url: &str) -> ServiceResult<Option<MeetingRecord>> {
        let Ok(parsed) = Url::parse(url) else { return Ok(None) };
        let segments: Vec<&str> = parsed.path().trim_end_matches('/').split('/').collect();
        let (Some(id), true) = (segments.last(), segments.len() >= 3 && segments[segments.len() - 3] == "meet") else {
            return Ok(None);
        };
        let now = self.now_ms();
        let record = self.store.meeting(id).await?;
        Ok(record.filter(|r| {
            Url::parse(&r.join_url)
                .is_ok_and(|own| own.path().eq_ignore_ascii_case(parsed.path().trim_end_matches('/')))
                && is_joinable(r, now)
        }))
    }

    /// What the join page shows for a joinable meeting's join URL: subject, organizer, and the
    /// meeting's id and URI (what a guest needs for the anonymous meeting grant). `None` for a
    /// URL of no joinable meeting.
    pub async fn join_page(&self, url: &str) -> ServiceResult<Option<JoinPageMeeting>> {
        let Some(record) = self.meeting_of_join_url(url).await? else { return Ok(None) };
        let settings = record.meeting.settings();
        let organizer_name = self.store.find_user(&settings.organizer_uri).await?.map(|u| u.display_name);
        Ok(Some(JoinPageMeeting {
            subject: settings.subject.clone(),
            organizer_name: organizer_name.unwrap_or_default(),
            organizer_uri: settings.organizer_uri.clone(),
            meeting_uri: conference_uri(&settings.organizer_uri, record.meeting.id()),
            meeting_id: record.meeting.id().to_owned(),
        }))
    }

    /// `POST anonApplicationTokens`: a `psat` token that lets an anonymous guest join one
    /// meeting from the allowed browser origins for 8 hours.
    ///
    /// Errors: `ParameterValidationFailure` naming the field for a bad
    /// `applicationSessionId`, `allowedOrigins` (longer than 500, or an origin that is not
    /// `https://host[:port]`) or `meetingUrl` (missing: peer-to-peer tokens are not offered;
    /// a SIP URI instead of the join URL; longer than 1024); 404 `DestinationNotFound` for a
    /// join URL of no live meeting here; 403 for a meeting outside the endpoint's domains.
    pub async fn anon_application_token(&self, app: &Application, input: &PropertyBag) -> ServiceResult<GuestToken> {
        let mut v = Validator::new();
        let session_id = v.check(input.string("applicationSessionId", 100));
        let origins = v.check(input.string("allowedOrigins", ANON_ORIGINS_MAX));
        let origins: Vec<String> = origins
            .as_deref()
            .unwrap_or_default()
            .split(';')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if origins.iter().any(|o| !valid_origin(o)) {
            v.fail("allowedOrigins", "must be ';'-separated https origins such as https://contoso.com");
        }
        let meeting_url = v.check(input.string("meetingUrl", 1024));
        match meeting_url.as_deref().map(str::trim) {
            None | Some("") => v.fail("meetingUrl", "is required: only meeting-join tokens are offered"),
            Some(u) if u.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("sip:")) => {
                v.fail("meetingUrl", "must be the meeting's https join URL, not its SIP conference URI")
            }
            Some(u) if Url::parse(u).is_err() => v.fail("meetingUrl", "must be the meeting's https join URL"),
            Some(_) => {}
        }
        v.finish()?;
        let record = self.meeting_of_join_url(meeting_url.as_deref().unwrap_or_default().trim()).await?;
        let record = record.ok_or_else(|| ServiceError::destination_not_found("No meeting has this join URL."))?;
        let m = &record.meeting;
        self.ensure_domain(app, &m.settings().organizer_uri, "mint guest tokens for meetings").await?;
        let session_id = session_id.filter(|s| !s.trim().is_empty()).unwrap_or_else(new_id);
        let secret = format!("psat={}", mint_token().secret.trim_start_matches("ucwa_"));
        let expires_ms = self.now_ms() + PSAT_TTL_MS;
        let principal = Principal::PsGuest {
            uri: guest_uri(&app.owner_uri, &session_id),
            meeting_uri: conference_uri(&m.settings().organizer_uri, m.id()),
            origins,
        };
        self.store.insert_token(&TokenRecord { hash: hash_token(&secret), principal, expires_ms }).await?;
        Ok(GuestToken { secret, expires_ms })
    }

    /// `POST /ucwa/psanon/v1/applications`: the application of a `psat` guest.
    pub(crate) async fn create_guest_application(
        &self,
        principal: &Principal,
        input: &PropertyBag,
    ) -> ServiceResult<CreatedApplication> {
        let mut v = Validator::new();
        let name = display_name(&mut v, input, "anonymousDisplayName");
        if name.is_none() && !input.contains("anonymousDisplayName") {
            v.fail("anonymousDisplayName", "is required");
        }
        let user_agent = v.check(input.required_string("userAgent", 100));
        let culture = v.check(input.required_string("culture", 100));
        let endpoint_id = v.check(input.string("endpointId", 100));
        let instance_id = v.check(input.string("instanceId", 100));
        v.finish()?;
        let new = NewApplication {
            id: new_id(),
            owner_uri: principal.uri().to_owned(),
            anonymous: true,
            display_name: name.unwrap_or_default(),
            endpoint_id: endpoint_id.unwrap_or_else(|| "psanon".to_owned()),
            user_agent,
            culture,
            instance_id,
            kind: AppKind::PsAnon,
        };
        self.insert_application(&new).await
    }
}
