//! The OpenAPI document: served at `/openapi.json`, and the same as the committed
//! `docs/openapi.json`, so a change of the HTTP surface shows up in review. After a deliberate
//! change, regenerate the file with `UPDATE_OPENAPI=1 cargo nextest run -p ucwa-server -E
//! 'test(openapi)'` and commit it.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;
use ucwa_testkit::TestServer;

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let server = TestServer::start().await;
    let resp = server.client.get(server.at("/openapi.json")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let served = resp.text().await.unwrap();
    let document: Value = serde_json::from_str(&served).expect("JSON");
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/ucwa/oauth/v1/applications/{app}/events"]["get"].is_object());

    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&committed, &served).expect("write docs/openapi.json");
        return;
    }
    let on_disk = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        on_disk == served,
        "docs/openapi.json differs from what the server serves: if the change is deliberate, run \
         UPDATE_OPENAPI=1 cargo nextest run -p ucwa-server -E 'test(openapi)' and commit the file"
    );
}
