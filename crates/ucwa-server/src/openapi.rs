//! The OpenAPI 3.1 description of the HTTP surface, served at `GET /openapi.json` and kept in
//! the repository as `docs/openapi.json` (a test fails when the two differ; regenerate with
//! `UPDATE_OPENAPI=1 cargo nextest run -p ucwa-server --test openapi`).
//!
//! It is generated, not written: the application routes come from the route table
//! `ucwa_proto::paths::ROUTES` (every template, method and surface the server serves), the
//! entry points from the same module's constants, and each request body's properties from the
//! typed request model (`ucwa_proto::request`, serialised with every field set), with the
//! spellings of its enumerations (`ucwa_proto::values`). utoipa's builders (no derive macros:
//! the wire types serialise by hand) assemble the document.
//!
//! Responses are described as UCWA answers them: resources are HAL objects with `_links.self`,
//! operations that start something answer `201` with a `Location`, actions `204`, and every
//! refusal is a `4XX` with the UCWA error body (the token endpoint: an OAuth error).

use serde_json::{Value, json};
use ucwa_proto::SipUri;
use ucwa_proto::paths::{self, Prefix, ROUTES, Route};
use ucwa_proto::request::{
    AddParticipant, AnonApplicationTokenRequest, Decline, JoinOnlineMeeting, MakeMeAvailable, MeetingSettings,
    NewAnonApplication, NewApplication, PresenceSubscriptionRequest, Publication, StartMessaging,
};
use ucwa_proto::values::{
    AccessLevel, AutomaticLeaderAssignment, EntryExitAnnouncement, Importance, LocalParticipantType, MessageFormat,
    ModalityType, PreferredAvailability, Toggle, WireDate,
};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr, Required,
    ResponseBuilder, ServerBuilder,
};

const JSON: &str = "application/json";
const BEARER: &str = "bearer";

/// The document, the same for every request (relative to the server it is fetched from).
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for (path, method, operation) in entry_points().into_iter().chain(application_operations()) {
        paths = paths.path(path, PathItem::new(method, operation));
    }
    let mut components = ComponentsBuilder::new();
    // The request bodies, one schema each (several routes take the same).
    let required: &[&str] = &["userAgent", "endpointId", "culture", "applicationSessionId", "meetingUrl"];
    for route in ROUTES {
        for prefix in Prefix::ALL.into_iter().filter(|p| route.surfaces.includes(*p)) {
            for (name, example) in route.methods.iter().filter_map(|m| request_body(route, m, prefix)) {
                components = components.schema(name, schema_of(&example, required));
            }
        }
    }
    let components = components
        .schema("Error", error_schema())
        .schema("OAuthError", object(&[("error", string())], &["error"]))
        .schema("Resource", resource_schema())
        .schema("EventBatch", event_batch_schema())
        .security_scheme(BEARER, SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)))
        .build();
    let description = "UCWA 2.0 and the Trusted Application API (online-meeting join surface), as OpenUCWA \
                       serves them. Generated from the server's route table and request model; see \
                       docs/protocol.md for each resource's behaviour.";
    OpenApiBuilder::new()
        .info(InfoBuilder::new().title("OpenUCWA").version(env!("CARGO_PKG_VERSION")).description(Some(description)))
        .servers(Some([ServerBuilder::new().url("/").build()]))
        .paths(paths)
        .components(Some(components))
        .build()
}

