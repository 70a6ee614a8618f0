//! A resumable session whose link dropped: it keeps its resource and queues what arrives until a
//! new stream resumes it or `c2s.resumption_timeout_secs` pass; and the claim of a resuming stream.

use std::time::Duration;

use minidom::Element;
use tokio::time::Instant;

use super::C2sContext;
use super::held::Held;
use super::state::{Session, takeover_requested};
use crate::sessions::SessionMsg;

/// How long a resuming stream waits for the session's holder to hand it over (a holder still
/// writing to a dead link answers once its write fails).
const CLAIM_WAIT: Duration = Duration::from_secs(10);

/// The session `previd` of `user`, taken from whoever holds it, with the client's `h` applied;
/// `None` when there is no such session for this account (it never was, it ended, or it is
/// another account's): the client gets `<failed><item-not-found/></failed>` and may bind anew.
pub async fn resume(ctx: &C2sContext, user: &str, previd: &str, h: u32) -> Option<Session> {
    let mut session = ctx.resumption.claim(previd, user, CLAIM_WAIT).await?;
    let jid = session.bound.jid.clone();
    match &mut session.sm {
        Some(sm) => {
            sm.acked(h, &jid);
            sm.resumed();
            session.bound.registration.update(|e| e.detached = false);
            Some(session)
        }
        // Only sessions with stream management are registered for resumption.
        None => {
            session.end(&ctx.server).await;
            None
        }
    }
}

/// What woke a waiting session.
enum Wake {
    Shutdown,
    Takeover(super::resumption::Takeover<Session>),
    Mailbox(Option<SessionMsg>),
    Expired,
}

/// Keeps `session` bound without a connection until it is resumed or its time is up.
pub async fn wait(ctx: &C2sContext, mut session: Session) {
    let Some(timeout) = session.resumable.as_ref().map(|r| r.timeout) else {
        session.end(&ctx.server).await;
        return;
    };
    let _waiting = ctx.server.metrics().c2s_detached();
    let deadline = Instant::now() + timeout;
    let jid = session.bound.jid.clone();
    let own = jid.to_string();
    let why = loop {
        let wake = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => Wake::Shutdown,
            reply = takeover_requested(&mut session.resumable) => Wake::Takeover(reply),
            msg = session.rx.recv() => Wake::Mailbox(msg),
            () = tokio::time::sleep_until(deadline) => Wake::Expired,
        };
        match wake {
            Wake::Takeover(reply) => match reply.send(session) {
                Ok(()) => return,
                Err(back) => session = back,
            },
            Wake::Mailbox(Some(SessionMsg::Stanza(el))) => {
                if !keep(&mut session, *el, &own) {
                    break "too many stanzas waiting";
                }
            }
            Wake::Mailbox(Some(SessionMsg::Kick(..)) | None) => break "resource bound again",
            Wake::Shutdown => break "server shutdown",
            Wake::Expired => break "not resumed in time",
        }
    };
    tracing::info!(%jid, why, "session no longer resumable");
    session.end(&ctx.server).await;
}

/// Queues a stanza for the client to come back to; presence updates are collapsed. Says
/// whether the session may go on waiting.
fn keep(session: &mut Session, el: Element, own: &str) -> bool {
    let Some(sm) = &mut session.sm else {
        return false;
    };
    if Held::holds(&el, own) {
        if let Err(all) = session.held.hold(el) {
            for el in all {
                sm.sent(el);
            }
        }
    } else {
        sm.sent(el);
    }
    !sm.unacked.is_over()
}
