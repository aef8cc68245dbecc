//! The commands that sit in a meeting: `join` (a live status line, then the roster and the
//! chat until Ctrl-C), `lobby` (a table of who waits, live with `--watch`), `admit` and
//! `reject`.
//!
//! `lobby`, `admit` and `reject` use the application's conversation in the meeting when it has
//! one (a `ucwa lobby --watch` running in another terminal), so they need no event channel of
//! their own; otherwise they join the meeting for the time of the command, as a leader.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ucwa_client::{
    Application, Client, Conversation, ConversationChange, Credentials, FailureReason, JoinState, MeetingAddress,
    Participant, View,
};

use crate::output::{Format, Status, interactive, json_line, participant_json, table, waited, who};
use crate::{Context, Decision, Failure};

/// Resolves once the user presses Ctrl-C (never, where signals cannot be watched).
pub(crate) fn on_ctrl_c() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}

/// The application's conversation in the meeting at `address`, and whether it had to join
/// for it (the caller then leaves when done). A join that would wait in the lobby is
/// cancelled: only leaders run a lobby.
pub(crate) async fn conversation_in(
    app: &Application,
    address: &MeetingAddress,
) -> Result<(Conversation, bool), Failure> {
    for conversation in app.conversations().await? {
        let in_it = conversation
            .online_meeting()
            .await
            .is_ok_and(|m| m.props.meeting.online_meeting_uri.as_ref() == Some(&address.uri));
        if in_it {
            return Ok((conversation, false));
        }
    }
    let mut join = app.join_meeting(address).await?;
    loop {
        match join.next_state().await {
            Some(JoinState::Connected) => {
                let conversation = join.connected().await.map_err(|f| Failure::join(f.message))?;
                return Ok((conversation, true));
            }
            Some(JoinState::InLobby) => {
                let _ = join.cancel().await;
                return Err(Failure::error("you would wait in this meeting's lobby: only its leaders can run it"));
            }
            Some(JoinState::Failed(failure)) => {
                return Err(Failure::join(format!("cannot enter the meeting: {failure}")));
            }
            Some(_) => {}
            None => return Err(Failure::error("the event channel ended")),
        }
    }
}

/// `Connecting`, `InLobby`, ... as JSON.
fn state_json(state: &JoinState) -> Value {
    match state {
        JoinState::Failed(failure) => json!({
            "state": "Failed",
            "reason": format!("{:?}", failure.reason),
            "subcode": failure.error.as_ref().and_then(|e| e.subcode.as_ref()).map(|s| s.as_str()),
            "message": failure.message,
        }),
        other => json!({"state": format!("{other:?}")}),
    }
}

pub(crate) async fn join(
    context: &Context,
    reference: &str,
    as_guest: Option<String>,
    server: Option<String>,
) -> Result<(), Failure> {
    let (app, address, guest) = match as_guest {
        Some(name) => {
            let client = match server {
                _ if reference.starts_with("http") => Client::for_join_url(reference)?,
                Some(server) => Client::new(&server)?,
                None => Client::new(
                    &context.store.load().map_err(|_| Failure::error("give --server (or a join URL)"))?.server,
                )?,
            };
            let address = client.resolve_meeting(reference).await.map_err(|e| match e.status() {
                Some(404) => Failure::join(format!("no live meeting at {reference}")),
                _ => e.into(),
            })?;
            let session = client.sign_in(Credentials::guest(address.clone(), name)).await?;
            (session.application("ucwa-cli-guest").await?, address, true)
        }
        None => {
            let signed_in = context.signed_in().await?;
            let (address, _) = signed_in.meeting(reference).await?;
            (signed_in.app, address, false)
        }
    };
    let result = sit_in(context, &app, &address).await;
    if guest {
        // A guest's application has no use afterwards.
        let _ = app.delete().await;
    }
    result
}

