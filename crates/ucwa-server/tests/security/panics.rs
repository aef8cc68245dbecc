//! Finding 10: a multi-byte user name panicked the sign-in (byte slicing), the panic
//! answer had no correlation id, and the default panic hook printed raw input.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::Value;
use ucwa_server::state::{AppState, Shared};
use ucwa_testkit::TestServer;

#[tokio::test]
async fn multi_byte_user_names_are_refused_with_400_not_a_panic() {
    let server = TestServer::start().await;
    for name in ["é€abc@example.com", "sipé@x", "\u{1F600}", "ab€", "s\u{301}ip:alice@example.com"] {
        for grant in ["password", "client_credentials"] {
            let form = [
                ("grant_type", grant),
                ("username", name),
                ("client_id", name),
                ("password", "x"),
                ("client_secret", "x"),
            ];
            let resp = server.client.post(server.at("/WebTicket/oauthtoken")).form(&form).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{grant} {name}");
            assert!(resp.headers().contains_key("x-ms-correlation-id"));
            let body: Value = resp.json().await.unwrap();
            assert!(body["error"].as_str().unwrap().starts_with("invalid_"), "{body}");
        }
    }
}

#[tokio::test]
async fn a_panicking_handler_answers_500_with_a_correlation_id() {
    let server = TestServer::start().await;
    // The server's own middleware stack around a route that panics with a forged log line.
    let state = AppState(Arc::new(Shared {
        services: server.services.clone(),
        public_url: None,
        server_fqdn: "test.openucwa.local".into(),
    }));
    async fn boom() -> &'static str {
        panic!("bad name\nINFO forged line")
    }
    let routes = Router::new().route("/boom", get(boom));
    let app = ucwa_server::with_middleware(routes, state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let resp = server.client.get(format!("http://{addr}/boom")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(resp.headers().contains_key("x-ms-correlation-id"), "{:?}", resp.headers());
    assert!(resp.headers().contains_key("x-ms-server-fqdn"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "ServiceFailure");
    assert!(!body.to_string().contains("forged"), "the panic message is not sent: {body}");
}
