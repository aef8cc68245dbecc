//! The binary's logs as an operator reads them: `--log-format json` writes one JSON object per
//! line to standard error, every line a request logs carries that request's correlation id
//! (the `X-MS-Correlation-Id` the client got), and no password, client secret or bearer token
//! reaches the log, even at `RUST_LOG=trace`.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ucwa-server");
const PASSWORD: &str = "alice-demo-password";
const WRONG: &str = "wrong-password-7f3a";

#[tokio::test]
async fn json_logs_carry_the_correlation_id_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("ucwa.db").display());
    let mut child = Command::new(BIN)
        .args(["--demo", "--listen", "127.0.0.1:0", "--log-format", "json", "--database-url", &db])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = stdout.next().expect("the server printed its address").unwrap();
        if let Some(addr) = line.strip_prefix("listening on http://") {
            break addr.to_owned();
        }
    };
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut all = String::new();
        BufReader::new(stderr).read_to_string(&mut all).map(|_| all)
    });

    let base = format!("http://{addr}");
    ucwa_server::callbacks::install_crypto_provider();
    let client = reqwest::Client::new();
    let token_url = format!("{base}/WebTicket/oauthtoken");
    let form = |password: &'static str| {
        [("grant_type", "password"), ("username", "alice@example.com"), ("password", password)]
    };
    let refused = client.post(&token_url).form(&form(WRONG)).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    let correlation = refused.headers()["x-ms-correlation-id"].to_str().unwrap().to_owned();
    let granted = client.post(&token_url).form(&form(PASSWORD)).send().await.unwrap();
    assert_eq!(granted.status(), 200);
    let token = granted.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    // The token in a header, and (wrongly) in a query string: neither is logged.
    let app = client
        .post(format!("{base}/ucwa/oauth/v1/applications?access_token={token}"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"UserAgent": "logs-test", "EndpointId": "e1", "Culture": "en-US"}))
        .send()
        .await
        .unwrap();
    assert_eq!(app.status(), 201);

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let (exited, exit) = std::sync::mpsc::channel();
    std::thread::spawn(move || exited.send(child.wait()));
    assert!(exit.recv_timeout(Duration::from_secs(10)).expect("the server stopped").unwrap().success());
    let logs = logs.join().unwrap().unwrap();

    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(lines.len() > 10, "trace level logs plenty: {logs}");
    let refusal = lines
        .iter()
        .find(|l| l["message"] == "sign-in refused")
        .unwrap_or_else(|| panic!("the refused sign-in is logged: {logs}"));
    assert_eq!(refusal["level"], "INFO");
    assert_eq!(refusal["span"]["name"], "request");
    assert_eq!(refusal["span"]["correlation"], correlation.as_str(), "{refusal}");
    assert_eq!(refusal["span"]["path"], "/WebTicket/oauthtoken");
    for secret in [PASSWORD, WRONG, token.as_str()] {
        assert!(!logs.contains(secret), "a secret reached the log: {secret}");
    }
}
