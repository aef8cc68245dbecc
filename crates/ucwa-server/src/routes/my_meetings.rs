//! `myOnlineMeetings` / `myOnlineMeeting` (`ucwa-spec.md` §10.3): the organizer schedules,
//! lists, reads, updates (PUT with `If-Match`) and deletes meetings.
//! [`create_meeting`] stores every new meeting, also the ad hoc ones joins, calls and
//! `adhocMeetings` start.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use ucwa_core::conference::{join_url, new_conference_id};
use ucwa_core::credentials::random_bytes;
use ucwa_core::meeting::{AccessLevel, AutomaticLeaderAssignment, Meeting, MeetingSettings, Toggle};
use ucwa_core::model::{Application, MeetingRecord};
use ucwa_proto::input::{PropertyBag, Validator};
use ucwa_proto::{Namespace, Resource};

use crate::auth::{Caller, normalize_sip_uri};
use crate::error::{ApiError, ApiResult};
use crate::input::Input;
use crate::meetings::meeting_error;
use crate::render::online_meeting::{PUT_GUARD, etag, my_online_meeting};
use crate::response::{Json, json_response};
use crate::routes::applications::load_owned;
use crate::routes::invitations::DEFAULT_MEETING_LIFETIME_MS;
use crate::state::{AppState, now_ms};
use crate::urls::{AppUrls, public_base};

const YEAR_MS: i64 = 365 * 24 * 3600 * 1000;
const ACCESS_LEVELS: &[&str] = &["Everyone", "Invited", "SameEnterprise", "Locked"];
const LEADER_ASSIGNMENTS: &[&str] = &["Disabled", "SameEnterprise", "Everyone"];
const TOGGLES: &[&str] = &["Disabled", "Enabled"];

fn toggle(v: Option<&str>, default: Toggle) -> Toggle {
    match v {
        Some("Enabled") => Toggle::Enabled,
        Some("Disabled") => Toggle::Disabled,
        _ => default,
    }
}

fn sip_list(v: &mut Validator, input: &PropertyBag, name: &'static str) -> Vec<String> {
    let Some(list) = v.check(input.string_list(name, 256)) else { return Vec::new() };
    if list.len() > 1000 {
        v.fail(name, "at most 1000 entries");
        return Vec::new();
    }
    let parsed: Option<Vec<String>> = list.iter().map(|u| normalize_sip_uri(u)).collect();
    parsed.unwrap_or_else(|| {
        v.fail(name, "must be SIP URIs such as sip:alice@example.com");
        Vec::new()
    })
}

/// Reads meeting settings from a POST or PUT body; absent values take `base`'s.
pub fn settings_from(input: &PropertyBag, base: &MeetingSettings, now: i64) -> ApiResult<MeetingSettings> {
    let mut v = Validator::new();
    let access = v.check(input.enumeration("accessLevel", ACCESS_LEVELS));
    let auto = v.check(input.enumeration("automaticLeaderAssignment", LEADER_ASSIGNMENTS));
    let bypass = v.check(input.enumeration("lobbyBypassForPhoneUsers", TOGGLES));
    let admission = v.check(input.enumeration("phoneUserAdmission", TOGGLES));
    let announce = v.check(input.enumeration("entryExitAnnouncement", TOGGLES));
    let subject = v.check(input.string("subject", 250));
    let description = v.check(input.string("description", 4096));
    let attendees = input.contains("attendees").then(|| sip_list(&mut v, input, "attendees"));
    let leaders = input.contains("leaders").then(|| sip_list(&mut v, input, "leaders"));
    let expiration = v.check(input.date_ms("expirationTime"));
    if let Some(e) = expiration
        && (e <= now || e > now.saturating_add(10 * YEAR_MS))
    {
        v.fail("expirationTime", "must be in the future and within ten years");
    }
    v.finish()?;
    Ok(MeetingSettings {
        organizer_uri: base.organizer_uri.clone(),
        subject: subject.unwrap_or_else(|| base.subject.clone()),
        description: description.unwrap_or_else(|| base.description.clone()),
        access_level: match access {
            Some("Everyone") => AccessLevel::Everyone,
            Some("Invited") => AccessLevel::Invited,
            Some("Locked") => AccessLevel::Locked,
            Some(_) => AccessLevel::SameEnterprise,
            None => base.access_level,
        },
        attendees: attendees.unwrap_or_else(|| base.attendees.clone()),
        leaders: leaders.unwrap_or_else(|| base.leaders.clone()),
        automatic_leader_assignment: match auto {
            Some("Everyone") => AutomaticLeaderAssignment::Everyone,
            Some("SameEnterprise") => AutomaticLeaderAssignment::SameEnterprise,
            Some(_) => AutomaticLeaderAssignment::Disabled,
            None => base.automatic_leader_assignment,
        },
        lobby_bypass_for_phone_users: toggle(bypass, base.lobby_bypass_for_phone_users),
        phone_user_admission: toggle(admission, base.phone_user_admission),
        entry_exit_announcement: toggle(announce, base.entry_exit_announcement),
        expiration_ms: expiration.unwrap_or(base.expiration_ms),
        tenant_domain: base.tenant_domain.clone(),
    })
}

