//! The c2s negotiation state machine (stream header → STARTTLS → SASL → bind) and the session
//! loop of a bound resource, written once over the [`Transport`] trait for TCP and WebSocket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jid::FullJid;
use minidom::Element;
use switchboard_xmpp::framing::{StreamEvent, StreamHeader};
use switchboard_xmpp::negotiation::{self, BindRequest, StreamFeatures};
use switchboard_xmpp::ns;
use switchboard_xmpp::sasl::{ClientNonza, SaslCondition};
use switchboard_xmpp::sender::{FromError, Principal};
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StanzaKind, StreamCondition};
use tokio::sync::mpsc;
use xmpp_parsers::starttls::StartTls;

use super::end::End;
use super::{C2sContext, Security, Transport, sasl};
use crate::ids::random_id;
use crate::routed::{Origin, Refused, Routed};
use crate::services::offline::Backlog;
use crate::sessions::{Registration, SessionMsg};

/// Where negotiation stands. Each variant is waiting for a new stream header.
enum Stage {
    /// Before authentication; TLS may or may not be active.
    Unauthenticated {
        failures: u32,
    },
    Authenticated {
        user: String,
    },
}

/// A resource bound to a stream, ready for stanzas.
struct Bound {
    user: String,
    jid: FullJid,
    principal: Principal,
    registration: Registration,
    /// Sent available presence (and not unavailable since).
    available: bool,
    /// Available with a non-negative priority: messages to the bare JID come here, so the
    /// stored ones are due when it becomes so (XEP-0160).
    reachable: bool,
}

/// Runs one c2s stream from its first byte to its close.
pub async fn run<T: Transport>(mut t: T, ctx: Arc<C2sContext>, peer: SocketAddr) {
    let mut header_sent = false;
    let negotiated = tokio::select! {
        result = tokio::time::timeout(ctx.negotiation_timeout, negotiate(&mut t, &ctx, &mut header_sent)) => {
            result.unwrap_or_else(|_| Err(End::error(StreamCondition::ConnectionTimeout, "Negotiation took too long")))
        }
        _ = ctx.shutdown.cancelled() => Err(End::Error(StreamCondition::SystemShutdown, None)),
    };
    match negotiated {
        Ok((mut bound, rx)) => {
            tracing::info!(jid = %bound.jid, %peer, "session bound");
            let end = established(&mut t, &ctx, &mut bound, rx).await;
            went_offline(&ctx, &bound).await;
            tracing::info!(jid = %bound.jid, ?end, "session closed");
            finish(&mut t, &ctx, end, true).await;
        }
        Err(end) => {
            tracing::debug!(?end, "stream ended during negotiation");
            finish(&mut t, &ctx, end, header_sent).await;
        }
    }
}

async fn finish<T: Transport>(t: &mut T, ctx: &C2sContext, end: End, header_sent: bool) {
    let error = match end {
        End::Gone => return,
        End::PeerClosed => None,
        End::Error(condition, text) => Some(stanza::stream_error(condition, text.as_deref())),
    };
    if !header_sent {
        // RFC 6120 §4.9.1.2: a stream error needs our stream header first.
        let _ = t.send_header(ctx.server.domain(), &random_id(), None).await;
    }
    t.close(error).await;
}

async fn next_element<T: Transport>(t: &mut T) -> Result<Element, End> {
    match t.next_event().await? {
        Some(StreamEvent::Element(el)) => Ok(el),
        Some(StreamEvent::Close) => Err(End::PeerClosed),
        Some(StreamEvent::Open(_)) => Err(End::error(
            StreamCondition::BadFormat,
            "Unexpected stream header",
        )),
        None => Err(End::Gone),
    }
}

/// Reads the client's stream header and answers it (RFC 6120 §4.7).
async fn open_stream<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    header_sent: &mut bool,
) -> Result<(), End> {
    let header = match t.next_event().await? {
        Some(StreamEvent::Open(header)) => header,
        Some(_) => {
            return Err(End::error(
                StreamCondition::NotWellFormed,
                "Expected a stream header",
            ));
        }
        None => return Err(End::Gone),
    };
    // Echo the initiator's `from` when it is a JID (RFC 6120 §4.7.2).
    let to = header
        .from
        .as_deref()
        .and_then(|f| jid::BareJid::new(f).ok())
        .map(|j| j.to_string());
    t.send_header(ctx.server.domain(), &random_id(), to.as_deref())
        .await?;
    *header_sent = true;
    check_header(&header, ctx.server.domain())
}

fn check_header(header: &StreamHeader, domain: &str) -> Result<(), End> {
    if header.default_ns.as_deref() != Some(ns::CLIENT) {
        return Err(End::error(
            StreamCondition::InvalidNamespace,
            "Expected jabber:client",
        ));
    }
    let major = header
        .version
        .as_deref()
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    if major != Some(1) {
        return Err(End::error(
            StreamCondition::UnsupportedVersion,
            "XMPP 1.0 is required",
        ));
    }
    match header.to.as_deref() {
        Some(to) if to.eq_ignore_ascii_case(domain) => Ok(()),
        Some(_) => Err(End::Error(StreamCondition::HostUnknown, None)),
        None => Err(End::error(
            StreamCondition::HostUnknown,
            "The stream header needs 'to'",
        )),
    }
}

