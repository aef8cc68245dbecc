//! Compatibility with a real UCWA client: the PyPI `ucwa` bot library (0.3.0), driven by
//! `compat/ucwa-py/harness.py` against the real server. The bot registers, makes itself
//! available, accepts an incoming `messagingInvitation` from a test user and answers a
//! message; the harness bounds everything by 60 s and prints a diagnosis on failure.
//!
//! The harness needs a Python with `compat/ucwa-py/requirements.txt` installed, named by
//! `UCWA_PY_PYTHON` (`.ci/run` creates that venv and exports it). Without it the test
//! fails under CI (`CI=true`) and is skipped with a notice elsewhere.

use std::path::Path;
use std::process::Command;

use ucwa_testkit::{TestClock, TestOptions, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pypi_ucwa_bot_accepts_an_invitation_and_answers() {
    let Some(python) = std::env::var_os("UCWA_PY_PYTHON").filter(|p| !p.is_empty()) else {
        let in_ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        assert!(!in_ci, "UCWA_PY_PYTHON is not set: CI must run the PyPI ucwa compatibility harness (see .ci/run)");
        eprintln!(
            "SKIPPED pypi_ucwa_bot_accepts_an_invitation_and_answers: set UCWA_PY_PYTHON to a Python with compat/ucwa-py/requirements.txt installed"
        );
        return;
    };
    let server = TestServer::start_with(TestOptions { clock: TestClock::System, ..TestOptions::default() }).await;
    server.add_user("sip:alice@example.com", "Alice", "alice-password").await;
    server.add_user("sip:bob@example.com", "Bob", "bob-password").await;
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../compat/ucwa-py/harness.py");
    let url = server.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(harness)
            .args(["--base-url", &url, "--timeout", "60"])
            .args(["--bot-user", "sip:alice@example.com", "--bot-password", "alice-password"])
            .args(["--caller-user", "sip:bob@example.com", "--caller-password", "bob-password"])
            .output()
    })
    .await
    .expect("harness thread")
    .expect("run the harness");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        output.status.success() && stdout.contains("1 passed, 0 failed"),
        "the harness failed:\n{stdout}\n{stderr}"
    );
}
