//! JSON ⇄ stanza mapping behind `/rest`, compatible with Prosody mod_rest's JSON format (§6),
//! one submodule per concern; JIDs are validated here, authorisation and routing happen elsewhere.

mod common;
mod forms;
mod iq;
mod message;
mod presence;
mod value;

use minidom::Element;
use rxml::{Namespace, xml_ncname};
use serde_json::{Map, Value};

use crate::ns;
use value::{field, insert_str, invalid, normalise_jid, set_attr, string_at};

/// Errors from mapping JSON to a stanza or back; each maps to a mod_rest error key.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JsonMapError {
    /// mod_rest `invalid-json` → 400.
    #[error("JSON payload must be an object")]
    NotAnObject,
    /// mod_rest `unknown-kind` → 400.
    #[error("unknown stanza kind '{0}'")]
    UnknownKind(String),
    /// mod_rest `to` → 422 improper-addressing.
    #[error("invalid destination JID")]
    InvalidTo,
    /// mod_rest `from` → 422 invalid-from.
    #[error("invalid source JID")]
    InvalidFrom,
    /// A known key with a value that cannot be mapped → 400.
    #[error("invalid value for '{key}': {reason}")]
    InvalidValue { key: &'static str, reason: String },
}

type Object = Map<String, Value>;
type Result<T> = std::result::Result<T, JsonMapError>;

/// How many messages may be forwarded inside one another (XEP-0297 nests, e.g. a MAM result of
/// a carbon); bounds the recursion on hostile input in both directions.
const MAX_FORWARD_DEPTH: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Message,
    Presence,
    Iq,
}

