//! The Trusted Application API entry points (`ucwa-spec.md` §2.2–2.4, §3.3, §10.4):
//! `discover`, the per-endpoint `applications` / `application`, its `communication`
//! dashboard, `adhocMeetings` and `anonApplicationTokens`. Conversations, invitations and
//! roster actions reuse the UCWA handlers: a service application's sessions render
//! themselves in the `ms:rtc:saas:` namespace with `endpointId` in every href.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ucwa_core::conference::conference_uri;
use ucwa_core::credentials::{hash_token, new_id};
use ucwa_core::meeting::{AccessLevel, Meeting, MeetingSettings};
use ucwa_core::model::{AppKind, Application, MeetingRecord, NewApplication, Principal, TokenRecord};
use ucwa_core::service::guest_uri;
use ucwa_proto::encode::aspnet_date;
use ucwa_proto::input::{ParamError, Validator};
use ucwa_proto::{Namespace, Resource};

use crate::auth::{Caller, normalize_sip_uri};
use crate::error::{ApiError, ApiResult};
use crate::input::Input;
use crate::render::online_meeting::with_meeting_properties;
use crate::response::{Json, json_response};
use crate::routes::applications::load_owned;
use crate::routes::invitations::DEFAULT_MEETING_LIFETIME_MS;
use crate::routes::my_meetings::{create_meeting, settings_from};
use crate::routes::{conversations, events, invitations, service_join};
use crate::state::{AppState, now_ms};
use crate::urls::{AppUrls, PLATFORM_PREFIX, PSANON_PREFIX, USER_PREFIX, public_base, query_value, with_query};

/// Lifetime of `psat` guest tokens (`ucwa-spec.md` §2.3: exp - nbf = 8 h).
pub const PSAT_TTL_MS: i64 = 8 * 3600 * 1000;
/// Longest `allowedOrigins` (`ucwa-spec.md` §2.3).
const ANON_ORIGINS_MAX: usize = 500;

/// The routes under `/platformservice/v1`.
pub fn routes() -> Router<AppState> {
    let app = "/applications/{app}";
    let conversation = "/applications/{app}/communication/conversations/{conv}";
    let invitation = "/applications/{app}/communication/onlineMeetingInvitations/{inv}";
    Router::new()
        .route("/applications", get(applications))
        .route(app, get(application))
        .route(&format!("{app}/communication"), get(communication))
        .route(&format!("{app}/communication/onlineMeetingInvitations"), post(service_join::join))
        .route(invitation, get(invitations::get))
        .route(&format!("{invitation}/cancel"), post(invitations::cancel))
        .route(&format!("{app}/communication/messagingInvitations"), post(not_offered))
        .route(&format!("{app}/communication/userMeetingInvitations"), post(not_offered))
        .route(&format!("{app}/communication/conversations"), get(conversations::list))
        .route(conversation, get(conversations::get).delete(conversations::delete))
        .route(&format!("{conversation}/{{part}}"), get(conversations::part))
        .route(&format!("{conversation}/participants/{{subject}}"), get(conversations::participant_get))
        .route(&format!("{conversation}/participants/{{subject}}/{{action}}"), post(conversations::participant_action))
        .route(&format!("{app}/events"), get(events::get))
        .route(&format!("{app}/adhocMeetings"), get(adhoc_meetings).post(create_adhoc_meeting))
        .route(&format!("{app}/adhocMeetings/{{meeting}}"), get(adhoc_meeting))
        .route(&format!("{app}/anonApplicationTokens"), post(anon_application_token))
        .route(&format!("{app}/myOnlineMeetings"), get(my_online_meetings))
}

/// The `endpointId` of a query string, if any.
fn endpoint_param(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = query.map(|q| serde_urlencoded::from_str(q).unwrap_or_default())?;
    pairs.into_iter().find(|(k, _)| k.eq_ignore_ascii_case("endpointId")).map(|(_, v)| v)
}

fn application_not_found() -> ApiError {
    ApiError::Forbidden {
        subcode: Some("ApplicationNotFound"),
        message: "The endpoint is not registered for this application.".into(),
    }
}

fn not_a_service() -> ApiError {
    ApiError::Forbidden { subcode: None, message: "Only service applications use the Trusted Application API.".into() }
}

/// The endpoint URI of a service application caller.
fn service_uri(caller: &Caller) -> ApiResult<&str> {
    match &caller.0 {
        Principal::Service { uri } => Ok(uri),
        _ => Err(not_a_service()),
    }
}

