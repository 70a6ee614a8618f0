//! Golden examples from mod_rest's README (spec §12.1) and the shapes derived in §12.2,
//! each mapped both ways.

use serde_json::json;

use super::*;

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