/// The document as served: pretty JSON with a final newline (what `docs/openapi.json` holds).
pub fn document_json() -> String {
    let mut text = document().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// `GET /openapi.json`. Built once: it never changes while the server runs.
pub async fn serve() -> axum::response::Response {
    static DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(document_json);
    crate::response::json_response(axum::http::StatusCode::OK, DOCUMENT.as_str())
}

type Operation = (String, HttpMethod, utoipa::openapi::path::Operation);

fn method(name: &str) -> Option<HttpMethod> {
    Some(match name {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "DELETE" => HttpMethod::Delete,
        _ => return None,
    })
}

/// What a successful answer looks like.
#[derive(Clone, Copy)]
enum Success {
    /// `200` with a resource.
    Resource,
    /// `200` (existing) or `201` (created) with a resource.
    Upsert,
    /// `201` with a resource and its Location.
    CreatedResource,
    /// `201`, a `Location` and no body: an operation started.
    Started,
    /// `204`: an action done.
    Done,
    /// `200` with an event batch.
    Events,
    /// `200` with a multipart batch of answers.
    Multipart,
    /// Never succeeds: advertised but not offered (`403`).
    Refused,
}

fn success(route: &Route, method: &str, prefix: Prefix) -> Success {
    use paths::*;
    match (route.template, method) {
        (_, "DELETE") => Success::Done,
        (_, "GET") if route.template == EVENTS => Success::Events,
        (_, "GET") => Success::Resource,
        (APPLICATIONS, "POST") => Success::Upsert,
        (MY_ONLINE_MEETINGS | PRESENCE_SUBSCRIPTIONS | PRESENCE_SUBSCRIPTION, "POST") => Success::CreatedResource,
        (ADHOC_MEETINGS | ANON_APPLICATION_TOKENS, "POST") | (_, "PUT") => Success::Resource,
        (BATCH, _) => Success::Multipart,
        (USER_MEETING_INVITATIONS, _) => Success::Refused,
        (MESSAGING_INVITATIONS, _) if prefix == Prefix::Platform => Success::Refused,
        (ONLINE_MEETING_INVITATIONS | PARTICIPANT_INVITATIONS | MESSAGING_INVITATIONS | MESSAGES | MESSAGE, _) => {
            Success::Started
        }
        _ => Success::Done,
    }
}

/// The JSON body a route takes, as an example of the request model with every field set.
fn request_body(route: &Route, method: &str, prefix: Prefix) -> Option<(&'static str, Value)> {
    use paths::*;
    let uri = SipUri::parse("sip:alice@example.com").ok();
    let meeting = SipUri::parse("sip:alice@example.com;gruu;opaque=app:conf:focus:id:JE49B6SO").ok();
    let (name, body) = match (route.template, method) {
        (APPLICATIONS, "POST") if prefix == Prefix::Anonymous || prefix == Prefix::PsAnon => {
            let mut app = NewAnonApplication::new("Grace Hopper", "browser", "en-US");
            (app.endpoint_id, app.instance_id) = (Some("endpoint-1".into()), Some("instance-1".into()));
            ("NewAnonApplication", serde_json::to_value(app))
        }
        (APPLICATIONS, "POST") => {
            let mut app = NewApplication::new("bot/1.0", "endpoint-1", "en-US");
            app.instance_id = Some("instance-1".into());
            ("NewApplication", serde_json::to_value(app))
        }
        (MAKE_ME_AVAILABLE, _) => {
            let mut available = MakeMeAvailable::default();
            available.sign_in_as = Some("Online".into());
            available.supported_modalities = Some(vec![ModalityType::Messaging]);
            available.supported_message_formats = Some(vec![MessageFormat::Plain]);
            ("MakeMeAvailable", serde_json::to_value(available))
        }
        (ONLINE_MEETING_INVITATIONS, _) => {
            let mut join = JoinOnlineMeeting::new(meeting, "op-1");
            join.subject = Some("Weekly".into());
            join.importance = Some(Importance::Normal);
            join.thread_id = Some("thread-1".into());
            join.anonymous_display_name = Some("Grace Hopper".into());
            join.callback_url = Some("https://bot.example.com/callback".into());
            join.callback_context = Some("context".into());
            join.local_participant_uri = uri;
            join.local_participant_display_name = Some("Alice".into());
            join.local_participant_type = Some(LocalParticipantType::TrustedParticipant);
            ("JoinOnlineMeeting", serde_json::to_value(join))
        }
        (PARTICIPANT_INVITATIONS, _) => {
            let mut invite = AddParticipant::new(uri?, "op-1");
            (invite.subject, invite.importance, invite.message) =
                (Some("Join us".into()), Some(Importance::Normal), Some("Hello".into()));
            ("AddParticipant", serde_json::to_value(invite))
        }
        (MESSAGING_INVITATIONS, _) if prefix != Prefix::Platform => {
            // `startMessaging`; `addMessaging` (with `?conversation=`) reads only `operationId`.
            let mut call = StartMessaging::new(uri?, "op-1");
            (call.subject, call.importance, call.thread_id, call.message) =
                (Some("Hi".into()), Some(Importance::Normal), Some("thread-1".into()), Some("Hello".into()));
            ("StartMessaging", serde_json::to_value(call))
        }
        (MESSAGING_INVITATION_ACTION | ONLINE_MEETING_INVITATION_ACTION, _) => {
            ("Decline", serde_json::to_value(Decline::new(Some("Local"))))
        }
        (MY_ONLINE_MEETINGS | MY_ONLINE_MEETING | ADHOC_MEETINGS, "POST" | "PUT") => {
            let mut settings = MeetingSettings::default();
            settings.subject = Some("Weekly".into());
            settings.description = Some("Status".into());
            settings.access_level = Some(AccessLevel::Locked);
            settings.attendees = uri.clone().map(|u| vec![u]);
            settings.leaders = uri.map(|u| vec![u]);
            settings.automatic_leader_assignment = Some(AutomaticLeaderAssignment::Disabled);
            settings.entry_exit_announcement = Some(EntryExitAnnouncement::Disabled);
            settings.expiration_time = Some(WireDate::from_unix_ms(1_900_000_000_000));
            settings.lobby_bypass_for_phone_users = Some(Toggle::Disabled);
            settings.phone_user_admission = Some(Toggle::Disabled);
            ("MeetingSettings", serde_json::to_value(settings))
        }
        (ME_PART, "POST") => {
            // One route for the three parts; each reads its own property.
            let mut publication = Publication::default();
            publication.availability = Some(PreferredAvailability::Away);
            publication.message = Some("Out until noon".into());
            publication.location = Some("Redmond".into());
            ("Publication", serde_json::to_value(publication))
        }
        (PRESENCE_SUBSCRIPTIONS | PRESENCE_SUBSCRIPTION | ADD_TO_PRESENCE_SUBSCRIPTION, "POST") => {
            // Subscribe reads both, extend only `duration`, addToPresenceSubscription `uris`.
            let bob = SipUri::parse("sip:bob@example.com").ok();
            (
                "PresenceSubscriptionRequest",
                serde_json::to_value(PresenceSubscriptionRequest::new(10, bob.into_iter().collect())),
            )
        }
        (ANON_APPLICATION_TOKENS, _) => {
            let mut token =
                AnonApplicationTokenRequest::new("session-1", "https://meet.example.com/meet/alice/JE49B6SO");
            token.allowed_origins = Some("https://www.example.com".into());
            ("AnonApplicationTokenRequest", serde_json::to_value(token))
        }
        _ => return None,
    };
    Some((name, body.ok()?))
}

/// The spellings a property's value takes, for the properties that are enumerations.
fn spellings(property: &str) -> Option<&'static [&'static str]> {
    Some(match property {
        "importance" => Importance::SPELLINGS,
        "availability" => PreferredAvailability::SPELLINGS,
        "accessLevel" => AccessLevel::SPELLINGS,
        "automaticLeaderAssignment" => AutomaticLeaderAssignment::SPELLINGS,
        "entryExitAnnouncement" => EntryExitAnnouncement::SPELLINGS,
        "lobbyBypassForPhoneUsers" | "phoneUserAdmission" => Toggle::SPELLINGS,
        "localParticipantType" => LocalParticipantType::SPELLINGS,
        "supportedModalities" => ModalityType::SPELLINGS,
        "supportedMessageFormats" => MessageFormat::SPELLINGS,
        _ => return None,
    })
}

