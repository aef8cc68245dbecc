//! A conversation, its `onlineMeeting`, the roster collections (participants, leaders,
//! attendees, lobby) and the participant actions (admit, reject, promote, demote, eject):
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/conversation_ref>,
//! <https://learn.microsoft.com/en-us/skype-sdk/ucwa/participant_ref>. Capability links
//! follow the viewer; acting without the capability is refused.
//!
//! Also the lookups every conversation-scoped use case starts with: [`Services::locate`] (the
//! meeting of a session of the caller's application) and [`Services::view`] (what that
//! session sees).

use serde_json::Value;
use ucwa_core::meeting::{Command, View};
use ucwa_core::model::{AppKind, Application};
use ucwa_core::store::SessionLocation;

use crate::Services;
use crate::error::{ServiceError, ServiceResult};
use crate::render::Viewer;
use ucwa_proto::RelName;

use crate::render::conversation::{MODALITIES, collection, conversation, modality};
use crate::render::online_meeting::online_meeting;
use crate::render::participant::participant;

/// Whether `viewer` may see `subject` at all: itself, roster members, and (for leaders)
/// lobby participants; hidden trusted sessions only themselves.
fn visible(v: &Viewer<'_>, subject_id: &str) -> bool {
    let Some(subject) = v.meeting().session(subject_id) else { return false };
    if subject_id == v.id {
        return true;
    }
    v.session.in_roster()
        && !subject.identity.trusted
        && (subject.in_roster() || (subject.is_waiting() && v.session.leads()))
}

/// The actions a participant link offers (each spelled as its rel).
const PARTICIPANT_ACTIONS: [&str; 5] = ["admit", "reject", "promote", "demote", "eject"];

/// The meeting command of a participant action by `actor` on `target`.
fn participant_command(action: &str, actor: String, target: String) -> Option<Command> {
    match action {
        "admit" => Some(Command::Admit { actor, target }),
        "reject" => Some(Command::Reject { actor, target }),
        "promote" => Some(Command::Promote { actor, target }),
        "demote" => Some(Command::Demote { actor, target }),
        "eject" => Some(Command::Eject { actor, target }),
        _ => None,
    }
}

/// A session a request names under its application (a conversation or an invitation), and
/// where it lives when that was read together with the caller's token
/// ([`Services::authenticate_with_application`]): the look-up [`Services::locate`] starts
/// with, without a round trip of its own.
#[derive(Debug, Clone)]
pub struct SessionRef {
    id: String,
    /// `Some` once read (`Some(None)`: there is no such session).
    found: Option<Option<SessionLocation>>,
}

impl SessionRef {
    /// Session `id`, not looked up yet.
    pub fn unread(id: &str) -> Self {
        Self { id: id.to_owned(), found: None }
    }

