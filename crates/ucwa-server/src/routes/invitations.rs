//! `joinOnlineMeeting` / `startOnlineMeeting` (`POST communication/onlineMeetingInvitations`)
//! and the `onlineMeetingInvitation` operation resource (`ucwa-spec.md` §5–6).
//!
//! All validation is synchronous: a bad request gets 400 and creates nothing. A good one
//! gets `201 Created` with the invitation's `Location` and an empty body; the invitation
//! itself arrives as events, possibly before the 201.
//!
//! Also the lookups every conversation-scoped route shares: [`locate`] (a session of an
//! application the caller owns) and [`with_viewer`] (what that session sees).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use ucwa_core::conference::parse_conference_uri;
use ucwa_core::credentials::new_id;
use ucwa_core::meeting::{
    Command, Identity, Importance, InvitationKind, InvitationRequest, Join, Meeting, MeetingSettings, Surface,
};
use ucwa_core::model::{AppKind, Application};
use ucwa_proto::input::{PropertyBag, Validator};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::Input;
use crate::render::Viewer;
use crate::render::invitation::invitation;
use crate::response::{Json, created_at};
use crate::routes::applications::load_owned;
use crate::routes::my_meetings::create_meeting;
use crate::state::{AppState, now_ms};
use crate::urls::{AppUrls, public_base};

/// Default lifetime of a meeting without an explicit `expirationTime`.
pub const DEFAULT_MEETING_LIFETIME_MS: i64 = 8 * 3600 * 1000;

pub const IMPORTANCE: &[&str] = &["Normal", "Urgent", "Emergency", "NonUrgent"];

pub fn importance(value: Option<&str>) -> Importance {
    match value {
        Some("Urgent") => Importance::Urgent,
        Some("Emergency") => Importance::Emergency,
        Some("NonUrgent") => Importance::NonUrgent,
        _ => Importance::Normal,
    }
}

/// A display name a person typed: trimmed, 1 to 250 characters, no control characters.
pub fn display_name(v: &mut Validator, input: &PropertyBag, name: &'static str) -> Option<String> {
    let raw = v.check(input.string(name, 10_000))?;
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 250 {
        v.fail(name, "must be 1 to 250 characters");
        None
    } else if trimmed.chars().any(char::is_control) {
        v.fail(name, "must not contain control characters");
        None
    } else {
        Some(trimmed.to_owned())
    }
}

/// What the join asks for, validated.
struct JoinInput {
    /// `None`: a new ad hoc meeting.
    meeting: Option<(String, String)>,
    invitation: InvitationRequest,
    display_name: Option<String>,
}

fn validate_join(input: &PropertyBag, app: &Application, session_id: &str) -> ApiResult<JoinInput> {
    let mut v = Validator::new();
    let uri = v.check(input.string("onlineMeetingUri", 1024));
    let meeting = match uri.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) if u.eq_ignore_ascii_case("adhoc") => None,
        Some(u) => match parse_conference_uri(u) {
            Some(parsed) => Some(parsed),
            None => {
                v.fail(
                    "onlineMeetingUri",
                    "must be a conference URI sip:<organizer>;gruu;opaque=app:conf:focus:id:<id>",
                );
                None
            }
        },
    };
    let operation_id = v.check(input.string("operationId", 50));
    let subject = v.check(input.string("subject", 250));
    let importance_value = v.check(input.enumeration("importance", IMPORTANCE));
    let thread_id = v.check(input.string("threadId", 250));
    let display_name = if app.anonymous {
        let name = display_name(&mut v, input, "anonymousDisplayName");
        if name.is_none() && !input.contains("anonymousDisplayName") {
            v.fail("anonymousDisplayName", "is required for anonymous users");
        }
        name
    } else {
        if input.contains("anonymousDisplayName") {
            v.fail("anonymousDisplayName", "must not be set by signed-in users");
        }
        None
    };
    v.finish()?;
    let invitation = InvitationRequest {
        operation_id,
        subject,
        importance: importance(importance_value),
        thread_id: Some(thread_id.unwrap_or_else(new_id)),
        anonymous_display_name: display_name.clone(),
        ..InvitationRequest::outgoing(session_id)
    };
    Ok(JoinInput { meeting, invitation, display_name })
}

