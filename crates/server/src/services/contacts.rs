//! An account's contacts as roster and presence services share them: one contact's subscription
//! state, recording its changes with roster pushes, and showing or withdrawing presence.

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza;
use switchboard_xmpp::subscription::{self, State, Subscription};

use crate::ctx::Ctx;
use crate::ids::random_id;
use crate::storage::{RosterItem, RosterVersion, StoreError};

/// The `ask` value of a pending outbound request.
const ASK_SUBSCRIBE: &str = "subscribe";

/// The state of `item`, given whether its contact's request is pending.
pub fn state_of(item: Option<&RosterItem>, pending_in: bool) -> State {
    match item {
        Some(item) => State::new(
            Subscription::parse(&item.subscription),
            item.ask.as_deref() == Some(ASK_SUBSCRIBE),
            pending_in,
        ),
        None => State::new(Subscription::None, false, pending_in),
    }
}

/// The subscription state between `user` and `contact` (a bare JID).
pub async fn state(ctx: &Ctx, user: &str, contact: &str) -> Result<State, StoreError> {
    let item = ctx.store().roster_item(user, contact).await?;
    let pending_in = ctx.store().request_exists(user, contact).await?;
    Ok(state_of(item.as_ref(), pending_in))
}

/// Stores the move from `before` to `after`: the item's subscription and `ask` when they
/// change (pushed to the interested resources; an item is created if needed), the pending
/// request when it is answered, or `request` when it arrives.
pub async fn record(
    ctx: &Ctx,
    user: &str,
    contact: &str,
    before: State,
    after: State,
    request: Option<&Element>,
) -> Result<(), StoreError> {
    let store = ctx.store();
    let shown = |s: State| (s.subscription(), s.pending_out());
    if shown(before) != shown(after) {
        let change = store
            .roster_set_subscription(
                user,
                contact,
                after.subscription().as_str(),
                after.pending_out().then_some(ASK_SUBSCRIBE),
            )
            .await?;
        push(ctx, user, &change.item, change.version).await;
    }
    match (before.pending_in(), after.pending_in(), request) {
        (true, false, _) => {
            store.request_remove(user, contact).await?;
        }
        (false, true, Some(request)) => {
            store
                .request_set(user, contact, &stanza::to_xml(request))
                .await?;
        }
        _ => {}
    }
    Ok(())
}

/// `<item/>` of a roster result or push (RFC 6121 §2.1.2).
pub fn item_element(item: &RosterItem) -> Element {
    let mut el = Element::bare("item", ns::ROSTER);
    stanza::set_attr(&mut el, "jid", &item.jid);
    if let Some(name) = &item.name {
        stanza::set_attr(&mut el, "name", name);
    }
    stanza::set_attr(&mut el, "subscription", &item.subscription);
    if let Some(ask) = &item.ask {
        stanza::set_attr(&mut el, "ask", ask);
    }
    for group in &item.groups {
        el.append_child(
            Element::builder("group", ns::ROSTER)
                .append(group.as_str())
                .build(),
        );
    }
    el
}

/// `<query xmlns='jabber:iq:roster' ver='…'/>` holding `items`.
pub fn query(version: RosterVersion, items: &[RosterItem]) -> Element {
    let mut query = Element::bare("query", ns::ROSTER);
    stanza::set_attr(&mut query, "ver", &version.to_string());
    for item in items {
        query.append_child(item_element(item));
    }
    query
}

/// Roster push to every interested resource of `user` (RFC 6121 §2.1.6), carrying the
/// roster's version (XEP-0237).
pub async fn push(ctx: &Ctx, user: &str, item: &RosterItem, version: RosterVersion) {
    let account = format!("{user}@{}", ctx.domain());
    for entry in ctx
        .sessions()
        .resources(user)
        .into_iter()
        .filter(|e| e.interested)
    {
        let mut iq = Element::builder("iq", ns::CLIENT)
            .append(query(version, std::slice::from_ref(item)))
            .build();
        stanza::set_attr(&mut iq, "type", "set");
        stanza::set_attr(&mut iq, "id", &format!("push-{}", random_id()));
        stanza::set_attr(&mut iq, "from", &account);
        stanza::set_attr(&mut iq, "to", &format!("{account}/{}", entry.resource));
        ctx.send(iq).await;
    }
}

/// What of an account's presence a contact is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// The last presence of each available resource.
    Current,
    /// `unavailable` from each available resource.
    Unavailable,
}

/// Sends `to` the presence of each of `user`'s available resources, from its full JID: when a
/// subscription is approved (RFC 6121 §3.1.5) or a probe answered, or `unavailable` when a
/// subscription ends (§3.2.2, §3.3.3).
pub async fn share(ctx: &Ctx, user: &str, to: &Jid, shown: Shown) {
    for entry in ctx
        .sessions()
        .resources(user)
        .into_iter()
        .filter(|e| e.available)
    {
        let from = format!("{user}@{}/{}", ctx.domain(), entry.resource);
        let mut presence = match (shown, &entry.presence) {
            (Shown::Current, Some(last)) => (**last).clone(),
            (Shown::Current, None) => continue,
            (Shown::Unavailable, _) => subscription::presence("unavailable", &from, to.as_str()),
        };
        stanza::set_attr(&mut presence, "from", &from);
        stanza::set_attr(&mut presence, "to", to.as_str());
        ctx.send(presence).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(subscription: &str, ask: Option<&str>) -> RosterItem {
        RosterItem {
            subscription: subscription.into(),
            ask: ask.map(str::to_owned),
            ..RosterItem::new("bob@localhost")
        }
    }

    #[test]
    fn states_of_stored_items() {
        assert_eq!(state_of(None, false), State::None);
        assert_eq!(state_of(None, true), State::NonePendingIn);
        assert_eq!(
            state_of(Some(&item("none", Some("subscribe"))), true),
            State::NonePendingOutIn
        );
        assert_eq!(
            state_of(Some(&item("from", Some("subscribe"))), false),
            State::FromPendingOut
        );
        assert_eq!(state_of(Some(&item("both", None)), false), State::Both);
        // An unknown ask is no request.
        assert_eq!(state_of(Some(&item("to", Some("other"))), false), State::To);
    }

    #[test]
    fn query_carries_version_and_items() {
        let mut bob = item("both", None);
        bob.name = Some("Bob".into());
        bob.groups = vec!["A".into()];
        let expected: Element =
            "<query xmlns='jabber:iq:roster' ver='42'><item jid='bob@localhost' \
             name='Bob' subscription='both'><group>A</group></item></query>"
                .parse()
                .unwrap();
        assert_eq!(query(42, &[bob]), expected);
    }
}