/// A service application of the caller; an `endpointId` in the query must be its endpoint
/// (403 `ApplicationNotFound`, `ucwa-spec.md` §2.2).
pub async fn load_service(
    state: &AppState,
    caller: &Caller,
    app_id: &str,
    query: Option<&str>,
) -> ApiResult<Application> {
    let uri = service_uri(caller)?;
    if let Some(endpoint) = endpoint_param(query)
        && normalize_sip_uri(&endpoint).as_deref() != Some(uri)
    {
        return Err(application_not_found());
    }
    load_owned(state, caller, app_id).await
}

/// `GET /platformservice/discover`: for a service application, its `applications` link; for a
/// `psat` guest also `anonApplications` and the meeting's conference URI
/// (`onlineMeetingUri`, `ucwa-spec.md` §2.4 and §17 item 10).
pub async fn discover(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    caller: Caller,
) -> ApiResult<Json> {
    let base = public_base(&state, &headers);
    let self_href = format!("{base}/platformservice/discover");
    let self_href = query.as_deref().map_or(self_href.clone(), |q| with_query(&self_href, q));
    // Spelled out: `applications` is one of the rels TAP also uses bare, and the recorded
    // guest discover has both spellings (`fixtures/tap-recorded/raw-http/snippet3.txt`).
    let r = Resource::new(Namespace::Ucwa, "ms:rtc:saas:discover", self_href)
        .link("ms:rtc:saas:applications", format!("{base}{PLATFORM_PREFIX}/applications"))
        .link("myApplications", format!("{base}{PLATFORM_PREFIX}/myApplications"));
    let r = match &caller.0 {
        Principal::Service { .. } => r,
        Principal::PsGuest { meeting_uri, .. } => r
            .prop("onlineMeetingUri", meeting_uri.as_str())
            .link("applications", format!("{base}{PSANON_PREFIX}/applications"))
            .link("anonApplications", format!("{base}{PSANON_PREFIX}/applications")),
        Principal::User { .. } | Principal::Anonymous { .. } => return Err(not_a_service()),
    };
    Ok(Json(r.into_value()))
}

/// `GET /platformservice/v1/applications?endpointId=sip:...`: the link to the endpoint's
/// application, which is created on first use and never expires (`ucwa-spec.md` §3.4).
pub async fn applications(State(state): State<AppState>, caller: Caller, RawQuery(query): RawQuery) -> ApiResult<Json> {
    let uri = service_uri(&caller)?.to_owned();
    let Some(endpoint) = endpoint_param(query.as_deref()) else {
        return Err(ApiError::InvalidParameters(vec![ParamError {
            name: "endpointId",
            problem: "is required".into(),
        }]));
    };
    if normalize_sip_uri(&endpoint).as_deref() != Some(uri.as_str()) {
        return Err(application_not_found());
    }
    let service = state.store.find_service_app(&uri).await?.ok_or_else(application_not_found)?;
    let new = NewApplication {
        id: new_id(),
        owner_uri: uri.clone(),
        anonymous: false,
        display_name: service.display_name,
        endpoint_id: uri.clone(),
        user_agent: "Trusted Application API".into(),
        culture: "en-US".into(),
        instance_id: None,
        kind: AppKind::Service,
    };
    let (app, _) = state.store.create_application(&new, state.channel_limits.defaults(), now_ms()).await?;
    let r = Resource::new(Namespace::Ucwa, "ms:rtc:saas:applications", format!("{PLATFORM_PREFIX}/applications"))
        .link("ms:rtc:saas:application", AppUrls::of(&app).app());
    Ok(Json(r.into_value()))
}

/// The TAP `communication` dashboard (`fixtures/tap-recorded/resources/Application.json`).
/// Audio and video are out of scope, so `startAudio`/`startAudioVideo` are not offered (the
/// recorded variants without them show that capability links follow what is granted).
fn render_communication(urls: &AppUrls) -> Resource {
    Resource::new(Namespace::Saas, "communication", urls.communication())
        .prop("etag", "4294967295")
        .link("joinOnlineMeeting", urls.at("communication/onlineMeetingInvitations"))
        .link("inviteUserToMeeting", urls.at("communication/userMeetingInvitations"))
        .link("startMessaging", urls.at("communication/messagingInvitations"))
}

