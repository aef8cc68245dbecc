//! The Trusted Application API (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/newconcepts>):
//! a service application endpoint's per-endpoint `application`, `adhocMeetings`
//! (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/newconcepts>),
//! and its joins, `ms:rtc:saas:joinOnlineMeeting` / `ms:rtc:saas:joinAdhocMeeting`
//! (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/newconcepts>):
//! on its own behalf, as a hidden trusted leader, or impersonating someone, naming where the
//! conversation's events are called back. Conversations, invitations and roster actions are
//! the UCWA use cases: a service application's sessions render themselves in the
//! `ms:rtc:saas:` namespace with `endpointId` in every href.
//!
//! Join input (body or query, any letter case): `operationId` (required, <= 50),
//! `onlineMeetingUri` or the `confUrl` query of `joinAdhocMeeting` (one is required),
//! `callbackUrl` (<= 1024, absolute http(s); default: the endpoint's registered one),
//! `callbackContext` (<= 1024), `subject` (<= 250), `importance`, `threadId` (<= 250),
//! `localParticipantDisplayName` (<= 250), `localParticipantUri` (a SIP URI),
//! `localParticipantType` (`Default`, `TrustedParticipant`, `GatewayParticipant`),
//! `customContent` (<= 4096, text or a data URI), `callbackNotificationFormats` (accepted,
//! ignored). `anonymousDisplayName` is refused.
//!
//! A join is *trusted* (a hidden leader that skips the lobby) when `localParticipantType` is
//! `TrustedParticipant`, or when it comes through `joinAdhocMeeting` (the `confUrl` query)
//! without `localParticipantType` or `localParticipantUri`. With `localParticipantUri` the
//! application appears in the roster as that URI and display name and passes the lobby as
//! that identity would.
//!
//! Trusted joins and impersonation are allowed only in meetings of the endpoint's own SIP
//! domain or of domains its operator listed (`service-app add --domain`), and an
//! impersonated user of this server must be of one of them too (an outside customer may be
//! anyone); otherwise 403 (docs/SECURITY.md, finding 8).
//! The same rule holds for `anonApplicationTokens` and for admitting, rejecting, promoting,
//! demoting and ejecting participants.
//!
//! A callback URL (the join's or the endpoint's) that points at an internal address the
//! operator did not allow is refused with 400 naming `callbackUrl` (docs/SECURITY.md,
//! finding 5). When the conversation has a callback URL it must answer an empty heartbeat batch with a
//! 2xx before anything is created; otherwise the join fails with `ServiceFailure` /
//! `CallbackChannelError`. Without any callback URL the events go to the event log.

use serde_json::Value;
use ucwa_core::conference::parse_conference_uri;
use ucwa_core::credentials::new_id;
use ucwa_core::meeting::{AccessLevel, Identity, InvitationKind, InvitationRequest, Meeting, MeetingSettings};
use ucwa_core::model::{AppKind, Application, MeetingRecord, NewApplication, Principal};
use ucwa_core::service::{CallbackRoute, ServiceApp};
use ucwa_proto::input::{ParamError, PropertyBag, Validator};

use crate::Services;
use crate::callbacks::{MAX_CALLBACK_CONTEXT, probe, split_context, target_url, valid_callback_url};
use crate::error::{ServiceError, ServiceResult};
use crate::join::identity_of;
use crate::meetings::settings_from;
use crate::render::service as render;
use crate::validate::{IMPORTANCE, MAX_CONTENT_CHARS, content, display_name, importance, normalize_sip_uri};

fn application_not_found() -> ServiceError {
    ServiceError::Forbidden {
        subcode: Some("ApplicationNotFound"),
        message: "The endpoint is not registered for this application.".into(),
    }
}

/// 403 for a privileged act outside the endpoint's domains (finding 8 of issue 11).
fn outside_domains(what: &str) -> ServiceError {
    ServiceError::forbidden(&format!(
        "This endpoint may {what} only in its own SIP domain or in the domains its operator listed (service-app add --domain)."
    ))
}

fn not_a_service() -> ServiceError {
    ServiceError::forbidden("Only service applications use the Trusted Application API.")
}

