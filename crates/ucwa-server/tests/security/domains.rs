//! Finding 8: `sip:evilbot@evil.test` joined `alice@example.com`'s Locked meeting as a
//! trusted hidden leader, impersonated her and minted guest tokens for her meeting. Service
//! applications now act with privileges only in their own SIP domain and the domains their
//! operator listed (`service-app add --domain`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucwa_testkit::TestServer;

use crate::bots::{Bot, SECRET, find_href, get_ok, post};

/// Alice's Locked meeting: its URI and join URL; Alice is in it.
async fn alices_meeting(server: &TestServer) -> (String, String) {
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let available = format!("{}/me/makeMeAvailable", alice.url);
    server.call(Method::POST, &available, &alice.token, Some(json!({}))).await;
    let resp = server
        .call(
            Method::POST,
            &format!("{}/onlineMeetings/myOnlineMeetings", alice.url),
            &alice.token,
            Some(json!({"accessLevel": "Locked"})),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let meeting: Value = resp.json().await.unwrap();
    let uri = meeting["onlineMeetingUri"].as_str().unwrap().to_owned();
    let join = format!("{}/communication/onlineMeetingInvitations", alice.url);
    let body = json!({"onlineMeetingUri": uri, "operationId": "alice-joins"});
    assert_eq!(server.call(Method::POST, &join, &alice.token, Some(body)).await.status(), StatusCode::CREATED);
    (uri, meeting["joinUrl"].as_str().unwrap().to_owned())
}

async fn guest_token(server: &TestServer, bot: &Bot, join_url: &str) -> (StatusCode, Value) {
    let href = bot.link("ms:rtc:saas:anonApplicationTokens");
    post(server, &href, &bot.token, json!({"meetingUrl": join_url, "applicationSessionId": "s1"})).await
}

#[tokio::test]
async fn a_service_application_of_another_domain_gets_no_privileges_in_alices_meeting() {
    let server = TestServer::start().await;
    let (uri, join_url) = alices_meeting(&server).await;
    let evil = Bot::sign_in(&server, "sip:evilbot@evil.test", None).await;
    // A trusted hidden leader: refused.
    let (status, body) = evil.join(&server, &uri, json!({"localParticipantType": "TrustedParticipant"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "Forbidden");
    // Appearing as Alice: refused.
    let as_alice = json!({"localParticipantUri": "sip:alice@example.com", "localParticipantDisplayName": "Alice"});
    assert_eq!(evil.join(&server, &uri, as_alice).await.0, StatusCode::FORBIDDEN);
    // Guest tokens for her meeting: refused.
    assert_eq!(guest_token(&server, &evil, &join_url).await.0, StatusCode::FORBIDDEN);
    // As itself, untrusted, it may knock like anyone (and wait in the lobby).
    assert_eq!(evil.join(&server, &uri, json!({})).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn listed_domains_and_the_own_domain_are_allowed() {
    let server = TestServer::start().await;
    let (uri, join_url) = alices_meeting(&server).await;
    // Registered for example.com too.
    server.add_service_app_in("sip:helpdesk@partner.test", "Help desk", SECRET, None, &["example.com"]).await;
    let helpdesk = Bot::signed_in(&server, "sip:helpdesk@partner.test").await;
    let (status, body) = helpdesk.join(&server, &uri, json!({"localParticipantType": "TrustedParticipant"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(guest_token(&server, &helpdesk, &join_url).await.0, StatusCode::OK);
    // Its own domain's meetings always.
    let own = helpdesk.adhoc_meeting(&server).await;
    let own_uri = own["onlineMeetingUri"].as_str().unwrap();
    assert_eq!(
        helpdesk.join(&server, own_uri, json!({"localParticipantType": "TrustedParticipant"})).await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn roster_actions_follow_the_domains_in_force() {
    let server = TestServer::start().await;
    let (uri, _) = alices_meeting(&server).await;
    server.add_service_app_in("sip:helpdesk@partner.test", "Help desk", SECRET, None, &["example.com"]).await;
    let helpdesk = Bot::signed_in(&server, "sip:helpdesk@partner.test").await;
    let (status, joined) = helpdesk.join(&server, &uri, json!({"localParticipantType": "TrustedParticipant"})).await;
    assert_eq!(status, StatusCode::CREATED);
    // The hidden leader's view of the roster, with Alice's participant and its eject link.
    let invitation = get_ok(&server, joined["location"].as_str().unwrap(), &helpdesk.token).await;
    let conversation = find_href(&invitation, "ms:rtc:saas:conversation").expect("conversation link");
    let conversation = get_ok(&server, &conversation, &helpdesk.token).await;
    let participants = find_href(&conversation, "ms:rtc:saas:participants").expect("participants link");
    let participants = get_ok(&server, &participants, &helpdesk.token).await;
    let alice = participants["_embedded"]["ms:rtc:saas:participant"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["uri"] == "sip:alice@example.com"))
        .and_then(|p| p["_links"]["self"]["href"].as_str())
        .map(str::to_owned);
    let alice = alice.unwrap_or_else(|| panic!("a participant in {participants:#}"));
    // The operator takes example.com away: the endpoint signs in again (its tokens were
    // revoked) and may no longer eject anyone there.
    server.add_service_app("sip:helpdesk@partner.test", "Help desk", SECRET, None).await;
    let helpdesk = Bot::signed_in(&server, "sip:helpdesk@partner.test").await;
    let eject = match alice.split_once('?') {
        Some((path, query)) => format!("{path}/eject?{query}"),
        None => format!("{alice}/eject"),
    };
    let resp = server.call(Method::POST, &eject, &helpdesk.token, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Listed again, it may.
    server.add_service_app_in("sip:helpdesk@partner.test", "Help desk", SECRET, None, &["example.com"]).await;
    let helpdesk = Bot::signed_in(&server, "sip:helpdesk@partner.test").await;
    let resp = server.call(Method::POST, &eject, &helpdesk.token, None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}
