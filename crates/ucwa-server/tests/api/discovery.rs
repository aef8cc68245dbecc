//! Discovery and tokens (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/rooturl>, `fixtures/lync2013-trace` steps 3–6).

use reqwest::StatusCode;
use serde_json::Value;
use ucwa_testkit::TestServer;

#[tokio::test]
async fn root_links_user_and_xframe_absolutely() {
    let server = TestServer::start().await;
    for path in ["/", "/autodiscover/autodiscoverservice.svc/root", "/Autodiscover/AutodiscoverService.svc/root"] {
        let resp = server.send(server.client.get(server.at(path))).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/json; charset=utf-8");
        let body: Value = resp.json().await.unwrap();
        let links = body["_links"].as_object().unwrap();
        let keys: Vec<&str> = links.keys().map(String::as_str).collect();
        assert_eq!(keys, ["self", "user", "xframe"]);
        assert!(links["user"]["href"].as_str().unwrap().starts_with(&server.url));
    }
}

#[tokio::test]
async fn user_resource_challenges_then_links_applications() {
    let server = TestServer::start().await;
    let user_url = server.at("/autodiscover/autodiscoverservice.svc/root/oauth/user");
    let resp = server.send(server.client.get(&user_url)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenges: Vec<&str> =
        resp.headers().get_all("www-authenticate").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(challenges.iter().any(|c| c.starts_with("Bearer ")));
    let expected = format!(
        r#"MsRtcOAuth href="{}/WebTicket/oauthtoken",grant_type="urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password""#,
        server.url
    );
    assert!(challenges.contains(&expected.as_str()), "{challenges:?}");

    server.add_user("sip:alice@example.com", "Alice", "pw-alice").await;
    let token = server.token("alice@example.com", "pw-alice").await.unwrap();
    let body: Value = server.send(server.client.get(&user_url).bearer_auth(&token)).await.json().await.unwrap();
    assert_eq!(
        body["_links"]["applications"]["href"].as_str().unwrap(),
        format!("{}/ucwa/oauth/v1/applications", server.url)
    );
}

#[tokio::test]
async fn password_grant_accepts_both_username_forms_and_ignores_unknown_fields() {
    let server = TestServer::start().await;
    server.add_user("sip:alice@example.com", "Alice", "pw-alice").await;
    for username in ["alice@example.com", "sip:alice@example.com", "SIP:Alice@Example.com"] {
        let resp = server
            .send(server.client.post(server.at("/WebTicket/oauthtoken")).form(&[
                ("grant_type", "password"),
                ("username", username),
                ("password", "pw-alice"),
                ("client_id", "x"),
            ]))
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{username}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 8 * 3600);
        assert!(body["access_token"].as_str().unwrap().len() > 40);
    }
}

#[tokio::test]
async fn bad_credentials_and_grants_get_oauth_errors() {
    let server = TestServer::start().await;
    server.add_user("sip:alice@example.com", "Alice", "pw-alice").await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("grant_type", "password"), ("username", "alice@example.com"), ("password", "wrong")], "invalid_grant"),
        (&[("grant_type", "password"), ("username", "nobody@example.com"), ("password", "pw")], "invalid_grant"),
        (&[("grant_type", "password"), ("username", "not a uri"), ("password", "pw")], "invalid_grant"),
        (&[("grant_type", "password"), ("username", "alice@example.com")], "invalid_request"),
        (&[("grant_type", "client_magic")], "unsupported_grant_type"),
        (&[("username", "alice@example.com")], "invalid_request"),
    ];
    for (form, error) in cases {
        let resp = server.send(server.client.post(server.at("/WebTicket/oauthtoken")).form(form)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{form:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], *error, "{form:?}");
    }
}

#[tokio::test]
async fn repeated_failed_signins_are_rate_limited() {
    let mut options = ucwa_testkit::TestOptions::default();
    options.limits.signin_attempts_per_minute = 3;
    let server = TestServer::start_with(options).await;
    server.add_user("sip:alice@example.com", "Alice", "pw-alice").await;
    for _ in 0..3 {
        assert!(server.token("alice@example.com", "wrong").await.is_err());
    }
    let resp = server
        .send(server.client.post(server.at("/WebTicket/oauthtoken")).form(&[
            ("grant_type", "password"),
            ("username", "alice@example.com"),
            ("password", "pw-alice"),
        ]))
        .await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn garbage_missing_and_expired_tokens_get_the_same_challenge() {
    let mut options = ucwa_testkit::TestOptions::default();
    options.limits.token_ttl_secs = 1;
    let server = TestServer::start_with(options).await;
    server.add_user("sip:alice@example.com", "Alice", "pw-alice").await;
    let token = server.token("alice@example.com", "pw-alice").await.unwrap();
    let url = server.at("/ucwa/oauth/v1/applications");
    let bodies = [
        None,
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some("Bearer garbage".to_owned()),
        Some(format!("Basic {token}")),
        Some(format!("Bearer {}", "x".repeat(5000))),
    ];
    for auth in bodies {
        let mut req = server.client.post(&url).json(&serde_json::json!({}));
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        let resp = server.send(req).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(resp.headers().get_all("www-authenticate").iter().count(), 2);
    }
    server.advance(std::time::Duration::from_millis(1100)).await;
    let resp = server
        .send(server.client.get(server.at("/autodiscover/autodiscoverservice.svc/root/oauth/user")).bearer_auth(&token))
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "expired token");
}

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let server = TestServer::start().await;
    server.add_user("sip:alice@example.com", "Alice", "pw-alice").await;
    let token = server.token("alice@example.com", "pw-alice").await.unwrap();
    let bytes = server.database_contents().await;
    let user = b"sip:alice@example.com";
    assert!(bytes.windows(user.len()).any(|w| w == user), "the contents hold the user");
    assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "the token secret is in the database");
    assert!(!bytes.windows(8).any(|w| w == b"pw-alice"), "the password is in the database");
}
