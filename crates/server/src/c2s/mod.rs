//! Client-to-server connections: the transports (TCP with STARTTLS or direct TLS, and RFC 7395
//! WebSocket) only frame; one negotiation state machine and session loop serve both.

mod detached;
mod end;
mod held;
mod keepalive;
mod live;
mod rate;
mod resumption;
pub mod sasl;
pub mod session;
#[cfg(test)]
mod session_tests;
mod sm;
mod state;
pub mod tcp;
pub mod websocket;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use minidom::Element;
use switchboard_xmpp::framing::{FramingError, Limits, StreamEvent};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::jwt::{JwtKeys, JwtVerifier, KeyError, Verified};
use crate::auth::registrations::RegistrationThrottle;
use crate::auth::throttle::{AuthSurface, AuthThrottle};
use crate::config::{AuthConfig, Config};
use crate::ctx::Ctx;
use crate::metrics::Traffic;
use rate::RateConfig;
use resumption::Registry;
use state::Session;

/// Connections being refused at once (at the connection cap); beyond, an excess connection is
/// closed without a word.
const MAX_REFUSALS: usize = 64;
/// The stream error text of a connection refused at the cap.
const AT_CAPACITY: &str = "Too many connections, try again later";

/// Shared by every c2s connection.
pub struct C2sContext {
    /// The server's narrow context: sessions, accounts, delivery, the configuration in force.
    pub server: Ctx,
    /// Its certificate is swapped by a reload.
    pub tls: Arc<rustls::ServerConfig>,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    /// Sized by `limits.max_connections` at start.
    pub connections: Arc<Semaphore>,
    /// Connections being refused at the cap (each is told so, briefly).
    refusals: Arc<Semaphore>,
    /// Sessions that may be resumed, by id.
    resumption: Arc<Registry<Session>>,
    /// Seeds the SCRAM answers for unknown accounts.
    pub decoy_secret: Vec<u8>,
    /// Failed logins per client address, shared with the HTTP gate (kept across reloads).
    pub auth_throttle: Arc<AuthThrottle>,
    /// In-band registrations per client address (XEP-0077).
    pub registrations: RegistrationThrottle,
    /// The keys of `[auth.jwt]` in force.
    jwt: JwtKeys,
}

/// The c2s settings of the configuration in force. Read at each use (a stream's start, a
/// session's bind) so that a reload reaches new streams and sessions.
#[derive(Clone, Debug)]
pub struct Settings {
    pub limits: Limits,
    pub auth: AuthConfig,
    pub idle_timeout: Duration,
    pub negotiation_timeout: Duration,
    pub mailbox_size: usize,
    /// The per-stream inbound stanza limit.
    rate: RateConfig,
    /// The longest a stream-management session stays resumable after its link drops.
    resumption_timeout: Duration,
    /// Plaintext SASL on non-loopback TCP listeners (explicit opt-in).
    pub tcp_allow_plaintext: bool,
}

impl Settings {
    fn of(config: &Config) -> Settings {
        Settings {
            limits: Limits {
                max_stanza_bytes: config.limits.max_stanza_bytes,
                max_depth: config.limits.max_depth,
            },
            auth: config.auth.clone(),
            idle_timeout: Duration::from_secs(config.limits.idle_timeout_secs),
            negotiation_timeout: Duration::from_secs(config.limits.negotiation_timeout_secs),
            mailbox_size: config.limits.mailbox_size,
            rate: RateConfig {
                per_second: config.limits.c2s_rate_per_second,
                burst: config.limits.c2s_rate_burst,
            },
            resumption_timeout: Duration::from_secs(config.c2s.resumption_timeout_secs),
            tcp_allow_plaintext: config.c2s.allow_plaintext,
        }
    }
}

impl C2sContext {
    pub fn new(
        config: &Config,
        server: Ctx,
        tls: Arc<rustls::ServerConfig>,
        decoy_secret: Vec<u8>,
        auth_throttle: Arc<AuthThrottle>,
        shutdown: CancellationToken,
        tasks: TaskTracker,
    ) -> C2sContext {
        C2sContext {
            server,
            tls,
            auth_throttle,
            shutdown,
            tasks,
            connections: Arc::new(Semaphore::new(config.limits.max_connections)),
            refusals: Arc::new(Semaphore::new(MAX_REFUSALS)),
            resumption: Arc::default(),
            decoy_secret,
            registrations: RegistrationThrottle::new(config.auth.max_tracked_addresses),
            jwt: JwtKeys::default(),
        }
    }

    /// The JWT verifier of the configuration in force; `None` while JWT logins are off.
    pub fn jwt(&self) -> Result<Option<Arc<JwtVerifier>>, KeyError> {
        let config = self.server.config();
        self.jwt.verifier(&config.auth.jwt, self.server.domain())
    }

    /// The settings in force now.
    pub fn settings(&self) -> Settings {
        Settings::of(&self.server.config())
    }
}

/// How a transport is protected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Security {
    /// TLS; with TLS 1.3 the RFC 9266 `tls-exporter` channel binding is known.
    Tls { channel_binding: Option<Vec<u8>> },
    /// No TLS. `sasl_allowed` holds on loopback or where the operator opted in.
    Plain { sasl_allowed: bool },
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(transparent)]
    Framing(#[from] FramingError),
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
}

/// One c2s transport. Implementations frame; all XMPP logic is in [`session`].
/// `next_event` must be cancel-safe: the session loop races it against its mailbox.
pub trait Transport: Send {
    /// Where a login on this transport is counted and logged.
    const AUTH_SURFACE: AuthSurface;

    fn next_event(
        &mut self,
    ) -> impl Future<Output = Result<Option<StreamEvent>, TransportError>> + Send;
    /// Answers the client's stream header (RFC 6120 `<stream:stream>` or RFC 7395 `<open/>`);
    /// `to` echoes the client's `from` (RFC 6120 §4.7.2).
    fn send_header(
        &mut self,
        from: &str,
        id: &str,
        to: Option<&str>,
    ) -> impl Future<Output = io::Result<()>> + Send;
    fn send(&mut self, el: &Element) -> impl Future<Output = io::Result<()>> + Send;
    /// Sends the optional stream error, the stream close, and shuts the connection.
    fn close(&mut self, error: Option<Element>) -> impl Future<Output = ()> + Send;
    /// A stream restart (after TLS or SASL): a fresh parser.
    fn restart(&mut self);
    fn security(&self) -> Security;
    fn can_starttls(&self) -> bool;
    /// Performs the TLS handshake after `<proceed/>` was sent.
    fn starttls(&mut self) -> impl Future<Output = io::Result<()>> + Send;
    /// Frees idle buffers between elements.
    fn release_idle(&mut self);
    /// When bytes last arrived from the client (whitespace keepalives included).
    fn last_read(&self) -> Instant;
    /// The connection's transport and the bytes it moved so far; it counts as open while the
    /// transport lives.
    fn traffic(&self) -> &Traffic;
    /// The account a transport established before the stream began (the WebSocket upgrade's
    /// login cookie): what SASL EXTERNAL logs in as.
    fn preauthenticated(&self) -> Option<&Verified> {
        None
    }
}

pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}