/// A schema with the properties (and their JSON types) of `example`; unknown properties are
/// allowed, as UCWA servers ignore them.
fn schema_of(example: &Value, required: &[&str]) -> Schema {
    let mut object = ObjectBuilder::new().schema_type(Type::Object);
    for (name, value) in example.as_object().into_iter().flatten() {
        let enumeration = spellings(name);
        let property: Schema = match value {
            Value::Array(_) => {
                let item = match enumeration {
                    Some(values) => ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values.to_vec())),
                    None => ObjectBuilder::new().schema_type(Type::String),
                };
                ArrayBuilder::new().items(item).into()
            }
            Value::Bool(_) => ObjectBuilder::new().schema_type(Type::Boolean).into(),
            Value::Number(_) => ObjectBuilder::new().schema_type(Type::Integer).into(),
            _ => match enumeration {
                Some(values) => {
                    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values.to_vec())).into()
                }
                None => string(),
            },
        };
        object = object.property(name, property);
    }
    for name in required.iter().filter(|r| example.get(**r).is_some()) {
        object = object.required(*name);
    }
    object.additional_properties(Some(AdditionalProperties::FreeForm(true))).examples([example.clone()]).into()
}

fn string() -> Schema {
    ObjectBuilder::new().schema_type(Type::String).into()
}

