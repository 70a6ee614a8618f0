//! Tests of request decoding per body format and path (§11.1–§11.14), numbered after the
//! spec's checklist.

use proptest::prelude::*;
use serde_json::json;

use super::*;

// §11.1, §11.9: one XML stanza in the body.

#[test]
fn checklist_01_09_xml_body() {
    let body = r#"<message type="chat" to="user@example.org">
        <body>Hello!</body>
    </message>"#;
    let stanza = post(Some(MediaType::Xml), body, None).unwrap();
    assert_eq!(stanza.name(), "message");
    assert_eq!(stanza.ns(), ns::CLIENT);
    assert_eq!(
        stanza.get_child("body", ns::CLIENT).unwrap().text(),
        "Hello!"
    );
    // The path is ignored for XML, as in mod_rest.
    assert_eq!(
        post(Some(MediaType::Xml), body, Some("message/groupchat/x@y")).unwrap(),
        stanza
    );
}

#[test]
fn checklist_09_xml_restrictions() {
    for body in [
        "<!DOCTYPE message><message/>",
        "<message><!-- hi --></message>",
        "<message><?pi x?></message>",
        "<?xml-stylesheet href='x'?><message/>",
        " <?xml version='1.0'?><message/>",
        "<?xml version='1.0' encoding='latin1'?><message/>",
        "<message/><message/>",
        "<message>",
        "",
        "text",
    ] {
        assert_eq!(
            error_of(post(Some(MediaType::Xml), body, None)),
            RestError::Parse,
            "{body}"
        );
    }
}

#[test]
fn a_leading_xml_declaration_is_ignored() {
    for body in [
        "<?xml version='1.0'?><message to='a@b'/>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<message to='a@b'/>",
    ] {
        let stanza = post(Some(MediaType::Xml), body, None).unwrap();
        assert_eq!(stanza.attr("to"), Some("a@b"), "{body}");
    }
}

#[test]
fn xml_size_and_depth_limits_apply() {
    let limits = Limits {
        max_stanza_bytes: 64,
        max_depth: 3,
    };
    let big = format!("<message><body>{}</body></message>", "x".repeat(100));
    let err = decode_request(Some(MediaType::Xml), big.as_bytes(), None, None, limits);
    assert_eq!(error_of(err), RestError::Size);
    let deep = "<message><a><b><c/></b></a></message>";
    let err = decode_request(Some(MediaType::Xml), deep.as_bytes(), None, None, limits);
    assert_eq!(error_of(err), RestError::Parse);
    let tiny = Limits {
        max_stanza_bytes: 0,
        max_depth: 0,
    };
    let err = decode_request(Some(MediaType::Xml), b"", None, None, tiny);
    assert!(err.is_err());
}

#[test]
fn xml_prefix_declarations_are_dropped_so_the_stanza_reserialises() {
    let body = "<message xmlns:x='urn:a'><x:foo><y xmlns:x='urn:b' x:a='1'/></x:foo></message>";
    let stanza = post(Some(MediaType::Xml), body, None).unwrap();
    let encoded = encode_stanzas(MediaType::Xml, std::slice::from_ref(&stanza)).unwrap();
    let reparsed = xml(std::str::from_utf8(&encoded).unwrap());
    assert_eq!(reparsed, stanza);
    let y = reparsed
        .get_child("foo", "urn:a")
        .unwrap()
        .get_child("y", ns::CLIENT)
        .unwrap();
    assert_eq!(y.attr_ns("urn:b", "a"), Some("1"));
}

// §11.10, §11.2, §11.6, §11.7: JSON bodies and path merging.

