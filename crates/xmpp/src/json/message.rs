//! Message keys (mod_rest §6.4): body, subject, thread and the extensions riding on messages —
//! chat states, corrections, reactions, replies, stanza ids, markers, MAM results, forwarding.

use minidom::Element;
use rxml::xml_ncname;
use serde_json::Value;

use super::common::{delay_element, delay_json};
use super::types::{BuildForwarded, Object, RenderForwarded, Result};
use super::value::{
    array_at, as_object, attrs_json, bool_at, copy_attrs, enum_at, field, insert_str, invalid,
    jid_at, object_at, parse_bool, parse_uint, required_string, set_attr, single_attr_element,
    string_at, string_attrs, text_element, uint_at, xs_bool,
};
use crate::ns;

/// XEP-0085 states; the state is the element's name.
pub(super) const STATES: [&str; 5] = ["active", "inactive", "gone", "composing", "paused"];

/// `depth` counts the forwarded messages around this one, to bound the recursion; `forward`
/// maps the messages forwarded inside this one.
pub(super) fn message_children(
    obj: &Object,
    depth: usize,
    forward: BuildForwarded,
) -> Result<Vec<Element>> {
    let mut children = Vec::new();
    for key in ["body", "subject"] {
        if let Some(text) = string_at(obj, key, key)? {
            children.push(text_element(key, ns::CLIENT, text));
        }
    }
    if let Some(thread) = field(obj, "thread") {
        children.push(thread_element(thread)?);
    }
    if let Some(state) = enum_at(obj, "state", "state", &STATES)? {
        children.push(Element::bare(state, ns::CHATSTATES));
    }
    let single_attrs = [
        ("replace", "replace", ns::MESSAGE_CORRECT, xml_ncname!("id")),
        (
            "occupant_id",
            "occupant-id",
            ns::OCCUPANT_ID,
            xml_ncname!("id"),
        ),
        ("attach_to", "attach-to", ns::ATTACHING, xml_ncname!("id")),
        (
            "displayed",
            "displayed",
            ns::CHAT_MARKERS,
            xml_ncname!("id"),
        ),
        (
            "encryption",
            "encryption",
            ns::EME,
            xml_ncname!("namespace"),
        ),
    ];
    for (key, name, namespace, attr) in single_attrs {
        if let Some(value) = string_at(obj, key, key)? {
            children.push(single_attr_element(name, namespace, attr, value));
        }
    }
    if let Some(reactions) = field(obj, "reactions") {
        children.push(reactions_element(reactions)?);
    }
    if let Some(reply) = object_at(obj, "reply", "reply")? {
        let mut element = Element::bare("reply", ns::REPLY);
        set_attr(
            &mut element,
            xml_ncname!("id"),
            Some(required_string(reply, "id", "reply")?),
        );
        string_attrs(&mut element, reply, "reply", &[xml_ncname!("to")])?;
        children.push(element);
    }
    for stanza_id in array_at(obj, "stanza_ids", "stanza_ids")? {
        children.push(stanza_id_element(stanza_id, "stanza_ids")?);
    }
    for (key, name, namespace) in [
        ("fallback", "fallback", ns::FALLBACK),
        ("markable", "markable", ns::CHAT_MARKERS),
    ] {
        if bool_at(obj, key, key)? == Some(true) {
            children.push(Element::bare(name, namespace));
        }
    }
    if let Some(reference) = object_at(obj, "reference", "reference")? {
        children.push(reference_element(reference)?);
    }
    if let Some(invite) = object_at(obj, "invite", "invite")? {
        children.push(invite_element(invite)?);
    }
    if let Some(archive) = object_at(obj, "archive", "archive")? {
        let mut result = Element::bare("result", ns::MAM);
        string_attrs(
            &mut result,
            archive,
            "archive",
            &[xml_ncname!("queryid"), xml_ncname!("id")],
        )?;
        if let Some(archived) = field(archive, "forward") {
            result.append_child(forwarded_element(archived, "archive", depth, forward)?);
        }
        children.push(result);
    }
    if let Some(forwarded) = field(obj, "forwarded") {
        children.push(forwarded_element(forwarded, "forwarded", depth, forward)?);
    }
    Ok(children)
}

