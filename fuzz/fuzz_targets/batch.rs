//! `POST .../batch` bodies: the boundary from a content type, the multipart document
//! (multer) and each part's HTTP request (httparse), as the handler reads them. The first
//! line of the input is the content type, the rest the body. Nothing may panic, and every
//! request kept must stay inside the caller's application.
#![no_main]

use futures_util::FutureExt;
use libfuzzer_sys::fuzz_target;
use ucwa_server::routes::batch;

const OWN: &str = "/ucwa/oauth/v1/applications/a1";

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Some(boundary) = batch::boundary(std::str::from_utf8(head).ok()) else { return };
    let body = axum::body::Bytes::copy_from_slice(body);
    // The document arrives as one ready chunk, so parsing never waits.
    let Some(Ok(requests)) = batch::parse(&boundary, body, OWN).now_or_never() else { return };
    for request in requests.into_iter().flatten() {
        let path = request.target.split('?').next().unwrap_or_default();
        assert!(path == OWN || path.starts_with("/ucwa/oauth/v1/applications/a1/"), "{path}");
        assert!(!path.ends_with("/batch") && !path.ends_with("/events"));
    }
});
