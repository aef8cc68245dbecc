//! Anonymous meeting guests (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/authenticationinucwa>): a token for one meeting, an
//! anonymous application, and a join that must carry `anonymousDisplayName`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_testkit::{EventStream, TestApp, TestServer};

use crate::join::{Meeting, create_meeting, join};

const WAIT: Duration = Duration::from_secs(10);

async fn guest_token(server: &TestServer, conference_id: &str, uri: &str) -> reqwest::Response {
    anonmeeting_grant(server, &[("password", conference_id), ("ms_rtc_conferenceuri", uri)]).await
}

/// The token endpoint's answer to an `urn:microsoft.rtc:anonmeeting` grant with `fields`.
pub async fn anonmeeting_grant(server: &TestServer, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("grant_type", "urn:microsoft.rtc:anonmeeting")];
    form.extend_from_slice(fields);
    server.client.post(server.at("/WebTicket/oauthtoken")).form(&form).send().await.unwrap()
}

pub async fn guest_app(server: &TestServer, meeting: &Meeting) -> TestApp {
    let resp = guest_token(server, meeting.body["onlineMeetingId"].as_str().unwrap(), &meeting.uri).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap().to_owned();
    // Discovery leads the guest to the anonymous applications collection.
    let user: Value = server
        .client
        .get(server.at("/autodiscover/autodiscoverservice.svc/root/oauth/user"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let applications = user["_links"]["applications"]["href"].as_str().unwrap();
    assert!(applications.ends_with("/ucwa/anonymous/v1/applications"), "{applications}");
    let resp = server
        .call(
            Method::POST,
            applications,
            &token,
            Some(json!({"userAgent": "guest", "endpointId": "browser", "culture": "en-us"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    let url = server.at(body["_links"]["self"]["href"].as_str().unwrap());
    let events_url = server.at(body["_links"]["events"]["href"].as_str().unwrap());
    TestApp { token, url, events_url, body }
}

fn is_completed(e: &Value) -> bool {
    e["type"] == "completed" && e["link"]["rel"] == "onlineMeetingInvitation"
}

#[tokio::test]
async fn guest_joins_an_open_meeting_with_a_display_name() {
    let server = TestServer::start().await;
    let alice_app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meeting = create_meeting(&server, &alice_app, json!({"accessLevel": "Everyone"})).await;
    let mut alice = EventStream::new(&alice_app);
    join(&server, &alice_app, json!({"onlineMeetingUri": meeting.uri})).await;
    alice.until(&server, WAIT, is_completed).await;

    let guest = guest_app(&server, &meeting).await;
    let me = &guest.body["_embedded"]["me"];
    assert!(me["uri"].as_str().unwrap().ends_with("@anonymous.invalid"), "{me}");
    let url = format!("{}/communication/onlineMeetingInvitations", guest.url);
    let name_cases = [
        (json!({"onlineMeetingUri": meeting.uri}), "missing"),
        (json!({"onlineMeetingUri": meeting.uri, "anonymousDisplayName": "   "}), "blank"),
        (json!({"onlineMeetingUri": meeting.uri, "anonymousDisplayName": "Eve\u{7}"}), "control character"),
        (json!({"onlineMeetingUri": meeting.uri, "anonymousDisplayName": "x".repeat(251)}), "too long"),
        (json!({"onlineMeetingUri": meeting.uri, "anonymousDisplayName": 42}), "not a string"),
    ];
    for (body, why) in name_cases {
        let resp = server.call(Method::POST, &url, &guest.token, Some(body)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{why}");
        let err: Value = resp.json().await.unwrap();
        assert!(err["parameters"]["anonymousDisplayName"].is_string(), "{why}: {err}");
    }
    let mut events = EventStream::new(&guest);
    join(
        &server,
        &guest,
        json!({"onlineMeetingUri": meeting.uri, "AnonymousDisplayName": "  Guest One ", "operationId": "g1"}),
    )
    .await;
    let got = events.until(&server, WAIT, is_completed).await;
    let completed = got.iter().find(|e| is_completed(e)).unwrap();
    assert_eq!(completed["status"], "Success", "accessLevel Everyone admits anonymous users");
    assert_eq!(completed["_embedded"]["onlineMeetingInvitation"]["anonymousDisplayName"], "Guest One");
    let seen = alice.until(&server, WAIT, |e| e["type"] == "added" && e["link"]["rel"] == "participant").await;
    let guest_seen = &seen.last().unwrap()["_embedded"]["participant"];
    assert_eq!(guest_seen["anonymous"], true);
    assert_eq!(guest_seen["name"], "Guest One");
    assert_eq!(guest_seen["sourceNetwork"], "Everyone");
}

#[tokio::test]
async fn guests_wait_in_the_lobby_unless_everyone_is_admitted() {
    let server = TestServer::start().await;
    let alice_app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meeting = create_meeting(&server, &alice_app, json!({"accessLevel": "SameEnterprise"})).await;
    let mut alice = EventStream::new(&alice_app);
    join(&server, &alice_app, json!({"onlineMeetingUri": meeting.uri})).await;
    alice.until(&server, WAIT, is_completed).await;
    let guest = guest_app(&server, &meeting).await;
    let mut events = EventStream::new(&guest);
    join(&server, &guest, json!({"onlineMeetingUri": meeting.uri, "anonymousDisplayName": "Visitor"})).await;
    events.until(&server, WAIT, |e| e["_embedded"]["conversation"]["state"] == "InLobby").await;
    let seen = alice.until(&server, WAIT, |e| e["in"]["rel"] == "lobby").await;
    let admit =
        seen.last().unwrap()["_embedded"]["participant"]["_links"]["admit"]["href"].as_str().unwrap().to_owned();
    assert_eq!(server.call(Method::POST, &admit, &alice_app.token, None).await.status(), StatusCode::NO_CONTENT);
    let got = events.until(&server, WAIT, is_completed).await;
    assert_eq!(got.iter().find(|e| is_completed(e)).unwrap()["status"], "Success");
}

#[tokio::test]
async fn a_guest_token_is_good_for_its_meeting_only() {
    let server = TestServer::start().await;
    let alice_app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let first = create_meeting(&server, &alice_app, json!({"accessLevel": "Everyone"})).await;
    let second = create_meeting(&server, &alice_app, json!({"accessLevel": "Everyone"})).await;
    let guest = guest_app(&server, &first).await;
    let resp = server
        .call(
            Method::POST,
            &format!("{}/communication/onlineMeetingInvitations", guest.url),
            &guest.token,
            Some(json!({"onlineMeetingUri": second.uri, "anonymousDisplayName": "Guest"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "Forbidden");
    // Guests cannot start ad hoc meetings or schedule meetings either.
    let adhoc = server
        .call(
            Method::POST,
            &format!("{}/communication/onlineMeetingInvitations?onlineMeetingUri=adhoc", guest.url),
            &guest.token,
            Some(json!({"anonymousDisplayName": "Guest"})),
        )
        .await;
    assert_eq!(adhoc.status(), StatusCode::FORBIDDEN);
    let schedule = server
        .call(Method::POST, &format!("{}/onlineMeetings/myOnlineMeetings", guest.url), &guest.token, Some(json!({})))
        .await;
    assert_eq!(schedule.status(), StatusCode::FORBIDDEN);
    // A guest token does not reach users' applications, nor a user token the guest's.
    assert_eq!(server.call(Method::GET, &alice_app.url, &guest.token, None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(server.call(Method::GET, &guest.url, &alice_app.token, None).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn wrong_conference_keys_get_invalid_grant() {
    let server = TestServer::start().await;
    let alice_app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meeting = create_meeting(&server, &alice_app, json!({})).await;
    let id = meeting.body["onlineMeetingId"].as_str().unwrap();
    let other_organizer = meeting.uri.replace("alice@", "mallory@");
    for (key, uri) in
        [("WRONGKEY", meeting.uri.as_str()), (id, other_organizer.as_str()), (id, "sip:alice@example.com"), (id, "")]
    {
        let resp = guest_token(&server, key, uri).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{key} {uri}");
        let err = resp.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_owned();
        assert!(err == "invalid_grant" || err == "invalid_request", "{err}");
    }
}

#[tokio::test]
async fn renewing_a_guest_token_keeps_the_identity() {
    let server = TestServer::start().await;
    let alice_app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let meeting = create_meeting(&server, &alice_app, json!({})).await;
    let first = guest_app(&server, &meeting).await;
    let resp = anonmeeting_grant(
        &server,
        &[
            ("password", meeting.body["onlineMeetingId"].as_str().unwrap()),
            ("ms_rtc_conferenceuri", &meeting.uri),
            ("ms_rtc_renew", &first.token),
        ],
    )
    .await;
    let token = resp.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    // Same identity: the renewed token reaches the same application.
    assert_eq!(server.call(Method::GET, &first.url, &token, None).await.status(), StatusCode::OK);
}
