//! Finding 4: a 64 KiB message was copied to every receiver and batches had no byte cap (one
//! poll returned 50.5 MB). Messages are capped at the observed Lync limits (8,000
//! characters; 800 for an invitation's first message) and a batch at `--max-batch-bytes`:
//! the rest follows in the next batch, in order, nothing lost.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_server::config::Limits;
use ucwa_testkit::{EventStream, TestApp, TestOptions, TestServer, events_of, next_link};

const WAIT: std::time::Duration = std::time::Duration::from_secs(15);

fn link(resource: &Value, rel: &str) -> String {
    resource["_links"][rel]["href"].as_str().unwrap_or_else(|| panic!("no {rel} in {resource:#}")).to_owned()
}

/// `who` in a meeting (an ad hoc one when `uri` is `None`) with messaging connected: the
/// application, its stream, the `sendMessage` URL and the meeting's URI.
async fn messaging_in(server: &TestServer, who: &str, uri: Option<&str>) -> (TestApp, EventStream, String, String) {
    let name = who.split(['@', ':']).nth(1).unwrap_or("x");
    let app = server.signed_in_app(who, name).await;
    let mut stream = EventStream::new(&app);
    let join = format!("{}/communication/onlineMeetingInvitations", app.url);
    let body = match uri {
        Some(uri) => json!({"operationId": "join", "onlineMeetingUri": uri}),
        None => json!({"operationId": "adhoc"}),
    };
    let alice = app;
    let resp = server.call(Method::POST, &join, &alice.token, Some(body)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let got = stream.until(server, WAIT, |e| e["type"] == "completed").await;
    let conversation =
        got.iter().find(|e| e["link"]["rel"] == "conversation").unwrap()["link"]["href"].as_str().unwrap().to_owned();
    let conversation: Value = server.call(Method::GET, &conversation, &alice.token, None).await.json().await.unwrap();
    let meeting: Value =
        server.call(Method::GET, &link(&conversation, "onlineMeeting"), &alice.token, None).await.json().await.unwrap();
    let meeting_uri = meeting["onlineMeetingUri"].as_str().unwrap().to_owned();
    let messaging: Value =
        server.call(Method::GET, &link(&conversation, "messaging"), &alice.token, None).await.json().await.unwrap();
    let add = link(&messaging, "addMessaging");
    let resp = server.call(Method::POST, &add, &alice.token, Some(json!({"operationId": "im"}))).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    stream.until(server, WAIT, |e| e["type"] == "completed" && e["link"]["rel"] == "messagingInvitation").await;
    let send = format!("{}/messages", link(&messaging, "self"));
    (alice, stream, send, meeting_uri)
}

async fn send(server: &TestServer, app: &TestApp, url: &str, text: &str) -> reqwest::Response {
    let req = server.client.post(server.at(url)).bearer_auth(&app.token).header("content-type", "text/plain");
    req.body(text.as_bytes().to_vec()).send().await.unwrap()
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let server = TestServer::start().await;
    let (alice, _, send_url, _) = messaging_in(&server, "sip:alice@example.com", None).await;
    let resp = send(&server, &alice, &send_url, &"é".repeat(8001)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert!(body["parameters"]["message"].is_string(), "{body}");
    assert_eq!(send(&server, &alice, &send_url, &"é".repeat(8000)).await.status(), StatusCode::CREATED);
    // An invitation's first message: 800 characters.
    server.add_user("sip:bob@example.com", "Bob", "bob-password").await;
    let start = format!("{}/communication/messagingInvitations", alice.url);
    let body = json!({"to": "sip:bob@example.com", "operationId": "call", "message": "x".repeat(801)});
    let resp = server.call(Method::POST, &start, &alice.token, Some(body)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert!(body["parameters"]["message"].is_string(), "{body}");
}

#[tokio::test]
async fn a_batch_stops_at_its_byte_cap_and_the_rest_follows_in_order() {
    let limits = Limits { max_batch_bytes: 100_000, ..TestOptions::default().limits };
    let server = TestServer::start_with(TestOptions { limits, ..TestOptions::default() }).await;
    let (alice, _, send_url, uri) = messaging_in(&server, "sip:alice@example.com", None).await;
    let (bob, mut stream, _, _) = messaging_in(&server, "sip:bob@example.com", Some(&uri)).await;
    // Drain what is pending, then Alice sends six messages of 8,000 two-byte characters
    // (about 48 KB each once percent-encoded in Bob's event).
    stream.drain(&server).await;
    for i in 0..6 {
        let text = format!("{i}{}", "é".repeat(7999));
        assert_eq!(send(&server, &alice, &send_url, &text).await.status(), StatusCode::CREATED);
    }
    // Follow the channel from where the stream stopped, batch by batch.
    let mut url = stream.next_url().to_owned();
    let mut order = Vec::new();
    for _ in 0..20 {
        let (status, batch) = server.events_within(&bob, &url, std::time::Duration::from_secs(1)).await;
        assert_eq!(status, StatusCode::OK);
        let size = batch.to_string().len();
        let messages: Vec<Value> = events_of(&batch)
            .into_iter()
            .filter(|e| e["link"]["rel"] == "message" && e["_embedded"]["message"]["direction"] == "Incoming")
            .collect();
        assert!(messages.len() <= 2, "{} messages in one batch of {size} bytes", messages.len());
        assert!(size < 100_000 + 20_000, "a batch of {size} bytes");
        for m in messages {
            let href = m["_embedded"]["message"]["_links"]["plainMessage"]["href"].as_str().unwrap().to_owned();
            let (_, text) = ucwa_proto::encode::decode_data_uri(&href).unwrap();
            order.push(text.chars().next().unwrap());
        }
        url = next_link(&server, &batch).unwrap();
        if order.len() == 6 {
            break;
        }
    }
    assert_eq!(order, ['0', '1', '2', '3', '4', '5'], "every message, in order");
}
