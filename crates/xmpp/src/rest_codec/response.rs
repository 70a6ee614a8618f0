//! Response encoding (§4.3, §7): stanzas and errors become bodies in the negotiated media
//! type.

use minidom::Element;
use serde_json::{Map, Value};

use super::cbor::to_cbor;
use super::form::encode_form;
use super::media::MediaType;
use crate::json;
use crate::ns;
use crate::rest_error::RestError;
use crate::stanza;

/// Encodes one stanza, or several in mod_rest's container: `<xmpp>` / `{"xmpp":[…]}`
/// (§4.3). Form output keeps the top-level strings, numbers and `true` (as `""`) of each
/// stanza's JSON, `kind` first so that consecutive stanzas can be told apart (mod_rest flattened
/// the `{"xmpp": […]}` container itself, which left an empty body). Text output is
/// the body of each stanza, one per line (mod_rest's unreachable text encoder).
pub fn encode_stanzas(media: MediaType, stanzas: &[Element]) -> Result<Vec<u8>, RestError> {
    match media {
        // As mod_rest writes them: stanzas without a namespace declaration, so that receivers
        // comparing tag names (`message`, not `{jabber:client}message`) keep working; several
        // in an `<xmpp>` container.
        MediaType::Xml => Ok(match stanzas {
            [one] => stanza::to_xml_in_stream(one),
            many => {
                let inner: String = many.iter().map(stanza::to_xml_in_stream).collect();
                format!("<xmpp>{inner}</xmpp>")
            }
        }
        .into_bytes()),
        MediaType::Json => Ok(json_document(stanzas)?.to_string().into_bytes()),
        MediaType::Cbor => to_cbor(&json_document(stanzas)?),
        MediaType::Form => {
            let mut pairs = Vec::new();
            for stanza in stanzas {
                let Value::Object(mut obj) = stanza_json(stanza)? else {
                    return Err(RestError::Internal);
                };
                if let Some(kind) = obj.remove("kind") {
                    flatten_into(&mut pairs, "kind", &kind);
                }
                for (key, value) in sorted(&obj) {
                    flatten_into(&mut pairs, key, value);
                }
            }
            Ok(encode_form(&pairs).into_bytes())
        }
        MediaType::Text => {
            let bodies: Vec<String> = stanzas
                .iter()
                .map(|stanza| {
                    stanza
                        .get_child("body", ns::CLIENT)
                        .map(Element::text)
                        .unwrap_or_default()
                })
                .collect();
            Ok(bodies.join("\n").into_bytes())
        }
    }
}

fn stanza_json(stanza: &Element) -> Result<Value, RestError> {
    json::stanza_to_json(stanza).map_err(|_| RestError::Internal)
}

fn json_document(stanzas: &[Element]) -> Result<Value, RestError> {
    match stanzas {
        [one] => stanza_json(one),
        many => {
            let list = many
                .iter()
                .map(stanza_json)
                .collect::<Result<Vec<_>, _>>()?;
            let mut container = Map::new();
            container.insert("xmpp".into(), list.into());
            Ok(container.into())
        }
    }
}

/// Entries by key, so that form output does not depend on serde_json's map ordering features.
fn sorted(obj: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = obj.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// mod_rest's `flatten`: strings, numbers and `true` survive; everything else has no form.
fn flatten_into(pairs: &mut Vec<(String, String)>, key: &str, value: &Value) {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(true) => String::new(),
        _ => return,
    };
    pairs.push((key.to_owned(), text));
}

/// The body of an error response (§7): XML and JSON as `RestError` renders them, CBOR the JSON
/// body, form the JSON body with the nested error's fields as `error.type`, `error.condition`, …
/// (mod_rest never sent form errors), text the error's text.
pub fn encode_error(media: MediaType, error: RestError, detail: Option<&str>) -> Vec<u8> {
    let body = error.json_body(detail);
    match media {
        MediaType::Xml => stanza::to_xml(&error.xml_body(detail)).into_bytes(),
        MediaType::Json => body.to_string().into_bytes(),
        // Serialising a JSON value into memory has no failure mode left to report.
        MediaType::Cbor => to_cbor(&body).unwrap_or_default(),
        MediaType::Form => {
            let mut pairs = Vec::new();
            if let Value::Object(obj) = &body {
                for (key, value) in sorted(obj) {
                    match value {
                        Value::Object(inner) => {
                            for (name, value) in sorted(inner) {
                                flatten_into(&mut pairs, &format!("{key}.{name}"), value);
                            }
                        }
                        value => flatten_into(&mut pairs, key, value),
                    }
                }
            }
            encode_form(&pairs).into_bytes()
        }
        MediaType::Text => body["error"]["text"]
            .as_str()
            .unwrap_or_default()
            .as_bytes()
            .to_vec(),
    }
}
