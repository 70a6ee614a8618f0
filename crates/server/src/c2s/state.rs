//! A bound c2s session apart from its connection (resource, mailbox, stream management, held
//! presence, stanza rate): it outlives a dropped link, and its end keeps the unacked offline.

use std::time::Duration;

use jid::FullJid;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::sender::Principal;
use switchboard_xmpp::stanza;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::held::Held;
use super::rate::{RateConfig, StanzaRate};
use super::resumption::{Handle, Takeover};
use super::sm::Sm;
use crate::ctx::Ctx;
use crate::routed::{Origin, Routed};
use crate::services::offline::{self, Backlog};
use crate::sessions::{Registration, SessionMsg};

/// A resource bound to a stream.
pub struct Bound {
    pub user: String,
    pub jid: FullJid,
    pub principal: Principal,
    pub registration: Registration,
    /// Sent available presence (and not unavailable since).
    pub available: bool,
    /// Available with a non-negative priority: messages to the bare JID come here, so the
    /// stored ones are due when it becomes so (XEP-0160).
    pub reachable: bool,
}

/// A session that may be resumed, and for how long after its link drops.
pub struct Resumable {
    pub handle: Handle<Session>,
    pub timeout: Duration,
}

pub struct Session {
    pub bound: Bound,
    pub rx: mpsc::Receiver<SessionMsg>,
    /// XEP-0198, once the client enabled it.
    pub sm: Option<Sm>,
    pub resumable: Option<Resumable>,
    /// Presence waiting while the client is inactive (XEP-0352) or its link is down.
    pub held: Held,
    /// The client said `<inactive/>`.
    pub inactive: bool,
    pub rate: StanzaRate,
    /// The account's stored messages, claimed for this session and being written out: more of
    /// them than stream management lets out at once wait here for acknowledgements.
    pub backlog: Option<Backlog>,
    /// When the login token expires, for a session that ends then
    /// (`auth.jwt.end_session_at_expiry`).
    pub expires: Option<std::time::SystemTime>,
}

impl Session {
    /// A newly bound resource; `limit` bounds its unacknowledged stanzas and held presence.
    pub fn new(
        bound: Bound,
        rx: mpsc::Receiver<SessionMsg>,
        limit: usize,
        rate: RateConfig,
    ) -> Session {
        Session {
            bound,
            rx,
            sm: None,
            resumable: None,
            held: Held::new(limit),
            inactive: false,
            rate: StanzaRate::new(rate, Instant::now()),
            backlog: None,
            expires: None,
        }
    }

    /// The end of the session, whatever ended it: it can no longer be resumed, the messages
    /// it was given but never acknowledged go to offline storage, then its other resources
    /// learn that it left; what is still in its mailbox once it is unbound is stored too.
    pub async fn end(self, ctx: &Ctx) {
        let Session {
            bound,
            mut rx,
            sm,
            resumable,
            backlog,
            ..
        } = self;
        drop(resumable);
        if let Some(backlog) = backlog {
            backlog.release().await;
        }
        if let Some(sm) = sm {
            keep_offline(ctx, &bound.user, sm.unacked.into_items()).await;
        }
        went_offline(ctx, &bound).await;
        let Bound {
            user, registration, ..
        } = bound;
        drop(registration);
        rx.close();
        let mut unread = Vec::new();
        while let Ok(msg) = rx.try_recv() {
            if let SessionMsg::Stanza(el) = msg {
                unread.push(*el);
            }
        }
        keep_offline(ctx, &user, unread).await;
    }
}

/// Stores the messages among `stanzas` that offline storage keeps, in order, within the
/// account's quotas.
async fn keep_offline(ctx: &Ctx, user: &str, stanzas: impl IntoIterator<Item = Element>) {
    let mut kept = 0;
    for message in stanzas {
        match offline::keep(ctx, user, &message).await {
            Ok(true) => kept += 1,
            Ok(false) => {}
            Err(e) => tracing::error!(user, error = %e, "cannot keep an undelivered message"),
        }
    }
    if kept > 0 {
        tracing::info!(user, kept, "undelivered messages kept offline");
    }
}

/// The next request to hand a resumable session over; never, for one that is not.
pub async fn takeover_requested(resumable: &mut Option<Resumable>) -> Takeover<Session> {
    match resumable {
        Some(r) => r.handle.requested().await,
        None => std::future::pending().await,
    }
}

/// Tells the account's other resources, its subscribers and the entities of its directed
/// presence that this one left, if it was available or sent directed presence.
async fn went_offline(ctx: &Ctx, bound: &Bound) {
    let id = bound.registration.id();
    let directed = ctx
        .sessions()
        .session(&bound.user, id)
        .is_some_and(|e| !e.directed.is_empty());
    if !bound.available && !directed {
        return;
    }
    let mut presence = Element::bare("presence", ns::CLIENT);
    stanza::set_attr(&mut presence, "type", "unavailable");
    let origin = Origin::Session(id);
    if let Ok(stanza) = Routed::accept(&bound.principal, presence, origin) {
        ctx.deliver(stanza).await;
    }
}
