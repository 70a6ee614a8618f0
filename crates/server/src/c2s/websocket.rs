//! RFC 7395 XMPP over WebSocket at `/xmpp-websocket`: subprotocol `xmpp`, one element per text
//! message, `<open/>`/`<close/>` framing mapped onto the same stream events as TCP; a login
//! cookie (a JWT) checked with the `Origin` before switching protocols makes it pre-authenticated.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

use minidom::Element;
use switchboard_xmpp::framing::{StreamEvent, StreamHeader, StreamParser};
use switchboard_xmpp::stanza::StreamCondition;
use switchboard_xmpp::{ns, stanza};
use tokio::time::Instant;
use tracing::Instrument;

use super::{AT_CAPACITY, C2sContext, Security, Transport, TransportError, session};
use crate::auth::jwt::{LoginError, Verified, login_cookie, origin_allowed};
use crate::auth::throttle::AuthSurface;
use crate::ids::random_id;
use crate::metrics::{self, Traffic};
use crate::throttle::ReportEvery;

/// How long a connection refused at the cap may take to receive its stream error.
const REFUSAL_TIME: Duration = Duration::from_secs(2);
/// Bytes read from the socket at a time.
const WS_READ_CHUNK: usize = 2048;
/// WebSocket streams refused at the cap, summarised.
static REFUSED: ReportEvery = ReportEvery::new(Duration::from_secs(10));

pub struct WsTransport {
    socket: WebSocket,
    parser: StreamParser,
    limits: switchboard_xmpp::framing::Limits,
    closed: bool,
    last_read: Instant,
    traffic: Traffic,
    /// The account of the login cookie checked at the upgrade.
    preauthenticated: Option<Verified>,
}

impl WsTransport {
    fn new(socket: WebSocket, ctx: &C2sContext, preauthenticated: Option<Verified>) -> WsTransport {
        WsTransport {
            preauthenticated,
            socket,
            parser: StreamParser::new_fragments(ctx.settings().limits),
            limits: ctx.settings().limits,
            closed: false,
            last_read: Instant::now(),
            traffic: ctx
                .server
                .metrics()
                .c2s_connection(metrics::Transport::WebSocket),
        }
    }

    fn header_of(open: &Element) -> StreamHeader {
        StreamHeader {
            to: open.attr("to").map(str::to_owned),
            from: open.attr("from").map(str::to_owned),
            version: open.attr("version").map(str::to_owned),
            lang: open.attr_ns(ns::XML, "lang").map(str::to_owned),
            // RFC 7395 stanzas carry jabber:client; the framing namespace is on <open/> itself.
            default_ns: Some(ns::CLIENT.to_owned()),
        }
    }
}

impl Transport for WsTransport {
    const AUTH_SURFACE: AuthSurface = AuthSurface::WebSocket;

    async fn next_event(&mut self) -> Result<Option<StreamEvent>, TransportError> {
        loop {
            let Some(message) = self.socket.recv().await else {
                return Ok(None);
            };
            let message = message.map_err(io::Error::other)?;
            // Every frame is a sign of life, WebSocket pings included.
            self.last_read = Instant::now();
            let text = match message {
                Message::Text(text) => {
                    self.traffic.received(text.len());
                    text
                }
                Message::Binary(_) => {
                    return Err(TransportError::Protocol(
                        "binary WebSocket messages are not XMPP",
                    ));
                }
                Message::Close(_) => return Ok(None),
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            let el = self.parser.feed_message(text.as_bytes())?;
            let event = if el.is("open", ns::FRAMING) {
                StreamEvent::Open(Self::header_of(&el))
            } else if el.is("close", ns::FRAMING) {
                StreamEvent::Close
            } else {
                StreamEvent::Element(el)
            };
            return Ok(Some(event));
        }
    }

    async fn send_header(&mut self, from: &str, id: &str, to: Option<&str>) -> io::Result<()> {
        self.send(&stanza::ws_open(from, id, to)).await
    }

    async fn send(&mut self, el: &Element) -> io::Result<()> {
        let xml = stanza::to_xml(el);
        self.traffic.sent(xml.len());
        self.socket
            .send(Message::Text(xml.into()))
            .await
            .map_err(io::Error::other)
    }

    async fn close(&mut self, error: Option<Element>) {
        if self.closed {
            return;
        }
        self.closed = true;
        if let Some(error) = error {
            let _ = self.send(&error).await;
        }
        let _ = self.send(&stanza::ws_close()).await;
        let _ = self.socket.send(Message::Close(None)).await;
    }

    fn restart(&mut self) {
        self.parser = StreamParser::new_fragments(self.limits);
    }

    fn security(&self) -> Security {
        // The HTTP listener only runs without TLS on loopback or behind an operator's
        // TLS-terminating proxy (http.allow_plaintext), see server startup.
        Security::Plain { sasl_allowed: true }
    }

    fn can_starttls(&self) -> bool {
        false
    }

    async fn starttls(&mut self) -> io::Result<()> {
        Err(io::Error::other("STARTTLS is not available over WebSocket"))
    }

    fn release_idle(&mut self) {
        if !self.parser.is_mid_element() {
            self.parser.release_temporaries();
        }
    }

    fn last_read(&self) -> Instant {
        self.last_read
    }

    fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    fn preauthenticated(&self) -> Option<&Verified> {
        self.preauthenticated.as_ref()
    }
}

/// A refused upgrade: the status and a JSON reason, before switching protocols.
fn refusal(status: StatusCode, reason: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": reason, "message": message });
    (status, Json(body)).into_response()
}

/// The cookie login of an upgrade: `Ok(None)` without a cookie (an ordinary stream), the
/// account when the cookie verifies, else the response that refuses the upgrade. A refused
/// cookie counts as a failed login of the client's address, as a wrong password does.
async fn cookie_login(
    ctx: &C2sContext,
    client: SocketAddr,
    headers: &HeaderMap,
) -> Result<Option<Verified>, Response> {
    let settings = ctx.settings();
    let jwt = &settings.auth.jwt;
    let Some(token) = jwt
        .enabled()
        .then(|| login_cookie(headers, &jwt.cookie_name))
        .flatten()
    else {
        return Ok(None);
    };
    if !origin_allowed(headers, &ctx.server.config().http.websocket_origins) {
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "a login cookie is accepted only from the origins in http.websocket_origins",
        ));
    }
    let verifier = match ctx.jwt() {
        Ok(Some(verifier)) => verifier,
        Ok(None) => return Ok(None),
        Err(e) => {
            tracing::error!(error = %e, "auth.jwt keys cannot be used");
            return Err(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "the server cannot check login tokens now",
            ));
        }
    };
    let Ok(attempt) = ctx.auth_throttle.begin(client.ip(), AuthSurface::WebSocket) else {
        return Err(refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_failed_logins",
            "too many failed logins from this address; try again later",
        ));
    };
    match verifier.admit(ctx.server.accounts(), token).await {
        Ok(verified) => {
            attempt.succeeded();
            Ok(Some(verified))
        }
        Err(e @ (LoginError::Keys(_) | LoginError::Accounts(_))) => {
            tracing::error!(error = %e, "cannot complete a cookie login");
            Err(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "the server cannot check login tokens now",
            ))
        }
        Err(e) => {
            tracing::info!(reason = %e, "login cookie refused at the WebSocket upgrade");
            attempt.failed("a login cookie");
            Err(refusal(
                StatusCode::UNAUTHORIZED,
                e.reason(),
                &e.to_string(),
            ))
        }
    }
}

