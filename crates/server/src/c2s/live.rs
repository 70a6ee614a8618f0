//! A bound session on one connection: client stanzas to the router (rate-limited, counted), the
//! mailbox to the client (queued until acknowledged, presence held while inactive), keepalive.

use std::time::Duration;

use jid::FullJid;
use minidom::Element;
use switchboard_xmpp::csi::ClientState;
use switchboard_xmpp::negotiation;
use switchboard_xmpp::ns;
use switchboard_xmpp::sender::FromError;
use switchboard_xmpp::sm::{self as nonza, ClientSm, SmError};
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StanzaKind, StreamCondition};
use tokio::time::Instant;

use super::detached;
use super::end::{End, next_element};
use super::held::Held;
use super::keepalive::{Due, Keepalive};
use super::rate::Verdict;
use super::resumption::Takeover;
use super::sm::Sm;
use super::state::{Resumable, Session, takeover_requested};
use super::{C2sContext, Transport};
use crate::ids::random_id;
use crate::routed::{Origin, Refused, Routed};
use crate::services::offline::Backlog;
use crate::sessions::SessionMsg;
use crate::throttle::ReportEvery;

/// Stanzas refused by the per-stream rate limit, summarised across all streams.
static RATE_LIMITED: ReportEvery = ReportEvery::new(Duration::from_secs(10));
/// Streams ended for sending far over the rate limit.
static ABUSIVE: ReportEvery = ReportEvery::new(Duration::from_secs(10));

/// The longest a closing write may take.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// How the loop on one connection ended.
enum Exit {
    End(End),
    /// A new stream resumes the session: it is handed over there.
    TakenOver(Takeover<Session>),
}

/// Runs `session` on `t` until the client leaves, the link drops or another stream resumes
/// it. `resumed` says that `t` has just resumed it: `<resumed/>` and the stanzas the client
/// has not acknowledged go out first.
pub async fn serve<T: Transport>(
    mut t: T,
    ctx: &C2sContext,
    mut session: Session,
    mut resumed: bool,
) {
    let jid = session.bound.jid.clone();
    let since = Instant::now();
    let counted = ctx.server.metrics().c2s_session(t.traffic().transport());
    let end = loop {
        match established(&mut t, ctx, &mut session, std::mem::take(&mut resumed)).await {
            Exit::End(end) => break end,
            Exit::TakenOver(reply) => match reply.send(session) {
                Ok(()) => {
                    ended(&t, &jid, since, "resumed by a new connection");
                    let error = stanza::stream_error(
                        StreamCondition::Conflict,
                        Some("Resumed by a new connection"),
                    );
                    let _ = tokio::time::timeout(CLOSE_WAIT, t.close(Some(error))).await;
                    return;
                }
                // The resuming stream gave up meanwhile: carry on here.
                Err(back) => session = back,
            },
        }
    };
    if end.is_link_loss() && session.resumable.is_some() {
        ended(
            &t,
            &jid,
            since,
            &format!("{end}; the session waits to be resumed"),
        );
        close(&mut t, end).await;
        drop(t);
        // From now on it counts as detached, not as a session on a connection.
        drop(counted);
        session.bound.registration.update(|e| e.detached = true);
        Box::pin(detached::wait(ctx, session)).await;
    } else {
        if matches!(end, End::PeerClosed) {
            // A client that closes its stream reads on until ours is closed too (RFC 6120
            // §4.4): what was written reached it, acknowledged or not. Clients do not always
            // acknowledge the last stanzas before closing (@xmpp/client 0.14 counts one short),
            // and storing those again would deliver them twice at the next login.
            session.sm = None;
        }
        Box::pin(session.end(&ctx.server)).await;
        ended(&t, &jid, since, &end.to_string());
        close(&mut t, end).await;
    }
}

/// The log line of a session's end on one connection: how long it was served there, the bytes
/// the connection moved (negotiation included), and how it ended.
fn ended<T: Transport>(t: &T, jid: &FullJid, since: Instant, how: &str) {
    let traffic = t.traffic();
    let (received, sent) = traffic.totals();
    tracing::info!(
        %jid,
        transport = traffic.transport().as_str(),
        duration_secs = since.elapsed().as_secs_f64(),
        bytes_in = received,
        bytes_out = sent,
        ended = how,
        "session ended"
    );
}