impl Kind {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "message" => Some(Self::Message),
            "presence" => Some(Self::Presence),
            "iq" => Some(Self::Iq),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Presence => "presence",
            Self::Iq => "iq",
        }
    }

    /// mod_rest's `kind_by_type`; `error` is deliberately absent because every kind has it.
    fn by_type(stanza_type: &str) -> Option<Self> {
        match stanza_type {
            "get" | "set" | "result" => Some(Self::Iq),
            "normal" | "chat" | "headline" | "groupchat" => Some(Self::Message),
            "available" | "unavailable" | "subscribe" | "unsubscribe" | "subscribed"
            | "unsubscribed" => Some(Self::Presence),
            _ => None,
        }
    }

    /// RFC 6120/6121 types; presence `available` has already become "no attribute" here.
    fn valid_types(self) -> &'static [&'static str] {
        match self {
            Self::Message => &["normal", "chat", "headline", "groupchat", "error"],
            Self::Presence => &[
                "unavailable",
                "subscribe",
                "subscribed",
                "unsubscribe",
                "unsubscribed",
                "probe",
                "error",
            ],
            Self::Iq => &["get", "set", "result", "error"],
        }
    }
}

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
                Kind::Message => message::message_children(obj, depth)?,
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
        Kind::Message => message::message_json(stanza, depth, out),
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
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    pub(super) fn xml(text: &str) -> Element {
        text.parse().expect("test XML is well-formed")
    }

    pub(super) fn to_stanza(value: Value) -> Element {
        json_to_stanza(&value).expect("JSON maps to a stanza")
    }

    pub(super) fn to_json(stanza: &Element) -> Value {
        stanza_to_json(stanza).expect("stanza maps to JSON")
    }

    pub(super) fn roundtrip(value: Value) -> Value {
        to_json(&to_stanza(value))
    }

    pub(super) fn assert_roundtrip(value: Value) {
        assert_eq!(roundtrip(value.clone()), value);
    }

    pub(super) fn invalid_key(value: Value) -> &'static str {
        match json_to_stanza(&value) {
            Err(JsonMapError::InvalidValue { key, .. }) => key,
            other => panic!("expected InvalidValue for {value}, got {other:?}"),
        }
    }

    pub(super) fn reserialised(stanza: &Element) -> Element {
        let mut bytes = Vec::new();
        stanza.write_to(&mut bytes).expect("stanza serialises");
        let text = String::from_utf8(bytes).expect("serialised stanza is UTF-8");
        xml(&text)
    }

    // Golden examples from mod_rest's README (spec §12.1) and the shapes derived in §12.2.

    #[test]
    fn golden_readme_send_json_equals_send_xml() {
        let stanza = to_stanza(json!({
            "body": "Hello!", "kind": "message", "to": "user@example.org", "type": "chat"
        }));
        assert_eq!(
            stanza,
            xml(
                r#"<message xmlns="jabber:client" type="chat" to="user@example.org"><body>Hello!</body></message>"#
            )
        );
    }

    #[test]
    fn golden_readme_webhook_xml_to_json() {
        let stanza = xml(
            r#"<message xmlns="jabber:client" to="bot@rest.example.net" from="user@example.com" type="chat"><body>Hello</body></message>"#,
        );
        let expected = json!({
            "body": "Hello", "from": "user@example.com", "kind": "message",
            "to": "bot@rest.example.net", "type": "chat"
        });
        assert_eq!(to_json(&stanza), expected);
        assert_eq!(to_stanza(expected), stanza);
    }

    #[test]
    fn golden_readme_callback_reply_xml_to_json() {
        let stanza = xml(
            r#"<message xmlns="jabber:client" type="chat"><body>Yes, this is bot</body></message>"#,
        );
        assert_eq!(
            to_json(&stanza),
            json!({"kind": "message", "type": "chat", "body": "Yes, this is bot"})
        );
    }

    #[test]
    fn golden_readme_iq_ping() {
        let stanza = xml(
            r#"<iq xmlns="jabber:client" type="get" to="example.net"><ping xmlns="urn:xmpp:ping"/></iq>"#,
        );
        assert_eq!(
            to_stanza(json!({"ping": true, "to": "example.net"})),
            stanza
        );
        assert_eq!(
            to_json(&stanza),
            json!({"kind": "iq", "type": "get", "to": "example.net", "ping": true})
        );
    }

    #[test]
    fn golden_readme_commands_discover_request() {
        let request = json!({
            "items": {"node": "http://jabber.org/protocol/commands"},
            "id": "8iN9hwdAAcfTBchm", "kind": "iq", "to": "example.com", "type": "get"
        });
        assert_eq!(
            to_stanza(request),
            xml(concat!(
                r#"<iq xmlns="jabber:client" type="get" id="8iN9hwdAAcfTBchm" to="example.com">"#,
                r#"<query xmlns="http://jabber.org/protocol/disco#items" node="http://jabber.org/protocol/commands"/></iq>"#
            ))
        );
    }

    #[test]
    fn golden_readme_commands_discover_response() {
        let stanza = xml(concat!(
            r#"<iq xmlns="jabber:client" type="result" id="8iN9hwdAAcfTBchm" from="example.com">"#,
            r#"<query xmlns="http://jabber.org/protocol/disco#items">"#,
            r#"<item jid="example.com" name="Get uptime" node="uptime"/></query></iq>"#
        ));
        let response = json!({
            "from": "example.com", "id": "8iN9hwdAAcfTBchm",
            "items": [{"jid": "example.com", "name": "Get uptime", "node": "uptime"}],
            "kind": "iq", "type": "result"
        });
        assert_eq!(to_json(&stanza), response);
        assert_eq!(to_stanza(response), stanza);
    }

    #[test]
    fn golden_flask_app_disco_reply() {
        let reply = json!({"disco": {
            "identities": [{"category": "component", "type": "generic", "name": "Flask app"}],
            "features": [
                "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items",
                "jabber:iq:version", "urn:xmpp:ping"
            ]
        }});
        assert_eq!(
            to_stanza(reply),
            xml(concat!(
                r#"<iq xmlns="jabber:client" type="get"><query xmlns="http://jabber.org/protocol/disco#info">"#,
                r#"<identity category="component" type="generic" name="Flask app"/>"#,
                r#"<feature var="http://jabber.org/protocol/disco#info"/>"#,
                r#"<feature var="http://jabber.org/protocol/disco#items"/>"#,
                r#"<feature var="jabber:iq:version"/><feature var="urn:xmpp:ping"/></query></iq>"#
            ))
        );
    }

    #[test]
    fn golden_flask_app_items_reply() {
        assert_eq!(
            to_stanza(json!({"items": [{"jid": "example.org", "name": "Example Dot Org"}]})),
            xml(concat!(
                r#"<iq xmlns="jabber:client" type="get"><query xmlns="http://jabber.org/protocol/disco#items">"#,
                r#"<item jid="example.org" name="Example Dot Org"/></query></iq>"#
            ))
        );
    }

    #[test]
    fn golden_flask_app_version_reply() {
        assert_eq!(
            to_stanza(json!({"version": {"name": "app.py", "version": "0"}})),
            xml(concat!(
                r#"<iq xmlns="jabber:client" type="get"><query xmlns="jabber:iq:version">"#,
                r#"<name>app.py</name><version>0</version></query></iq>"#
            ))
        );
    }

    #[test]
    fn golden_flask_app_message_reply() {
        assert_eq!(
            to_stanza(json!({"body": "Yes this is flask app"})),
            xml(r#"<message xmlns="jabber:client"><body>Yes this is flask app</body></message>"#)
        );
    }

    #[test]
    fn golden_oauth_example_disco_request() {
        assert_eq!(
            to_stanza(json!({"disco": true, "to": "jabber.org"})),
            xml(
                r#"<iq xmlns="jabber:client" type="get" to="jabber.org"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>"#
            )
        );
    }

    #[test]
    fn golden_version_result() {
        let stanza = xml(concat!(
            r#"<iq xmlns="jabber:client" type="result" id="v1" from="example.com" to="romeo@example.com">"#,
            r#"<query xmlns="jabber:iq:version"><name>Prosody</name><version>13.0</version><os>Linux</os></query></iq>"#
        ));
        assert_eq!(
            to_json(&stanza),
            json!({
                "kind": "iq", "type": "result", "id": "v1", "from": "example.com", "to": "romeo@example.com",
                "version": {"name": "Prosody", "version": "13.0", "os": "Linux"}
            })
        );
    }

    #[test]
    fn golden_ping_result() {
        let stanza = xml(
            r#"<iq xmlns="jabber:client" type="result" id="p1" from="example.com" to="romeo@example.com"/>"#,
        );
        assert_eq!(
            to_json(&stanza),
            json!({"kind": "iq", "type": "result", "id": "p1", "from": "example.com", "to": "romeo@example.com"})
        );
    }

    #[test]
    fn golden_iq_error_service_unavailable() {
        let stanza = xml(concat!(
            r#"<iq xmlns="jabber:client" type="error" id="e1" from="nobody@example.com" to="romeo@example.com">"#,
            r#"<error type="cancel" by="example.com"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>"#,
            r#"<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">No such user</text></error></iq>"#
        ));
        let expected = json!({
            "kind": "iq", "type": "error", "id": "e1", "from": "nobody@example.com", "to": "romeo@example.com",
            "error": {"type": "cancel", "condition": "service-unavailable", "text": "No such user", "by": "example.com"}
        });
        assert_eq!(to_json(&stanza), expected);
        assert_eq!(to_stanza(expected), stanza);
    }

    #[test]
    fn golden_webhook_404_error() {
        let stanza = xml(concat!(
            r#"<iq xmlns="jabber:client" type="error"><error type="cancel">"#,
            r#"<item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>"#,
            r#"<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">Not Found</text></error></iq>"#
        ));
        let expected = json!({
            "kind": "iq", "type": "error",
            "error": {"type": "cancel", "condition": "item-not-found", "text": "Not Found"}
        });
        assert_eq!(to_json(&stanza), expected);
        assert_eq!(to_stanza(expected), stanza);
    }

    // One round trip per key.

    #[test]
    fn roundtrip_kind_and_type() {
        for (kind, stanza_type) in [
            ("message", "normal"),
            ("message", "chat"),
            ("message", "headline"),
            ("message", "groupchat"),
            ("presence", "available"),
            ("presence", "unavailable"),
            ("presence", "subscribe"),
            ("presence", "subscribed"),
            ("presence", "unsubscribe"),
            ("presence", "unsubscribed"),
            ("presence", "probe"),
            ("iq", "get"),
            ("iq", "set"),
            ("iq", "result"),
        ] {
            assert_roundtrip(json!({"kind": kind, "type": stanza_type}));
        }
        assert_roundtrip(json!({"kind": "message"}));
    }

    #[test]
    fn roundtrip_to_and_from_are_normalised() {
        let out =
            roundtrip(json!({"to": "Juliet@Capulet.LIT/Balcony", "from": "ROMEO@montague.lit"}));
        assert_eq!(
            out,
            json!({"kind": "message", "to": "juliet@capulet.lit/Balcony", "from": "romeo@montague.lit"})
        );
        assert_roundtrip(
            json!({"kind": "message", "to": "capulet.lit", "from": "romeo@montague.lit/orchard"}),
        );
    }

    #[test]
    fn roundtrip_id() {
        assert_roundtrip(json!({"kind": "message", "id": "Jv-87nRaP6Mnrp8l"}));
    }

    #[test]
    fn roundtrip_lang_uses_xml_namespace() {
        let stanza = to_stanza(json!({"lang": "en", "body": "Hi"}));
        assert_eq!(stanza.attr_ns(ns::XML, "lang"), Some("en"));
        assert_eq!(
            stanza,
            xml(r#"<message xmlns="jabber:client" xml:lang="en"><body>Hi</body></message>"#)
        );
        assert_eq!(reserialised(&stanza), stanza);
        assert_roundtrip(json!({"kind": "presence", "type": "available", "lang": "de-CH"}));
    }

    #[test]
    fn roundtrip_error() {
        assert_roundtrip(json!({
            "kind": "message", "type": "error", "id": "m1", "to": "romeo@montague.lit",
            "error": {"type": "modify", "condition": "bad-request", "text": "Nope", "by": "montague.lit"}
        }));
        assert_roundtrip(json!({
            "kind": "presence", "type": "error", "error": {"type": "auth", "condition": "forbidden"}
        }));
        assert_roundtrip(json!({
            "kind": "iq", "type": "error", "error": {"type": "wait", "condition": "resource-constraint", "text": ""}
        }));
    }

    #[test]
    fn error_object_forces_type_defaults_and_drops_payload() {
        let stanza =
            to_stanza(json!({"kind": "message", "type": "chat", "body": "dropped", "error": {}}));
        assert_eq!(
            stanza,
            xml(concat!(
                r#"<message xmlns="jabber:client" type="error"><error type="cancel">"#,
                r#"<undefined-condition xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>"#
            ))
        );
        let iq = to_stanza(
            json!({"kind": "iq", "ping": true, "error": {"condition": "item-not-found"}}),
        );
        assert_eq!(iq.attr("type"), Some("error"));
        assert!(iq.get_child("ping", ns::PING).is_none());
    }

    #[test]
    fn roundtrip_body() {
        assert_roundtrip(json!({"kind": "message", "body": "Wherefore art thou? <&> \"'"}));
        assert_roundtrip(json!({"kind": "message", "body": ""}));
    }

    #[test]
    fn roundtrip_subject() {
        assert_roundtrip(
            json!({"kind": "message", "type": "groupchat", "subject": "Balcony scene"}),
        );
    }

    #[test]
    fn roundtrip_thread() {
        assert_roundtrip(json!({"kind": "message", "thread": {"id": "t-1", "parent": "t-0"}}));
        assert_roundtrip(json!({"kind": "message", "thread": {"id": "t-1"}}));
        assert_eq!(
            to_stanza(json!({"body": "x", "thread": {"id": "t-1", "parent": "t-0"}})),
            xml(
                r#"<message xmlns="jabber:client"><body>x</body><thread parent="t-0">t-1</thread></message>"#
            )
        );
    }

    #[test]
    fn roundtrip_show() {
        for show in presence::SHOW_VALUES {
            assert_roundtrip(json!({"kind": "presence", "type": "available", "show": show}));
        }
    }

    #[test]
    fn roundtrip_status() {
        assert_roundtrip(
            json!({"kind": "presence", "type": "available", "status": "Out for lunch"}),
        );
    }

    #[test]
    fn roundtrip_priority() {
        for priority in [-128, -1, 0, 5, 127] {
            assert_roundtrip(
                json!({"kind": "presence", "type": "available", "priority": priority}),
            );
        }
        assert_eq!(
            to_stanza(json!({"priority": 5})),
            xml(r#"<presence xmlns="jabber:client"><priority>5</priority></presence>"#)
        );
    }

    #[test]
    fn priority_accepts_integer_strings_from_forms() {
        assert_eq!(
            roundtrip(json!({"priority": " -7 "})),
            json!({"kind": "presence", "type": "available", "priority": -7})
        );
    }

    #[test]
    fn roundtrip_ping() {
        assert_roundtrip(json!({"kind": "iq", "type": "get", "to": "example.net", "ping": true}));
    }

    #[test]
    fn roundtrip_version() {
        assert_roundtrip(json!({
            "kind": "iq", "type": "result", "version": {"name": "Switchboard", "version": "0.1.0", "os": "Linux"}
        }));
        assert_roundtrip(json!({"kind": "iq", "type": "result", "version": {"name": "bot"}}));
        assert_roundtrip(json!({"kind": "iq", "type": "get", "version": {}}));
    }

    #[test]
    fn version_request_true_is_empty_query() {
        let stanza = to_stanza(json!({"version": true, "to": "example.com"}));
        assert_eq!(
            stanza,
            xml(
                r#"<iq xmlns="jabber:client" type="get" to="example.com"><query xmlns="jabber:iq:version"/></iq>"#
            )
        );
        assert_eq!(to_json(&stanza)["version"], json!({}));
    }

    #[test]
    fn roundtrip_disco_request() {
        assert_roundtrip(json!({"kind": "iq", "type": "get", "disco": true}));
        assert_roundtrip(
            json!({"kind": "iq", "type": "get", "disco": "http://jabber.org/protocol/commands"}),
        );
        assert_eq!(
            to_stanza(json!({"disco": "n1"})),
            xml(
                r#"<iq xmlns="jabber:client" type="get"><query xmlns="http://jabber.org/protocol/disco#info" node="n1"/></iq>"#
            )
        );
    }

    #[test]
    fn roundtrip_disco_response() {
        assert_roundtrip(json!({
            "kind": "iq", "type": "result", "from": "example.com",
            "disco": {
                "node": "n1",
                "identities": [
                    {"category": "server", "type": "im", "name": "Switchboard"},
                    {"category": "pubsub", "type": "pep"}
                ],
                "features": ["http://jabber.org/protocol/disco#info", "urn:xmpp:ping"]
            }
        }));
    }

    #[test]
    fn disco_empty_result_is_an_empty_response() {
        assert_eq!(
            roundtrip(json!({"type": "result", "disco": true})),
            json!({"kind": "iq", "type": "result", "disco": {"identities": [], "features": []}})
        );
        assert_eq!(
            roundtrip(json!({"type": "result", "disco": "n1"})),
            json!({"kind": "iq", "type": "result", "disco": {"node": "n1", "identities": [], "features": []}})
        );
    }

    #[test]
    fn roundtrip_items_request() {
        assert_roundtrip(json!({"kind": "iq", "type": "get", "items": true}));
        assert_roundtrip(
            json!({"kind": "iq", "type": "get", "items": "http://jabber.org/protocol/commands"}),
        );
        assert_eq!(
            roundtrip(json!({"items": {"node": "n1"}})),
            json!({"kind": "iq", "type": "get", "items": "n1"})
        );
        assert_eq!(
            roundtrip(json!({"items": {}})),
            json!({"kind": "iq", "type": "get", "items": true})
        );
    }

    #[test]
    fn roundtrip_items_response() {
        assert_roundtrip(json!({
            "kind": "iq", "type": "result",
            "items": [
                {"jid": "conference.example.com", "name": "Chatrooms"},
                {"jid": "example.com", "node": "uptime", "name": "Get uptime"},
                {"jid": "pubsub.example.com"}
            ]
        }));
        assert_eq!(
            roundtrip(json!({"type": "result", "items": ["Upload.Example.com"]})),
            json!({"kind": "iq", "type": "result", "items": [{"jid": "upload.example.com"}]})
        );
        assert_eq!(
            roundtrip(json!({"type": "result", "items": true})),
            json!({"kind": "iq", "type": "result", "items": []})
        );
    }

    #[test]
    fn serialised_stanzas_reparse_to_the_same_element() {
        for value in [
            json!({"body": "a\r\nb\t<c> & \"d\"", "subject": "s", "thread": {"id": "t", "parent": "p"}, "lang": "en"}),
            json!({"kind": "presence", "show": "dnd", "status": "busy", "priority": -1}),
            json!({"disco": {"node": "n", "identities": [{"category": "a", "type": "b"}], "features": ["f"]}}),
            json!({"kind": "iq", "error": {"type": "modify", "condition": "bad-request", "text": "x", "by": "a.b"}}),
        ] {
            let stanza = to_stanza(value);
            assert_eq!(reserialised(&stanza), stanza);
        }
    }

    // Kind and type inference (spec §6.1).

    #[test]
    fn kind_inferred_from_type() {
        for (stanza_type, kind) in [
            ("get", "iq"),
            ("set", "iq"),
            ("result", "iq"),
            ("normal", "message"),
            ("chat", "message"),
            ("headline", "message"),
            ("groupchat", "message"),
            ("available", "presence"),
            ("unavailable", "presence"),
            ("subscribe", "presence"),
            ("unsubscribe", "presence"),
            ("subscribed", "presence"),
            ("unsubscribed", "presence"),
        ] {
            assert_eq!(
                to_stanza(json!({"type": stanza_type})).name(),
                kind,
                "type {stanza_type}"
            );
        }
    }

    #[test]
    fn kind_inferred_from_keys() {
        for (key, kind) in IMPLIED_KINDS {
            let value = match key {
                "ping" | "version" | "disco" | "items" | "join" | "fallback" | "markable"
                | "stats" | "blocklist" | "lastactivity" | "gateway" | "register" | "muc" => {
                    json!(true)
                }
                "thread" => json!({"id": "t-1"}),
                "priority" => json!(1),
                "show" => json!("away"),
                "state" => json!("active"),
                "archive" | "caps" | "vcard_update" | "extdisco" => json!({}),
                "reactions" | "reply" => json!({"id": "m-1"}),
                "stanza_ids" => json!([{"id": "s-1", "by": "example.com"}]),
                "reference" => json!({"type": "mention", "uri": "xmpp:a@example.com"}),
                "invite" => json!({"jid": "room@muc.example.com"}),
                "forwarded" => json!({"message": {"body": "x"}}),
                "block" => json!(["spam@example.com"]),
                "upload_request" => json!({"filename": "a.png", "size": 1}),
                "upload_slot" => {
                    json!({"put": {"url": "https://a/"}, "get": {"url": "https://a/"}})
                }
                _ => json!("x"),
            };
            let stanza = to_stanza(json!({ key: value }));
            assert_eq!(stanza.name(), kind.name(), "key {key}");
        }
    }

    #[test]
    fn type_wins_over_implied_keys_and_kind_wins_over_type() {
        assert_eq!(
            to_stanza(json!({"type": "chat", "status": "x"})).name(),
            "message"
        );
        assert_eq!(
            to_stanza(json!({"kind": "presence", "type": "unavailable", "body": "x"})),
            xml(r#"<presence xmlns="jabber:client" type="unavailable"/>"#)
        );
    }

    #[test]
    fn kind_defaults_to_message() {
        assert_eq!(
            to_stanza(json!({"to": "romeo@montague.lit"})),
            xml(r#"<message xmlns="jabber:client" to="romeo@montague.lit"/>"#)
        );
        assert_eq!(
            to_stanza(json!({"ping": false, "id": "1"})).name(),
            "message"
        );
    }

    #[test]
    fn iq_type_defaults_to_get() {
        assert_eq!(to_stanza(json!({"kind": "iq"})).attr("type"), Some("get"));
        assert_eq!(to_stanza(json!({"disco": true})).attr("type"), Some("get"));
    }

    #[test]
    fn command_archive_and_block_imply_iq_set() {
        for (key, value) in [
            ("command", json!("uptime")),
            ("archive", json!({})),
            ("block", json!([])),
        ] {
            let stanza = to_stanza(json!({ key: value }));
            assert_eq!(
                (stanza.name(), stanza.attr("type")),
                ("iq", Some("set")),
                "key {key}"
            );
        }
    }

    #[test]
    fn implied_set_only_applies_to_iq() {
        assert_eq!(
            to_stanza(json!({"kind": "message", "body": "x", "command": "uptime"})),
            xml(r#"<message xmlns="jabber:client"><body>x</body></message>"#)
        );
        assert_eq!(
            to_stanza(json!({"type": "result", "command": "uptime"})).attr("type"),
            Some("result")
        );
    }

    #[test]
    fn presence_available_is_no_type_attribute() {
        let stanza = to_stanza(json!({"type": "available", "show": "away"}));
        assert_eq!(
            stanza,
            xml(r#"<presence xmlns="jabber:client"><show>away</show></presence>"#)
        );
        assert_eq!(to_json(&stanza)["type"], "available");
    }

    #[test]
    fn null_values_are_absent() {
        assert_eq!(
            to_stanza(
                json!({"kind": "message", "type": null, "to": null, "id": null, "body": null, "error": null})
            ),
            xml(r#"<message xmlns="jabber:client"/>"#)
        );
    }

    #[test]
    fn unknown_keys_are_ignored() {
        assert_eq!(
            roundtrip(json!({"body": "hi", "frobnicate": [1, 2], "unblock": ["a@b"]})),
            json!({"kind": "message", "body": "hi"})
        );
    }

    #[test]
    fn keys_of_other_kinds_are_ignored() {
        assert_eq!(
            to_stanza(
                json!({"kind": "iq", "type": "get", "ping": true, "body": "x", "show": "away"})
            ),
            xml(r#"<iq xmlns="jabber:client" type="get"><ping xmlns="urn:xmpp:ping"/></iq>"#)
        );
        assert_eq!(
            to_stanza(json!({"kind": "message", "ping": true, "priority": 999})),
            xml(r#"<message xmlns="jabber:client"/>"#)
        );
    }

    // Error cases.

    #[test]
    fn non_object_payloads_are_rejected() {
        for value in [
            json!([]),
            json!([{"body": "x"}]),
            json!("x"),
            json!(1),
            json!(null),
            json!(true),
            json!({}),
        ] {
            assert_eq!(
                json_to_stanza(&value),
                Err(JsonMapError::NotAnObject),
                "{value}"
            );
        }
    }

    #[test]
    fn unknown_kind_is_rejected() {
        assert_eq!(
            json_to_stanza(&json!({"kind": "stream"})),
            Err(JsonMapError::UnknownKind("stream".into()))
        );
        assert_eq!(invalid_key(json!({"kind": 3})), "kind");
    }

    #[test]
    fn invalid_jids_are_rejected() {
        for bad in [
            json!(""),
            json!("@example.com"),
            json!("user@"),
            json!("a@b/"),
            json!(42),
            json!({}),
        ] {
            assert_eq!(
                json_to_stanza(&json!({"to": bad})),
                Err(JsonMapError::InvalidTo),
                "{bad}"
            );
            assert_eq!(
                json_to_stanza(&json!({"from": bad})),
                Err(JsonMapError::InvalidFrom),
                "{bad}"
            );
        }
    }

    #[test]
    fn stanza_to_json_rejects_invalid_jids() {
        let bad_to = xml(r#"<message xmlns="jabber:client" to="@example.com"/>"#);
        assert_eq!(stanza_to_json(&bad_to), Err(JsonMapError::InvalidTo));
        let bad_from = xml(r#"<message xmlns="jabber:client" from="user@"/>"#);
        assert_eq!(stanza_to_json(&bad_from), Err(JsonMapError::InvalidFrom));
    }

    #[test]
    fn stanza_to_json_rejects_non_stanzas() {
        assert_eq!(
            stanza_to_json(&xml(r#"<stream xmlns="jabber:client"/>"#)),
            Err(JsonMapError::UnknownKind("stream".into()))
        );
        assert_eq!(
            stanza_to_json(&xml(r#"<message xmlns="jabber:server"/>"#)),
            Err(JsonMapError::UnknownKind("{jabber:server}message".into()))
        );
    }

    #[test]
    fn priority_out_of_range_is_rejected() {
        for priority in [
            json!(128),
            json!(-129),
            json!(1.5),
            json!("high"),
            json!(true),
            json!(1e3),
        ] {
            assert_eq!(
                invalid_key(json!({"priority": priority})),
                "priority",
                "{priority}"
            );
        }
    }

    #[test]
    fn invalid_show_is_rejected() {
        assert_eq!(invalid_key(json!({"show": "online"})), "show");
        assert_eq!(invalid_key(json!({"show": 1})), "show");
    }

    #[test]
    fn type_must_suit_the_kind() {
        assert_eq!(
            invalid_key(json!({"kind": "message", "type": "get"})),
            "type"
        );
        assert_eq!(invalid_key(json!({"kind": "iq", "type": "chat"})), "type");
        assert_eq!(invalid_key(json!({"type": "bogus"})), "type");
        assert_eq!(invalid_key(json!({"type": ["chat"]})), "type");
    }

    #[test]
    fn error_type_requires_error_object() {
        assert_eq!(
            invalid_key(json!({"type": "error", "body": "legacy"})),
            "error"
        );
    }

    #[test]
    fn malformed_error_objects_are_rejected() {
        for error in [
            json!("cancel"),
            json!({"type": "fatal"}),
            json!({"condition": "no-such-condition"}),
            json!({"condition": "item-not-found", "by": "@bad"}),
            json!({"condition": "item-not-found", "text": 5}),
        ] {
            assert_eq!(invalid_key(json!({"error": error})), "error", "{error}");
        }
    }

    #[test]
    fn wrongly_typed_payloads_are_rejected() {
        for (value, key) in [
            (json!({"body": 1}), "body"),
            (json!({"subject": ["x"]}), "subject"),
            (json!({"thread": "t-1"}), "thread"),
            (json!({"thread": {"parent": "t-0"}}), "thread"),
            (json!({"thread": {"id": ""}}), "thread"),
            (json!({"status": {}}), "status"),
            (json!({"id": 7}), "id"),
            (json!({"lang": false}), "lang"),
            (json!({"ping": "yes"}), "ping"),
            (json!({"version": "1.0"}), "version"),
            (json!({"version": {"name": 1}}), "version"),
            (json!({"disco": 1}), "disco"),
            (json!({"disco": {"identities": [{"type": "im"}]}}), "disco"),
            (json!({"disco": {"identities": ["server"]}}), "disco"),
            (json!({"disco": {"features": "urn:xmpp:ping"}}), "disco"),
            (json!({"disco": {"features": [1]}}), "disco"),
            (json!({"items": 1}), "items"),
            (json!({"items": [{"name": "no jid"}]}), "items"),
            (json!({"items": ["not a jid@"]}), "items"),
            (json!({"items": [1]}), "items"),
        ] {
            assert_eq!(invalid_key(value.clone()), key, "{value}");
        }
    }

    #[test]
    fn characters_not_allowed_in_xml_are_rejected() {
        assert_eq!(invalid_key(json!({"body": "nul\u{0}"})), "body");
        assert_eq!(invalid_key(json!({"subject": "bell\u{7}"})), "subject");
        assert_eq!(invalid_key(json!({"id": "\u{FFFE}"})), "id");
        assert_eq!(invalid_key(json!({"disco": "node\u{1}"})), "disco");
        assert_eq!(
            invalid_key(json!({"error": {"text": "\u{1b}[31m"}})),
            "error"
        );
    }

    // stanza_to_json leniency towards what peers send.

    #[test]
    fn unknown_children_are_dropped() {
        let stanza = xml(concat!(
            r#"<message xmlns="jabber:client" type="chat"><body>hi</body>"#,
            r#"<request xmlns="urn:xmpp:receipts"/><received xmlns="urn:xmpp:chat-markers:0" id="m"/>"#,
            r#"<body xmlns="urn:example">not this one</body></message>"#
        ));
        assert_eq!(
            to_json(&stanza),
            json!({"kind": "message", "type": "chat", "body": "hi"})
        );
    }

    #[test]
    fn error_without_details_still_reports_a_condition() {
        let bare = xml(r#"<message xmlns="jabber:client" type="error"><error/></message>"#);
        assert_eq!(
            to_json(&bare)["error"],
            json!({"condition": "undefined-condition"})
        );
        let missing = xml(r#"<presence xmlns="jabber:client" type="error"/>"#);
        assert_eq!(to_json(&missing)["error"], json!({}));
    }

    #[test]
    fn error_iq_skips_disco_payloads() {
        let stanza = xml(concat!(
            r#"<iq xmlns="jabber:client" type="error"><query xmlns="http://jabber.org/protocol/disco#info"/>"#,
            r#"<error type="cancel"><feature-not-implemented xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>"#
        ));
        assert_eq!(
            to_json(&stanza),
            json!({"kind": "iq", "type": "error", "error": {"type": "cancel", "condition": "feature-not-implemented"}})
        );
    }

    #[test]
    fn malformed_peer_payloads_are_skipped() {
        let stanza = xml(concat!(
            r#"<iq xmlns="jabber:client" type="result"><query xmlns="http://jabber.org/protocol/disco#info">"#,
            r#"<identity category="server"/><feature/><feature var="urn:xmpp:ping"/></query></iq>"#
        ));
        assert_eq!(
            to_json(&stanza)["disco"],
            json!({"identities": [], "features": ["urn:xmpp:ping"]})
        );
        let presence =
            xml(r#"<presence xmlns="jabber:client"><priority>300</priority></presence>"#);
        assert_eq!(
            to_json(&presence),
            json!({"kind": "presence", "type": "available"})
        );
    }

    // Properties.

    /// XML 1.0 `Char`, written independently of the implementation as an oracle.
    fn is_xml_char(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    }

    fn text() -> impl Strategy<Value = String> {
        let tricky = prop::sample::select(vec![
            '\0', '\u{1}', '\t', '\n', '\r', '<', '&', '\u{FFFE}', '\u{FFFF}',
        ]);
        prop::collection::vec(prop_oneof![4 => any::<char>(), 1 => tricky], 0..24)
            .prop_map(|chars| chars.into_iter().collect())
    }

    fn jid_string() -> impl Strategy<Value = String> {
        let local = prop::option::of(prop::sample::select(vec![
            "user",
            "Romeo",
            "juliet.capulet",
            "José",
        ]));
        let domain = prop::sample::select(vec![
            "example.com",
            "EXAMPLE.org",
            "muc.example.net",
            "localhost",
        ]);
        let resource = prop::option::of(prop::sample::select(vec![
            "res",
            "Phone 1",
            "a/b",
            "Ünïcode",
        ]));
        (local, domain, resource).prop_map(|(local, domain, resource)| {
            let local = local.map(|l| format!("{l}@")).unwrap_or_default();
            let resource = resource.map(|r| format!("/{r}")).unwrap_or_default();
            format!("{local}{domain}{resource}")
        })
    }

    fn message_object() -> impl Strategy<Value = Object> {
        let message_type = prop::sample::select(vec!["normal", "chat", "headline", "groupchat"]);
        let thread = ("[A-Za-z0-9-]{1,12}", prop::option::of("[A-Za-z0-9-]{1,12}"));
        (
            any::<bool>(),
            prop::option::of(message_type),
            prop::option::of(jid_string()),
            prop::option::of(jid_string()),
            prop::option::of(text()),
            prop::option::of("[a-z]{2}(-[A-Z]{2})?"),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(thread),
        )
            .prop_map(
                |(with_kind, message_type, to, from, id, lang, body, subject, thread)| {
                    let mut obj = Object::new();
                    if with_kind {
                        obj.insert("kind".into(), "message".into());
                    }
                    let strings = [
                        ("type", message_type.map(String::from)),
                        ("to", to),
                        ("from", from),
                    ];
                    let strings = strings.into_iter().chain([
                        ("id", id),
                        ("lang", lang),
                        ("body", body),
                        ("subject", subject),
                    ]);
                    for (key, value) in strings {
                        if let Some(value) = value {
                            obj.insert(key.into(), value.into());
                        }
                    }
                    if let Some((id, parent)) = thread {
                        let mut thread = Object::new();
                        thread.insert("id".into(), id.into());
                        if let Some(parent) = parent {
                            thread.insert("parent".into(), parent.into());
                        }
                        obj.insert("thread".into(), thread.into());
                    }
                    obj
                },
            )
    }

    fn normalised(mut obj: Object) -> Value {
        obj.insert("kind".into(), "message".into());
        for key in ["to", "from"] {
            if let Some(Value::String(jid)) = obj.get(key) {
                let jid = jid::Jid::new(jid)
                    .expect("generated JIDs are valid")
                    .to_string();
                obj.insert(key.into(), jid.into());
            }
        }
        Value::Object(obj)
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let keys = prop::sample::select(vec![
            "kind",
            "type",
            "to",
            "from",
            "id",
            "lang",
            "error",
            "body",
            "subject",
            "thread",
            "show",
            "status",
            "priority",
            "ping",
            "version",
            "disco",
            "items",
            "node",
            "identities",
            "features",
            "category",
            "name",
            "jid",
            "parent",
            "condition",
            "text",
            "by",
            "os",
            "command",
            "archive",
            "html",
            "payload",
            "data",
            "datatype",
            "rsm",
            "max",
            "dataform",
            "formdata",
            "fields",
            "var",
            "value",
            "values",
            "options",
            "state",
            "reactions",
            "forwarded",
            "message",
            "delay",
            "with",
            "ids",
            "form",
            "page",
            "block",
            "extensions",
            "caps",
            "muc",
            "history",
            "join",
            "stats",
            "upload_request",
            "size",
            "filename",
            "stanza_ids",
            "invite",
            "oob",
            "oob_url",
            "url",
            "register",
            "remove",
            "actions",
            "note",
            "result",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (-200i64..200).prop_map(Value::from),
            text().prop_map(Value::from),
            jid_string().prop_map(Value::from),
            prop::sample::select(vec![
                "message",
                "presence",
                "iq",
                "get",
                "result",
                "error",
                "chat",
                "available",
                "away",
                "cancel",
                "item-not-found",
                "<body><p>x</p></body>",
                "<b>bold</b> text",
                "a,b",
                "text-multi",
                "urn:xmpp:reporting:spam",
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(keys.clone(), inner, 0..8).prop_map(|map| {
                    Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn message_json_roundtrips(obj in message_object()) {
            let value = Value::Object(obj.clone());
            let all_xml_safe = ["id", "lang", "body", "subject"]
                .iter()
                .filter_map(|key| obj.get(*key).and_then(Value::as_str))
                .all(|text| text.chars().all(is_xml_char));
            match json_to_stanza(&value) {
                _ if obj.is_empty() => {
                    prop_assert_eq!(json_to_stanza(&value), Err(JsonMapError::NotAnObject));
                }
                Ok(stanza) => {
                    prop_assert!(all_xml_safe);
                    prop_assert_eq!(stanza_to_json(&stanza), Ok(normalised(obj)));
                }
                Err(error) => {
                    prop_assert!(!all_xml_safe, "unexpected {:?}", error);
                    let is_invalid_value = matches!(error, JsonMapError::InvalidValue { .. });
                    prop_assert!(is_invalid_value);
                }
            }
        }

        #[test]
        fn arbitrary_json_never_panics_and_yields_serialisable_stanzas(value in arbitrary_json()) {
            if let Ok(stanza) = json_to_stanza(&value) {
                prop_assert!(stanza_to_json(&stanza).is_ok());
                prop_assert_eq!(reserialised(&stanza), stanza);
            }
        }
    }
}
