//! Where resources live: every route template of the server, in one table, and the href
//! builder that fills them in.
//!
//! Templates use axum's syntax (`{app}`, `{*rest}`), so the router mounts them as they are
//! and [`AppHrefs`] fills the same strings: a route and the hrefs that lead to it cannot drift
//! apart. Application routes are relative to an applications [`Prefix`] (the server nests
//! them under each); entry points are absolute. Hrefs are opaque to clients: a client follows
//! links and never builds them (docs/protocol.md, Wire format); these shapes are the ones
//! real servers sent.

use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::ids::{AppId, SessionId, SipUri};
use crate::rel::RelName;

/// `GET /`: the discovery root.
pub const ROOT: &str = "/";
/// The autodiscover root, in the two spellings clients use (IIS matched them
/// case-insensitively).
pub const AUTODISCOVER_ROOTS: [&str; 2] =
    ["/autodiscover/autodiscoverservice.svc/root", "/Autodiscover/AutodiscoverService.svc/root"];
/// The user resource below an autodiscover root: `{root}/oauth/user` (what the root links),
/// and `{root}/user` (where it points itself).
pub const USER_SUFFIXES: [&str; 2] = ["/oauth/user", "/user"];
/// The cross-domain helper page the root links.
pub const XFRAME: &str = "/autodiscover/xframe/xframe.html";
/// The web-ticket OAuth token endpoint.
pub const TOKEN: &str = "/WebTicket/oauthtoken";
/// Liveness probe.
pub const HEALTHZ: &str = "/healthz";
/// Trusted Application API discovery, in the two spellings recorded clients use.
pub const PLATFORM_DISCOVER: [&str; 2] = ["/platformservice/discover", "/platformService/discover"];
/// Advertised by `discover` as recorded; not served.
pub const MY_APPLICATIONS: &str = "/platformservice/v1/myApplications";

/// The path prefix an application's routes live under, by surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prefix {
    /// Signed-in users.
    User,
    /// Anonymous meeting guests (`urn:microsoft.rtc:anonmeeting` tokens).
    Anonymous,
    /// Guests of a service application (`psat` tokens).
    PsAnon,
    /// Trusted Application API service applications.
    Platform,
}

impl Prefix {
    pub const ALL: [Prefix; 4] = [Prefix::User, Prefix::Anonymous, Prefix::PsAnon, Prefix::Platform];

    pub const fn as_str(self) -> &'static str {
        match self {
            Prefix::User => "/ucwa/oauth/v1",
            Prefix::Anonymous => "/ucwa/anonymous/v1",
            Prefix::PsAnon => "/ucwa/psanon/v1",
            Prefix::Platform => "/platformservice/v1",
        }
    }
}

// Application routes, relative to a prefix. `{app}` is an `AppId`, `{conv}`, `{inv}` and
// `{subject}` is a participant key (a person's address, `bob@example.com`; or, in hrefs of
// earlier versions, a `SessionId`).

/// `POST` (UCWA: create) / `GET` (platform: the endpoint's application link).
pub const APPLICATIONS: &str = "/applications";
pub const APPLICATION: &str = "/applications/{app}";
pub const ME: &str = "/applications/{app}/me";
pub const MAKE_ME_AVAILABLE: &str = "/applications/{app}/me/makeMeAvailable";
pub const REPORT_MY_ACTIVITY: &str = "/applications/{app}/me/reportMyActivity";
/// `reportMyActivity` below the application: the href of the reference page's sample, which
/// UCWA 1.0 clients keep-alive with (docs/compatibility.md, application).
pub const APPLICATION_REPORT_MY_ACTIVITY: &str = "/applications/{app}/reportMyActivity";
pub const COMMUNICATION: &str = "/applications/{app}/communication";
pub const EVENTS: &str = "/applications/{app}/events";
pub const BATCH: &str = "/applications/{app}/batch";
/// `joinOnlineMeeting`, `startOnlineMeeting` (`?onlineMeetingUri=adhoc`) and the Trusted
/// Application API's `joinAdhocMeeting` (`?confUrl=`).
pub const ONLINE_MEETING_INVITATIONS: &str = "/applications/{app}/communication/onlineMeetingInvitations";
pub const ONLINE_MEETING_INVITATION: &str = "/applications/{app}/communication/onlineMeetingInvitations/{inv}";
pub const ONLINE_MEETING_INVITATION_CANCEL: &str =
    "/applications/{app}/communication/onlineMeetingInvitations/{inv}/cancel";
