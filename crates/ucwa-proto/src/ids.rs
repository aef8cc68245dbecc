//! Identifier newtypes. A value that exists has been validated: ids are safe as one path
//! segment, and a [`SipUri`] is a `sip:` URI with a user and a host.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind}")]
pub struct InvalidId {
    pub kind: &'static str,
    pub value: String,
}

/// Longest id accepted: far above what servers generate, small enough for a log line.
const MAX_ID_LEN: usize = 128;

/// Characters an id may contain: the URL-safe unreserved set, so it fits in a path segment
/// as it is.
fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

macro_rules! segment_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates `id`: 1 to 128 of `A-Z a-z 0-9 - . _ ~`.
            pub fn new(id: impl Into<String>) -> Result<Self, InvalidId> {
                let id = id.into();
                if id.is_empty() || id.len() > MAX_ID_LEN || !id.chars().all(is_id_char) {
                    return Err(InvalidId { kind: $kind, value: id });
                }
                Ok(Self(id))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Self::new(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Self::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

segment_id! {
    /// An application id (`/applications/{app}`).
    AppId, "application id"
}

segment_id! {
    /// A session id: one application's conversation in one meeting. It names the conversation
    /// (`conversations/{conv}`), its invitation (`onlineMeetingInvitations/{inv}`,
    /// `messagingInvitations/{inv}`) and, seen from another session, its participant
    /// (`participants/{subject}`).
    SessionId, "session id"
}

/// A `sip:` URI, compared the way the server compares them: the scheme and the `user@host`
/// address ignore letter case (`sip:Alice@Contoso.com` equals `sip:alice@contoso.com`),
/// parameters after `;` do not (a conference id keeps its case). The text is kept as it
/// arrived, so relaying a URI never changes it; [`SipUri::normalized`] gives the canonical
/// spelling the server stores.
#[derive(Debug, Clone)]
pub struct SipUri(String);

impl SipUri {
    /// Accepts `sip:user@host[;params]`, the scheme in any case. Surrounding whitespace is
    /// removed; whitespace or control characters inside are refused.
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        let text = text.trim();
        let invalid = || InvalidId { kind: "SIP URI", value: text.to_owned() };
        let rest = text.get(..4).filter(|s| s.eq_ignore_ascii_case("sip:")).and(text.get(4..)).ok_or_else(invalid)?;
        let address = rest.split(';').next().unwrap_or_default();
        let (user, host) = address.rsplit_once('@').ok_or_else(invalid)?;
        let valid = !user.is_empty()
            && !host.is_empty()
            && text.len() <= 1024
            && !text.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid { Ok(Self(text.to_owned())) } else { Err(invalid()) }
    }

    /// As received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `sip:` and the address lower-cased, parameters as they were.
    pub fn normalized(&self) -> SipUri {
        let (address, params) = self.split();
        let mut out = format!("sip:{}", address.to_ascii_lowercase());
        if let Some(p) = params {
            out.push(';');
            out.push_str(p);
        }
        SipUri(out)
    }

    /// The `user@host` part, as received.
    pub fn address(&self) -> &str {
        self.split().0
    }

    /// The host part of the address, as received.
    pub fn host(&self) -> &str {
        self.address().rsplit_once('@').map_or("", |(_, host)| host)
    }

    fn split(&self) -> (&str, Option<&str>) {
        let rest = self.0.get(4..).unwrap_or_default();
        match rest.split_once(';') {
            Some((address, params)) => (address, Some(params)),
            None => (rest, None),
        }
    }

    /// The key equality and hashing use.
    fn key(&self) -> (String, Option<&str>) {
        let (address, params) = self.split();
        (address.to_ascii_lowercase(), params)
    }
}

impl PartialEq for SipUri {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for SipUri {}

impl Hash for SipUri {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SipUri {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for SipUri {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        Self::parse(s)
    }
}

impl Serialize for SipUri {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SipUri {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_path_segments() {
        assert!(AppId::new("1393347000").is_ok());
        assert!(SessionId::new("9f3a-b_c.d~").is_ok());
        for bad in ["", "a/b", "a b", "a?b", "%2f", &"x".repeat(129)] {
            assert!(AppId::new(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<AppId>("\"a/b\"").is_err());
    }

    #[test]
    fn sip_uris_compare_case_insensitively_but_keep_their_text() {
        let a = SipUri::parse("SIP:Alice@Contoso.com").unwrap();
        let b = SipUri::parse("sip:alice@contoso.com").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "SIP:Alice@Contoso.com");
        assert_eq!(a.normalized().as_str(), "sip:alice@contoso.com");
        assert_eq!(a.host(), "Contoso.com");
        let conf =
            SipUri::parse("sip:BL20R04meet1692@noammeetings.lync.com;gruu;opaque=app:conf:focus:id:YOKMXY1C").unwrap();
        assert_eq!(
            conf.normalized().as_str(),
            "sip:bl20r04meet1692@noammeetings.lync.com;gruu;opaque=app:conf:focus:id:YOKMXY1C"
        );
        let other_id =
            SipUri::parse("sip:bl20r04meet1692@noammeetings.lync.com;gruu;opaque=app:conf:focus:id:yokmxy1c").unwrap();
        assert_ne!(conf, other_id, "parameters keep their case");
        assert_eq!(serde_json::to_value(&conf).unwrap(), serde_json::json!(conf.as_str()));
    }

    #[test]
    fn what_is_not_a_sip_uri_is_refused() {
        for bad in ["alice@contoso.com", "tel:+14255550100", "sip:@contoso.com", "sip:alice@", "sip:al ice@x", "sip:"] {
            assert!(SipUri::parse(bad).is_err(), "{bad}");
        }
        assert!(SipUri::parse(" sip:a@b ").is_ok());
    }
}
