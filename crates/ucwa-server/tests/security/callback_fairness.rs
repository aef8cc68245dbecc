//! Finding 7: one shared pool of 32 deliveries let one endpoint with a slow receiver delay
//! another endpoint's first callback by the slow one's timeout. Each endpoint now delivers
//! at most `--callback-endpoint-concurrency` conversations at once and the others are
//! scheduled past it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use reqwest::StatusCode;
use serde_json::{Value, json};
use ucwa_server::config::Limits;
use ucwa_testkit::{CallbackReceiver, TestOptions, TestServer};

use crate::bots::Bot;

/// A receiver that answers heartbeats at once and never answers an event batch.
struct SlowReceiver {
    url: String,
    hanging: Arc<AtomicUsize>,
}

async fn slow(State(hanging): State<Arc<AtomicUsize>>, body: Bytes) -> StatusCode {
    let batch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if batch["sender"].as_array().is_some_and(Vec::is_empty) {
        return StatusCode::OK;
    }
    hanging.fetch_add(1, Ordering::SeqCst);
    std::future::pending::<()>().await;
    StatusCode::OK
}

impl SlowReceiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/callback", listener.local_addr().unwrap());
        let hanging = Arc::new(AtomicUsize::new(0));
        let app = Router::new().fallback(slow).with_state(hanging.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, hanging }
    }
}

#[tokio::test]
async fn a_slow_endpoint_does_not_delay_another_endpoints_first_callback() {
    // Deliveries to the slow receiver would hang for a minute each.
    let limits = Limits { callback_timeout_secs: 60, ..TestOptions::default().limits };
    let server = TestServer::start_with(TestOptions { limits, ..TestOptions::default() }).await;
    let slow_receiver = SlowReceiver::start().await;
    let slow = Bot::sign_in(&server, "sip:slow@example.com", None).await;
    let meeting = slow.adhoc_meeting(&server).await;
    let uri = meeting["onlineMeetingUri"].as_str().unwrap();
    // 40 conversations with undelivered callbacks: more than the 32 delivery slots.
    for _ in 0..40 {
        let (status, body) = slow.join(&server, uri, json!({"callbackUrl": slow_receiver.url})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while slow_receiver.hanging.load(Ordering::SeqCst) < 4 {
        assert!(tokio::time::Instant::now() < deadline, "the slow endpoint's deliveries started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another endpoint's first callback arrives while the slow one's hang.
    let receiver = CallbackReceiver::start().await;
    let quick = Bot::sign_in(&server, "sip:quick@example.com", None).await;
    let meeting = quick.adhoc_meeting(&server).await;
    let (status, body) =
        quick.join(&server, meeting["onlineMeetingUri"].as_str().unwrap(), json!({"callbackUrl": receiver.url})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    receiver.wait_for(Duration::from_secs(5), |accepted| !accepted.is_empty()).await;
    // The slow endpoint never had more than its share in flight.
    assert_eq!(slow_receiver.hanging.load(Ordering::SeqCst), 4, "--callback-endpoint-concurrency 4");
}
