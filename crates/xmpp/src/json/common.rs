//! Keys that every stanza kind shares (mod_rest §6.2): the stanza error, delay, nick, the JSON
//! payload, RSM, XHTML-IM, out-of-band data and data forms.

use minidom::{Element, Node};
use rxml::xml_ncname;
use serde_json::Value;

use super::forms::{self, Flavour, Typing};
use super::types::{Kind, Object, Result};
use super::value::{
    as_object, child_text, field, insert_str, invalid, normalise_jid, object_at, parse_uint,
    set_attr, single_attr_element, string_at, text_element, uint_at,
};
use crate::framing::{Limits, StreamParser};
use crate::ns;

const ERROR_TYPES: [&str; 5] = ["auth", "cancel", "continue", "modify", "wait"];

/// RFC 6120 §8.3.3 conditions, plus the legacy `payment-required` that Prosody's HTTP error
/// table still produces for status 402.
const ERROR_CONDITIONS: [&str; 23] = [
    "bad-request",
    "conflict",
    "feature-not-implemented",
    "forbidden",
    "gone",
    "internal-server-error",
    "item-not-found",
    "jid-malformed",
    "not-acceptable",
    "not-allowed",
    "not-authorized",
    "payment-required",
    "policy-violation",
    "recipient-unavailable",
    "redirect",
    "registration-required",
    "remote-server-not-found",
    "remote-server-timeout",
    "resource-constraint",
    "service-unavailable",
    "subscription-required",
    "undefined-condition",
    "unexpected-request",
];

/// The shared children of a stanza, after its kind-specific ones.
pub(super) fn common_children(obj: &Object, kind: Kind) -> Result<Vec<Element>> {
    let mut children = Vec::new();
    if let Some(stamp) = string_at(obj, "delay", "delay")? {
        children.push(delay_element(stamp));
    }
    if let Some(nick) = string_at(obj, "nick", "nick")? {
        children.push(text_element("nick", ns::NICK, nick));
    }
    if let Some(payload) = field(obj, "payload") {
        children.push(payload_element(payload)?);
    }
    if let Some(rsm) = field(obj, "rsm") {
        children.push(rsm_element(rsm, "rsm")?);
    }
    if let Some(markup) = string_at(obj, "html", "html")? {
        children.push(html_element(markup)?);
    }
    if let Some(oob) = oob_element(obj, kind)? {
        children.push(oob);
    }
    if let Some(form) = field(obj, "dataform") {
        children.push(forms::dataform_element(form, "dataform")?);
    }
    if let Some(data) = field(obj, "formdata") {
        children.push(forms::formdata_element(
            data,
            "formdata",
            "submit",
            Typing::Untyped,
        )?);
    }
    Ok(children)
}

/// Reads the shared children. mod_rest skips its hand-written ("func") mappings, here `html`,
/// `oob_url` and `dataform`, for error stanzas.
pub(super) fn common_json(stanza: &Element, kind: Kind, is_error: bool, out: &mut Object) {
    if let Some(stamp) = delay_json(stanza) {
        insert_str(out, "delay", stamp);
    }
    if let Some(nick) = child_text(stanza, "nick", ns::NICK) {
        insert_str(out, "nick", &nick);
    }
    if let Some(payload) = stanza
        .get_child("payload", ns::JSON_MSG)
        .and_then(payload_json)
    {
        out.insert("payload".into(), payload);
    }
    if let Some(set) = stanza.get_child("set", ns::RSM) {
        out.insert("rsm".into(), rsm_json(set));
    }
    let oob = stanza.get_child("x", ns::OOB);
    if let (Kind::Message, Some(oob)) = (kind, oob) {
        let mut json = Object::new();
        for name in ["url", "desc"] {
            if let Some(text) = child_text(oob, name, ns::OOB) {
                insert_str(&mut json, name, &text);
            }
        }
        out.insert("oob".into(), json.into());
    }
    if is_error {
        return;
    }
    if let Some(html) = stanza.get_child("html", ns::XHTML_IM).and_then(html_json) {
        insert_str(out, "html", &html);
    }
    if let Some(url) = oob.and_then(|oob| child_text(oob, "url", ns::OOB)) {
        insert_str(out, "oob_url", &url);
    }
    if let Some(form) = stanza.get_child("x", ns::DATA_FORMS) {
        out.insert(
            "dataform".into(),
            forms::dataform_json(form, Flavour::Value),
        );
    }
}

