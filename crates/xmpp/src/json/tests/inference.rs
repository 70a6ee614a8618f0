//! Kind and type inference (spec §6.1): which stanza a JSON object becomes when it does not
//! say, and which types each kind accepts.

use serde_json::json;

use super::*;
use crate::json::IMPLIED_KINDS;

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
            "ping" | "version" | "disco" | "items" | "join" | "fallback" | "markable" | "stats"
            | "blocklist" | "lastactivity" | "gateway" | "register" | "muc" => {
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
        to_stanza(json!({"kind": "iq", "type": "get", "ping": true, "body": "x", "show": "away"})),
        xml(r#"<iq xmlns="jabber:client" type="get"><ping xmlns="urn:xmpp:ping"/></iq>"#)
    );
    assert_eq!(
        to_stanza(json!({"kind": "message", "ping": true, "priority": 999})),
        xml(r#"<message xmlns="jabber:client"/>"#)
    );
}
