//! XEP-0004 data forms in mod_rest's two JSON shapes: the full `dataform` object (also used for
//! command and MAM forms) and the flat `formdata` map (command data, XEP-0128 disco extensions).

use minidom::Element;
use rxml::xml_ncname;
use serde_json::Value;

use super::types::{Object, Result};
use super::value::{
    array_at, as_object, bool_at, child_text, copy_attrs, enum_at, field, insert_str, invalid,
    set_attr, string_at, string_attrs, text_element, xml_text, xs_bool,
};
use crate::ns;

const FORM_TYPES: [&str; 4] = ["cancel", "form", "result", "submit"];

const FIELD_TYPES: [&str; 10] = [
    "boolean",
    "fixed",
    "hidden",
    "jid-multi",
    "jid-single",
    "list-multi",
    "list-single",
    "text-multi",
    "text-private",
    "text-single",
];

/// How a dataform's field values are spelled in JSON output. Input accepts both spellings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flavour {
    /// `dataform` and command forms (jsonmap's hand-written mapping): `value` is the first
    /// value, an array for jid-multi/list-multi, or newline-joined text for text-multi.
    Value,
    /// `archive.form` (util.datamapper's schema): every field lists `values: [string]`.
    Values,
}

/// How `formdata_element` types the fields it builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Typing {
    /// Submissions: the form owner knows its field types, so none are claimed.
    Untyped,
    /// Results (disco extensions): the JSON value's shape says how to read it back.
    FromJson,
}

/// Builds `<x xmlns="jabber:x:data">` from a `dataform` object.
///
/// Fixes a mod_rest quirk: its json2st iterated `value` where it meant `options`, so list
/// options never reached the XML. text-multi text is split into one `<value>` per line, as
/// XEP-0004 §3.3 requires; `reported` and `items` (multi-item results) are an extension.
pub(super) fn dataform_element(value: &Value, key: &'static str) -> Result<Element> {
    let form = as_object(value, key)?;
    let mut x = Element::bare("x", ns::DATA_FORMS);
    set_attr(
        &mut x,
        xml_ncname!("type"),
        enum_at(form, "type", key, &FORM_TYPES)?,
    );
    for name in ["title", "instructions"] {
        if let Some(text) = string_at(form, name, key)? {
            x.append_child(text_element(name, ns::DATA_FORMS, text));
        }
    }
    for field in array_at(form, "fields", key)? {
        x.append_child(field_element(field, key)?);
    }
    let reported = array_at(form, "reported", key)?;
    if !reported.is_empty() {
        x.append_child(fields_container("reported", reported, key)?);
    }
    for item in array_at(form, "items", key)? {
        let fields = item
            .as_array()
            .ok_or_else(|| invalid(key, "each item must be an array of fields"))?;
        x.append_child(fields_container("item", fields, key)?);
    }
    Ok(x)
}

fn fields_container(name: &str, fields: &[Value], key: &'static str) -> Result<Element> {
    let mut container = Element::bare(name, ns::DATA_FORMS);
    for field in fields {
        container.append_child(field_element(field, key)?);
    }
    Ok(container)
}

fn field_element(value: &Value, key: &'static str) -> Result<Element> {
    let spec = value
        .as_object()
        .ok_or_else(|| invalid(key, "each field must be an object"))?;
    let mut field = Element::bare("field", ns::DATA_FORMS);
    string_attrs(
        &mut field,
        spec,
        key,
        &[xml_ncname!("var"), xml_ncname!("label")],
    )?;
    let field_type = enum_at(spec, "type", key, &FIELD_TYPES)?;
    set_attr(&mut field, xml_ncname!("type"), field_type);
    if let Some(desc) = string_at(spec, "desc", key)? {
        field.append_child(text_element("desc", ns::DATA_FORMS, desc));
    }
    if bool_at(spec, "required", key)? == Some(true) {
        field.append_child(Element::bare("required", ns::DATA_FORMS));
    }
    for value in field_values(spec, field_type, key)? {
        field.append_child(text_element("value", ns::DATA_FORMS, &value));
    }
    for option in array_at(spec, "options", key)? {
        field.append_child(option_element(option, key)?);
    }
    Ok(field)
}

/// `value` (string, boolean or array) and `values` (array) are both read, so forms written
/// in either flavour are accepted.
fn field_values(spec: &Object, field_type: Option<&str>, key: &'static str) -> Result<Vec<String>> {
    let mut values = Vec::new();
    match field(spec, "value") {
        None => {}
        Some(Value::String(text)) if field_type == Some("text-multi") => {
            values.extend(text.split('\n').map(str::to_owned));
        }
        Some(Value::String(text)) => values.push(text.clone()),
        Some(Value::Bool(flag)) => values.push(xs_bool(*flag).to_owned()),
        Some(Value::Array(items)) => values.extend(string_items(items, "value", key)?),
        Some(_) => {
            return Err(invalid(
                key,
                "'value' must be a string, a boolean or an array of strings",
            ));
        }
    }
    values.extend(string_items(array_at(spec, "values", key)?, "values", key)?);
    for value in &values {
        xml_text(key, value)?;
    }
    Ok(values)
}