fn thread_element(value: &Value) -> Result<Element> {
    let thread = value
        .as_object()
        .ok_or_else(|| invalid("thread", "expected an object with 'id'"))?;
    let id = string_at(thread, "id", "thread")?
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid("thread", "'id' must be a non-empty string"))?;
    let mut element = text_element("thread", ns::CLIENT, id);
    set_attr(
        &mut element,
        xml_ncname!("parent"),
        string_at(thread, "parent", "thread")?,
    );
    Ok(element)
}

fn reactions_element(value: &Value) -> Result<Element> {
    let reactions = as_object(value, "reactions")?;
    let mut element = Element::bare("reactions", ns::REACTIONS);
    set_attr(
        &mut element,
        xml_ncname!("id"),
        Some(required_string(reactions, "id", "reactions")?),
    );
    for reaction in array_at(reactions, "reactions", "reactions")? {
        let reaction = reaction
            .as_str()
            .ok_or_else(|| invalid("reactions", "each reaction must be a string"))?;
        let reaction = super::value::xml_text("reactions", reaction)?;
        element.append_child(text_element("reaction", ns::REACTIONS, reaction));
    }
    Ok(element)
}

/// XEP-0359 `<stanza-id/>`, also used inside XEP-0377 spam reports.
pub(super) fn stanza_id_element(value: &Value, key: &'static str) -> Result<Element> {
    let stanza_id = value
        .as_object()
        .ok_or_else(|| invalid(key, "each stanza id must be an object with 'id' and 'by'"))?;
    let mut element = Element::bare("stanza-id", ns::STANZA_ID);
    set_attr(
        &mut element,
        xml_ncname!("id"),
        Some(required_string(stanza_id, "id", key)?),
    );
    let by = jid_at(stanza_id, "by", key)?.ok_or_else(|| invalid(key, "'by' is required"))?;
    set_attr(&mut element, xml_ncname!("by"), Some(&by));
    Ok(element)
}

pub(super) fn stanza_ids_json(parent: &Element) -> Vec<Value> {
    parent
        .children()
        .filter(|child| child.is("stanza-id", ns::STANZA_ID))
        .map(|stanza_id| attrs_json(stanza_id, &["id", "by"]))
        .collect()
}

fn reference_element(reference: &Object) -> Result<Element> {
    let mut element = Element::bare("reference", ns::REFERENCE);
    for name in [xml_ncname!("type"), xml_ncname!("uri")] {
        let value = required_string(reference, name.as_str(), "reference")?;
        set_attr(&mut element, name, Some(value));
    }
    for name in [xml_ncname!("begin"), xml_ncname!("end")] {
        let offset = uint_at(reference, name.as_str(), "reference", u64::MAX)?;
        set_attr(&mut element, name, offset.map(|n| n.to_string()).as_deref());
    }
    Ok(element)
}

fn invite_element(invite: &Object) -> Result<Element> {
    let mut element = Element::bare("x", ns::CONFERENCE);
    let jid =
        jid_at(invite, "jid", "invite")?.ok_or_else(|| invalid("invite", "'jid' is required"))?;
    set_attr(&mut element, xml_ncname!("jid"), Some(&jid));
    string_attrs(
        &mut element,
        invite,
        "invite",
        &[
            xml_ncname!("reason"),
            xml_ncname!("password"),
            xml_ncname!("thread"),
        ],
    )?;
    let resume = bool_at(invite, "continue", "invite")?;
    set_attr(&mut element, xml_ncname!("continue"), resume.map(xs_bool));
    Ok(element)
}

/// XEP-0297 `<forwarded/>`: an optional delay and the forwarded message, mapped recursively.
fn forwarded_element(
    value: &Value,
    key: &'static str,
    depth: usize,
    forward: BuildForwarded,
) -> Result<Element> {
    let forwarded = as_object(value, key)?;
    let mut element = Element::bare("forwarded", ns::FORWARD);
    if let Some(stamp) = string_at(forwarded, "delay", key)? {
        element.append_child(delay_element(stamp));
    }
    let message =
        field(forwarded, "message").ok_or_else(|| invalid(key, "'message' is required"))?;
    element.append_child(forward(message, key, depth)?);
    Ok(element)
}

