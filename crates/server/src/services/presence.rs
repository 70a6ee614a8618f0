//! Presence the server handles for an account: a resource's own broadcast to the account's
//! available resources (RFC 6121 §4.2, §4.4), with the current presences shown to a resource
//! that becomes available. Subscription requests are handed to the available resources as is.

use async_trait::async_trait;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, StanzaKind};

use crate::ctx::{Ctx, Service};
use crate::routed::{Origin, Outcome, Routed};
use crate::sessions::Pushed;

pub struct Presence;

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
            own(ctx, &user, presence).await
        } else {
            to_available(ctx, &user, &presence.el).await
        }
    }
}

/// Presence without `to` from one of `user`'s resources: its new availability, broadcast to
/// every available resource of the account, itself included when available.
async fn own(ctx: &Ctx, user: &str, presence: Routed) -> Outcome {
    let mut became_available = false;
    if let Origin::Session(id) = presence.origin {
        let available = match presence.type_() {
            "" => true,
            "unavailable" => false,
            // Errors and anything else without `to` change nothing.
            _ => return Outcome::Dropped,
        };
        let priority = presence
            .el
            .get_child("priority", ns::CLIENT)
            .and_then(|p| p.text().trim().parse::<i8>().ok())
            .unwrap_or(0);
        let shown = available.then(|| std::sync::Arc::new(presence.el.clone()));
        ctx.sessions().update(user, id, &mut |e| {
            became_available = available && !e.available;
            e.available = available;
            e.priority = priority;
            e.presence = shown.clone();
        });
        if became_available {
            show_others(ctx, user, id, presence.from.as_str());
        }
    }
    to_available(ctx, user, &presence.el).await
}

/// The presences of `user`'s other available resources, for the one that just became
/// available.
fn show_others(ctx: &Ctx, user: &str, except: u64, to: &str) {
    let others: Vec<Element> = ctx
        .sessions()
        .resources(user)
        .into_iter()
        .filter(|e| e.id != except && e.available)
        .filter_map(|e| e.presence.map(|p| (*p).clone()))
        .collect();
    let Some(entry) = ctx
        .sessions()
        .resources(user)
        .into_iter()
        .find(|e| e.id == except)
    else {
        return;
    };
    for mut other in others {
        stanza::set_attr(&mut other, "to", to);
        entry.push(other);
    }
}

/// A copy of `presence` to each available resource of `user`, straight to their mailboxes:
/// routed again, a subscription request would come back here.
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
