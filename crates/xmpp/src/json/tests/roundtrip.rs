//! One round trip per key: JSON to stanza and back gives the same JSON, and the XML in
//! between has the expected shape.

use serde_json::json;

use super::*;
use crate::json::presence;
use crate::ns;

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
    let out = roundtrip(json!({"to": "Juliet@Capulet.LIT/Balcony", "from": "ROMEO@montague.lit"}));
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
    let iq =
        to_stanza(json!({"kind": "iq", "ping": true, "error": {"condition": "item-not-found"}}));
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
    assert_roundtrip(json!({"kind": "message", "type": "groupchat", "subject": "Balcony scene"}));
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
    assert_roundtrip(json!({"kind": "presence", "type": "available", "status": "Out for lunch"}));
}

#[test]
fn roundtrip_priority() {
    for priority in [-128, -1, 0, 5, 127] {
        assert_roundtrip(json!({"kind": "presence", "type": "available", "priority": priority}));
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
