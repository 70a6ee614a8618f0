//! JSON ⇄ stanza mapping behind `/rest`, compatible with Prosody mod_rest's JSON format (§6),
//! one submodule per concern; JIDs are validated here, authorisation and routing happen elsewhere.

mod common;
mod forms;
mod iq;
mod message;
mod presence;
mod types;
mod value;

use minidom::Element;
use rxml::{Namespace, xml_ncname};
use serde_json::Value;

use crate::ns;
pub use types::JsonMapError;
use types::{Kind, Object, Result};
use value::{field, insert_str, invalid, normalise_jid, set_attr, string_at};

/// How many messages may be forwarded inside one another (XEP-0297 nests, e.g. a MAM result of
/// a carbon); bounds the recursion on hostile input in both directions.
const MAX_FORWARD_DEPTH: usize = 8;

/// mod_rest's `implied_types`, plus `block`: XEP-0191 blocking is always a set, and without it
/// `{"block": [...]}` became an empty message.
const IMPLIED_TYPES: [(&str, &str); 3] = [("command", "set"), ("archive", "set"), ("block", "set")];

/// mod_rest's `implied_kinds` (the first 16), extended with every key that belongs to one kind
/// only, so that e.g. `{"muc": {}}` is a presence rather than an empty message. Lua iterates
/// these in hash order; a fixed order makes a payload carrying keys of several kinds map
/// deterministically.
const IMPLIED_KINDS: [(&str, Kind); 41] = [
    ("disco", Kind::Iq),
    ("items", Kind::Iq),
    ("ping", Kind::Iq),
    ("version", Kind::Iq),
    ("command", Kind::Iq),
    ("archive", Kind::Iq),
    ("body", Kind::Message),
    ("html", Kind::Message),
    ("replace", Kind::Message),
    ("state", Kind::Message),
    ("subject", Kind::Message),
    ("thread", Kind::Message),
    ("join", Kind::Presence),
    ("priority", Kind::Presence),
    ("show", Kind::Presence),
    ("status", Kind::Presence),
    ("lastactivity", Kind::Iq),
    ("stats", Kind::Iq),
    ("extdisco", Kind::Iq),
    ("upload_request", Kind::Iq),
    ("upload_slot", Kind::Iq),
    ("gateway", Kind::Iq),
    ("register", Kind::Iq),
    ("block", Kind::Iq),
    ("blocklist", Kind::Iq),
    ("reactions", Kind::Message),
    ("reply", Kind::Message),
    ("stanza_ids", Kind::Message),
    ("occupant_id", Kind::Message),
    ("attach_to", Kind::Message),
    ("fallback", Kind::Message),
    ("reference", Kind::Message),
    ("markable", Kind::Message),
    ("displayed", Kind::Message),
    ("encryption", Kind::Message),
    ("invite", Kind::Message),
    ("forwarded", Kind::Message),
    ("caps", Kind::Presence),
    ("muc", Kind::Presence),
    ("vcard_update", Kind::Presence),
    ("idle_since", Kind::Presence),
];

/// Builds a stanza (`jabber:client` message, presence or iq) from a mod_rest JSON object.
pub fn json_to_stanza(value: &Value) -> Result<Element> {
    // mod_rest also rejects `{}`: Lua cannot tell an empty object from an empty array.
    let obj = value
        .as_object()
        .filter(|obj| !obj.is_empty())
        .ok_or(JsonMapError::NotAnObject)?;
    let (kind, stanza_type) = resolve_kind_and_type(obj)?;
    build(obj, kind, stanza_type, 0)
}

/// Renders a stanza as a mod_rest JSON object; children without a JSON mapping are dropped.
pub fn stanza_to_json(stanza: &Element) -> Result<Value> {
    let kind = stanza_kind(stanza)?;
    let mut out = Object::new();
    out.insert("kind".into(), kind.name().into());
    if let (Kind::Presence, None) = (kind, stanza.attr("type")) {
        insert_str(&mut out, "type", "available");
    }
    for (key, error) in [
        ("to", JsonMapError::InvalidTo),
        ("from", JsonMapError::InvalidFrom),
    ] {
        if let Some(jid) = stanza.attr(key) {
            out.insert(key.into(), normalise_jid(jid).ok_or(error)?.into());
        }
    }
    render(stanza, kind, 0, &mut out);
    Ok(Value::Object(out))
}

/// The attributes and children of a stanza whose kind and type are settled.
fn build(obj: &Object, kind: Kind, stanza_type: Option<&str>, depth: usize) -> Result<Element> {
    let error = field(obj, "error").map(common::error_element).transpose()?;
    if error.is_none() && stanza_type == Some("error") {
        return Err(invalid("error", "type 'error' requires an 'error' object"));
    }

    let mut stanza = Element::bare(kind.name(), ns::CLIENT);
    let stanza_type = if error.is_some() {
        Some("error")
    } else {
        stanza_type
    };
    set_attr(&mut stanza, xml_ncname!("type"), stanza_type);
    set_attr(
        &mut stanza,
        xml_ncname!("to"),
        jid_value(obj, "to", JsonMapError::InvalidTo)?.as_deref(),
    );
    // mod_rest only set `from` when `to` was a string; a reply to oneself needs `from` alone.
    set_attr(
        &mut stanza,
        xml_ncname!("from"),
        jid_value(obj, "from", JsonMapError::InvalidFrom)?.as_deref(),
    );
    set_attr(&mut stanza, xml_ncname!("id"), string_at(obj, "id", "id")?);
    if let Some(lang) = string_at(obj, "lang", "lang")? {
        stanza.set_attr(Namespace::XML, xml_ncname!("lang").to_owned(), lang);
    }

    // Like mod_rest's `st.error_reply`, an error stanza carries only the error, not the payload.
    let children = match error {
        Some(error) => vec![error],
        None => {
            let mut children = match kind {
                Kind::Message => message::message_children(obj, depth, forwarded_message)?,
                Kind::Presence => presence::presence_children(obj)?,
                Kind::Iq => iq::iq_children(obj)?,
            };
            children.extend(common::common_children(obj, kind)?);
            children
        }
    };
    for child in children {
        stanza.append_child(child);
    }
    Ok(stanza)
}

