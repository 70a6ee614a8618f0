//! The HTTP listener: our own accept loop over hyper's HTTP/1.1 connections (and HTTP/2 over
//! TLS, see [`super::tls`]), bounded in number (in total and per client address) and in time
//! (TLS handshake and request headers, keep-alive idle).
//!
//! hyper's header-read timer also runs while a keep-alive connection waits for its next
//! request, which would make the idle timeout equal to the header timeout; a small watchdog
//! per connection keeps the two apart. Accept errors (out of file descriptors) back off.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use axum::response::IntoResponse;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::error::HttpError;
use super::tls::{HttpsAcceptor, Protocol};
use crate::config::HttpConfig;
use crate::throttle::{self, AcceptBackoff};

/// Connections being refused at once; beyond, an excess connection is closed without a word.
const MAX_REFUSALS: usize = 64;
/// What a refused client is told to wait.
const REFUSAL_RETRY: Duration = Duration::from_secs(1);

/// The listener's limits, from `[http]`.
#[derive(Clone, Debug)]
pub struct Bounds {
    pub header_read: Duration,
    pub keepalive: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Proxies, which speak for many clients: not held to the per-address cap.
    pub exempt: Vec<IpNet>,
}

impl Bounds {
    pub fn new(http: &HttpConfig, exempt: Vec<IpNet>) -> Result<Bounds, String> {
        for (key, value) in [
            (
                "header_read_timeout_secs",
                http.header_read_timeout_secs as usize,
            ),
            (
                "keepalive_timeout_secs",
                http.keepalive_timeout_secs as usize,
            ),
            ("max_connections", http.max_connections),
            ("max_connections_per_ip", http.max_connections_per_ip),
        ] {
            if value == 0 {
                return Err(format!("http.{key} must be at least 1"));
            }
        }
        Ok(Bounds {
            header_read: Duration::from_secs(http.header_read_timeout_secs),
            keepalive: Duration::from_secs(http.keepalive_timeout_secs),
            max_connections: http.max_connections,
            max_connections_per_ip: http.max_connections_per_ip,
            exempt,
        })
    }
}

/// The bounds in force, replaced whole by a reload: new connections, and each connection's next
/// deadline, see the new ones (connections over a lowered cap are not closed).
#[derive(Clone, Debug)]
pub struct LiveBounds(Arc<ArcSwap<Bounds>>);

impl LiveBounds {
    pub fn new(bounds: Bounds) -> LiveBounds {
        LiveBounds(Arc::new(ArcSwap::from_pointee(bounds)))
    }

    pub fn get(&self) -> Arc<Bounds> {
        self.0.load_full()
    }

    pub fn replace(&self, bounds: Bounds) {
        self.0.store(Arc::new(bounds));
    }
}

/// Serves `app` on `listener` until `shutdown`, over TLS when `tls` is set; connections are
/// tracked by `tasks` and close gracefully (in-flight requests finish) on shutdown.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    bounds: LiveBounds,
    tls: Option<HttpsAcceptor>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let slots = Arc::new(Slots::new(bounds.clone()));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let mut backoff = AcceptBackoff::default();
    loop {
        let Some((tcp, peer)) =
            throttle::accept(&listener, &mut backoff, &shutdown, "HTTP listener").await
        else {
            return;
        };
        // Small XMPP frames must not wait for Nagle's algorithm (~40 ms per stream start).
        let _ = tcp.set_nodelay(true);
        match slots.take(peer.ip()) {
            Ok(slot) => {
                let connection = connection(
                    tcp,
                    peer,
                    slot,
                    app.clone(),
                    bounds.clone(),
                    tls.clone(),
                    shutdown.clone(),
                );
                tasks.spawn(connection);
            }
            Err(full) => {
                tracing::debug!(%peer, reason = full.reason(), "HTTP connection refused");
                if let Ok(permit) = refusals.clone().try_acquire_owned() {
                    let header_read = bounds.get().header_read;
                    let tls = tls.clone();
                    tasks.spawn(async move {
                        refuse(tcp, peer, full.reason(), header_read, tls).await;
                        drop(permit);
                    });
                }
            }
        }
    }
}

/// One connection, after its TLS handshake (bounded by the header-read timeout) on an HTTPS
/// listener; the slot is held meanwhile.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    app: axum::Router,
    bounds: LiveBounds,
    tls: Option<HttpsAcceptor>,
    shutdown: CancellationToken,
) {
    match tls {
        None => serve_connection(tcp, Protocol::Http1, peer, slot, app, bounds, shutdown).await,
        Some(tls) => {
            let handshake = bounds.get().header_read;
            if let Some((stream, protocol)) = tls.accept(tcp, peer, handshake).await {
                serve_connection(stream, protocol, peer, slot, app, bounds, shutdown).await;
            }
        }
    }
}

