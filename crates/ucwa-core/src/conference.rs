//! Conference identifiers (docs/protocol.md, onlineMeeting): the focus URI
//! `sip:<organizer>;gruu;opaque=app:conf:focus:id:<ID>` and the https join URL
//! `<base>/meet/<organizer alias>/<ID>`.

/// Characters of generated conference ids: upper-case letters and digits without the ones
/// people confuse when they read an id aloud (0/O, 1/I).
const ID_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A new 8-character conference id such as `JE49B6SO`, from 8 random bytes.
pub fn new_conference_id(random: [u8; 8]) -> String {
    random.iter().map(|b| ID_ALPHABET[usize::from(*b) % ID_ALPHABET.len()] as char).collect()
}

/// The focus URI of a meeting.
pub fn conference_uri(organizer_uri: &str, id: &str) -> String {
    let organizer = organizer_uri.strip_prefix("sip:").unwrap_or(organizer_uri);
    format!("sip:{organizer};gruu;opaque=app:conf:focus:id:{id}")
}

/// The https join URL under `base` (the server's public URL).
pub fn join_url(base: &str, organizer_uri: &str, id: &str) -> String {
    let organizer = organizer_uri.strip_prefix("sip:").unwrap_or(organizer_uri);
    let alias = organizer.split('@').next().unwrap_or(organizer);
    format!("{}/meet/{alias}/{id}", base.trim_end_matches('/'))
}

/// The (organizer URI, conference id) of a focus URI, or `None` if it is not one. The
/// scheme and parameter names compare case-insensitively; the id keeps its case.
pub fn parse_conference_uri(uri: &str) -> Option<(String, String)> {
    let uri = uri.trim();
    let rest = uri.get(..4).filter(|s| s.eq_ignore_ascii_case("sip:")).and(uri.get(4..))?;
    let mut params = rest.split(';');
    let organizer = params.next().filter(|o| o.contains('@') && !o.is_empty())?;
    let mut gruu = false;
    let mut id = None;
    for p in params {
        if p.eq_ignore_ascii_case("gruu") {
            gruu = true;
        } else if let Some((k, v)) = p.split_once('=')
            && k.eq_ignore_ascii_case("opaque")
        {
            let prefix = "app:conf:focus:id:";
            id = v.get(..prefix.len()).filter(|s| s.eq_ignore_ascii_case(prefix)).and(v.get(prefix.len()..));
        }
    }
    let id = id.filter(|id| !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric()))?;
    gruu.then(|| (format!("sip:{}", organizer.to_ascii_lowercase()), id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips_the_documented_form() {
        let uri = conference_uri("sip:bmauldin@contoso.com", "IB88RLLY");
        assert_eq!(uri, "sip:bmauldin@contoso.com;gruu;opaque=app:conf:focus:id:IB88RLLY");
        assert_eq!(parse_conference_uri(&uri), Some(("sip:bmauldin@contoso.com".into(), "IB88RLLY".into())));
        assert_eq!(
            join_url("https://meet.contoso.com/", "sip:bmauldin@contoso.com", "IB88RLLY"),
            "https://meet.contoso.com/meet/bmauldin/IB88RLLY"
        );
    }

    #[test]
    fn refuses_what_is_not_a_focus_uri() {
        for bad in [
            "",
            "sip:alice@example.com",
            "http://x",
            "sip:a@b;opaque=app:conf:focus:id:X",
            "sip:a@b;gruu;opaque=app:conf:focus:id:",
            "sip:a@b;gruu;opaque=app:conf:focus:id:../x",
        ] {
            assert_eq!(parse_conference_uri(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn generated_ids_parse_back(random in any::<[u8; 8]>(), user in "[a-z]{1,10}") {
            let id = new_conference_id(random);
            prop_assert_eq!(id.len(), 8);
            let organizer = format!("sip:{user}@example.com");
            prop_assert_eq!(parse_conference_uri(&conference_uri(&organizer, &id)), Some((organizer, id)));
        }
    }
}
