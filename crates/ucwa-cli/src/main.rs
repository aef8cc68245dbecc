//! `ucwa`: the command line of OpenUCWA, on the `ucwa-client` SDK. Sign in once, schedule
//! meetings, join them (as yourself or as a guest), run their lobby, follow the event channel
//! and send messages, from a terminal or a script.
//!
//! Exit codes: 0 done, 1 error, 2 usage, 3 a join that was rejected or failed (or a call that
//! was not answered). Data goes to stdout (`--output json`: one JSON value per line), progress
//! to stderr; live views redraw only on a terminal.
//!
//! # Layout
//! - `main.rs`: the command line (clap), exit codes, the session the commands share.
//! - `config`: the saved session (owner-only files).
//! - `output`: text, JSON lines, tables and the live status line.
//! - `meetings`: `login`, `logout`, `meeting ...`, `events`, `send`.
//! - `live`: `join`, `lobby`, `admit`, `reject`: the commands that sit in a meeting.

mod config;
mod live;
mod meetings;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use ucwa_client::proto::values::AccessLevel;
use ucwa_client::{AppOptions, Application, Client, Credentials, Error, MeetingAddress, ScheduledMeeting};

use crate::config::{Saved, Store};
use crate::output::Format;

/// Drive an OpenUCWA (UCWA 2.0) server from the terminal.
#[derive(Debug, Parser)]
#[command(name = "ucwa", version, propagate_version = true)]
struct Cli {
    /// Where the session is kept [default: the user's config directory, `ucwa/`].
    #[arg(long, global = true, env = "UCWA_CONFIG_DIR", value_name = "DIR")]
    config_dir: Option<PathBuf>,
    /// How to print results.
    #[arg(long, short, global = true, value_enum, default_value_t = Format::Text, env = "UCWA_OUTPUT")]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign in and keep the session (the password is prompted for, never stored).
    Login {
        /// The server's root URL.
        #[arg(long, env = "UCWA_SERVER")]
        server: String,
        /// The user name (`alice@example.com` or `sip:alice@example.com`).
        #[arg(long)]
        user: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete the application and forget the session.
    Logout,
    /// Schedule and manage your meetings.
    #[command(subcommand)]
    Meeting(MeetingCommand),
    /// Join a meeting and stay until Ctrl-C (which cancels a pending join or leaves).
    Join {
        /// The meeting's join URL, URI or (your meeting's) id.
        meeting: String,
        /// Join as an anonymous guest with this name (no login needed with a join URL).
        #[arg(long, value_name = "NAME")]
        as_guest: Option<String>,
        /// The server, for a guest joining by meeting URI.
        #[arg(long, env = "UCWA_SERVER")]
        server: Option<String>,
    },
    /// Show who waits in a meeting's lobby.
    Lobby {
        /// The meeting: id, URI or join URL.
        meeting: String,
        /// Keep the table up to date until Ctrl-C.
        #[arg(long)]
        watch: bool,
    },
    /// Let people waiting in the lobby in.
    Admit(Decision),
    /// Turn people waiting in the lobby away.
    Reject(Decision),
    /// Print the application's events as JSON lines (the next batch, or all with --follow).
    Events {
        /// Keep following until Ctrl-C.
        #[arg(long)]
        follow: bool,
    },
    /// Send an instant message into a meeting, a conversation, or to a user.
    Send {
        /// A meeting (id, URI, join URL), a conversation URL, or a user's SIP URI.
        conversation: String,
        /// The text.
        text: String,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
struct Decision {
    /// The meeting: id, URI or join URL.
    meeting: String,
    /// Who: a display name or a SIP URI.
    #[arg(required_unless_present = "all")]
    who: Option<String>,
    /// Everyone waiting.
    #[arg(long, conflicts_with = "who")]
    all: bool,
}

#[derive(Debug, Subcommand)]
enum MeetingCommand {
    /// Schedule a meeting and print its join link.
    Create(MeetingFields),
    /// List your meetings.
    List,
    /// Show one meeting.
    Show {
        /// Its id, URI or join URL.
        meeting: String,
    },
    /// Change a meeting.
    Update {
        /// Its id, URI or join URL.
        meeting: String,
        #[command(flatten)]
        fields: MeetingFields,
    },
    /// Delete a meeting: it ends for everyone in it.
    Delete {
        /// Its id, URI or join URL.
        meeting: String,
    },
}

/// The settings `meeting create` and `meeting update` take.
#[derive(Debug, Args)]
struct MeetingFields {
    /// The subject.
    #[arg(long)]
    subject: Option<String>,
    /// The description.
    #[arg(long)]
    description: Option<String>,
    /// Who enters without waiting in the lobby.
    #[arg(long, value_enum)]
    access_level: Option<Access>,
    /// A leader's SIP URI (repeat for more).
    #[arg(long = "leader", value_name = "SIP")]
    leaders: Vec<String>,
    /// An invited attendee's SIP URI (repeat for more).
    #[arg(long = "attendee", value_name = "SIP")]
    attendees: Vec<String>,
}

/// `accessLevel` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Access {
    Everyone,
    Invited,
    SameEnterprise,
    Locked,
}

impl From<Access> for AccessLevel {
    fn from(access: Access) -> Self {
        match access {
            Access::Everyone => AccessLevel::Everyone,
            Access::Invited => AccessLevel::Invited,
            Access::SameEnterprise => AccessLevel::SameEnterprise,
            Access::Locked => AccessLevel::Locked,
        }
    }
}

/// Why a command stopped, and its exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    /// 1 (an error) or 3 (a failed join).
    pub(crate) code: u8,
    /// Said on stderr.
    pub(crate) message: String,
}

impl Failure {
    /// An error: exit code 1.
    pub(crate) fn error(message: impl Into<String>) -> Self {
        Self { code: 1, message: message.into() }
    }

