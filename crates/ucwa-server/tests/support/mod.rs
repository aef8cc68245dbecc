//! `ucwa-server` processes for the tests that need whole processes (a server on a copied
//! database, nodes killed with SIGKILL).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_ucwa-server");

/// A server process, killed (SIGKILL) when dropped, so a failed assertion leaves none behind.
pub(crate) struct Running {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Running {
    /// Starts `ucwa-server` on `database_url` on a free loopback port with `args`, and waits
    /// until it listens.
    pub(crate) async fn start(database_url: &str, args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--database-url", database_url])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start ucwa-server");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("read the server's output") {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    return addr.to_owned();
                }
            }
            panic!("the server exited before listening");
        })
        .await
        .expect("the server listens within 30 s");
        // Keep reading, so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, url }
    }

    /// Kills the process at once (SIGKILL): no shutdown, no goodbyes.
    pub(crate) async fn kill(mut self) {
        self.child.kill().await.expect("kill the server");
    }
}
