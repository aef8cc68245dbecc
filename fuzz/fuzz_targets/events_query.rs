//! The event channel's query string (`ack`, `timeout`, `low`, `medium`, `priority`, names in
//! any case). Nothing may panic, and names are read case-insensitively: the same query with
//! its names in upper case reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ucwa_server::routes::events::channel_query;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    let shouted: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => format!("{}={value}", name.to_ascii_uppercase()),
            None => pair.to_ascii_uppercase(),
        })
        .collect();
    let (quiet, loud) = (channel_query(Some(query)), channel_query(Some(&shouted.join("&"))));
    match (quiet, loud) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("{query:?} read {a:?}, upper-cased {b:?}"),
    }
});
