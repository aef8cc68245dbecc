//! `applications` and `application`
//! (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/applications_ref>): create
//! (idempotent per owner and endpoint id), read, delete, `makeMeAvailable` and
//! `reportMyActivity`; and the rule every application-scoped use case starts with: the
//! application must be the caller's ([`Services::load_owned`]).

use std::sync::Arc;

use bytes::Bytes;
use ucwa_core::channel::Priority;
use ucwa_core::credentials::new_id;
use ucwa_core::meeting::Command;
use ucwa_core::model::{AppKind, AppStatus, Application, NewApplication, NewEvent, Principal};
use ucwa_proto::event::{Event, EventType, RelLink};
use ucwa_proto::input::{PropertyBag, Validator};

use crate::Services;
use crate::error::{ServiceError, ServiceResult};
use crate::render::application as render;
use crate::urls::AppUrls;

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
    /// Loads an application for its owner. Someone else's application is reported exactly
    /// like a missing one, so ids reveal nothing; an expired one is 410.
    pub async fn load_owned(&self, principal: &Principal, app_id: &str) -> ServiceResult<Application> {
        let app = self.store.application(app_id).await?.ok_or_else(ServiceError::application_not_found)?;
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
    pub(crate) async fn insert_application(&self, new: &NewApplication) -> ServiceResult<CreatedApplication> {
        let (app, created) = self.store.create_application(new, self.channel_limits.defaults(), self.now_ms()).await?;
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
        Ok(())
    }

    /// `POST me/makeMeAvailable`: signs the application in for communication. Emits `me` and
    /// `communication` updated events, as a real server does; the link then gives way to
    /// `reportMyActivity`.
    pub async fn make_me_available(&self, app: &Application, input: &PropertyBag) -> ServiceResult<()> {
        let mut v = Validator::new();
        v.check(input.enumeration("signInAs", &["Online", "Busy", "DoNotDisturb", "BeRightBack", "Away", "Offwork"]));
        v.check(input.string_list("supportedModalities", 50));
        v.check(input.string_list("supportedMessageFormats", 50));
        v.finish()?;
        let urls = AppUrls::of(app);
        let mut now_available = app.clone();
        now_available.available = true;
        let me = render::me(&now_available).into_value();
        let communication = render::communication(&now_available).into_value();
        let event = |rel: &str, href: String, body: serde_json::Value| NewEvent {
            app_id: app.id.clone(),
            priority: Priority::Medium,
            sender_rel: rel.into(),
            sender_href: href.clone(),
            body: Event::new(EventType::Updated, RelLink::new(rel, href)).embedding(rel, body).to_value(),
            conversation: None,
        };
        let events = vec![event("me", urls.me(), me), event("communication", urls.communication(), communication)];
        if !self.store.make_available(&app.id, events, self.now_ms()).await? {
            return Err(ServiceError::conflict("The application is already available."));
        }
        Ok(())
    }

    /// `POST me/reportMyActivity`: keeps an available application from counting as idle.
    pub async fn report_my_activity(&self, app: &Application) -> ServiceResult<()> {
        if !app.available {
            return Err(ServiceError::conflict("Call makeMeAvailable first."));
        }
        self.store.touch_channel(&app.id, app.channel, self.now_ms()).await?;
        Ok(())
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

/// Rendered application bodies, reused while the application is unchanged. Clients poll
/// their application often, and rendering its ~3 KB of links costs more than the rest of
/// the request. An entry is valid only for an identical [`Application`] value, so a change
/// anywhere (a new batch, availability, expiry) renders afresh. Bounded: past
/// [`RenderedApplications::CAPACITY`] the least useful entries are evicted.
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
