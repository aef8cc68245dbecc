//! `myOnlineMeetings` / `myOnlineMeeting`
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/myonlinemeetings_ref>): the organizer
//! schedules, lists, reads, updates (with `If-Match`) and deletes meetings.
//! [`Services::create_meeting`] stores every new meeting, also the ad hoc ones that joins,
//! calls and `adhocMeetings` start; [`is_joinable`] is the one rule for whether a meeting
//! can still be entered.

use ucwa_core::conference::{join_url, new_conference_id};
use ucwa_core::credentials::random_bytes;
use ucwa_core::meeting::{AccessLevel, AutomaticLeaderAssignment, Meeting, MeetingSettings, Toggle};
use ucwa_core::model::{Application, MeetingRecord};
use ucwa_proto::input::{PropertyBag, Validator};

use crate::Services;
use crate::error::{ServiceError, ServiceResult};
use crate::render::online_meeting::{PUT_GUARD, etag};
use crate::validate::normalize_sip_uri;

/// Default lifetime of a meeting without an explicit `expirationTime`.
pub const DEFAULT_MEETING_LIFETIME_MS: i64 = 8 * 3600 * 1000;

/// How many meetings `myOnlineMeetings` lists (each embedded in full): the newest ones, so a
/// listing stays bounded however many meetings an organizer keeps.
pub const MY_MEETINGS_LISTED: u32 = 500;

const YEAR_MS: i64 = 365 * 24 * 3600 * 1000;
pub const ACCESS_LEVELS: &[&str] = &["Everyone", "Invited", "SameEnterprise", "Locked"];
pub const LEADER_ASSIGNMENTS: &[&str] = &["Disabled", "SameEnterprise", "Everyone"];
pub const TOGGLES: &[&str] = &["Disabled", "Enabled"];

/// Whether a meeting can still be joined (or a guest token issued for it) at `now`: it has
/// not expired and has not ended.
pub fn is_joinable(record: &MeetingRecord, now: i64) -> bool {
    record.meeting.settings().expiration_ms > now && !record.meeting.is_ended()
}

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
pub fn settings_from(input: &PropertyBag, base: &MeetingSettings, now: i64) -> ServiceResult<MeetingSettings> {
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

impl Services {
    /// Settings of a new meeting organized by `organizer`, living the default lifetime.
    pub fn new_meeting_settings(&self, organizer: &str) -> MeetingSettings {
        MeetingSettings::new(organizer.to_owned(), self.now_ms() + DEFAULT_MEETING_LIFETIME_MS)
    }

    /// Stores a new meeting under a fresh conference id, with its join URL under `base`;
    /// `build` makes the aggregate (`Meeting::new`, or `Meeting::two_party` for a two-party
    /// call).
    pub async fn create_meeting(
        &self,
        base: &str,
        settings: MeetingSettings,
        build: impl FnOnce(String, MeetingSettings) -> Meeting,
    ) -> ServiceResult<MeetingRecord> {
        let usage = self.store.quota_usage(&settings.organizer_uri, self.now_ms()).await?;
        if usage.meetings >= self.limits.max_meetings_per_user {
            return Err(ServiceError::Conflict {
                subcode: Some("TooManyOnlineMeetings"),
                message: "This user organizes too many meetings; delete or end one first.".into(),
            });
        }
        let id = new_conference_id(random_bytes());
        let record = MeetingRecord {
            join_url: join_url(base, &settings.organizer_uri, &id),
            meeting: build(id, settings),
            created_ms: self.now_ms(),
            settings_revision: 1,
            pending: Vec::new(),
        };
        self.meetings.create(&record).await?;
        Ok(record)
    }

    /// The meetings `app`'s owner organizes, the newest [`MY_MEETINGS_LISTED`] (none for
    /// anonymous guests).
    pub async fn my_meetings(&self, app: &Application) -> ServiceResult<Vec<MeetingRecord>> {
        if app.anonymous {
            return Ok(Vec::new());
        }
        Ok(self.store.meetings_organized_by(&app.owner_uri, MY_MEETINGS_LISTED).await?)
    }

    /// `POST myOnlineMeetings`: schedules a meeting organized by `app`'s owner.
    pub async fn schedule_meeting(
        &self,
        app: &Application,
        base: &str,
        input: &PropertyBag,
    ) -> ServiceResult<MeetingRecord> {
        if app.anonymous {
            return Err(ServiceError::forbidden("Anonymous users cannot schedule meetings."));
        }
        let settings = settings_from(input, &self.new_meeting_settings(&app.owner_uri), self.now_ms())?;
        self.create_meeting(base, settings, Meeting::new).await
    }

    /// One of the meetings `app`'s owner organizes; anyone else's answers 404.
    pub async fn my_meeting(&self, app: &Application, meeting_id: &str) -> ServiceResult<MeetingRecord> {
        let record = self.store.meeting(meeting_id).await?.ok_or_else(ServiceError::not_found)?;
        if app.anonymous || record.meeting.settings().organizer_uri != app.owner_uri {
            return Err(ServiceError::not_found());
        }
        Ok(record)
    }

    /// `PUT myOnlineMeeting`: replaces the settings if `if_match` names the current ETag
    /// (428 without one, 412 for a stale one); the body must carry the PUT guard.
    pub async fn update_meeting(
        &self,
        app: &Application,
        meeting_id: &str,
        if_match: Option<&str>,
        input: &PropertyBag,
    ) -> ServiceResult<MeetingRecord> {
        self.my_meeting(app, meeting_id).await?;
        let if_match = if_match.ok_or(ServiceError::PreconditionRequired)?.trim();
        if !input.contains(PUT_GUARD) {
            let mut v = Validator::new();
            v.fail("putGuard", format!("a PUT must carry every property, including {PUT_GUARD}"));
            v.finish()?;
        }
        let now = self.now_ms();
        self.meetings
            .run(meeting_id, |record, _| {
                if etag(record) != if_match && record.settings_revision.to_string() != if_match {
                    return Err(ServiceError::PreconditionFailed);
                }
                let settings = settings_from(input, record.meeting.settings(), now)?;
                record.meeting.update_settings(settings)?;
                record.settings_revision += 1;
                Ok((record.clone(), Vec::new()))
            })
            .await
    }

    /// `DELETE myOnlineMeeting`: everyone in it is disconnected, then it is gone.
    pub async fn delete_meeting(&self, app: &Application, meeting_id: &str) -> ServiceResult<()> {
        self.my_meeting(app, meeting_id).await?;
        self.meetings.delete(meeting_id).await
    }
}
