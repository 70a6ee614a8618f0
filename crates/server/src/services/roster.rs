//! RFC 6121 §2 roster management: get (with versioning), set and remove, with roster pushes; the
//! subscription state is the server's, and removing a contact tells it what ends (§2.5.2).

use std::collections::BTreeSet;

use async_trait::async_trait;
use jid::{BareJid, Jid};
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};
use switchboard_xmpp::subscription;

use super::contacts::{self, Shown};
use crate::ctx::{Ctx, Feature, Service};
use crate::routed::{Origin, Outcome, Routed};
use crate::storage::{RosterItem, StoreError};

/// A roster change requested by a client, validated.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    Set(RosterItem),
    Remove(String),
}

fn bad_request(text: &'static str) -> (ErrorType, DefinedCondition, &'static str) {
    (ErrorType::Modify, DefinedCondition::BadRequest, text)
}

/// Parses a roster set (RFC 6121 §2.3.3 / §2.5.3): exactly one item, a valid JID, no
/// duplicate groups, and only `remove` as a client-settable subscription.
fn parse_set(query: &Element) -> Result<Change, (ErrorType, DefinedCondition, &'static str)> {
    let mut items = query.children().filter(|c| c.is("item", ns::ROSTER));
    let (Some(item), None) = (items.next(), items.next()) else {
        return Err(bad_request("A roster set must contain exactly one item"));
    };
    let jid = item.attr("jid").and_then(|j| BareJid::new(j).ok()).ok_or((
        ErrorType::Modify,
        DefinedCondition::JidMalformed,
        "Invalid item JID",
    ))?;
    if item.attr("subscription") == Some("remove") {
        return Ok(Change::Remove(jid.to_string()));
    }
    let mut groups = BTreeSet::new();
    for group in item.children().filter(|c| c.is("group", ns::ROSTER)) {
        let name = group.text();
        if name.is_empty() {
            return Err((
                ErrorType::Modify,
                DefinedCondition::NotAcceptable,
                "Empty group name",
            ));
        }
        if !groups.insert(name) {
            return Err(bad_request("Duplicate group"));
        }
    }
    Ok(Change::Set(RosterItem {
        jid: jid.to_string(),
        name: item
            .attr("name")
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        subscription: "none".into(),
        ask: None,
        groups: groups.into_iter().collect(),
    }))
}

/// The roster of the requesting account; nobody else's roster is reachable.
pub struct Roster;

#[async_trait]
impl Service for Roster {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let user = match ctx.own_account(&iq) {
            Some(user) => user,
            None => {
                return ctx
                    .bounce(
                        &iq,
                        ErrorType::Cancel,
                        DefinedCondition::ServiceUnavailable,
                        None,
                    )
                    .await;
            }
        };
        let Some(query) = stanza::iq_payload(&iq.el).filter(|q| q.is("query", ns::ROSTER)) else {
            return ctx
                .bounce(&iq, ErrorType::Modify, DefinedCondition::BadRequest, None)
                .await;
        };
        if iq.type_() == "get" {
            return get(ctx, &user, &iq, query.attr("ver")).await;
        }
        match parse_set(query) {
            Ok(change) => set(ctx, &user, &iq, change).await,
            Err((type_, condition, text)) => ctx.bounce(&iq, type_, condition, Some(text)).await,
        }
    }

    fn features(&self) -> &'static [Feature] {
        const FEATURES: &[Feature] = &[Feature::server(ns::ROSTER)];
        FEATURES
    }
}

async fn failed(ctx: &Ctx, user: &str, iq: &Routed, error: StoreError) -> Outcome {
    tracing::error!(user, error = %error, "roster unavailable");
    ctx.bounce(
        iq,
        ErrorType::Wait,
        DefinedCondition::InternalServerError,
        None,
    )
    .await
}

async fn set(ctx: &Ctx, user: &str, iq: &Routed, change: Change) -> Outcome {
    let item = match change {
        Change::Set(item) => item,
        Change::Remove(jid) => return remove(ctx, user, iq, &jid).await,
    };
    // The client names and groups; the subscription stays the server's.
    let stored = ctx
        .store()
        .roster_set_details(user, &item.jid, item.name.as_deref(), &item.groups)
        .await;
    match stored {
        Ok(change) => {
            let outcome = ctx.reply(iq, stanza::iq_result(&iq.el, None)).await;
            contacts::push(ctx, user, &change.item, change.version).await;
            outcome
        }
        Err(e) => failed(ctx, user, iq, e).await,
    }
}

