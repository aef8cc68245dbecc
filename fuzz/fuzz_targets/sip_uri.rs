//! SIP URIs: the wire model's `SipUri`, the sign-in name normaliser and the conference URI
//! parser. Nothing may panic, and what parses round-trips: a conference URI built from a
//! parsed one parses to the same organizer and id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ucwa_core::conference::{conference_uri, parse_conference_uri};
use ucwa_proto::SipUri;
use ucwa_service::validate::normalize_sip_uri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(uri) = SipUri::parse(text) {
        let again = SipUri::parse(&uri.to_string()).expect("a parsed URI parses again");
        assert_eq!(again, uri);
    }
    if let Some(uri) = normalize_sip_uri(text) {
        assert_eq!(normalize_sip_uri(&uri).as_deref(), Some(uri.as_str()), "normalising is idempotent");
    }
    if let Some((organizer, id)) = parse_conference_uri(text) {
        assert_eq!(parse_conference_uri(&conference_uri(&organizer, &id)), Some((organizer, id)));
    }
});
