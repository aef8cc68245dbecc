//! The SDK against the real server on a loopback port (`ucwa_testkit::TestServer`): the event
//! channel's contract across restarts and replacement, sign-in and token renewal, joins and
//! the lobby, meetings, messaging, service applications with callbacks, and every example.

mod channel;
mod examples;
mod meetings;
mod messaging;
mod service;

use std::time::Duration;

use ucwa_client::{
    AppOptions, Application, ChannelOptions, Client, Conversation, ConversationChange, Credentials, Join, JoinState,
    Session,
};
use ucwa_testkit::TestServer;

/// Longest wait for anything the server does at once.
pub const WAIT: Duration = Duration::from_secs(15);

/// Event requests that return within a second when idle, so tests and shutdowns are quick.
pub fn quick() -> ChannelOptions {
    ChannelOptions::new().timeout(Duration::from_secs(1))
}

/// `fut`, or a panic naming `what` after [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut).await.unwrap_or_else(|_| panic!("{what}: nothing within {WAIT:?}"))
}

/// Adds a user and signs in as them (password `<name>-password`).
pub async fn sign_in(server: &TestServer, uri: &str, name: &str) -> (Client, Session) {
    let password = format!("{name}-password");
    server.add_user(uri, name, &password).await;
    let client = Client::new(&server.url).expect("client");
    let session = client.sign_in(Credentials::password(uri, password)).await.expect("sign in");
    (client, session)
}

/// A signed-in user's application with quick event requests.
pub async fn user_app(server: &TestServer, uri: &str, name: &str) -> (Client, Application) {
    let (client, session) = sign_in(server, uri, name).await;
    let app =
        session.application_with(AppOptions::new(format!("ep-{name}")).channel(quick())).await.expect("application");
    (client, app)
}

/// The next state of a join.
pub async fn state(join: &mut Join) -> JoinState {
    within("a join state", join.next_state()).await.expect("a state")
}

/// A join connects, then waits in the lobby.
pub async fn reaches_lobby(join: &mut Join) {
    assert_eq!(state(join).await, JoinState::Connecting);
    assert_eq!(state(join).await, JoinState::InLobby);
}

/// Reads changes until `pick` takes one.
pub async fn until<T>(conversation: &mut Conversation, mut pick: impl FnMut(ConversationChange) -> Option<T>) -> T {
    within("a change", async {
        loop {
            let change = conversation.next_change().await.expect("the conversation goes on");
            if let Some(found) = pick(change) {
                return found;
            }
        }
    })
    .await
}