/// hyper serves the connection while the watchdog enforces the header-read and keep-alive
/// timeouts. Once upgraded (WebSocket) the connection leaves hyper, and this task ends: the
/// WebSocket session holds a client connection slot of its own.
async fn serve_connection<S>(
    stream: S,
    protocol: Protocol,
    peer: SocketAddr,
    _slot: Slot,
    app: axum::Router,
    bounds: LiveBounds,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new(Instant::now()));
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service = ConnService {
        app,
        peer,
        activity: activity.clone(),
    };
    match protocol {
        Protocol::Http1 => {
            let conn = http1::Builder::new()
                .serve_connection(io, service)
                .with_upgrades();
            watch(
                conn,
                |c| c.graceful_shutdown(),
                peer,
                &activity,
                &bounds,
                shutdown,
            )
            .await;
        }
        Protocol::Http2 => {
            let conn = http2::Builder::new(TokioExecutor::new()).serve_connection(io, service);
            watch(
                conn,
                |c| c.graceful_shutdown(),
                peer,
                &activity,
                &bounds,
                shutdown,
            )
            .await;
        }
    }
}

/// Drives `conn` until it ends, the watchdog's deadline passes, or (after `drain` on shutdown)
/// its last request is answered.
async fn watch<C, E>(
    conn: C,
    drain: impl Fn(Pin<&mut C>),
    peer: SocketAddr,
    activity: &Activity,
    bounds: &LiveBounds,
    shutdown: CancellationToken,
) where
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        let deadline = activity.deadline(&bounds.get());
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(%peer, error = %e, "HTTP connection ended");
                }
                return;
            }
            () = activity.changed.notified() => {}
            () = sleep_until(deadline) => {
                if activity.deadline(&bounds.get()).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(%peer, "HTTP connection closed: header or keep-alive timeout");
                    return;
                }
            }
            () = shutdown.cancelled(), if !draining => {
                drain(conn.as_mut());
                draining = true;
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Answers a connection over a cap with 503 and closes it (over HTTP/1.1, after the handshake
/// on an HTTPS listener).
async fn refuse(
    tcp: TcpStream,
    peer: SocketAddr,
    reason: &'static str,
    header_read: Duration,
    tls: Option<HttpsAcceptor>,
) {
    match tls {
        None => refuse_on(tcp, reason, header_read).await,
        Some(tls) => {
            if let Some((stream, _)) = tls.accept(tcp, peer, header_read).await {
                refuse_on(stream, reason, header_read).await;
            }
        }
    }
}

async fn refuse_on<S>(stream: S, reason: &'static str, header_read: Duration)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |_: Request<Incoming>| async move {
        Ok::<_, Infallible>(HttpError::unavailable(reason, REFUSAL_RETRY).into_response())
    });
    let conn = http1::Builder::new()
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(header_read, conn).await;
}

/// Which cap a connection ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Full {
    Total,
    PerIp,
}

impl Full {
    fn reason(self) -> &'static str {
        match self {
            Full::Total => "too many open connections",
            Full::PerIp => "too many open connections from your address",
        }
    }
}

