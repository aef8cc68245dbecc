//! Accepting connections (finding 2 of issue 11, slowloris): the accept loop, the connection
//! cap and the three timeouts that keep slow or silent clients from holding connections,
//! with HTTP/1.1 served by hyper.
//!
//! - **Header read timeout**: a request's head must arrive within `--header-read-timeout-ms`
//!   of the connection opening or of its first byte; otherwise the connection is closed.
//! - **Idle timeout**: a keep-alive connection with no request in progress is closed after
//!   `--idle-timeout-ms` without a byte.
//! - **Body read timeout**: a request body must be complete within `--body-read-timeout-ms`
//!   of its head (a total deadline, so trickling one byte at a time does not extend it);
//!   past it the request fails with 408.
//! - **Connection cap**: past `--max-connections` open connections a new one is closed at
//!   once, so the process never runs out of file descriptors (the accept loop, the database
//!   and callbacks need them too). The default is the process's open-file limit minus a
//!   reserve; at startup the server raises its soft limit to the hard one.
//!
//! None of these cuts a request while it is being handled: a parked `GET events` waits as
//! long as the client's `timeout` asked, whatever the idle timeout.
//!
//! # Concurrency
//! One task per connection. The connection count is a `tokio::sync::Semaphore`: each
//! connection task holds one permit (`try_acquire`, never waiting: waiting would leave the
//! connection open). The header and idle deadlines live in `TimedIo`, the connection's
//! socket wrapper, which hyper polls for reading whenever it waits for the next request; it
//! learns whether a request is in progress from `Activity`, counters the request service
//! updates (atomics, shared by the connection's two halves only). The timeouts are real
//! time: they protect sockets, not protocol deadlines, so the injected clock does not apply.
//!
//! The end of a request wakes nobody. hyper does not read again after a response until the
//! socket or a timer wakes it, so while a request is in progress `TimedIo` keeps a recheck
//! timer armed at "now + idle timeout", never later than the idle deadline the request's
//! end will set; when it fires, the deadline is computed again. An earlier version woke the
//! connection task from the request's end instead: that rescheduled the task once per
//! request and woke an idle runtime worker to steal it (~1.7 futex calls per request), which
//! cost a third of `GET application`'s throughput (docs/BENCHMARKS.md).

use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::timeout::DeadlineBody;

/// The connection limits, each a flag and an `UCWA_*` variable.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionLimits {
    /// A request's head (request line and headers) must arrive within this long of the
    /// connection opening or of its first byte, milliseconds.
    #[arg(long, env = "UCWA_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,
    /// A request's body must be complete within this long of its head, milliseconds (408
    /// past it).
    #[arg(long, env = "UCWA_BODY_READ_TIMEOUT_MS", default_value_t = 30_000)]
    pub body_read_timeout_ms: u64,
    /// A keep-alive connection with no request in progress is closed after this long
    /// without a byte, milliseconds. A parked event request is in progress: it is never cut.
    #[arg(long, env = "UCWA_IDLE_TIMEOUT_MS", default_value_t = 60_000)]
    pub idle_timeout_ms: u64,
    /// Open connections at most; past it new connections are closed at once. 0: the
    /// process's open-file limit minus 256 (for the database, callbacks and logs).
    #[arg(long, env = "UCWA_MAX_CONNECTIONS", default_value_t = 0)]
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            max_connections: 0,
        }
    }
}

/// File descriptors kept free for everything but client connections.
const RESERVED_FILES: u64 = 256;

impl ConnectionLimits {
    /// The connection cap in force: the flag, or the open-file limit minus a reserve.
    pub fn connection_cap(&self) -> usize {
        if self.max_connections > 0 {
            return self.max_connections;
        }
        let files = open_file_limit().unwrap_or(1024);
        usize::try_from(files.saturating_sub(RESERVED_FILES).max(64)).unwrap_or(usize::MAX)
    }
}

/// The soft limit of open files of this process (`/proc/self/limits`), if known.
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Raises the soft open-file limit to the hard one (what Go and most servers do at
/// startup): a default soft limit of 1,024 would otherwise cap the server at about 800
/// clients. Returns the new soft limit.
pub fn raise_open_file_limit() -> io::Result<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        setrlimit(Resource::Nofile, limit)?;
    }
    Ok(limit.current.unwrap_or(u64::MAX))
}