/// The endpoint URI of a service application principal.
fn service_uri(principal: &Principal) -> ServiceResult<&str> {
    match principal {
        Principal::Service { uri } => Ok(uri),
        _ => Err(not_a_service()),
    }
}

/// Capabilities the application advertises that this server does not carry out yet.
pub fn not_offered() -> ServiceError {
    ServiceError::forbidden("This server does not offer this operation yet.")
}

const PARTICIPANT_TYPES: &[&str] = &["Default", "TrustedParticipant", "GatewayParticipant"];
const MAX_CUSTOM_CONTENT: usize = 4096;

struct ServiceJoin {
    meeting: (String, String),
    callback_url: Option<String>,
    callback_context: Option<String>,
    invitation: InvitationRequest,
    trusted: bool,
    participant_uri: Option<String>,
    participant_name: Option<String>,
}

fn validate(input: &PropertyBag, session_id: &str) -> ServiceResult<ServiceJoin> {
    let mut v = Validator::new();
    let operation_id = v.check(input.required_string("operationId", 50));
    let conf_url = v.check(input.string("confUrl", 1024));
    let uri = v.check(input.string("onlineMeetingUri", 1024));
    let via_adhoc_link = conf_url.is_some();
    let meeting = match uri.or(conf_url).as_deref().map(str::trim) {
        None | Some("") => {
            v.fail("onlineMeetingUri", "is required (or the confUrl of joinAdhocMeeting)");
            None
        }
        Some(u) => parse_conference_uri(u).or_else(|| {
            v.fail("onlineMeetingUri", "must be a conference URI sip:<organizer>;gruu;opaque=app:conf:focus:id:<id>");
            None
        }),
    };
    let callback_url = v.check(input.string("callbackUrl", 1024)).filter(|u| !u.trim().is_empty());
    if callback_url.as_deref().is_some_and(|u| !valid_callback_url(u)) {
        v.fail("callbackUrl", "must be an absolute http or https URL");
    }
    let callback_context = v.check(input.string("callbackContext", MAX_CALLBACK_CONTEXT));
    let subject = v.check(input.string("subject", 250));
    let importance_value = v.check(input.enumeration("importance", IMPORTANCE));
    let thread_id = v.check(input.string("threadId", 250));
    let participant_name = input
        .contains("localParticipantDisplayName")
        .then(|| display_name(&mut v, input, "localParticipantDisplayName"))
        .flatten();
    let participant_uri = v.check(input.string("localParticipantUri", 256)).map(|u| {
        normalize_sip_uri(&u).unwrap_or_else(|| {
            v.fail("localParticipantUri", "must be a SIP URI such as sip:alice@contoso.com");
            String::new()
        })
    });
    let participant_type = v.check(input.enumeration("localParticipantType", PARTICIPANT_TYPES));
    // A data URI, or plain text (carried as text/plain).
    let custom_content = content(&mut v, input, "customContent", true, MAX_CONTENT_CHARS).filter(|c| {
        let fits = c.text.chars().count() <= MAX_CUSTOM_CONTENT;
        if !fits {
            v.fail("customContent", format!("longer than {MAX_CUSTOM_CONTENT} characters"));
        }
        fits
    });
    if input.contains("anonymousDisplayName") {
        v.fail("anonymousDisplayName", "must not be set by service applications");
    }
    // Values are undocumented: a string or a list is accepted.
    if input.string("callbackNotificationFormats", 1024).is_err()
        && input.string_list("callbackNotificationFormats", 100).is_err()
    {
        v.fail("callbackNotificationFormats", "must be a string or a list of strings");
    }
    v.finish()?;
    let trusted = match participant_type {
        Some("TrustedParticipant") => true,
        Some(_) => false,
        None => via_adhoc_link && participant_uri.is_none(),
    };
    let invitation = InvitationRequest {
        operation_id: Some(operation_id),
        subject,
        importance: importance(importance_value),
        thread_id: Some(thread_id.unwrap_or_else(new_id)),
        local_participant_uri: participant_uri.clone(),
        local_participant_display_name: participant_name.clone(),
        local_participant_type: participant_type.map(str::to_owned),
        custom_content,
        ..InvitationRequest::outgoing(session_id)
    };
    Ok(ServiceJoin {
        meeting: meeting.unwrap_or_default(),
        callback_url,
        callback_context,
        invitation,
        trusted,
        participant_uri,
        participant_name,
    })
}

