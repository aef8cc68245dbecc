//! The web pages in a real browser: `crates/ucwa-web/e2e` (Playwright driving headless
//! Chromium, `node --test`) against the real server. An organizer creates a Locked meeting in
//! the console, guests open its join link and wait in the lobby, and are admitted, rejected,
//! cancelled, reloaded, promoted and removed; every screen is checked with axe-core and
//! photographed into `$CARGO_TARGET_TMPDIR/browser-screenshots`.
//!
//! Needs Node, Chromium (`/usr/bin/chromium`, or `CHROMIUM`) and `npm ci` run in
//! `crates/ucwa-web/e2e`; `.ci/run` sees to all three. Without them the test fails under CI
//! (`CI=true`) and is skipped with a notice elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use ucwa_testkit::TestServer;

fn missing_tools(e2e: &Path, chromium: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node".to_owned());
    }
    if !chromium.exists() {
        missing.push(format!("{} (apt-get install chromium)", chromium.display()));
    }
    if !e2e.join("node_modules/playwright-core").exists() {
        missing.push(format!("{}/node_modules (npm ci there)", e2e.display()));
    }
    missing
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn join_page_and_console_work_in_chromium() {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ucwa-web/e2e");
    let chromium = PathBuf::from(std::env::var_os("CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()));
    let missing = missing_tools(&e2e, &chromium);
    if !missing.is_empty() {
        let in_ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        assert!(!in_ci, "CI must run the browser suite (see .ci/run); missing: {}", missing.join(", "));
        eprintln!("SKIPPED join_page_and_console_work_in_chromium: missing {}", missing.join(", "));
        return;
    }
    let server = TestServer::start().await;
    ucwa_server::cli::ensure_demo_users(server.store.as_ref()).await.expect("demo users");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    let url = server.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["--test", "--test-concurrency=1", "--test-timeout=60000"])
            .current_dir(&e2e)
            .env("BASE_URL", url)
            .env("CHROMIUM", chromium)
            .env("SCREENSHOT_DIR", &shots)
            .env("ORGANIZER_URI", "sip:alice@example.com")
            .env("ORGANIZER_PASSWORD", "alice-demo-password")
            .env("MEMBER_URI", "sip:bob@example.com")
            .env("MEMBER_PASSWORD", "bob-demo-password")
            .output()
    })
    .await
    .expect("browser suite thread")
    .expect("run node --test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}\n{stderr}");
    assert!(output.status.success() && stdout.contains("# fail 0"), "the browser suite failed:\n{stdout}\n{stderr}");
}
