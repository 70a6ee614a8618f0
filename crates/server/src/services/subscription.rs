//! RFC 6121 §3 subscriptions on both sides: a local account's own subscription stanza before it
//! is routed (the user's server), and one for a local account on arrival (the contact's server).

use jid::{BareJid, Jid};
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};
use switchboard_xmpp::subscription::{self, State, SubscriptionType};

use super::contacts::{self, Shown};
use crate::ctx::{Ctx, Divert, Flow};
use crate::routed::{Outcome, Routed};
use crate::storage::StoreError;

/// Readdresses a subscription stanza between two bare JIDs (RFC 6121 §3.1.2: the user's
/// server stamps the bare JID; a full JID as destination means the bare one).
fn readdress(stanza: &mut Routed, from: &BareJid, to: &BareJid) {
    stanza::set_attr(&mut stanza.el, "from", from.as_str());
    stanza::set_attr(&mut stanza.el, "to", to.as_str());
    stanza.from = Jid::from(from.clone());
    stanza.to = Some(Jid::from(to.clone()));
}

async fn failed(ctx: &Ctx, user: &str, stanza: &Routed, error: StoreError) -> Outcome {
    tracing::error!(user, error = %error, "subscription state unavailable");
    ctx.bounce(
        stanza,
        ErrorType::Wait,
        DefinedCondition::InternalServerError,
        None,
    )
    .await
}

/// The user's server (RFC 6121 Appendix A.2): local account `user` sent `type_` to
/// `stanza.to`. The stanza is stamped with bare JIDs and the account's state moves; it goes on
/// only where the RFC routes it.
pub async fn outbound(ctx: &Ctx, user: &str, type_: SubscriptionType, stanza: &mut Routed) -> Flow {
    let (Some(contact), Some(me)) = (stanza.to.as_ref().map(Jid::to_bare), ctx.account_jid(user))
    else {
        return Flow::Continue;
    };
    readdress(stanza, &me, &contact);
    let before = match contacts::state(ctx, user, contact.as_str()).await {
        Ok(state) => state,
        Err(e) => return Flow::Stop(failed(ctx, user, stanza, e).await),
    };
    let step = before.outbound(type_);
    if let Err(e) = contacts::record(ctx, user, contact.as_str(), before, step.state, None).await {
        return Flow::Stop(failed(ctx, user, stanza, e).await);
    }
    if !step.route {
        return Flow::Stop(Outcome::Handled);
    }
    // What the account's server owes a contact elsewhere (a component) goes ahead of the
    // stanza; for a local contact it follows the delivery (see `inbound`).
    let contact = Jid::from(contact);
    if ctx.local_user(&contact).is_none() {
        match type_ {
            SubscriptionType::Subscribed => {
                contacts::share(ctx, user, &contact, Shown::Current).await;
            }
            SubscriptionType::Unsubscribed if before.has_from() => {
                contacts::share(ctx, user, &contact, Shown::Unavailable).await;
            }
            _ => {}
        }
    }
    Flow::Continue
}

/// The contact's server (RFC 6121 Appendix A.3): `type_` from `stanza.from` arrived for local
/// account `user`. Its state moves, the stanza is delivered where the RFC says (a request to
/// every available resource, kept until answered; the others to the interested and available
/// ones; to the account's webhook when it has no session), and the server answers what it
/// answers by itself.
pub async fn inbound(
    ctx: &Ctx,
    divert: Option<&dyn Divert>,
    user: &str,
    type_: SubscriptionType,
    mut stanza: Routed,
) -> Outcome {
    let peer = stanza.from.to_bare();
    let Some(me) = ctx.account_jid(user) else {
        return Outcome::Dropped;
    };
    match ctx.store().credentials(user).await {
        Ok(Some(_)) => {}
        // §3.1.3: a request to no account is denied.
        Ok(None) if type_ == SubscriptionType::Subscribe => {
            let denial = subscription::presence("unsubscribed", me.as_str(), peer.as_str());
            ctx.send(denial).await;
            return Outcome::Handled;
        }
        Ok(None) => return Outcome::Dropped,
        Err(e) => return failed(ctx, user, &stanza, e).await,
    }
    readdress(&mut stanza, &peer, &me);
    let before = match contacts::state(ctx, user, peer.as_str()).await {
        Ok(state) => state,
        Err(e) => return failed(ctx, user, &stanza, e).await,
    };
    let step = before.inbound(type_);
    let request = (type_ == SubscriptionType::Subscribe).then_some(&stanza.el);
    if let Err(e) = contacts::record(ctx, user, peer.as_str(), before, step.state, request).await {
        return failed(ctx, user, &stanza, e).await;
    }
    if let Some(reply) = step.reply {
        let answer = subscription::presence(reply.as_str(), me.as_str(), peer.as_str());
        ctx.send(answer).await;
    }
    if !step.deliver {
        return Outcome::Handled;
    }
    let outcome = deliver(ctx, divert, user, type_, stanza).await;
    after_delivery(ctx, user, &me, &peer, type_, before).await;
    outcome
}

/// Presence that follows a delivered subscription change (RFC 6121 §3.1.5, §3.2.2, §3.3.3).
/// When the peer is a local account too, its part is done here, after the delivery.
async fn after_delivery(
    ctx: &Ctx,
    user: &str,
    me: &BareJid,
    peer: &BareJid,
    type_: SubscriptionType,
    before: State,
) {
    let peer_jid = Jid::from(peer.clone());
    let me_jid = Jid::from(me.clone());
    match (type_, ctx.local_user(&peer_jid)) {
        // The peer approved: its current presence follows the approval.
        (SubscriptionType::Subscribed, Some(peer_user)) => {
            contacts::share(ctx, &peer_user, &me_jid, Shown::Current).await;
        }
        // The peer cancelled or denied the account's subscription: it shows unavailable.
        (SubscriptionType::Unsubscribed, Some(peer_user)) => {
            contacts::share(ctx, &peer_user, &me_jid, Shown::Unavailable).await;
        }
        // The peer no longer wants the account's presence: the account shows unavailable.
        (SubscriptionType::Unsubscribe, _) if before.has_from() => {
            contacts::share(ctx, user, &peer_jid, Shown::Unavailable).await;
        }
        _ => {}
    }
}

/// Hands a subscription stanza to `user`'s resources as it stands (routed again, it would come
/// back here), or to the account's webhook when it has no session at all.
async fn deliver(
    ctx: &Ctx,
    divert: Option<&dyn Divert>,
    user: &str,
    type_: SubscriptionType,
    stanza: Routed,
) -> Outcome {
    let request = type_ == SubscriptionType::Subscribe;
    let targets: Vec<_> = ctx
        .sessions()
        .resources(user)
        .into_iter()
        .filter(|e| e.available || (e.interested && !request))
        .collect();
    if targets.is_empty() {
        if let Some(divert) = divert.filter(|_| !ctx.sessions().is_bound(user)) {
            return divert
                .divert(ctx, user, stanza)
                .await
                .unwrap_or(Outcome::Handled);
        }
        // A request stays stored and is shown at the next available presence.
        return if request {
            Outcome::Stored
        } else {
            Outcome::Handled
        };
    }
    for entry in &targets {
        entry.push(stanza.el.clone());
    }
    Outcome::Delivered
}
