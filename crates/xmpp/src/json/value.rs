//! Typed reads from mod_rest JSON objects (blaming the top-level key on error) and the small XML
//! building and reading steps that every key's mapping shares.

use jid::Jid;
use minidom::Element;
use rxml::{Namespace, NcNameStr};
use serde_json::Value;

use super::types::{JsonMapError, Object, Result};

/// JSON `null` is treated as absent: clients commonly serialise unset fields that way.
pub(super) fn field<'a>(obj: &'a Object, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|value| !value.is_null())
}

/// Lua truthiness, except that JSON null also counts as unset: a key set to `false` is absent.
pub(super) fn enabled<'a>(obj: &'a Object, key: &str) -> Option<&'a Value> {
    field(obj, key).filter(|value| **value != Value::Bool(false))
}

/// Reads `obj[name]` as XML-safe text; `key` is the top-level key blamed in errors.
pub(super) fn string_at<'a>(
    obj: &'a Object,
    name: &str,
    key: &'static str,
) -> Result<Option<&'a str>> {
    match field(obj, name) {
        None => Ok(None),
        Some(Value::String(text)) => xml_text(key, text).map(Some),
        Some(_) if name == key => Err(invalid(key, "expected a string")),
        Some(_) => Err(invalid(key, format!("'{name}' must be a string"))),
    }
}

pub(super) fn required_string<'a>(
    obj: &'a Object,
    name: &str,
    key: &'static str,
) -> Result<&'a str> {
    string_at(obj, name, key)?.ok_or_else(|| invalid(key, format!("'{name}' is required")))
}

/// A string that must be one of `allowed`, e.g. a chat state or a command action.
pub(super) fn enum_at<'a>(
    obj: &'a Object,
    name: &str,
    key: &'static str,
    allowed: &[&str],
) -> Result<Option<&'a str>> {
    match string_at(obj, name, key)? {
        Some(value) if !allowed.contains(&value) => Err(invalid(
            key,
            format!("'{name}' must be one of {}", allowed.join(", ")),
        )),
        value => Ok(value),
    }
}

pub(super) fn array_at<'a>(obj: &'a Object, name: &str, key: &'static str) -> Result<&'a [Value]> {
    match field(obj, name) {
        None => Ok(&[]),
        Some(Value::Array(values)) => Ok(values),
        Some(_) => Err(invalid(key, format!("'{name}' must be an array"))),
    }
}

pub(super) fn object_at<'a>(
    obj: &'a Object,
    name: &str,
    key: &'static str,
) -> Result<Option<&'a Object>> {
    match field(obj, name) {
        None => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(_) => Err(invalid(key, format!("'{name}' must be an object"))),
    }
}

pub(super) fn as_object<'a>(value: &'a Value, key: &'static str) -> Result<&'a Object> {
    value
        .as_object()
        .ok_or_else(|| invalid(key, "expected an object"))
}

/// Query payloads are requested either with `true` or with a (possibly empty) object: `GET`
/// requests and path-only posts produce `{}` or the query-string map.
pub(super) fn object_or_true<'a>(
    value: &'a Value,
    key: &'static str,
) -> Result<Option<&'a Object>> {
    match value {
        Value::Bool(true) => Ok(None),
        Value::Object(obj) => Ok(Some(obj)),
        _ => Err(invalid(key, "expected true or an object")),
    }
}

/// Strings are accepted because form-encoded and query-string requests carry every value as text.
pub(super) fn bool_value(value: &Value, key: &'static str) -> Result<bool> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) => match text.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(invalid(key, "expected a boolean")),
        },
        _ => Err(invalid(key, "expected a boolean")),
    }
}

pub(super) fn bool_at(obj: &Object, name: &str, key: &'static str) -> Result<Option<bool>> {
    field(obj, name)
        .map(|value| bool_value(value, key))
        .transpose()
}

/// A non-negative integer up to `max`, as a JSON number or (from forms) a decimal string.
pub(super) fn uint_at(
    obj: &Object,
    name: &str,
    key: &'static str,
    max: u64,
) -> Result<Option<u64>> {
    let Some(value) = field(obj, name) else {
        return Ok(None);
    };
    let parsed = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    };
    match parsed {
        Some(number) if number <= max => Ok(Some(number)),
        _ => Err(invalid(
            key,
            format!("'{name}' must be an integer from 0 to {max}"),
        )),
    }
}

/// JSON strings may hold characters XML cannot carry (e.g. U+0000); those would make the
/// stanza unserialisable, so they are rejected up front.
pub(super) fn xml_text<'a>(key: &'static str, text: &'a str) -> Result<&'a str> {
    rxml::strings::validate_cdata(text)
        .map(|()| text)
        .map_err(|_| invalid(key, "contains characters not allowed in XML"))
}

/// A JID-valued field below the top level: normalised, and blamed on `key` when invalid.
pub(super) fn jid_at(obj: &Object, name: &str, key: &'static str) -> Result<Option<String>> {
    string_at(obj, name, key)?
        .map(|jid| {
            normalise_jid(jid).ok_or_else(|| invalid(key, format!("'{name}' must be a valid JID")))
        })
        .transpose()
}