fn object(properties: &[(&str, Schema)], required: &[&str]) -> Schema {
    let mut object = ObjectBuilder::new().schema_type(Type::Object);
    for (name, schema) in properties {
        object = object.property(*name, schema.clone());
    }
    for name in required {
        object = object.required(*name);
    }
    object.into()
}

fn link() -> Schema {
    object(&[("href", string()), ("title", string())], &["href"])
}

/// The UCWA error body (docs/protocol.md, errors).
fn error_schema() -> Schema {
    let parameters = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .into();
    object(
        &[("code", string()), ("subcode", string()), ("message", string()), ("parameters", parameters)],
        &["code", "message"],
    )
}

/// A HAL resource: its properties, `_links` (always with `self`), `_embedded` and `rel`.
fn resource_schema() -> Schema {
    let links = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("self", link())
        .required("self")
        .additional_properties(Some(AdditionalProperties::FreeForm(true)));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("_links", links)
        .property("rel", string())
        .required("_links")
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .into()
}

/// An event channel batch: `_links` (`self`, then `next` or `resync`) and the events by sender.
fn event_batch_schema() -> Schema {
    let links = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("self", link())
        .property("next", link())
        .property("resync", link())
        .additional_properties(Some(AdditionalProperties::FreeForm(true)));
    let sender = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("rel", string())
        .property("href", string())
        .property("events", ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::Object)))
        .required("rel")
        .required("events")
        .additional_properties(Some(AdditionalProperties::FreeForm(true)));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("_links", links)
        .property("sender", ArrayBuilder::new().items(sender))
        .required("_links")
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .into()
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn json_content(schema: RefOr<Schema>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn json_response(description: &str, schema: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new().description(description).content(JSON, json_content(reference(schema))).build()
}

fn located(response: ResponseBuilder) -> utoipa::openapi::Response {
    response.header("Location", HeaderBuilder::new().schema(Some(string())).build()).build()
}

fn errors(builder: OperationBuilder) -> OperationBuilder {
    builder.response("4XX", json_response("A UCWA error: the status, code, subcode and the bad parameters.", "Error"))
}

/// Signed-in operations: a bearer token, or the `401` challenge real servers send (an HTML
/// page, and `WWW-Authenticate` naming the token endpoint and its grants).
fn signed_in(builder: OperationBuilder) -> OperationBuilder {
    let page = ContentBuilder::new().schema(Some(string())).build();
    let challenge = ResponseBuilder::new()
        .description("No valid token: the challenge, pointing at the token endpoint.")
        .header("WWW-Authenticate", HeaderBuilder::new().schema(Some(string())).build())
        .content("text/html", page)
        .build();
    builder.security(SecurityRequirement::new(BEARER, Vec::<String>::new())).response("401", challenge)
}

fn path_parameter(name: &str, values: Option<Vec<String>>) -> utoipa::openapi::path::Parameter {
    let schema: Schema = match values {
        Some(values) => ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).into(),
        None => ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).into(),
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(schema))
        .build()
}

fn query_parameter(name: &str, schema: Schema, required: bool) -> utoipa::openapi::path::Parameter {
    let required = if required { Required::True } else { Required::False };
    ParameterBuilder::new().name(name).parameter_in(ParameterIn::Query).required(required).schema(Some(schema)).build()
}

fn integer() -> Schema {
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).into()
}

/// The values a `{name}` placeholder takes, where the route table lists them.
fn placeholder_values(route: &Route, name: &str) -> Option<Vec<String>> {
    use paths::*;
    let rels = |names: &[ucwa_proto::RelName]| Some(names.iter().map(|r| r.as_str().to_owned()).collect());
    match (route.template, name) {
        (CONVERSATION_PART, "part") => rels(&CONVERSATION_PARTS),
        (PARTICIPANT_ACTION, "action") => {
            Some(["admit", "reject", "promote", "demote", "eject"].map(str::to_owned).to_vec())
        }
        (ONLINE_MEETING_INVITATION_ACTION, "action") => Some(vec!["accept".into(), "decline".into()]),
        (MESSAGING_INVITATION_ACTION, "action") => Some(vec!["accept".into(), "decline".into(), "cancel".into()]),
        (ME_PART | CONTACT_PART, "part") => Some(["presence", "note", "location"].map(str::to_owned).to_vec()),
        (DASHBOARD, "rest") => Some(DASHBOARDS.iter().map(|(path, _)| (*path).to_owned()).collect()),
        _ => None,
    }
}