/// The message inside `forwarded` (or a MAM result's `forward`): a message object without
/// implied kinds or default types, whose faults are blamed on the enclosing `key`.
fn forwarded_message(value: &Value, key: &'static str, depth: usize) -> Result<Element> {
    if depth >= MAX_FORWARD_DEPTH {
        return Err(invalid(key, "forwarded messages are nested too deeply"));
    }
    let obj = value
        .as_object()
        .ok_or_else(|| invalid(key, "'message' must be an object"))?;
    if let Some(kind) = string_at(obj, "kind", key)?.filter(|kind| *kind != "message") {
        return Err(invalid(key, format!("cannot forward a '{kind}'")));
    }
    let stanza_type = string_at(obj, "type", key)?;
    if let Some(stanza_type) = stanza_type
        && !Kind::Message.valid_types().contains(&stanza_type)
    {
        return Err(invalid(
            key,
            format!("'{stanza_type}' is not a message type"),
        ));
    }
    build(obj, Kind::Message, stanza_type, depth + 1).map_err(|err| match err {
        JsonMapError::InvalidTo | JsonMapError::InvalidFrom => {
            invalid(key, "the forwarded message has an invalid JID")
        }
        other => other,
    })
}

/// Renders a forwarded message like mod_rest's schema does: no `kind`, and addresses kept as
/// written when they are not valid JIDs (they describe history, not a route).
fn forwarded_message_json(message: &Element, depth: usize) -> Option<Value> {
    if depth >= MAX_FORWARD_DEPTH {
        return None;
    }
    let mut out = Object::new();
    for key in ["to", "from"] {
        if let Some(jid) = message.attr(key) {
            let jid = normalise_jid(jid).unwrap_or_else(|| jid.to_owned());
            out.insert(key.into(), jid.into());
        }
    }
    render(message, Kind::Message, depth + 1, &mut out);
    Some(out.into())
}

/// Everything but `kind` and the addresses, which differ between top-level and forwarded stanzas.
fn render(stanza: &Element, kind: Kind, depth: usize, out: &mut Object) {
    let stanza_type = stanza.attr("type");
    if let Some(stanza_type) = stanza_type {
        insert_str(out, "type", stanza_type);
    }
    if let Some(id) = stanza.attr("id") {
        insert_str(out, "id", id);
    }
    if let Some(lang) = stanza.attr_ns(ns::XML, "lang") {
        insert_str(out, "lang", lang);
    }
    match kind {
        Kind::Message => message::message_json(stanza, depth, out, forwarded_message_json),
        Kind::Presence => presence::presence_json(stanza, out),
        Kind::Iq => iq::iq_json(stanza, stanza_type, out),
    }
    let is_error = stanza_type == Some("error");
    common::common_json(stanza, kind, is_error, out);
    if is_error {
        out.insert("error".into(), common::error_json(stanza));
    }
}

fn resolve_kind_and_type(obj: &Object) -> Result<(Kind, Option<&str>)> {
    let explicit_type = string_at(obj, "type", "type")?;
    let implied_type = implied(&IMPLIED_TYPES, obj);
    let kind = match string_at(obj, "kind", "kind")? {
        Some(name) => {
            Kind::from_name(name).ok_or_else(|| JsonMapError::UnknownKind(name.into()))?
        }
        None => explicit_type
            .or(implied_type)
            .and_then(Kind::by_type)
            .or_else(|| implied(&IMPLIED_KINDS, obj))
            .unwrap_or(Kind::Message),
    };
    // The implied `set` belongs to iq payloads; it must not turn an explicit message into type="set".
    let stanza_type = explicit_type.or(implied_type.filter(|_| kind == Kind::Iq));
    let stanza_type = match (kind, stanza_type) {
        (Kind::Presence, Some("available")) => None,
        (Kind::Iq, None) => Some("get"),
        (_, stanza_type) => stanza_type,
    };
    if let Some(stanza_type) = stanza_type
        && !kind.valid_types().contains(&stanza_type)
    {
        let reason = format!("'{stanza_type}' is not a {} type", kind.name());
        return Err(invalid("type", reason));
    }
    Ok((kind, stanza_type))
}

fn implied<T: Copy>(table: &[(&str, T)], obj: &Object) -> Option<T> {
    table
        .iter()
        .find(|(key, _)| value::enabled(obj, key).is_some())
        .map(|&(_, implied)| implied)
}

fn stanza_kind(stanza: &Element) -> Result<Kind> {
    if stanza.ns() != ns::CLIENT {
        return Err(JsonMapError::UnknownKind(format!(
            "{{{}}}{}",
            stanza.ns(),
            stanza.name()
        )));
    }
    Kind::from_name(stanza.name()).ok_or_else(|| JsonMapError::UnknownKind(stanza.name().into()))
}

fn jid_value(obj: &Object, key: &str, error: JsonMapError) -> Result<Option<String>> {
    match field(obj, key) {
        None => Ok(None),
        Some(Value::String(jid)) => normalise_jid(jid).map(Some).ok_or(error),
        Some(_) => Err(error),
    }
}

#[cfg(test)]
mod tests;
