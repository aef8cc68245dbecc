//! Joins a meeting as an anonymous guest and prints each state of the join until it is let
//! in (then the roster) or turned away.
//!
//! ```sh
//! cargo run -p ucwa-client --example join_and_wait -- http://127.0.0.1:8080/meet/alice/JE49B6SO "Grace Hopper"
//! ```
use ucwa_client::{Client, Credentials, JoinState};

/// Joins `meeting` (a join URL or meeting URI on `client`'s server) as the guest `name`,
/// telling `print` each state, then who is in the meeting. Answers the last state.
pub async fn run(
    client: &Client,
    meeting: &str,
    name: &str,
    mut print: impl FnMut(String),
) -> ucwa_client::Result<JoinState> {
    let meeting = client.resolve_meeting(meeting).await?;
    let session = client.sign_in(Credentials::guest(meeting.clone(), name)).await?;
    let app = session.application("join-and-wait").await?;
    let mut join = app.join_meeting(&meeting).await?;
    let mut last = JoinState::Connecting;
    while let Some(state) = join.next_state().await {
        print(match &state {
            JoinState::Failed(failure) => format!("Failed: {failure}"),
            other => format!("{other:?}"),
        });
        last = state;
    }
    if last == JoinState::Connected {
        let conversation = join.connected().await?;
        for person in conversation.participants().await? {
            print(format!("  {} <{}>", person.name().unwrap_or("?"), person.uri().unwrap_or("?")));
        }
    }
    Ok(last)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [meeting, name] = &args[..] else { return Err("usage: join_and_wait JOIN_URL NAME".into()) };
    let client = if meeting.starts_with("http") {
        Client::for_join_url(meeting)?
    } else {
        Client::new(&std::env::var("UCWA_SERVER")?)?
    };
    run(&client, meeting, name, |line| println!("{line}")).await?;
    Ok(())
}
