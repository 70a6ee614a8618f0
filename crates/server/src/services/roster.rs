//! RFC 6121 §2 roster management: get, set and remove, stored per account, with roster pushes
//! to every interested resource. Subscription state changes come with presence subscriptions.

use std::collections::BTreeSet;

use async_trait::async_trait;
use jid::BareJid;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};

use crate::ctx::{Ctx, Feature, Service};
use crate::ids::random_id;
use crate::routed::{Origin, Outcome, Routed};
use crate::storage::RosterItem;

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

fn item_element(item: &RosterItem) -> Element {
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

/// The roster of the requesting account; nobody else's roster is reachable.
pub struct Roster;

#[async_trait]
impl Service for Roster {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let account = iq.to.as_ref().unwrap_or(&iq.from);
        let user = match (ctx.local_user(account), ctx.local_user(&iq.from)) {
            (Some(owner), Some(requester)) if owner == requester => owner,
            _ => {
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
            return get(ctx, &user, &iq).await;
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

async fn set(ctx: &Ctx, user: &str, iq: &Routed, change: Change) -> Outcome {
    let store = ctx.store();
    let (stored, pushed) = match change {
        Change::Set(item) => {
            // Keep the subscription state the server owns; the client only names and groups.
            let existing = store
                .roster(user)
                .await
                .ok()
                .and_then(|items| items.into_iter().find(|i| i.jid == item.jid));
            let item = RosterItem {
                subscription: existing
                    .as_ref()
                    .map_or(item.subscription.clone(), |e| e.subscription.clone()),
                ask: existing.and_then(|e| e.ask),
                ..item
            };
            (store.roster_set(user, &item).await.map(|_| true), item)
        }
        Change::Remove(jid) => {
            let removed = store.roster_remove(user, &jid).await;
            let item = RosterItem {
                jid,
                name: None,
                subscription: "remove".into(),
                ask: None,
                groups: vec![],
            };
            (removed, item)
        }
    };
    match stored {
        Ok(true) => {
            let outcome = ctx.reply(iq, stanza::iq_result(&iq.el, None)).await;
            push(ctx, user, &pushed).await;
            outcome
        }
        Ok(false) => {
            ctx.bounce(iq, ErrorType::Cancel, DefinedCondition::ItemNotFound, None)
                .await
        }
        Err(e) => {
            tracing::error!(user, error = %e, "roster update failed");
            ctx.bounce(
                iq,
                ErrorType::Wait,
                DefinedCondition::InternalServerError,
                None,
            )
            .await
        }
    }
}

async fn get(ctx: &Ctx, user: &str, iq: &Routed) -> Outcome {
    // The requesting session now wants roster pushes (RFC 6121 §2.1.6).
    if let Origin::Session(id) = iq.origin {
        ctx.sessions()
            .update(user, id, &mut |e| e.interested = true);
    }
    match ctx.store().roster(user).await {
        Ok(items) => {
            let mut query = Element::bare("query", ns::ROSTER);
            for item in &items {
                query.append_child(item_element(item));
            }
            ctx.reply(iq, stanza::iq_result(&iq.el, Some(query))).await
        }
        Err(e) => {
            tracing::error!(user, error = %e, "roster read failed");
            ctx.bounce(
                iq,
                ErrorType::Wait,
                DefinedCondition::InternalServerError,
                None,
            )
            .await
        }
    }
}

/// Roster push to every interested resource of `user` (RFC 6121 §2.1.6).
async fn push(ctx: &Ctx, user: &str, item: &RosterItem) {
    for entry in ctx
        .sessions()
        .resources(user)
        .into_iter()
        .filter(|e| e.interested)
    {
        let mut iq = Element::builder("iq", ns::CLIENT)
            .append(
                Element::builder("query", ns::ROSTER)
                    .append(item_element(item))
                    .build(),
            )
            .build();
        stanza::set_attr(&mut iq, "type", "set");
        stanza::set_attr(&mut iq, "id", &format!("push-{}", random_id()));
        stanza::set_attr(&mut iq, "from", &format!("{user}@{}", ctx.domain()));
        stanza::set_attr(
            &mut iq,
            "to",
            &format!("{user}@{}/{}", ctx.domain(), entry.resource),
        );
        ctx.send(iq).await;
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
