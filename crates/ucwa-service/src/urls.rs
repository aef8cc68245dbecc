//! Where resources live. Hrefs are opaque to clients; these shapes follow what real servers
//! sent, and every href of an application is relative to the host.
//!
//! Paths come from `ucwa_proto::paths`, the table the router is built from, so a route and
//! the hrefs that lead to it cannot drift apart. [`AppUrls`] is `paths::AppHrefs` over ids
//! as the store holds them (plain strings, all minted by the server).

use ucwa_core::meeting::{Session, Surface};
use ucwa_core::model::{AppKind, Application};
use ucwa_proto::paths::{self, Prefix};
pub use ucwa_proto::paths::{query_value, with_query};

/// Path prefix of signed-in users' applications.
pub const USER_PREFIX: &str = Prefix::User.as_str();
/// Path prefix of anonymous meeting guests' applications.
pub const ANONYMOUS_PREFIX: &str = Prefix::Anonymous.as_str();
/// Path prefix of anonymous guests admitted by a service application's `psat` token.
pub const PSANON_PREFIX: &str = Prefix::PsAnon.as_str();
/// Path prefix of the Trusted Application API.
pub const PLATFORM_PREFIX: &str = Prefix::Platform.as_str();

/// `url` as it may be logged: scheme, host, port and path. User info and query are left out,
/// since a callback URL's owner may have put credentials there.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => "(not a URL)".into(),
    }
}

/// The href of `tail` below `href`, keeping `href`'s query after the new path
/// (`.../conversations/1?endpointId=x` + `participants` = `.../conversations/1/participants?endpointId=x`).
pub fn child(href: &str, tail: &str) -> String {
    let (path, tail_query) = tail.split_once('?').map_or((tail, None), |(p, q)| (p, Some(q)));
    let mut out = match href.split_once('?') {
        Some((base, query)) => format!("{base}/{path}?{query}"),
        None => format!("{href}/{path}"),
    };
    if let Some(q) = tail_query {
        out = with_query(&out, q);
    }
    out
}

/// The hrefs of one application. A service application's hrefs all carry its
/// `endpointId` (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/newconcepts>),
/// after whatever query an href has of its own.
#[derive(Debug, Clone)]
pub struct AppUrls {
    prefix: Prefix,
    app_id: String,
    /// `endpointId=...` for service applications, else empty.
    endpoint_query: String,
}

impl AppUrls {
    fn new(prefix: Prefix, app_id: &str) -> Self {
        Self { prefix, app_id: app_id.to_owned(), endpoint_query: String::new() }
    }

    /// A service application's hrefs under `/platformservice/v1`, each with `endpointId`.
    fn service(app_id: &str, endpoint_id: &str) -> Self {
        Self { prefix: Prefix::Platform, app_id: app_id.to_owned(), endpoint_query: paths::endpoint_query(endpoint_id) }
    }

    pub(crate) fn ucwa(anonymous: bool, app_id: &str) -> Self {
        Self::new(if anonymous { Prefix::Anonymous } else { Prefix::User }, app_id)
    }

    /// The hrefs of `app`, by its surface.
    pub fn of(app: &Application) -> Self {
        match app.kind {
            AppKind::Ucwa => Self::ucwa(app.anonymous, &app.id),
            AppKind::Service => Self::service(&app.id, &app.endpoint_id),
            AppKind::PsAnon => Self::new(Prefix::PsAnon, &app.id),
        }
    }

    /// The hrefs of the application behind a meeting session.
    pub fn of_session(session: &Session) -> Self {
        match &session.identity.surface {
            Surface::Ucwa => Self::ucwa(session.identity.anonymous, &session.app_id),
            Surface::Service { endpoint_id } => Self::service(&session.app_id, endpoint_id),
            Surface::PsAnon => Self::new(Prefix::PsAnon, &session.app_id),
        }
    }

    /// `template` (a `paths` route) filled with this application and `values`.
    fn href(&self, template: &str, values: &[&str], own_query: Option<&str>) -> String {
        paths::app_href(self.prefix, &self.app_id, template, values, own_query, &self.endpoint_query)
    }

