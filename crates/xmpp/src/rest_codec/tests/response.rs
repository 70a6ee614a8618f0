//! Tests of response encoding of stanzas and errors (§11.8, §11.16, §7), numbered after the
//! spec's checklist.

use serde_json::json;

use super::*;

// §11.8: echo is decode then encode, without sending.

#[test]
fn checklist_08_echo_is_decode_then_encode() {
    let stanza = post(
        Some(MediaType::Json),
        r#"{"body": "Hi", "to": "a@example.com"}"#,
        None,
    )
    .unwrap();
    let echoed = encode_stanzas(MediaType::Json, &[stanza]).unwrap();
    let echoed: Value = serde_json::from_slice(&echoed).unwrap();
    assert_eq!(
        echoed,
        json!({"kind": "message", "body": "Hi", "to": "a@example.com"})
    );
}

// §11.16, §4.3: output formats and the container.

fn stanzas() -> Vec<Element> {
    vec![
        xml(concat!(
            r#"<message xmlns="jabber:client" to="romeo@montague.lit"><result xmlns="urn:xmpp:mam:2" queryid="q" id="1">"#,
            r#"<forwarded xmlns="urn:xmpp:forward:0"><message xmlns="jabber:client" type="chat"><body>one</body></message></forwarded></result></message>"#
        )),
        xml(
            r#"<iq xmlns="jabber:client" type="result" id="x"><fin xmlns="urn:xmpp:mam:2" complete="true"><set xmlns="http://jabber.org/protocol/rsm"><count>1</count></set></fin></iq>"#,
        ),
    ]
}

#[test]
fn checklist_16_xml_output() {
    let one = encode_stanzas(MediaType::Xml, &stanzas()[1..]).unwrap();
    assert_eq!(xml(std::str::from_utf8(&one).unwrap()), stanzas()[1]);
    let many = encode_stanzas(MediaType::Xml, &stanzas()).unwrap();
    let container = xml(std::str::from_utf8(&many).unwrap());
    assert_eq!(container.name(), "xmpp");
    assert_eq!(container.children().cloned().collect::<Vec<_>>(), stanzas());
}

#[test]
fn checklist_16_json_output_and_container() {
    let many: Value =
        serde_json::from_slice(&encode_stanzas(MediaType::Json, &stanzas()).unwrap()).unwrap();
    assert_eq!(
        many,
        json!({"xmpp": [
            {"kind": "message", "to": "romeo@montague.lit", "archive": {"queryid": "q", "id": "1",
                "forward": {"message": {"type": "chat", "body": "one"}}}},
            {"kind": "iq", "type": "result", "id": "x", "result": {"complete": true, "page": {"count": 1}}}
        ]})
    );
    let one: Value =
        serde_json::from_slice(&encode_stanzas(MediaType::Json, &stanzas()[1..]).unwrap()).unwrap();
    assert_eq!(one, many["xmpp"][1]);
    let bad = xml(r#"<message xmlns="jabber:client" to="@bad"/>"#);
    assert_eq!(
        encode_stanzas(MediaType::Json, &[bad]),
        Err(RestError::Internal)
    );
}

#[test]
fn checklist_16_cbor_output_roundtrips() {
    let encoded = encode_stanzas(MediaType::Cbor, &stanzas()).unwrap();
    let decoded: Value = ciborium::from_reader(encoded.as_slice()).unwrap();
    let json: Value =
        serde_json::from_slice(&encode_stanzas(MediaType::Json, &stanzas()).unwrap()).unwrap();
    assert_eq!(decoded, json);
    // And a CBOR stanza read back in is the same stanza.
    let single = encode_stanzas(MediaType::Cbor, &stanzas()[..1]).unwrap();
    let back = decode_request(
        Some(MediaType::Cbor),
        &single,
        None,
        None,
        Limits::default(),
    )
    .unwrap();
    assert_eq!(back, stanzas()[0]);
}

#[test]
fn checklist_16_form_output_is_flattened() {
    let stanza = xml(
        r#"<message xmlns="jabber:client" type="chat" to="a@b" id="m 1"><body>x&amp;y=z é</body><markable xmlns="urn:xmpp:chat-markers:0"/><thread>t</thread></message>"#,
    );
    let form = String::from_utf8(encode_stanzas(MediaType::Form, &[stanza]).unwrap()).unwrap();
    assert_eq!(
        form,
        "kind=message&body=x%26y%3Dz+%C3%A9&id=m+1&markable=&to=a%40b&type=chat"
    );
    let presence = xml(r#"<presence xmlns="jabber:client"><priority>-5</priority></presence>"#);
    let form = String::from_utf8(encode_stanzas(MediaType::Form, &[presence]).unwrap()).unwrap();
    assert_eq!(form, "kind=presence&priority=-5&type=available");
    let many = String::from_utf8(encode_stanzas(MediaType::Form, &stanzas()).unwrap()).unwrap();
    assert_eq!(
        many,
        "kind=message&to=romeo%40montague.lit&kind=iq&id=x&type=result"
    );
}

#[test]
fn form_output_reads_back_as_the_same_stanza() {
    let stanza = xml(
        r#"<message xmlns="jabber:client" type="chat" to="a@b" id="m 1"><body>x&amp;y=z é+</body></message>"#,
    );
    let form = encode_stanzas(MediaType::Form, std::slice::from_ref(&stanza)).unwrap();
    let back = decode_request(Some(MediaType::Form), &form, None, None, Limits::default()).unwrap();
    assert_eq!(back, stanza);
}

#[test]
fn text_output_is_the_bodies() {
    let out = encode_stanzas(
        MediaType::Text,
        &[
            xml(r#"<message xmlns="jabber:client"><body>a</body></message>"#),
            xml(r#"<iq xmlns="jabber:client" type="result"/>"#),
        ],
    )
    .unwrap();
    assert_eq!(out, b"a\n");
}

#[test]
fn empty_container() {
    assert_eq!(
        encode_stanzas(MediaType::Json, &[]).unwrap(),
        br#"{"xmpp":[]}"#
    );
    assert_eq!(
        xml(std::str::from_utf8(&encode_stanzas(MediaType::Xml, &[]).unwrap()).unwrap()).name(),
        "xmpp"
    );
}

// §7: error bodies.

#[test]
fn error_bodies() {
    let json: Value =
        serde_json::from_slice(&encode_error(MediaType::Json, RestError::NoAuthz, None)).unwrap();
    assert_eq!(json, RestError::NoAuthz.json_body(None));
    let cbor_body: Value =
        ciborium::from_reader(encode_error(MediaType::Cbor, RestError::To, Some("x")).as_slice())
            .unwrap();
    assert_eq!(cbor_body, RestError::To.json_body(Some("x")));
    let xml_body = encode_error(MediaType::Xml, RestError::NoAuthz, None);
    assert_eq!(
        xml(std::str::from_utf8(&xml_body).unwrap()),
        RestError::NoAuthz.xml_body(None)
    );
    let form = String::from_utf8(encode_error(MediaType::Form, RestError::Size, None)).unwrap();
    assert_eq!(
        form,
        "code=413&error.condition=resource-constraint&error.source=switchboard&error.text=Payload+too+large&error.type=modify&type=error"
    );
    assert_eq!(
        encode_error(MediaType::Text, RestError::Parse, Some("line 1")),
        b"Failed to parse payload: line 1"
    );
    assert_eq!(RestError::InvalidQuery.status(), 400);
}
