//! The floor: a bare axum handler with no authentication, no store and no middleware,
//! served by this program in a child process (`ucwa-bench floor-server`). Whatever the real
//! server achieves is compared with what the same framework, runtime and load generator
//! achieve when the handler does nothing.
//!
//! `GET /app` answers a pre-serialised JSON body the size of an application resource, so
//! the framework, the socket writes and the client's body reads cost the same as for the
//! real resource. `GET /park` holds the request for [`PARK`] before answering: the floor of
//! the memory a parked long-poll request costs.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use bytes::Bytes;
use serde_json::{Map, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// Body size when the caller does not match it to a real resource: about the size of an
/// application resource.
pub(crate) const DEFAULT_BODY_BYTES: usize = 3072;

/// How long `/park` holds a request.
pub(crate) const PARK: Duration = Duration::from_secs(60);

/// The floor server exits by itself after this long, even if its parent never stops it.
const MAX_LIFETIME: Duration = Duration::from_secs(900);

/// Serves until the parent closes our stdin (it exited or dropped us), or [`MAX_LIFETIME`].
pub(crate) async fn run(listen: SocketAddr, body_bytes: usize) -> anyhow::Result<()> {
    let body = Bytes::from(application_like_body(body_bytes));
    let app = Router::new()
        .route(
            "/app",
            get(move || {
                let body = body.clone();
                async move { ([(CONTENT_TYPE, "application/json")], body) }
            }),
        )
        .route(
            "/park",
            get(|| async {
                tokio::time::sleep(PARK).await;
                "released"
            }),
        );
    let listener = TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
    // The parent reads this line to learn the port (the same line ucwa-server prints).
    println!("listening on http://{}", listener.local_addr().context("local address")?);
    let orphaned = async {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        // EOF or an error: the parent is gone.
        while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
    };
    tokio::select! {
        served = axum::serve(listener, app) => served.context("serving")?,
        () = orphaned => {}
        () = tokio::time::sleep(MAX_LIFETIME) => {}
    }
    Ok(())
}

/// A JSON object of at least `size` bytes shaped like a HAL resource: a `_links` map of hrefs.
fn application_like_body(size: usize) -> String {
    let base = "/ucwa/oauth/v1/applications/0123456789abcdef0123456789abcdef";
    let mut links = Map::new();
    links.insert("self".into(), json!({ "href": base }));
    // Built once at start-up, so re-serialising per link is fine.
    let mut i = 0;
    loop {
        let body = json!({ "rel": "application", "_links": &links }).to_string();
        if body.len() >= size {
            return body;
        }
        links.insert(format!("link{i}"), json!({ "href": format!("{base}/resource/{i}") }));
        i += 1;
    }
}
