//! stanza_to_json leniency towards what peers send: unknown or malformed children are dropped
//! rather than failing the whole stanza.

use serde_json::json;

use super::*;

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
    let presence = xml(r#"<presence xmlns="jabber:client"><priority>300</priority></presence>"#);
    assert_eq!(
        to_json(&presence),
        json!({"kind": "presence", "type": "available"})
    );
}