/// `accept` / `decline` (spelled as their rels).
pub const ONLINE_MEETING_INVITATION_ACTION: &str =
    "/applications/{app}/communication/onlineMeetingInvitations/{inv}/{action}";
/// `addParticipant` (`?conversation={conv}`).
pub const PARTICIPANT_INVITATIONS: &str = "/applications/{app}/communication/participantInvitations";
/// `{pinv}` is `<inviter session>.<n>`.
pub const PARTICIPANT_INVITATION: &str = "/applications/{app}/communication/participantInvitations/{pinv}";
pub const PARTICIPANT_INVITATION_CANCEL: &str =
    "/applications/{app}/communication/participantInvitations/{pinv}/cancel";
/// `startMessaging`, and `addMessaging` (`?conversation={conv}`).
pub const MESSAGING_INVITATIONS: &str = "/applications/{app}/communication/messagingInvitations";
pub const MESSAGING_INVITATION: &str = "/applications/{app}/communication/messagingInvitations/{inv}";
/// `accept` / `decline` / `cancel`.
pub const MESSAGING_INVITATION_ACTION: &str = "/applications/{app}/communication/messagingInvitations/{inv}/{action}";
/// Trusted Application API `inviteUserToMeeting` (advertised; answers 403).
pub const USER_MEETING_INVITATIONS: &str = "/applications/{app}/communication/userMeetingInvitations";
/// `conversations` (linked with `?filter=active`).
pub const CONVERSATIONS: &str = "/applications/{app}/communication/conversations";
pub const CONVERSATION: &str = "/applications/{app}/communication/conversations/{conv}";
/// A conversation's modalities, `onlineMeeting` and roster views, each spelled as its rel
/// ([`CONVERSATION_PARTS`]).
pub const CONVERSATION_PART: &str = "/applications/{app}/communication/conversations/{conv}/{part}";
pub const PARTICIPANT: &str = "/applications/{app}/communication/conversations/{conv}/participants/{subject}";
/// `admit`, `reject`, `promote`, `demote`, `eject` (spelled as their rels).
pub const PARTICIPANT_ACTION: &str =
    "/applications/{app}/communication/conversations/{conv}/participants/{subject}/{action}";
/// `sendMessage`.
pub const MESSAGES: &str = "/applications/{app}/communication/conversations/{conv}/messaging/messages";
pub const MESSAGE: &str = "/applications/{app}/communication/conversations/{conv}/messaging/messages/{msg}";
/// `stopMessaging`.
pub const STOP_MESSAGING: &str = "/applications/{app}/communication/conversations/{conv}/messaging/terminate";
/// `setIsTyping`.
pub const SET_IS_TYPING: &str = "/applications/{app}/communication/conversations/{conv}/messaging/typing";
pub const TYPING_PARTICIPANTS: &str =
    "/applications/{app}/communication/conversations/{conv}/messaging/typingParticipants";
/// The user's `presence`, `note` and `location` (`{part}`, spelled as its rel).
pub const ME_PART: &str = "/applications/{app}/me/{part}";
pub const ME_PHONES: &str = "/applications/{app}/me/phones";
/// A photo: the user's own (`me`'s `photo`) or a contact's (`contactPhoto`); `{key}` is the
/// person's address (`alice@example.com`), as recorded.
pub const PHOTO: &str = "/applications/{app}/photos/{key}";
/// `myContacts`.
pub const CONTACTS: &str = "/applications/{app}/people/contacts";
pub const SEARCH: &str = "/applications/{app}/people/search";
pub const PRESENCE_SUBSCRIPTIONS: &str = "/applications/{app}/people/presenceSubscriptions";
pub const PRESENCE_SUBSCRIPTION: &str = "/applications/{app}/people/presenceSubscriptions/{subscription}";
pub const ADD_TO_PRESENCE_SUBSCRIPTION: &str =
    "/applications/{app}/people/presenceSubscriptions/{subscription}/addToPresenceSubscription";