    /// The application resource itself.
    pub fn app(&self) -> String {
        self.href(paths::APPLICATION, &[], None)
    }

    /// The application's path, without query: every route of the application is below it.
    pub fn path(&self) -> String {
        paths::app_href(self.prefix, &self.app_id, paths::APPLICATION, &[], None, "")
    }

    /// `tail` (several segments, possibly with a query of its own) below the application:
    /// the dashboards of `paths::DASHBOARDS` and the routes rendering still names by path.
    pub fn at(&self, tail: &str) -> String {
        let (path, own_query) = tail.split_once('?').map_or((tail, None), |(p, q)| (p, Some(q)));
        self.href(&format!("{}/{path}", paths::APPLICATION), &[], own_query)
    }

    /// `events?ack=<ack>`.
    pub fn events(&self, ack: u64) -> String {
        self.href(paths::EVENTS, &[], Some(&format!("ack={ack}")))
    }

    /// `events?ack=<ack>&key=<key>`: a callback's own channel link (`key` already escaped).
    pub fn callback_events(&self, ack: u64, key: &str) -> String {
        self.href(paths::EVENTS, &[], Some(&format!("ack={ack}&key={key}")))
    }

    pub fn me(&self) -> String {
        self.href(paths::ME, &[], None)
    }

    pub fn communication(&self) -> String {
        self.href(paths::COMMUNICATION, &[], None)
    }

    /// A session's `onlineMeetingInvitation`.
    pub fn invitation(&self, session: &str) -> String {
        self.href(paths::ONLINE_MEETING_INVITATION, &[session], None)
    }

    pub fn conversation(&self, session: &str) -> String {
        self.href(paths::CONVERSATION, &[session], None)
    }

    /// The participant with key `key` as seen from `session`'s conversation.
    pub fn participant(&self, session: &str, key: &str) -> String {
        self.href(paths::PARTICIPANT, &[session, key], None)
    }

    /// A `participantInvitation` (ids are `<inviter session>.<n>`).
    pub fn participant_invitation(&self, id: &str) -> String {
        self.href(paths::PARTICIPANT_INVITATION, &[id], None)
    }

    /// `addParticipant` of a conversation.
    pub fn add_participant(&self, session: &str) -> String {
        self.href(paths::PARTICIPANT_INVITATIONS, &[], Some(&format!("conversation={}", query_value(session))))
    }

    /// The `messagingInvitation` of a session: its two-party call, or its `addMessaging`.
    pub fn messaging_invitation(&self, session: &str) -> String {
        self.href(paths::MESSAGING_INVITATION, &[session], None)
    }

    /// `addMessaging` of a conversation.
    pub fn add_messaging(&self, session: &str) -> String {
        self.href(paths::MESSAGING_INVITATIONS, &[], Some(&format!("conversation={}", query_value(session))))
    }

    /// The messaging modality; `sendMessage` is `<this>/messages`, as on Lync (clients
    /// build it by appending).
    pub fn messaging(&self, session: &str) -> String {
        self.href(paths::CONVERSATION_PART, &[session, "messaging"], None)
    }

    /// `setIsTyping` of a conversation's messaging, as recorded: `<messaging>/typing`.
    pub fn set_is_typing(&self, session: &str) -> String {
        self.href(paths::SET_IS_TYPING, &[session], None)
    }

    /// `typingParticipants` of a conversation's messaging, as recorded.
    pub fn typing_participants(&self, session: &str) -> String {
        self.href(paths::TYPING_PARTICIPANTS, &[session], None)
    }

    pub fn message(&self, session: &str, message: &str) -> String {
        self.href(paths::MESSAGE, &[session, message], None)
    }

    /// The user's own `presence`, `note` or `location`.
    pub fn me_part(&self, part: &str) -> String {
        self.href(paths::ME_PART, &[part], None)
    }

    /// The photo of the person with address key `key` (`alice@example.com`), as recorded:
    /// `{application}/photos/alice@example.com`.
    pub fn photo(&self, key: &str) -> String {
        self.href(paths::PHOTO, &[key], None)
    }