    /// A join or call that did not succeed: exit code 3.
    pub(crate) fn join(message: impl Into<String>) -> Self {
        Self { code: 3, message: message.into() }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::TokenExpired => Failure::error("the session expired: run `ucwa login` again"),
            Error::Replaced => {
                Failure::error("another `ucwa` is reading this application's events (only one can at a time)")
            }
            other => Failure::error(other.to_string()),
        }
    }
}

/// What every command gets.
pub(crate) struct Context {
    /// `--output`.
    pub(crate) format: Format,
    /// The config directory.
    pub(crate) store: Store,
}

/// A signed-in command's client, application and saved session.
pub(crate) struct SignedIn {
    /// The server.
    pub(crate) client: Client,
    /// The command line's application.
    pub(crate) app: Application,
    /// The saved session.
    pub(crate) saved: Saved,
}

impl Context {
    /// Signs in with the saved token and finds (or creates again) the application.
    pub(crate) async fn signed_in(&self) -> Result<SignedIn, Failure> {
        let mut saved = self.store.load()?;
        let client = Client::new(&saved.server)?;
        let session = client.sign_in(Credentials::token(saved.token.clone())).await?;
        let app = session.application_with(AppOptions::new(saved.endpoint_id.clone()).keep_on_drop()).await?;
        if saved.application.as_deref() != Some(app.href()) {
            // A new application: positions in the old one's channel mean nothing.
            saved.application = Some(app.href().to_owned());
            saved.events = None;
            self.store.save(&saved)?;
        }
        Ok(SignedIn { client, app, saved })
    }
}

impl SignedIn {
    /// The meeting `reference` names: one of the user's (by id, URI or join URL), or any
    /// meeting by URI or join URL.
    pub(crate) async fn meeting(&self, reference: &str) -> Result<(MeetingAddress, Option<ScheduledMeeting>), Failure> {
        if let Some(meeting) = self.app.meetings()?.find(reference).await? {
            return Ok((meeting.address()?, Some(meeting)));
        }
        match self.client.resolve_meeting(reference).await {
            Ok(address) => Ok((address, None)),
            Err(Error::Invalid(_)) => Err(Failure::error(format!("no meeting `{reference}` among yours"))),
            Err(e) if e.status() == Some(404) => Err(Failure::error(format!("no live meeting at {reference}"))),
            Err(e) => Err(e.into()),
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let context = Context { format: cli.output, store: Store::new(cli.config_dir)? };
    match cli.command {
        Command::Login { server, user, password_stdin } => {
            meetings::login(&context, server, user, password_stdin).await
        }
        Command::Logout => meetings::logout(&context).await,
        Command::Meeting(command) => meetings::meeting(&context, command).await,
        Command::Join { meeting, as_guest, server } => live::join(&context, &meeting, as_guest, server).await,
        Command::Lobby { meeting, watch } => live::lobby(&context, &meeting, watch).await,
        Command::Admit(decision) => live::decide(&context, decision, true).await,
        Command::Reject(decision) => live::decide(&context, decision, false).await,
        Command::Events { follow } => meetings::events(&context, follow).await,
        Command::Send { conversation, text } => meetings::send(&context, &conversation, &text).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "ucwa", &mut std::io::stdout());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ucwa: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("ucwa: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
