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
use crate::sessions::{Registration, SessionMsg};

/// A resource bound to a stream.
pub struct Bound {
    pub user: String,
    pub jid: FullJid,
    pub principal: Principal,
    pub registration: Registration,
    /// Sent available presence (and not unavailable since).
    pub available: bool,
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
    /// Stored messages remain to be written: more than stream management lets out at once.
    pub offline_due: bool,
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
            offline_due: false,
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
            ..
        } = self;
        drop(resumable);
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
                unread.push(el);
            }
        }
        keep_offline(ctx, &user, unread).await;
    }
}

/// Stores the messages among `stanzas` that offline storage keeps, in order.
async fn keep_offline(ctx: &Ctx, user: &str, stanzas: impl IntoIterator<Item = Element>) {
    let mut kept = 0;
    for message in stanzas.into_iter().filter(kept_offline) {
        match ctx
            .store()
            .offline_push(user, &stanza::to_xml(&message))
            .await
        {
            Ok(()) => kept += 1,
            Err(e) => tracing::error!(user, error = %e, "cannot keep an undelivered message"),
        }
    }
    if kept > 0 {
        tracing::info!(user, kept, "undelivered messages kept offline");
    }
}

/// Messages that offline storage keeps (XEP-0160): chat and normal ones with a body.
fn kept_offline(el: &Element) -> bool {
    el.is("message", ns::CLIENT)
        && matches!(el.attr("type"), None | Some("normal" | "chat"))
        && el.has_child("body", ns::CLIENT)
}

/// The next request to hand a resumable session over; never, for one that is not.
pub async fn takeover_requested(resumable: &mut Option<Resumable>) -> Takeover<Session> {
    match resumable {
        Some(r) => r.handle.requested().await,
        None => std::future::pending().await,
    }
}

/// Tells the account's other resources that this one left, if it was available.
async fn went_offline(ctx: &Ctx, bound: &Bound) {
    if !bound.available {
        return;
    }
    let mut presence = Element::bare("presence", ns::CLIENT);
    stanza::set_attr(&mut presence, "type", "unavailable");
    let origin = Origin::Session(bound.registration.id());
    if let Ok(stanza) = Routed::accept(&bound.principal, presence, origin) {
        ctx.deliver(stanza).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_keeps_chat_and_normal_messages_with_a_body() {
        let kept = |xml: &str| kept_offline(&xml.parse().unwrap());
        assert!(kept(
            "<message xmlns='jabber:client'><body>x</body></message>"
        ));
        assert!(kept(
            "<message xmlns='jabber:client' type='chat'><body>x</body></message>"
        ));
        assert!(kept(
            "<message xmlns='jabber:client' type='normal'><body>x</body></message>"
        ));
        assert!(!kept(
            "<message xmlns='jabber:client' type='headline'><body>x</body></message>"
        ));
        assert!(!kept(
            "<message xmlns='jabber:client' type='groupchat'><body>x</body></message>"
        ));
        assert!(!kept(
            "<message xmlns='jabber:client' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
        ));
        assert!(!kept("<presence xmlns='jabber:client'/>"));
        assert!(!kept("<iq xmlns='jabber:client' type='get' id='1'/>"));
    }
}