fn string_items(items: &[Value], name: &str, key: &'static str) -> Result<Vec<String>> {
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(key, format!("'{name}' items must be strings")))
        })
        .collect()
}

fn option_element(value: &Value, key: &'static str) -> Result<Element> {
    let spec = value
        .as_object()
        .ok_or_else(|| invalid(key, "each option must be an object"))?;
    let mut option = Element::bare("option", ns::DATA_FORMS);
    string_attrs(&mut option, spec, key, &[xml_ncname!("label")])?;
    let value = string_at(spec, "value", key)?
        .ok_or_else(|| invalid(key, "each option needs a 'value'"))?;
    option.append_child(text_element("value", ns::DATA_FORMS, value));
    Ok(option)
}

/// Renders `<x xmlns="jabber:x:data">`; `fields` is always present, as in mod_rest, while a
/// field's `options` appear only when it has some (mod_rest gave every list field `options`,
/// possibly empty, and no other field any).
pub(super) fn dataform_json(x: &Element, flavour: Flavour) -> Value {
    let mut form = Object::new();
    copy_attrs(x, &mut form, &["type"]);
    if let Some(title) = child_text(x, "title", ns::DATA_FORMS) {
        insert_str(&mut form, "title", &title);
    }
    // XEP-0004 allows several instructions elements; they read as one text, line by line.
    let instructions: Vec<String> = x
        .children()
        .filter(|child| child.is("instructions", ns::DATA_FORMS))
        .map(Element::text)
        .collect();
    if !instructions.is_empty() {
        insert_str(&mut form, "instructions", &instructions.join("\n"));
    }
    form.insert("fields".into(), fields_json(x, flavour));
    if let Some(reported) = x.get_child("reported", ns::DATA_FORMS) {
        form.insert("reported".into(), fields_json(reported, flavour));
    }
    let items: Vec<Value> = x
        .children()
        .filter(|child| child.is("item", ns::DATA_FORMS))
        .map(|item| fields_json(item, flavour))
        .collect();
    if !items.is_empty() {
        form.insert("items".into(), items.into());
    }
    form.into()
}

fn fields_json(container: &Element, flavour: Flavour) -> Value {
    container
        .children()
        .filter(|child| child.is("field", ns::DATA_FORMS))
        .map(|field| field_json(field, flavour))
        .collect::<Vec<_>>()
        .into()
}

fn field_json(field: &Element, flavour: Flavour) -> Value {
    let mut json = Object::new();
    copy_attrs(field, &mut json, &["var", "type", "label"]);
    if let Some(desc) = child_text(field, "desc", ns::DATA_FORMS) {
        insert_str(&mut json, "desc", &desc);
    }
    if field.get_child("required", ns::DATA_FORMS).is_some() {
        json.insert("required".into(), true.into());
    }
    let values = values_of(field);
    match (flavour, field.attr("type")) {
        (Flavour::Values, _) if values.is_empty() => {}
        (Flavour::Values, _) => {
            json.insert("values".into(), values.into());
        }
        (Flavour::Value, Some("jid-multi" | "list-multi")) => {
            json.insert("value".into(), values.into());
        }
        (Flavour::Value, Some("text-multi")) => insert_str(&mut json, "value", &values.join("\n")),
        (Flavour::Value, _) => {
            if let Some(first) = values.first() {
                insert_str(&mut json, "value", first);
            }
        }
    }
    let options: Vec<Value> = field
        .children()
        .filter(|child| child.is("option", ns::DATA_FORMS))
        .map(|option| {
            let mut json = Object::new();
            copy_attrs(option, &mut json, &["label"]);
            if let Some(value) = child_text(option, "value", ns::DATA_FORMS) {
                insert_str(&mut json, "value", &value);
            }
            Value::Object(json)
        })
        .collect();
    if !options.is_empty() {
        json.insert("options".into(), options.into());
    }
    json.into()
}

fn values_of(field: &Element) -> Vec<String> {
    field
        .children()
        .filter(|child| child.is("value", ns::DATA_FORMS))
        .map(Element::text)
        .collect()
}

