//! The load generator's HTTP client: one hyper HTTP/1.1 connection per worker, no pool.
//!
//! A raw `hyper::client::conn` connection is the cheapest client hyper offers, and keeping
//! exactly one keep-alive connection per worker makes the load shape explicit: N workers
//! means N sockets, each with at most one request in flight.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderMap, HeaderValue, LOCATION};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

/// No single request of the benchmark may take longer than this (except parked ones,
/// which set their own bound): a hung server fails the run instead of stalling it.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One keep-alive connection.
pub(crate) struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl Conn {
    pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        // Requests are one small write each; do not let Nagle hold them back.
        stream.set_nodelay(true).context("setting TCP_NODELAY")?;
        let (sender, connection) =
            http1::handshake(TokioIo::new(stream)).await.with_context(|| format!("HTTP handshake with {addr}"))?;
        // The connection future does the socket I/O; it ends when `sender` is dropped.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let host = HeaderValue::from_str(&addr.to_string()).context("host header")?;
        Ok(Self { sender, host })
    }

    /// A request with the `Host` header of this connection and an optional bearer token.
    pub(crate) fn request(&self, method: Method, path: &str, token: Option<&str>) -> hyper::http::request::Builder {
        let mut builder = Request::builder().method(method).uri(path).header(HOST, self.host.clone());
        if let Some(token) = token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        builder
    }

    /// `GET path`, returning the status and the whole body.
    pub(crate) async fn get(&mut self, path: &str, token: Option<&str>) -> anyhow::Result<(StatusCode, Bytes)> {
        let req = self.request(Method::GET, path, token).body(Full::default()).context("building a GET")?;
        self.send(req).await
    }

    /// Sends one request and reads the whole response body.
    pub(crate) async fn send(&mut self, req: Request<Full<Bytes>>) -> anyhow::Result<(StatusCode, Bytes)> {
        let (status, _, body) = self.send_full(req).await?;
        Ok((status, body))
    }

    /// [`Conn::send`], keeping the response headers too.
    pub(crate) async fn send_full(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)> {
        self.sender.ready().await.context("connection closed")?;
        let resp = self.sender.send_request(req).await.context("sending a request")?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.context("reading a response body")?.to_bytes();
        Ok((parts.status, parts.headers, body))
    }

    /// `method path` with an optional JSON body and a bearer token, bounded by
    /// [`REQUEST_TIMEOUT`]; returns the status, the `Location` header (if any) and the body.
    pub(crate) async fn call(
        &mut self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Option<String>, Bytes)> {
        let builder = self.request(method.clone(), path, Some(token));
        let req = match body {
            Some(body) => {
                builder.header(CONTENT_TYPE, "application/json").body(Full::new(Bytes::from(body.to_string())))
            }
            None => builder.body(Full::default()),
        }
        .with_context(|| format!("building {method} {path}"))?;
        let (status, headers, body) = tokio::time::timeout(REQUEST_TIMEOUT, self.send_full(req))
            .await
            .with_context(|| format!("{method} {path} took longer than {REQUEST_TIMEOUT:?}"))?
            .with_context(|| format!("{method} {path}"))?;
        let location = headers.get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok((status, location, body))
    }

    /// [`Conn::send`] bounded by [`REQUEST_TIMEOUT`].
    pub(crate) async fn send_bounded(&mut self, req: Request<Full<Bytes>>) -> anyhow::Result<(StatusCode, Bytes)> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.send(req)).await.context("request timed out")?
    }
}

/// Signs in with the password grant and returns the access token.
pub(crate) async fn sign_in(addr: SocketAddr, user: &str, password: &str) -> anyhow::Result<String> {
    let mut conn = Conn::connect(addr).await?;
    let form = format!("grant_type=password&username={user}&password={password}");
    let req = conn
        .request(Method::POST, "/WebTicket/oauthtoken", None)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .context("building the token request")?;
    let (status, body) = conn.send_bounded(req).await?;
    if status != StatusCode::OK {
        bail!("token request answered {status}: {}", String::from_utf8_lossy(&body));
    }
    let body: Value = serde_json::from_slice(&body).context("token response is not JSON")?;
    body["access_token"].as_str().map(str::to_owned).context("token response has no access_token")
}