/// Every application route under every prefix that serves it.
fn application_operations() -> Vec<Operation> {
    let mut out = Vec::new();
    for route in ROUTES {
        for prefix in Prefix::ALL.into_iter().filter(|p| route.surfaces.includes(*p)) {
            // `{*rest}` (axum's catch-all) is one parameter named `rest` here.
            let path = format!("{}{}", prefix.as_str(), route.template.replace("{*rest}", "{rest}"));
            for name in route.methods {
                let Some(http) = method(name) else { continue };
                out.push((path.clone(), http, application_operation(route, name, prefix, &path)));
            }
        }
    }
    out
}

fn application_operation(route: &Route, method: &str, prefix: Prefix, path: &str) -> utoipa::openapi::path::Operation {
    let mut op = signed_in(OperationBuilder::new().operation_id(Some(operation_id(method, path))).tag(prefix.as_str()));
    for name in placeholders(path) {
        op = op.parameter(path_parameter(&name, placeholder_values(route, &name)));
    }
    if prefix == Prefix::Platform && route.template != paths::APPLICATIONS {
        op = op.parameter(query_parameter("endpointId", string(), false));
    }
    match route.template {
        paths::EVENTS => {
            for name in ["ack", "timeout", "low", "medium", "priority"] {
                op = op.parameter(query_parameter(name, integer(), false));
            }
        }
        paths::PARTICIPANT_INVITATIONS => op = op.parameter(query_parameter("conversation", string(), true)),
        paths::MESSAGING_INVITATIONS if method == "POST" => {
            op = op.parameter(query_parameter("conversation", string(), false));
        }
        paths::ONLINE_MEETING_INVITATIONS if method == "POST" => {
            let name = if prefix == Prefix::Platform { "confUrl" } else { "onlineMeetingUri" };
            op = op.parameter(query_parameter(name, string(), false));
        }
        paths::CONVERSATIONS => op = op.parameter(query_parameter("filter", string(), false)),
        paths::MESSAGES | paths::MESSAGE if method == "POST" => {
            op = op.parameter(query_parameter("operationId", string(), false));
        }
        paths::SEARCH => {
            op = op.parameter(query_parameter("query", string(), true)).parameter(query_parameter(
                "limit",
                integer(),
                false,
            ));
        }
        _ => {}
    }
    if let Some((name, _)) = request_body(route, method, prefix) {
        let body = ContentBuilder::new().schema(Some(reference(name))).build();
        op = op.request_body(Some(RequestBodyBuilder::new().content(JSON, body).build()));
    } else if route.template == paths::MESSAGES || (route.template == paths::MESSAGE && method == "POST") {
        let text = ContentBuilder::new().schema(Some(string())).build();
        op = op.request_body(Some(
            RequestBodyBuilder::new().content("text/plain", text.clone()).content("text/html", text).build(),
        ));
    } else if route.template == paths::BATCH {
        let parts = ContentBuilder::new().schema(Some(string())).build();
        op = op.request_body(Some(RequestBodyBuilder::new().content("multipart/batching", parts).build()));
    }
    op = match success(route, method, prefix) {
        Success::Resource => op.response("200", json_response("The resource.", "Resource")),
        Success::Upsert => op
            .response("200", json_response("The existing resource.", "Resource"))
            .response("201", json_response("The resource, created.", "Resource")),
        Success::CreatedResource => op.response(
            "201",
            located(
                ResponseBuilder::new()
                    .description("The resource, created.")
                    .content(JSON, json_content(reference("Resource"))),
            ),
        ),
        Success::Started => {
            op.response("201", located(ResponseBuilder::new().description("Started: its operation resource.")))
        }
        Success::Done => op.response("204", ResponseBuilder::new().description("Done.").build()),
        Success::Events => op.response("200", json_response("The next batch of events.", "EventBatch")),
        Success::Multipart => op.response(
            "200",
            ResponseBuilder::new()
                .description("The answers, one part each.")
                .content("multipart/batching", ContentBuilder::new().schema(Some(string())).build())
                .build(),
        ),
        Success::Refused => op,
    };
    errors(op).build()
}

/// `getApplicationsAppCommunication` from `GET` and the path: unique across the document.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for word in path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    id
}

