//! A callback receiver for Trusted Application API tests: a small HTTP server on
//! `127.0.0.1` that records every request and answers with the status (and body) the test
//! chose. It can be stopped and started again on the same port, keeping what it recorded.
//! Every callback body is read into the typed wire model ([`crate::wire`]); reading the
//! requests fails the test if one does not fit.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Path and query.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub answered: u16,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Heartbeats (reachability checks) carry no events.
    pub fn is_heartbeat(&self) -> bool {
        self.json()["sender"].as_array().is_some_and(Vec::is_empty)
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    /// Callbacks whose body the typed wire model does not cover, and why.
    not_in_model: Mutex<Vec<String>>,
    /// How many requests were recorded: waiters watch it instead of polling.
    count: tokio::sync::watch::Sender<usize>,
    /// (status, body) answered to the next requests.
    answer: Mutex<(u16, Option<Value>)>,
    /// How long a request waits for its answer (recorded on arrival).
    hold: Mutex<Duration>,
}

pub struct CallbackReceiver {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>/callback`.
    pub url: String,
    shared: Arc<Shared>,
    running: Option<(CancellationToken, JoinHandle<()>)>,
}

async fn record(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let (status, answer) = shared.answer.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let headers =
        headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    let recorded = Recorded { uri: uri.to_string(), headers, body: body.to_vec(), answered: status };
    if let Err(e) = crate::wire::check_event_batch(&recorded.body) {
        let failure = format!("callback to {uri}: {e}\n{}", String::from_utf8_lossy(&recorded.body));
        shared.not_in_model.lock().unwrap_or_else(|p| p.into_inner()).push(failure);
    }
    let count = {
        let mut requests = shared.requests.lock().unwrap_or_else(|p| p.into_inner());
        requests.push(recorded);
        requests.len()
    };
    shared.count.send_replace(count);
    let hold = *shared.hold.lock().unwrap_or_else(|p| p.into_inner());
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match answer {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    }
}

impl CallbackReceiver {
    /// Starts on a free loopback port, answering 200 with an empty body.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared { answer: Mutex::new((200, None)), ..Shared::default() });
        let mut receiver =
            Self { addr: "127.0.0.1:0".parse().expect("address"), url: String::new(), shared, running: None };
        receiver.listen().await;
        receiver
    }

    async fn listen(&mut self) {
        let listener = TcpListener::bind(self.addr).await.expect("bind the callback receiver");
        self.addr = listener.local_addr().expect("local address");
        self.url = format!("http://{}/callback", self.addr);
        let app = Router::new().fallback(record).with_state(self.shared.clone());
        let stop = CancellationToken::new();
        let signal = stop.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).with_graceful_shutdown(signal).await;
        });
        self.running = Some((stop, task));
    }

    /// Stops listening: connections are refused until [`CallbackReceiver::resume`].
    pub async fn stop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }

    /// Listens again on the same port.
    pub async fn resume(&mut self) {
        self.listen().await;
    }

    /// The status (and JSON body) answered from now on.
    pub fn answer(&self, status: u16, body: Option<Value>) {
        *self.shared.answer.lock().unwrap_or_else(|p| p.into_inner()) = (status, body);
    }

    /// Holds each request this long before answering it (a slow receiver, or one a node is
    /// in the middle of delivering to); zero answers at once.
    pub fn hold(&self, hold: Duration) {
        *self.shared.hold.lock().unwrap_or_else(|p| p.into_inner()) = hold;
    }

    /// Every request so far. Fails the test if a callback's body was not an event batch the
    /// typed wire model covers ([`crate::wire`]).
    pub fn requests(&self) -> Vec<Recorded> {
        let not_in_model = self.shared.not_in_model.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(not_in_model.is_empty(), "{}", not_in_model.join("\n\n"));
        self.shared.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The event batches answered with a 2xx (accepted), heartbeats left out.
    pub fn accepted(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| (200..300).contains(&r.answered) && !r.is_heartbeat()).collect()
    }

    /// Waits until `pred` holds for the accepted batches, or panics after `within`.
    pub async fn wait_for(&self, within: Duration, pred: impl Fn(&[Recorded]) -> bool) -> Vec<Recorded> {
        self.wait_for_requests(within, |_| pred(&self.accepted())).await;
        self.accepted()
    }

    /// Waits until `pred` holds for every request received so far (heartbeats and refused
    /// ones included), or panics after `within`.
    pub async fn wait_for_requests(&self, within: Duration, pred: impl Fn(&[Recorded]) -> bool) -> Vec<Recorded> {
        let mut count = self.shared.count.subscribe();
        let arrived = tokio::time::timeout(within, async {
            loop {
                let requests = self.requests();
                if pred(&requests) {
                    return requests;
                }
                if count.changed().await.is_err() {
                    return requests;
                }
            }
        });
        match arrived.await {
            Ok(requests) => requests,
            Err(_) => panic!(
                "callbacks did not arrive within {within:?}; got {:#?}",
                self.requests().iter().map(Recorded::json).collect::<Vec<_>>()
            ),
        }
    }
}