async fn negotiate<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    header_sent: &mut bool,
) -> Result<(Bound, mpsc::Receiver<SessionMsg>), End> {
    let mut stage = Stage::Unauthenticated { failures: 0 };
    loop {
        open_stream(t, ctx, header_sent).await?;
        stage = match stage {
            Stage::Unauthenticated { failures } => {
                secure_and_authenticate(t, ctx, failures).await?
            }
            Stage::Authenticated { user } => return bind(t, ctx, user).await,
        };
    }
}

/// Offers STARTTLS and/or SASL and runs them until a stream restart is due.
async fn secure_and_authenticate<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    mut failures: u32,
) -> Result<Stage, End> {
    let security = t.security();
    let tls_required = matches!(
        security,
        Security::Plain {
            sasl_allowed: false
        }
    );
    let offered = if tls_required {
        Vec::new()
    } else {
        sasl::offered(&security)
    };
    let features = StreamFeatures {
        starttls: t.can_starttls().then_some(StartTls {
            required: tls_required,
        }),
        mechanisms: offered.clone(),
        ..StreamFeatures::default()
    };
    t.send(&features.into()).await?;
    loop {
        let el = next_element(t).await?;
        if negotiation::is_starttls_request(&el) {
            if !t.can_starttls() {
                t.send(&negotiation::starttls_failure()).await?;
                return Err(End::Gone);
            }
            t.send(&negotiation::starttls_proceed()).await?;
            t.starttls().await?;
            t.restart();
            return Ok(Stage::Unauthenticated { failures });
        }
        let auth = match ClientNonza::parse(&el) {
            Some(Ok(ClientNonza::Auth {
                mechanism,
                initial_response,
            })) => Ok((mechanism, initial_response)),
            Some(Err(e)) => Err(e.condition()),
            Some(Ok(_)) | None => {
                return Err(End::error(
                    StreamCondition::NotAuthorized,
                    "Authenticate first",
                ));
            }
        };
        if tls_required {
            t.send(&switchboard_xmpp::sasl::failure(
                SaslCondition::EncryptionRequired,
            ))
            .await?;
            continue;
        }
        let outcome = match auth {
            Ok((mechanism, initial_response)) => {
                sasl::authenticate(t, ctx, mechanism, initial_response, &offered).await?
            }
            Err(condition) => Err(condition),
        };
        match outcome {
            Ok((user, additional)) => {
                t.send(&switchboard_xmpp::sasl::success(additional)).await?;
                t.restart();
                return Ok(Stage::Authenticated { user });
            }
            Err(condition) => {
                failures += 1;
                // Growing delay before each failure answer slows password guessing down.
                let delay = ctx
                    .auth
                    .failure_delay_ms
                    .saturating_mul(u64::from(failures));
                tokio::time::sleep(Duration::from_millis(delay)).await;
                t.send(&switchboard_xmpp::sasl::failure(condition)).await?;
                if failures >= ctx.auth.max_attempts {
                    return Err(End::error(
                        StreamCondition::PolicyViolation,
                        "Too many failed authentication attempts",
                    ));
                }
            }
        }
    }
}

/// Resource binding (RFC 6120 §7), answering the legacy session request on the way.
async fn bind<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    user: String,
) -> Result<(Bound, mpsc::Receiver<SessionMsg>), End> {
    let features = StreamFeatures {
        bind: true,
        legacy_session: true,
        roster_versioning: true,
        ..StreamFeatures::default()
    };
    t.send(&features.into()).await?;
    loop {
        let iq = next_element(t).await?;
        let Some(request) = BindRequest::parse(&iq) else {
            return Err(End::error(
                StreamCondition::NotAuthorized,
                "Bind a resource first",
            ));
        };
        let resource = match request {
            BindRequest::Resource(resource) => resource.to_string(),
            BindRequest::ServerGenerated => random_id(),
            BindRequest::InvalidResource => {
                let reply = stanza::error_reply(
                    &iq,
                    ErrorType::Modify,
                    DefinedCondition::BadRequest,
                    Some("Invalid resource"),
                );
                if let Some(reply) = reply {
                    t.send(&reply).await?;
                }
                continue;
            }
        };
        let jid = FullJid::new(&format!("{user}@{}/{resource}", ctx.server.domain()))
            .map_err(|_| End::Error(StreamCondition::InternalServerError, None))?;
        let (tx, rx) = mpsc::channel(ctx.mailbox_size);
        let registration = Registration::bind(ctx.server.sessions().clone(), &user, &resource, tx);
        t.send(&negotiation::bind_result(&iq, jid.clone())).await?;
        return Ok((
            Bound {
                user,
                principal: Principal::Resource(jid.clone()),
                jid,
                registration,
                available: false,
                reachable: false,
            },
            rx,
        ));
    }
}