fn placeholders(path: &str) -> Vec<String> {
    path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}').map(str::to_owned)).collect()
}

/// The entry points: discovery, the token endpoint, the Trusted Application API's discovery,
/// health, the web pages and this document.
fn entry_points() -> Vec<Operation> {
    let get = |id: &str| OperationBuilder::new().operation_id(Some(id)).tag("entry points");
    let resource = |id: &str, description: &str| {
        errors(get(id).response("200", json_response(description, "Resource")))
            .security(SecurityRequirement::default())
            .build()
    };
    let signed_in = |id: &str, description: &str| {
        errors(signed_in(get(id).response("200", json_response(description, "Resource")))).build()
    };
    let page_with = |id: &str, media: &[&str], description: &str, parameters: &[&str]| {
        let mut ok = ResponseBuilder::new().description(description);
        for media in media {
            ok = ok.content(*media, ContentBuilder::new().schema(Some(string())).build());
        }
        let mut op = get(id).response("200", ok.build());
        if !parameters.is_empty() {
            // Pages answer an unknown name or link with an HTML page saying so; API clients
            // (not preferring HTML) get the JSON 404 of the join URL.
            let page = ContentBuilder::new().schema(Some(string())).build();
            let missing = ResponseBuilder::new()
                .description("Nothing there: an HTML page saying so, or the UCWA error.")
                .content("text/html", page)
                .content(JSON, json_content(reference("Error")));
            op = op.response("404", missing.build());
        }
        for name in parameters {
            op = op.parameter(path_parameter(name, None));
        }
        errors(op).build()
    };
    let page = |id: &str, media: &str, description: &str| page_with(id, &[media], description, &[]);
    let mut out: Vec<Operation> =
        vec![(paths::ROOT.into(), HttpMethod::Get, resource("getRoot", "The discovery root: self, user, xframe."))];
    for (i, root) in paths::AUTODISCOVER_ROOTS.iter().enumerate() {
        let n = if i == 0 { "" } else { "Iis" };
        out.push((
            (*root).into(),
            HttpMethod::Get,
            resource(&format!("getAutodiscoverRoot{n}"), "The discovery root."),
        ));
        for suffix in paths::USER_SUFFIXES {
            let id = format!("getAutodiscover{n}{}", operation_id("", suffix));
            out.push((format!("{root}{suffix}"), HttpMethod::Get, signed_in(&id, "The user: the applications link.")));
        }
    }
    out.push((paths::XFRAME.into(), HttpMethod::Get, page("getXframe", "text/html", "The cross-domain helper page.")));
    out.push((paths::HEALTHZ.into(), HttpMethod::Get, page("getHealthz", "text/plain", "`ok` while the server runs.")));
    for (i, discover) in paths::PLATFORM_DISCOVER.iter().enumerate() {
        let id = if i == 0 { "getPlatformDiscover" } else { "getPlatformDiscoverMixedCase" };
        out.push(((*discover).into(), HttpMethod::Get, signed_in(id, "The Trusted Application API entry point.")));
    }
    out.push((OPENAPI.into(), HttpMethod::Get, page("getOpenApi", JSON, "This document.")));
    out.push((paths::TOKEN.into(), HttpMethod::Post, token_operation()));
    out.push(("/console".into(), HttpMethod::Get, page("getConsole", "text/html", "The organizer console.")));
    let asset = page_with("getWebAsset", &["text/javascript", "text/css"], "A script or style sheet.", &["asset"]);
    out.push(("/web/{asset}".into(), HttpMethod::Get, asset));
    let join = "The join page of a meeting (to browsers that prefer HTML).";
    out.push((
        "/meet/{alias}/{id}".into(),
        HttpMethod::Get,
        page_with("getJoinPage", &["text/html"], join, &["alias", "id"]),
    ));
    out
}

/// Where the document is served.
pub const OPENAPI: &str = "/openapi.json";

