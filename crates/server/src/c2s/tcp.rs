//! RFC 6120 over TCP: the STARTTLS listener, the optional direct-TLS listener, and the
//! transport that frames a byte stream into stream events.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use minidom::Element;
use std::pin::Pin;
use std::task::Poll;
use switchboard_xmpp::framing::{StreamEvent, StreamParser};
use switchboard_xmpp::stanza::{self, StreamCondition};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::Instrument;

use super::{AT_CAPACITY, C2sContext, Security, Transport, TransportError, is_loopback, session};
use crate::auth::throttle::AuthSurface;
use crate::ids::random_id;
use crate::metrics::{self, Traffic};
use crate::throttle::{self, AcceptBackoff, ReportEvery};

const READ_CHUNK: usize = 4096;
/// How long a connection refused at the cap may take to receive its stream error.
const REFUSAL_TIME: Duration = Duration::from_secs(2);
/// Connections refused at the cap, summarised.
static REFUSED: ReportEvery = ReportEvery::new(Duration::from_secs(10));

/// The byte streams a c2s connection runs on: a TCP socket in production, an in-memory
/// duplex in tests.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for S {}

enum Conn<S> {
    Plain(S),
    Tls(Box<TlsStream<S>>),
    /// Only while the TLS handshake owns the socket, or after it failed.
    Gone,
}

pub struct TcpTransport<S = TcpStream> {
    conn: Conn<S>,
    parser: StreamParser,
    ctx_limits: switchboard_xmpp::framing::Limits,
    buf: Vec<u8>,
    /// Stanzas are serialised here and written from here; released while idle, as `buf`.
    out: Vec<u8>,
    tls: TlsAcceptor,
    channel_binding: Option<Vec<u8>>,
    plaintext_sasl: bool,
    last_read: Instant,
    traffic: Traffic,
}

impl<S: Io> TcpTransport<S> {
    /// A connection that starts without TLS (STARTTLS may follow). `sasl_allowed` says whether
    /// authentication may happen without TLS (loopback, or the operator opted in).
    pub fn plain(stream: S, ctx: &C2sContext, sasl_allowed: bool) -> TcpTransport<S> {
        TcpTransport::new(Conn::Plain(stream), ctx, sasl_allowed)
    }

    fn new(conn: Conn<S>, ctx: &C2sContext, peer_local: bool) -> TcpTransport<S> {
        let kind = match conn {
            Conn::Tls(_) => metrics::Transport::Tls,
            Conn::Plain(_) | Conn::Gone => metrics::Transport::Tcp,
        };
        TcpTransport {
            traffic: ctx.server.metrics().c2s_connection(kind),
            conn,
            parser: StreamParser::new(ctx.settings().limits),
            ctx_limits: ctx.settings().limits,
            buf: Vec::new(),
            out: Vec::new(),
            tls: TlsAcceptor::from(ctx.tls.clone()),
            channel_binding: None,
            plaintext_sasl: peer_local || ctx.settings().tcp_allow_plaintext,
            last_read: Instant::now(),
        }
    }