pub(super) fn message_json(
    stanza: &Element,
    depth: usize,
    out: &mut Object,
    render: RenderForwarded,
) {
    for key in ["body", "subject"] {
        if let Some(child) = stanza.get_child(key, ns::CLIENT) {
            insert_str(out, key, &child.text());
        }
    }
    if let Some(thread) = stanza.get_child("thread", ns::CLIENT) {
        let mut json = Object::new();
        let id = thread.text();
        if !id.is_empty() {
            json.insert("id".into(), id.into());
        }
        if let Some(parent) = thread.attr("parent") {
            insert_str(&mut json, "parent", parent);
        }
        out.insert("thread".into(), json.into());
    }
    let state = stanza
        .children()
        .find(|child| child.has_ns(ns::CHATSTATES) && STATES.contains(&child.name()));
    if let Some(state) = state {
        insert_str(out, "state", state.name());
    }
    let single_attrs = [
        ("replace", "replace", ns::MESSAGE_CORRECT, "id"),
        ("occupant_id", "occupant-id", ns::OCCUPANT_ID, "id"),
        ("attach_to", "attach-to", ns::ATTACHING, "id"),
        ("displayed", "displayed", ns::CHAT_MARKERS, "id"),
        ("encryption", "encryption", ns::EME, "namespace"),
    ];
    for (key, name, namespace, attr) in single_attrs {
        if let Some(value) = stanza.get_child(name, namespace).and_then(|c| c.attr(attr)) {
            insert_str(out, key, value);
        }
    }
    if let Some(reactions) = stanza.get_child("reactions", ns::REACTIONS) {
        let mut json = Object::new();
        copy_attrs(reactions, &mut json, &["id"]);
        let list: Vec<Value> = reactions
            .children()
            .filter(|child| child.is("reaction", ns::REACTIONS))
            .map(|reaction| reaction.text().into())
            .collect();
        json.insert("reactions".into(), list.into());
        out.insert("reactions".into(), json.into());
    }
    if let Some(reply) = stanza.get_child("reply", ns::REPLY) {
        out.insert("reply".into(), attrs_json(reply, &["id", "to"]));
    }
    let stanza_ids = stanza_ids_json(stanza);
    if !stanza_ids.is_empty() {
        out.insert("stanza_ids".into(), stanza_ids.into());
    }
    for (key, name, namespace) in [
        ("fallback", "fallback", ns::FALLBACK),
        ("markable", "markable", ns::CHAT_MARKERS),
    ] {
        if stanza.get_child(name, namespace).is_some() {
            out.insert(key.into(), true.into());
        }
    }
    if let Some(reference) = stanza.get_child("reference", ns::REFERENCE) {
        let mut json = Object::new();
        copy_attrs(reference, &mut json, &["type", "uri"]);
        for name in ["begin", "end"] {
            if let Some(offset) = reference.attr(name).and_then(parse_uint) {
                json.insert(name.into(), offset.into());
            }
        }
        out.insert("reference".into(), json.into());
    }
    if let Some(invite) = stanza.get_child("x", ns::CONFERENCE) {
        let mut json = Object::new();
        copy_attrs(invite, &mut json, &["jid", "reason", "password", "thread"]);
        if let Some(resume) = invite.attr("continue").and_then(parse_bool) {
            json.insert("continue".into(), resume.into());
        }
        out.insert("invite".into(), json.into());
    }
    if let Some(result) = stanza.get_child("result", ns::MAM) {
        let mut json = Object::new();
        copy_attrs(result, &mut json, &["queryid", "id"]);
        if let Some(forward) = result.get_child("forwarded", ns::FORWARD) {
            json.insert("forward".into(), forwarded_json(forward, depth, render));
        }
        out.insert("archive".into(), json.into());
    }
    if let Some(forwarded) = stanza.get_child("forwarded", ns::FORWARD) {
        out.insert("forwarded".into(), forwarded_json(forwarded, depth, render));
    }
}

