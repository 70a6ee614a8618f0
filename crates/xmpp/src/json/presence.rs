//! Presence keys (mod_rest §6.5): show, status, priority, entity capabilities, MUC join,
//! vCard avatar updates and idle time.

use minidom::Element;
use rxml::xml_ncname;
use serde_json::Value;

use super::types::{Object, Result};
use super::value::{
    bool_value, child_text, copy_attrs, enabled, field, insert_str, invalid, object_at,
    object_or_true, parse_uint, set_attr, single_attr_element, string_at, string_attrs,
    text_element, uint_at,
};
use crate::ns;

pub(super) const SHOW_VALUES: [&str; 4] = ["away", "chat", "dnd", "xa"];

/// The integer attributes of `<history/>`.
const HISTORY_LIMITS: [&str; 3] = ["maxchars", "maxstanzas", "seconds"];

pub(super) fn presence_children(obj: &Object) -> Result<Vec<Element>> {
    let mut children = Vec::new();
    if let Some(show) = string_at(obj, "show", "show")? {
        if !SHOW_VALUES.contains(&show) {
            return Err(invalid("show", "expected one of away, chat, dnd, xa"));
        }
        children.push(text_element("show", ns::CLIENT, show));
    }
    if let Some(status) = string_at(obj, "status", "status")? {
        children.push(text_element("status", ns::CLIENT, status));
    }
    if let Some(priority) = field(obj, "priority") {
        let priority = priority_value(priority)?.to_string();
        children.push(text_element("priority", ns::CLIENT, &priority));
    }
    if let Some(caps) = object_at(obj, "caps", "caps")? {
        let mut c = Element::bare("c", ns::CAPS);
        string_attrs(
            &mut c,
            caps,
            "caps",
            &[
                xml_ncname!("hash"),
                xml_ncname!("node"),
                xml_ncname!("ver"),
                xml_ncname!("ext"),
            ],
        )?;
        children.push(c);
    }
    if let Some(muc) = muc_element(obj)? {
        children.push(muc);
    }
    if let Some(update) = object_at(obj, "vcard_update", "vcard_update")? {
        let mut x = Element::bare("x", ns::VCARD_UPDATE);
        if let Some(photo) = string_at(update, "photo", "vcard_update")? {
            x.append_child(text_element("photo", ns::VCARD_UPDATE, photo));
        }
        children.push(x);
    }
    if let Some(since) = string_at(obj, "idle_since", "idle_since")? {
        children.push(single_attr_element(
            "idle",
            ns::IDLE,
            xml_ncname!("since"),
            since,
        ));
    }
    Ok(children)
}

/// Strings are accepted because form-encoded and query-string requests carry every value as text.
fn priority_value(value: &Value) -> Result<i8> {
    let parsed = match value {
        Value::Number(number) => number.as_i64().and_then(|n| i8::try_from(n).ok()),
        Value::String(text) => text.trim().parse::<i8>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| invalid("priority", "expected an integer from -128 to 127"))
}

/// `muc` (`true` or `{history, password}`), or mod_rest's older `join: true` meaning `muc: {}`.
/// `password` is an extension: joining a protected room needs it.
fn muc_element(obj: &Object) -> Result<Option<Element>> {
    let muc = match enabled(obj, "muc") {
        Some(muc) => object_or_true(muc, "muc")?,
        None => match enabled(obj, "join") {
            Some(join) if bool_value(join, "join")? => None,
            _ => return Ok(None),
        },
    };
    let mut x = Element::bare("x", ns::MUC);
    let Some(muc) = muc else {
        return Ok(Some(x));
    };
    if let Some(history) = object_at(muc, "history", "muc")? {
        let mut element = Element::bare("history", ns::MUC);
        let limits = [
            xml_ncname!("maxchars"),
            xml_ncname!("maxstanzas"),
            xml_ncname!("seconds"),
        ];
        for name in limits {
            let limit = uint_at(history, name.as_str(), "muc", u64::MAX)?.map(|n| n.to_string());
            set_attr(&mut element, name, limit.as_deref());
        }
        string_attrs(&mut element, history, "muc", &[xml_ncname!("since")])?;
        x.append_child(element);
    }
    if let Some(password) = string_at(muc, "password", "muc")? {
        x.append_child(text_element("password", ns::MUC, password));
    }
    Ok(Some(x))
}