/// Closes the stream; bounded, since the link may be dead with its send buffer full.
async fn close<T: Transport>(t: &mut T, end: End) {
    if let Some(error) = end.farewell() {
        let _ = tokio::time::timeout(CLOSE_WAIT, t.close(error)).await;
    }
}

async fn established<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    s: &mut Session,
    resumed: bool,
) -> Exit {
    // Every step below is boxed: a future is as large as its largest state, and an idle
    // session's task should hold only what waiting takes, not the deepest step's locals.
    if resumed && let Err(end) = Box::pin(resend(t, s)).await {
        return Exit::End(end);
    }
    let mut keepalive = Keepalive::new(ctx.settings().idle_timeout);
    // What negotiation left in the buffers goes before the first wait, as after every event.
    if s.rx.is_empty() {
        t.release_idle();
    }
    // The token's expiry as a point on the monotonic clock (already past: now).
    let expiry = s.expires.map(|at| {
        let left = at
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        Instant::now() + left
    });
    loop {
        let deadline = keepalive.deadline(t.last_read());
        let step = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => Err(End::Error(StreamCondition::SystemShutdown, None)),
            () = sleep_until_some(expiry) => Err(End::error(
                StreamCondition::NotAuthorized,
                "The login token expired",
            )),
            reply = takeover_requested(&mut s.resumable) => return Exit::TakenOver(reply),
            // Live stanzas wait while stored messages go out, so that nothing overtakes them.
            msg = s.rx.recv(), if s.backlog.is_none() => match msg {
                Some(msg) => Box::pin(to_client(t, s, msg)).await,
                None => Err(End::Error(StreamCondition::InternalServerError, None)),
            },
            el = next_element(t) => match el {
                Ok(el) => Box::pin(from_client(t, ctx, s, &mut keepalive, el)).await,
                Err(end) => Err(end),
            },
            () = tokio::time::sleep_until(deadline) => Box::pin(tick(t, ctx, s, &mut keepalive)).await,
        };
        let settled = match step {
            Ok(()) => Box::pin(settle(t, s)).await,
            Err(end) => Err(end),
        };
        if let Err(end) = settled {
            return Exit::End(end);
        }
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// After each event: paced writes (presence held until now, stored messages), an ack request
/// when stanzas await acknowledgement, idle buffers freed.
async fn settle<T: Transport>(t: &mut T, s: &mut Session) -> Result<(), End> {
    if !s.inactive && !s.held.is_empty() && room(s) > 0 {
        let presence = s.held.take_oldest(room(s));
        send_all(t, s, presence).await?;
    }
    while s.backlog.is_some() && room(s) > 0 {
        deliver_offline(t, s).await?;
    }
    let idle = s.rx.is_empty();
    if let Some(sm) = &mut s.sm
        && sm.wants_request(idle)
    {
        t.send(&nonza::request()).await?;
        sm.requested();
    }
    if idle {
        t.release_idle();
    }
    Ok(())
}

/// How many more stanzas may go out at once before the client acknowledges some: unbounded
/// without stream management.
fn room(s: &Session) -> usize {
    s.sm.as_ref().map_or(usize::MAX, |sm| sm.unacked.room())
}

/// The idle timer: a ping after half the idle timeout, the end after all of it.
async fn tick<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    s: &mut Session,
    keepalive: &mut Keepalive,
) -> Result<(), End> {
    let now = Instant::now();
    match keepalive.due(t.last_read(), now) {
        Due::Nothing => Ok(()),
        Due::Timeout => Err(End::error(
            StreamCondition::ConnectionTimeout,
            "Idle too long",
        )),
        Due::Ping => {
            let id = format!("keepalive-{}", random_id());
            let to = s.bound.jid.to_string();
            let ping = stanza::ping_request(&id, ctx.server.domain(), &to);
            keepalive.pinged(id, now);
            send_stanza(t, s, ping).await
        }
    }
}

/// Writes a stanza to the client, first queueing it when stream management is on.
async fn send_stanza<T: Transport>(t: &mut T, s: &mut Session, el: Element) -> Result<(), End> {
    let Some(sm) = &mut s.sm else {
        return Ok(t.send(&el).await?);
    };
    sm.sent(el);
    if sm.unacked.is_over() {
        return Err(unacked_overflow());
    }
    if let Some(el) = sm.unacked.newest() {
        t.send(el).await?;
    }
    Ok(())
}