fn organizer_only(app: &Application) -> ApiResult<()> {
    if app.anonymous {
        return Err(ApiError::Forbidden { subcode: None, message: "Anonymous users cannot schedule meetings.".into() });
    }
    Ok(())
}

/// Stores a new meeting under a fresh conference id, with its join URL under `base`; `build`
/// makes the aggregate (`Meeting::new`, or `Meeting::two_party` for a two-party call).
pub async fn create_meeting(
    state: &AppState,
    base: &str,
    settings: MeetingSettings,
    now: i64,
    build: impl FnOnce(String, MeetingSettings) -> Meeting,
) -> ApiResult<MeetingRecord> {
    let id = new_conference_id(random_bytes());
    let record = MeetingRecord {
        join_url: join_url(base, &settings.organizer_uri, &id),
        meeting: build(id, settings),
        created_ms: now,
        settings_revision: 1,
    };
    state.meetings.create(state, &record).await?;
    Ok(record)
}

/// The organizer's `myOnlineMeeting` with its `ETag`.
fn meeting_response(status: StatusCode, app: &Application, record: &MeetingRecord) -> Response {
    let urls = AppUrls::of(app);
    let mut resp = json_response(status, my_online_meeting(&urls, record).into_value().to_string());
    if let Ok(v) = HeaderValue::from_str(&etag(record)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

pub async fn list(State(state): State<AppState>, caller: Caller, Path(app_id): Path<String>) -> ApiResult<Json> {
    let app = load_owned(&state, &caller, &app_id).await?;
    let urls = AppUrls::of(&app);
    let meetings = if app.anonymous { Vec::new() } else { state.store.meetings_organized_by(&app.owner_uri).await? };
    let links = meetings.iter().map(|m| (urls.my_meeting(m.meeting.id()), Some(m.meeting.settings().subject.clone())));
    let r = Resource::new(Namespace::Ucwa, "myOnlineMeetings", urls.at("onlineMeetings/myOnlineMeetings"))
        .link_array("myOnlineMeeting", links);
    Ok(Json(r.into_value()))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    Input(input): Input,
) -> ApiResult<Response> {
    let app = load_owned(&state, &caller, &app_id).await?;
    organizer_only(&app)?;
    let now = now_ms();
    let base = MeetingSettings::new(app.owner_uri.clone(), now + DEFAULT_MEETING_LIFETIME_MS);
    let settings = settings_from(&input, &base, now)?;
    let record = create_meeting(&state, &public_base(&state, &headers), settings, now, Meeting::new).await?;
    let mut resp = meeting_response(StatusCode::CREATED, &app, &record);
    if let Ok(v) = HeaderValue::from_str(&AppUrls::of(&app).my_meeting(record.meeting.id())) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// The caller's application `app_id` and its owner's meeting; anyone else's answers 404.
async fn owned_meeting(
    state: &AppState,
    caller: &Caller,
    app_id: &str,
    meeting_id: &str,
) -> ApiResult<(Application, MeetingRecord)> {
    let app = load_owned(state, caller, app_id).await?;
    let record = state.store.meeting(meeting_id).await?.ok_or_else(ApiError::not_found)?;
    if app.anonymous || record.meeting.settings().organizer_uri != app.owner_uri {
        return Err(ApiError::not_found());
    }
    Ok((app, record))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, meeting_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (app, record) = owned_meeting(&state, &caller, &app_id, &meeting_id).await?;
    Ok(meeting_response(StatusCode::OK, &app, &record))
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, meeting_id)): Path<(String, String)>,
    headers: HeaderMap,
    Input(input): Input,
) -> ApiResult<Response> {
    let (app, _) = owned_meeting(&state, &caller, &app_id, &meeting_id).await?;
    let if_match = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(if_match) = if_match else { return Err(ApiError::PreconditionRequired) };
    if !input.contains(PUT_GUARD) {
        let mut v = Validator::new();
        v.fail("putGuard", format!("a PUT must carry every property, including {PUT_GUARD}"));
        v.finish()?;
    }
    let now = now_ms();
    let record = state
        .meetings
        .run(&state, &meeting_id, |record, _| {
            if etag(record) != if_match.trim() && record.settings_revision.to_string() != if_match.trim() {
                return Err(ApiError::PreconditionFailed);
            }
            let settings = settings_from(&input, record.meeting.settings(), now)?;
            record.meeting.update_settings(settings).map_err(meeting_error)?;
            record.settings_revision += 1;
            Ok((record.clone(), Vec::new()))
        })
        .await?;
    Ok(meeting_response(StatusCode::OK, &app, &record))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, meeting_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    owned_meeting(&state, &caller, &app_id, &meeting_id).await?;
    state.meetings.delete(&state, &meeting_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `onlineMeetings/defaultValues`: what a meeting gets when its creator leaves a value out.
pub async fn default_values(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
) -> ApiResult<Json> {
    let app = load_owned(&state, &caller, &app_id).await?;
    let urls = AppUrls::of(&app);
    let defaults = MeetingSettings::new(app.owner_uri.clone(), 0);
    let r = Resource::new(Namespace::Ucwa, "onlineMeetingDefaultValues", urls.at("onlineMeetings/defaultValues"))
        .prop("accessLevel", crate::render::wire(defaults.access_level))
        .prop("automaticLeaderAssignment", crate::render::wire(defaults.automatic_leader_assignment))
        .prop("entryExitAnnouncement", crate::render::wire(defaults.entry_exit_announcement))
        .prop("lobbyBypassForPhoneUsers", crate::render::wire(defaults.lobby_bypass_for_phone_users))
        .prop("phoneUserAdmission", crate::render::wire(defaults.phone_user_admission))
        .prop("defaultOnlineMeetingRel", "myOnlineMeetings")
        .prop("participantsWarningThreshold", 250);
    Ok(Json(r.into_value()))
}

/// `onlineMeetings/eligibleValues`: every value a meeting property accepts here.
pub async fn eligible_values(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
) -> ApiResult<Json> {
    let app = load_owned(&state, &caller, &app_id).await?;
    let urls = AppUrls::of(&app);
    let r = Resource::new(Namespace::Ucwa, "onlineMeetingEligibleValues", urls.at("onlineMeetings/eligibleValues"))
        .prop("accessLevels", serde_json::json!(ACCESS_LEVELS))
        .prop("automaticLeaderAssignments", serde_json::json!(LEADER_ASSIGNMENTS))
        .prop("entryExitAnnouncements", serde_json::json!(TOGGLES))
        .prop("lobbyBypassForPhoneUsersSettings", serde_json::json!(TOGGLES))
        .prop("phoneUserAdmissions", serde_json::json!(TOGGLES));
    Ok(Json(r.into_value()))
}