/// What the benchmark keeps of a created application.
#[derive(Debug, Clone)]
pub(crate) struct AppLinks {
    /// Path of the application resource (`_links.self`).
    pub path: String,
    /// Path of the first event channel request (`_links.events`, `events?ack=1`).
    pub events: String,
}

impl AppLinks {
    /// The application id: the last segment of its path.
    pub(crate) fn id(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }
}

/// Creates `count` applications for the token's user (endpoint ids `bench-0`, `bench-1`, ...)
/// over `concurrency` connections, returned in endpoint-id order.
pub(crate) async fn create_apps(
    addr: SocketAddr,
    token: &str,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<AppLinks>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.clamp(1, count.max(1)) {
        let next = next.clone();
        let token = token.to_owned();
        workers.spawn(async move {
            let mut conn = Conn::connect(addr).await?;
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return anyhow::Ok(made);
                }
                let body = json!({"UserAgent": "ucwa-bench", "EndpointId": format!("bench-{i}"), "Culture": "en-US"});
                let req = conn
                    .request(Method::POST, "/ucwa/oauth/v1/applications", Some(&token))
                    .header(CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(body.to_string())))
                    .context("building an application request")?;
                let (status, body) = conn.send_bounded(req).await?;
                if status != StatusCode::CREATED {
                    bail!("creating application {i} answered {status}: {}", String::from_utf8_lossy(&body));
                }
                let app: Value = serde_json::from_slice(&body).context("application body is not JSON")?;
                let link = |rel: &str| app["_links"][rel]["href"].as_str().map(str::to_owned);
                let path = link("self").context("application without a self link")?;
                let events = link("events").context("application without an events link")?;
                made.push((i, AppLinks { path, events }));
            }
        });
    }
    let mut apps = Vec::with_capacity(count);
    while let Some(done) = workers.join_next().await {
        apps.extend(done.context("an application-creating task panicked")??);
    }
    apps.sort_by_key(|(i, _)| *i);
    Ok(apps.into_iter().map(|(_, app)| app).collect())
}

/// One application's event channel as a client walks it: GET, then follow `_links.next`.
pub(crate) struct EventChannel {
    next: String,
}

impl EventChannel {
    /// Starts at the application's `events` link.
    pub(crate) fn new(first: &str) -> Self {
        Self { next: first.to_owned() }
    }

    /// One `GET events` (asking the server to hold it up to `timeout_s`) on `conn`: the
    /// events of the batch, in order, and when its body had been read completely.
    pub(crate) async fn poll(
        &mut self,
        conn: &mut Conn,
        token: &str,
        timeout_s: u32,
    ) -> anyhow::Result<(Vec<Value>, Instant)> {
        let path = format!("{}&timeout={timeout_s}", self.next);
        let bound = Duration::from_secs(u64::from(timeout_s)) + REQUEST_TIMEOUT;
        let (status, body) = tokio::time::timeout(bound, conn.get(&path, Some(token)))
            .await
            .with_context(|| format!("GET {path} outlived its timeout"))?
            .with_context(|| format!("GET {path}"))?;
        let at = Instant::now();
        if status != StatusCode::OK {
            bail!("GET {path} answered {status}: {}", String::from_utf8_lossy(&body));
        }
        let mut batch: Value = serde_json::from_slice(&body).context("an event batch is not JSON")?;
        self.next = batch["_links"]["next"]["href"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("an event batch without a next link (a resync?): {batch}"))?;
        let mut events = Vec::new();
        if let Some(senders) = batch.get_mut("sender").and_then(Value::as_array_mut) {
            for sender in senders {
                if let Some(list) = sender.get_mut("events").and_then(Value::as_array_mut) {
                    events.append(list);
                }
            }
        }
        Ok((events, at))
    }
}