pub(super) fn delay_element(stamp: &str) -> Element {
    single_attr_element("delay", ns::DELAY, xml_ncname!("stamp"), stamp)
}

pub(super) fn delay_json(parent: &Element) -> Option<&str> {
    parent
        .get_child("delay", ns::DELAY)
        .and_then(|delay| delay.attr("stamp"))
}

/// XEP-0432: `data` is any JSON value and travels as JSON text; absent data is `null`.
fn payload_element(value: &Value) -> Result<Element> {
    let payload = as_object(value, "payload")?;
    let mut element = Element::bare("payload", ns::JSON_MSG);
    set_attr(
        &mut element,
        xml_ncname!("datatype"),
        string_at(payload, "datatype", "payload")?,
    );
    let data = field(payload, "data").unwrap_or(&Value::Null);
    // JSON text escapes control characters but not U+FFFE/U+FFFF, which XML cannot carry.
    let text = data.to_string();
    super::value::xml_text("payload", &text)?;
    element.append_text(text);
    Ok(element)
}

/// A payload whose text is not JSON is dropped, as any other unmappable child would be; mod_rest
/// failed the whole stanza instead.
fn payload_json(payload: &Element) -> Option<Value> {
    let data: Value = serde_json::from_str(&payload.text()).ok()?;
    let mut json = Object::new();
    if let Some(datatype) = payload.attr("datatype") {
        insert_str(&mut json, "datatype", datatype);
    }
    json.insert("data".into(), data);
    Some(json.into())
}

/// XEP-0059 `<set/>`; integers may be decimal strings because query strings carry only text.
pub(super) fn rsm_element(value: &Value, key: &'static str) -> Result<Element> {
    let rsm = as_object(value, key)?;
    let mut set = Element::bare("set", ns::RSM);
    for name in ["max", "after", "before", "index", "first", "last", "count"] {
        let text = match name {
            "max" | "index" | "count" => uint_at(rsm, name, key, u64::MAX)?.map(|n| n.to_string()),
            _ => string_at(rsm, name, key)?.map(str::to_owned),
        };
        if let Some(text) = text {
            set.append_child(text_element(name, ns::RSM, &text));
        }
    }
    Ok(set)
}

pub(super) fn rsm_json(set: &Element) -> Value {
    let mut json = Object::new();
    for name in ["after", "before", "first", "last"] {
        if let Some(text) = child_text(set, name, ns::RSM) {
            insert_str(&mut json, name, &text);
        }
    }
    for name in ["count", "index", "max"] {
        if let Some(number) = child_text(set, name, ns::RSM)
            .as_deref()
            .and_then(parse_uint)
        {
            json.insert(name.into(), number.into());
        }
    }
    json.into()
}

/// The JSON value is XHTML markup, normally one or more `<body>` elements (one per language).
///
/// Fixes mod_rest quirks: markup that is not well-formed is a 400 (mod_rest hit an assertion,
/// a 500), and markup without a `<body>` is wrapped in one instead of producing a bodiless
/// `<html>` that reads back as the string "nil".
fn html_element(markup: &str) -> Result<Element> {
    let wrapped = format!(
        "<x:html xmlns:x='{}' xmlns='{}'>{markup}</x:html>",
        ns::XHTML_IM,
        ns::XHTML
    );
    let mut parser = StreamParser::new_fragments(Limits::default());
    let mut parsed = parser
        .feed_message(wrapped.as_bytes())
        .map_err(|err| invalid("html", err.to_string()))?;
    let only_bodies = parsed.children().next().is_some()
        && parsed.nodes().all(|node| match node {
            Node::Element(child) => child.is("body", ns::XHTML),
            Node::Text(text) => is_xml_whitespace(text),
        });
    let mut html = Element::bare("html", ns::XHTML_IM);
    if only_bodies {
        for body in parsed.children() {
            html.append_child(crate::stanza::without_prefixes(body));
        }
    } else {
        let mut body = Element::bare("body", ns::XHTML);
        for node in parsed.take_nodes() {
            body.append_node(match node {
                Node::Element(child) => Node::Element(crate::stanza::without_prefixes(&child)),
                text => text,
            });
        }
        html.append_child(body);
    }
    Ok(html)
}