#[derive(Default)]
struct Counts {
    open: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Open connections, counted in total and per client address.
struct Slots {
    counts: Mutex<Counts>,
    bounds: LiveBounds,
}

/// A counted connection; dropping it frees its place.
struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Slots {
    fn new(bounds: LiveBounds) -> Slots {
        Slots {
            counts: Mutex::new(Counts::default()),
            bounds,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Full> {
        let bounds = self.bounds.get();
        let mut counts = self.lock();
        if counts.open >= bounds.max_connections {
            return Err(Full::Total);
        }
        let exempt = bounds.exempt.iter().any(|net| net.contains(&ip));
        let from_ip = counts.per_ip.entry(ip).or_default();
        if !exempt && *from_ip >= bounds.max_connections_per_ip {
            return Err(Full::PerIp);
        }
        *from_ip += 1;
        counts.open += 1;
        Ok(Slot {
            slots: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.slots.lock();
        counts.open -= 1;
        if let Some(from_ip) = counts.per_ip.get_mut(&self.ip) {
            *from_ip -= 1;
            if *from_ip == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Where a connection is between requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the next request since this instant.
    Idle(Instant),
    /// A request's headers have been arriving since this instant (or the connection opened).
    Head(Instant),
    /// Requests being answered: their own timeouts apply.
    Busy(usize),
}

/// The phase of one connection, fed by its reads and requests, read by its watchdog.
struct Activity {
    phase: Mutex<Phase>,
    /// Whether the phase is `Idle`: reads during a request need not take the lock.
    idle: AtomicBool,
    changed: Notify,
}

impl Activity {
    fn new(now: Instant) -> Activity {
        Activity {
            phase: Mutex::new(Phase::Head(now)),
            idle: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Phase> {
        self.phase
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Bytes arrived: on an idle connection, the next request's headers have begun.
    fn read(&self) {
        if !self.idle.load(Ordering::Acquire) {
            return;
        }
        let mut phase = self.lock();
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Head(Instant::now());
            self.idle.store(false, Ordering::Release);
            self.changed.notify_one();
        }
    }

    fn begin(&self) {
        let mut phase = self.lock();
        *phase = match *phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Idle(_) | Phase::Head(_) => Phase::Busy(1),
        };
        self.idle.store(false, Ordering::Release);
    }

    fn end(&self) {
        let mut phase = self.lock();
        *phase = match *phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => {
                self.idle.store(true, Ordering::Release);
                Phase::Idle(Instant::now())
            }
        };
        self.changed.notify_one();
    }

    /// When the connection is to be closed unless something happens first.
    fn deadline(&self, bounds: &Bounds) -> Option<Instant> {
        match *self.lock() {
            Phase::Idle(since) => Some(since + bounds.keepalive),
            Phase::Head(since) => Some(since + bounds.header_read),
            Phase::Busy(_) => None,
        }
    }
}

/// The connection's stream, reporting reads to its [`Activity`].
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
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

/// A request being answered, from the call until its response body is done with.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> InFlight {
        activity.begin();
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A response body that ends its request's [`InFlight`] when hyper drops it.
struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The app as hyper sees it on one connection: the peer address for `ConnectInfo`, and the
/// request's life reported to the watchdog.
#[derive(Clone)]
struct ConnService {
    app: axum::Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::begin(&self.activity);
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let app = self.app.clone();
        Box::pin(async move {
            let Ok(response) = app.oneshot(request).await;
            Ok(response.map(|inner| TrackedBody {
                inner,
                _in_flight: in_flight,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(total: usize, per_ip: usize, exempt: &[&str]) -> Bounds {
        Bounds {
            header_read: Duration::from_secs(10),
            keepalive: Duration::from_secs(60),
            max_connections: total,
            max_connections_per_ip: per_ip,
            exempt: exempt.iter().map(|e| e.parse().unwrap()).collect(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn slots_cap_each_address_and_the_total() {
        let live = LiveBounds::new(bounds(3, 2, &["10.0.0.0/8"]));
        let slots = Arc::new(Slots::new(live.clone()));
        let a1 = slots.take(ip("192.0.2.1")).unwrap();
        let _a2 = slots.take(ip("192.0.2.1")).unwrap();
        assert_eq!(slots.take(ip("192.0.2.1")).err(), Some(Full::PerIp));
        let _b = slots.take(ip("192.0.2.2")).unwrap();
        assert_eq!(slots.take(ip("192.0.2.3")).err(), Some(Full::Total));
        drop(a1);
        let _a3 = slots.take(ip("192.0.2.1")).unwrap();
        assert_eq!(slots.lock().open, 3);
        // Raised caps take effect at the next connection.
        live.replace(bounds(4, 3, &[]));
        let _a4 = slots.take(ip("192.0.2.1")).unwrap();
        assert_eq!(slots.take(ip("192.0.2.3")).err(), Some(Full::Total));

        // A trusted proxy is held to the total only.
        let slots = Arc::new(Slots::new(LiveBounds::new(bounds(3, 1, &["10.0.0.0/8"]))));
        let held: Vec<Slot> = (0..3)
            .map(|_| slots.take(ip("10.1.1.1")).unwrap())
            .collect();
        assert_eq!(slots.take(ip("10.1.1.1")).err(), Some(Full::Total));
        drop(held);
        assert_eq!(slots.lock().open, 0);
        assert!(slots.lock().per_ip.is_empty());
    }

    #[test]
    fn the_watchdog_deadline_follows_the_phase() {
        let b = bounds(1, 1, &[]);
        let start = Instant::now();
        let activity = Activity::new(start);
        assert_eq!(activity.deadline(&b), Some(start + b.header_read));
        activity.begin();
        assert_eq!(activity.deadline(&b), None);
        activity.end();
        let idle = activity.deadline(&b).unwrap();
        assert!(
            idle >= start + b.keepalive,
            "idle connections get the keep-alive timeout"
        );
        activity.read();
        let head = activity.deadline(&b).unwrap();
        assert!(
            head < idle,
            "the next request's headers get the header timeout"
        );
        // Reads while a request is answered (its body) change nothing.
        activity.begin();
        activity.read();
        assert_eq!(activity.deadline(&b), None);
    }

    #[test]
    fn zero_bounds_are_refused() {
        let mut http = HttpConfig::default();
        assert!(Bounds::new(&http, Vec::new()).is_ok());
        http.max_connections_per_ip = 0;
        assert!(Bounds::new(&http, Vec::new()).is_err());
    }
}
