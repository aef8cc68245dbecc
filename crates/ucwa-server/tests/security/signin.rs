//! Findings 1, 9 and 12: sign-in floods. Password checks run under a cap (503 with
//! `Retry-After` past it, the dummy check of an unknown user included); failures count per
//! client address and per name and address, so strangers cannot lock a user out; anonymous
//! meeting grants count per normalised meeting and address, however the URI is spelled.
//! Other client addresses are loopback addresses other than 127.0.0.1 (the client binds to
//! them).

use std::net::IpAddr;
use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use ucwa_server::config::Limits;
use ucwa_testkit::{TestOptions, TestServer};

/// A client whose connections come from `address`.
fn client_from(address: [u8; 4]) -> Client {
    Client::builder().local_address(IpAddr::from(address)).build().unwrap()
}

async fn grant(server: &TestServer, client: &Client, form: &[(&str, &str)]) -> (StatusCode, Option<u64>, Value) {
    let resp = client.post(server.at("/WebTicket/oauthtoken")).form(form).send().await.unwrap();
    let status = resp.status();
    let retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry_after, resp.json().await.unwrap_or(Value::Null))
}

async fn password(server: &TestServer, client: &Client, user: &str, password: &str) -> (StatusCode, Option<u64>) {
    let (status, retry, _) =
        grant(server, client, &[("grant_type", "password"), ("username", user), ("password", password)]).await;
    (status, retry)
}

#[tokio::test]
async fn parallel_bad_sign_ins_beyond_the_hashing_cap_get_503_with_retry_after() {
    let limits = Limits { hash_concurrency: 2, hash_queue_wait_ms: 0, ..TestOptions::default().limits };
    let server = TestServer::start_with(TestOptions { limits, ..TestOptions::default() }).await;
    server.add_user("sip:alice@example.com", "Alice", "alice-password").await;
    // 60 parallel grants, most for users that do not exist (the dummy check), some wrong
    // passwords for alice.
    let requests = (0..60).map(|i| {
        let user = if i % 5 == 0 { "alice@example.com".to_owned() } else { format!("nobody{i}@example.com") };
        let (server, client) = (&server, server.client.clone());
        async move { password(server, &client, &user, "wrong").await }
    });
    let answers = futures_util::future::join_all(requests).await;
    let busy: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE).collect();
    let refused = answers.iter().filter(|(s, _)| *s == StatusCode::BAD_REQUEST).count();
    assert_eq!(busy.len() + refused, 60, "{answers:?}");
    assert!(!busy.is_empty(), "60 parallel checks on 2 slots without waiting: some must be turned away");
    assert!(busy.iter().all(|(_, retry)| *retry == Some(1)), "503 carries Retry-After: {busy:?}");
    // Never more than two argon2 checks at once: memory stays at two checks' worth.
    assert_eq!(server.services.hashing.capacity(), 2);
    assert!(server.services.hashing.peak() <= 2, "peak {}", server.services.hashing.peak());
    assert!(server.services.hashing.peak() >= 1);
    // Once the flood is over, the right password works.
    assert_eq!(password(&server, &server.client, "alice@example.com", "alice-password").await.0, StatusCode::OK);
}

fn strict_limits() -> TestOptions {
    let limits = Limits {
        signin_attempts_per_minute: 3,
        signin_address_attempts_per_minute: 6,
        ..TestOptions::default().limits
    };
    TestOptions { limits, ..TestOptions::default() }
}

#[tokio::test]
async fn strangers_failures_never_lock_out_the_right_password() {
    let server = TestServer::start_with(strict_limits()).await;
    server.add_user("sip:alice@example.com", "Alice", "alice-password").await;
    server.add_service_app("sip:bot@example.com", "Bot", "bot-secret-0123456789", None).await;
    let stranger = client_from([127, 0, 0, 2]);
    let alice = client_from([127, 0, 0, 3]);
    for _ in 0..3 {
        assert_eq!(password(&server, &stranger, "alice@example.com", "guess").await.0, StatusCode::BAD_REQUEST);
    }
    // The stranger is refused now, even with the right password: 429 with Retry-After.
    let (status, retry) = password(&server, &stranger, "alice@example.com", "alice-password").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some_and(|s| (1..=60).contains(&s)), "{retry:?}");
    // Alice, from her own address, is not.
    assert_eq!(password(&server, &alice, "alice@example.com", "alice-password").await.0, StatusCode::OK);
    // The same for a service application's client secret.
    let secret = |s: &str| {
        [("grant_type", "client_credentials"), ("client_id", "sip:bot@example.com"), ("client_secret", s)]
            .map(|(k, v)| (k, v.to_owned()))
    };
    for _ in 0..3 {
        let form = secret("guess-guess-guess");
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(grant(&server, &stranger, &form).await.0, StatusCode::BAD_REQUEST);
    }
    let form = secret("bot-secret-0123456789");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(grant(&server, &stranger, &form).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(grant(&server, &alice, &form).await.0, StatusCode::OK);
    // The stranger's address is over its own budget for every name now (6 failures).
    let (status, retry) = password(&server, &stranger, "bob@example.com", "x").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some());
    // A minute later (on the server's clock) it may try again.
    server.advance(Duration::from_secs(61)).await;
    assert_eq!(password(&server, &stranger, "alice@example.com", "alice-password").await.0, StatusCode::OK);
}

#[tokio::test]
async fn anonymous_guesses_count_per_meeting_however_it_is_spelled() {
    let server = TestServer::start_with(strict_limits()).await;
    let alice = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let resp = server
        .call(Method::POST, &format!("{}/onlineMeetings/myOnlineMeetings", alice.url), &alice.token, Some(json!({})))
        .await;
    let meeting: Value = resp.json().await.unwrap();
    let uri = meeting["onlineMeetingUri"].as_str().unwrap().to_owned();
    let id = meeting["onlineMeetingId"].as_str().unwrap().to_owned();
    let guesser = client_from([127, 0, 0, 4]);
    let spellings = [uri.clone(), uri.to_uppercase(), format!("  {uri} "), uri.replacen("sip:", "SIP:", 1)];
    for spelled in &spellings[..3] {
        let form = [
            ("grant_type", "urn:microsoft.rtc:anonmeeting"),
            ("password", "WRONG"),
            ("ms_rtc_conferenceuri", spelled.as_str()),
        ];
        assert_eq!(grant(&server, &guesser, &form).await.0, StatusCode::BAD_REQUEST, "{spelled}");
    }
    let form = [
        ("grant_type", "urn:microsoft.rtc:anonmeeting"),
        ("password", "WRONG"),
        ("ms_rtc_conferenceuri", spellings[3].as_str()),
    ];
    let (status, retry, _) = grant(&server, &guesser, &form).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "a fourth spelling is the same meeting");
    assert!(retry.is_some());
    // A guest from elsewhere with the right id still gets in.
    let guest = client_from([127, 0, 0, 5]);
    let form = [
        ("grant_type", "urn:microsoft.rtc:anonmeeting"),
        ("password", id.as_str()),
        ("ms_rtc_conferenceuri", uri.as_str()),
    ];
    assert_eq!(grant(&server, &guest, &form).await.0, StatusCode::OK);
}