/// A `contact`; `{key}` is its address (`bob@example.com`), as recorded.
pub const CONTACT: &str = "/applications/{app}/people/{key}";
/// A contact's `presence`, `note` or `location` (`contactPresence`, `contactNote`,
/// `contactLocation`), as recorded.
pub const CONTACT_PART: &str = "/applications/{app}/people/{key}/{part}";
pub const MY_ONLINE_MEETINGS: &str = "/applications/{app}/onlineMeetings/myOnlineMeetings";
pub const MY_ONLINE_MEETING: &str = "/applications/{app}/onlineMeetings/myOnlineMeetings/{meeting}";
pub const ONLINE_MEETING_DEFAULT_VALUES: &str = "/applications/{app}/onlineMeetings/defaultValues";
pub const ONLINE_MEETING_ELIGIBLE_VALUES: &str = "/applications/{app}/onlineMeetings/eligibleValues";
/// The dashboards of [`DASHBOARDS`] (and anything else below an application: 404).
pub const DASHBOARD: &str = "/applications/{app}/{*rest}";
/// Trusted Application API only.
pub const ADHOC_MEETINGS: &str = "/applications/{app}/adhocMeetings";
pub const ADHOC_MEETING: &str = "/applications/{app}/adhocMeetings/{meeting}";
pub const ANON_APPLICATION_TOKENS: &str = "/applications/{app}/anonApplicationTokens";
/// Trusted Application API: the endpoint's ad hoc meetings.
pub const PLATFORM_MY_ONLINE_MEETINGS: &str = "/applications/{app}/myOnlineMeetings";

/// The `{part}`s of [`CONVERSATION_PART`].
pub const CONVERSATION_PARTS: [RelName; 9] = [
    RelName::ApplicationSharing,
    RelName::AudioVideo,
    RelName::DataCollaboration,
    RelName::Messaging,
    RelName::OnlineMeeting,
    RelName::Participants,
    RelName::Leaders,
    RelName::Attendees,
    RelName::Lobby,
];

/// The dashboards below an application ([`DASHBOARD`]'s `{*rest}`) and their rels: `people`,
/// `onlineMeetings`, `policies` and the sub-resources the recorded Lync application links that
/// hold nothing here (contacts, search and presence subscriptions have routes of their own).
pub const DASHBOARDS: [(&str, RelName); 12] = [
    ("people", RelName::People),
    ("onlineMeetings", RelName::OnlineMeetings),
    ("policies", RelName::Policies),
    ("people/subscribedContacts", RelName::SubscribedContacts),
    ("people/presenceSubscriptionMemberships", RelName::PresenceSubscriptionMemberships),
    ("people/groups", RelName::MyGroups),
    ("people/groupMemberships", RelName::MyGroupMemberships),
    ("people/privacyRelationships", RelName::MyPrivacyRelationships),
    ("people/contactsAndGroupsSubscription", RelName::MyContactsAndGroupsSubscription),
    ("onlineMeetings/customInvitation", RelName::OnlineMeetingInvitationCustomization),
    ("onlineMeetings/policies", RelName::OnlineMeetingPolicies),
    ("onlineMeetings/phoneDialInInformation", RelName::PhoneDialInInformation),
];

/// Which applications prefixes serve a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surfaces {
    /// The three UCWA prefixes (users, anonymous guests, `psat` guests).
    Ucwa,
    /// `/platformservice/v1` only.
    Platform,
    /// All four.
    Both,
}

impl Surfaces {
    pub fn includes(self, prefix: Prefix) -> bool {
        match self {
            Surfaces::Ucwa => prefix != Prefix::Platform,
            Surfaces::Platform => prefix == Prefix::Platform,
            Surfaces::Both => true,
        }
    }
}