/// Builds a form of type `form_type` from a `{var: value}` map; `FORM_TYPE` goes first and is
/// `hidden`, as XEP-0068 has it.
///
/// Fixes mod_rest quirks: its forms had no `type` attribute, which XEP-0004 requires.
pub(super) fn formdata_element(
    value: &Value,
    key: &'static str,
    form_type: &str,
    typing: Typing,
) -> Result<Element> {
    let data = as_object(value, key)?;
    let mut x = Element::bare("x", ns::DATA_FORMS);
    set_attr(&mut x, xml_ncname!("type"), Some(form_type));
    let form_type_field = data.get_key_value("FORM_TYPE");
    let others = data.iter().filter(|(var, _)| *var != "FORM_TYPE");
    for (var, value) in form_type_field.into_iter().chain(others) {
        x.append_child(formdata_field(var, value, key, typing)?);
    }
    Ok(x)
}

fn formdata_field(var: &str, value: &Value, key: &'static str, typing: Typing) -> Result<Element> {
    let (field_type, values) = match value {
        Value::Null => ("text-single", Vec::new()),
        Value::String(text) => ("text-single", vec![text.clone()]),
        Value::Number(number) => ("text-single", vec![number.to_string()]),
        Value::Bool(flag) => ("boolean", vec![xs_bool(*flag).to_owned()]),
        Value::Array(items) => ("list-multi", string_items(items, var, key)?),
        Value::Object(_) => {
            return Err(invalid(
                key,
                format!("'{var}' must be a string, a boolean or an array of strings"),
            ));
        }
    };
    let field_type = match (var, typing) {
        ("FORM_TYPE", _) => Some("hidden"),
        (_, Typing::FromJson) => Some(field_type),
        (_, Typing::Untyped) => None,
    };
    let mut field = Element::bare("field", ns::DATA_FORMS);
    set_attr(&mut field, xml_ncname!("var"), Some(xml_text(key, var)?));
    set_attr(&mut field, xml_ncname!("type"), field_type);
    for value in &values {
        field.append_child(text_element("value", ns::DATA_FORMS, xml_text(key, value)?));
    }
    Ok(field)
}

