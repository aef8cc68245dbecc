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

impl Services {
    /// The meeting of session `session_id` of `app` (404 for a session of another
    /// application, or none).
    pub async fn locate(&self, app: &Application, session_id: &str) -> ServiceResult<String> {
        let location = self.store.session_location(session_id).await?.filter(|l| l.app_id == app.id);
        Ok(location.ok_or_else(ServiceError::not_found)?.meeting_id)
    }

    /// What session `session_id` of `app` sees of its meeting, handed to `f` (404 for an
    /// unknown session).
    pub async fn view<T>(
        &self,
        app: &Application,
        session_id: &str,
        f: impl FnOnce(&Viewer<'_>) -> ServiceResult<T>,
    ) -> ServiceResult<T> {
        let meeting_id = self.locate(app, session_id).await?;
        self.view_meeting(&meeting_id, session_id, f).await
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
    pub async fn conversation(&self, app: &Application, session_id: &str) -> ServiceResult<Value> {
        self.view(app, session_id, |v| Ok(conversation(v, v.session.state).into_value())).await
    }

    /// Sub-resources of a conversation: its modalities, and what exists only once it is
    /// `Conferenced` (the meeting and the roster views).
    pub async fn conversation_part(&self, app: &Application, session_id: &str, part: &str) -> ServiceResult<Value> {
        self.view(app, session_id, |v| {
            if MODALITIES.contains(&part) {
                return Ok(modality(v, part).into_value());
            }
            if !v.session.in_roster() {
                return Err(ServiceError::not_found());
            }
            let resource = match part {
                "onlineMeeting" => online_meeting(v),
                "participants" => collection(v, None),
                "leaders" => collection(v, Some(View::Leaders)),
                "attendees" => collection(v, Some(View::Attendees)),
                "lobby" => collection(v, Some(View::Lobby)),
                _ => return Err(ServiceError::not_found()),
            };
            Ok(resource.into_value())
        })
        .await
    }

    /// `GET participants/{subject}` as session `session_id` sees it; `subject` is the
    /// participant's key (`bob@example.com`) or, in hrefs handed out before keys existed,
    /// its session id.
    pub async fn participant(&self, app: &Application, session_id: &str, subject: &str) -> ServiceResult<Value> {
        self.view(app, session_id, |v| {
            let subject = v.meeting().participant_session(subject).ok_or_else(ServiceError::not_found)?;
            if !visible(v, subject) {
                return Err(ServiceError::not_found());
            }
            let rel = if subject == session_id { "localParticipant" } else { "participant" };
            Ok(participant(v, subject, rel).into_value())
        })
        .await
    }

    /// `DELETE conversation`: leave the meeting (or stop waiting in its lobby).
    pub async fn leave(&self, app: &Application, session_id: &str) -> ServiceResult<()> {
        let meeting_id = self.locate(app, session_id).await?;
        self.meetings.command(&meeting_id, Command::Leave { session: session_id.to_owned() }).await
    }

    /// `POST participants/{subject}/admit|reject|promote|demote|eject`.
    pub async fn act_on_participant(
        &self,
        app: &Application,
        session_id: &str,
        subject: &str,
        action: &str,
    ) -> ServiceResult<()> {
        if !PARTICIPANT_ACTIONS.contains(&action) {
            return Err(ServiceError::not_found());
        }
        let meeting_id = self.locate(app, session_id).await?;
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
                    participant_command(action, session_id.to_owned(), target).ok_or_else(ServiceError::not_found)?;
                Ok(((), record.meeting.handle(cmd, now)?))
            })
            .await
    }
}