impl Services {
    /// The registration of the service application endpoint that owns `app`.
    async fn registration(&self, app: &Application) -> ServiceResult<ServiceApp> {
        self.store.find_service_app(&app.owner_uri).await?.ok_or_else(ServiceError::application_not_found)
    }

    /// Refuses with 403 unless the endpoint owning `app` may act with privileges in the
    /// domain of `uri` (its own, or one listed with `service-app add --domain`).
    pub(crate) async fn ensure_domain(&self, app: &Application, uri: &str, what: &str) -> ServiceResult<()> {
        if self.registration(app).await?.may_act_in(uri) { Ok(()) } else { Err(outside_domains(what)) }
    }

    /// [`Services::owned`] for a service application of `principal`; an `endpoint` (the
    /// `endpointId` query) must be its endpoint (403 `ApplicationNotFound`).
    pub fn owned_service(
        principal: &Principal,
        app: Option<Application>,
        endpoint: Option<&str>,
    ) -> ServiceResult<Application> {
        let uri = service_uri(principal)?;
        if let Some(endpoint) = endpoint
            && normalize_sip_uri(endpoint).as_deref() != Some(uri)
        {
            return Err(application_not_found());
        }
        Self::owned(principal, app)
    }

    /// `GET /platformservice/v1/applications?endpointId=sip:...`: the endpoint's application,
    /// created on first use; it never expires.
    pub async fn endpoint_application(
        &self,
        principal: &Principal,
        endpoint: Option<&str>,
    ) -> ServiceResult<Application> {
        let uri = service_uri(principal)?.to_owned();
        let Some(endpoint) = endpoint else {
            return Err(ServiceError::InvalidParameters(vec![ParamError {
                name: "endpointId",
                problem: "is required".into(),
            }]));
        };
        if normalize_sip_uri(endpoint).as_deref() != Some(uri.as_str()) {
            return Err(application_not_found());
        }
        let service = self.store.find_service_app(&uri).await?.ok_or_else(application_not_found)?;
        let new = NewApplication {
            id: new_id(),
            owner_uri: uri.clone(),
            anonymous: false,
            display_name: service.display_name,
            endpoint_id: uri,
            user_agent: "Trusted Application API".into(),
            culture: "en-US".into(),
            instance_id: None,
            kind: AppKind::Service,
        };
        Ok(self.insert_application(&new).await?.app)
    }

    /// `GET /platformservice/discover` for `principal`, answered under `base` with `self_href`:
    /// for a service application its `applications` link; for a `psat` guest also
    /// `anonApplications` and the meeting's conference URI.
    pub fn discover(&self, principal: &Principal, base: &str, self_href: String) -> ServiceResult<Value> {
        match principal {
            Principal::Service { .. } => Ok(render::discover(base, self_href, None)),
            Principal::PsGuest { meeting_uri, .. } => Ok(render::discover(base, self_href, Some(meeting_uri))),
            Principal::User { .. } | Principal::Anonymous { .. } => Err(not_a_service()),
        }
    }

    /// `POST adhocMeetings`: an on-demand meeting organized by the endpoint, expiring in 8
    /// hours, open to everyone unless the caller asks for a lobby (the SDK's default).
    pub async fn create_adhoc_meeting(
        &self,
        app: &Application,
        base: &str,
        input: &PropertyBag,
    ) -> ServiceResult<MeetingRecord> {
        let defaults =
            MeetingSettings { access_level: AccessLevel::Everyone, ..self.new_meeting_settings(&app.owner_uri) };
        let settings = settings_from(input, &defaults, self.now_ms())?;
        self.create_meeting(base, settings, Meeting::new).await
    }