fn forwarded_json(forwarded: &Element, depth: usize, render: RenderForwarded) -> Value {
    let mut json = Object::new();
    if let Some(stamp) = delay_json(forwarded) {
        insert_str(&mut json, "delay", stamp);
    }
    let message = forwarded
        .get_child("message", ns::CLIENT)
        .and_then(|message| render(message, depth));
    if let Some(message) = message {
        json.insert("message".into(), message);
    }
    json.into()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_roundtrip, invalid_key, roundtrip, to_json, to_stanza, xml};
    use serde_json::json;

    #[test]
    fn roundtrip_state() {
        for state in super::STATES {
            assert_roundtrip(json!({"kind": "message", "type": "chat", "state": state}));
        }
        assert_eq!(
            to_stanza(json!({"state": "composing"})),
            xml(
                r#"<message xmlns="jabber:client"><composing xmlns="http://jabber.org/protocol/chatstates"/></message>"#
            )
        );
    }

    #[test]
    fn roundtrip_replace() {
        assert_roundtrip(json!({"kind": "message", "body": "fixed", "replace": "m-1"}));
        assert_eq!(
            to_stanza(json!({"replace": "m-1"})),
            xml(
                r#"<message xmlns="jabber:client"><replace xmlns="urn:xmpp:message-correct:0" id="m-1"/></message>"#
            )
        );
    }

    #[test]
    fn roundtrip_reactions() {
        assert_roundtrip(
            json!({"kind": "message", "reactions": {"id": "m-1", "reactions": ["👍", "🐢"]}}),
        );
        assert_roundtrip(json!({"kind": "message", "reactions": {"id": "m-1", "reactions": []}}));
    }

    #[test]
    fn roundtrip_reply() {
        assert_roundtrip(
            json!({"kind": "message", "body": "yes", "reply": {"id": "m-1", "to": "juliet@capulet.lit/balcony"}}),
        );
        assert_eq!(
            to_stanza(json!({"reply": {"id": "m-1"}})),
            xml(
                r#"<message xmlns="jabber:client"><reply xmlns="urn:xmpp:reply:0" id="m-1"/></message>"#
            )
        );
    }

    #[test]
    fn roundtrip_stanza_ids() {
        assert_roundtrip(json!({"kind": "message", "stanza_ids": [
            {"id": "s-1", "by": "romeo@montague.lit"}, {"id": "s-2", "by": "room@muc.montague.lit"}
        ]}));
    }

    #[test]
    fn roundtrip_occupant_id_attach_to_displayed_encryption() {
        assert_roundtrip(json!({
            "kind": "message", "type": "groupchat", "occupant_id": "dd72603d", "attach_to": "m-0",
            "displayed": "m-9", "encryption": "eu.siacs.conversations.axolotl"
        }));
    }

    #[test]
    fn roundtrip_fallback_and_markable() {
        assert_roundtrip(json!({"kind": "message", "fallback": true, "markable": true}));
        assert_eq!(
            to_stanza(json!({"body": "x", "fallback": false, "markable": "1"})),
            xml(
                r#"<message xmlns="jabber:client"><body>x</body><markable xmlns="urn:xmpp:chat-markers:0"/></message>"#
            )
        );
    }

    #[test]
    fn roundtrip_reference() {
        assert_roundtrip(
            json!({"kind": "message", "body": "hi @juliet", "reference": {
                "type": "mention", "uri": "xmpp:juliet@capulet.lit", "begin": 3, "end": 10
            }}),
        );
    }

    #[test]
    fn roundtrip_invite() {
        assert_roundtrip(json!({"kind": "message", "invite": {
            "jid": "darkcave@macbeth.shakespeare.lit", "reason": "Hey", "password": "cauldron",
            "thread": "e0ffe42b", "continue": true
        }}));
        assert_eq!(
            roundtrip(json!({"invite": {"jid": "Room@MUC.example", "continue": "0"}}))["invite"],
            json!({"jid": "room@muc.example", "continue": false})
        );
    }

    #[test]
    fn roundtrip_forwarded_recursively() {
        assert_roundtrip(json!({"kind": "message", "forwarded": {
            "delay": "2010-07-10T23:08:25Z",
            "message": {"type": "chat", "from": "romeo@montague.lit/orchard", "to": "juliet@capulet.lit",
                        "id": "0202197", "body": "Yet I should kill thee", "forwarded": {
                            "message": {"body": "inner", "state": "active"}
                        }}
        }}));
    }

    #[test]
    fn roundtrip_mam_result_message() {
        let stanza = xml(concat!(
            r#"<message xmlns="jabber:client" id="aeb213" to="juliet@capulet.lit/chamber">"#,
            r#"<result xmlns="urn:xmpp:mam:2" queryid="f27" id="28482-98726-73623">"#,
            r#"<forwarded xmlns="urn:xmpp:forward:0"><delay xmlns="urn:xmpp:delay" stamp="2010-07-10T23:08:25Z"/>"#,
            r#"<message xmlns="jabber:client" to="juliet@capulet.lit/balcony" from="romeo@montague.lit/orchard" type="chat">"#,
            r#"<body>Call me but love</body></message></forwarded></result></message>"#
        ));
        let json = json!({
            "kind": "message", "id": "aeb213", "to": "juliet@capulet.lit/chamber",
            "archive": {"queryid": "f27", "id": "28482-98726-73623", "forward": {
                "delay": "2010-07-10T23:08:25Z",
                "message": {"to": "juliet@capulet.lit/balcony", "from": "romeo@montague.lit/orchard",
                            "type": "chat", "body": "Call me but love"}
            }}
        });
        assert_eq!(to_json(&stanza), json);
        assert_eq!(to_stanza(json), stanza);
    }

    #[test]
    fn forwarding_depth_is_bounded() {
        let mut message = json!({"body": "deep"});
        for _ in 0..20 {
            message = json!({"forwarded": {"message": message}});
        }
        assert_eq!(invalid_key(message), "forwarded");
    }

    #[test]
    fn invalid_message_values_are_rejected() {
        for (value, key) in [
            (json!({"state": "typing"}), "state"),
            (json!({"replace": 1}), "replace"),
            (json!({"reactions": {"reactions": ["x"]}}), "reactions"),
            (
                json!({"reactions": {"id": "1", "reactions": [1]}}),
                "reactions",
            ),
            (json!({"reply": {"to": "a@b"}}), "reply"),
            (json!({"reply": "m-1"}), "reply"),
            (json!({"stanza_ids": {"id": "1"}}), "stanza_ids"),
            (json!({"stanza_ids": [{"id": "1"}]}), "stanza_ids"),
            (
                json!({"stanza_ids": [{"id": "1", "by": "@bad"}]}),
                "stanza_ids",
            ),
            (json!({"fallback": "sure"}), "fallback"),
            (json!({"reference": {"type": "mention"}}), "reference"),
            (
                json!({"reference": {"type": "mention", "uri": "x", "begin": -1}}),
                "reference",
            ),
            (json!({"invite": {"reason": "no jid"}}), "invite"),
            (
                json!({"invite": {"jid": "a@b", "continue": "maybe"}}),
                "invite",
            ),
            (json!({"archive": "x", "kind": "message"}), "archive"),
            (json!({"forwarded": {"delay": "x"}}), "forwarded"),
            (json!({"forwarded": {"message": "hi"}}), "forwarded"),
            (
                json!({"forwarded": {"message": {"kind": "iq"}}}),
                "forwarded",
            ),
            (
                json!({"forwarded": {"message": {"to": "@bad"}}}),
                "forwarded",
            ),
            (
                json!({"forwarded": {"message": {"type": "get"}}}),
                "forwarded",
            ),
        ] {
            assert_eq!(invalid_key(value.clone()), key, "{value}");
        }
    }
}