/// RFC 6121 §2.5: the item and any pending request from the contact go, and the contact is
/// told that the subscriptions end: `unsubscribe` for the account's, `unsubscribed` for its own.
async fn remove(ctx: &Ctx, user: &str, iq: &Routed, contact: &str) -> Outcome {
    let store = ctx.store();
    let before = match contacts::state(ctx, user, contact).await {
        Ok(state) => state,
        Err(e) => return failed(ctx, user, iq, e).await,
    };
    let version = match store.roster_remove(user, contact).await {
        Ok(Some(version)) => version,
        Ok(None) => {
            return ctx
                .bounce(iq, ErrorType::Cancel, DefinedCondition::ItemNotFound, None)
                .await;
        }
        Err(e) => return failed(ctx, user, iq, e).await,
    };
    if before.pending_in()
        && let Err(e) = store.request_remove(user, contact).await
    {
        tracing::error!(user, error = %e, "cannot forget a subscription request");
    }
    let outcome = ctx.reply(iq, stanza::iq_result(&iq.el, None)).await;
    let removed = RosterItem {
        subscription: "remove".into(),
        ..RosterItem::new(contact)
    };
    contacts::push(ctx, user, &removed, version).await;
    let (Some(me), Ok(contact_jid)) = (ctx.account_jid(user), Jid::new(contact)) else {
        return outcome;
    };
    // A local contact's unsubscribed is followed by our unavailable on arrival; one elsewhere
    // hears it now.
    if before.has_from() && ctx.local_user(&contact_jid).is_none() {
        contacts::share(ctx, user, &contact_jid, Shown::Unavailable).await;
    }
    for type_ in before.on_removal() {
        let notice = subscription::presence(type_.as_str(), me.as_str(), contact);
        ctx.send(notice).await;
    }
    outcome
}

/// The roster, or (XEP-0237) an empty result when the client's `ver` is the current one: it
/// has everything but what the pushes that follow bring.
async fn get(ctx: &Ctx, user: &str, iq: &Routed, ver: Option<&str>) -> Outcome {
    // The requesting session now wants roster pushes (RFC 6121 §2.1.6).
    if let Origin::Session(id) = iq.origin {
        ctx.sessions()
            .update(user, id, &mut |e| e.interested = true);
    }
    // The version is read before the items: a change in between leaves the client a stale
    // version (so a full roster next time), never stale items.
    let version = match ctx.store().roster_version(user).await {
        Ok(version) => version,
        Err(e) => return failed(ctx, user, iq, e).await,
    };
    if ver == Some(version.to_string().as_str()) {
        return ctx.reply(iq, stanza::iq_result(&iq.el, None)).await;
    }
    match ctx.store().roster(user).await {
        Ok(items) => {
            let mut query = contacts::query(version, &items);
            // Only a client that asked for versioning is given one (RFC 6121 §2.6.3).
            if ver.is_none() {
                stanza::remove_attr(&mut query, "ver");
            }
            ctx.reply(iq, stanza::iq_result(&iq.el, Some(query))).await
        }
        Err(e) => failed(ctx, user, iq, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(xml: &str) -> Element {
        format!("<query xmlns='jabber:iq:roster'>{xml}</query>")
            .parse()
            .unwrap()
    }

    #[test]
    fn set_parses_name_and_groups() {
        let change = parse_set(&query(
            "<item jid='Bob@Localhost' name='Bob'><group>B</group><group>A</group></item>",
        ))
        .unwrap();
        assert_eq!(
            change,
            Change::Set(RosterItem {
                jid: "bob@localhost".into(),
                name: Some("Bob".into()),
                subscription: "none".into(),
                ask: None,
                groups: vec!["A".into(), "B".into()],
            })
        );
    }

    #[test]
    fn remove_is_recognised() {
        assert_eq!(
            parse_set(&query("<item jid='bob@localhost' subscription='remove'/>")).unwrap(),
            Change::Remove("bob@localhost".into())
        );
    }

    #[test]
    fn invalid_sets_are_refused() {
        assert!(parse_set(&query("")).is_err());
        assert!(parse_set(&query("<item jid='a@b'/><item jid='c@d'/>")).is_err());
        assert!(
            parse_set(&query(
                "<item jid='a@b'><group>x</group><group>x</group></item>"
            ))
            .is_err()
        );
        assert_eq!(
            parse_set(&query("<item jid='@@'/>")).unwrap_err().1,
            DefinedCondition::JidMalformed
        );
    }
}