pub(super) fn normalise_jid(jid: &str) -> Option<String> {
    let normalised = Jid::new(jid).ok()?.to_string();
    rxml::strings::validate_cdata(&normalised)
        .is_ok()
        .then_some(normalised)
}

pub(super) fn invalid(key: &'static str, reason: impl Into<String>) -> JsonMapError {
    JsonMapError::InvalidValue {
        key,
        reason: reason.into(),
    }
}

pub(super) fn text_element(name: &str, namespace: &str, text: &str) -> Element {
    let mut element = Element::bare(name, namespace);
    if !text.is_empty() {
        element.append_text(text);
    }
    element
}

pub(super) fn set_attr(element: &mut Element, name: &NcNameStr, value: Option<&str>) {
    if let Some(value) = value {
        element.set_attr(Namespace::NONE, name.to_owned(), value);
    }
}

/// Copies string attributes whose JSON key equals the attribute name.
pub(super) fn string_attrs(
    element: &mut Element,
    obj: &Object,
    key: &'static str,
    names: &[&NcNameStr],
) -> Result<()> {
    for name in names {
        set_attr(element, name, string_at(obj, name.as_str(), key)?);
    }
    Ok(())
}

/// xs:boolean in its canonical spelling, which every XEP accepts.
pub(super) fn xs_bool(flag: bool) -> &'static str {
    if flag { "true" } else { "false" }
}

/// An element carrying one attribute, e.g. `<replace id="…"/>`.
pub(super) fn single_attr_element(
    name: &str,
    namespace: &str,
    attr: &NcNameStr,
    value: &str,
) -> Element {
    let mut element = Element::bare(name, namespace);
    set_attr(&mut element, attr, Some(value));
    element
}

pub(super) fn insert_str(out: &mut Object, key: &str, value: &str) {
    out.insert(key.into(), value.into());
}

/// Copies the named attributes that are present into `out` under the same names.
pub(super) fn copy_attrs(element: &Element, out: &mut Object, names: &[&str]) {
    for &name in names {
        if let Some(value) = element.attr(name) {
            insert_str(out, name, value);
        }
    }
}

pub(super) fn attrs_json(element: &Element, names: &[&str]) -> Value {
    let mut json = Object::new();
    copy_attrs(element, &mut json, names);
    json.into()
}

/// xs:boolean as peers write it; anything else is dropped rather than guessed.
pub(super) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

pub(super) fn parse_uint(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

pub(super) fn child_text(element: &Element, name: &str, namespace: &str) -> Option<String> {
    element.get_child(name, namespace).map(Element::text)
}

/// Copies the text of the named children that are present into `out` under the same names.
pub(super) fn copy_child_texts(
    element: &Element,
    namespace: &str,
    out: &mut Object,
    names: &[&str],
) {
    for &name in names {
        if let Some(text) = child_text(element, name, namespace) {
            insert_str(out, name, &text);
        }
    }
}

pub(super) fn has_children(element: &Element) -> bool {
    element.children().next().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(value: Value) -> Object {
        value.as_object().cloned().expect("test value is an object")
    }

    #[test]
    fn booleans_accept_form_spellings() {
        for (value, expected) in [
            (json!(true), true),
            (json!("1"), true),
            (json!(" true "), true),
            (json!(false), false),
            (json!("0"), false),
        ] {
            assert_eq!(bool_value(&value, "k"), Ok(expected), "{value}");
        }
        for value in [json!("yes"), json!(1), json!([])] {
            assert!(bool_value(&value, "k").is_err(), "{value}");
        }
    }

    #[test]
    fn unsigned_integers_accept_decimal_strings_within_range() {
        let values = obj(json!({"a": 5, "b": " 7 ", "c": -1, "d": 70000, "e": 1.5, "f": "x"}));
        assert_eq!(uint_at(&values, "a", "k", 10), Ok(Some(5)));
        assert_eq!(uint_at(&values, "b", "k", 10), Ok(Some(7)));
        assert_eq!(uint_at(&values, "missing", "k", 10), Ok(None));
        for name in ["c", "d", "e", "f"] {
            assert!(uint_at(&values, name, "k", 65535).is_err(), "{name}");
        }
    }

    #[test]
    fn enums_are_checked() {
        let values = obj(json!({"state": "typing"}));
        assert!(enum_at(&values, "state", "state", &["active"]).is_err());
        assert_eq!(enum_at(&values, "other", "state", &["active"]), Ok(None));
    }

    #[test]
    fn nested_jids_are_normalised_or_blamed_on_the_key() {
        let values = obj(json!({"jid": "Romeo@Montague.LIT", "bad": "@x"}));
        assert_eq!(
            jid_at(&values, "jid", "invite"),
            Ok(Some("romeo@montague.lit".into()))
        );
        assert!(matches!(
            jid_at(&values, "bad", "invite"),
            Err(JsonMapError::InvalidValue { key: "invite", .. })
        ));
    }
}
