//! Answers instant messages: accepts every person-to-person call and meeting invitation and
//! sends each message back, prefixed with "echo: ".
//!
//! ```sh
//! UCWA_SERVER=http://127.0.0.1:8080 UCWA_USER=bob@example.com UCWA_PASSWORD=bob-demo-password \
//!   cargo run -p ucwa-client --example echo_bot
//! ```
use ucwa_client::{Application, Client, Credentials, IncomingEvent};

/// Makes `app` available and echoes what it is sent until its event channel ends.
pub async fn run(app: &Application) -> ucwa_client::Result<()> {
    let mut incoming = app.incoming()?; // Before anyone can call.
    app.make_me_available().await?;
    while let Some(event) = incoming.next().await {
        match event? {
            IncomingEvent::Invitation(invitation) => {
                let Ok(mut conversation) = invitation.accept().await else { continue }; // Answered elsewhere.
                conversation.start_messaging().await?; // In a meeting, only they receive messages.
                if let Some(text) = &invitation.message {
                    conversation.send(&format!("echo: {text}")).await?;
                }
            }
            IncomingEvent::Message(message) => message.reply(&format!("echo: {}", message.text)).await?,
            _ => {}
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let client = Client::new(&env("UCWA_SERVER")?)?;
    let session = client.sign_in(Credentials::password(env("UCWA_USER")?, env("UCWA_PASSWORD")?)).await?;
    run(&session.application("echo-bot").await?).await?;
    Ok(())
}
