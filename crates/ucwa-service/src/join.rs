//! `joinOnlineMeeting` / `startOnlineMeeting` (`POST communication/onlineMeetingInvitations`,
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/joinonlinemeeting_ref>), and what
//! every join shares (the service application's join in [`crate::service_apps`] too): the
//! joiner's identity, resolving the meeting a URI names, and running the join command.
//!
//! All validation is synchronous: a bad request fails and creates nothing. A good one
//! returns the new session id (the invitation's id); the invitation itself arrives as
//! events, possibly before the caller answers.

use ucwa_core::conference::parse_conference_uri;
use ucwa_core::credentials::new_id;
use ucwa_core::meeting::{Command, Identity, InvitationKind, InvitationRequest, Join, Meeting, MeetingError, Surface};
use ucwa_core::model::{AppKind, Application, Principal};
use ucwa_proto::input::{PropertyBag, Validator};

use crate::Services;
use crate::engine::meeting_not_found;
use crate::error::{ServiceError, ServiceResult};
use crate::meetings::is_joinable;
use crate::validate::{IMPORTANCE, display_name, importance};

/// What a join asks for, validated.
struct JoinInput {
    /// `None`: a new ad hoc meeting.
    meeting: Option<(String, String)>,
    invitation: InvitationRequest,
    display_name: Option<String>,
}

fn validate_join(input: &PropertyBag, app: &Application, session_id: &str) -> ServiceResult<JoinInput> {
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

impl Services {
    /// `POST communication/onlineMeetingInvitations`: joins the meeting `onlineMeetingUri`
    /// names, or starts an ad hoc one (absent, or `adhoc`) with its join URL under `base`.
    /// Returns the new session (invitation) id.
    pub async fn join(
        &self,
        principal: &Principal,
        app: &Application,
        base: &str,
        input: &PropertyBag,
    ) -> ServiceResult<String> {
        let session_id = new_id();
        let join = validate_join(input, app, &session_id)?;
        let operation_id = join.invitation.operation_id.clone();
        let _retry_guard = self.operation_lock(app, operation_id.as_deref()).await;
        if let Some(started) =
            self.started_operation(app, operation_id.as_deref(), InvitationKind::OnlineMeeting).await?
        {
            return Ok(started);
        }
        // A named meeting's organizer is checked by the join itself, on the copy it runs on:
        // no round trip before it (docs/BENCHMARKS.md, issue 9).
        let (meeting_id, organizer) = match join.meeting {
            Some((organizer, id)) => {
                check_bound_meeting(principal, &organizer, &id)?;
                (id, Some(organizer))
            }
            None if app.anonymous => return Err(ServiceError::forbidden("Anonymous users cannot start meetings.")),
            None => {
                let mut settings = self.new_meeting_settings(&app.owner_uri);
                settings.subject = join.invitation.subject.clone().unwrap_or_default();
                let record = self.create_meeting(base, settings, Meeting::new).await?;
                (record.meeting.id().to_owned(), None)
            }
        };
        let own = identity_of(app);
        let identity = Identity { display_name: join.display_name.unwrap_or(own.display_name), ..own };
        let cmd = self.join_command(&session_id, app, identity, join.invitation);
        let started = self.run_join(&meeting_id, organizer.as_deref(), cmd).await;
        self.settle_operation(app, operation_id.as_deref(), InvitationKind::OnlineMeeting, session_id, started).await
    }

    /// The id of the meeting a join names (organizer and conference id of its URI), refusing
    /// an anonymous principal bound to another meeting with 403 and an unknown meeting with
    /// 404 `DestinationNotFound`.
    pub async fn resolve_meeting(&self, principal: &Principal, organizer: &str, id: &str) -> ServiceResult<String> {
        check_bound_meeting(principal, organizer, id)?;
        // Through the engine: its copy, checked with one round trip, is the one the join then
        // runs on.
        if self.meetings.read(id).await?.meeting.settings().organizer_uri != organizer {
            return Err(meeting_not_found());
        }
        Ok(id.to_owned())
    }

    /// The join of a new session `session_id` of `app`.
    pub fn join_command(
        &self,
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
            lobby_timeout_ms: self.limits.lobby_timeout_ms(),
        }
        .into()
    }

    /// Runs a join command, refusing a meeting `organizer` (when given) does not organize
    /// with 404 `DestinationNotFound`, and meetings that can no longer be joined.
    pub async fn run_join(&self, meeting_id: &str, organizer: Option<&str>, cmd: Command) -> ServiceResult<()> {
        self.meetings
            .run(meeting_id, |record, now| {
                if organizer.is_some_and(|o| record.meeting.settings().organizer_uri != o) {
                    return Err(meeting_not_found());
                }
                if !is_joinable(record, now) {
                    return Err(MeetingError::Ended.into());
                }
                Ok(((), record.meeting.handle(cmd.clone(), now)?))
            })
            .await
    }
}

/// Refuses an anonymous principal bound to another meeting than `organizer`'s `id` with 403.
fn check_bound_meeting(principal: &Principal, organizer: &str, id: &str) -> ServiceResult<()> {
    if let Some(meeting_uri) = principal.meeting_uri()
        && parse_conference_uri(meeting_uri).is_none_or(|(o, i)| o != organizer || !i.eq_ignore_ascii_case(id))
    {
        return Err(ServiceError::forbidden("This anonymous sign-in is for another meeting."));
    }
    Ok(())
}