pub async fn join(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
    headers: axum::http::HeaderMap,
    Input(input): Input,
) -> ApiResult<Response> {
    let app = load_owned(&state, &caller, &app_id).await?;
    let session_id = new_id();
    let join = validate_join(&input, &app, &session_id)?;
    let meeting_id = match join.meeting {
        Some((organizer, id)) => resolve_meeting(&state, &caller, &organizer, &id).await?,
        None if app.anonymous => {
            return Err(ApiError::Forbidden {
                subcode: None,
                message: "Anonymous users cannot start meetings.".into(),
            });
        }
        None => create_adhoc(&state, &app, &headers, join.invitation.subject.as_deref()).await?,
    };
    let own = identity_of(&app);
    let identity = Identity { display_name: join.display_name.unwrap_or(own.display_name), ..own };
    let cmd = join_command(&state, &session_id, &app, identity, join.invitation);
    run_join(&state, &meeting_id, cmd).await?;
    Ok(created_at(&AppUrls::of(&app).invitation(&session_id)))
}

/// How a session of `app` appears in a meeting: as the application's owner, by its display
/// name, untrusted.
pub fn identity_of(app: &Application) -> Identity {
    Identity {
        uri: app.owner_uri.clone(),
        display_name: app.display_name.clone(),
        anonymous: app.anonymous,
        trusted: false,
        surface: surface_of(app),
    }
}

/// The surface a session of `app` speaks.
pub fn surface_of(app: &Application) -> Surface {
    match app.kind {
        AppKind::Ucwa => Surface::Ucwa,
        AppKind::PsAnon => Surface::PsAnon,
        AppKind::Service => Surface::Service { endpoint_id: app.endpoint_id.clone() },
    }
}

/// The id of the meeting a join names (organizer and conference id of its URI), refusing
/// an anonymous principal bound to another meeting with 403 and an unknown meeting with
/// 404 `DestinationNotFound`.
pub async fn resolve_meeting(state: &AppState, caller: &Caller, organizer: &str, id: &str) -> ApiResult<String> {
    if let Some(meeting_uri) = caller.0.meeting_uri()
        && parse_conference_uri(meeting_uri).is_none_or(|(o, i)| o != organizer || !i.eq_ignore_ascii_case(id))
    {
        return Err(ApiError::Forbidden {
            subcode: None,
            message: "This anonymous sign-in is for another meeting.".into(),
        });
    }
    match state.store.meeting(id).await? {
        Some(r) if r.meeting.settings().organizer_uri == organizer => Ok(id.to_owned()),
        _ => Err(ApiError::NotFound {
            subcode: Some("DestinationNotFound"),
            message: "The meeting cannot be found.".into(),
        }),
    }
}

/// The join of a new session `session_id` of `app`.
pub fn join_command(
    state: &AppState,
    session_id: &str,
    app: &Application,
    identity: Identity,
    invitation: InvitationRequest,
) -> Command {
    Join {
        session_id: session_id.to_owned(),
        app_id: app.id.clone(),
        identity,
        invitation,
        lobby_timeout_ms: state.limits.lobby_timeout_secs.saturating_mul(1000),
    }
    .into()
}

/// Runs a join command, refusing meetings that have expired.
pub async fn run_join(state: &AppState, meeting_id: &str, cmd: Command) -> ApiResult<()> {
    let now = now_ms();
    state
        .meetings
        .run(state, meeting_id, |record, at| {
            if record.meeting.settings().expiration_ms <= now {
                return Err(crate::meetings::meeting_error(ucwa_core::meeting::MeetingError::Ended));
            }
            let notices = record.meeting.handle(cmd.clone(), at).map_err(crate::meetings::meeting_error)?;
            Ok(((), notices))
        })
        .await
}

/// `startOnlineMeeting`: a new meeting organized by the caller, who then joins it.
async fn create_adhoc(
    state: &AppState,
    app: &Application,
    headers: &axum::http::HeaderMap,
    subject: Option<&str>,
) -> ApiResult<String> {
    let now = now_ms();
    let mut settings = MeetingSettings::new(app.owner_uri.clone(), now + DEFAULT_MEETING_LIFETIME_MS);
    settings.subject = subject.unwrap_or_default().to_owned();
    let record = create_meeting(state, &public_base(state, headers), settings, now, Meeting::new).await?;
    Ok(record.meeting.id().to_owned())
}

/// Resolves a session id under an application the caller owns.
pub async fn locate(
    state: &AppState,
    caller: &Caller,
    app_id: &str,
    session_id: &str,
) -> ApiResult<(Application, String)> {
    let app = load_owned(state, caller, app_id).await?;
    let location = state.store.session_location(session_id).await?.filter(|l| l.app_id == app.id);
    let location = location.ok_or_else(ApiError::not_found)?;
    Ok((app, location.meeting_id))
}