/// Reads a form as a `{var: value}` map: list-* and jid-multi fields are arrays, text-multi is
/// joined text, boolean is a JSON boolean, other typed fields their single value (or null), and
/// untyped fields arrays because nothing says whether they hold one value or several.
///
/// Fixes a mod_rest quirk: jid-multi fields kept only their first JID.
pub(super) fn formdata_json(x: &Element) -> Object {
    let mut data = Object::new();
    for field in x
        .children()
        .filter(|child| child.is("field", ns::DATA_FORMS))
    {
        let Some(var) = field.attr("var") else {
            continue;
        };
        let values = values_of(field);
        let json = match field.attr("type") {
            Some("list-single" | "list-multi" | "jid-multi") | None => values.into(),
            Some("text-multi") => values.join("\n").into(),
            Some("boolean") => values
                .first()
                .is_some_and(|first| first == "1" || first == "true")
                .into(),
            Some(_) => values.into_iter().next().map_or(Value::Null, Value::from),
        };
        data.insert(var.into(), json);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn xml(text: &str) -> Element {
        text.parse().expect("test XML is well-formed")
    }

    fn roundtrip(value: Value) -> Value {
        let x = dataform_element(&value, "dataform").expect("form maps to XML");
        dataform_json(&x, Flavour::Value)
    }

    #[test]
    fn dataform_roundtrips_every_field_property() {
        let form = json!({
            "type": "form", "title": "Configure", "instructions": "Fill in",
            "fields": [
                {"var": "FORM_TYPE", "type": "hidden", "value": "urn:example"},
                {"var": "name", "type": "text-single", "label": "Name", "desc": "Your name", "required": true, "value": "Romeo"},
                {"var": "bio", "type": "text-multi", "value": "line one\nline two"},
                {"var": "ok", "type": "boolean", "value": "1"},
                {"var": "jids", "type": "jid-multi", "value": ["a@example.com", "b@example.com"]},
                {"var": "colour", "type": "list-single", "value": "red", "options": [
                    {"label": "Red", "value": "red"}, {"value": "blue"}
                ]},
                {"var": "tags", "type": "list-multi", "value": [], "options": [{"label": "A", "value": "a"}]},
                {"type": "fixed", "value": "Section 2"}
            ]
        });
        assert_eq!(roundtrip(form.clone()), form);
    }

    #[test]
    fn dataform_options_reach_the_xml() {
        let x = dataform_element(
            &json!({"type": "form", "fields": [{"var": "c", "type": "list-single", "options": [{"label": "Red", "value": "red"}]}]}),
            "dataform",
        )
        .unwrap();
        assert_eq!(
            x,
            xml(concat!(
                r#"<x xmlns="jabber:x:data" type="form"><field var="c" type="list-single">"#,
                r#"<option label="Red"><value>red</value></option></field></x>"#
            ))
        );
    }

    #[test]
    fn text_multi_is_one_value_per_line() {
        let x = dataform_element(
            &json!({"type": "submit", "fields": [{"var": "t", "type": "text-multi", "value": "a\nb"}]}),
            "dataform",
        )
        .unwrap();
        assert_eq!(
            x,
            xml(concat!(
                r#"<x xmlns="jabber:x:data" type="submit"><field var="t" type="text-multi">"#,
                r#"<value>a</value><value>b</value></field></x>"#
            ))
        );
    }

    #[test]
    fn multi_item_results_roundtrip() {
        let form = json!({
            "type": "result",
            "fields": [],
            "reported": [{"var": "jid", "label": "JID"}],
            "items": [[{"var": "jid", "value": "a@example.com"}], [{"var": "jid", "value": "b@example.com"}]]
        });
        assert_eq!(roundtrip(form.clone()), form);
    }

    #[test]
    fn values_flavour_lists_values() {
        let form = json!({"type": "submit", "fields": [
            {"var": "FORM_TYPE", "type": "hidden", "values": ["urn:xmpp:mam:2"]},
            {"var": "with", "values": ["juliet@capulet.lit"]},
            {"var": "start"}
        ]});
        let x = dataform_element(&form, "archive").unwrap();
        assert_eq!(dataform_json(&x, Flavour::Values), form);
    }

    #[test]
    fn boolean_values_become_xs_booleans() {
        let x = dataform_element(
            &json!({"fields": [{"var": "b", "type": "boolean", "value": true}]}),
            "dataform",
        )
        .unwrap();
        assert_eq!(
            x.get_child("field", ns::DATA_FORMS)
                .unwrap()
                .get_child("value", ns::DATA_FORMS)
                .unwrap()
                .text(),
            "true"
        );
    }

    #[test]
    fn invalid_dataforms_are_rejected() {
        for form in [
            json!("form"),
            json!({"type": "bogus"}),
            json!({"fields": {}}),
            json!({"fields": ["name"]}),
            json!({"fields": [{"type": "text-weird"}]}),
            json!({"fields": [{"value": 1}]}),
            json!({"fields": [{"value": [1]}]}),
            json!({"fields": [{"options": [{"label": "no value"}]}]}),
            json!({"fields": [{"options": ["x"]}]}),
            json!({"fields": [{"required": "maybe"}]}),
            json!({"fields": [{"value": "\u{0}"}]}),
            json!({"items": [{}]}),
        ] {
            assert!(dataform_element(&form, "dataform").is_err(), "{form}");
        }
    }

    #[test]
    fn formdata_roundtrips_through_typed_fields() {
        let data = json!({
            "FORM_TYPE": "urn:xmpp:dataforms:softwareinfo", "os": "Linux",
            "addresses": ["mailto:a@example.com"], "public": true, "unset": null
        });
        let x = formdata_element(&data, "disco", "result", Typing::FromJson).unwrap();
        let first = x.children().next().unwrap();
        assert_eq!(
            (first.attr("var"), first.attr("type")),
            (Some("FORM_TYPE"), Some("hidden"))
        );
        assert_eq!(Value::Object(formdata_json(&x)), data);
    }

    #[test]
    fn formdata_submissions_are_untyped() {
        let x = formdata_element(
            &json!({"node": "x", "n": 5}),
            "command",
            "submit",
            Typing::Untyped,
        )
        .unwrap();
        assert_eq!(
            x,
            xml(concat!(
                r#"<x xmlns="jabber:x:data" type="submit"><field var="n"><value>5</value></field>"#,
                r#"<field var="node"><value>x</value></field></x>"#
            ))
        );
        assert!(formdata_element(&json!({"a": {}}), "command", "submit", Typing::Untyped).is_err());
        assert!(
            formdata_element(&json!({"a": [1]}), "command", "submit", Typing::Untyped).is_err()
        );
        assert!(formdata_element(&json!(["a"]), "command", "submit", Typing::Untyped).is_err());
    }

    #[test]
    fn formdata_json_follows_field_types() {
        let x = xml(concat!(
            r#"<x xmlns="jabber:x:data" type="result">"#,
            r#"<field var="ls" type="list-single"><value>a</value></field>"#,
            r#"<field var="jm" type="jid-multi"><value>a@b</value><value>c@d</value></field>"#,
            r#"<field var="tm" type="text-multi"><value>l1</value><value>l2</value></field>"#,
            r#"<field var="b" type="boolean"><value>0</value></field>"#,
            r#"<field var="ts" type="text-single"/>"#,
            r#"<field var="u"><value>x</value></field><field type="fixed"><value>no var</value></field></x>"#
        ));
        assert_eq!(
            Value::Object(formdata_json(&x)),
            json!({"ls": ["a"], "jm": ["a@b", "c@d"], "tm": "l1\nl2", "b": false, "ts": null, "u": ["x"]})
        );
    }
}
