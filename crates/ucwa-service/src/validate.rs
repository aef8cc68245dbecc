//! Input rules several use cases share: SIP URIs, display names, importance, content given
//! as data URIs. Each adds a named [`ParamError`](ucwa_proto::input::ParamError) to the
//! [`Validator`] on failure, so one answer lists every bad parameter.

use ucwa_core::meeting::{Content, Importance};
use ucwa_proto::encode::decode_data_uri;
use ucwa_proto::input::{PropertyBag, Validator};

/// Largest first message or custom content, in characters (after decoding).
pub const MAX_CONTENT_CHARS: usize = 16 * 1024;

/// The `importance` values of invitations.
pub const IMPORTANCE: &[&str] = &["Normal", "Urgent", "Emergency", "NonUrgent"];

pub fn importance(value: Option<&str>) -> Importance {
    match value {
        Some("Urgent") => Importance::Urgent,
        Some("Emergency") => Importance::Emergency,
        Some("NonUrgent") => Importance::NonUrgent,
        _ => Importance::Normal,
    }
}

/// Normalises a user name as clients send it (`alice@example.com` or `sip:Alice@Example.com`)
/// into the stored SIP URI.
pub fn normalize_sip_uri(name: &str) -> Option<String> {
    let name = name.trim();
    // `get` and `strip_prefix`-style slicing: a multi-byte character in the first four bytes
    // is simply not the `sip:` prefix (byte slicing there panicked).
    let bare = match name.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sip:") => &name[4..],
        _ => name,
    };
    let (user, domain) = bare.split_once('@')?;
    let valid = |s: &str| {
        !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-+'".contains(c))
    };
    (valid(user) && valid(domain)).then(|| format!("sip:{}", bare.to_ascii_lowercase()))
}

/// A display name a person typed: trimmed, 1 to 250 characters, no control characters.
pub fn display_name(v: &mut Validator, input: &PropertyBag, name: &'static str) -> Option<String> {
    let raw = v.check(input.string(name, 10_000))?;
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 250 {
        v.fail(name, "must be 1 to 250 characters");
        None
    } else if trimmed.chars().any(char::is_control) {
        v.fail(name, "must not contain control characters");
        None
    } else {
        Some(trimmed.to_owned())
    }
}

/// A SIP URI of a user in `to`: `sip:user@domain`, at most 256 characters.
pub fn sip_target(v: &mut Validator, input: &PropertyBag) -> Option<String> {
    let to = v.check(input.required_string("to", 256).map(Some))?;
    let to = to.trim().to_ascii_lowercase();
    let valid = to.strip_prefix("sip:").is_some_and(|rest| {
        rest.split_once('@').is_some_and(|(user, host)| !user.is_empty() && !host.is_empty())
            && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
    });
    if valid {
        Some(to)
    } else {
        v.fail("to", "must be a SIP URI such as sip:alice@example.com");
        None
    }
}

/// A first message or custom content: a data URI (`data:text/plain;charset=utf-8,Hi`) or,
/// when `plain_allowed`, plain text.
pub fn content(
    v: &mut Validator,
    input: &PropertyBag,
    name: &'static str,
    plain_allowed: bool,
    max_chars: usize,
) -> Option<Content> {
    // Percent-encoding triples a character at most (UTF-8: four bytes, twelve characters).
    let raw = v.check(input.string(name, 12 * max_chars + 100))?;
    let content = if raw.starts_with("data:") {
        match decode_data_uri(&raw) {
            Some((mime, text)) => Content::new(mime.to_ascii_lowercase(), text),
            None => {
                v.fail(name, "must be a data URI (RFC 2397) with UTF-8, percent-encoded text");
                return None;
            }
        }
    } else if plain_allowed {
        Content::new("text/plain", raw)
    } else {
        v.fail(name, "must be a data URI (RFC 2397)");
        return None;
    };
    if content.text.chars().count() > max_chars {
        v.fail(name, format!("longer than {max_chars} characters"));
        return None;
    }
    if content.mime.is_empty() || !content.mime.contains('/') || content.mime.len() > 100 {
        v.fail(name, "has no valid media type");
        return None;
    }
    Some(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uris_normalise() {
        assert_eq!(normalize_sip_uri("Alice@Example.com").as_deref(), Some("sip:alice@example.com"));
        assert_eq!(normalize_sip_uri("SIP:alice@example.com").as_deref(), Some("sip:alice@example.com"));
        assert_eq!(normalize_sip_uri("alice"), None);
        assert_eq!(normalize_sip_uri("a@b@c"), None);
        assert_eq!(normalize_sip_uri("sip:@x"), None);
        // Multi-byte characters where the prefix would be: no URI, no panic.
        for name in ["é€x@y", "sipé@x", "s\u{1F600}@x", "€", "sé", "ééé@é"] {
            assert_eq!(normalize_sip_uri(name), None, "{name}");
        }
    }
}