/// The bound session: stanzas from the client go to the router, the mailbox goes to the client.
async fn established<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    bound: &mut Bound,
    mut rx: mpsc::Receiver<SessionMsg>,
) -> End {
    loop {
        let step = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => Err(End::Error(StreamCondition::SystemShutdown, None)),
            msg = rx.recv() => match msg {
                Some(msg) => write(t, msg).await,
                None => Err(End::Error(StreamCondition::InternalServerError, None)),
            },
            event = tokio::time::timeout(ctx.idle_timeout, next_element(t)) => match event {
                Ok(Ok(el)) => from_client(t, ctx, bound, &mut rx, el).await,
                Ok(Err(end)) => Err(end),
                Err(_) => Err(End::error(StreamCondition::ConnectionTimeout, "Idle too long")),
            },
        };
        if let Err(end) = step {
            return end;
        }
        if rx.is_empty() {
            t.release_idle();
        }
    }
}

/// Writes one mailbox message to the client.
async fn write<T: Transport>(t: &mut T, msg: SessionMsg) -> Result<(), End> {
    match msg {
        SessionMsg::Stanza(el) => t.send(&el).await.map_err(End::from),
        SessionMsg::Kick(condition, text) => Err(End::error(condition, text)),
    }
}

/// One element from the bound client: its sender is stamped by the one `from` rule
/// (RFC 6120 §8.1.2.1), then it is routed; the legacy session request is answered here.
async fn from_client<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    bound: &mut Bound,
    rx: &mut mpsc::Receiver<SessionMsg>,
    el: Element,
) -> Result<(), End> {
    let origin = Origin::Session(bound.registration.id());
    let stanza = match Routed::accept(&bound.principal, el, origin) {
        Ok(stanza) => stanza,
        Err(Refused::NotAStanza(_)) => {
            return Err(End::error(
                StreamCondition::UnsupportedStanzaType,
                "Only message, presence and iq are accepted",
            ));
        }
        Err(Refused::From(FromError::Malformed | FromError::Spoofed)) => {
            return Err(End::Error(StreamCondition::InvalidFrom, None));
        }
        Err(Refused::To(el)) => {
            let reply =
                stanza::error_reply(&el, ErrorType::Modify, DefinedCondition::JidMalformed, None);
            if let Some(reply) = reply {
                t.send(&reply).await?;
            }
            return Ok(());
        }
    };
    if stanza.to.is_none()
        && stanza.kind == StanzaKind::Iq
        && negotiation::is_session_request(&stanza.el)
    {
        t.send(&stanza::iq_result(&stanza.el, None)).await?;
        return Ok(());
    }
    let own_presence = stanza.to.is_none() && stanza.kind == StanzaKind::Presence;
    let mut became_reachable = false;
    if own_presence {
        let priority = stanza
            .el
            .get_child("priority", ns::CLIENT)
            .and_then(|p| p.text().trim().parse::<i8>().ok())
            .unwrap_or(0);
        match stanza.type_() {
            "" => {
                became_reachable = priority >= 0 && !bound.reachable;
                bound.available = true;
                bound.reachable = priority >= 0;
            }
            "unavailable" => {
                bound.available = false;
                bound.reachable = false;
            }
            _ => {}
        }
    }
    ctx.server.deliver(stanza).await;
    if became_reachable {
        // What the presence broadcast put in the mailbox (its own presence, its siblings')
        // goes out before the stored messages.
        while let Ok(msg) = rx.try_recv() {
            write(t, msg).await?;
        }
        deliver_offline(t, ctx, &bound.user).await?;
    }
    Ok(())
}

/// Writes the account's stored messages to the client in batches, each deleted only once
/// written: a crash in between delivers twice rather than never. Only one session at a time
/// gets them (another one becoming available at once gets none).
async fn deliver_offline<T: Transport>(t: &mut T, ctx: &C2sContext, user: &str) -> Result<(), End> {
    let Some(mut backlog) = Backlog::claim(&ctx.server, user).await else {
        return Ok(());
    };
    let written = write_backlog(t, &mut backlog).await;
    backlog.release().await;
    written
}

async fn write_backlog<T: Transport>(t: &mut T, backlog: &mut Backlog) -> Result<(), End> {
    loop {
        let batch = match backlog.next().await {
            Ok(batch) if batch.is_empty() => return Ok(()),
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(error = %e, "cannot read offline messages");
                return Ok(());
            }
        };
        let mut written = Vec::with_capacity(batch.len());
        for (id, message) in batch {
            t.send(&message).await?;
            written.push(id);
        }
        backlog.delivered(&written).await;
    }
}

/// Tells the account's other resources, its subscribers and the entities of its directed
/// presence that this one left, if it was available or sent directed presence.
async fn went_offline(ctx: &C2sContext, bound: &Bound) {
    let id = bound.registration.id();
    let directed = ctx
        .server
        .sessions()
        .resources(&bound.user)
        .into_iter()
        .any(|e| e.id == id && !e.directed.is_empty());
    if !bound.available && !directed {
        return;
    }
    let mut presence = Element::bare("presence", ns::CLIENT);
    stanza::set_attr(&mut presence, "type", "unavailable");
    if let Ok(stanza) = Routed::accept(&bound.principal, presence, Origin::Session(id)) {
        ctx.server.deliver(stanza).await;
    }
}
