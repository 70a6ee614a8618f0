//! The c2s negotiation state machine (stream header → STARTTLS → SASL → bind or resume), written
//! once over the [`Transport`] trait for TCP and WebSocket; the bound session runs in `live`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jid::FullJid;
use switchboard_xmpp::csi::ClientState;
use switchboard_xmpp::framing::{StreamEvent, StreamHeader};
use switchboard_xmpp::negotiation::{self, BindRequest, StreamFeatures};
use switchboard_xmpp::ns;
use switchboard_xmpp::register;
use switchboard_xmpp::sasl::{ClientNonza, SaslCondition};
use switchboard_xmpp::sender::Principal;
use switchboard_xmpp::sm::{self as nonza, ClientSm};
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StreamCondition};
use tokio::sync::mpsc;
use xmpp_parsers::starttls::StartTls;

use super::detached;
use super::end::{End, next_element};
use super::live;
use super::state::{Bound, Session};
use super::{C2sContext, Security, Transport, sasl};
use crate::ids::random_id;
use crate::metrics::LoginSurface;
use crate::services;
use crate::sessions::Registration;

/// Where negotiation stands. Each variant is waiting for a new stream header.
enum Stage {
    /// Before authentication; TLS may or may not be active.
    Unauthenticated { failures: u32 },
    Authenticated {
        user: String,
        /// When the login token expires, for `auth.jwt.end_session_at_expiry`.
        expires: Option<SystemTime>,
    },
}

/// How negotiation ended well.
enum Negotiated {
    /// A resource was bound.
    Bound(Session),
    /// A session waiting for its client was resumed (XEP-0198).
    Resumed(Session),
}

/// Runs one c2s stream from its first byte to its close.
pub async fn run<T: Transport>(mut t: T, ctx: Arc<C2sContext>, peer: SocketAddr) {
    let transport = t.traffic().transport();
    let mut header_sent = false;
    // Boxed: a future is as large as its largest state, and negotiation's (SASL, bind) would
    // otherwise stay part of every idle bound session's task.
    let negotiation = Box::pin(negotiate(&mut t, &ctx, peer.ip(), &mut header_sent));
    let negotiated = tokio::select! {
        result = tokio::time::timeout(ctx.settings().negotiation_timeout, negotiation) => {
            result.unwrap_or_else(|_| Err(End::error(StreamCondition::ConnectionTimeout, "Negotiation took too long")))
        }
        _ = ctx.shutdown.cancelled() => Err(End::Error(StreamCondition::SystemShutdown, None)),
    };
    match negotiated {
        Ok(Negotiated::Bound(session)) => {
            tracing::info!(jid = %session.bound.jid, %peer, transport = transport.as_str(), "session bound");
            live::serve(t, &ctx, session, false).await;
        }
        Ok(Negotiated::Resumed(session)) => {
            tracing::info!(jid = %session.bound.jid, %peer, transport = transport.as_str(), "session resumed");
            live::serve(t, &ctx, session, true).await;
        }
        Err(end) => {
            tracing::debug!(?end, "stream ended during negotiation");
            finish(&mut t, &ctx, end, header_sent).await;
        }
    }
}

async fn finish<T: Transport>(t: &mut T, ctx: &C2sContext, end: End, header_sent: bool) {
    let Some(error) = end.farewell() else {
        return;
    };
    if !header_sent {
        // RFC 6120 §4.9.1.2: a stream error needs our stream header first.
        let _ = t.send_header(ctx.server.domain(), &random_id(), None).await;
    }
    t.close(error).await;
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
    client: IpAddr,
    header_sent: &mut bool,
) -> Result<Negotiated, End> {
    let mut stage = Stage::Unauthenticated { failures: 0 };
    loop {
        open_stream(t, ctx, header_sent).await?;
        stage = match stage {
            Stage::Unauthenticated { failures } => {
                secure_and_authenticate(t, ctx, client, failures).await?
            }
            Stage::Authenticated { user, expires } => return bind(t, ctx, user, expires).await,
        };
    }
}

