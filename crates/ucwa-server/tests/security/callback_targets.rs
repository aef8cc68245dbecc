//! Findings 5 and 6: a service application could make the server POST to any address
//! (SSRF), and the server read callback answers without limit. Internal addresses are
//! refused (400 naming `callbackUrl` at join time, and at connect time whatever a name
//! resolves to then) unless allowed; answers are read up to 64 KiB.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use reqwest::StatusCode;
use serde_json::json;
use ucwa_server::callbacks::{CallbackPolicy, HttpTransport};
use ucwa_service::CallbackTransport;
use ucwa_testkit::{CallbackReceiver, TestOptions, TestServer};

use crate::bots::Bot;

#[tokio::test]
async fn internal_callback_urls_are_refused_with_400_naming_callback_url() {
    // No network allowed: the production default.
    let server =
        TestServer::start_with(TestOptions { callback_allow_networks: vec![], ..TestOptions::default() }).await;
    let receiver = CallbackReceiver::start().await;
    let port = receiver.addr.port();
    let bot = Bot::sign_in(&server, "sip:bot@example.com", None).await;
    let meeting = bot.adhoc_meeting(&server).await;
    let uri = meeting["onlineMeetingUri"].as_str().unwrap();
    for target in [
        format!("http://127.0.0.1:{port}/callback"),
        format!("http://localhost:{port}/callback"),
        format!("http://2130706433:{port}/callback"),
        format!("http://0x7f.1:{port}/callback"),
        format!("http://0177.0.0.1:{port}/callback"),
        format!("http://[::1]:{port}/callback"),
        format!("http://[::ffff:127.0.0.1]:{port}/callback"),
        format!("http://0.0.0.0:{port}/callback"),
        format!("http://[::]:{port}/callback"),
    ] {
        let (status, body) = bot.join(&server, uri, json!({"callbackUrl": target})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{target}: {body}");
        assert_eq!(body["subcode"], "ParameterValidationFailure");
        assert!(body["parameters"]["callbackUrl"].is_string(), "{target}: {body}");
    }
    // Nothing reached the receiver: no heartbeat, no port-scanning answer difference.
    assert!(receiver.requests().is_empty());
    // The endpoint's registered default URL is held to the same rule.
    let registered = Bot::sign_in(&server, "sip:other@example.com", Some(&receiver.url)).await;
    let (status, body) = registered.join(&server, uri, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["parameters"]["callbackUrl"].is_string());
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn allowed_networks_are_reached() {
    // The test server allows 127.0.0.0/8 (as --demo does).
    let server = TestServer::start().await;
    let receiver = CallbackReceiver::start().await;
    let bot = Bot::sign_in(&server, "sip:bot@example.com", None).await;
    let meeting = bot.adhoc_meeting(&server).await;
    let (status, body) =
        bot.join(&server, meeting["onlineMeetingUri"].as_str().unwrap(), json!({"callbackUrl": receiver.url})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(!receiver.requests().is_empty(), "the heartbeat arrived");
}

#[tokio::test]
async fn names_are_filtered_when_the_connection_is_made() {
    // The transport on its own, as the delivery worker uses it: `localhost` resolves to
    // loopback addresses at connect time, which the resolver drops (a DNS rebinding that
    // passed a join-time check would meet the same filter).
    let receiver = CallbackReceiver::start().await;
    let transport = HttpTransport::new(Duration::from_secs(5), CallbackPolicy::default());
    let url = format!("http://localhost:{}/callback", receiver.addr.port()).parse().unwrap();
    let refused = transport.post(&url, "t=0,v1=00", None, b"{}".to_vec()).await.unwrap_err();
    assert!(refused.contains("internal address"), "{refused}");
    let literal = format!("http://127.0.0.1:{}/callback", receiver.addr.port()).parse().unwrap();
    assert!(transport.post(&literal, "t=0,v1=00", None, b"{}".to_vec()).await.is_err());
    assert!(receiver.requests().is_empty());
    // Allowed, the same URLs go through.
    let allowed = CallbackPolicy { allowed: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()] };
    let transport = HttpTransport::new(Duration::from_secs(5), allowed);
    assert!(transport.post(&url, "t=0,v1=00", None, b"{}".to_vec()).await.is_ok());
}

#[tokio::test]
async fn an_endless_callback_answer_is_read_only_up_to_64_kib() {
    // A receiver that answers 200 and then streams spaces forever.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let endless = || async {
        let chunk = Bytes::from(vec![b' '; 16 * 1024]);
        Body::from_stream(futures_util::stream::repeat_with(move || Ok::<_, Infallible>(chunk.clone())))
    };
    tokio::spawn(async move { axum::serve(listener, Router::new().fallback(endless)).await });
    let transport =
        HttpTransport::new(Duration::from_secs(20), CallbackPolicy { allowed: vec!["127.0.0.0/8".parse().unwrap()] });
    let url = format!("http://{addr}/callback").parse().unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), transport.post(&url, "t=0,v1=00", None, b"{}".to_vec()))
        .await
        .expect("the transport stops reading instead of reading forever")
        .unwrap();
    assert_eq!(answer.len(), ucwa_server::callbacks::MAX_ANSWER_BYTES);
}
