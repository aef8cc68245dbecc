//! Where resources live. Hrefs are opaque to clients; these shapes follow what real servers
//! sent, and every href of an application is relative to the host.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use ucwa_core::meeting::{Session, Surface};
use ucwa_core::model::{AppKind, Application};

/// Path prefix of signed-in users' applications.
pub const USER_PREFIX: &str = "/ucwa/oauth/v1";
/// Path prefix of anonymous meeting guests' applications.
pub const ANONYMOUS_PREFIX: &str = "/ucwa/anonymous/v1";
/// Path prefix of anonymous guests admitted by a service application's `psat` token.
pub const PSANON_PREFIX: &str = "/ucwa/psanon/v1";
/// Path prefix of the Trusted Application API.
pub const PLATFORM_PREFIX: &str = "/platformservice/v1";

/// Characters escaped in query values we put in hrefs. SIP URIs stay readable
/// (`endpointId=sip:bot@contoso.com`, `confUrl=sip:...;gruu;opaque=...`) as in the recorded
/// payloads; only what would break the query apart is escaped.
const QUERY_VALUE: &AsciiSet = &CONTROLS.add(b' ').add(b'#').add(b'&').add(b'+').add(b'%').add(b'=').add(b'"');

/// A query value for an href.
pub fn query_value(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
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
/// `endpointId` (<https://learn.microsoft.com/en-us/skype-sdk/trusted-application-api/docs/newconcepts>), merged into whatever query an href already has.
#[derive(Debug, Clone)]
pub struct AppUrls {
    /// The application's path, without query.
    pub base: String,
    /// `endpointId=...` for service applications, else empty.
    pub query: String,
}

impl AppUrls {
    pub fn new(anonymous: bool, app_id: &str) -> Self {
        let prefix = if anonymous { ANONYMOUS_PREFIX } else { USER_PREFIX };
        Self { base: format!("{prefix}/applications/{app_id}"), query: String::new() }
    }

    /// A service application's hrefs under `/platformservice/v1`, each with `endpointId`.
    pub fn service(app_id: &str, endpoint_id: &str) -> Self {
        Self {
            base: format!("{PLATFORM_PREFIX}/applications/{app_id}"),
            query: format!("endpointId={}", query_value(endpoint_id)),
        }
    }

    /// A `psat` guest's hrefs under `/ucwa/psanon/v1`.
    pub fn psanon(app_id: &str) -> Self {
        Self { base: format!("{PSANON_PREFIX}/applications/{app_id}"), query: String::new() }
    }

    /// The hrefs of `app`, by its surface.
    pub fn of(app: &Application) -> Self {
        match app.kind {
            AppKind::Ucwa => Self::new(app.anonymous, &app.id),
            AppKind::Service => Self::service(&app.id, &app.endpoint_id),
            AppKind::PsAnon => Self::psanon(&app.id),
        }
    }

    /// The hrefs of the application behind a meeting session.
    pub fn of_session(session: &Session) -> Self {
        match &session.identity.surface {
            Surface::Ucwa => Self::new(session.identity.anonymous, &session.app_id),
            Surface::Service { endpoint_id } => Self::service(&session.app_id, endpoint_id),
            Surface::PsAnon => Self::psanon(&session.app_id),
        }
    }

    /// The application resource itself.
    pub fn app(&self) -> String {
        with_query(&self.base, &self.query)
    }

    /// `tail` (which may have its own query) below the application.
    pub fn at(&self, tail: &str) -> String {
        with_query(&format!("{}/{tail}", self.base), &self.query)
    }

    pub fn events(&self, ack: u64) -> String {
        self.at(&format!("events?ack={ack}"))
    }

    pub fn me(&self) -> String {
        self.at("me")
    }

    pub fn communication(&self) -> String {
        self.at("communication")
    }

    pub fn invitation(&self, session: &str) -> String {
        self.at(&format!("communication/onlineMeetingInvitations/{session}"))
    }

    pub fn conversation(&self, session: &str) -> String {
        self.at(&format!("communication/conversations/{session}"))
    }

    /// The participant with key `key` as seen from `session`'s conversation.
    pub fn participant(&self, session: &str, key: &str) -> String {
        let key = utf8_percent_encode(key, ucwa_proto::paths::SEGMENT);
        child(&self.conversation(session), &format!("participants/{key}"))
    }

    /// A `participantInvitation` (ids are `<inviter session>.<n>`).
    pub fn participant_invitation(&self, id: &str) -> String {
        self.at(&format!("communication/participantInvitations/{id}"))
    }

    /// `addParticipant` of a conversation.
    pub fn add_participant(&self, session: &str) -> String {
        self.at(&format!("communication/participantInvitations?conversation={session}"))
    }

    /// The `messagingInvitation` of a session: its two-party call, or its `addMessaging`.
    pub fn messaging_invitation(&self, session: &str) -> String {
        self.at(&format!("communication/messagingInvitations/{session}"))
    }

    /// `addMessaging` of a conversation.
    pub fn add_messaging(&self, session: &str) -> String {
        self.at(&format!("communication/messagingInvitations?conversation={session}"))
    }

    /// The messaging modality; `sendMessage` is `<this>/messages`, as on Lync (clients
    /// build it by appending).
    pub fn messaging(&self, session: &str) -> String {
        child(&self.conversation(session), "messaging")
    }

    /// `setIsTyping` of a conversation's messaging, as recorded: `<messaging>/typing`.
    pub fn set_is_typing(&self, session: &str) -> String {
        child(&self.messaging(session), "typing")
    }

    /// `typingParticipants` of a conversation's messaging, as recorded.
    pub fn typing_participants(&self, session: &str) -> String {
        child(&self.messaging(session), "typingParticipants")
    }

    pub fn message(&self, session: &str, message: &str) -> String {
        child(&self.messaging(session), &format!("messages/{message}"))
    }

    /// The user's own `presence`, `note` or `location`.
    pub fn me_part(&self, part: &str) -> String {
        self.at(&format!("me/{part}"))
    }

    /// The photo of the person with address key `key` (`alice@example.com`), as recorded:
    /// `{application}/photos/alice@example.com`.
    pub fn photo(&self, key: &str) -> String {
        self.at(&format!("photos/{}", utf8_percent_encode(key, ucwa_proto::paths::SEGMENT)))
    }

    pub fn people(&self) -> String {
        self.at("people")
    }

    /// The `contact` with address key `key`: `{application}/people/bob@example.com`.
    pub fn contact(&self, key: &str) -> String {
        self.at(&format!("people/{}", utf8_percent_encode(key, ucwa_proto::paths::SEGMENT)))
    }

    /// A contact's `presence`, `note` or `location` (`contactPresence`, ...), as recorded.
    pub fn contact_part(&self, key: &str, part: &str) -> String {
        child(&self.contact(key), part)
    }

    pub fn presence_subscription(&self, id: &str) -> String {
        self.at(&format!("people/presenceSubscriptions/{id}"))
    }

    pub fn my_meeting(&self, meeting_id: &str) -> String {
        self.at(&format!("onlineMeetings/myOnlineMeetings/{meeting_id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_hrefs_carry_the_endpoint_in_every_query() {
        let urls = AppUrls::service("a1", "sip:bot@contoso.com");
        assert_eq!(urls.app(), "/platformservice/v1/applications/a1?endpointId=sip:bot@contoso.com");
        assert_eq!(urls.events(3), "/platformservice/v1/applications/a1/events?ack=3&endpointId=sip:bot@contoso.com");
        assert_eq!(
            urls.participant("c", "p"),
            "/platformservice/v1/applications/a1/communication/conversations/c/participants/p?endpointId=sip:bot@contoso.com"
        );
        let conv = urls.conversation("c");
        assert_eq!(
            child(&conv, "participants?filter=Lobby"),
            "/platformservice/v1/applications/a1/communication/conversations/c/participants?endpointId=sip:bot@contoso.com&filter=Lobby"
        );
        assert_eq!(AppUrls::new(false, "u").at("x?y=1"), "/ucwa/oauth/v1/applications/u/x?y=1");
        assert_eq!(child("/a/b", "c"), "/a/b/c");
        assert_eq!(query_value("a&b=c d"), "a%26b%3Dc%20d");
    }
}
