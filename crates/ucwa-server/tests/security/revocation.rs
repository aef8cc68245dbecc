//! Finding 13: tokens survived a password change. Changing a password (`user add` on an
//! existing user, `user passwd`), re-adding a service application, or `user revoke` revokes
//! the tokens; the token cache re-reads a token from the store after five seconds of the
//! server's clock, so a revoked token stops working within that time.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use ucwa_testkit::TestServer;

const FRESH: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_password_change_revokes_the_users_tokens() {
    let server = TestServer::start().await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    // In use, so cached.
    assert_eq!(server.call(Method::GET, &app.url, &app.token, None).await.status(), StatusCode::OK);
    // `user add` on the existing user with a new password.
    server.add_user("sip:alice@example.com", "Alice", "a-new-password").await;
    server.advance(FRESH).await;
    assert_eq!(server.call(Method::GET, &app.url, &app.token, None).await.status(), StatusCode::UNAUTHORIZED);
    assert!(server.token("alice@example.com", "Alice-password").await.is_err(), "the old password");
    let token = server.token("alice@example.com", "a-new-password").await.unwrap();
    assert_eq!(server.call(Method::GET, &app.url, &token, None).await.status(), StatusCode::OK);

    // `user passwd`.
    ucwa_server::cli::set_password(server.store.as_ref(), "sip:alice@example.com", "third".as_bytes()).await.unwrap();
    server.advance(FRESH).await;
    assert_eq!(server.call(Method::GET, &app.url, &token, None).await.status(), StatusCode::UNAUTHORIZED);

    // `user revoke`, without a password change; another user's token is untouched.
    let bob = server.signed_in_app("sip:bob@example.com", "Bob").await;
    let token = server.token("alice@example.com", "third").await.unwrap();
    assert_eq!(server.call(Method::GET, &app.url, &token, None).await.status(), StatusCode::OK);
    ucwa_server::cli::revoke_user(server.store.as_ref(), "sip:alice@example.com").await.unwrap();
    server.advance(FRESH).await;
    assert_eq!(server.call(Method::GET, &app.url, &token, None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.call(Method::GET, &bob.url, &bob.token, None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn re_adding_a_service_application_revokes_its_tokens() {
    let server = TestServer::start().await;
    server.add_service_app("sip:bot@example.com", "Bot", "first-secret-0123456789", None).await;
    let token = server.service_token("sip:bot@example.com", "first-secret-0123456789").await.unwrap();
    let discover = server.at("/platformservice/discover");
    assert_eq!(server.call(Method::GET, &discover, &token, None).await.status(), StatusCode::OK);
    server.add_service_app("sip:bot@example.com", "Bot", "second-secret-0123456789", None).await;
    server.advance(FRESH).await;
    assert_eq!(server.call(Method::GET, &discover, &token, None).await.status(), StatusCode::UNAUTHORIZED);
    assert!(server.service_token("sip:bot@example.com", "second-secret-0123456789").await.is_ok());
}
