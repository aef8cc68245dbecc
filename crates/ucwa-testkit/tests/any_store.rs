//! `TestServer::start_on` runs the server on the store a factory opens, and a restart opens
//! it again through the same factory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use ucwa_testkit::{StoreFactory, TestOptions, TestServer, sqlite_store};

#[tokio::test]
async fn the_server_runs_on_the_store_the_factory_opens_and_reopens_it_on_restart() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let opened = Arc::new(AtomicUsize::new(0));
    let factory: StoreFactory = {
        let (inner, opened) = (sqlite_store(dir.clone()), opened.clone());
        Arc::new(move || {
            opened.fetch_add(1, Ordering::SeqCst);
            inner()
        })
    };
    let server = TestServer::start_on(factory, TestOptions::default()).await;
    assert_eq!(opened.load(Ordering::SeqCst), 1);
    let app = server.signed_in_app("sip:alice@example.com", "alice").await;
    assert!(dir.path().join("ucwa.db").exists(), "the factory's database is the one in use");

    let server = server.restart().await;
    assert_eq!(opened.load(Ordering::SeqCst), 2, "reopened through the factory");
    // The application survived the restart: it lives in the factory's database.
    let resp = server.call(Method::GET, &app.url, &app.token, None).await;
    assert_eq!(resp.status(), 200);
    server.stop().await;
}
