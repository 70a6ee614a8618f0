//! Helpers of the group chat tests: joining and reading what a join sends, status codes and
//! items of muc#user presence, groupchat messages.
#![allow(dead_code)]

use jid::BareJid;
use minidom::Element;

use super::common::StanzaPeer;

pub const MUC_USER: &str = "http://jabber.org/protocol/muc#user";
pub const ROOM: &str = "lobby@conference.localhost";

pub fn codes(presence: &Element) -> Vec<String> {
    presence
        .get_child("x", MUC_USER)
        .map(|x| {
            x.children()
                .filter(|c| c.name() == "status")
                .filter_map(|c| c.attr("code").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub fn item(presence: &Element) -> &Element {
    presence
        .get_child("x", MUC_USER)
        .and_then(|x| x.get_child("item", MUC_USER))
        .unwrap_or_else(|| panic!("muc#user item in {}", String::from(presence)))
}

pub fn join_xml(room: &str, nick: &str, extra: &str) -> String {
    format!(
        "<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'>{extra}</x></presence>"
    )
}

/// Joins and reads everything the join sends: the others' presence, the own presence, history
/// and the subject. Returns (presences, history messages).
pub async fn join(
    peer: &mut StanzaPeer,
    room: &str,
    nick: &str,
    extra: &str,
) -> (Vec<Element>, Vec<Element>) {
    peer.send(&join_xml(room, nick, extra)).await;
    let mut presences = Vec::new();
    let mut history = Vec::new();
    loop {
        let el = peer.next().await;
        match el.name() {
            "presence" => {
                assert_ne!(el.attr("type"), Some("error"), "{}", String::from(&el));
                presences.push(el);
            }
            "message" if el.get_child("subject", "jabber:client").is_some() => {
                return (presences, history);
            }
            "message" => history.push(el),
            _ => {}
        }
    }
}

pub fn body(message: &Element) -> String {
    message
        .get_child("body", "jabber:client")
        .map(Element::text)
        .unwrap_or_default()
}

pub async fn groupchat(peer: &mut StanzaPeer, room: &str, text: &str) {
    peer.send(&format!(
        "<message to='{room}' type='groupchat'><body>{text}</body></message>"
    ))
    .await;
}

/// The next groupchat message with a body, skipping presence.
pub async fn next_groupchat(peer: &mut StanzaPeer) -> Element {
    loop {
        let el = peer.next_named("message").await;
        if el.attr("type") == Some("groupchat") && el.get_child("body", "jabber:client").is_some() {
            return el;
        }
    }
}

pub fn bare(jid: &str) -> BareJid {
    BareJid::new(jid).unwrap()
}

pub fn text_message(text: &str) -> Element {
    Element::builder("message", "jabber:client")
        .append(
            Element::builder("body", "jabber:client")
                .append(text)
                .build(),
        )
        .build()
}

/// The defined condition of an error stanza (`conflict`, `forbidden`…).
pub fn condition(el: &Element) -> String {
    assert_eq!(el.attr("type"), Some("error"), "{}", String::from(el));
    el.get_child("error", "jabber:client")
        .and_then(|e| {
            e.children()
                .find(|c| c.ns() == "urn:ietf:params:xml:ns:xmpp-stanzas" && c.name() != "text")
        })
        .map(|c| c.name().to_owned())
        .unwrap_or_default()
}

/// Sends an iq and returns its answer (result or error), skipping other stanzas.
pub async fn iq(peer: &mut StanzaPeer, xml: &str) -> Element {
    let id = xml
        .split("id='")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("the iq has an id='…'")
        .to_owned();
    peer.send(xml).await;
    loop {
        let el = peer.next_named("iq").await;
        if el.attr("id") == Some(id.as_str()) {
            return el;
        }
    }
}

/// Submits the owner's configuration form with these fields.
pub async fn configure(peer: &mut StanzaPeer, room: &str, fields: &[(&str, &str)]) -> Element {
    let fields: String = fields
        .iter()
        .map(|(var, value)| format!("<field var='{var}'><value>{value}</value></field>"))
        .collect();
    iq(
        peer,
        &format!(
            "<iq type='set' to='{room}' id='cfg'><query xmlns='http://jabber.org/protocol/muc#owner'>\
             <x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>\
             <value>http://jabber.org/protocol/muc#roomconfig</value></field>{fields}</x></query></iq>"
        ),
    )
    .await
}

/// A muc#admin set with one item.
pub async fn admin(peer: &mut StanzaPeer, room: &str, item: &str) -> Element {
    iq(
        peer,
        &format!(
            "<iq type='set' to='{room}' id='adm'><query xmlns='http://jabber.org/protocol/muc#admin'>{item}</query></iq>"
        ),
    )
    .await
}

/// The next error stanza called `name`, skipping the others.
pub async fn next_error(peer: &mut StanzaPeer, name: &str) -> Element {
    loop {
        let el = peer.next_named(name).await;
        if el.attr("type") == Some("error") {
            return el;
        }
    }
}