fn is_xml_whitespace(text: &str) -> bool {
    text.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// The `<body>` elements serialised back to markup, each without its own namespace declaration
/// (as mod_rest strips it); `None` if there is no body.
fn html_json(html: &Element) -> Option<String> {
    let mut markup = String::new();
    for body in html.children().filter(|child| child.is("body", ns::XHTML)) {
        let text = crate::stanza::to_xml(&crate::stanza::without_prefixes(body));
        let declaration = format!(" xmlns='{}'", ns::XHTML);
        markup.push_str(&text.replacen(&declaration, "", 1));
    }
    (!markup.is_empty()).then_some(markup)
}

/// XEP-0066 `<x xmlns="jabber:x:oob">`: `oob_url` on every kind, and for messages the `oob`
/// object too. mod_rest emitted one `<x/>` per key; when both are given they are merged here,
/// `oob.url` winning over `oob_url`.
fn oob_element(obj: &Object, kind: Kind) -> Result<Option<Element>> {
    let oob_url = string_at(obj, "oob_url", "oob_url")?;
    let oob = match kind {
        Kind::Message => object_at(obj, "oob", "oob")?,
        Kind::Presence | Kind::Iq => None,
    };
    let (url, desc) = match oob {
        Some(oob) => (
            string_at(oob, "url", "oob")?.or(oob_url),
            string_at(oob, "desc", "oob")?,
        ),
        None => (oob_url, None),
    };
    let Some(url) = url else {
        return match oob {
            Some(_) => Err(invalid("oob", "'url' is required")),
            None => Ok(None),
        };
    };
    let mut x = Element::bare("x", ns::OOB);
    x.append_child(text_element("url", ns::OOB, url));
    if let Some(desc) = desc {
        x.append_child(text_element("desc", ns::OOB, desc));
    }
    Ok(Some(x))
}

/// The `error` object as `<error/>` (util.error's defaults: `cancel`, `undefined-condition`).
pub(super) fn error_element(value: &Value) -> Result<Element> {
    let error = value
        .as_object()
        .ok_or_else(|| invalid("error", "expected an object"))?;
    let error_type = string_at(error, "type", "error")?.unwrap_or("cancel");
    if !ERROR_TYPES.contains(&error_type) {
        return Err(invalid(
            "error",
            format!("unknown error type '{error_type}'"),
        ));
    }
    let condition = string_at(error, "condition", "error")?.unwrap_or("undefined-condition");
    if !ERROR_CONDITIONS.contains(&condition) {
        return Err(invalid(
            "error",
            format!("unknown error condition '{condition}'"),
        ));
    }
    let by = match string_at(error, "by", "error")? {
        Some(by) => {
            Some(normalise_jid(by).ok_or_else(|| invalid("error", "'by' must be a valid JID"))?)
        }
        None => None,
    };

    let mut element = Element::bare("error", ns::CLIENT);
    set_attr(&mut element, xml_ncname!("type"), Some(error_type));
    set_attr(&mut element, xml_ncname!("by"), by.as_deref());
    element.append_child(Element::bare(condition, ns::STANZAS));
    if let Some(text) = string_at(error, "text", "error")? {
        element.append_child(text_element("text", ns::STANZAS, text));
    }
    Ok(element)
}

pub(super) fn error_json(stanza: &Element) -> Value {
    let mut json = Object::new();
    let Some(error) = stanza.get_child("error", ns::CLIENT) else {
        return json.into();
    };
    for name in ["type", "by"] {
        if let Some(value) = error.attr(name) {
            insert_str(&mut json, name, value);
        }
    }
    let condition = error
        .children()
        .find(|child| child.has_ns(ns::STANZAS) && child.name() != "text")
        .map_or("undefined-condition", Element::name);
    insert_str(&mut json, "condition", condition);
    if let Some(text) = error.get_child("text", ns::STANZAS) {
        insert_str(&mut json, "text", &text.text());
    }
    json.into()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_roundtrip, roundtrip, to_json, to_stanza, xml};
    use super::*;
    use serde_json::json;

    #[test]
    fn roundtrip_delay() {
        assert_roundtrip(
            json!({"kind": "message", "body": "late", "delay": "2002-09-10T23:08:25Z"}),
        );
        assert_eq!(
            to_stanza(json!({"body": "x", "delay": "2002-09-10T23:08:25Z"})),
            xml(concat!(
                r#"<message xmlns="jabber:client"><body>x</body>"#,
                r#"<delay xmlns="urn:xmpp:delay" stamp="2002-09-10T23:08:25Z"/></message>"#
            ))
        );
    }

    #[test]
    fn roundtrip_nick() {
        assert_roundtrip(json!({"kind": "presence", "type": "subscribe", "nick": "CallMeIshmael"}));
    }

    #[test]
    fn roundtrip_payload_with_json_data() {
        assert_roundtrip(json!({
            "kind": "message", "type": "chat",
            "payload": {"datatype": "urn:example:score", "data": {"home": 3, "away": [1, "x"], "ok": true}}
        }));
        let stanza = to_stanza(json!({"payload": {"datatype": "t", "data": "<&>"}}));
        assert_eq!(
            stanza,
            xml(
                r#"<message xmlns="jabber:client"><payload xmlns="urn:xmpp:json-msg:0" datatype="t">"&lt;&amp;&gt;"</payload></message>"#
            )
        );
    }

    #[test]
    fn payload_without_data_is_null_and_invalid_json_text_is_dropped() {
        assert_eq!(
            roundtrip(json!({"payload": {"datatype": "t"}}))["payload"],
            json!({"datatype": "t", "data": null})
        );
        let bad = xml(concat!(
            r#"<message xmlns="jabber:client"><body>b</body>"#,
            r#"<payload xmlns="urn:xmpp:json-msg:0" datatype="t">{not json</payload></message>"#
        ));
        assert_eq!(to_json(&bad), json!({"kind": "message", "body": "b"}));
    }

    #[test]
    fn roundtrip_rsm() {
        assert_roundtrip(json!({
            "kind": "iq", "type": "result",
            "rsm": {"first": "a", "last": "z", "count": 800, "index": 0, "max": 10, "after": "m", "before": ""}
        }));
        assert_eq!(
            roundtrip(json!({"kind": "iq", "rsm": {"max": "10"}}))["rsm"],
            json!({"max": 10})
        );
    }

    #[test]
    fn roundtrip_error_kinds() {
        assert_roundtrip(json!({
            "kind": "presence", "type": "error", "error": {"type": "modify", "condition": "jid-malformed"}
        }));
    }

    #[test]
    fn roundtrip_html() {
        assert_roundtrip(json!({
            "kind": "message", "body": "Hi",
            "html": "<body><p>Hi <em>there</em><br/></p></body>"
        }));
        let stanza = to_stanza(json!({"html": "<body><p>Hi</p></body>"}));
        assert_eq!(
            stanza,
            xml(concat!(
                r#"<message xmlns="jabber:client"><html xmlns="http://jabber.org/protocol/xhtml-im">"#,
                r#"<body xmlns="http://www.w3.org/1999/xhtml"><p>Hi</p></body></html></message>"#
            ))
        );
    }

    #[test]
    fn html_with_several_bodies_keeps_them_all() {
        assert_roundtrip(json!({
            "kind": "message",
            "html": "<body xml:lang='en'><p>Hi</p></body><body xml:lang='de'><p>Hallo</p></body>"
        }));
    }

    #[test]
    fn html_without_body_is_wrapped_in_one() {
        assert_eq!(
            roundtrip(json!({"html": "Hi <b>there</b>"}))["html"],
            json!("<body>Hi <b>there</b></body>")
        );
    }

    #[test]
    fn html_prefix_declarations_do_not_leak() {
        let stanza = to_stanza(
            json!({"html": r#"<body xmlns:a="urn:a"><a:p xmlns:b="urn:b">x</a:p></body>"#}),
        );
        let text = crate::stanza::to_xml(&stanza);
        assert_eq!(xml(&text), stanza);
        assert!(to_json(&stanza)["html"].as_str().is_some());
    }

    #[test]
    fn malformed_html_is_rejected() {
        for markup in [
            "<body>",
            "<body></p>",
            "</x:html><x:html xmlns:x='http://jabber.org/protocol/xhtml-im'>",
            "<body>&nbsp;</body>",
            "<!DOCTYPE x><body/>",
            "<body><!-- c --></body>",
        ] {
            assert!(
                matches!(
                    super::super::json_to_stanza(&json!({"html": markup})),
                    Err(super::super::JsonMapError::InvalidValue { key: "html", .. })
                ),
                "{markup}"
            );
        }
    }

    #[test]
    fn html_is_skipped_without_body_on_output() {
        let stanza = xml(
            r#"<message xmlns="jabber:client"><html xmlns="http://jabber.org/protocol/xhtml-im"/></message>"#,
        );
        assert_eq!(to_json(&stanza), json!({"kind": "message"}));
    }

    #[test]
    fn roundtrip_oob_url() {
        assert_roundtrip(json!({
            "kind": "presence", "type": "available", "oob_url": "https://example.com/a.png"
        }));
        assert_eq!(
            to_stanza(json!({"body": "pic", "oob_url": "https://example.com/a.png"})),
            xml(concat!(
                r#"<message xmlns="jabber:client"><body>pic</body>"#,
                r#"<x xmlns="jabber:x:oob"><url>https://example.com/a.png</url></x></message>"#
            ))
        );
    }

    #[test]
    fn message_oob_is_emitted_with_oob_url() {
        assert_roundtrip(json!({
            "kind": "message",
            "oob": {"url": "https://example.com/a.png", "desc": "A picture"},
            "oob_url": "https://example.com/a.png"
        }));
        let merged = to_stanza(
            json!({"body": "x", "oob_url": "https://other/", "oob": {"url": "https://a/", "desc": "d"}}),
        );
        let x: Vec<_> = merged.children().filter(|c| c.is("x", ns::OOB)).collect();
        assert_eq!(x.len(), 1);
        assert_eq!(
            child_text(x[0], "url", ns::OOB).as_deref(),
            Some("https://a/")
        );
        assert!(matches!(
            super::super::json_to_stanza(&json!({"body": "x", "oob": {"desc": "no url"}})),
            Err(super::super::JsonMapError::InvalidValue { key: "oob", .. })
        ));
    }

    #[test]
    fn roundtrip_dataform() {
        assert_roundtrip(json!({
            "kind": "message",
            "dataform": {"type": "form", "title": "Poll", "fields": [
                {"var": "answer", "type": "list-single", "label": "Pick", "options": [{"value": "yes"}, {"value": "no"}]}
            ]}
        }));
    }

    #[test]
    fn formdata_is_a_submitted_form() {
        let stanza = to_stanza(
            json!({"kind": "message", "formdata": {"FORM_TYPE": "urn:example", "x": ["1", "2"]}}),
        );
        assert_eq!(
            stanza,
            xml(concat!(
                r#"<message xmlns="jabber:client"><x xmlns="jabber:x:data" type="submit">"#,
                r#"<field var="FORM_TYPE" type="hidden"><value>urn:example</value></field>"#,
                r#"<field var="x"><value>1</value><value>2</value></field></x></message>"#
            ))
        );
        assert_eq!(
            to_json(&stanza)["dataform"],
            json!({"type": "submit", "fields": [
                {"var": "FORM_TYPE", "type": "hidden", "value": "urn:example"},
                {"var": "x", "value": "1"}
            ]})
        );
    }

    #[test]
    fn invalid_common_values_are_rejected() {
        for (value, key) in [
            (json!({"delay": 5}), "delay"),
            (json!({"nick": []}), "nick"),
            (json!({"payload": "x"}), "payload"),
            (json!({"payload": {"data": "\u{FFFE}"}}), "payload"),
            (json!({"rsm": {"max": -1}}), "rsm"),
            (json!({"rsm": {"first": 1}}), "rsm"),
            (json!({"html": 1}), "html"),
            (json!({"oob_url": true}), "oob_url"),
            (json!({"dataform": []}), "dataform"),
            (json!({"formdata": "x"}), "formdata"),
        ] {
            assert!(
                matches!(
                    super::super::json_to_stanza(&value),
                    Err(super::super::JsonMapError::InvalidValue { key: k, .. }) if k == key
                ),
                "{value}"
            );
        }
    }
}