    async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.traffic.sent(data.len());
        match &mut self.conn {
            Conn::Plain(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Conn::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Conn::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Reads what has arrived. An idle connection (its buffer released) gets a buffer only
    /// for as long as a read is attempted, and gives it back when nothing was there: a socket
    /// read that would block keeps no reference to it, so thousands of idle sessions hold none.
    async fn read_chunk(&mut self) -> io::Result<usize> {
        let idle = self.buf.is_empty();
        let (conn, buf) = (&mut self.conn, &mut self.buf);
        std::future::poll_fn(|cx| {
            if buf.len() < READ_CHUNK {
                buf.resize(READ_CHUNK, 0);
            }
            let mut read = ReadBuf::new(buf);
            let polled = match conn {
                Conn::Plain(s) => Pin::new(s).poll_read(cx, &mut read),
                Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, &mut read),
                Conn::Gone => Poll::Ready(Ok(())),
            };
            match polled {
                Poll::Ready(result) => Poll::Ready(result.map(|()| read.filled().len())),
                Poll::Pending => {
                    if idle {
                        *buf = Vec::new();
                    }
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl<S: Io> Transport for TcpTransport<S> {
    const AUTH_SURFACE: AuthSurface = AuthSurface::C2s;

    async fn next_event(&mut self) -> Result<Option<StreamEvent>, TransportError> {
        loop {
            if let Some(event) = self.parser.next_event() {
                return Ok(Some(event));
            }
            let n = self.read_chunk().await?;
            if n == 0 {
                return Ok(None);
            }
            self.traffic.received(n);
            self.last_read = Instant::now();
            self.parser.feed(&self.buf[..n])?;
        }
    }

    async fn send_header(&mut self, from: &str, id: &str, to: Option<&str>) -> io::Result<()> {
        self.write(stanza::stream_open(from, id, to).as_bytes())
            .await
    }

    async fn send(&mut self, el: &Element) -> io::Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        stanza::write_xml(el, &mut out);
        let written = self.write(&out).await;
        self.out = out;
        written
    }

    async fn close(&mut self, error: Option<Element>) {
        let mut out = String::new();
        if let Some(error) = error {
            out.push_str(&stanza::to_xml(&error));
        }
        out.push_str(stanza::STREAM_CLOSE);
        let _ = self.write(out.as_bytes()).await;
        match &mut self.conn {
            Conn::Plain(s) => {
                let _ = s.shutdown().await;
            }
            Conn::Tls(s) => {
                let _ = s.shutdown().await;
            }
            Conn::Gone => {}
        }
        self.conn = Conn::Gone;
    }

    fn restart(&mut self) {
        self.parser = StreamParser::new(self.ctx_limits);
    }

    fn security(&self) -> Security {
        match self.conn {
            Conn::Tls(_) => Security::Tls {
                channel_binding: self.channel_binding.clone(),
            },
            _ => Security::Plain {
                sasl_allowed: self.plaintext_sasl,
            },
        }
    }

    fn can_starttls(&self) -> bool {
        matches!(self.conn, Conn::Plain(_))
    }

    async fn starttls(&mut self) -> io::Result<()> {
        let Conn::Plain(tcp) = std::mem::replace(&mut self.conn, Conn::Gone) else {
            return Err(io::Error::other("TLS is already active"));
        };
        let tls = self.tls.accept(tcp).await?;
        self.channel_binding = crate::tls::channel_binding(tls.get_ref().1);
        self.conn = Conn::Tls(Box::new(tls));
        Ok(())
    }

    fn release_idle(&mut self) {
        self.out = Vec::new();
        if !self.parser.is_mid_element() {
            self.buf = Vec::new();
            self.parser.release_temporaries();
        }
    }

    fn last_read(&self) -> Instant {
        self.last_read
    }

    fn traffic(&self) -> &Traffic {
        &self.traffic
    }
}

/// Accepts STARTTLS connections (`direct_tls == false`) or direct-TLS ones until shutdown.
/// Accept errors (out of file descriptors) pause the loop; a connection over
/// `limits.max_connections` is told so with a `policy-violation` stream error.
pub async fn serve(listener: TcpListener, ctx: Arc<C2sContext>, direct_tls: bool) {
    let mut backoff = AcceptBackoff::default();
    loop {
        let Some((socket, peer)) =
            throttle::accept(&listener, &mut backoff, &ctx.shutdown, "c2s listener").await
        else {
            return;
        };
        let _ = socket.set_nodelay(true);
        let Ok(permit) = ctx.connections.clone().try_acquire_owned() else {
            let kind = if direct_tls {
                metrics::Transport::Tls
            } else {
                metrics::Transport::Tcp
            };
            ctx.server.metrics().c2s_refused(kind);
            if let Some(refused) = REFUSED.note(Instant::now()) {
                tracing::warn!(%peer, refused, "c2s connections refused: limits.max_connections reached");
            }
            if let Ok(slot) = ctx.refusals.clone().try_acquire_owned() {
                let tls = direct_tls.then(|| TlsAcceptor::from(ctx.tls.clone()));
                let domain = ctx.server.domain().to_owned();
                ctx.tasks.spawn(async move {
                    let _ = tokio::time::timeout(REFUSAL_TIME, refuse(socket, tls, &domain)).await;
                    drop(slot);
                });
            }
            continue;
        };
        let local = listener
            .local_addr()
            .map(|a| is_loopback(&a))
            .unwrap_or(false);
        let span = tracing::info_span!("c2s", %peer, direct_tls);
        let conn_ctx = ctx.clone();
        ctx.tasks.spawn(
            async move {
                let _permit = permit;
                handle(socket, peer, conn_ctx, direct_tls, local).await;
            }
            .instrument(span),
        );
    }
}

async fn handle(
    socket: TcpStream,
    peer: SocketAddr,
    ctx: Arc<C2sContext>,
    direct_tls: bool,
    local: bool,
) {
    let transport = if direct_tls {
        let acceptor = TlsAcceptor::from(ctx.tls.clone());
        match tokio::time::timeout(ctx.settings().negotiation_timeout, acceptor.accept(socket))
            .await
        {
            Ok(Ok(tls)) => {
                let channel_binding = crate::tls::channel_binding(tls.get_ref().1);
                let mut t = TcpTransport::new(Conn::Tls(Box::new(tls)), &ctx, local);
                t.channel_binding = channel_binding;
                t
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!("TLS handshake timed out");
                return;
            }
        }
    } else {
        TcpTransport::plain(socket, &ctx, local)
    };
    session::run(transport, ctx, peer).await;
}

/// Tells a connection over the cap why it is closed: our stream header, a `policy-violation`
/// stream error and the close (RFC 6120 §4.9.1.2), over TLS first on a direct-TLS listener.
async fn refuse(socket: TcpStream, tls: Option<TlsAcceptor>, domain: &str) -> io::Result<()> {
    match tls {
        Some(acceptor) => refuse_on(acceptor.accept(socket).await?, domain).await,
        None => refuse_on(socket, domain).await,
    }
}

async fn refuse_on<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, domain: &str) -> io::Result<()> {
    let mut out = stanza::stream_open(domain, &random_id(), None);
    let error = stanza::stream_error(StreamCondition::PolicyViolation, Some(AT_CAPACITY));
    out.push_str(&stanza::to_xml(&error));
    out.push_str(stanza::STREAM_CLOSE);
    s.write_all(out.as_bytes()).await?;
    s.shutdown().await?;
    // Reading what the client still sends until it closes: closing a socket with unread data
    // resets the connection, which can destroy the error before the client reads it.
    let mut sink = [0u8; 1024];
    while s.read(&mut sink).await? > 0 {}
    Ok(())
}
