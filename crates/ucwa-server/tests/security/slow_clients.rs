//! Finding 2 (slowloris): connections that send their head, their body or nothing too
//! slowly are closed after short, test-configured timeouts while `/healthz` keeps
//! answering; connections past the cap are closed at once; a parked event request outlives
//! the idle timeout. These timeouts are real time (they protect sockets), kept at 100-300 ms.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ucwa_server::ConnectionLimits;
use ucwa_testkit::{TestOptions, TestServer};

const HEADER_MS: u64 = 200;
const BODY_MS: u64 = 200;
const IDLE_MS: u64 = 300;

async fn server_with(max_connections: usize, header_ms: u64) -> TestServer {
    let connections = ConnectionLimits {
        header_read_timeout_ms: header_ms,
        body_read_timeout_ms: BODY_MS,
        idle_timeout_ms: IDLE_MS,
        max_connections,
    };
    TestServer::start_with(TestOptions { connections, ..TestOptions::default() }).await
}

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn until_closed(stream: &mut TcpStream) -> (Vec<u8>, Instant) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, Instant::now()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open for 10 s; got {}", String::from_utf8_lossy(&got)),
        }
    }
}

async fn healthz(server: &TestServer) -> StatusCode {
    server.client.get(server.at("/healthz")).send().await.map(|r| r.status()).unwrap_or(StatusCode::BAD_GATEWAY)
}

#[tokio::test]
async fn half_a_header_is_cut_off_while_healthz_answers() {
    let server = server_with(0, HEADER_MS).await;
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        slow.push(s);
    }
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let opened = Instant::now();
    // Meanwhile the server answers others.
    assert_eq!(healthz(&server).await, StatusCode::OK);
    for s in &mut slow {
        let (sent, _) = until_closed(s).await;
        assert!(sent.is_empty() || !sent.starts_with(b"HTTP/1.1 200"), "no answer to half a request");
    }
    let (_, closed) = until_closed(&mut silent).await;
    let held = closed - opened;
    assert!(held >= Duration::from_millis(HEADER_MS - 50), "closed after {held:?}, before the timeout");
    assert_eq!(healthz(&server).await, StatusCode::OK);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_and_a_slow_body_gets_408() {
    let server = server_with(0, HEADER_MS).await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let idle_from = Instant::now();
    let (_, closed) = until_closed(&mut conn).await;
    assert!(closed - idle_from >= Duration::from_millis(IDLE_MS - 50), "idle for {:?}", closed - idle_from);

    // A body promised and never finished: 408 after the body deadline, not a held task.
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"POST /WebTicket/oauthtoken HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=pass")
        .await
        .unwrap();
    let (sent, _) = until_closed(&mut conn).await;
    let text = String::from_utf8_lossy(&sent);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("ClientTimeout"), "{text}");
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_once() {
    // A long header timeout: the held connections stay until the test drops them.
    let server = server_with(4, 10_000).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // The accept loop has taken all four (each is a connection task) before the fifth.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut over = TcpStream::connect(server.addr).await.unwrap();
    let _ = over.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let started = Instant::now();
    let (sent, _) = until_closed(&mut over).await;
    assert!(sent.is_empty(), "the fifth connection got an answer: {}", String::from_utf8_lossy(&sent));
    assert!(started.elapsed() < Duration::from_secs(2), "closed at once, not after a timeout");
    // A freed slot takes a new connection.
    held.pop();
    let mut answered = false;
    for _ in 0..50 {
        if healthz(&server).await == StatusCode::OK {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(answered, "a connection below the cap is served");
}

#[tokio::test]
async fn a_parked_event_request_outlives_the_idle_and_header_timeouts() {
    let server = server_with(0, HEADER_MS).await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let url = format!("{}&timeout=60", app.events_url);
    let client = server.client.clone();
    let token = app.token.clone();
    let parked = tokio::spawn(async move { client.get(url).bearer_auth(token).send().await.map(|r| r.status()) });
    server.parked(&app).await;
    // Longer than both timeouts, in real time.
    tokio::time::sleep(Duration::from_millis(IDLE_MS + HEADER_MS + 200)).await;
    assert!(!parked.is_finished(), "the parked request was cut");
    server.advance(Duration::from_secs(60)).await;
    assert_eq!(parked.await.unwrap().unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn a_connection_idle_after_a_request_longer_than_the_idle_timeout_is_closed() {
    let server = server_with(0, HEADER_MS).await;
    let app = server.signed_in_app("sip:alice@example.com", "Alice").await;
    let url = reqwest::Url::parse(&format!("{}&timeout=60", app.events_url)).unwrap();
    let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n", app.token);
    conn.write_all(head.as_bytes()).await.unwrap();
    server.parked(&app).await;
    // The connection's timer comes due while the request is parked: it must not cut it, and
    // must still close the connection once it has been idle that long after the answer.
    tokio::time::sleep(Duration::from_millis(2 * IDLE_MS)).await;
    server.advance(Duration::from_secs(60)).await;
    let mut buf = [0u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    let idle_from = Instant::now();
    let (_, closed) = until_closed(&mut conn).await;
    let idle = closed - idle_from;
    assert!(idle >= Duration::from_millis(IDLE_MS - 50), "closed after {idle:?} of idleness");
    assert!(idle < Duration::from_millis(IDLE_MS + 2_000), "open {idle:?} after its idle timeout");
}
