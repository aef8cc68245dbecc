//! The commands that do one thing and return: `login`, `logout`, `meeting ...`, `events`,
//! `send`.

use std::io::BufRead;

use serde_json::{Value, json};
use ucwa_client::proto::SipUri;
use ucwa_client::proto::request::MeetingSettings;
use ucwa_client::{
    AppOptions, ChannelItem, Client, Conversation, Credentials, JoinState, MeetingAddress, ScheduledMeeting,
};

use crate::config::Saved;
use crate::live::{conversation_in, on_ctrl_c};
use crate::output::{Format, json_line, table};
use crate::{Context, Failure, MeetingCommand, MeetingFields};

/// The command line's application on the server.
const ENDPOINT_ID: &str = "ucwa-cli";

pub(crate) async fn login(
    context: &Context,
    server: String,
    user: String,
    password_stdin: bool,
) -> Result<(), Failure> {
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| Failure::error(format!("standard input: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        rpassword::prompt_password(format!("Password for {user}: "))
            .map_err(|e| Failure::error(format!("cannot read the password: {e}")))?
    };
    let client = Client::new(&server)?;
    let session = client.sign_in(Credentials::password(user.clone(), password)).await?;
    let app = session.application_with(AppOptions::new(ENDPOINT_ID).keep_on_drop()).await?;
    let saved = Saved {
        server,
        user: user.clone(),
        token: session.access_token().await?,
        endpoint_id: ENDPOINT_ID.into(),
        application: Some(app.href().to_owned()),
        events: None,
    };
    context.store.save(&saved)?;
    let me = app.me().map(|me| me.name).unwrap_or(user);
    match context.format {
        Format::Json => json_line(&json!({"user": saved.user, "name": me, "application": app.href()})),
        Format::Text => println!("signed in as {me}"),
    }
    Ok(())
}

pub(crate) async fn logout(context: &Context) -> Result<(), Failure> {
    // Signed out even when the server is gone or the token expired: deleting the application
    // is a courtesy (it expires on its own).
    if let Ok(signed_in) = context.signed_in().await {
        let _ = signed_in.app.delete().await;
    }
    context.store.remove()?;
    match context.format {
        Format::Json => json_line(&json!({"signedOut": true})),
        Format::Text => println!("signed out"),
    }
    Ok(())
}

fn settings(fields: &MeetingFields) -> Result<MeetingSettings, Failure> {
    let uris = |list: &[String]| -> Result<Option<Vec<SipUri>>, Failure> {
        if list.is_empty() {
            return Ok(None);
        }
        list.iter()
            .map(|u| SipUri::parse(u).map_err(|e| Failure::error(e.to_string())))
            .collect::<Result<_, _>>()
            .map(Some)
    };
    let mut settings = MeetingSettings::default();
    settings.subject = fields.subject.clone();
    settings.description = fields.description.clone();
    settings.access_level = fields.access_level.map(Into::into);
    settings.leaders = uris(&fields.leaders)?;
    settings.attendees = uris(&fields.attendees)?;
    Ok(settings)
}

/// Sets `old` to `new` when a new value was given.
fn keep<T: Clone>(new: &Option<T>, old: &mut Option<T>) {
    if new.is_some() {
        old.clone_from(new);
    }
}

fn meeting_json(meeting: &ScheduledMeeting) -> Value {
    let mut value = serde_json::to_value(meeting.properties()).unwrap_or_default();
    value["href"] = json!(meeting.href());
    value
}

fn print_meeting(format: Format, meeting: &ScheduledMeeting) {
    if format == Format::Json {
        return json_line(&meeting_json(meeting));
    }
    let p = meeting.properties();
    let uris = |list: &Option<Vec<SipUri>>| {
        list.as_deref().unwrap_or_default().iter().map(SipUri::as_str).collect::<Vec<_>>().join(", ")
    };
    let rows = [
        ("subject", p.subject.clone().unwrap_or_default()),
        ("id", p.online_meeting_id.clone().unwrap_or_default()),
        ("uri", p.online_meeting_uri.as_ref().map(|u| u.to_string()).unwrap_or_default()),
        ("access level", p.access_level.as_ref().map(|a| a.as_str().to_owned()).unwrap_or_default()),
        ("leaders", uris(&p.leaders)),
        ("attendees", uris(&p.attendees)),
        ("description", p.description.clone().unwrap_or_default()),
        ("join url", p.join_url.clone().unwrap_or_default()),
    ];
    for (name, value) in rows.iter().filter(|(_, v)| !v.is_empty()) {
        println!("{name:<13}{value}");
    }
}

async fn find(context: &Context, reference: &str) -> Result<(crate::SignedIn, ScheduledMeeting), Failure> {
    let signed_in = context.signed_in().await?;
    let meeting = signed_in.app.meetings()?.find(reference).await?;
    let meeting = meeting.ok_or_else(|| Failure::error(format!("no meeting `{reference}` among yours")))?;
    Ok((signed_in, meeting))
}

pub(crate) async fn meeting(context: &Context, command: MeetingCommand) -> Result<(), Failure> {
    match command {
        MeetingCommand::Create(fields) => {
            let signed_in = context.signed_in().await?;
            let meeting = signed_in.app.meetings()?.create(&settings(&fields)?).await?;
            print_meeting(context.format, &meeting);
        }
        MeetingCommand::List => {
            let signed_in = context.signed_in().await?;
            let meetings = signed_in.app.meetings()?;
            let mut all = Vec::new();
            for link in meetings.list().await? {
                all.push(meetings.get(&link.href).await?);
            }
            match context.format {
                Format::Json => json_line(&Value::Array(all.iter().map(meeting_json).collect())),
                Format::Text => {
                    let rows: Vec<Vec<String>> = all
                        .iter()
                        .map(|m| {
                            let p = m.properties();
                            vec![
                                p.online_meeting_id.clone().unwrap_or_default(),
                                p.subject.clone().unwrap_or_default(),
                                p.access_level.as_ref().map(|a| a.as_str().to_owned()).unwrap_or_default(),
                                p.join_url.clone().unwrap_or_default(),
                            ]
                        })
                        .collect();
                    println!("{}", table(&["ID", "SUBJECT", "ACCESS", "JOIN URL"], &rows));
                }
            }
        }
        MeetingCommand::Show { meeting } => print_meeting(context.format, &find(context, &meeting).await?.1),
        MeetingCommand::Update { meeting, fields } => {
            let (_, mut meeting) = find(context, &meeting).await?;
            let changes = settings(&fields)?;
            meeting
                .update(|p| {
                    keep(&changes.subject, &mut p.subject);
                    keep(&changes.description, &mut p.description);
                    keep(&changes.access_level, &mut p.access_level);
                    keep(&changes.leaders, &mut p.leaders);
                    keep(&changes.attendees, &mut p.attendees);
                })
                .await?;
            print_meeting(context.format, &meeting);
        }
        MeetingCommand::Delete { meeting } => {
            let (_, meeting) = find(context, &meeting).await?;
            let id = meeting.id().unwrap_or_default().to_owned();
            meeting.delete().await?;
            match context.format {
                Format::Json => json_line(&json!({"deleted": id})),
                Format::Text => println!("deleted {id}"),
            }
        }
    }
    Ok(())
}

pub(crate) async fn events(context: &Context, follow: bool) -> Result<(), Failure> {
    let signed_in = context.signed_in().await?;
    let mut saved = signed_in.saved.clone();
    let options = ucwa_client::ChannelOptions::new();
    let mut stream = match saved.events.clone() {
        Some(position) => signed_in.app.resume_event_stream(position, options)?,
        None => signed_in.app.event_stream(options)?,
    };
    let mut stop = on_ctrl_c();
    loop {
        let item = tokio::select! {
            item = stream.next_item() => item,
            _ = &mut stop => return Ok(()),
        };
        match item {
            None => return Ok(()),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(ChannelItem::Event(event))) => {
                let mut line = serde_json::to_value(&event.event).unwrap_or_default();
                line["sender"] = serde_json::to_value(&event.sender).unwrap_or_default();
                json_line(&line);
                // Saved after each event printed: a later `ucwa events` starts after it.
                saved.events = Some(stream.position().clone());
                context.store.save(&saved)?;
                if !follow && stream.buffered() == 0 {
                    return Ok(());
                }
            }
            Some(Ok(ChannelItem::Resync)) => {
                eprintln!("ucwa: the server resynchronised the channel; events may be missing")
            }
            Some(Ok(ChannelItem::Retrying { error, retry_in, .. })) => {
                eprintln!("ucwa: {error}; trying again in {} ms", retry_in.as_millis());
            }
            Some(Ok(_)) => {}
        }
    }
}

