//! A service application through the SDK: client-credentials sign-in and discovery, an ad hoc
//! meeting, a trusted join whose events come as signed callbacks into a `CallbackInbox`, an
//! anonymous application token for a guest who waits in the lobby, and the bot admitting
//! them.

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::net::TcpListener;
use ucwa_client::proto::SipUri;
use ucwa_client::proto::request::MeetingSettings;
use ucwa_client::proto::values::AccessLevel;
use ucwa_client::{AppOptions, CallbackInbox, Client, JoinState, SIGNATURE_HEADER, ServiceJoin};
use ucwa_testkit::TestServer;

use crate::meetings::next_in_lobby;
use crate::{quick, reaches_lobby, state, within};

const BOT: &str = "sip:bot@contoso.com";
const SECRET: &str = "bot-client-secret-0123456789";
const ORIGIN: &str = "https://contoso.example";

/// An HTTP endpoint on loopback that hands every callback to `inbox`; answers its URL.
async fn callback_endpoint(inbox: CallbackInbox) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    let app = Router::new().route(
        "/callback",
        post(move |headers: HeaderMap, body: Bytes| {
            let inbox = inbox.clone();
            async move {
                let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
                match inbox.deliver(signature, &body) {
                    Ok(()) => StatusCode::OK,
                    Err(_) => StatusCode::UNAUTHORIZED,
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn a_trusted_bot_admits_a_guest_it_gave_a_token() {
    let server = TestServer::start().await;
    let signing_key = server.add_service_app(BOT, "Bot", SECRET, None).await;
    let client = Client::new(&server.url).unwrap();
    let bot = client.service_application(&SipUri::parse(BOT).unwrap(), SECRET).await.unwrap();
    assert_eq!(bot.endpoint().as_str(), BOT);
    let inbox = bot.callbacks(Some(&signing_key));
    let callback_url = callback_endpoint(inbox.clone()).await;

    let mut settings = MeetingSettings::default();
    settings.subject = Some("Help desk".into());
    settings.access_level = Some(AccessLevel::Locked);
    let meeting = bot.create_adhoc_meeting(&settings).await.unwrap();
    let address = meeting.address().unwrap();
    let join = bot.join(&address, ServiceJoin::Trusted, Some(&callback_url)).await.unwrap();
    let mut bot_in = within("the trusted join", join.connected()).await.unwrap();

    // A guest gets a token bound to the browser origin, and waits in the lobby.
    let token = bot.anonymous_token(meeting.join_url().unwrap(), "guest-1", Some(ORIGIN)).await.unwrap();
    assert!(token.token.starts_with("psat"), "{}", token.token);
    let guest = client.sign_in_with_anonymous_token(&token.token, &token.discover_href, Some(ORIGIN), "John Doe").await;
    let guest = guest.unwrap().application_with(AppOptions::new("browser").channel(quick())).await.unwrap();
    let mut guest_join = guest.join_meeting(&address).await.unwrap();
    reaches_lobby(&mut guest_join).await;
    let waiting = next_in_lobby(&mut bot_in).await;
    assert_eq!(waiting.name(), Some("John Doe"));
    waiting.admit().await.unwrap();
    assert_eq!(state(&mut guest_join).await, JoinState::Connected);

    // From another origin the token is refused.
    let elsewhere = client
        .sign_in_with_anonymous_token(&token.token, &token.discover_href, Some("https://evil.example"), "Eve")
        .await
        .unwrap_err();
    assert_eq!(elsewhere.status(), Some(403));
    // A callback with a forged or missing signature is refused, and changes nothing.
    let body = br#"{"_links":{"self":{"href":"/x"}},"sender":[]}"#;
    assert!(inbox.deliver(Some("t=1700000000,v1=00"), body).is_err());
    assert!(inbox.deliver(None, body).is_err());
    assert!(bot.callbacks(None).deliver(None, body).is_ok(), "an inbox without a key takes it");
}