#[test]
fn checklist_10_json_body() {
    let body = r#"{"body": "Hello!", "kind": "message", "to": "user@example.org", "type": "chat"}"#;
    assert_eq!(
        post(Some(MediaType::Json), body, None).unwrap(),
        xml(
            r#"<message xmlns="jabber:client" type="chat" to="user@example.org"><body>Hello!</body></message>"#
        )
    );
    assert_eq!(
        error_of(post(Some(MediaType::Json), "{", None)),
        RestError::Parse
    );
    assert_eq!(
        error_of(post(Some(MediaType::Json), "[1]", None)),
        RestError::InvalidJson
    );
    assert_eq!(
        error_of(post(Some(MediaType::Json), r#"{"kind":"pizza"}"#, None)),
        RestError::UnknownKind
    );
    assert_eq!(
        error_of(post(Some(MediaType::Json), r#"{"to":"@x"}"#, None)),
        RestError::To
    );
    assert_eq!(
        error_of(post(Some(MediaType::Json), r#"{"from":"@x"}"#, None)),
        RestError::From
    );
    assert_eq!(
        error_of(post(Some(MediaType::Json), r#"{"show":"online"}"#, None)),
        RestError::Parse
    );
}

#[test]
fn checklist_02_path_merges_kind_type_and_to() {
    let stanza = post(
        Some(MediaType::Json),
        r#"{"body": "hi", "kind": "presence", "type": "normal", "to": "other@example.com"}"#,
        Some("message/chat/john@example.com"),
    )
    .unwrap();
    assert_eq!(
        stanza,
        xml(
            r#"<message xmlns="jabber:client" type="chat" to="john@example.com"><body>hi</body></message>"#
        )
    );
    assert_eq!(
        error_of(post(
            Some(MediaType::Json),
            r#""hi""#,
            Some("message/chat/john@example.com")
        )),
        RestError::InvalidJson
    );
}

#[test]
fn checklist_03_iq_payload_path_takes_the_body_as_value() {
    assert_eq!(
        post(
            Some(MediaType::Json),
            r#"{"node": "uptime"}"#,
            Some("iq/command/example.com")
        )
        .unwrap(),
        xml(
            r#"<iq xmlns="jabber:client" type="set" to="example.com"><command xmlns="http://jabber.org/protocol/commands" node="uptime"/></iq>"#
        )
    );
    assert_eq!(
        post(
            Some(MediaType::Json),
            r#""uptime""#,
            Some("iq/command/example.com")
        )
        .unwrap(),
        xml(
            r#"<iq xmlns="jabber:client" type="set" to="example.com"><command xmlns="http://jabber.org/protocol/commands" node="uptime"/></iq>"#
        )
    );
    assert_eq!(
        post(
            Some(MediaType::Json),
            "null",
            Some("iq/version/example.com")
        )
        .unwrap(),
        xml(
            r#"<iq xmlns="jabber:client" type="get" to="example.com"><query xmlns="jabber:iq:version"/></iq>"#
        )
    );
    // iq/get and iq/set merge like message and presence paths.
    assert_eq!(
        post(
            Some(MediaType::Json),
            r#"{"ping": true}"#,
            Some("iq/get/example.com")
        )
        .unwrap(),
        xml(
            r#"<iq xmlns="jabber:client" type="get" to="example.com"><ping xmlns="urn:xmpp:ping"/></iq>"#
        )
    );
}

#[test]
fn checklist_06_empty_to_means_no_to() {
    assert_eq!(
        get("archive/", "").unwrap(),
        xml(r#"<iq xmlns="jabber:client" type="set"><query xmlns="urn:xmpp:mam:2"/></iq>"#)
    );
    assert_eq!(
        post(Some(MediaType::Text), "Hi", Some("message/chat/")).unwrap(),
        xml(r#"<message xmlns="jabber:client" type="chat"><body>Hi</body></message>"#)
    );
}

#[test]
fn checklist_07_to_keeps_resource_and_is_percent_decoded() {
    let stanza = post(
        None,
        "",
        Some("presence/unavailable/room@muc.example.com/my%20nick/x"),
    )
    .unwrap();
    assert_eq!(
        stanza,
        xml(
            r#"<presence xmlns="jabber:client" type="unavailable" to="room@muc.example.com/my nick/x"/>"#
        )
    );
    let stanza = get("version/user%40example.com%2Fphone", "").unwrap();
    assert_eq!(stanza.attr("to"), Some("user@example.com/phone"));
}

#[test]
fn path_grammar() {
    assert_eq!(RestPath::parse("echo"), Err(RestError::InvalidPath));
    assert_eq!(RestPath::parse("message"), Err(RestError::InvalidPath));
    assert_eq!(
        RestPath::parse("mess age/chat/x"),
        Err(RestError::InvalidPath)
    );
    assert_eq!(
        RestPath::parse("%FF%FE/chat/x"),
        Err(RestError::InvalidPath)
    );
    assert_eq!(
        RestPath::parse("message/chat/%FF"),
        Err(RestError::InvalidPath)
    );
    assert!(RestPath::parse("").is_ok());
    assert_eq!(
        RestPath::parse("/message/chat/a@b"),
        RestPath::parse("message/chat/a@b")
    );
    // A literal `%` that is no escape stays.
    assert_eq!(
        post(None, "", Some("message/chat/a@b/100%"))
            .unwrap()
            .attr("to"),
        Some("a@b/100%")
    );
    for bad in [
        "xyz/chat/a@b",
        "m/chat/a@b",
        "message/ch-at/a@b",
        "message//a@b",
        "mess%2Fage/chat/a",
    ] {
        let parsed = RestPath::parse(bad);
        let result = parsed.and_then(|p| {
            decode_request(None, b"", Some(&p), None, Limits::default()).map_err(|e| e.error)
        });
        assert_eq!(result.map(|_| ()), Err(RestError::InvalidPath), "{bad}");
    }
    // A kind-shaped segment that is no kind is mod_rest's unknown-kind.
    assert_eq!(
        error_of(post(None, "", Some("pizza/chat/a@b"))),
        RestError::UnknownKind
    );
}

#[test]
fn post_ping_with_two_segments_is_an_invalid_path() {
    assert_eq!(
        error_of(post(None, "", Some("ping/example.com"))),
        RestError::InvalidPath
    );
    assert_eq!(
        error_of(post(Some(MediaType::Json), "{}", Some("ping/example.com"))),
        RestError::InvalidPath
    );
    assert_eq!(
        post(None, "", Some("iq/ping/example.com")).unwrap(),
        xml(
            r#"<iq xmlns="jabber:client" type="get" to="example.com"><ping xmlns="urn:xmpp:ping"/></iq>"#
        )
    );
}

#[test]
fn trailing_slash_is_no_path() {
    let body = r#"{"body": "x"}"#;
    assert_eq!(
        post(Some(MediaType::Json), body, Some("")).unwrap(),
        post(Some(MediaType::Json), body, None).unwrap()
    );
    assert_eq!(error_of(post(None, "", Some(""))), RestError::MediaType);
}

// §11.4, §11.5: GET.

#[test]
fn checklist_04_get_queries_become_payload_maps() {
    assert_eq!(
        get("version/example.com", "").unwrap(),
        xml(
            r#"<iq xmlns="jabber:client" type="get" to="example.com"><query xmlns="jabber:iq:version"/></iq>"#
        )
    );
    assert_eq!(
        get("extdisco/example.com", "type=stun").unwrap(),
        xml(
            r#"<iq xmlns="jabber:client" type="get" to="example.com"><services xmlns="urn:xmpp:extdisco:2" type="stun"/></iq>"#
        )
    );
    assert_eq!(
        get(
            "upload_request/upload.example.com",
            "filename=a+b.png&size=123&content-type=image%2Fpng"
        )
        .unwrap(),
        xml(concat!(
            r#"<iq xmlns="jabber:client" type="get" to="upload.example.com">"#,
            r#"<request xmlns="urn:xmpp:http:upload:0" filename="a b.png" size="123" content-type="image/png"/></iq>"#
        ))
    );
    assert_eq!(
        get(
            "disco/example.com",
            "node=http%3A%2F%2Fjabber.org%2Fprotocol%2Fcommands"
        )
        .unwrap(),
        xml(concat!(
            r#"<iq xmlns="jabber:client" type="get" to="example.com">"#,
            r#"<query xmlns="http://jabber.org/protocol/disco#info" node="http://jabber.org/protocol/commands"/></iq>"#
        ))
    );
    // command and archive imply set, so a GET can run a command, as in mod_rest.
    assert_eq!(
        get("command/example.com", "node=uptime").unwrap(),
        xml(
            r#"<iq xmlns="jabber:client" type="set" to="example.com"><command xmlns="http://jabber.org/protocol/commands" node="uptime"/></iq>"#
        )
    );
    for (raw, key) in [
        ("lastactivity/example.com", "query"),
        ("stats/example.com", "query"),
        ("items/example.com", "query"),
        ("oob/example.com", "query"),
        ("blocklist/", "blocklist"),
        ("register/example.com", "query"),
        ("gateway/example.com", "query"),
    ] {
        let stanza = get(raw, "").unwrap();
        assert_eq!(
            stanza.children().next().map(Element::name),
            Some(key),
            "{raw}"
        );
    }
}

#[test]
fn get_archive_query_builds_the_form_and_page() {
    assert_eq!(
        get("archive/", "with=juliet%40capulet.lit&max=10").unwrap(),
        xml(concat!(
            r#"<iq xmlns="jabber:client" type="set"><query xmlns="urn:xmpp:mam:2">"#,
            r#"<x xmlns="jabber:x:data" type="submit">"#,
            r#"<field var="FORM_TYPE" type="hidden"><value>urn:xmpp:mam:2</value></field>"#,
            r#"<field var="with"><value>juliet@capulet.lit</value></field></x>"#,
            r#"<set xmlns="http://jabber.org/protocol/rsm"><max>10</max></set></query></iq>"#
        ))
    );
    let ids = get("archive/", "ids=a,b,,c").unwrap();
    let values: Vec<String> = ids
        .children()
        .next()
        .and_then(|q| q.get_child("x", "jabber:x:data"))
        .map(|x| {
            x.children()
                .filter(|f| f.attr("var") == Some("ids"))
                .flat_map(|f| f.children().map(Element::text).collect::<Vec<_>>())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(values, ["a", "b", "c"]);
    assert_eq!(error_of(get("archive/", "max=ten")), RestError::Parse);
}

#[test]
fn checklist_05_get_ping() {
    for query in ["", "anything=1"] {
        assert_eq!(
            get("ping/example.com", query).unwrap(),
            xml(
                r#"<iq xmlns="jabber:client" type="get" to="example.com"><ping xmlns="urn:xmpp:ping"/></iq>"#
            )
        );
    }
}

#[test]
fn get_with_iq_type_merges_the_query_map() {
    assert_eq!(
        get("get/example.com", "ping=true").unwrap(),
        xml(
            r#"<iq xmlns="jabber:client" type="get" to="example.com"><ping xmlns="urn:xmpp:ping"/></iq>"#
        )
    );
}

#[test]
fn get_query_without_equals_is_invalid() {
    assert_eq!(
        error_of(get("version/example.com", "justtext")),
        RestError::InvalidQuery
    );
    assert_eq!(
        error_of(get("version/example.com", "a=%FF")),
        RestError::InvalidQuery
    );
    assert_eq!(
        error_of(decode_request(None, b"", None, Some(""), Limits::default())),
        RestError::InvalidPath
    );
    assert_eq!(error_of(get("version/@bad", "")), RestError::To);
}

#[test]
fn get_ignores_body_and_content_type() {
    let stanza = decode_request(
        Some(MediaType::Json),
        b"not json",
        Some(&path("ping/example.com")),
        Some(""),
        Limits::default(),
    )
    .unwrap();
    assert!(stanza.get_child("ping", "urn:xmpp:ping").is_some());
}

// §11.11: form bodies.

#[test]
fn checklist_11_form_body() {
    assert_eq!(
        post(
            Some(MediaType::Form),
            "body=beep+boop&nick=Botty",
            Some("message/groupchat/room@muc.example.com")
        )
        .unwrap(),
        xml(concat!(
            r#"<message xmlns="jabber:client" type="groupchat" to="room@muc.example.com"><body>beep boop</body>"#,
            r#"<nick xmlns="http://jabber.org/protocol/nick">Botty</nick></message>"#
        ))
    );
    assert_eq!(
        post(
            Some(MediaType::Form),
            "kind=presence&show=away&priority=5&status=a%26b&ignored&x=1",
            None
        )
        .unwrap(),
        xml(
            r#"<presence xmlns="jabber:client"><show>away</show><status>a&amp;b</status><priority>5</priority></presence>"#
        )
    );
    assert_eq!(
        post(
            Some(MediaType::Form),
            "body=first&body=last&type=chat",
            None
        )
        .unwrap(),
        xml(r#"<message xmlns="jabber:client" type="chat"><body>last</body></message>"#)
    );
}

#[test]
fn form_body_without_equals_is_text_or_invalid_query() {
    assert_eq!(
        post(Some(MediaType::Form), "Hello+world%21", None).unwrap(),
        xml(r#"<message xmlns="jabber:client" type="chat"><body>Hello world!</body></message>"#)
    );
    assert_eq!(
        error_of(post(
            Some(MediaType::Form),
            "Hello",
            Some("message/chat/a@b")
        )),
        RestError::InvalidQuery
    );
    assert_eq!(
        error_of(post(Some(MediaType::Form), "body=%C3", None)),
        RestError::Parse
    );
    // An empty form is an empty map: with a path, the stanza comes from the path.
    assert_eq!(
        post(Some(MediaType::Form), "", Some("iq/ping/example.com")).unwrap(),
        xml(
            r#"<iq xmlns="jabber:client" type="get" to="example.com"><ping xmlns="urn:xmpp:ping"/></iq>"#
        )
    );
}

// §11.12: text/plain.

#[test]
fn checklist_12_text_plain() {
    assert_eq!(
        post(
            Some(MediaType::Text),
            "Hello John!",
            Some("message/chat/john@example.com")
        )
        .unwrap(),
        xml(
            r#"<message xmlns="jabber:client" type="chat" to="john@example.com"><body>Hello John!</body></message>"#
        )
    );
    assert_eq!(
        post(Some(MediaType::Text), "Server has crashed", None).unwrap(),
        xml(
            r#"<message xmlns="jabber:client" type="chat"><body>Server has crashed</body></message>"#
        )
    );
    assert_eq!(
        post(Some(MediaType::Text), "away", Some("presence/available/")).unwrap(),
        xml(r#"<presence xmlns="jabber:client"><show>away</show></presence>"#)
    );
    assert_eq!(
        error_of(post(Some(MediaType::Text), "x", Some("iq/ping/a@b"))),
        RestError::InvalidPath
    );
    assert_eq!(
        error_of(post(Some(MediaType::Text), "x", Some("iq/get/a@b"))),
        RestError::InvalidPath
    );
    assert_eq!(
        error_of(post(
            Some(MediaType::Text),
            "sleepy",
            Some("presence/available/")
        )),
        RestError::Parse
    );
    assert_eq!(
        error_of(decode_request(
            Some(MediaType::Text),
            b"\xFF",
            None,
            None,
            Limits::default()
        )),
        RestError::Parse
    );
    assert_eq!(
        error_of(post(Some(MediaType::Text), "nul\u{0}", None)),
        RestError::Parse
    );
}

// §11.13: CBOR.

#[test]
fn checklist_13_cbor_body() {
    let body = cbor(
        &json!({"kind": "message", "type": "chat", "to": "user@example.org", "body": "Hi", "priority": 1.5}),
    );
    let stanza =
        decode_request(Some(MediaType::Cbor), &body, None, None, Limits::default()).unwrap();
    assert_eq!(
        stanza,
        xml(
            r#"<message xmlns="jabber:client" type="chat" to="user@example.org"><body>Hi</body></message>"#
        )
    );
}

#[test]
fn cbor_honours_the_path() {
    let body = cbor(&json!({"body": "Hi"}));
    let stanza = decode_request(
        Some(MediaType::Cbor),
        &body,
        Some(&path("message/chat/john@example.com")),
        None,
        Limits::default(),
    )
    .unwrap();
    assert_eq!(
        stanza,
        xml(
            r#"<message xmlns="jabber:client" type="chat" to="john@example.com"><body>Hi</body></message>"#
        )
    );
}

#[test]
fn cbor_values_without_json_equivalent_are_refused() {
    use ciborium::Value as Cbor;
    let encode = |value: &Cbor| {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    };
    let tagged = Cbor::Map(vec![(
        Cbor::Text("body".into()),
        Cbor::Tag(0, Box::new(Cbor::Text("2020-01-01T00:00:00Z".into()))),
    )]);
    let stanza = decode_request(
        Some(MediaType::Cbor),
        &encode(&tagged),
        None,
        None,
        Limits::default(),
    )
    .unwrap();
    assert_eq!(
        stanza.get_child("body", ns::CLIENT).unwrap().text(),
        "2020-01-01T00:00:00Z"
    );
    for value in [
        Cbor::Map(vec![(Cbor::Integer(1.into()), Cbor::Text("x".into()))]),
        Cbor::Map(vec![(Cbor::Text("body".into()), Cbor::Bytes(vec![1]))]),
        Cbor::Map(vec![(Cbor::Text("n".into()), Cbor::Float(f64::NAN))]),
    ] {
        let result = decode_request(
            Some(MediaType::Cbor),
            &encode(&value),
            None,
            None,
            Limits::default(),
        );
        assert_eq!(error_of(result), RestError::Parse, "{value:?}");
    }
    let mut trailing = cbor(&json!({"body": "x"}));
    trailing.push(0);
    assert_eq!(
        error_of(decode_request(
            Some(MediaType::Cbor),
            &trailing,
            None,
            None,
            Limits::default()
        )),
        RestError::Parse
    );
    // A huge declared length must fail on the short body, not allocate.
    let huge = [0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        error_of(decode_request(
            Some(MediaType::Cbor),
            &huge,
            None,
            None,
            Limits::default()
        )),
        RestError::Parse
    );
    let huge_text = [0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        error_of(decode_request(
            Some(MediaType::Cbor),
            &huge_text,
            None,
            None,
            Limits::default()
        )),
        RestError::Parse
    );
}

// §11.14: unknown or missing Content-Type.

#[test]
fn checklist_14_missing_content_type() {
    assert_eq!(
        error_of(post(None, "<message/>", None)),
        RestError::MediaType
    );
    assert_eq!(
        post(
            None,
            "ignored body",
            Some("presence/unavailable/room@muc.example.com/nick")
        )
        .unwrap(),
        xml(
            r#"<presence xmlns="jabber:client" type="unavailable" to="room@muc.example.com/nick"/>"#
        )
    );
}

#[test]
fn request_error_display() {
    assert_eq!(
        RequestError::from(RestError::MediaType).to_string(),
        "Unsupported media type"
    );
    assert_eq!(
        RequestError::with(RestError::Parse, "eof").to_string(),
        "Failed to parse payload: eof"
    );
}

proptest! {
    #[test]
    fn decode_request_never_panics(
        media in prop::sample::select(vec![None, Some(MediaType::Xml), Some(MediaType::Json), Some(MediaType::Form), Some(MediaType::Text), Some(MediaType::Cbor)]),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            "\\PC{0,64}".prop_map(String::into_bytes),
            "(<[a-z]{1,3}( [a-z:]{1,5}='[^']{0,5}')*/?>|</[a-z]{1,3}>|[a-z&;]{0,4}){0,6}".prop_map(String::into_bytes),
            "[a-z_&=+%0-9A-F]{0,40}".prop_map(String::into_bytes),
            r#"\{("(kind|type|to|body|ping|command|archive|html|items|block|forwarded)":("[a-z@./<>]{0,8}"|true|\[\]|\{\}|-?[0-9]{1,3}),?){0,4}\}"#.prop_map(String::into_bytes),
        ],
        raw_path in prop::option::of("[mpi a-z_%@./0-9A-F]{0,30}"),
        query in prop::option::of("[a-z_&=+%@.,0-9A-F-]{0,40}"),
        max_stanza_bytes in 0usize..300,
        max_depth in 0usize..6,
    ) {
        let limits = Limits { max_stanza_bytes, max_depth };
        let path = raw_path.as_deref().map(RestPath::parse);
        if let Some(Ok(path)) = &path {
            let decoded = decode_request(media, &body, Some(path), query.as_deref(), limits);
            if let Ok(stanza) = decoded {
                for output in MediaType::ALL {
                    let _ = encode_stanzas(output, std::slice::from_ref(&stanza));
                }
            }
        }
        if let Ok(stanza) = decode_request(media, &body, None, query.as_deref(), limits) {
            let encoded = encode_stanzas(MediaType::Xml, std::slice::from_ref(&stanza)).unwrap();
            prop_assert!(stanza::parse_in_stream(std::str::from_utf8(&encoded).unwrap()).is_ok());
        }
    }

    #[test]
    fn cbor_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..96)) {
        let _ = decode_request(Some(MediaType::Cbor), &body, None, None, Limits::default());
    }
}