/// [`send_stanza`] for several: all are queued before the first is written, so that a link
/// that fails halfway loses none.
async fn send_all<T: Transport>(t: &mut T, s: &mut Session, els: Vec<Element>) -> Result<(), End> {
    let Some(sm) = &mut s.sm else {
        for el in &els {
            t.send(el).await?;
        }
        return Ok(());
    };
    let count = els.len();
    for el in els {
        sm.sent(el);
    }
    if sm.unacked.is_over() {
        return Err(unacked_overflow());
    }
    for el in sm.unacked.iter().skip(sm.unacked.len() - count) {
        t.send(el).await?;
    }
    Ok(())
}

fn unacked_overflow() -> End {
    End::error(
        StreamCondition::ResourceConstraint,
        "Too many stanzas are waiting for acknowledgement",
    )
}

/// A resumed stream: `<resumed/>`, then every stanza the client has not acknowledged.
async fn resend<T: Transport>(t: &mut T, s: &mut Session) -> Result<(), End> {
    // A resumed client starts active (XEP-0352 state belongs to a stream).
    s.inactive = false;
    let (Some(sm), Some(resumable)) = (&s.sm, &s.resumable) else {
        return Ok(());
    };
    t.send(&nonza::resumed(resumable.handle.id(), sm.inbound.get()))
        .await?;
    for el in sm.unacked.iter() {
        t.send(el).await?;
    }
    Ok(())
}

/// One mailbox message for the client.
async fn to_client<T: Transport>(t: &mut T, s: &mut Session, msg: SessionMsg) -> Result<(), End> {
    match msg {
        SessionMsg::Stanza(el) => {
            let el = *el;
            // Presence waits while the client is inactive, and after that until what waited
            // has gone out, so that no update overtakes an older one.
            let waits =
                (s.inactive || !s.held.is_empty()) && Held::holds(&el, &s.bound.jid.to_string());
            if !waits {
                return send_stanza(t, s, el).await;
            }
            match s.held.hold(el) {
                Ok(()) => Ok(()),
                Err(all) => send_all(t, s, all).await,
            }
        }
        SessionMsg::Kick(condition, text) => Err(End::error(condition, text)),
    }
}

/// One element from the bound client.
async fn from_client<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    s: &mut Session,
    keepalive: &mut Keepalive,
    el: Element,
) -> Result<(), End> {
    let is_stanza = StanzaKind::of(&el).is_some();
    if is_stanza && let Some(sm) = &mut s.sm {
        sm.inbound.count();
    }
    match s.rate.check(Instant::now()) {
        Verdict::Allow => {}
        Verdict::Refuse { answer } => {
            if let Some(refused) = RATE_LIMITED.note(Instant::now()) {
                tracing::warn!(
                    jid = %s.bound.jid,
                    refused,
                    "stanzas over limits.c2s_rate_per_second refused (count over all streams)"
                );
            }
            if answer
                && is_stanza
                && let Some(reply) = stanza::error_reply(
                    &el,
                    ErrorType::Wait,
                    DefinedCondition::ResourceConstraint,
                    Some("Too many stanzas: slow down"),
                )
            {
                send_stanza(t, s, reply).await?;
            }
            return Ok(());
        }
        Verdict::Abuse => {
            if let Some(streams) = ABUSIVE.note(Instant::now()) {
                tracing::warn!(
                    jid = %s.bound.jid,
                    streams,
                    "streams closed for sending far over limits.c2s_rate_per_second"
                );
            }
            return Err(End::error(
                StreamCondition::PolicyViolation,
                "Stanza rate far over the limit",
            ));
        }
    }
    if let Some(request) = ClientSm::parse(&el) {
        return stream_management(t, ctx, s, request).await;
    }
    if let Some(state) = ClientState::parse(&el) {
        s.inactive = state == ClientState::Inactive;
        return Ok(());
    }
    if keepalive.is_answer(&el) {
        return Ok(());
    }
    route(t, ctx, s, el).await
}