/// One route: its template, the methods it answers and the prefixes that serve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub template: &'static str,
    pub methods: &'static [&'static str],
    pub surfaces: Surfaces,
}

const fn route(template: &'static str, methods: &'static [&'static str], surfaces: Surfaces) -> Route {
    Route { template, methods, surfaces }
}

/// Every application route the server serves (entry points are the constants above).
pub const ROUTES: &[Route] = &[
    route(APPLICATIONS, &["POST"], Surfaces::Ucwa),
    route(APPLICATIONS, &["GET"], Surfaces::Platform),
    route(APPLICATION, &["GET", "DELETE"], Surfaces::Ucwa),
    route(APPLICATION, &["GET"], Surfaces::Platform),
    route(ME, &["GET"], Surfaces::Ucwa),
    route(MAKE_ME_AVAILABLE, &["POST"], Surfaces::Ucwa),
    route(REPORT_MY_ACTIVITY, &["POST"], Surfaces::Ucwa),
    route(APPLICATION_REPORT_MY_ACTIVITY, &["POST"], Surfaces::Ucwa),
    route(COMMUNICATION, &["GET"], Surfaces::Both),
    route(EVENTS, &["GET"], Surfaces::Both),
    route(BATCH, &["POST"], Surfaces::Ucwa),
    route(ONLINE_MEETING_INVITATIONS, &["POST"], Surfaces::Both),
    route(ONLINE_MEETING_INVITATION, &["GET"], Surfaces::Both),
    route(ONLINE_MEETING_INVITATION_CANCEL, &["POST"], Surfaces::Both),
    route(ONLINE_MEETING_INVITATION_ACTION, &["POST"], Surfaces::Ucwa),
    route(PARTICIPANT_INVITATIONS, &["POST"], Surfaces::Ucwa),
    route(PARTICIPANT_INVITATION, &["GET"], Surfaces::Ucwa),
    route(PARTICIPANT_INVITATION_CANCEL, &["POST"], Surfaces::Ucwa),
    route(MESSAGING_INVITATIONS, &["POST"], Surfaces::Both),
    route(MESSAGING_INVITATION, &["GET"], Surfaces::Ucwa),
    route(MESSAGING_INVITATION_ACTION, &["POST"], Surfaces::Ucwa),
    route(USER_MEETING_INVITATIONS, &["POST"], Surfaces::Platform),
    route(MESSAGES, &["POST"], Surfaces::Ucwa),
    route(MESSAGE, &["GET", "POST"], Surfaces::Ucwa),
    route(STOP_MESSAGING, &["POST"], Surfaces::Ucwa),
    route(SET_IS_TYPING, &["POST"], Surfaces::Ucwa),
    route(TYPING_PARTICIPANTS, &["GET"], Surfaces::Ucwa),
    route(ME_PART, &["GET", "POST"], Surfaces::Ucwa),
    route(ME_PHONES, &["GET"], Surfaces::Ucwa),
    route(PHOTO, &["GET"], Surfaces::Ucwa),
    route(CONTACTS, &["GET"], Surfaces::Ucwa),
    route(SEARCH, &["GET"], Surfaces::Ucwa),
    route(PRESENCE_SUBSCRIPTIONS, &["GET", "POST"], Surfaces::Ucwa),
    route(PRESENCE_SUBSCRIPTION, &["GET", "POST", "DELETE"], Surfaces::Ucwa),
    route(ADD_TO_PRESENCE_SUBSCRIPTION, &["POST"], Surfaces::Ucwa),
    route(CONTACT, &["GET"], Surfaces::Ucwa),
    route(CONTACT_PART, &["GET"], Surfaces::Ucwa),
    route(CONVERSATIONS, &["GET"], Surfaces::Both),
    route(CONVERSATION, &["GET", "DELETE"], Surfaces::Both),
    route(CONVERSATION_PART, &["GET"], Surfaces::Both),
    route(PARTICIPANT, &["GET"], Surfaces::Both),
    route(PARTICIPANT_ACTION, &["POST"], Surfaces::Both),
    route(MY_ONLINE_MEETINGS, &["GET", "POST"], Surfaces::Ucwa),
    route(MY_ONLINE_MEETING, &["GET", "PUT", "DELETE"], Surfaces::Ucwa),
    route(ONLINE_MEETING_DEFAULT_VALUES, &["GET"], Surfaces::Ucwa),
    route(ONLINE_MEETING_ELIGIBLE_VALUES, &["GET"], Surfaces::Ucwa),
    route(DASHBOARD, &["GET"], Surfaces::Ucwa),
    route(ADHOC_MEETINGS, &["GET", "POST"], Surfaces::Platform),
    route(ADHOC_MEETING, &["GET"], Surfaces::Platform),
    route(ANON_APPLICATION_TOKENS, &["POST"], Surfaces::Platform),
    route(PLATFORM_MY_ONLINE_MEETINGS, &["GET"], Surfaces::Platform),
];

/// Characters escaped in a path segment we fill in: all but the unreserved ones and what a
/// person's address needs to stay readable (`bob@example.com`, `tel:+14254996692`, as
/// recorded).
pub const SEGMENT: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'@').remove(b':').remove(b'+');

