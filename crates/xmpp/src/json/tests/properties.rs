//! Properties: JSON that maps round-trips, and no JSON panics or yields a stanza that does not
//! serialise back to itself.

use proptest::prelude::*;

use super::*;
use crate::json::types::Object;

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