/// The `GET /xmpp-websocket` handler.
pub async fn upgrade(
    ctx: Arc<C2sContext>,
    peer: SocketAddr,
    headers: &HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let offers_xmpp = ws
        .requested_protocols()
        .any(|p| p.to_str().is_ok_and(|p| p.eq_ignore_ascii_case("xmpp")));
    if !offers_xmpp {
        return (
            StatusCode::BAD_REQUEST,
            "RFC 7395: request the 'xmpp' WebSocket subprotocol",
        )
            .into_response();
    }
    let preauthenticated = match cookie_login(&ctx, peer, headers).await {
        Ok(login) => login,
        Err(refused) => return refused,
    };
    let Ok(permit) = ctx.connections.clone().try_acquire_owned() else {
        ctx.server
            .metrics()
            .c2s_refused(metrics::Transport::WebSocket);
        if let Some(refused) = REFUSED.note(Instant::now()) {
            tracing::warn!(%peer, refused, "WebSocket streams refused: limits.max_connections reached");
        }
        let Ok(slot) = ctx.refusals.clone().try_acquire_owned() else {
            return (StatusCode::SERVICE_UNAVAILABLE, "connection limit reached").into_response();
        };
        let domain = ctx.server.domain().to_owned();
        return ws.protocols(["xmpp"]).on_upgrade(move |socket| async move {
            let _ = tokio::time::timeout(REFUSAL_TIME, refuse(socket, &domain)).await;
            drop(slot);
        });
    };
    // One element per message, so a message may be as large as a stanza (plus framing slack).
    let max = ctx.settings().limits.max_stanza_bytes + 1024;
    let tasks = ctx.tasks.clone();
    ws.protocols(["xmpp"])
        .max_message_size(max)
        .max_frame_size(max)
        // tungstenite's 128 KiB defaults per buffer would be most of an idle stream's memory:
        // reads come in small chunks (a larger message grows the buffer as it needs), and each
        // message is written at once, as the TCP transport does.
        .read_buffer_size(WS_READ_CHUNK)
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            let span = tracing::info_span!("c2s", %peer, transport = "websocket");
            let transport = WsTransport::new(socket, &ctx, preauthenticated);
            let fut = async move {
                let _permit = permit;
                session::run(transport, ctx, peer).await;
            };
            // Tracked so that shutdown waits for the stream to close cleanly.
            let handle = tasks.spawn(fut.instrument(span));
            async move {
                let _ = handle.await;
            }
        })
}

/// Tells a WebSocket stream over the cap why it is closed: `<open/>`, a `policy-violation`
/// stream error, `<close/>`, then the WebSocket close handshake.
async fn refuse(mut socket: WebSocket, domain: &str) {
    let error = stanza::stream_error(StreamCondition::PolicyViolation, Some(AT_CAPACITY));
    for el in [
        stanza::ws_open(domain, &random_id(), None),
        error,
        stanza::ws_close(),
    ] {
        let text = Message::Text(stanza::to_xml(&el).into());
        if socket.send(text).await.is_err() {
            return;
        }
    }
    if socket.send(Message::Close(None)).await.is_err() {
        return;
    }
    // The client's close frame completes the handshake.
    while let Some(Ok(message)) = socket.recv().await {
        if matches!(message, Message::Close(_)) {
            break;
        }
    }
}
