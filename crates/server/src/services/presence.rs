//! Presence the server handles for an account (RFC 6121 §4): its own broadcast, with probes and
//! pending requests at initial presence, probes from others, directed presence, subscriptions.

use std::sync::Arc;

use async_trait::async_trait;
use jid::Jid;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, StanzaKind};
use switchboard_xmpp::subscription::{self, Subscription, SubscriptionType};

use super::contacts::{self, Shown};
use super::subscription as subscriptions;
use crate::ctx::{Ctx, Divert, Filter, Flow, Service};
use crate::routed::{Origin, Outcome, Routed};
use crate::sessions::{Pushed, SessionId};
use crate::storage::RosterItem;

/// Stored subscription requests read per page when they are shown again.
const REQUESTS_PAGE: usize = 100;

/// Presence routed to an account: its own, subscriptions and probes.
#[derive(Default)]
pub struct Presence {
    /// Where subscription stanzas go for an account with no session (a bot's webhook).
    divert: Option<Arc<dyn Divert>>,
}

impl Presence {
    pub fn with_divert(divert: Arc<dyn Divert>) -> Presence {
        Presence {
            divert: Some(divert),
        }
    }
}

#[async_trait]
impl Service for Presence {
    async fn handle(&self, ctx: &Ctx, presence: Routed) -> Outcome {
        if presence.kind != StanzaKind::Presence {
            return Outcome::Dropped;
        }
        let Some(user) = ctx.local_user(presence.to.as_ref().unwrap_or(&presence.from)) else {
            return Outcome::Dropped;
        };
        if presence.to.is_none() {
            return own(ctx, &user, presence).await;
        }
        if presence.type_() == "probe" {
            return answer_probe(ctx, &user, &presence.from).await;
        }
        match SubscriptionType::parse(presence.type_()) {
            Some(type_) => {
                subscriptions::inbound(ctx, self.divert.as_deref(), &user, type_, presence).await
            }
            None => to_available(ctx, &user, &presence.el).await,
        }
    }
}

/// Sees local accounts' outbound presence: subscription stanzas take the user's-server steps
/// of RFC 6121 §3, and a session's directed presence is remembered (§4.6).
pub struct OutboundPresence;

#[async_trait]
impl Filter for OutboundPresence {
    async fn outbound(&self, ctx: &Ctx, user: &str, stanza: &mut Routed) -> Flow {
        if stanza.kind != StanzaKind::Presence {
            return Flow::Continue;
        }
        let Some(to) = stanza.to.clone() else {
            return Flow::Continue;
        };
        if let Some(type_) = SubscriptionType::parse(stanza.type_()) {
            return subscriptions::outbound(ctx, user, type_, stanza).await;
        }
        let available = match stanza.type_() {
            "" => true,
            "unavailable" => false,
            _ => return Flow::Continue,
        };
        if let Origin::Session(id) = stanza.origin
            && ctx.local_user(&to).as_deref() != Some(user)
        {
            remember_directed(ctx, user, id, to, available);
        }
        Flow::Continue
    }
}

/// Notes (or, for unavailable, forgets) an entity `id` sent directed presence to, up to
/// `limits.max_directed_presence` of them.
fn remember_directed(ctx: &Ctx, user: &str, id: SessionId, to: Jid, available: bool) {
    let max = ctx.config().limits.max_directed_presence;
    ctx.sessions().update(user, id, &mut |entry| {
        let known = entry.directed.contains(&to);
        if available && !known && entry.directed.len() < max {
            Arc::make_mut(&mut entry.directed).insert(to.clone());
        } else if !available && known {
            Arc::make_mut(&mut entry.directed).remove(&to);
        }
    });
}

fn priority(presence: &Element) -> i8 {
    presence
        .get_child("priority", ns::CLIENT)
        .and_then(|p| p.text().trim().parse::<i8>().ok())
        .unwrap_or(0)
}

fn subscribers(roster: &[RosterItem], me: &Jid) -> Vec<Jid> {
    roster
        .iter()
        .filter(|i| {
            matches!(
                Subscription::parse(&i.subscription),
                Subscription::From | Subscription::Both
            )
        })
        .filter_map(|i| Jid::new(&i.jid).ok())
        .filter(|jid| jid != me)
        .collect()
}

/// Presence without `to` from one of `user`'s resources (or from the account over HTTP): its
/// availability, shown to the account's available resources (itself included) and broadcast to
/// its subscribers (RFC 6121 §4.2, §4.4); an unavailable one also goes to the entities of its
/// directed presence (§4.6.3). An initial presence is followed by the other resources'
/// presence, the probes of the contacts (§4.2.2) and the pending subscription requests (§3.1.3).
async fn own(ctx: &Ctx, user: &str, presence: Routed) -> Outcome {
    let available = match presence.type_() {
        "" => true,
        "unavailable" => false,
        // Errors and probes without `to` change nothing.
        _ => return Outcome::Dropped,
    };
    let session = match presence.origin {
        Origin::Session(id) => Some(id),
        _ => None,
    };
    let mut became_available = false;
    let mut directed = Arc::default();
    if let Some(id) = session {
        let priority = priority(&presence.el);
        let shown = available.then(|| Arc::new(presence.el.clone()));
        ctx.sessions().update(user, id, &mut |e| {
            became_available = available && !e.available;
            e.available = available;
            e.priority = priority;
            e.presence = shown.clone();
            if !available {
                directed = std::mem::take(&mut e.directed);
            }
        });
    }
    let outcome = to_available(ctx, user, &presence.el).await;
    let roster = ctx.store().roster(user).await.unwrap_or_else(|e| {
        tracing::error!(user, error = %e, "roster unavailable for presence broadcast");
        Vec::new()
    });
    let me = presence.from.to_bare();
    let subscribers = subscribers(&roster, &Jid::from(me.clone()));
    for subscriber in &subscribers {
        let mut copy = presence.el.clone();
        stanza::set_attr(&mut copy, "to", subscriber.as_str());
        ctx.send(copy).await;
    }
    if !available {
        let told = |target: &&Jid| subscribers.contains(&Jid::from(target.to_bare()));
        for target in directed.iter().filter(|t| !told(t)) {
            let mut copy = presence.el.clone();
            stanza::set_attr(&mut copy, "to", target.as_str());
            ctx.send(copy).await;
        }
    }
    if let Some(id) = session.filter(|_| became_available) {
        show_others(ctx, user, id, presence.from.as_str());
        probe_contacts(ctx, &presence.from, &roster).await;
        show_requests(ctx, user, id).await;
    }
    outcome
}