    pub fn people(&self) -> String {
        self.at("people")
    }

    /// The `contact` with address key `key`: `{application}/people/bob@example.com`.
    pub fn contact(&self, key: &str) -> String {
        self.href(paths::CONTACT, &[key], None)
    }

    /// A contact's `presence`, `note` or `location` (`contactPresence`, ...), as recorded.
    pub fn contact_part(&self, key: &str, part: &str) -> String {
        self.href(paths::CONTACT_PART, &[key, part], None)
    }

    pub fn presence_subscription(&self, id: &str) -> String {
        self.href(paths::PRESENCE_SUBSCRIPTION, &[id], None)
    }

    pub fn my_meeting(&self, meeting_id: &str) -> String {
        self.href(paths::MY_ONLINE_MEETING, &[meeting_id], None)
    }
}

#[cfg(test)]
mod tests {
    use ucwa_proto::paths::AppHrefs;
    use ucwa_proto::{AppId, RelName, SessionId, SipUri};

    use super::*;

    #[test]
    fn logged_urls_lose_credentials_and_queries() {
        assert_eq!(
            super::redacted("https://bot:s3cret@sa.example:8443/cb?key=k&callbackContext=c#f"),
            "https://sa.example:8443/cb"
        );
        assert_eq!(super::redacted("not a url"), "(not a URL)");
    }

    fn s(id: &str) -> SessionId {
        SessionId::new(id).unwrap()
    }

    #[test]
    fn hrefs_are_the_path_tables() {
        let bot = SipUri::parse("sip:bot@contoso.com").unwrap();
        let urls = AppUrls::service("a1", bot.as_str());
        let table = AppHrefs::service(AppId::new("a1").unwrap(), &bot);
        assert_eq!(urls.app(), table.application());
        assert_eq!(urls.app(), "/platformservice/v1/applications/a1?endpointId=sip:bot@contoso.com");
        assert_eq!(urls.path(), "/platformservice/v1/applications/a1");
        assert_eq!(urls.events(3), table.events(3));
        assert_eq!(urls.me(), table.me());
        assert_eq!(urls.communication(), table.communication());
        assert_eq!(urls.invitation("i"), table.online_meeting_invitation(&s("i")));
        assert_eq!(urls.conversation("c"), table.conversation(&s("c")));
        assert_eq!(urls.participant("c", "p"), table.participant(&s("c"), "p"));
        assert_eq!(urls.participant_invitation("c.1"), table.participant_invitation("c.1"));
        assert_eq!(urls.add_participant("c"), table.add_participant(&s("c")));
        assert_eq!(urls.messaging_invitation("c"), table.messaging_invitation(&s("c")));
        assert_eq!(urls.add_messaging("c"), table.add_messaging(&s("c")));
        assert_eq!(urls.messaging("c"), table.messaging(&s("c")));
        assert_eq!(urls.message("c", "m"), table.message(&s("c"), "m"));
        assert_eq!(urls.at("communication/conversations?filter=active"), table.conversations());
        assert_eq!(urls.at("people/groups"), table.dashboard("people/groups"));
        let user = AppUrls::ucwa(false, "u");
        let table = AppHrefs::new(Prefix::User, AppId::new("u").unwrap());
        assert_eq!(user.my_meeting("m"), table.my_online_meeting("m"));
        assert_eq!(user.at("x?y=1"), "/ucwa/oauth/v1/applications/u/x?y=1");
        assert_eq!(
            child(&urls.conversation("c"), "participants?filter=Lobby"),
            "/platformservice/v1/applications/a1/communication/conversations/c/participants?endpointId=sip:bot@contoso.com&filter=Lobby"
        );
        assert_eq!(child(&urls.conversation("c"), "lobby"), table_part(&s("c"), RelName::Lobby));
        assert_eq!(child("/a/b", "c"), "/a/b/c");
    }

    fn table_part(conv: &SessionId, part: RelName) -> String {
        AppHrefs::service(AppId::new("a1").unwrap(), &SipUri::parse("sip:bot@contoso.com").unwrap())
            .conversation_part(conv, part)
    }
}