/// Characters escaped in query values we put in hrefs. SIP URIs stay readable
/// (`endpointId=sip:bot@contoso.com`, `confUrl=sip:...;gruu;opaque=...`) as in the recorded
/// payloads; only what would break the query apart is escaped.
const QUERY_VALUE: &AsciiSet = &CONTROLS.add(b' ').add(b'#').add(b'&').add(b'+').add(b'%').add(b'=').add(b'"');

/// A query value for an href.
pub fn query_value(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// Fills a template's `{name}` placeholders, in order, with `values` (percent-encoded as
/// path segments). Placeholders without a value are left as they are.
pub fn fill(template: &str, values: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + values.iter().map(|v| v.len()).sum::<usize>());
    let mut values = values.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else { break };
        out.push_str(&rest[..open]);
        match values.next() {
            Some(v) => out.extend(utf8_percent_encode(v, SEGMENT)),
            None => out.push_str(&rest[open..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Appends `pair` (`name=value`, already escaped) to `href`'s query string.
pub fn with_query(href: &str, pair: &str) -> String {
    if pair.is_empty() {
        href.to_owned()
    } else if href.contains('?') {
        format!("{href}&{pair}")
    } else {
        format!("{href}?{pair}")
    }
}

/// The hrefs of one application: its prefix, id and, for a service application, the
/// `endpointId` every href carries (docs/protocol.md, Rel namespace). Each builder fills the
/// template of the same name; a resource's own query (`?ack=`, `?conversation=`) comes first,
/// then `endpointId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppHrefs {
    prefix: Prefix,
    app: AppId,
    /// `endpointId=...` for service applications, else empty.
    query: String,
}

impl AppHrefs {
    /// A UCWA application's hrefs (users, anonymous or `psat` guests).
    pub fn new(prefix: Prefix, app: AppId) -> Self {
        Self { prefix, app, query: String::new() }
    }

    /// A service application's hrefs under `/platformservice/v1`, each with `endpointId`.
    pub fn service(app: AppId, endpoint: &SipUri) -> Self {
        Self { prefix: Prefix::Platform, app, query: format!("endpointId={}", query_value(endpoint.as_str())) }
    }

    pub fn prefix(&self) -> Prefix {
        self.prefix
    }

    pub fn app_id(&self) -> &AppId {
        &self.app
    }

    /// `template` filled with this application and `values`, plus `own_query`, plus
    /// `endpointId`.
    pub fn href(&self, template: &str, values: &[&str], own_query: Option<&str>) -> String {
        let mut all = Vec::with_capacity(values.len() + 1);
        all.push(self.app.as_str());
        all.extend_from_slice(values);
        let path = format!("{}{}", self.prefix.as_str(), fill(template, &all));
        with_query(&with_query(&path, own_query.unwrap_or_default()), &self.query)
    }

    pub fn application(&self) -> String {
        self.href(APPLICATION, &[], None)
    }

    pub fn me(&self) -> String {
        self.href(ME, &[], None)
    }

    pub fn make_me_available(&self) -> String {
        self.href(MAKE_ME_AVAILABLE, &[], None)
    }

    pub fn report_my_activity(&self) -> String {
        self.href(REPORT_MY_ACTIVITY, &[], None)
    }

    pub fn communication(&self) -> String {
        self.href(COMMUNICATION, &[], None)
    }

    /// `events?ack=<ack>`.
    pub fn events(&self, ack: u64) -> String {
        self.href(EVENTS, &[], Some(&format!("ack={ack}")))
    }

    pub fn batch(&self) -> String {
        self.href(BATCH, &[], None)
    }

    /// A dashboard of [`DASHBOARDS`] by its path (`people`, `onlineMeetings/policies`).
    pub fn dashboard(&self, path: &str) -> String {
        // The path keeps its slashes: it is several segments.
        with_query(&format!("{}{}/{path}", self.prefix.as_str(), fill(APPLICATION, &[self.app.as_str()])), &self.query)
    }

    /// `joinOnlineMeeting`.
    pub fn join_online_meeting(&self) -> String {
        self.href(ONLINE_MEETING_INVITATIONS, &[], None)
    }

    /// `startOnlineMeeting`: a join of a new ad hoc meeting.
    pub fn start_online_meeting(&self) -> String {
        self.href(ONLINE_MEETING_INVITATIONS, &[], Some("onlineMeetingUri=adhoc"))
    }

    /// `joinAdhocMeeting` of the meeting `meeting_uri`.
    pub fn join_adhoc_meeting(&self, meeting_uri: &SipUri) -> String {
        self.href(ONLINE_MEETING_INVITATIONS, &[], Some(&format!("confUrl={}", query_value(meeting_uri.as_str()))))
    }

    pub fn online_meeting_invitation(&self, inv: &SessionId) -> String {
        self.href(ONLINE_MEETING_INVITATION, &[inv.as_str()], None)
    }

    /// `cancel`, `accept` or `decline` of an onlineMeetingInvitation.
    pub fn online_meeting_invitation_action(&self, inv: &SessionId, action: RelName) -> String {
        let template =
            if action == RelName::Cancel { ONLINE_MEETING_INVITATION_CANCEL } else { ONLINE_MEETING_INVITATION_ACTION };
        self.href(template, &[inv.as_str(), action.as_str()], None)
    }

    /// `addParticipant` of a conversation.
    pub fn add_participant(&self, conv: &SessionId) -> String {
        self.href(PARTICIPANT_INVITATIONS, &[], Some(&format!("conversation={}", query_value(conv.as_str()))))
    }

    pub fn participant_invitation(&self, pinv: &str) -> String {
        self.href(PARTICIPANT_INVITATION, &[pinv], None)
    }

    pub fn participant_invitation_cancel(&self, pinv: &str) -> String {
        self.href(PARTICIPANT_INVITATION_CANCEL, &[pinv], None)
    }

    /// `startMessaging`.
    pub fn start_messaging(&self) -> String {
        self.href(MESSAGING_INVITATIONS, &[], None)
    }

    /// `addMessaging` of a conversation.
    pub fn add_messaging(&self, conv: &SessionId) -> String {
        self.href(MESSAGING_INVITATIONS, &[], Some(&format!("conversation={}", query_value(conv.as_str()))))
    }

    /// A session's `messagingInvitation`: its two-party call, or its `addMessaging`.
    pub fn messaging_invitation(&self, inv: &SessionId) -> String {
        self.href(MESSAGING_INVITATION, &[inv.as_str()], None)
    }

    /// `accept`, `decline` or `cancel` of a messagingInvitation.
    pub fn messaging_invitation_action(&self, inv: &SessionId, action: RelName) -> String {
        self.href(MESSAGING_INVITATION_ACTION, &[inv.as_str(), action.as_str()], None)
    }

    /// `inviteUserToMeeting` (Trusted Application API).
    pub fn invite_user_to_meeting(&self) -> String {
        self.href(USER_MEETING_INVITATIONS, &[], None)
    }

    /// The `conversations` link (`?filter=active`).
    pub fn conversations(&self) -> String {
        self.href(CONVERSATIONS, &[], Some("filter=active"))
    }

    pub fn conversation(&self, conv: &SessionId) -> String {
        self.href(CONVERSATION, &[conv.as_str()], None)
    }

    /// A modality, `onlineMeeting` or roster view of a conversation ([`CONVERSATION_PARTS`]).
    pub fn conversation_part(&self, conv: &SessionId, part: RelName) -> String {
        self.href(CONVERSATION_PART, &[conv.as_str(), part.as_str()], None)
    }

    /// The participant with key `subject` (`bob@example.com`) as seen from the conversation
    /// `conv`.
    pub fn participant(&self, conv: &SessionId, subject: &str) -> String {
        self.href(PARTICIPANT, &[conv.as_str(), subject], None)
    }

    /// `admit`, `reject`, `promote`, `demote` or `eject` of a participant.
    pub fn participant_action(&self, conv: &SessionId, subject: &str, action: RelName) -> String {
        self.href(PARTICIPANT_ACTION, &[conv.as_str(), subject, action.as_str()], None)
    }

    /// A participant's `participantMessaging` (an href events name; not served).
    pub fn participant_messaging(&self, conv: &SessionId, subject: &str) -> String {
        self.participant_action(conv, subject, RelName::Messaging)
    }

    /// The conversation's `messaging` modality.
    pub fn messaging(&self, conv: &SessionId) -> String {
        self.conversation_part(conv, RelName::Messaging)
    }

    /// `sendMessage`.
    pub fn send_message(&self, conv: &SessionId) -> String {
        self.href(MESSAGES, &[conv.as_str()], None)
    }

    pub fn message(&self, conv: &SessionId, msg: &str) -> String {
        self.href(MESSAGE, &[conv.as_str(), msg], None)
    }

    /// `stopMessaging`.
    pub fn stop_messaging(&self, conv: &SessionId) -> String {
        self.href(STOP_MESSAGING, &[conv.as_str()], None)
    }

    pub fn my_online_meetings(&self) -> String {
        self.href(MY_ONLINE_MEETINGS, &[], None)
    }

    pub fn my_online_meeting(&self, meeting: &str) -> String {
        self.href(MY_ONLINE_MEETING, &[meeting], None)
    }

    pub fn online_meeting_default_values(&self) -> String {
        self.href(ONLINE_MEETING_DEFAULT_VALUES, &[], None)
    }

    pub fn online_meeting_eligible_values(&self) -> String {
        self.href(ONLINE_MEETING_ELIGIBLE_VALUES, &[], None)
    }

    pub fn adhoc_meetings(&self) -> String {
        self.href(ADHOC_MEETINGS, &[], None)
    }

    /// An ad hoc meeting, with the `onlineMeetingContext` (its organizer) the recorded href has.
    pub fn adhoc_meeting(&self, meeting: &str, organizer: &SipUri) -> String {
        let context = format!("onlineMeetingContext={}", query_value(organizer.as_str()));
        with_query(&self.href(ADHOC_MEETING, &[meeting], None), &context)
    }

    pub fn anon_application_tokens(&self) -> String {
        self.href(ANON_APPLICATION_TOKENS, &[], None)
    }

    /// The Trusted Application API `myOnlineMeetings`.
    pub fn platform_my_online_meetings(&self) -> String {
        self.href(PLATFORM_MY_ONLINE_MEETINGS, &[], None)
    }
}

/// `applications` under `prefix` (create, or the Trusted Application API link).
pub fn applications(prefix: Prefix) -> String {
    format!("{}{APPLICATIONS}", prefix.as_str())
}

/// The applications link of a Trusted Application API `discover`, and the endpoint's
/// `ms:rtc:saas:applications?endpointId=` a client asks for.
pub fn platform_applications(endpoint: Option<&SipUri>) -> String {
    let href = applications(Prefix::Platform);
    match endpoint {
        Some(e) => with_query(&href, &format!("endpointId={}", query_value(e.as_str()))),
        None => href,
    }
}

/// The autodiscover root (the spelling the server links).
pub fn autodiscover_root() -> &'static str {
    AUTODISCOVER_ROOTS[0]
}

/// The user resource the root links.
pub fn oauth_user() -> String {
    format!("{}{}", AUTODISCOVER_ROOTS[0], USER_SUFFIXES[0])
}

/// The user resource's own `self`.
pub fn user() -> String {
    format!("{}{}", AUTODISCOVER_ROOTS[0], USER_SUFFIXES[1])
}

/// Trusted Application API discovery (the spelling the server links), with `query` if any.
pub fn platform_discover(query: Option<&str>) -> String {
    with_query(PLATFORM_DISCOVER[0], query.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppId {
        AppId::new("a1").unwrap()
    }

    fn s(id: &str) -> SessionId {
        SessionId::new(id).unwrap()
    }

    #[test]
    fn hrefs_fill_the_route_templates() {
        let ucwa = AppHrefs::new(Prefix::User, app());
        assert_eq!(ucwa.application(), "/ucwa/oauth/v1/applications/a1");
        assert_eq!(ucwa.events(1), "/ucwa/oauth/v1/applications/a1/events?ack=1");
        assert_eq!(ucwa.conversations(), "/ucwa/oauth/v1/applications/a1/communication/conversations?filter=active");
        assert_eq!(
            ucwa.participant_action(&s("c"), "bob@example.com", RelName::Admit),
            "/ucwa/oauth/v1/applications/a1/communication/conversations/c/participants/bob@example.com/admit"
        );
        assert_eq!(
            ucwa.online_meeting_invitation_action(&s("i"), RelName::Cancel),
            "/ucwa/oauth/v1/applications/a1/communication/onlineMeetingInvitations/i/cancel"
        );
        assert_eq!(ucwa.dashboard("people/groups"), "/ucwa/oauth/v1/applications/a1/people/groups");
        assert_eq!(
            ucwa.message(&s("c"), "m/1"),
            "/ucwa/oauth/v1/applications/a1/communication/conversations/c/messaging/messages/m%2F1"
        );
    }

    #[test]
    fn service_hrefs_carry_the_endpoint_after_their_own_query() {
        let bot = SipUri::parse("sip:bot@contoso.com").unwrap();
        let tap = AppHrefs::service(app(), &bot);
        assert_eq!(tap.application(), "/platformservice/v1/applications/a1?endpointId=sip:bot@contoso.com");
        assert_eq!(tap.events(3), "/platformservice/v1/applications/a1/events?ack=3&endpointId=sip:bot@contoso.com");
        assert_eq!(
            tap.participant(&s("c"), "tel:+14254996692"),
            "/platformservice/v1/applications/a1/communication/conversations/c/participants/tel:+14254996692?endpointId=sip:bot@contoso.com"
        );
        let meeting = SipUri::parse("sip:bot@contoso.com;gruu;opaque=app:conf:focus:id:ABC").unwrap();
        assert_eq!(
            tap.join_adhoc_meeting(&meeting),
            "/platformservice/v1/applications/a1/communication/onlineMeetingInvitations?confUrl=sip:bot@contoso.com;gruu;opaque%3Dapp:conf:focus:id:ABC&endpointId=sip:bot@contoso.com"
        );
        assert_eq!(
            platform_applications(Some(&bot)),
            "/platformservice/v1/applications?endpointId=sip:bot@contoso.com"
        );
    }

    #[test]
    fn every_template_placeholder_is_a_segment() {
        for r in ROUTES {
            assert!(r.template.starts_with("/applications"), "{}", r.template);
            for segment in r.template.split('/') {
                assert!(
                    !segment.contains('{') || (segment.starts_with('{') && segment.ends_with('}')),
                    "{}",
                    r.template
                );
            }
        }
        assert_eq!(fill("/a/{x}/b/{y}", &["1"]), "/a/1/b/{y}");
        assert_eq!(query_value("a&b=c d"), "a%26b%3Dc%20d");
    }
}
