//! The `ucwa-server` binary as a user runs it: `user add` from standard input, `user list`,
//! `serve --demo` announcing its address, serving, and stopping cleanly on SIGTERM with its
//! data kept; refusing a database a newer release upgraded; and the deployment guide's
//! table of its flags, checked against `serve --help`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ucwa-server");

fn db_url(dir: &tempfile::TempDir) -> String {
    // A nested directory: the server creates missing parents.
    format!("sqlite://{}", dir.path().join("data/ucwa.db").display())
}

fn add_user(url: &str, uri: &str, name: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(["user", "add", uri, "--name", name, "--password-stdin", "--database-url", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn user_add_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let url = db_url(&dir);
    let out = add_user(&url, "Dave@Example.com", "Dave", "s3cret");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "added sip:dave@example.com");
    let out = add_user(&url, "sip:dave@example.com", "David", "other");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "updated sip:dave@example.com");
    let out = add_user(&url, "not-a-uri", "X", "pw");
    assert!(!out.status.success());
    let out = add_user(&url, "sip:e@example.com", "E", "");
    assert!(!out.status.success(), "an empty password is refused");
    let list = Command::new(BIN).args(["user", "list", "--database-url", &url]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&list.stdout), "sip:dave@example.com\tDavid\n");
    // The password never reaches the terminal.
    assert!(!String::from_utf8_lossy(&list.stdout).contains("other"));
}

/// libpq's list of hosts in one URL, which the driver cannot follow, is refused with what to
/// do instead (sqlx's own message was "invalid port number"), before anything is reached.
#[test]
fn a_database_url_with_several_hosts_is_refused_with_the_reason() {
    let url = "postgres://ucwa:pass,word@db1.invalid:5432,db2.invalid:5432/ucwa";
    let out = Command::new(BIN).args(["user", "list", "--database-url", url]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "refused");
    assert!(stderr.contains("several hosts") && stderr.contains("give one address"), "{stderr}");
}

/// A database that a newer release upgraded (it has a migration this build does not know)
/// is refused, with the reason, and left as it was.
#[test]
fn a_database_from_a_newer_release_is_refused_with_the_reason() {
    use sqlx::{Connection, SqliteConnection};
    let dir = tempfile::tempdir().unwrap();
    let url = db_url(&dir);
    assert!(add_user(&url, "sip:dave@example.com", "Dave", "s3cret").status.success());
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let count = |sql: &'static str| {
        runtime.block_on(async {
            let mut db = SqliteConnection::connect(&url).await.unwrap();
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&mut db).await.unwrap();
            n
        })
    };
    runtime.block_on(async {
        let mut db = SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (9999, 'from a newer release', 1, x'00', 1)",
        )
        .execute(&mut db)
        .await
        .unwrap();
    });
    let out = Command::new(BIN).args(["user", "list", "--database-url", &url]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "refused");
    assert!(stderr.contains("upgraded by a newer release") && stderr.contains("migration 9999"), "{stderr}");
    assert_eq!(count("SELECT count(*) FROM users"), 1, "the data is kept");
    assert_eq!(count("SELECT count(*) FROM _sqlx_migrations WHERE version = 9999"), 1);
}

#[test]
fn user_passwd_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let url = db_url(&dir);
    assert!(add_user(&url, "sip:dave@example.com", "Dave", "s3cret").status.success());
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(BIN)
            .args(args)
            .args(["--database-url", &url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(&["user", "passwd", "sip:dave@example.com", "--password-stdin"], "n3w\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "password changed; 0 token(s) revoked");
    let out = run(&["user", "passwd", "sip:nobody@example.com", "--password-stdin"], "x\n");
    assert!(!out.status.success(), "no such user");
    let out = run(&["user", "revoke", "sip:dave@example.com"], "");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0 token(s) revoked");
}

#[test]
fn serve_announces_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let url = db_url(&dir);
    let mut child = Command::new(BIN)
        .args(["--demo", "--listen", "127.0.0.1:0"])
        .env("UCWA_DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut demo_users = 0;
    let addr = loop {
        let line = lines.next().expect("the server printed its address").unwrap();
        if line.starts_with("demo user ") {
            demo_users += 1;
        }
        if let Some(addr) = line.strip_prefix("listening on http://") {
            break addr.to_owned();
        }
    };
    assert_eq!(demo_users, 3);
    let health = http_get(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    // SIGTERM: a clean stop, soon.
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let (exited, exit) = std::sync::mpsc::channel();
    std::thread::spawn(move || exited.send(child.wait()));
    let exit = exit.recv_timeout(Duration::from_secs(10)).expect("the server did not stop").unwrap();
    assert!(exit.success(), "{exit:?}");
    // The demo users are in the database.
    let list = Command::new(BIN).args(["user", "list", "--database-url", &url]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&list.stdout).lines().count(), 3);
}

/// A bare HTTP/1.1 GET, so this test needs no client library.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

/// docs/DEPLOYMENT.md's table of flags says what `serve --help` says: the same flags, each
/// with the same environment variable and default, so the document cannot fall behind.
#[test]
fn the_deployment_guides_flag_table_matches_serve_help() {
    let help = Command::new(BIN).args(["serve", "--help"]).output().unwrap();
    assert!(help.status.success());
    let mut from_help = std::collections::BTreeMap::new();
    let mut flag: Option<String> = None;
    for line in String::from_utf8_lossy(&help.stdout).lines() {
        let line = line.trim();
        if let Some(name) = line.split([' ', ',']).find(|word| word.starts_with("--")).filter(|_| line.starts_with('-'))
        {
            flag = Some(name.to_owned());
            from_help.insert(name.to_owned(), (None, "-".to_owned()));
        }
        let Some(entry) = flag.as_ref().and_then(|f| from_help.get_mut(f)) else { continue };
        if let Some(rest) = line.strip_prefix("[env: ") {
            entry.0 = rest.split('=').next().map(str::to_owned);
        }
        if let Some(rest) = line.strip_prefix("[default: ") {
            entry.1 = rest.trim_end_matches(']').to_owned();
        }
    }
    from_help.remove("--help");
    assert!(from_help.len() > 30, "read the flags of the help: {from_help:?}");
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/DEPLOYMENT.md")).unwrap();
    let from_guide: std::collections::BTreeMap<_, _> = guide
        .lines()
        .filter(|line| line.starts_with("| `--"))
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").map(|cell| cell.trim_matches(['|', ' ', '`'])).collect();
            (cells[0].to_owned(), (Some(cells[1].to_owned()), cells[2].to_owned()))
        })
        .collect();
    assert_eq!(from_guide, from_help);
}
