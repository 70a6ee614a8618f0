//! RFC 6121 §2 roster management: get, set and remove, stored per account, with roster pushes
//! to every interested resource. Subscription state changes come with presence subscriptions.

use std::collections::BTreeSet;

use jid::BareJid;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};

use super::reply;
use crate::router::{Router, random_id};
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

pub async fn handle(router: &Router, user: &str, iq: Element) {
    let Some(query) = stanza::iq_payload(&iq).filter(|q| q.is("query", ns::ROSTER)) else {
        router
            .bounce(&iq, ErrorType::Modify, DefinedCondition::BadRequest, None)
            .await;
        return;
    };
    if iq.attr("type") == Some("get") {
        get(router, user, &iq).await;
        return;
    }
    let change = match parse_set(query) {
        Ok(change) => change,
        Err((type_, condition, text)) => {
            router.bounce(&iq, type_, condition, Some(text)).await;
            return;
        }
    };
    let store = router.accounts().store();
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
            reply(router, stanza::iq_result(&iq, None)).await;
            push(router, user, &pushed).await;
        }
        Ok(false) => {
            router
                .bounce(&iq, ErrorType::Cancel, DefinedCondition::ItemNotFound, None)
                .await
        }
        Err(e) => {
            tracing::error!(user, error = %e, "roster update failed");
            router
                .bounce(
                    &iq,
                    ErrorType::Wait,
                    DefinedCondition::InternalServerError,
                    None,
                )
                .await
        }
    }
}

async fn get(router: &Router, user: &str, iq: &Element) {
    let from = iq.attr("from").unwrap_or_default();
    let resource = from.rsplit_once('/').map(|(_, r)| r.to_owned());
    for entry in router.sessions_of(user) {
        if Some(&entry.resource) == resource.as_ref() {
            router.update_session(user, entry.id, |e| e.interested = true);
        }
    }
    match router.accounts().store().roster(user).await {
        Ok(items) => {
            let mut query = Element::bare("query", ns::ROSTER);
            for item in &items {
                query.append_child(item_element(item));
            }
            reply(router, stanza::iq_result(iq, Some(query))).await;
        }
        Err(e) => {
            tracing::error!(user, error = %e, "roster read failed");
            router
                .bounce(
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
async fn push(router: &Router, user: &str, item: &RosterItem) {
    for entry in router
        .sessions_of(user)
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
        stanza::set_attr(&mut iq, "from", &format!("{user}@{}", router.domain()));
        stanza::set_attr(
            &mut iq,
            "to",
            &format!("{user}@{}/{}", router.domain(), entry.resource),
        );
        router.push(&entry, iq).await;
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
