//! An auto-admission bot: it joins a meeting as a leader, admits everyone waiting in the lobby
//! whose SIP domain is on a list, and turns the others away after a grace period (unless
//! someone let them in meanwhile).
//!
//! ```sh
//! UCWA_SERVER=http://127.0.0.1:8080 UCWA_USER=alice@example.com UCWA_PASSWORD=alice-demo-password \
//!   cargo run -p ucwa-client --example lobby_bot -- <meeting URI or join URL> example.com,contoso.com 30
//! ```
use std::time::Duration;

use ucwa_client::{Client, Conversation, ConversationChange, Credentials, View};

/// Admits lobby arrivals from `domains`; rejects the others when `sleep(grace)` has passed.
pub async fn run<F>(mut meeting: Conversation, domains: Vec<String>, grace: Duration, sleep: impl Fn(Duration) -> F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut waiting = meeting.lobby().await.unwrap_or_default(); // Who was there before the bot.
    loop {
        for person in waiting.drain(..) {
            let host = person.sip_uri().map(|uri| uri.host().to_ascii_lowercase());
            if host.is_some_and(|host| domains.contains(&host)) {
                let _ = person.admit().await; // Fails only if they left meanwhile.
            } else {
                let timer = sleep(grace); // Then reject, unless someone let them in meanwhile.
                tokio::spawn(async move { (timer.await, person.reject().await) });
            }
        }
        let Some(change) = meeting.next_change().await else { return }; // The meeting ended.
        if let ConversationChange::Entered { participant, view: View::Lobby } = change {
            waiting.push(participant);
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [meeting, domains, rest @ ..] = &args[..] else {
        return Err("usage: lobby_bot MEETING DOMAINS [SECONDS]".into());
    };
    let grace = Duration::from_secs(rest.first().map_or(Ok(30), |s| s.parse())?);
    let client = Client::new(&env("UCWA_SERVER")?)?;
    let session = client.sign_in(Credentials::password(env("UCWA_USER")?, env("UCWA_PASSWORD")?)).await?;
    let app = session.application("lobby-bot").await?;
    let meeting = app.join_meeting(&client.resolve_meeting(meeting).await?).await?.connected().await?;
    let domains = domains.split(',').map(|d| d.trim().to_ascii_lowercase()).collect();
    run(meeting, domains, grace, tokio::time::sleep).await;
    Ok(())
}