/// Joins, shows the way in, then the meeting until Ctrl-C or its end.
async fn sit_in(context: &Context, app: &Application, address: &MeetingAddress) -> Result<(), Failure> {
    let json = context.format == Format::Json;
    let mut status = Status::new(!json && interactive());
    let mut join = app.join_meeting(address).await?;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut stop = on_ctrl_c();
    let mut cancelling = false;
    loop {
        tokio::select! {
            state = join.next_state() => {
                let Some(state) = state else { return Err(Failure::error("the event channel ended")) };
                if json {
                    json_line(&state_json(&state));
                }
                match state {
                    JoinState::Connecting if !cancelling => status.set("Connecting", false),
                    JoinState::InLobby if !cancelling => status.set("In lobby", true),
                    JoinState::Connected => break,
                    JoinState::Failed(failure) => {
                        status.finish("");
                        return Err(Failure::join(match failure.reason {
                            FailureReason::Cancelled => "cancelled".to_owned(),
                            FailureReason::Rejected => format!("rejected: {failure}"),
                            _ => format!("the join failed: {failure}"),
                        }));
                    }
                    _ => {}
                }
            }
            _ = ticker.tick() => status.tick(),
            () = &mut stop, if !cancelling => {
                cancelling = true;
                status.set("Cancelling", false);
                // Already in: the state says so next, and the meeting is left below.
                if join.cancel().await.is_err() {
                    stop = Box::pin(std::future::ready(()));
                    cancelling = false;
                }
            }
        }
    }
    status.finish("Connected");
    let mut conversation = join.connected().await.map_err(|f| Failure::join(f.message))?;
    // Messages reach only participants whose messaging is connected.
    if let Err(e) = conversation.start_messaging().await {
        eprintln!("ucwa: no chat in this meeting: {e}");
    }
    let roster = conversation.participants().await?;
    if json {
        json_line(&json!({"roster": roster.iter().map(participant_json).collect::<Vec<_>>()}));
    } else {
        for p in &roster {
            println!("{}{}", who(p), p.role().map(|r| format!(" ({})", r.as_str())).unwrap_or_default());
        }
    }
    if cancelling {
        // Ctrl-C came as the join completed: leave at once.
        return conversation.leave().await.map_err(Into::into);
    }
    loop {
        tokio::select! {
            change = conversation.next_change() => match change {
                None | Some(ConversationChange::ChannelEnded(_)) => return Err(Failure::error("the event channel ended")),
                Some(ConversationChange::Ended { reason }) => {
                    let why = reason.as_ref().and_then(|r| r.message()).unwrap_or("the meeting ended").to_owned();
                    if json {
                        json_line(&json!({"state": "Disconnected", "reason": reason}));
                    } else {
                        eprintln!("{why}");
                    }
                    return Ok(());
                }
                Some(change) => show_change(json, &change),
            },
            () = &mut stop => {
                conversation.leave().await?;
                if !json {
                    eprintln!("left the meeting");
                }
                return Ok(());
            }
        }
    }
}

/// Prints what happens in the meeting: people coming and going, messages.
fn show_change(json: bool, change: &ConversationChange) {
    match change {
        ConversationChange::Entered { participant, view } if *view != View::Lobby => {
            if json {
                json_line(&json!({"entered": participant_json(participant), "view": format!("{view:?}")}));
            } else {
                println!("+ {} ({view:?})", who(participant));
            }
        }
        ConversationChange::Left { participant, view, .. } if *view != View::Lobby => {
            if json {
                json_line(&json!({"left": participant.href, "name": participant.name, "view": format!("{view:?}")}));
            } else {
                println!("- {} ({view:?})", participant.name.as_deref().unwrap_or("?"));
            }
        }
        ConversationChange::Message(message) => {
            let from = message.from.as_ref().and_then(|f| f.name.clone()).unwrap_or_default();
            if json {
                json_line(&json!({"message": message.text, "contentType": message.content_type, "from": from}));
            } else {
                println!("{from}: {}", message.text);
            }
        }
        _ => {}
    }
}

/// Who waits, and since when (as this command saw them arrive).
struct Lobby {
    waiting: Vec<(Participant, Instant)>,
}

impl Lobby {
    fn print(&self, format: Format, live: bool, title: &str) {
        if format == Format::Json {
            let people: Vec<Value> = self
                .waiting
                .iter()
                .map(|(p, since)| {
                    let mut value = participant_json(p);
                    value["waitingSeconds"] = json!(since.elapsed().as_secs());
                    value
                })
                .collect();
            return json_line(&json!({"lobby": people}));
        }
        let rows: Vec<Vec<String>> = self
            .waiting
            .iter()
            .map(|(p, since)| {
                vec![
                    p.name().unwrap_or("?").to_owned(),
                    p.uri().unwrap_or_default().to_owned(),
                    if p.is_anonymous() { "yes" } else { "" }.to_owned(),
                    waited(since.elapsed()),
                ]
            })
            .collect();
        if live {
            // Redraw in place: home, clear.
            print!("\x1b[H\x1b[2J");
        }
        println!("{title}: {} waiting", self.waiting.len());
        if !rows.is_empty() {
            println!("{}", table(&["NAME", "SIP URI", "GUEST", "WAITING"], &rows));
        }
        if !live {
            println!();
        }
    }
}