/// Whether `text` is a meeting's URI (rather than a user's).
fn is_meeting_uri(text: &str) -> bool {
    SipUri::parse(text).is_ok_and(|uri| MeetingAddress::from_uri(uri).is_ok())
}

pub(crate) async fn send(context: &Context, target: &str, text: &str) -> Result<(), Failure> {
    let signed_in = context.signed_in().await?;
    let report = |to: &str| match context.format {
        Format::Json => json_line(&json!({"sent": text, "to": to})),
        Format::Text => println!("sent to {to}"),
    };
    if target.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("sip:")) && !is_meeting_uri(target) {
        // A user: a person-to-person call carrying the message, ended once answered.
        let to = SipUri::parse(target).map_err(|e| Failure::error(e.to_string()))?;
        let mut call = signed_in.app.start_messaging(to, Some(text)).await?;
        while let Some(state) = call.next_state().await {
            if let JoinState::Failed(failure) = state {
                return Err(Failure::join(format!("the call was not answered: {failure}")));
            }
        }
        call.connected().await.map_err(|f| Failure::join(f.message))?.leave().await?;
        report(target);
        return Ok(());
    }
    if target.contains("/communication/conversations/") {
        let mut conversation = Conversation::open(&signed_in.app, target)?;
        conversation.send(text).await?;
        report(conversation.href());
        return Ok(());
    }
    let (address, _) = signed_in.meeting(target).await?;
    let (mut conversation, joined) = conversation_in(&signed_in.app, &address).await?;
    conversation.send(text).await?;
    report(address.uri.as_str());
    if joined {
        conversation.leave().await?;
    }
    Ok(())
}
