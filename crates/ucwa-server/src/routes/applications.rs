//! `applications` and `application` (`ucwa-spec.md` §3): create (idempotent per user and
//! endpoint id), get, delete; plus the dashboards embedded in an application (`me`,
//! `people`, `onlineMeetings`, `communication`) and `makeMeAvailable`.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use ucwa_core::channel::Priority;
use ucwa_core::credentials::new_id;
use ucwa_core::model::{AppKind, AppStatus, Application, NewApplication, NewEvent, Principal};
use ucwa_proto::event::{Event, EventType, RelLink};
use ucwa_proto::input::Validator;
use ucwa_proto::{Namespace, Resource};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::Input;
use crate::render::online_meeting::PUT_GUARD;
use crate::response::{Json, json_response};
use crate::state::{AppState, now_ms};
use crate::urls::AppUrls;

/// Loads an application for its owner. Someone else's application is reported exactly like
/// a missing one, so ids reveal nothing.
pub async fn load_owned(state: &AppState, caller: &Caller, app_id: &str) -> ApiResult<Application> {
    let app = state.store.application(app_id).await?.ok_or_else(ApiError::application_not_found)?;
    if !owns(caller, &app) {
        return Err(ApiError::application_not_found());
    }
    if app.status == AppStatus::Expired {
        return Err(ApiError::Gone {
            subcode: "InactiveApplicationExpired",
            message: "The application expired because its event channel was not used.".into(),
        });
    }
    Ok(app)
}

/// Whether `app` belongs to the caller: same URI and same kind of principal (a user and a
/// service endpoint that share a URI never share applications).
fn owns(caller: &Caller, app: &Application) -> bool {
    app.owner_uri == caller.0.uri() && app.anonymous == caller.0.is_anonymous() && app.kind == caller.0.app_kind()
}

pub async fn create(State(state): State<AppState>, caller: Caller, Input(input): Input) -> ApiResult<Response> {
    match &caller.0 {
        Principal::Service { .. } => {
            return Err(ApiError::Forbidden {
                subcode: None,
                message: "Service applications are reached through /platformservice/v1/applications.".into(),
            });
        }
        Principal::PsGuest { .. } => return crate::routes::psanon::create(&state, &caller, &input).await,
        Principal::User { .. } | Principal::Anonymous { .. } => {}
    }
    let mut v = Validator::new();
    let user_agent = v.check(input.required_string("userAgent", 100));
    let endpoint_id = v.check(input.required_string("endpointId", 100));
    let culture = v.check(input.required_string("culture", 100));
    let instance_id = v.check(input.string("instanceId", 100));
    v.finish()?;
    let principal = &caller.0;
    let display_name = match state.store.find_user(principal.uri()).await? {
        Some(user) => user.display_name,
        None => String::new(),
    };
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
    let (app, created) = state.store.create_application(&new, state.channel_limits.defaults(), now_ms()).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(json_response(status, render_application(&app).to_string()))
}

pub async fn get(State(state): State<AppState>, caller: Caller, Path(app_id): Path<String>) -> ApiResult<Response> {
    let app = load_owned(&state, &caller, &app_id).await?;
    let body = state.rendered_apps.get_or_render(&app);
    Ok(json_response(StatusCode::OK, body))
}

/// Rendered application bodies, reused while the application is unchanged. Clients poll
/// their application often, and rendering its ~3 KB of links costs more than the rest of
/// the request. An entry is valid only for an identical [`Application`] value, so a change
/// anywhere (a new batch, availability, expiry) renders afresh.
#[derive(Default)]
pub struct RenderedApplications {
    bodies: Mutex<HashMap<String, (Application, Bytes)>>,
}

impl RenderedApplications {
    const CAPACITY: usize = 50_000;