pub(super) fn presence_json(stanza: &Element, out: &mut Object) {
    for key in ["show", "status"] {
        if let Some(child) = stanza.get_child(key, ns::CLIENT) {
            insert_str(out, key, &child.text());
        }
    }
    // A peer's out-of-range priority is dropped rather than failing the whole stanza.
    let priority = stanza
        .get_child("priority", ns::CLIENT)
        .and_then(|priority| priority.text().trim().parse::<i8>().ok());
    if let Some(priority) = priority {
        out.insert("priority".into(), priority.into());
    }
    if let Some(c) = stanza.get_child("c", ns::CAPS) {
        let mut json = Object::new();
        copy_attrs(c, &mut json, &["hash", "node", "ver", "ext"]);
        out.insert("caps".into(), json.into());
    }
    if let Some(x) = stanza.get_child("x", ns::MUC) {
        let mut json = Object::new();
        if let Some(history) = x.get_child("history", ns::MUC) {
            let mut limits = Object::new();
            for name in HISTORY_LIMITS {
                if let Some(limit) = history.attr(name).and_then(parse_uint) {
                    limits.insert(name.into(), limit.into());
                }
            }
            copy_attrs(history, &mut limits, &["since"]);
            json.insert("history".into(), limits.into());
        }
        if let Some(password) = child_text(x, "password", ns::MUC) {
            insert_str(&mut json, "password", &password);
        }
        out.insert("muc".into(), json.into());
    }
    if let Some(x) = stanza.get_child("x", ns::VCARD_UPDATE) {
        let mut json = Object::new();
        if let Some(photo) = child_text(x, "photo", ns::VCARD_UPDATE) {
            insert_str(&mut json, "photo", &photo);
        }
        out.insert("vcard_update".into(), json.into());
    }
    if let Some(since) = stanza
        .get_child("idle", ns::IDLE)
        .and_then(|idle| idle.attr("since"))
    {
        insert_str(out, "idle_since", since);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_roundtrip, invalid_key, roundtrip, to_stanza, xml};
    use serde_json::json;

    #[test]
    fn roundtrip_caps() {
        assert_roundtrip(json!({"kind": "presence", "type": "available", "caps": {
            "hash": "sha-1", "node": "https://example.com", "ver": "QgayPKawpkPSDYmwT/WM94uAlu0=", "ext": "x"
        }}));
    }

    #[test]
    fn roundtrip_muc_with_history() {
        assert_roundtrip(
            json!({"kind": "presence", "type": "available", "to": "room@muc.example.com/nick",
            "muc": {"history": {"maxchars": 65000, "maxstanzas": 20, "seconds": 180, "since": "1970-01-01T00:00:00Z"}}}),
        );
        assert_roundtrip(
            json!({"kind": "presence", "type": "available", "muc": {"password": "cauldronburn"}}),
        );
        assert_roundtrip(json!({"kind": "presence", "type": "available", "muc": {}}));
        assert_eq!(
            to_stanza(json!({"kind": "presence", "muc": {"history": {"maxstanzas": "0"}}})),
            xml(
                r#"<presence xmlns="jabber:client"><x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="0"/></x></presence>"#
            )
        );
    }

    #[test]
    fn join_true_means_an_empty_muc_element() {
        let join = xml(
            r#"<presence xmlns="jabber:client" to="room@muc.example.com/nick"><x xmlns="http://jabber.org/protocol/muc"/></presence>"#,
        );
        assert_eq!(
            to_stanza(json!({"join": true, "to": "room@muc.example.com/nick"})),
            join
        );
        assert_eq!(
            to_stanza(
                json!({"kind": "presence", "join": "true", "to": "room@muc.example.com/nick"})
            ),
            join
        );
        assert_eq!(
            to_stanza(json!({"kind": "presence", "muc": true, "to": "room@muc.example.com/nick"})),
            join
        );
        assert_eq!(roundtrip(json!({"join": true}))["muc"], json!({}));
        assert_eq!(
            to_stanza(json!({"kind": "presence", "join": false})),
            xml(r#"<presence xmlns="jabber:client"/>"#)
        );
        assert_eq!(
            roundtrip(json!({"join": true, "muc": {"password": "p"}}))["muc"],
            json!({"password": "p"})
        );
    }

    #[test]
    fn roundtrip_vcard_update() {
        assert_roundtrip(
            json!({"kind": "presence", "type": "available", "vcard_update": {"photo": "sha1-hash-of-image"}}),
        );
        assert_roundtrip(
            json!({"kind": "presence", "type": "available", "vcard_update": {"photo": ""}}),
        );
        assert_roundtrip(json!({"kind": "presence", "type": "available", "vcard_update": {}}));
    }

    #[test]
    fn roundtrip_idle_since() {
        assert_roundtrip(
            json!({"kind": "presence", "type": "available", "show": "away", "idle_since": "1969-07-21T02:56:15Z"}),
        );
    }

    #[test]
    fn invalid_presence_values_are_rejected() {
        for (value, key) in [
            (json!({"caps": "x"}), "caps"),
            (json!({"caps": {"ver": 1}}), "caps"),
            (json!({"muc": "room"}), "muc"),
            (json!({"muc": {"history": {"maxstanzas": -1}}}), "muc"),
            (json!({"muc": {"password": 1}}), "muc"),
            (json!({"join": "perhaps"}), "join"),
            (json!({"vcard_update": {"photo": 1}}), "vcard_update"),
            (json!({"idle_since": 1}), "idle_since"),
        ] {
            assert_eq!(invalid_key(value.clone()), key, "{value}");
        }
    }
}