/// RFC 6121 §4.2.2: the presence of every contact the account is subscribed to, for the
/// resource that just became available. A local contact is answered at once from the session
/// table (as its server would answer a probe); one elsewhere is sent a probe.
async fn probe_contacts(ctx: &Ctx, prober: &Jid, roster: &[RosterItem]) {
    let me = prober.to_bare();
    for item in roster.iter().filter(|i| {
        matches!(
            Subscription::parse(&i.subscription),
            Subscription::To | Subscription::Both
        )
    }) {
        let Ok(contact) = Jid::new(&item.jid) else {
            continue;
        };
        match ctx.local_user(&contact) {
            // A contact with nothing to show need not be asked (§4.3.2 lets it stay silent).
            Some(contact_user) => {
                let online = ctx
                    .sessions()
                    .resources(&contact_user)
                    .iter()
                    .any(|e| e.available);
                if online {
                    answer_probe(ctx, &contact_user, prober).await;
                }
            }
            None => {
                let probe = subscription::presence("probe", me.as_str(), contact.as_str());
                ctx.send(probe).await;
            }
        }
    }
}

/// RFC 6121 §4.3.2: a probe of `account` from `prober`. A subscriber gets the last presence of
/// each available resource (nothing when there is none); anyone else `unsubscribed`.
async fn answer_probe(ctx: &Ctx, account: &str, prober: &Jid) -> Outcome {
    let Some(me) = ctx.account_jid(account) else {
        return Outcome::Dropped;
    };
    let prober_bare = prober.to_bare();
    if prober_bare == me {
        return Outcome::Handled;
    }
    match contacts::state(ctx, account, prober_bare.as_str()).await {
        Ok(state) if state.has_from() => {
            contacts::share(ctx, account, prober, Shown::Current).await;
        }
        Ok(_) => {
            let denial = subscription::presence("unsubscribed", me.as_str(), prober_bare.as_str());
            ctx.send(denial).await;
        }
        Err(e) => tracing::error!(account, error = %e, "cannot answer a presence probe"),
    }
    Outcome::Handled
}

/// The presences of `user`'s other available resources, for the one that just became
/// available.
fn show_others(ctx: &Ctx, user: &str, except: SessionId, to: &str) {
    let resources = ctx.sessions().resources(user);
    let Some(entry) = resources.iter().find(|e| e.id == except) else {
        return;
    };
    for other in resources
        .iter()
        .filter(|e| e.id != except && e.available)
        .filter_map(|e| e.presence.as_ref())
    {
        let mut other = (**other).clone();
        stanza::set_attr(&mut other, "to", to);
        entry.push(other);
    }
}

/// RFC 6121 §3.1.3: the requests `user` has not answered yet, shown again to the resource that
/// just became available; what its mailbox cannot take now waits for the next time.
async fn show_requests(ctx: &Ctx, user: &str, id: SessionId) {
    let Some(entry) = ctx.sessions().session(user, id) else {
        return;
    };
    let mut after: Option<String> = None;
    loop {
        let page = match ctx
            .store()
            .requests(user, after.as_deref(), REQUESTS_PAGE)
            .await
        {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(user, error = %e, "cannot read subscription requests");
                return;
            }
        };
        for request in &page {
            match request.stanza.parse::<Element>() {
                Ok(el) => {
                    if entry.push(el) != Pushed::Delivered {
                        return;
                    }
                }
                Err(e) => tracing::error!(user, error = %e, "unreadable subscription request"),
            }
        }
        if page.len() < REQUESTS_PAGE {
            return;
        }
        after = page.last().map(|r| r.jid.clone());
    }
}

/// A copy of `presence` to each available resource of `user`, straight to their mailboxes:
/// routed again, it would come back here.
async fn to_available(ctx: &Ctx, user: &str, presence: &Element) -> Outcome {
    let mut delivered = false;
    for entry in ctx
        .sessions()
        .resources(user)
        .iter()
        .filter(|e| e.available)
    {
        let mut copy = presence.clone();
        let to = format!("{user}@{}/{}", ctx.domain(), entry.resource);
        stanza::set_attr(&mut copy, "to", &to);
        delivered |= entry.push(copy) == Pushed::Delivered;
    }
    if delivered {
        Outcome::Delivered
    } else {
        Outcome::Dropped
    }
}