    pub fn get_or_render(&self, app: &Application) -> Bytes {
        {
            let bodies = self.bodies.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((cached, body)) = bodies.get(&app.id)
                && cached == app
            {
                return body.clone();
            }
        }
        // Rendered outside the lock: two requests may both render, which is harmless.
        let body = Bytes::from(render_application(app).to_string());
        let mut bodies = self.bodies.lock().unwrap_or_else(|p| p.into_inner());
        if bodies.len() >= Self::CAPACITY {
            bodies.clear();
        }
        bodies.insert(app.id.clone(), (app.clone(), body.clone()));
        body
    }
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
) -> ApiResult<StatusCode> {
    // An expired application may still be deleted by its owner.
    let app = state.store.application(&app_id).await?.ok_or_else(ApiError::application_not_found)?;
    if !owns(&caller, &app) {
        return Err(ApiError::application_not_found());
    }
    // Its conversations end first, so the other participants see it leave.
    crate::sweeper::leave_all(&state, &app_id).await;
    state.store.delete_application(&app_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(State(state): State<AppState>, caller: Caller, Path(app_id): Path<String>) -> ApiResult<Json> {
    let app = load_owned(&state, &caller, &app_id).await?;
    Ok(Json(render_me(&app).into_value()))
}

pub async fn communication(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
) -> ApiResult<Json> {
    let app = load_owned(&state, &caller, &app_id).await?;
    Ok(Json(render_communication(&app).into_value()))
}

/// `POST me/makeMeAvailable`: signs the application in for communication. Emits `me` and
/// `communication` updated events, as a real server does; the link then gives way to
/// `reportMyActivity`.
pub async fn make_me_available(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
    Input(input): Input,
) -> ApiResult<StatusCode> {
    let app = load_owned(&state, &caller, &app_id).await?;
    let mut v = Validator::new();
    v.check(input.enumeration("signInAs", &["Online", "Busy", "DoNotDisturb", "BeRightBack", "Away", "Offwork"]));
    v.check(input.string_list("supportedModalities", 50));
    v.check(input.string_list("supportedMessageFormats", 50));
    v.finish()?;
    let urls = AppUrls::of(&app);
    let mut now_available = app.clone();
    now_available.available = true;
    let me_event = Event::new(EventType::Updated, RelLink::new("me", urls.me()))
        .embedding("me", render_me(&now_available).into_value());
    let comm_event = Event::new(EventType::Updated, RelLink::new("communication", urls.communication()))
        .embedding("communication", render_communication(&now_available).into_value());
    let events = vec![
        NewEvent {
            app_id: app.id.clone(),
            priority: Priority::Medium,
            sender_rel: "me".into(),
            sender_href: urls.me(),
            body: me_event.to_value(),
            conversation: None,
        },
        NewEvent {
            app_id: app.id.clone(),
            priority: Priority::Medium,
            sender_rel: "communication".into(),
            sender_href: urls.communication(),
            body: comm_event.to_value(),
            conversation: None,
        },
    ];
    if !state.store.make_available(&app.id, events, now_ms()).await? {
        return Err(ApiError::conflict("The application is already available."));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST me/reportMyActivity`: keeps an available application from counting as idle.
pub async fn report_my_activity(
    State(state): State<AppState>,
    caller: Caller,
    Path(app_id): Path<String>,
) -> ApiResult<StatusCode> {
    let app = load_owned(&state, &caller, &app_id).await?;
    if !app.available {
        return Err(ApiError::conflict("Call makeMeAvailable first."));
    }
    state.store.touch_channel(&app.id, app.channel, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Dashboards whose only content here is their links: `people`, `onlineMeetings` and their
/// sub-resources that this server does not populate (contacts, presence, dial-in), and
/// `policies`. They exist so that the hypermedia a client follows never leads to a 404.
pub async fn dashboard(
    State(state): State<AppState>,
    caller: Caller,
    Path((app_id, rest)): Path<(String, String)>,
) -> ApiResult<Response> {
    let app = load_owned(&state, &caller, &app_id).await?;
    let urls = AppUrls::of(&app);
    let body = match rest.as_str() {
        "people" => render_people(&urls).into_value(),
        "onlineMeetings" => render_online_meetings(&urls).into_value(),
        "policies" => Resource::new(Namespace::Ucwa, "policies", urls.at("policies"))
            .prop("emergencyCallingPolicy", "Disabled")
            .prop("telephonyMode", "Disabled")
            .prop("photoPolicy", "Disabled")
            .prop("exchangeUnifiedMessaging", false)
            .into_value(),
        other => match EMPTY_COLLECTIONS.iter().find(|(path, _)| *path == other) {
            Some((path, rel)) => Resource::new(Namespace::Ucwa, rel, urls.at(path)).into_value(),
            None => return Err(ApiError::not_found()),
        },
    };
    Ok(Json(body).into_response())
}

/// Sub-resources advertised in the recorded application that hold nothing on this server.
const EMPTY_COLLECTIONS: &[(&str, &str)] = &[
    ("people/presenceSubscriptions", "presenceSubscriptions"),
    ("people/subscribedContacts", "subscribedContacts"),
    ("people/presenceSubscriptionMemberships", "presenceSubscriptionMemberships"),
    ("people/groups", "myGroups"),
    ("people/groupMemberships", "myGroupMemberships"),
    ("people/contacts", "myContacts"),
    ("people/privacyRelationships", "myPrivacyRelationships"),
    ("people/contactsAndGroupsSubscription", "myContactsAndGroupsSubscription"),
    ("people/search", "search"),
    ("onlineMeetings/customInvitation", "onlineMeetingInvitationCustomization"),
    ("onlineMeetings/policies", "onlineMeetingPolicies"),
    ("onlineMeetings/phoneDialInInformation", "phoneDialInInformation"),
];

pub fn render_application(app: &Application) -> serde_json::Value {
    let urls = AppUrls::of(app);
    Resource::new(Namespace::Ucwa, "application", urls.app())
        .prop("culture", app.culture.as_str())
        .prop("userAgent", app.user_agent.as_str())
        .prop("type", "Browser")
        .prop("endpointId", app.endpoint_id.as_str())
        .prop("id", app.id.as_str())
        .opt_prop("instanceId", app.instance_id.as_deref())
        .link("policies", urls.at("policies"))
        .link("batch", urls.at("batch"))
        .link("events", urls.events(app.delivered.no.max(1)))
        .embed(render_me(app))
        .embed(render_people(&urls))
        .embed(render_online_meetings(&urls))
        .embed(render_communication(app))
        .into_value()
}

fn render_me(app: &Application) -> Resource {
    let urls = AppUrls::of(app);
    Resource::new(Namespace::Ucwa, "me", urls.me())
        .prop("name", app.display_name.as_str())
        .prop("uri", app.owner_uri.as_str())
        .link_if(!app.available, "makeMeAvailable", || urls.at("me/makeMeAvailable"))
        .link_if(app.available, "reportMyActivity", || urls.at("me/reportMyActivity"))
}

/// A dashboard whose links are the sub-resources under `prefix`.
fn dashboard_resource(urls: &AppUrls, rel: &str, prefix: &str) -> Resource {
    EMPTY_COLLECTIONS
        .iter()
        .filter(|(path, _)| path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')))
        .fold(Resource::new(Namespace::Ucwa, rel, urls.at(prefix)), |r, (path, rel)| r.link(rel, urls.at(path)))
}

fn render_people(urls: &AppUrls) -> Resource {
    dashboard_resource(urls, "people", "people")
}

fn render_online_meetings(urls: &AppUrls) -> Resource {
    dashboard_resource(urls, "onlineMeetings", "onlineMeetings")
        .link("myOnlineMeetings", urls.at("onlineMeetings/myOnlineMeetings"))
        .link("onlineMeetingDefaultValues", urls.at("onlineMeetings/defaultValues"))
        .link("onlineMeetingEligibleValues", urls.at("onlineMeetings/eligibleValues"))
}

pub fn render_communication(app: &Application) -> Resource {
    let urls = AppUrls::of(app);
    let modalities = if app.available { json!(["Messaging"]) } else { json!([]) };
    Resource::new(Namespace::Ucwa, "communication", urls.communication())
        .prop(PUT_GUARD, "please pass this in a PUT request")
        .prop("supportedModalities", modalities)
        .prop("supportedMessageFormats", json!(["Plain", "Html"]))
        .prop("etag", if app.available { "2" } else { "1" })
        .link("conversations", urls.at("communication/conversations?filter=active"))
        .link("startMessaging", urls.at("communication/messagingInvitations"))
        .link("startOnlineMeeting", urls.at("communication/onlineMeetingInvitations?onlineMeetingUri=adhoc"))
        .link("joinOnlineMeeting", urls.at("communication/onlineMeetingInvitations"))
}