/// XEP-0198 nonzas on a bound stream.
async fn stream_management<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    s: &mut Session,
    request: Result<ClientSm, SmError>,
) -> Result<(), End> {
    match (request, &mut s.sm) {
        (Ok(ClientSm::Enable { resume, max }), None) => {
            let timeout = ctx
                .settings()
                .resumption_timeout
                .min(Duration::from_secs(max.map_or(u64::MAX, u64::from)));
            let resumable = (resume && !timeout.is_zero()).then(|| Resumable {
                handle: ctx.resumption.register(&s.bound.user),
                timeout,
            });
            let enabled = nonza::enabled(resumable.as_ref().map(|r| {
                let max = u32::try_from(r.timeout.as_secs()).unwrap_or(u32::MAX);
                (r.handle.id(), max)
            }));
            s.sm = Some(Sm::new(ctx.settings().mailbox_size));
            s.resumable = resumable;
            Ok(t.send(&enabled).await?)
        }
        (Ok(ClientSm::Request), Some(sm)) => Ok(t.send(&nonza::ack(sm.inbound.get())).await?),
        (Ok(ClientSm::Ack(h)), Some(sm)) => {
            sm.acked(h, &s.bound.jid);
            Ok(())
        }
        // Before <enable/> there is nothing to count or acknowledge.
        (Ok(ClientSm::Request | ClientSm::Ack(_)), None) => Ok(()),
        // A second <enable/>, or <resume/> on a bound stream.
        (Ok(ClientSm::Enable { .. } | ClientSm::Resume { .. }), _) => Ok(t
            .send(&nonza::failed(DefinedCondition::UnexpectedRequest))
            .await?),
        (Err(e), _) => {
            tracing::debug!(error = %e, "stream management element refused");
            Ok(t.send(&nonza::failed(DefinedCondition::BadRequest)).await?)
        }
    }
}

/// A stanza from the client: its sender is stamped by the one `from` rule (RFC 6120 §8.1.2.1),
/// then it is routed; the legacy session request is answered here.
async fn route<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    s: &mut Session,
    el: Element,
) -> Result<(), End> {
    let origin = Origin::Session(s.bound.registration.id());
    let stanza = match Routed::accept(&s.bound.principal, el, origin) {
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
                send_stanza(t, s, reply).await?;
            }
            return Ok(());
        }
    };
    if stanza.to.is_none()
        && stanza.kind == StanzaKind::Iq
        && negotiation::is_session_request(&stanza.el)
    {
        return send_stanza(t, s, stanza::iq_result(&stanza.el, None)).await;
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
                became_reachable = priority >= 0 && !s.bound.reachable;
                s.bound.available = true;
                s.bound.reachable = priority >= 0;
            }
            "unavailable" => {
                s.bound.available = false;
                s.bound.reachable = false;
            }
            _ => {}
        }
    }
    ctx.server.deliver(stanza).await;
    if became_reachable && s.backlog.is_none() {
        // What the presence broadcast put in the mailbox (its own presence, its siblings')
        // goes out before the stored messages. Only one session gets them: another one
        // becoming reachable at once finds them claimed.
        while let Ok(msg) = s.rx.try_recv() {
            to_client(t, s, msg).await?;
        }
        s.backlog = Backlog::claim(&ctx.server, &s.bound.user).await;
    }
    Ok(())
}

/// Writes the next batch of the claimed stored messages, as many as stream management lets
/// out before the client acknowledges (the rest follows its acknowledgement), and deletes them
/// once written or queued: a crash in between delivers twice rather than never. The claim is
/// given up when the backlog is empty.
async fn deliver_offline<T: Transport>(t: &mut T, s: &mut Session) -> Result<(), End> {
    let room = room(s);
    let Some(backlog) = s.backlog.as_mut() else {
        return Ok(());
    };
    let batch = match backlog.next(room).await {
        Ok(batch) => batch,
        Err(e) => {
            tracing::error!(user = s.bound.user, error = %e, "cannot read offline messages");
            Vec::new()
        }
    };
    if batch.is_empty() {
        if let Some(backlog) = s.backlog.take() {
            backlog.release().await;
        }
        return Ok(());
    }
    let mut delivered = Vec::new();
    let mut result = Ok(());
    for (id, message) in batch {
        // With stream management the queue keeps it from here on, written or not.
        let queued = s.sm.is_some();
        let sent = send_stanza(t, s, message).await;
        if sent.is_ok() || queued {
            delivered.push(id);
        }
        if let Err(end) = sent {
            result = Err(end);
            break;
        }
    }
    if let Some(backlog) = &s.backlog
        && !delivered.is_empty()
    {
        backlog.delivered(&delivered).await;
    }
    result
}