/// Whether a request of the connection is in progress, and since when none is.
#[derive(Debug)]
struct Activity {
    /// When the connection opened.
    opened: Instant,
    /// Requests whose response is not ready yet.
    in_flight: AtomicUsize,
    /// Requests started so far.
    started: AtomicU64,
    /// When the last request finished, milliseconds after `opened`.
    idle_since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            idle_since_ms: AtomicU64::new(0),
        }
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.started.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }
}

/// A request in progress; marks the connection idle again when dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let since = u64::try_from(self.0.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.idle_since_ms.store(since, Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A connection's socket with the header and idle deadlines: while no request is in
/// progress, a read that would wait past the deadline fails with `TimedOut`, which makes
/// hyper close the connection.
struct TimedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
    header_timeout: Duration,
    idle_timeout: Duration,
    /// Requests started when this wrapper last looked: a change means a new head began.
    seen_started: u64,
    /// When the first byte of the next request's head arrived.
    head_started: Option<Instant>,
    deadline: Pin<Box<Sleep>>,
}

impl TimedIo {
    fn new(inner: TcpStream, activity: Arc<Activity>, limits: &ConnectionLimits) -> Self {
        let header_timeout = Duration::from_millis(limits.header_read_timeout_ms);
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep_until(activity.opened + header_timeout)),
            activity,
            header_timeout,
            idle_timeout: Duration::from_millis(limits.idle_timeout_ms),
            seen_started: 0,
            head_started: None,
        }
    }

    /// What the timer must be set to now. `read_some`: this read brought bytes.
    fn timer(&mut self, read_some: bool) -> Timer {
        let started = self.activity.started.load(Ordering::SeqCst);
        if started != self.seen_started {
            self.seen_started = started;
            self.head_started = None;
        }
        if self.activity.in_flight.load(Ordering::SeqCst) > 0 {
            return Timer::Recheck(Instant::now() + self.idle_timeout);
        }
        if read_some && self.head_started.is_none() {
            self.head_started = Some(Instant::now());
        }
        Timer::Due(match self.head_started {
            Some(first_byte) => first_byte + self.header_timeout,
            None if started == 0 => self.activity.opened + self.header_timeout,
            None => {
                let idle_since = Duration::from_millis(self.activity.idle_since_ms.load(Ordering::SeqCst));
                self.activity.opened + idle_since + self.idle_timeout
            }
        })
    }
}

/// What a connection's timer is set to.
enum Timer {
    /// The connection must make progress by then, or it is closed.
    Due(Instant),
    /// A request is in progress (never cut): look again by then at the latest, which is no
    /// later than the idle deadline the request's end will set.
    Recheck(Instant),
}

impl AsyncRead for TimedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read_some = buf.filled().len() > before;
        let timer = self.timer(read_some);
        if polled.is_ready() {
            return polled;
        }
        match timer {
            Timer::Due(deadline) => {
                if self.deadline.deadline() != deadline {
                    self.deadline.as_mut().reset(deadline);
                }
                match self.deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "client too slow or idle")))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
            Timer::Recheck(by) => {
                // An earlier recheck still pending is as good (it comes first); resetting the
                // timer on every poll would cost a timer-wheel update each time.
                if self.deadline.is_elapsed() || self.deadline.deadline() > by {
                    self.deadline.as_mut().reset(by);
                }
                if self.deadline.as_mut().poll(cx).is_ready() {
                    // Only when the idle timeout is shorter than this poll took: look again.
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then waits for the open
/// connections to finish their requests.
///
/// `app` is the prepared router (routes resolved once, see `Server::serve`); each request
/// runs on a clone of it, which is one reference count.
/// A connection closed at the cap is counted in `metrics` (`ucwa_rate_limited_total`).
pub async fn serve(
    listener: TcpListener,
    app: crate::App,
    limits: ConnectionLimits,
    metrics: ucwa_service::Metrics,
    shutdown: CancellationToken,
) {
    let cap = limits.connection_cap();
    let permits = Arc::new(Semaphore::new(cap));
    let graceful = GracefulShutdown::new();
    let limits = Arc::new(limits);
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(%peer, cap, "connection cap reached: closing a new connection");
            metrics.rate_limited("connections");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(TimedIo::new(stream, activity.clone(), &limits));
        let body_timeout = Duration::from_millis(limits.body_read_timeout_ms);
        let app = app.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let in_flight = activity.begin();
            let mut req = req.map(|body| Body::new(DeadlineBody::new(body_timeout, body)));
            req.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move {
                let response = app.oneshot(req).await;
                drop(in_flight);
                response
            }
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.keep_alive(true).header_read_timeout(None);
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The client's address, as the accept loop recorded it.
pub fn client_address(extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| *addr)
}