    /// `GET adhocMeetings/{id}`: one of the meetings the endpoint organizes.
    pub async fn adhoc_meeting(&self, app: &Application, meeting_id: &str) -> ServiceResult<MeetingRecord> {
        let record =
            self.store.meeting(meeting_id).await?.filter(|r| r.meeting.settings().organizer_uri == app.owner_uri);
        record.ok_or_else(ServiceError::not_found)
    }

    /// Where the conversation's events go: checked reachable, stored before the first event.
    async fn open_route(
        &self,
        app: &Application,
        session_id: &str,
        join: &ServiceJoin,
        base_uri: &str,
    ) -> ServiceResult<CallbackRoute> {
        let service =
            self.store.find_service_app(&app.owner_uri).await?.ok_or_else(ServiceError::application_not_found)?;
        let (url, context) = match join.callback_url.clone().or(service.callback_url) {
            Some(url) => {
                let (url, in_url) = split_context(&url);
                (Some(url), join.callback_context.clone().or(in_url))
            }
            None => (None, join.callback_context.clone()),
        };
        if let Some(target) = url.as_deref().and_then(|u| target_url(u, None))
            && let Err(problem) = self.transport.check(&target).await
        {
            tracing::info!(endpoint = %app.owner_uri, url = %target, %problem, "callback URL refused");
            return Err(ServiceError::InvalidParameters(vec![ParamError { name: "callbackUrl", problem }]));
        }
        if let Some(url) = &url
            && let Err(e) = probe(self, url, context.as_deref(), base_uri, &service.signing_key).await
        {
            let url = crate::urls::redacted(url);
            tracing::info!(endpoint = %app.owner_uri, %url, error = %e, "callback URL unreachable");
            return Err(ServiceError::ServiceFailure {
                subcode: "CallbackChannelError",
                message: "The callback URL could not be reached.".into(),
            });
        }
        let route = CallbackRoute {
            session_id: session_id.to_owned(),
            app_id: app.id.clone(),
            url,
            context,
            base_uri: base_uri.to_owned(),
            attempts: 0,
            next_attempt_ms: 0,
            delivered: 0,
            created_ms: self.now_ms(),
            batch_through: None,
        };
        self.store.insert_callback_route(&route).await?;
        Ok(route)
    }

    /// A service application's join: returns the new session (invitation) id.
    pub async fn service_join(
        &self,
        principal: &Principal,
        app: &Application,
        base: &str,
        input: &PropertyBag,
    ) -> ServiceResult<String> {
        let session_id = new_id();
        let join = validate(input, &session_id)?;
        let operation_id = join.invitation.operation_id.clone();
        let _retry_guard = self.operation_lock(app, operation_id.as_deref()).await;
        if let Some(started) =
            self.started_operation(app, operation_id.as_deref(), InvitationKind::OnlineMeeting).await?
        {
            return Ok(started);
        }
        let (organizer, conference_id) = &join.meeting;
        let meeting_id = self.resolve_meeting(principal, organizer, conference_id).await?;
        // Hidden leaders and impersonators only in meetings (and as people) of the
        // endpoint's domains.
        if join.trusted {
            self.ensure_domain(app, organizer, "join meetings as a trusted participant").await?;
        }
        if let Some(impersonated) = &join.participant_uri {
            self.ensure_domain(app, organizer, "join meetings on someone's behalf").await?;
            // An outside customer may be anyone; a user of this server only one of its domains.
            if self.store.find_user(impersonated).await?.is_some() {
                self.ensure_domain(app, impersonated, "appear as a user").await?;
            }
        }
        self.open_route(app, &session_id, &join, base).await?;
        let own = identity_of(app);
        let identity = Identity {
            uri: join.participant_uri.clone().unwrap_or(own.uri),
            display_name: join.participant_name.clone().unwrap_or(own.display_name),
            trusted: join.trusted,
            ..own
        };
        let cmd = self.join_command(&session_id, app, identity, join.invitation);
        let started = self.run_join(&meeting_id, Some(organizer), cmd).await;
        if started.is_err() {
            self.store.delete_callback_route(&session_id).await?;
        }
        self.settle_operation(app, operation_id.as_deref(), InvitationKind::OnlineMeeting, session_id, started).await
    }
}
