//! `applications` and `application`
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/applications_ref>): create
//! (idempotent per owner and endpoint id), read, delete, `makeMeAvailable` and
//! `reportMyActivity`; and the rule every application-scoped use case starts with: the
//! application must be the caller's ([`Services::owned`]).

use std::sync::Arc;

use bytes::Bytes;
use ucwa_core::channel::Priority;
use ucwa_core::credentials::new_id;
use ucwa_core::meeting::Command;
use ucwa_core::model::{AppKind, AppStatus, Application, NewApplication, NewEvent, Principal, PublicationChange};
use ucwa_proto::input::{PropertyBag, Validator};
use ucwa_proto::model::{AnyResource, EventType};

use crate::Services;
use crate::error::{ServiceError, ServiceResult};
use crate::people::{PREFERRED_AVAILABILITY, Part};
use crate::render::application as render;
use crate::render::people;

/// An application and whether this request created it (`201`) or found it (`200`).
pub struct CreatedApplication {
    pub app: Application,
    pub created: bool,
}

/// Whether `app` belongs to `principal`: same URI and same kind of principal (a user and a
/// service endpoint that share a URI never share applications).
fn owns(principal: &Principal, app: &Application) -> bool {
    app.owner_uri == principal.uri() && app.anonymous == principal.is_anonymous() && app.kind == principal.app_kind()
}

impl Services {
    /// The application a request names, as loaded with its token
    /// ([`Services::authenticate_with_application`]), if it is the caller's. Someone else's
    /// application is reported exactly like a missing one, so ids reveal nothing; an expired
    /// one is 410.
    pub fn owned(principal: &Principal, app: Option<Application>) -> ServiceResult<Application> {
        let app = app.ok_or_else(ServiceError::application_not_found)?;
        if !owns(principal, &app) {
            return Err(ServiceError::application_not_found());
        }
        if app.status == AppStatus::Expired {
            return Err(ServiceError::Gone {
                subcode: "InactiveApplicationExpired",
                message: "The application expired because its event channel was not used.".into(),
            });
        }
        Ok(app)
    }

    /// `POST applications`: a user's or an anonymous guest's application, or (for a `psat`
    /// guest) the guest's application under `psanon`.
    pub async fn create_application(
        &self,
        principal: &Principal,
        input: &PropertyBag,
    ) -> ServiceResult<CreatedApplication> {
        match principal {
            Principal::Service { .. } => {
                return Err(ServiceError::forbidden(
                    "Service applications are reached through /platformservice/v1/applications.",
                ));
            }
            Principal::PsGuest { .. } => return self.create_guest_application(principal, input).await,
            Principal::User { .. } | Principal::Anonymous { .. } => {}
        }
        let mut v = Validator::new();
        let user_agent = v.check(input.required_string("userAgent", 100));
        let endpoint_id = v.check(input.required_string("endpointId", 100));
        let culture = v.check(input.required_string("culture", 100));
        let instance_id = v.check(input.string("instanceId", 100));
        v.finish()?;
        let display_name = self.store.find_user(principal.uri()).await?.map(|u| u.display_name).unwrap_or_default();
        let new = NewApplication {
            id: new_id(),
            owner_uri: principal.uri().to_owned(),
            anonymous: principal.is_anonymous(),
            display_name,
            endpoint_id,
            user_agent,
            culture,
            instance_id,
            kind: AppKind::Ucwa,
        };
        self.insert_application(&new).await
    }

    /// Stores a new application (or finds the owner's active one for the same endpoint).
    /// Creates the application (or finds the one of the same endpoint), within the owner's
    /// quota: a new one past `--max-applications-per-user` is taken back and refused with
    /// 410 Gone / TooManyApplications (the documented per-user limit).
    pub(crate) async fn insert_application(&self, new: &NewApplication) -> ServiceResult<CreatedApplication> {
        let now = self.now_ms();
        let before = self.store.quota_usage(&new.owner_uri, now).await?.applications;
        let (app, created) = self.store.create_application(new, self.channel_limits.defaults(), now).await?;
        if created && before >= self.limits.max_applications_per_user {
            self.store.delete_application(&app.id).await?;
            self.metrics.rate_limited("applications_per_user");
            return Err(ServiceError::Gone {
                subcode: "TooManyApplications",
                message: "This user has too many applications; delete one first.".into(),
            });
        }
        Ok(CreatedApplication { app, created })
    }

    /// The rendered application, reused while it is unchanged.
    pub fn application_body(&self, app: &Application) -> Bytes {
        self.rendered_apps.get_or_render(app)
    }

    /// `DELETE application`: its conversations end first (the other participants see it
    /// leave), then it is gone. An expired application may still be deleted by its owner.
    pub async fn delete_application(&self, principal: &Principal, app_id: &str) -> ServiceResult<()> {
        let app = self.store.application(app_id).await?.ok_or_else(ServiceError::application_not_found)?;
        if !owns(principal, &app) {
            return Err(ServiceError::application_not_found());
        }
        self.leave_all(app_id).await;
        self.store.delete_application(app_id).await?;
        self.after_going_away(&app).await;
        Ok(())
    }

