//! Error cases of the stanza-level mapping: what JSON is refused, and with which key blamed
//! (the key decides the mod_rest error a client sees).

use serde_json::json;

use super::*;

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