    /// Session `id`, found at `location` (`None`: there is no such session).
    pub fn read(id: &str, location: Option<SessionLocation>) -> Self {
        Self { id: id.to_owned(), found: Some(location) }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Services {
    /// The meeting of `session` of `app` (404 for a session of another application, or
    /// none).
    pub async fn locate(&self, app: &Application, session: &SessionRef) -> ServiceResult<String> {
        let location = match &session.found {
            Some(found) => found.clone(),
            None => self.store.session_location(&session.id).await?,
        };
        let location = location.filter(|l| l.session_id == session.id && l.app_id == app.id);
        Ok(location.ok_or_else(ServiceError::not_found)?.meeting_id)
    }

    /// What `session` of `app` sees of its meeting, handed to `f` (404 for an unknown
    /// session).
    pub async fn view<T>(
        &self,
        app: &Application,
        session: &SessionRef,
        f: impl FnOnce(&Viewer<'_>) -> ServiceResult<T>,
    ) -> ServiceResult<T> {
        let meeting_id = self.locate(app, session).await?;
        self.view_meeting(&meeting_id, session.id(), f).await
    }

    /// What session `session_id` sees of meeting `meeting_id`, handed to `f` (404 when the
    /// meeting has no such session).
    pub async fn view_meeting<T>(
        &self,
        meeting_id: &str,
        session_id: &str,
        f: impl FnOnce(&Viewer<'_>) -> ServiceResult<T>,
    ) -> ServiceResult<T> {
        let record = self.meetings.read(meeting_id).await?;
        let viewer = Viewer::new(&record, session_id).ok_or_else(ServiceError::not_found)?;
        f(&viewer)
    }

    /// `GET communication/conversations`: the application's live conversations.
    pub async fn conversations(&self, app: &Application) -> ServiceResult<Vec<SessionLocation>> {
        Ok(self.store.sessions_of_application(&app.id).await?)
    }

    /// `GET conversation`.
    pub async fn conversation(&self, app: &Application, session: &SessionRef) -> ServiceResult<Value> {
        self.view(app, session, |v| Ok(conversation(v, v.session.state).into_value())).await
    }

    /// Sub-resources of a conversation: its modalities, and what exists only once it is
    /// `Conferenced` (the meeting and the roster views).
    pub async fn conversation_part(&self, app: &Application, session: &SessionRef, part: &str) -> ServiceResult<Value> {
        let part = RelName::from(part);
        self.view(app, session, |v| {
            if MODALITIES.contains(&part) {
                return Ok(modality(v, part.clone()).into_value());
            }
            if !v.session.in_roster() {
                return Err(ServiceError::not_found());
            }
            let resource = match part {
                RelName::OnlineMeeting => online_meeting(v).into_value(),
                RelName::Participants => collection(v, None).into_value(),
                RelName::Leaders => collection(v, Some(View::Leaders)).into_value(),
                RelName::Attendees => collection(v, Some(View::Attendees)).into_value(),
                RelName::Lobby => collection(v, Some(View::Lobby)).into_value(),
                _ => return Err(ServiceError::not_found()),
            };
            Ok(resource)
        })
        .await
    }

    /// `GET participants/{subject}` as `session` sees it; `subject` is the participant's key
    /// (`bob@example.com`) or, in hrefs handed out before keys existed, its session id.
    pub async fn participant(&self, app: &Application, session: &SessionRef, subject: &str) -> ServiceResult<Value> {
        self.view(app, session, |v| {
            let subject = v.meeting().participant_session(subject).ok_or_else(ServiceError::not_found)?;
            if !visible(v, subject) {
                return Err(ServiceError::not_found());
            }
            let rel = if subject == session.id() { RelName::LocalParticipant } else { RelName::Participant };
            Ok(participant(v, subject, rel).into_value())
        })
        .await
    }

    /// `DELETE conversation`: leave the meeting (or stop waiting in its lobby).
    pub async fn leave(&self, app: &Application, session: &SessionRef) -> ServiceResult<()> {
        let meeting_id = self.locate(app, session).await?;
        self.meetings.command(&meeting_id, Command::Leave { session: session.id().to_owned() }).await
    }

    /// `POST participants/{subject}/admit|reject|promote|demote|eject`.
    pub async fn act_on_participant(
        &self,
        app: &Application,
        session: &SessionRef,
        subject: &str,
        action: &str,
    ) -> ServiceResult<()> {
        if !PARTICIPANT_ACTIONS.contains(&action) {
            return Err(ServiceError::not_found());
        }
        let meeting_id = self.locate(app, session).await?;
        if app.kind == AppKind::Service {
            // A service application rules only over meetings of its domains.
            let record = self.store.meeting(&meeting_id).await?.ok_or_else(ServiceError::not_found)?;
            let organizer = &record.meeting.settings().organizer_uri;
            self.ensure_domain(app, organizer, "admit, reject, promote, demote or eject participants").await?;
        }
        self.meetings
            .run(&meeting_id, |record, now| {
                // The subject is named by its participant key (or, in older hrefs, its id).
                let target = record.meeting.participant_session(subject).cloned().unwrap_or_else(|| subject.to_owned());
                let cmd =
                    participant_command(action, session.id().to_owned(), target).ok_or_else(ServiceError::not_found)?;
                Ok(((), record.meeting.handle(cmd, now)?))
            })
            .await
    }
}
