//! Trusted Application API service applications (docs/protocol.md, ms:rtc:saas:applications and callbacks): their
//! registration, the callback routes of their conversations, the outbox of undelivered
//! callbacks, and the pure rules around them (signatures, retry backoff, guest identities).
//!
//! # Signing callbacks
//! Only the argon2 hash of an endpoint's client secret is stored, so the secret cannot key
//! an HMAC. `service-app add` therefore mints a separate random signing key, prints it once
//! and stores it. Keeping it separate means a leaked database lets an attacker forge
//! callbacks to the service application (which the key exists to detect) but never lets
//! them authenticate *as* the service application, and the key can be rotated by re-adding
//! the endpoint without changing the client secret. Encrypting the secret instead would need
//! a server master key to manage and would put the credential itself one key away from
//! disclosure.
//!
//! The signature header is `X-OpenUCWA-Signature: t=<unix seconds>,v1=<hex>` where `<hex>`
//! is HMAC-SHA256, keyed with the UTF-8 bytes of the signing key as printed, over
//! `"<t>.<body>"`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::credentials::random_bytes;

/// A registered service application endpoint (`ucwa-server service-app add`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceApp {
    /// `sip:bot@contoso.com`, lowercase: the OAuth client id and the `endpointId`.
    pub uri: String,
    pub display_name: String,
    /// argon2 PHC string of the client secret.
    pub secret_hash: String,
    /// Key of the callback signatures (see the module documentation).
    pub signing_key: String,
    /// Default callback URL for conversations that do not name one.
    pub callback_url: Option<String>,
    pub created_ms: i64,
    /// SIP domains besides its own whose meetings the endpoint may join trusted, join
    /// impersonating someone, mint guest tokens for and rule over (`service-app add
    /// --domain`), lower case.
    pub domains: Vec<String>,
}

impl ServiceApp {
    /// Whether the endpoint may act with privileges on meetings and people of `uri`'s
    /// domain: its own domain, or one the operator listed.
    pub fn may_act_in(&self, uri: &str) -> bool {
        let domain = domain_of(uri);
        !domain.is_empty() && (domain == domain_of(&self.uri) || self.domains.contains(&domain))
    }
}

/// The domain of a SIP URI, lower case (`""` if it has none).
pub fn domain_of(uri: &str) -> String {
    uri.rsplit_once('@').map(|(_, domain)| domain.to_ascii_lowercase()).unwrap_or_default()
}

/// Where a service application's conversation delivers its events, created when the
/// conversation starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRoute {
    /// The session (conversation) id.
    pub session_id: String,
    pub app_id: String,
    /// `None`: the conversation's events go to the event log (long poll) instead.
    pub url: Option<String>,
    /// Appended as `?callbackContext=`; replaced by a `{"CallbackContext": ...}` answer.
    pub context: Option<String>,
    /// The absolute base URL relative hrefs are resolved against (`baseuri`).
    pub base_uri: String,
    /// Failed attempts at delivering the current head of the outbox.
    pub attempts: u32,
    pub next_attempt_ms: i64,
    /// Batches delivered so far (the informational `ack` of callback batches).
    pub delivered: u64,
    pub created_ms: i64,
    /// The last outbox id of the batch being delivered, pinned at its first attempt and
    /// cleared once it is delivered (see `Store::pin_callback_batch`).
    pub batch_through: Option<i64>,
}

/// A conversation with callbacks due, and the application (the endpoint) it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCallback {
    pub session_id: String,
    pub app_id: String,
}

/// One undelivered callback event.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub id: i64,
    pub sender_rel: String,
    pub sender_href: String,
    pub body: serde_json::Value,
}

/// A conversation whose callbacks were given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackFailure {
    pub app_id: String,
    pub session_id: String,
    pub url: String,
    pub attempts: u32,
    pub last_error: String,
    /// Undelivered events dropped.
    pub dropped: u64,
    pub failed_ms: i64,
}

/// A new signing key: 256 random bits, base64url, with a greppable prefix.
pub fn mint_signing_key() -> String {
    format!("whsec_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
#[expect(clippy::expect_used, reason = "HMAC accepts keys of any length, so construction cannot fail")]
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The value of the `X-OpenUCWA-Signature` header for `body` sent at `unix_seconds`.
pub fn signature_header(signing_key: &str, unix_seconds: i64, body: &[u8]) -> String {
    let mut message = format!("{unix_seconds}.").into_bytes();
    message.extend_from_slice(body);
    let mac = hmac_sha256(signing_key.as_bytes(), &message);
    format!("t={unix_seconds},v1={}", hex::encode(mac))
}

/// How long to wait after the `attempts`-th consecutive failure: `base * 2^(attempts-1)`,
/// at most `max_ms`.
pub fn backoff_ms(attempts: u32, base_ms: u64, max_ms: u64) -> u64 {
    let exp = attempts.saturating_sub(1).min(32);
    base_ms.saturating_mul(1u64 << exp).min(max_ms)
}

/// The anonymous identity of a guest session of a service application: the same
/// `applicationSessionId` always gives the same guest (rejoin after a drop; docs/protocol.md, anonApplicationTokens).
pub fn guest_uri(endpoint_uri: &str, application_session_id: &str) -> String {
    let digest = Sha256::digest(format!("{endpoint_uri}\n{application_session_id}").as_bytes());
    let id = hex::encode(&digest[..10]);
    format!("sip:{id}@anonymous.invalid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex::encode(hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signature_header_shape() {
        let h = signature_header("k", 1700000000, b"{}");
        // Python: hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest() (the README snippet).
        assert_eq!(h, "t=1700000000,v1=c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146");
        assert_eq!(h.len(), "t=1700000000,v1=".len() + 64);
        assert_eq!(h, signature_header("k", 1700000000, b"{}"));
        assert_ne!(h, signature_header("k2", 1700000000, b"{}"));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff_ms(1, 100, 10_000), 100);
        assert_eq!(backoff_ms(2, 100, 10_000), 200);
        assert_eq!(backoff_ms(4, 100, 10_000), 800);
        assert_eq!(backoff_ms(40, 100, 10_000), 10_000);
        assert_eq!(backoff_ms(u32::MAX, u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn guests_are_stable_per_session_id() {
        let a = guest_uri("sip:bot@contoso.com", "s1");
        assert_eq!(a, guest_uri("sip:bot@contoso.com", "s1"));
        assert_ne!(a, guest_uri("sip:bot@contoso.com", "s2"));
        assert_ne!(a, guest_uri("sip:other@contoso.com", "s1"));
        assert!(a.ends_with("@anonymous.invalid"));
    }

    #[test]
    fn signing_keys_are_unique() {
        assert_ne!(mint_signing_key(), mint_signing_key());
    }
}
