//! Where resources live. Hrefs are opaque to clients; these shapes follow what real servers
//! sent (`ucwa-spec.md` §16), and every href of an application is relative to the host.

use axum::http::HeaderMap;
use axum::http::header::HOST;

use crate::state::AppState;

/// Path prefix of signed-in users' applications.
pub const USER_PREFIX: &str = "/ucwa/oauth/v1";
/// Path prefix of anonymous meeting guests' applications.
pub const ANONYMOUS_PREFIX: &str = "/ucwa/anonymous/v1";

/// The absolute base URL (`http://host:port`), from `--public-url` or the request's Host.
pub fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).filter(|h| is_plausible_host(h)).unwrap_or("localhost");
    format!("http://{host}")
}

/// Host headers go into URLs we hand out: refuse anything but a host name and port.
fn is_plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// The hrefs of one application.
#[derive(Debug, Clone)]
pub struct AppUrls {
    pub base: String,
}

impl AppUrls {
    pub fn new(anonymous: bool, app_id: &str) -> Self {
        let prefix = if anonymous { ANONYMOUS_PREFIX } else { USER_PREFIX };
        Self { base: format!("{prefix}/applications/{app_id}") }
    }

    pub fn at(&self, tail: &str) -> String {
        format!("{}/{tail}", self.base)
    }

    pub fn events(&self, ack: u64) -> String {
        format!("{}/events?ack={ack}", self.base)
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

    /// A participant as seen from `session`'s conversation.
    pub fn participant(&self, session: &str, subject: &str) -> String {
        format!("{}/participants/{subject}", self.conversation(session))
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
        format!("{}/messaging", self.conversation(session))
    }

    pub fn message(&self, session: &str, message: &str) -> String {
        format!("{}/messages/{message}", self.messaging(session))
    }

    pub fn my_meeting(&self, meeting_id: &str) -> String {
        self.at(&format!("onlineMeetings/myOnlineMeetings/{meeting_id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_hosts_are_refused() {
        assert!(is_plausible_host("localhost:8080"));
        assert!(is_plausible_host("[::1]:80"));
        assert!(!is_plausible_host("evil.com/\"><script>"));
        assert!(!is_plausible_host(""));
    }
}
