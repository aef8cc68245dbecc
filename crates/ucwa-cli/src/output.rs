//! How results are shown: data on stdout (text, or one JSON value per line with
//! `--output json`), progress on stderr. The live status line (a spinner and the time waited)
//! and the redrawn lobby table are drawn only when stdout and stderr are terminals; otherwise
//! each change is a plain line. No colours.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use serde_json::{Value, json};
use ucwa_client::Participant;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// For people.
    Text,
    /// One JSON value per line, for scripts.
    Json,
}

/// Prints one JSON value on one line of stdout.
pub(crate) fn json_line(value: &Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (a pipe whose reader left) is not worth a panic.
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

/// Whether both stdout and stderr are terminals: then live views redraw in place.
pub(crate) fn interactive() -> bool {
    std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

/// `m:ss`, or `h:mm:ss` from an hour on.
pub(crate) fn waited(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    match secs / 3600 {
        0 => format!("{}:{:02}", secs / 60, secs % 60),
        h => format!("{h}:{:02}:{:02}", (secs / 60) % 60, secs % 60),
    }
}

/// A table with a header, columns as wide as their widest cell.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A participant as JSON.
pub(crate) fn participant_json(p: &Participant) -> Value {
    json!({
        "name": p.name(),
        "uri": p.uri(),
        "anonymous": p.is_anonymous(),
        "role": p.role().map(|r| r.as_str()),
        "organizer": p.is_organizer(),
        "href": p.href(),
    })
}

/// `Name <uri>`.
pub(crate) fn who(p: &Participant) -> String {
    format!("{} <{}>", p.name().unwrap_or("?"), p.uri().unwrap_or("?"))
}

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// The one-line status of something in progress, on stderr.
pub(crate) struct Status {
    live: bool,
    text: String,
    since: Instant,
    frame: usize,
    timed: bool,
}

impl Status {
    /// A status line; redrawn in place when `live`, else one line per change.
    pub(crate) fn new(live: bool) -> Self {
        Self { live, text: String::new(), since: Instant::now(), frame: 0, timed: false }
    }

    /// Shows `text`; `timed` adds the time since this text was first shown.
    pub(crate) fn set(&mut self, text: &str, timed: bool) {
        if text == self.text {
            return;
        }
        self.text = text.to_owned();
        self.since = Instant::now();
        self.timed = timed;
        if self.live {
            self.draw();
        } else {
            eprintln!("{text}");
        }
    }

    /// Advances the spinner and the time waited.
    pub(crate) fn tick(&mut self) {
        if self.live && !self.text.is_empty() {
            self.frame = (self.frame + 1) % SPINNER.len();
            self.draw();
        }
    }

    fn draw(&self) {
        let mut line = format!("{} {}", SPINNER[self.frame], self.text);
        if self.timed {
            line.push(' ');
            line.push_str(&waited(self.since.elapsed()));
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }

    /// Ends the status with a final line.
    pub(crate) fn finish(&mut self, text: &str) {
        if self.live {
            eprint!("\r\x1b[2K");
        }
        eprintln!("{text}");
        self.text.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_tables() {
        assert_eq!(waited(Duration::from_secs(12)), "0:12");
        assert_eq!(waited(Duration::from_secs(3725)), "1:02:05");
        let t = table(&["NAME", "URI"], &[vec!["Grace".into(), "sip:g@x".into()], vec!["Al".into(), String::new()]]);
        assert_eq!(t, "NAME   URI\nGrace  sip:g@x\nAl");
    }
}
