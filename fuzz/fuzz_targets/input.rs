//! Request input: a JSON body merged with a query string into a case-insensitive
//! `PropertyBag` and read with every accessor the use cases use, and the token endpoint's
//! form. The input is `<query>\n<body>`. Nothing may panic; an accepted string respects its
//! length limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use ucwa_proto::input::{PropertyBag, Validator};
use ucwa_service::tokens::TokenRequest;

const NAMES: [&str; 8] =
    ["operationId", "onlineMeetingUri", "subject", "importance", "attendees", "expirationTime", "to", "callbackUrl"];

fuzz_target!(|data: &[u8]| {
    let (query, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(query).unwrap_or_default();
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let bag = PropertyBag::from_json(object).with_query(pairs);
    let mut v = Validator::new();
    for name in NAMES {
        if let Some(s) = v.check(bag.string(name, 16)) {
            assert!(s.chars().count() <= 16, "{name}: {s:?}");
        }
        if let Some(e) = v.check(bag.enumeration(name, &["Normal", "Urgent"])) {
            assert!(e == "Normal" || e == "Urgent", "answered in the documented spelling: {e}");
        }
        v.check(bag.boolean(name));
        v.check(bag.string_list(name, 4));
        v.check(bag.date_ms(name));
        let _ = bag.contains(name);
    }
    let _ = v.finish();
    let _ = serde_urlencoded::from_bytes::<TokenRequest>(body);
});