/// What session `session_id` of an application the caller owns sees of its meeting, handed
/// to `f` (404 for an unknown application or session).
pub async fn with_viewer<T>(
    state: &AppState,
    caller: &Caller,
    app_id: &str,
    session_id: &str,
    f: impl FnOnce(&Viewer<'_>) -> ApiResult<T>,
) -> ApiResult<T> {
    let (_, meeting_id) = locate(state, caller, app_id, session_id).await?;
    view_meeting(state, &meeting_id, session_id, f).await
}

/// What session `session_id` sees of meeting `meeting_id`, handed to `f` (404 when the
/// meeting has no such session).
pub async fn view_meeting<T>(
    state: &AppState,
    meeting_id: &str,
    session_id: &str,
    f: impl FnOnce(&Viewer<'_>) -> ApiResult<T>,
) -> ApiResult<T> {
    let record = state.meetings.read(state, meeting_id).await?;
    let viewer = Viewer::new(&record, session_id).ok_or_else(ApiError::not_found)?;
    f(&viewer)
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, session_id)): Path<(String, String)>,
) -> ApiResult<Json> {
    with_viewer(&state, &caller, &app_id, &session_id, |viewer| {
        // A two-party call's invitation lives under `messagingInvitations`, not here.
        if viewer.session.invitation.kind != InvitationKind::OnlineMeeting {
            return Err(ApiError::not_found());
        }
        Ok(Json(invitation(viewer).into_value()))
    })
    .await
}

/// CallDeclineReason (`ucwa-spec.md` §15.1). `Local` declines on this application only.
pub const DECLINE_REASONS: &[&str] = &[
    "Unknown",
    "Local",
    "Global",
    "MediaAllocationFailure",
    "EncryptionMismatch",
    "IPv6NotSupported",
    "MediaConnectivityFailure",
    "CodecMismatch",
    "UnsupportedMedia",
    "InvalidMediaOffer",
    "InsufficientBandwidth",
    "InsufficientBandwidthRerouteOverPstn",
];

/// The session of an invitation of `kind` owned by the caller (404 for another kind).
pub async fn locate_invitation_of(
    state: &AppState,
    caller: &Caller,
    app_id: &str,
    session_id: &str,
    kind: InvitationKind,
) -> ApiResult<String> {
    let (_, meeting_id) = locate(state, caller, app_id, session_id).await?;
    view_meeting(state, &meeting_id, session_id, |v| {
        if v.session.invitation.kind == kind { Ok(()) } else { Err(ApiError::not_found()) }
    })
    .await?;
    Ok(meeting_id)
}

/// `accept` / `decline` / `cancel` of an invitation (204). Answering an invitation that is
/// outgoing or already completed is 409, as is cancelling an incoming one.
pub async fn act_on_invitation(
    state: &AppState,
    caller: &Caller,
    app_id: &str,
    session: String,
    kind: InvitationKind,
    action: &str,
    input: &PropertyBag,
) -> ApiResult<StatusCode> {
    let cmd = match action {
        "accept" => Command::Accept { session: session.clone() },
        "cancel" => Command::Cancel { session: session.clone() },
        "decline" => {
            let mut v = Validator::new();
            let reason = v.check(input.enumeration("reason", DECLINE_REASONS));
            v.finish()?;
            Command::Decline { session: session.clone(), local_only: reason == Some("Local") }
        }
        _ => return Err(ApiError::not_found()),
    };
    let meeting_id = locate_invitation_of(state, caller, app_id, &session, kind).await?;
    state.meetings.command(state, &meeting_id, cmd).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST onlineMeetingInvitations/{inv}/accept|decline` (incoming meeting invitations).
pub async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, session_id, action)): Path<(String, String, String)>,
    Input(input): Input,
) -> ApiResult<StatusCode> {
    if action == "cancel" {
        return Err(ApiError::not_found());
    }
    act_on_invitation(&state, &caller, &app_id, session_id, InvitationKind::OnlineMeeting, &action, &input).await
}

/// `POST .../cancel`: gives up an outgoing join that is still `Connecting`.
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, session_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (_, meeting_id) = locate(&state, &caller, &app_id, &session_id).await?;
    state.meetings.command(&state, &meeting_id, Command::Cancel { session: session_id }).await?;
    Ok(StatusCode::NO_CONTENT)
}