/// Offers STARTTLS and/or SASL and runs them until a stream restart is due.
async fn secure_and_authenticate<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    client: IpAddr,
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
        sasl::offered(&security, t.preauthenticated().is_some(), ctx).await
    };
    // Registration sends a password: offered where SASL is.
    let registration = !tls_required && ctx.settings().auth.allow_registration;
    let features = StreamFeatures {
        starttls: t.can_starttls().then_some(StartTls {
            required: tls_required,
        }),
        mechanisms: offered.clone(),
        register: registration,
        ..StreamFeatures::default()
    };
    t.send(&features.into()).await?;
    loop {
        let el = next_element(t).await?;
        if register::is_register_iq(&el) {
            t.send(&register_before_login(ctx, client, &el, registration).await)
                .await?;
            continue;
        }
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
                let outcome =
                    sasl::authenticate(t, ctx, client, mechanism, initial_response, &offered)
                        .await?;
                ctx.server
                    .metrics()
                    .login(LoginSurface::C2s, mechanism.name(), outcome.is_ok());
                outcome
            }
            Err(condition) => Err(condition),
        };
        match outcome {
            Ok(login) => {
                t.send(&switchboard_xmpp::sasl::success(login.additional))
                    .await?;
                t.restart();
                return Ok(Stage::Authenticated {
                    user: login.user,
                    expires: login.expires,
                });
            }
            Err(condition) => {
                failures += 1;
                // Growing delay before each failure answer slows password guessing down.
                let delay = ctx
                    .settings()
                    .auth
                    .failure_delay_ms
                    .saturating_mul(u64::from(failures));
                tokio::time::sleep(Duration::from_millis(delay)).await;
                t.send(&switchboard_xmpp::sasl::failure(condition)).await?;
                if failures >= ctx.settings().auth.max_attempts {
                    return Err(End::error(
                        StreamCondition::PolicyViolation,
                        "Too many failed authentication attempts",
                    ));
                }
            }
        }
    }
}

/// The answer to an in-band registration iq before login (XEP-0077 §3.1): handled when
/// registration is offered, otherwise refused with `service-unavailable` (§3.1, "not allowed").
async fn register_before_login(
    ctx: &C2sContext,
    client: IpAddr,
    iq: &minidom::Element,
    offered: bool,
) -> minidom::Element {
    if offered {
        return services::register::before_login(&ctx.server, &ctx.registrations, client, iq).await;
    }
    stanza::error_reply(
        iq,
        ErrorType::Cancel,
        DefinedCondition::ServiceUnavailable,
        Some("In-band registration is not offered on this stream"),
    )
    .unwrap_or_else(|| stanza::iq_result(iq, None))
}

/// Resource binding (RFC 6120 §7), answering the legacy session request on the way, or the
/// resumption of a session that lost its link (XEP-0198 §5). `expires` is when the login's
/// token expires, which ends the session with `auth.jwt.end_session_at_expiry`.
async fn bind<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    user: String,
    expires: Option<SystemTime>,
) -> Result<Negotiated, End> {
    let features = StreamFeatures {
        bind: true,
        legacy_session: true,
        roster_versioning: true,
        stream_management: true,
        client_state_indication: true,
        ..StreamFeatures::default()
    };
    t.send(&features.into()).await?;
    loop {
        let iq = next_element(t).await?;
        match ClientSm::parse(&iq) {
            Some(Ok(ClientSm::Resume { previd, h })) => {
                if let Some(session) = detached::resume(ctx, &user, &previd, h).await {
                    return Ok(Negotiated::Resumed(session));
                }
                t.send(&nonza::failed(DefinedCondition::ItemNotFound))
                    .await?;
                continue;
            }
            // Stream management is enabled once a resource is bound.
            Some(Ok(ClientSm::Enable { .. }) | Err(_)) => {
                t.send(&nonza::failed(DefinedCondition::UnexpectedRequest))
                    .await?;
                continue;
            }
            Some(Ok(ClientSm::Request | ClientSm::Ack(_))) => continue,
            None => {}
        }
        if ClientState::parse(&iq).is_some() {
            continue;
        }
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
        let (tx, rx) = mpsc::channel(ctx.settings().mailbox_size);
        let registration = Registration::bind(ctx.server.sessions().clone(), &user, &resource, tx);
        t.send(&negotiation::bind_result(&iq, jid.clone())).await?;
        let bound = Bound {
            user,
            principal: Principal::Resource(jid.clone()),
            jid,
            registration,
            available: false,
            reachable: false,
        };
        let mut session = Session::new(bound, rx, ctx.settings().mailbox_size, ctx.settings().rate);
        if ctx.settings().auth.jwt.end_session_at_expiry {
            session.expires = expires;
        }
        return Ok(Negotiated::Bound(session));
    }
}