    /// `POST me/makeMeAvailable`: signs the application in for communication. Emits `me` and
    /// `communication` updated events, as a real server does; the link then gives way to
    /// `reportMyActivity`.
    pub async fn make_me_available(&self, app: &Application, input: &PropertyBag) -> ServiceResult<()> {
        let mut v = Validator::new();
        let sign_in_as = v.check(input.enumeration("signInAs", PREFERRED_AVAILABILITY));
        v.check(input.string_list("supportedModalities", 50));
        v.check(input.string_list("supportedMessageFormats", 50));
        v.finish()?;
        let mut now_available = app.clone();
        now_available.available = true;
        // `me` and `communication` updated, each its own sender, the resource embedded.
        let event = |resource: AnyResource| {
            let event = ucwa_proto::model::Event::about(EventType::Updated, resource);
            NewEvent {
                app_id: app.id.clone(),
                priority: Priority::Medium,
                sender_rel: event.link.rel.to_string(),
                sender_href: event.link.href.clone(),
                body: crate::render::json(&event),
                conversation: None,
            }
        };
        // As recorded (`receiveanim` step 7): `me` updated, then the user's presence, note and
        // location added (a signed-in user's only), then `communication` updated.
        let mut events = vec![event(render::me(&now_available).into())];
        if !app.anonymous {
            let added = |part| people::me_event(app, part, EventType::Added);
            events.extend([added("presence"), added("note"), added("location")]);
        }
        events.push(event(render::communication(&now_available).into()));
        let appended = events.len();
        if !self.store.make_available(&app.id, events, self.now_ms()).await? {
            return Err(ServiceError::Conflict {
                subcode: Some("AlreadyExists"),
                message: "The application is already available.".into(),
            });
        }
        if app.anonymous {
            return Ok(());
        }
        // The user may just have come online; `signInAs` sets the availability it shows.
        match sign_in_as {
            Some(availability) => {
                let change = PublicationChange::Availability(Some(availability.to_owned()));
                self.publish_change(&app.owner_uri, Part::Presence, &change, Some(&app.id)).await?;
            }
            None => self.presence_may_have_changed(&app.owner_uri).await,
        }
        self.metrics.events_appended(appended);
        Ok(())
    }

    /// `POST me/reportMyActivity` (and `POST reportMyActivity` below the application, the
    /// href of the reference page's sample that UCWA 1.0 clients keep-alive with): keeps an
    /// available application from counting as idle
    /// (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/reportmyactivity_ref>).
    pub async fn report_my_activity(&self, app: &Application) -> ServiceResult<()> {
        if !app.available {
            return Err(make_me_available_required());
        }
        self.store.touch_channel(&app.id, app.channel, self.now_ms()).await?;
        Ok(())
    }

    /// Tells the watchers of `app`'s owner when its last available application went away
    /// (deleted or expired): it now shows `Offline`.
    pub(crate) async fn after_going_away(&self, app: &Application) {
        if !app.available || app.anonymous {
            return;
        }
        match self.store.online_applications(&app.owner_uri).await {
            Ok(left) if left.is_empty() => self.presence_may_have_changed(&app.owner_uri).await,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "listing the user's applications failed"),
        }
    }

    /// Ends every conversation of an application that is going away (deleted or expired).
    pub async fn leave_all(&self, app_id: &str) {
        let sessions = match self.store.sessions_of_application(app_id).await {
            Ok(s) => s,
            Err(e) => return tracing::warn!(error = %e, "listing conversations failed"),
        };
        for s in sessions {
            let cmd = Command::Leave { session: s.session_id.clone() };
            if let Err(e) = self.meetings.command(&s.meeting_id, cmd).await {
                tracing::debug!(session = %s.session_id, error = ?e, "leaving on application end");
            }
        }
    }
}

/// `409 Conflict / MakeMeAvailableRequired`: what presence, note, location and
/// `reportMyActivity` answer before `makeMeAvailable`.
pub fn make_me_available_required() -> ServiceError {
    ServiceError::Conflict { subcode: Some("MakeMeAvailableRequired"), message: "Call makeMeAvailable first.".into() }
}

/// Rendered application bodies, reused while the application is unchanged. Clients poll
/// their application often, and rendering its ~3 KB of links costs more than the rest of
/// the request. An entry is valid only for an identical [`Application`] value, so a change
/// anywhere (a new batch, availability, expiry) renders afresh. Bounded: past
/// `RenderedApplications::CAPACITY` the least useful entries are evicted.
pub struct RenderedApplications {
    bodies: moka::sync::Cache<String, Arc<(Application, Bytes)>>,
}

impl Default for RenderedApplications {
    fn default() -> Self {
        Self { bodies: moka::sync::Cache::new(Self::CAPACITY) }
    }
}

impl RenderedApplications {
    const CAPACITY: u64 = 50_000;

    pub fn get_or_render(&self, app: &Application) -> Bytes {
        if let Some(cached) = self.bodies.get(&app.id)
            && cached.0 == *app
        {
            return cached.1.clone();
        }
        // Two requests may both render, which is harmless.
        let body = Bytes::from(render::application(app).to_string());
        self.bodies.insert(app.id.clone(), Arc::new((app.clone(), body.clone())));
        body
    }
}