fn render_service_application(app: &Application) -> Resource {
    let urls = AppUrls::of(app);
    Resource::new(Namespace::Saas, "application", urls.app())
        .link("anonApplicationTokens", urls.at("anonApplicationTokens"))
        .embed(render_communication(&urls))
        .embed(Resource::new(Namespace::Saas, "myOnlineMeetings", urls.at("myOnlineMeetings")))
        .embed(Resource::new(Namespace::Saas, "adhocMeetings", urls.at("adhocMeetings")))
}

pub async fn application(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json> {
    let app = load_service(&state, &caller, &app_id, query.as_deref()).await?;
    Ok(Json(render_service_application(&app).into_value()))
}

pub async fn communication(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json> {
    let app = load_service(&state, &caller, &app_id, query.as_deref()).await?;
    Ok(Json(render_communication(&AppUrls::of(&app)).into_value()))
}

/// Capabilities the application advertises that this server does not carry out yet.
pub async fn not_offered() -> ApiError {
    ApiError::Forbidden { subcode: None, message: "This server does not offer this operation yet.".into() }
}

pub async fn adhoc_meetings(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json> {
    let app = load_service(&state, &caller, &app_id, query.as_deref()).await?;
    let urls = AppUrls::of(&app);
    Ok(Json(Resource::new(Namespace::Saas, "adhocMeetings", urls.at("adhocMeetings")).into_value()))
}

/// `ms:rtc:saas:adhocMeeting` (`fixtures/tap-recorded/resources/AdhocMeeting.json`).
fn render_adhoc(urls: &AppUrls, base: &str, record: &MeetingRecord) -> Resource {
    let m = &record.meeting;
    let organizer = &m.settings().organizer_uri;
    let uri = conference_uri(organizer, m.id());
    let self_href = with_query(
        &urls.at(&format!("adhocMeetings/{}", m.id())),
        &format!("onlineMeetingContext={}", query_value(organizer)),
    );
    let join =
        format!("{base}{}", urls.at(&format!("communication/onlineMeetingInvitations?confUrl={}", query_value(&uri))));
    let r = Resource::new(Namespace::Saas, "adhocMeeting", self_href);
    with_meeting_properties(r, record)
        .prop("etag", record.settings_revision.to_string())
        .link("discover", format!("{base}/platformservice/discover?discoverContext={}", m.id()))
        .link("joinAdhocMeeting", join)
        .link("applications", format!("{base}{USER_PREFIX}/applications"))
}

/// `POST adhocMeetings`: an on-demand meeting organized by the endpoint, expiring in 8 hours
/// (`ucwa-spec.md` §10.4). Answers 200 with the meeting, as documented.
pub async fn create_adhoc_meeting(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(app_id): Path<String>,
    RawQuery(query): RawQuery,
    Input(input): Input,
) -> ApiResult<Response> {
    let app = load_service(&state, &caller, &app_id, query.as_deref()).await?;
    let now = now_ms();
    let defaults = MeetingSettings {
        // The SDK's default; callers who want a lobby ask for one.
        access_level: AccessLevel::Everyone,
        ..MeetingSettings::new(app.owner_uri.clone(), now + DEFAULT_MEETING_LIFETIME_MS)
    };
    let settings = settings_from(&input, &defaults, now)?;
    let base = public_base(&state, &headers);
    let record = create_meeting(&state, &base, settings, now, Meeting::new).await?;
    let body = render_adhoc(&AppUrls::of(&app), &base, &record).into_value();
    Ok(json_response(StatusCode::OK, body.to_string()))
}

pub async fn adhoc_meeting(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((app_id, meeting_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json> {
    let app = load_service(&state, &caller, &app_id, query.as_deref()).await?;
    let record =
        state.store.meeting(&meeting_id).await?.filter(|r| r.meeting.settings().organizer_uri == app.owner_uri);
    let record = record.ok_or_else(ApiError::not_found)?;
    Ok(Json(render_adhoc(&AppUrls::of(&app), &public_base(&state, &headers), &record).into_value()))
}

pub async fn my_online_meetings(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json> {
    let app = load_service(&state, &caller, &app_id, query.as_deref()).await?;
    let urls = AppUrls::of(&app);
    let meetings = state.store.meetings_organized_by(&app.owner_uri).await?;
    let links = meetings
        .iter()
        .map(|m| (urls.at(&format!("adhocMeetings/{}", m.meeting.id())), Some(m.meeting.settings().subject.clone())));
    let r = Resource::new(Namespace::Saas, "myOnlineMeetings", urls.at("myOnlineMeetings"))
        .link_array("adhocMeeting", links);
    Ok(Json(r.into_value()))
}

/// An allowed origin: `https://host[:port]`, nothing after.
fn valid_origin(origin: &str) -> bool {
    reqwest::Url::parse(origin).is_ok_and(|u| {
        u.scheme() == "https"
            && u.host_str().is_some_and(|h| !h.is_empty())
            && u.path() == "/"
            && u.query().is_none()
            && u.fragment().is_none()
            && u.username().is_empty()
            && !origin.trim_end_matches('/').ends_with(':')
    })
}

/// The meeting of an https join URL (`<base>/meet/<alias>/<id>`): its id when a meeting with
/// that id and join URL path exists and has not expired.
pub(crate) async fn meeting_of_join_url(state: &AppState, url: &str, now: i64) -> ApiResult<Option<MeetingRecord>> {
    let Ok(parsed) = reqwest::Url::parse(url) else { return Ok(None) };
    let segments: Vec<&str> = parsed.path().trim_end_matches('/').split('/').collect();
    let (Some(id), true) = (segments.last(), segments.len() >= 3 && segments[segments.len() - 3] == "meet") else {
        return Ok(None);
    };
    let record = state.store.meeting(id).await?;
    Ok(record.filter(|r| {
        reqwest::Url::parse(&r.join_url)
            .is_ok_and(|own| own.path().eq_ignore_ascii_case(parsed.path().trim_end_matches('/')))
            && r.meeting.settings().expiration_ms > now
            && !r.meeting.is_ended()
    }))
}

/// `POST anonApplicationTokens` (`ucwa-spec.md` §2.3): a `psat` token that lets an anonymous
/// guest join one meeting from the allowed browser origins for 8 hours.
///
/// Errors: 400 `ParameterValidationFailure` naming the field for a bad `applicationSessionId`,
/// `allowedOrigins` (longer than 500, or an origin that is not `https://host[:port]`) or
/// `meetingUrl` (missing: peer-to-peer tokens are not offered; a SIP URI instead of the join
/// URL; longer than 1024); 404 `DestinationNotFound` for a join URL of no live meeting here.
pub async fn anon_application_token(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(app_id): Path<String>,
    RawQuery(query): RawQuery,
    Input(input): Input,
) -> ApiResult<Response> {
    let app = load_service(&state, &caller, &app_id, query.as_deref()).await?;
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
        Some(u) if reqwest::Url::parse(u).is_err() => v.fail("meetingUrl", "must be the meeting's https join URL"),
        Some(_) => {}
    }
    v.finish()?;
    let now = now_ms();
    let record = meeting_of_join_url(&state, meeting_url.as_deref().unwrap_or_default().trim(), now).await?;
    let record = record.ok_or_else(|| ApiError::NotFound {
        subcode: Some("DestinationNotFound"),
        message: "No meeting has this join URL.".into(),
    })?;
    let m = &record.meeting;
    let session_id = session_id.filter(|s| !s.trim().is_empty()).unwrap_or_else(new_id);
    let secret = format!("psat={}", ucwa_core::credentials::mint_token().secret.trim_start_matches("ucwa_"));
    let expires_ms = now + PSAT_TTL_MS;
    let principal = Principal::PsGuest {
        uri: guest_uri(&app.owner_uri, &session_id),
        meeting_uri: conference_uri(&m.settings().organizer_uri, m.id()),
        origins,
    };
    state.store.insert_token(&TokenRecord { hash: hash_token(&secret), principal, expires_ms }).await?;
    let base = public_base(&state, &headers);
    // The token goes into the discover link URL-encoded twice, as recorded (`psat%253d...`).
    let context = secret.replacen("psat=", "psat%253d", 1);
    let urls = AppUrls::of(&app);
    let r =
        Resource::new(Namespace::Saas, "anonApplicationToken", format!("{base}{}", urls.at("anonApplicationTokens")))
            .prop("token", secret.as_str())
            .prop("expiryTime", aspnet_date(expires_ms))
            .link("discover", format!("{base}/platformservice/discover?anonymousMeetingJoinContext={context}"));
    Ok(json_response(StatusCode::OK, r.into_value().to_string()).into_response())
}
