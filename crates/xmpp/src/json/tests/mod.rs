//! Tests of the stanza-level mapping, one file per concern; the helpers here also serve the
//! submodules' own tests.

mod errors;
mod golden;
mod inference;
mod leniency;
mod properties;
mod roundtrip;

use minidom::Element;
use serde_json::Value;

use super::{JsonMapError, json_to_stanza, stanza_to_json};

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