/// `POST /WebTicket/oauthtoken`: a form, an OAuth answer.
fn token_operation() -> utoipa::openapi::path::Operation {
    let fields = json!({
        "grant_type": "password",
        "username": "alice@example.com",
        "password": "alice-password",
        "ms_rtc_conferenceuri": "sip:alice@example.com;gruu;opaque=app:conf:focus:id:JE49B6SO",
        "ms_rtc_renew": "previous-token",
        "client_id": "sip:bot@example.com",
        "client_secret": "bot-secret",
    });
    let mut form = ObjectBuilder::new().schema_type(Type::Object);
    for name in fields.as_object().into_iter().flatten().map(|(k, _)| k) {
        let property = match name.as_str() {
            "grant_type" => ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["password", "urn:microsoft.rtc:anonmeeting", "client_credentials"]))
                .into(),
            _ => string(),
        };
        form = form.property(name, property);
    }
    let form = form.required("grant_type").build();
    let grant = object(
        &[("access_token", string()), ("expires_in", integer()), ("token_type", string())],
        &["access_token", "expires_in", "token_type"],
    );
    let refusal = ContentBuilder::new()
        .schema(Some(RefOr::T(Schema::OneOf(
            utoipa::openapi::schema::OneOfBuilder::new().item(reference("OAuthError")).item(reference("Error")).build(),
        ))))
        .build();
    OperationBuilder::new()
        .operation_id(Some("postToken"))
        .tag("entry points")
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/x-www-form-urlencoded", ContentBuilder::new().schema(Some(form)).build())
                .build(),
        ))
        .response(
            "200",
            ResponseBuilder::new().description("A bearer token.").content(JSON, json_content(grant.into())),
        )
        .response(
            "4XX",
            ResponseBuilder::new()
                .description("An OAuth refusal, or a UCWA error (429 with `Retry-After` after too many failures).")
                .content(JSON, refusal),
        )
        .response(
            "503",
            ResponseBuilder::new()
                .description("Too many password checks at once: try again after `Retry-After`.")
                .header("Retry-After", HeaderBuilder::new().schema(Some(integer())).build())
                .content(JSON, json_content(reference("Error"))),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_table_is_described_once_per_prefix() {
        let doc = serde_json::to_value(document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut ids = std::collections::BTreeSet::new();
        for route in ROUTES {
            for prefix in Prefix::ALL.into_iter().filter(|p| route.surfaces.includes(*p)) {
                let path = format!("{}{}", prefix.as_str(), route.template.replace("{*rest}", "{rest}"));
                for m in route.methods {
                    let op = &doc["paths"][&path][m.to_ascii_lowercase()];
                    assert!(op.is_object(), "{m} {path}");
                    assert!(ids.insert(op["operationId"].as_str().unwrap().to_owned()), "unique ids");
                }
            }
        }
        let join = &doc["paths"]["/ucwa/oauth/v1/applications/{app}/communication/onlineMeetingInvitations"]["post"];
        let body = &join["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(body, "#/components/schemas/JoinOnlineMeeting");
        let schema = &doc["components"]["schemas"]["JoinOnlineMeeting"];
        assert_eq!(schema["properties"]["importance"]["enum"][0], "Normal");
        assert_eq!(schema["properties"]["operationId"]["type"], "string");
    }

    #[test]
    fn presence_people_and_typing_are_described() {
        let doc = serde_json::to_value(document()).unwrap();
        let app = "/ucwa/oauth/v1/applications/{app}";
        let publish = &doc["paths"][format!("{app}/me/{{part}}")]["post"];
        assert_eq!(publish["parameters"][1]["schema"]["enum"], serde_json::json!(["presence", "note", "location"]));
        assert!(publish["responses"]["204"].is_object());
        let publication = &doc["components"]["schemas"]["Publication"]["properties"];
        assert_eq!(publication["availability"]["enum"][0], "Online");
        let subscribe = &doc["paths"][format!("{app}/people/presenceSubscriptions")]["post"];
        assert!(subscribe["responses"]["201"]["headers"]["Location"].is_object());
        let subscription = &doc["components"]["schemas"]["PresenceSubscriptionRequest"]["properties"];
        assert_eq!(subscription["duration"]["type"], "integer");
        let search = &doc["paths"][format!("{app}/people/search")]["get"]["parameters"];
        let query = search.as_array().unwrap().iter().find(|p| p["name"] == "query").unwrap();
        assert_eq!(query["required"], true);
        let conversation = format!("{app}/communication/conversations/{{conv}}/messaging");
        let reply = &doc["paths"][format!("{conversation}/messages/{{msg}}")]["post"];
        assert!(reply["requestBody"]["content"]["text/plain"].is_object());
        assert!(doc["paths"][format!("{conversation}/typing")]["post"]["responses"]["204"].is_object());
        assert!(doc["paths"][format!("{app}/reportMyActivity")]["post"].is_object());
    }
}