pub(crate) async fn lobby(context: &Context, reference: &str, watch: bool) -> Result<(), Failure> {
    let signed_in = context.signed_in().await?;
    let (address, meeting) = signed_in.meeting(reference).await?;
    let title = meeting.as_ref().and_then(|m| m.properties().subject.clone()).unwrap_or_else(|| address.id.clone());
    let (mut conversation, joined) = conversation_in(&signed_in.app, &address).await?;
    let now = Instant::now();
    let mut lobby = Lobby { waiting: conversation.lobby().await?.into_iter().map(|p| (p, now)).collect() };
    let live = watch && context.format == Format::Text && interactive();
    lobby.print(context.format, live, &title);
    if watch {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        let mut stop = on_ctrl_c();
        loop {
            tokio::select! {
                change = conversation.next_change() => match change {
                    Some(ConversationChange::Entered { participant, view: View::Lobby }) => {
                        lobby.waiting.retain(|(p, _)| p.href() != participant.href());
                        lobby.waiting.push((participant, Instant::now()));
                    }
                    Some(ConversationChange::Left { participant, view: View::Lobby, .. }) => {
                        lobby.waiting.retain(|(p, _)| p.href() != participant.href);
                    }
                    Some(ConversationChange::Resync) => {
                        let now = Instant::now();
                        lobby.waiting = conversation.lobby().await?.into_iter().map(|p| (p, now)).collect();
                    }
                    None | Some(ConversationChange::Ended { .. } | ConversationChange::ChannelEnded(_)) => break,
                    Some(_) => continue,
                },
                _ = ticker.tick(), if live => {}
                () = &mut stop => break,
            }
            lobby.print(context.format, live, &title);
        }
    }
    if joined {
        conversation.leave().await?;
    }
    Ok(())
}

/// The lobby participants `who` names: a SIP URI (with or without `sip:`) or a display name,
/// without letter case.
fn pick(lobby: Vec<Participant>, who: &str) -> Result<Vec<Participant>, Failure> {
    let by_uri = who.contains('@');
    let wanted =
        if by_uri && !who.to_ascii_lowercase().starts_with("sip:") { format!("sip:{who}") } else { who.to_owned() };
    let matches: Vec<Participant> = lobby
        .into_iter()
        .filter(|p| {
            let field = if by_uri { p.uri() } else { p.name() };
            field.is_some_and(|f| f.eq_ignore_ascii_case(&wanted))
        })
        .collect();
    match matches.len() {
        0 => Err(Failure::error(format!("nobody called `{who}` waits in the lobby"))),
        1 => Ok(matches),
        _ => Err(Failure::error(format!(
            "`{who}` is ambiguous: {}; name them by SIP URI",
            matches.iter().map(who_of).collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn who_of(p: &Participant) -> String {
    who(p)
}

pub(crate) async fn decide(context: &Context, decision: Decision, admit: bool) -> Result<(), Failure> {
    let signed_in = context.signed_in().await?;
    let (address, _) = signed_in.meeting(&decision.meeting).await?;
    let (conversation, joined) = conversation_in(&signed_in.app, &address).await?;
    let lobby = conversation.lobby().await?;
    let chosen = match &decision.who {
        Some(name) if !decision.all => pick(lobby, name),
        _ => Ok(lobby),
    };
    let mut done = Vec::new();
    let mut outcome = Ok(());
    for person in chosen.as_deref().unwrap_or_default() {
        let result = if admit { person.admit().await } else { person.reject().await };
        match result {
            Ok(()) => done.push(person.clone()),
            // They left meanwhile, or someone else decided first.
            Err(e) if matches!(e.status(), Some(404 | 409)) => eprintln!("{}: no longer waiting", who(person)),
            Err(e) => {
                outcome = Err(e.into());
                break;
            }
        }
    }
    let verb = if admit { "admitted" } else { "rejected" };
    match context.format {
        Format::Json => json_line(&json!({verb: done.iter().map(participant_json).collect::<Vec<_>>()})),
        Format::Text => done.iter().for_each(|p| println!("{verb} {}", who(p))),
    }
    if joined {
        conversation.leave().await?;
    }
    chosen.and(outcome)
}
