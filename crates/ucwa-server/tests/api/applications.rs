//! `applications`, `application`, `me` and `makeMeAvailable` (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/applications_ref>).

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_testkit::{TestOptions, TestServer, event_summary, fixture};

fn link_keys(v: &Value) -> BTreeSet<String> {
    v["_links"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// The JSON body of a recorded raw HTTP response.
fn recorded_body(file: &str) -> Value {
    let raw = fixture(file);
    let start = raw.find("\n{").expect("a JSON body") + 1;
    serde_json::from_str(&raw[start..]).expect("recorded JSON")
}

#[tokio::test]
async fn application_matches_the_recorded_lync_payload() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let ours = &app.body;
    let recorded = recorded_body("lync2013-trace/7-response.txt");
    assert_eq!(ours["rel"], recorded["rel"]);
    assert_eq!(link_keys(ours), link_keys(&recorded));
    let embedded = |v: &Value| v["_embedded"].as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(embedded(ours), embedded(&recorded));
    for rel in ["people", "onlineMeetings", "communication"] {
        let (o, r) = (&ours["_embedded"][rel], &recorded["_embedded"][rel]);
        assert_eq!(o["rel"], r["rel"], "{rel}");
        let mut expected = link_keys(r);
        // This server has no assigned (personal, permanent) meeting to point at.
        expected.remove("myAssignedOnlineMeeting");
        assert_eq!(link_keys(o), expected, "{rel} links");
    }
    let me = &ours["_embedded"]["me"];
    assert_eq!(me["uri"], "sip:alice@example.com");
    assert_eq!(me["name"], "Alice");
    assert!(me["_links"]["makeMeAvailable"]["href"].is_string());
    let comm = &ours["_embedded"]["communication"];
    assert!(comm.as_object().unwrap().values().any(|v| v == "please pass this in a PUT request"));
    assert!(ours["_links"]["events"]["href"].as_str().unwrap().ends_with("/events?ack=1"));
    // Every href is relative, as in the recorded payload.
    let text = ours.to_string();
    assert!(!text.contains("http://"), "absolute href in {text}");
    assert_eq!(ours["culture"], "en-US");
    assert_eq!(ours["userAgent"], "testkit");
}

#[tokio::test]
async fn same_user_and_endpoint_get_the_same_application() {
    let server = TestServer::start().await;
    let first = server.signed_in_app("sip:alice@example.com", "Alice").await;
    // Lower-case property names, as other real clients send them.
    let resp = server
        .call(
            Method::POST,
            "/ucwa/oauth/v1/applications",
            &first.token,
            Some(json!({"userAgent": "other", "endpointId": "endpoint-Alice", "culture": "fr-FR"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let again: Value = resp.json().await.unwrap();
    assert_eq!(again["_links"]["self"], first.body["_links"]["self"]);
    let other = server.create_app(&first.token, "another-endpoint").await;
    assert_ne!(other.url, first.url);
}

#[tokio::test]
async fn get_and_delete_application() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let resp = server.call(Method::GET, &app.url, &app.token, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json; charset=utf-8");
    assert!(resp.headers().contains_key("x-ms-correlation-id"));
    assert!(resp.headers().contains_key("x-ms-server-fqdn"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, app.body);
    assert_eq!(server.call(Method::DELETE, &app.url, &app.token, None).await.status(), StatusCode::NO_CONTENT);
    let gone = server.call(Method::GET, &app.url, &app.token, None).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(gone.json::<Value>().await.unwrap()["subcode"], "ApplicationNotFound");
}

#[tokio::test]
async fn another_users_application_is_invisible() {
    let server = TestServer::start().await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let bob = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let me_url = format!("{}/me", alice.url);
    let events_url = alice.events_url.clone();
    for (method, url) in [
        (Method::GET, alice.url.clone()),
        (Method::DELETE, alice.url.clone()),
        (Method::GET, me_url.clone()),
        (Method::GET, events_url),
        (Method::POST, format!("{me_url}/makeMeAvailable")),
        (Method::GET, format!("{}/people", alice.url)),
    ] {
        let resp = server.call(method.clone(), &url, &bob.token, None).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method} {url}");
        let text = resp.text().await.unwrap();
        assert!(!text.contains("alice"), "leaks Alice's data: {text}");
    }
    // Alice's application survived Bob's DELETE.
    assert_eq!(server.call(Method::GET, &alice.url, &alice.token, None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn make_me_available_emits_events_and_swaps_links() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let href = app.body["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"].as_str().unwrap().to_owned();
    let body =
        json!({"SupportedModalities": ["Messaging"], "supportedMessageFormats": ["Plain"], "signInAs": "Online"});
    let resp = server.call(Method::POST, &href, &app.token, Some(body.clone())).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let again = server.call(Method::POST, &href, &app.token, Some(body)).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let me: Value = server.call(Method::GET, &format!("{}/me", app.url), &app.token, None).await.json().await.unwrap();
    assert!(me["_links"].get("makeMeAvailable").is_none());
    let activity = me["_links"]["reportMyActivity"]["href"].as_str().unwrap().to_owned();
    assert_eq!(server.call(Method::POST, &activity, &app.token, None).await.status(), StatusCode::NO_CONTENT);
    // Medium-priority events are held up to `medium` seconds; ask for the shortest hold.
    let (status, batch) =
        server.events_within(&app, &format!("{}&medium=1", app.events_url), Duration::from_secs(1)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        event_summary(&batch),
        vec![
            ("me".into(), "me".into(), "updated".into()),
            ("me".into(), "presence".into(), "added".into()),
            ("me".into(), "note".into(), "added".into()),
            ("me".into(), "location".into(), "added".into()),
            ("communication".into(), "communication".into(), "updated".into())
        ]
    );
    let comm = &batch["sender"][1]["events"][0]["_embedded"]["communication"];
    assert_eq!(comm["supportedModalities"], json!(["Messaging"]));
}

#[tokio::test]
async fn make_me_available_validates_its_input() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let href = format!("{}/me/makeMeAvailable", app.url);
    let resp = server
        .call(
            Method::POST,
            &href,
            &app.token,
            Some(json!({"signInAs": "Sleeping", "supportedModalities": "Messaging"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["subcode"], "ParameterValidationFailure");
    assert!(body["parameters"]["signInAs"].is_string());
    assert!(body["parameters"]["supportedModalities"].is_string());
    // Nothing changed.
    let me: Value = server.call(Method::GET, &format!("{}/me", app.url), &app.token, None).await.json().await.unwrap();
    assert!(me["_links"]["makeMeAvailable"].is_object());
}

#[tokio::test]
async fn application_input_is_validated_and_every_bad_field_named() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let cases = [
        (json!({}), vec!["userAgent", "endpointId", "culture"]),
        (json!({"UserAgent": "x", "EndpointId": "e", "Culture": "c".repeat(101)}), vec!["culture"]),
        (json!({"UserAgent": 5, "EndpointId": ["e"], "Culture": "en"}), vec!["userAgent", "endpointId"]),
        (json!({"UserAgent": "x", "EndpointId": "  ", "Culture": "en"}), vec!["endpointId"]),
    ];
    for (body, names) in cases {
        let resp = server.call(Method::POST, "/ucwa/oauth/v1/applications", &app.token, Some(body.clone())).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["code"], "BadRequest");
        assert_eq!(err["subcode"], "ParameterValidationFailure");
        let got: BTreeSet<&str> = err["parameters"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(got, names.into_iter().collect(), "{body}");
    }
}

#[tokio::test]
async fn idle_applications_expire_with_410() {
    let mut options = TestOptions::default();
    options.limits.application_idle_secs = 1;
    let server = TestServer::start_with(options).await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let busy = server.signed_in_app("sip:bob@example.com", "Bob").await;
    // Bob keeps a request parked the whole time: a parked application is not idle.
    let parked = {
        let client = server.client.clone();
        let url = format!("{}&timeout=4", busy.events_url);
        let token = busy.token.clone();
        tokio::spawn(async move {
            ucwa_testkit::checked(client.get(url).bearer_auth(token).send().await.unwrap()).await.status()
        })
    };
    server.parked(&busy).await;
    server.advance(Duration::from_millis(2500)).await;
    let resp = server.call(Method::GET, &app.url, &app.token, None).await;
    assert_eq!(resp.status(), StatusCode::GONE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "Gone");
    assert_eq!(body["subcode"], "InactiveApplicationExpired");
    assert_eq!(server.call(Method::GET, &busy.url, &busy.token, None).await.status(), StatusCode::OK);
    // Its request answers when its own timeout passes.
    server.advance(Duration::from_secs(2)).await;
    assert_eq!(parked.await.unwrap(), StatusCode::OK);
    // The same endpoint then gets a fresh application.
    let fresh = server.create_app(&app.token, "endpoint-Alice").await;
    assert_ne!(fresh.url, app.url);
}

#[tokio::test]
async fn dashboards_answer_every_advertised_link() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let mut hrefs = Vec::new();
    for rel in ["people", "onlineMeetings"] {
        for (key, link) in app.body["_embedded"][rel]["_links"].as_object().unwrap() {
            if key != "myOnlineMeetings" && key != "search" {
                hrefs.push(link["href"].as_str().unwrap().to_owned());
            }
        }
    }
    // A search needs its query (`search_ref`).
    let search = app.body["_embedded"]["people"]["_links"]["search"]["href"].as_str().unwrap();
    let resp = server.call(Method::GET, search, &app.token, None).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.json::<Value>().await.unwrap()["parameters"]["query"].is_string());
    hrefs.push(app.body["_links"]["policies"]["href"].as_str().unwrap().to_owned());
    for href in hrefs {
        let resp = server.call(Method::GET, &href, &app.token, None).await;
        assert_eq!(resp.status(), StatusCode::OK, "{href}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["_links"]["self"]["href"], href.as_str());
    }
}

#[tokio::test]
async fn batch_runs_each_request_and_answers_in_order() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let base = app.body["_links"]["self"]["href"].as_str().unwrap().to_owned();
    let other = "/ucwa/oauth/v1/applications/someone-else/me";
    let body = format!(
        "--b1\r\nContent-Type: application/http; msgtype=request\r\n\r\nGET {base}/me HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n\
         --b1\r\nContent-Type: application/http; msgtype=request\r\n\r\nPOST {base}/me/makeMeAvailable HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{{\"signInAs\":\"Online\"}}\r\n\
         --b1\r\nContent-Type: application/http; msgtype=request\r\n\r\nGET {other} HTTP/1.1\r\n\r\n\
         --b1--\r\n"
    );
    let resp = server
        .send(
            server
                .client
                .post(format!("{}/batch", app.url))
                .bearer_auth(&app.token)
                .header("content-type", "multipart/batching;boundary=b1")
                .body(body),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("multipart/batching; boundary="));
    let text = resp.text().await.unwrap();
    let statuses: Vec<&str> = text.lines().filter(|l| l.starts_with("HTTP/1.1 ")).collect();
    assert_eq!(statuses, ["HTTP/1.1 200 OK", "HTTP/1.1 204 No Content", "HTTP/1.1 400 Bad Request"]);
    assert!(text.contains("\"uri\":\"sip:alice@example.com\""));
    // The inner POST really ran.
    let me: Value = server.call(Method::GET, &format!("{}/me", app.url), &app.token, None).await.json().await.unwrap();
    assert!(me["_links"]["reportMyActivity"].is_object());
    // Not multipart: 415.
    let resp = server.call(Method::POST, &format!("{}/batch", app.url), &app.token, Some(json!({}))).await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}
