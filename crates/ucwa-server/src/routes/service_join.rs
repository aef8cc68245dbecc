//! `ms:rtc:saas:joinOnlineMeeting` / `ms:rtc:saas:joinAdhocMeeting` (`ucwa-spec.md` §5.3):
//! a service application joins a meeting on its own behalf, as a hidden trusted leader, or
//! impersonating someone, and names where the conversation's events are called back.
//!
//! Input (body or query, any letter case): `operationId` (required, <= 50), `onlineMeetingUri`
//! or the `confUrl` query of `joinAdhocMeeting` (one is required), `callbackUrl` (<= 1024,
//! absolute http(s); default: the endpoint's registered one), `callbackContext` (<= 1024),
//! `subject` (<= 250), `importance`, `threadId` (<= 250), `localParticipantDisplayName`
//! (<= 250), `localParticipantUri` (a SIP URI), `localParticipantType` (`Default`,
//! `TrustedParticipant`, `GatewayParticipant`), `customContent` (<= 4096, text or a data
//! URI), `callbackNotificationFormats` (accepted, ignored). `anonymousDisplayName` is refused.
//!
//! A join is *trusted* (a hidden leader that skips the lobby) when `localParticipantType` is
//! `TrustedParticipant`, or when it comes through `joinAdhocMeeting` (the `confUrl` query)
//! without `localParticipantType` or `localParticipantUri`. With `localParticipantUri` the
//! application appears in the roster as that URI and display name and passes the lobby as
//! that identity would.
//!
//! When the conversation has a callback URL it must answer an empty heartbeat batch with a
//! 2xx before anything is created; otherwise the join fails with 500 `ServiceFailure` /
//! `CallbackChannelError`. Without any callback URL the events go to the event log.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ucwa_core::conference::parse_conference_uri;
use ucwa_core::credentials::new_id;
use ucwa_core::meeting::{Identity, InvitationRequest};
use ucwa_core::model::Application;
use ucwa_core::service::CallbackRoute;
use ucwa_proto::input::{PropertyBag, Validator};

use crate::auth::{Caller, normalize_sip_uri};
use crate::callbacks::{MAX_CALLBACK_CONTEXT, probe, split_context, valid_callback_url};
use crate::error::{ApiError, ApiResult};
use crate::input::Input;
use crate::response::created_at;
use crate::routes::invitations::{
    IMPORTANCE, display_name, identity_of, importance, join_command, resolve_meeting, run_join,
};
use crate::routes::participant_invitations::content;
use crate::routes::platform::load_service;
use crate::state::{AppState, now_ms};
use crate::urls::{AppUrls, public_base};

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

fn validate(input: &PropertyBag, session_id: &str) -> ApiResult<ServiceJoin> {
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
    let custom_content = content(&mut v, input, "customContent", true).filter(|c| {
        let fits = c.text.chars().count() <= MAX_CUSTOM_CONTENT;
        if !fits {
            v.fail("customContent", format!("longer than {MAX_CUSTOM_CONTENT} characters"));
        }
        fits
    });
    if input.contains("anonymousDisplayName") {
        v.fail("anonymousDisplayName", "must not be set by service applications");
    }
    // Values are undocumented (`ucwa-spec.md` §17 item 20): a string or a list is accepted.
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

fn callback_channel_error() -> ApiError {
    ApiError::ServiceFailure {
        subcode: "CallbackChannelError",
        message: "The callback URL could not be reached.".into(),
    }
}

/// Where the conversation's events go: checked reachable, stored before the first event.
async fn open_route(
    state: &AppState,
    app: &Application,
    session_id: &str,
    join: &ServiceJoin,
    base_uri: String,
) -> ApiResult<CallbackRoute> {
    let service = state.store.find_service_app(&app.owner_uri).await?.ok_or_else(ApiError::application_not_found)?;
    let (url, context) = match join.callback_url.clone().or(service.callback_url) {
        Some(url) => {
            let (url, in_url) = split_context(&url);
            (Some(url), join.callback_context.clone().or(in_url))
        }
        None => (None, join.callback_context.clone()),
    };
    if let Some(url) = &url
        && let Err(e) = probe(state, url, context.as_deref(), &base_uri, &service.signing_key).await
    {
        tracing::info!(endpoint = %app.owner_uri, %url, error = %e, "callback URL unreachable");
        return Err(callback_channel_error());
    }
    let route = CallbackRoute {
        session_id: session_id.to_owned(),
        app_id: app.id.clone(),
        url,
        context,
        base_uri,
        attempts: 0,
        next_attempt_ms: 0,
        delivered: 0,
        created_ms: now_ms(),
    };
    state.store.insert_callback_route(&route).await?;
    Ok(route)
}

pub async fn join(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(app_id): Path<String>,
    RawQuery(query): RawQuery,
    Input(input): Input,
) -> ApiResult<Response> {
    let app = load_service(&state, &caller, &app_id, query.as_deref()).await?;
    let session_id = new_id();
    let join = validate(&input, &session_id)?;
    let (organizer, conference_id) = &join.meeting;
    let meeting_id = resolve_meeting(&state, &caller, organizer, conference_id).await?;
    open_route(&state, &app, &session_id, &join, public_base(&state, &headers)).await?;
    let own = identity_of(&app);
    let identity = Identity {
        uri: join.participant_uri.clone().unwrap_or(own.uri),
        display_name: join.participant_name.clone().unwrap_or(own.display_name),
        trusted: join.trusted,
        ..own
    };
    let cmd = join_command(&state, &session_id, &app, identity, join.invitation);
    if let Err(e) = run_join(&state, &meeting_id, cmd).await {
        state.store.delete_callback_route(&session_id).await?;
        return Err(e);
    }
    Ok(created_at(&AppUrls::of(&app).invitation(&session_id)))
}
