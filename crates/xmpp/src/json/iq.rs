//! Iq payload keys (mod_rest §6.3): ping, version, disco, ad-hoc commands, MAM queries and
//! pages, last activity, stats, external services, HTTP upload, OOB, gateway, register, blocking.

use minidom::Element;
use rxml::xml_ncname;
use serde_json::{Number, Value};

use super::common::{rsm_element, rsm_json};
use super::forms::{self, Flavour, Typing};
use super::message::{stanza_id_element, stanza_ids_json};
use super::types::{Object, Result};
use super::value::{
    array_at, as_object, attrs_json, bool_at, bool_value, copy_attrs, copy_child_texts, enabled,
    enum_at, field, has_children, insert_str, invalid, jid_at, normalise_jid, object_at,
    object_or_true, parse_bool, parse_uint, required_string, set_attr, string_at, string_attrs,
    text_element, uint_at, xml_text, xs_bool,
};
use crate::ns;

const COMMAND_ACTIONS: [&str; 5] = ["execute", "cancel", "prev", "next", "complete"];
const COMMAND_STATUSES: [&str; 3] = ["executing", "completed", "canceled"];
const NEXT_ACTIONS: [&str; 3] = ["prev", "next", "complete"];
const NOTE_TYPES: [&str; 3] = ["info", "warn", "error"];

/// The MAM query-form fields that mod_rest accepts as plain `archive` keys.
const ARCHIVE_FIELDS: [&str; 6] = ["with", "start", "end", "before-id", "after-id", "ids"];

const UPLOAD_HEADERS: [&str; 3] = ["Authorization", "Cookie", "Expires"];
const REPORT_REASONS: [&str; 2] = ["urn:xmpp:reporting:spam", "urn:xmpp:reporting:abuse"];

/// XEP-0077 text fields, in the schema's order.
const REGISTER_FIELDS: [&str; 18] = [
    "instructions",
    "username",
    "nick",
    "password",
    "name",
    "first",
    "last",
    "email",
    "address",
    "city",
    "state",
    "zip",
    "phone",
    "url",
    "date",
    "misc",
    "text",
    "key",
];

type Builder = fn(&Value) -> Result<Element>;

/// Payload builders in the order their children are emitted.
const BUILDERS: [(&str, Builder); 17] = [
    ("ping", ping_element),
    ("version", version_element),
    ("disco", disco_info_element),
    ("items", disco_items_element),
    ("command", command_element),
    ("archive", archive_element),
    ("result", fin_element),
    ("lastactivity", lastactivity_element),
    ("stats", stats_element),
    ("extdisco", extdisco_element),
    ("upload_request", upload_request_element),
    ("upload_slot", upload_slot_element),
    ("oob", oob_element),
    ("gateway", gateway_element),
    ("register", register_element),
    ("block", block_element),
    ("blocklist", blocklist_element),
];

pub(super) fn iq_children(obj: &Object) -> Result<Vec<Element>> {
    let mut children = Vec::new();
    for (key, build) in BUILDERS {
        if let Some(value) = enabled(obj, key) {
            children.push(build(value)?);
        }
    }
    Ok(children)
}

/// `"true"` and `"1"` count too, for `POST /rest/iq/get/…` with a form body.
fn ping_element(value: &Value) -> Result<Element> {
    match bool_value(value, "ping") {
        Ok(true) => Ok(Element::bare("ping", ns::PING)),
        _ => Err(invalid("ping", "expected true")),
    }
}

fn version_element(value: &Value) -> Result<Element> {
    let mut query = Element::bare("query", ns::VERSION);
    if let Some(version) = object_or_true(value, "version")? {
        for name in ["name", "version", "os"] {
            if let Some(text) = string_at(version, name, "version")? {
                query.append_child(text_element(name, ns::VERSION, text));
            }
        }
    }
    Ok(query)
}

fn disco_info_element(value: &Value) -> Result<Element> {
    match value {
        Value::Bool(true) => Ok(Element::bare("query", ns::DISCO_INFO)),
        Value::String(node) => Ok(query_with_node(
            ns::DISCO_INFO,
            Some(xml_text("disco", node)?),
        )),
        Value::Object(info) => {
            let mut query = query_with_node(ns::DISCO_INFO, string_at(info, "node", "disco")?);
            for identity in array_at(info, "identities", "disco")? {
                query.append_child(identity_element(identity)?);
            }
            for feature in array_at(info, "features", "disco")? {
                query.append_child(feature_element(feature)?);
            }
            if let Some(extensions) = object_at(info, "extensions", "disco")? {
                for (form_type, data) in extensions {
                    query.append_child(extension_element(form_type, data)?);
                }
            }
            Ok(query)
        }
        _ => Err(invalid(
            "disco",
            "expected true, a node string or an object",
        )),
    }
}

fn identity_element(value: &Value) -> Result<Element> {
    let identity = value
        .as_object()
        .ok_or_else(|| invalid("disco", "each identity must be an object"))?;
    let required = |name| {
        string_at(identity, name, "disco")?
            .ok_or_else(|| invalid("disco", format!("identity '{name}' is required")))
    };
    let mut element = Element::bare("identity", ns::DISCO_INFO);
    set_attr(
        &mut element,
        xml_ncname!("category"),
        Some(required("category")?),
    );
    set_attr(&mut element, xml_ncname!("type"), Some(required("type")?));
    set_attr(
        &mut element,
        xml_ncname!("name"),
        string_at(identity, "name", "disco")?,
    );
    Ok(element)
}

fn feature_element(value: &Value) -> Result<Element> {
    let var = value
        .as_str()
        .ok_or_else(|| invalid("disco", "each feature must be a string"))?;
    let mut element = Element::bare("feature", ns::DISCO_INFO);
    set_attr(
        &mut element,
        xml_ncname!("var"),
        Some(xml_text("disco", var)?),
    );
    Ok(element)
}

/// XEP-0128: `extensions` maps each FORM_TYPE to its `{var: value}` data, sent as a typed
/// result form so that it reads back the same. (mod_rest's forms had no type at all.)
fn extension_element(form_type: &str, data: &Value) -> Result<Element> {
    let mut data = as_object(data, "disco")?.clone();
    data.insert("FORM_TYPE".into(), form_type.into());
    forms::formdata_element(&Value::Object(data), "disco", "result", Typing::FromJson)
}

fn disco_items_element(value: &Value) -> Result<Element> {
    match value {
        Value::Bool(true) => Ok(Element::bare("query", ns::DISCO_ITEMS)),
        Value::String(node) => Ok(query_with_node(
            ns::DISCO_ITEMS,
            Some(xml_text("items", node)?),
        )),
        Value::Object(request) => Ok(query_with_node(
            ns::DISCO_ITEMS,
            string_at(request, "node", "items")?,
        )),
        Value::Array(items) => {
            let mut query = Element::bare("query", ns::DISCO_ITEMS);
            for item in items {
                query.append_child(item_element(item)?);
            }
            Ok(query)
        }
        _ => Err(invalid(
            "items",
            "expected true, a node string, {node} or an array of items",
        )),
    }
}

/// mod_rest accepts a bare string as shorthand for `{jid}`.
fn item_element(value: &Value) -> Result<Element> {
    let (jid, node, name) = match value {
        Value::String(jid) => (Some(jid.as_str()), None, None),
        Value::Object(item) => (
            string_at(item, "jid", "items")?,
            string_at(item, "node", "items")?,
            string_at(item, "name", "items")?,
        ),
        _ => {
            return Err(invalid(
                "items",
                "each item must be a JID string or an object",
            ));
        }
    };
    let jid = jid
        .and_then(normalise_jid)
        .ok_or_else(|| invalid("items", "each item needs a valid 'jid'"))?;
    let mut element = Element::bare("item", ns::DISCO_ITEMS);
    set_attr(&mut element, xml_ncname!("jid"), Some(&jid));
    set_attr(&mut element, xml_ncname!("node"), node);
    set_attr(&mut element, xml_ncname!("name"), name);
    Ok(element)
}

fn query_with_node(namespace: &str, node: Option<&str>) -> Element {
    let mut query = Element::bare("query", namespace);
    set_attr(&mut query, xml_ncname!("node"), node);
    query
}

/// XEP-0050: a node string, or the full command object.
///
/// Fixes mod_rest quirks: a `note` is kept alongside `actions` (mod_rest dropped it, in both
/// directions), `data` is submitted as a form of type `submit` (mod_rest sent no type), and a
/// command without a node is refused instead of being sent as `<command/>`.
fn command_element(value: &Value) -> Result<Element> {
    let mut command = Element::bare("command", ns::COMMANDS);
    let spec = match value {
        Value::String(node) => {
            set_attr(
                &mut command,
                xml_ncname!("node"),
                Some(xml_text("command", node)?),
            );
            return Ok(command);
        }
        Value::Object(spec) => spec,
        _ => return Err(invalid("command", "expected a node string or an object")),
    };
    set_attr(
        &mut command,
        xml_ncname!("node"),
        Some(required_string(spec, "node", "command")?),
    );
    set_attr(
        &mut command,
        xml_ncname!("action"),
        enum_at(spec, "action", "command", &COMMAND_ACTIONS)?,
    );
    string_attrs(&mut command, spec, "command", &[xml_ncname!("sessionid")])?;
    set_attr(
        &mut command,
        xml_ncname!("status"),
        enum_at(spec, "status", "command", &COMMAND_STATUSES)?,
    );
    if let Some(actions) = object_at(spec, "actions", "command")? {
        let mut element = Element::bare("actions", ns::COMMANDS);
        set_attr(
            &mut element,
            xml_ncname!("execute"),
            enum_at(actions, "execute", "command", &NEXT_ACTIONS)?,
        );
        for action in NEXT_ACTIONS {
            if bool_at(actions, action, "command")? == Some(true) {
                element.append_child(Element::bare(action, ns::COMMANDS));
            }
        }
        command.append_child(element);
    }
    if let Some(note) = object_at(spec, "note", "command")? {
        let text = string_at(note, "text", "command")?.unwrap_or_default();
        let mut element = text_element("note", ns::COMMANDS, text);
        set_attr(
            &mut element,
            xml_ncname!("type"),
            enum_at(note, "type", "command", &NOTE_TYPES)?,
        );
        command.append_child(element);
    }
    if let Some(form) = field(spec, "form") {
        command.append_child(forms::dataform_element(form, "command")?);
    } else if let Some(data) = field(spec, "data") {
        command.append_child(forms::formdata_element(
            data,
            "command",
            "submit",
            Typing::Untyped,
        )?);
    }
    Ok(command)
}

/// A result form is also rendered as `data`, the flat map mod_rest's README describes for it.
fn command_json(command: &Element) -> Value {
    let mut json = Object::new();
    copy_attrs(
        command,
        &mut json,
        &["node", "action", "sessionid", "status"],
    );
    if let Some(actions) = command.get_child("actions", ns::COMMANDS) {
        let mut allowed = Object::new();
        copy_attrs(actions, &mut allowed, &["execute"]);
        for action in NEXT_ACTIONS {
            if actions.get_child(action, ns::COMMANDS).is_some() {
                allowed.insert(action.into(), true.into());
            }
        }
        json.insert("actions".into(), allowed.into());
    }
    if let Some(note) = command.get_child("note", ns::COMMANDS) {
        let mut json_note = Object::new();
        copy_attrs(note, &mut json_note, &["type"]);
        insert_str(&mut json_note, "text", &note.text());
        json.insert("note".into(), json_note.into());
    }
    if let Some(form) = command.get_child("x", ns::DATA_FORMS) {
        json.insert("form".into(), forms::dataform_json(form, Flavour::Value));
        if form.attr("type") == Some("result") {
            json.insert("data".into(), forms::formdata_json(form).into());
        }
    }
    json.into()
}

/// XEP-0313 query. Besides `queryid`, `form` and `page`, mod_rest's shortcuts are accepted:
/// `with`, `start`, `end`, `before-id`, `after-id`, `ids` (array or comma-separated) build the
/// query form, and `after`, `before`, `max` the RSM page.
///
/// Fixes mod_rest quirks: unset shortcut fields are left out of the form (mod_rest sent them
/// empty, which servers may read as an invalid date), and the page shortcuts also work next to
/// an explicit `form` (mod_rest ignored them then).
fn archive_element(value: &Value) -> Result<Element> {
    let mut query = Element::bare("query", ns::MAM);
    let Some(archive) = object_or_true(value, "archive")? else {
        return Ok(query);
    };
    string_attrs(&mut query, archive, "archive", &[xml_ncname!("queryid")])?;
    if let Some(form) = field(archive, "form") {
        query.append_child(forms::dataform_element(form, "archive")?);
    } else if ARCHIVE_FIELDS
        .iter()
        .any(|name| field(archive, name).is_some())
    {
        query.append_child(archive_form(archive)?);
    }
    let mut page = object_at(archive, "page", "archive")?
        .cloned()
        .unwrap_or_default();
    for name in ["after", "before", "max"] {
        if let Some(value) = field(archive, name) {
            page.insert(name.into(), value.clone());
        }
    }
    if !page.is_empty() || field(archive, "page").is_some() {
        query.append_child(rsm_element(&Value::Object(page), "archive")?);
    }
    Ok(query)
}

fn archive_form(archive: &Object) -> Result<Element> {
    let mut fields = vec![serde_json::json!({
        "var": "FORM_TYPE", "type": "hidden", "value": ns::MAM
    })];
    for name in ARCHIVE_FIELDS {
        let values: Vec<Value> = match field(archive, name) {
            None => continue,
            Some(Value::String(text)) if name == "ids" => text
                .split(',')
                .filter(|id| !id.is_empty())
                .map(Value::from)
                .collect(),
            Some(Value::String(text)) => vec![text.as_str().into()],
            Some(Value::Array(ids)) if name == "ids" => ids.clone(),
            Some(_) => {
                return Err(invalid("archive", format!("'{name}' must be a string")));
            }
        };
        fields.push(serde_json::json!({"var": name, "values": values}));
    }
    let form = serde_json::json!({"type": "submit", "fields": fields});
    forms::dataform_element(&form, "archive")
}

fn archive_json(query: &Element) -> Value {
    let mut json = Object::new();
    copy_attrs(query, &mut json, &["queryid"]);
    if let Some(form) = query.get_child("x", ns::DATA_FORMS) {
        json.insert("form".into(), forms::dataform_json(form, Flavour::Values));
    }
    if let Some(set) = query.get_child("set", ns::RSM) {
        json.insert("page".into(), rsm_json(set));
    }
    json.into()
}

/// XEP-0313 `<fin/>`. `complete` and `stable` are an extension: clients need `complete` to
/// know they reached the last page.
fn fin_element(value: &Value) -> Result<Element> {
    let mut fin = Element::bare("fin", ns::MAM);
    let Some(result) = object_or_true(value, "result")? else {
        return Ok(fin);
    };
    for name in [xml_ncname!("complete"), xml_ncname!("stable")] {
        let flag = bool_at(result, name.as_str(), "result")?;
        set_attr(&mut fin, name, flag.map(xs_bool));
    }
    if let Some(page) = field(result, "page") {
        fin.append_child(rsm_element(page, "result")?);
    }
    Ok(fin)
}

fn fin_json(fin: &Element) -> Value {
    let mut json = Object::new();
    for name in ["complete", "stable"] {
        if let Some(flag) = fin.attr(name).and_then(parse_bool) {
            json.insert(name.into(), flag.into());
        }
    }
    if let Some(set) = fin.get_child("set", ns::RSM) {
        json.insert("page".into(), rsm_json(set));
    }
    json.into()
}

fn lastactivity_element(value: &Value) -> Result<Element> {
    let mut query = Element::bare("query", ns::LAST);
    if let Some(last) = object_or_true(value, "lastactivity")? {
        let seconds = uint_at(last, "seconds", "lastactivity", u64::MAX)?;
        set_attr(
            &mut query,
            xml_ncname!("seconds"),
            seconds.map(|n| n.to_string()).as_deref(),
        );
        if let Some(status) = string_at(last, "status", "lastactivity")?.filter(|s| !s.is_empty()) {
            query.append_text(status);
        }
    }
    Ok(query)
}

fn lastactivity_json(query: &Element) -> Value {
    let mut json = Object::new();
    if let Some(seconds) = query.attr("seconds").and_then(parse_uint) {
        json.insert("seconds".into(), seconds.into());
    }
    let status = query.text();
    if !status.is_empty() {
        json.insert("status".into(), status.into());
    }
    json.into()
}

/// XEP-0039: `true` or an object (a query-string map) asks for the list of statistic names;
/// an array of `{name, unit, value}` asks for, or reports, those statistics.
fn stats_element(value: &Value) -> Result<Element> {
    let mut query = Element::bare("query", ns::STATS);
    let stats = match value {
        Value::Bool(true) | Value::Object(_) => return Ok(query),
        Value::Array(stats) => stats,
        _ => return Err(invalid("stats", "expected true or an array of statistics")),
    };
    for stat in stats {
        let stat = stat
            .as_object()
            .ok_or_else(|| invalid("stats", "each statistic must be an object"))?;
        let mut element = Element::bare("stat", ns::STATS);
        set_attr(
            &mut element,
            xml_ncname!("name"),
            Some(required_string(stat, "name", "stats")?),
        );
        string_attrs(&mut element, stat, "stats", &[xml_ncname!("unit")])?;
        let number = match field(stat, "value") {
            None => None,
            Some(Value::Number(number)) => Some(number.to_string()),
            Some(Value::String(text)) if parse_number(text).is_some() => Some(text.trim().into()),
            Some(_) => return Err(invalid("stats", "'value' must be a number")),
        };
        set_attr(&mut element, xml_ncname!("value"), number.as_deref());
        query.append_child(element);
    }
    Ok(query)
}

fn parse_number(text: &str) -> Option<Number> {
    let text = text.trim();
    if let Ok(integer) = text.parse::<i64>() {
        return Some(integer.into());
    }
    if let Ok(integer) = text.parse::<u64>() {
        return Some(integer.into());
    }
    text.parse::<f64>().ok().and_then(Number::from_f64)
}

fn stats_json(query: &Element) -> Value {
    query
        .children()
        .filter(|child| child.is("stat", ns::STATS))
        .map(|stat| {
            let mut json = Object::new();
            copy_attrs(stat, &mut json, &["name", "unit"]);
            if let Some(number) = stat.attr("value").and_then(parse_number) {
                json.insert("value".into(), number.into());
            }
            Value::Object(json)
        })
        .collect::<Vec<_>>()
        .into()
}

const SERVICE_STRINGS: [&str; 7] = [
    "type",
    "host",
    "transport",
    "username",
    "password",
    "expires",
    "name",
];

fn extdisco_element(value: &Value) -> Result<Element> {
    let mut services = Element::bare("services", ns::EXTDISCO);
    let Some(spec) = object_or_true(value, "extdisco")? else {
        return Ok(services);
    };
    string_attrs(&mut services, spec, "extdisco", &[xml_ncname!("type")])?;
    for service in array_at(spec, "services", "extdisco")? {
        let service = service
            .as_object()
            .ok_or_else(|| invalid("extdisco", "each service must be an object"))?;
        let mut element = Element::bare("service", ns::EXTDISCO);
        for name in [xml_ncname!("type"), xml_ncname!("host")] {
            let value = required_string(service, name.as_str(), "extdisco")?;
            set_attr(&mut element, name, Some(value));
        }
        string_attrs(
            &mut element,
            service,
            "extdisco",
            &[
                xml_ncname!("transport"),
                xml_ncname!("username"),
                xml_ncname!("password"),
                xml_ncname!("expires"),
                xml_ncname!("name"),
            ],
        )?;
        let port = uint_at(service, "port", "extdisco", u16::MAX.into())?;
        set_attr(
            &mut element,
            xml_ncname!("port"),
            port.map(|n| n.to_string()).as_deref(),
        );
        let restricted = bool_at(service, "restricted", "extdisco")?;
        set_attr(
            &mut element,
            xml_ncname!("restricted"),
            restricted.map(xs_bool),
        );
        services.append_child(element);
    }
    Ok(services)
}

fn extdisco_json(services: &Element) -> Value {
    let mut json = Object::new();
    copy_attrs(services, &mut json, &["type"]);
    let list: Vec<Value> = services
        .children()
        .filter(|child| child.is("service", ns::EXTDISCO))
        .map(|service| {
            let mut json = Object::new();
            copy_attrs(service, &mut json, &SERVICE_STRINGS);
            if let Some(port) = service.attr("port").and_then(parse_uint) {
                json.insert("port".into(), port.into());
            }
            if let Some(restricted) = service.attr("restricted").and_then(parse_bool) {
                json.insert("restricted".into(), restricted.into());
            }
            Value::Object(json)
        })
        .collect();
    if !list.is_empty() {
        json.insert("services".into(), list.into());
    }
    json.into()
}

/// XEP-0363 slot request; `size` may be a decimal string (`GET /rest/upload_request/…?size=…`).
fn upload_request_element(value: &Value) -> Result<Element> {
    let request = as_object(value, "upload_request")?;
    let mut element = Element::bare("request", ns::HTTP_UPLOAD);
    set_attr(
        &mut element,
        xml_ncname!("filename"),
        Some(required_string(request, "filename", "upload_request")?),
    );
    let size = uint_at(request, "size", "upload_request", u64::MAX)?
        .ok_or_else(|| invalid("upload_request", "'size' is required"))?;
    set_attr(&mut element, xml_ncname!("size"), Some(&size.to_string()));
    string_attrs(
        &mut element,
        request,
        "upload_request",
        &[xml_ncname!("content-type")],
    )?;
    Ok(element)
}

fn upload_request_json(request: &Element) -> Value {
    let mut json = Object::new();
    copy_attrs(request, &mut json, &["filename", "content-type"]);
    if let Some(size) = request.attr("size").and_then(parse_uint) {
        json.insert("size".into(), size.into());
    }
    json.into()
}

fn upload_slot_element(value: &Value) -> Result<Element> {
    let slot = as_object(value, "upload_slot")?;
    let mut element = Element::bare("slot", ns::HTTP_UPLOAD);
    for name in ["put", "get"] {
        let spec = object_at(slot, name, "upload_slot")?
            .ok_or_else(|| invalid("upload_slot", format!("'{name}' is required")))?;
        let mut url = Element::bare(name, ns::HTTP_UPLOAD);
        set_attr(
            &mut url,
            xml_ncname!("url"),
            Some(required_string(spec, "url", "upload_slot")?),
        );
        if name == "put" {
            for header in array_at(spec, "headers", "upload_slot")? {
                url.append_child(upload_header_element(header)?);
            }
        }
        element.append_child(url);
    }
    Ok(element)
}

/// XEP-0363 §5 allows only these headers; anything else would be dropped by the client anyway.
fn upload_header_element(value: &Value) -> Result<Element> {
    let header = value
        .as_object()
        .ok_or_else(|| invalid("upload_slot", "each header must be an object"))?;
    let name = enum_at(header, "name", "upload_slot", &UPLOAD_HEADERS)?
        .ok_or_else(|| invalid("upload_slot", "each header needs a 'name'"))?;
    let value = required_string(header, "value", "upload_slot")?;
    let mut element = text_element("header", ns::HTTP_UPLOAD, value);
    set_attr(&mut element, xml_ncname!("name"), Some(name));
    Ok(element)
}

fn upload_slot_json(slot: &Element) -> Value {
    let mut json = Object::new();
    for name in ["put", "get"] {
        let Some(url) = slot.get_child(name, ns::HTTP_UPLOAD) else {
            continue;
        };
        let mut spec = Object::new();
        copy_attrs(url, &mut spec, &["url"]);
        let headers: Vec<Value> = url
            .children()
            .filter(|child| child.is("header", ns::HTTP_UPLOAD))
            .map(|header| {
                let mut json = Object::new();
                copy_attrs(header, &mut json, &["name"]);
                insert_str(&mut json, "value", &header.text());
                Value::Object(json)
            })
            .collect();
        if !headers.is_empty() {
            spec.insert("headers".into(), headers.into());
        }
        json.insert(name.into(), spec.into());
    }
    json.into()
}

/// A query whose object keys are child elements holding text (iq `oob`, `gateway`).
fn text_query(
    value: &Value,
    key: &'static str,
    namespace: &str,
    names: &[&str],
) -> Result<Element> {
    let mut query = Element::bare("query", namespace);
    if let Some(spec) = object_or_true(value, key)? {
        for name in names {
            if let Some(text) = string_at(spec, name, key)? {
                query.append_child(text_element(name, namespace, text));
            }
        }
    }
    Ok(query)
}

fn text_query_json(query: &Element, namespace: &str, names: &[&str]) -> Value {
    let mut json = Object::new();
    copy_child_texts(query, namespace, &mut json, names);
    json.into()
}

fn oob_element(value: &Value) -> Result<Element> {
    text_query(value, "oob", ns::IQ_OOB, &["url", "desc"])
}

fn gateway_element(value: &Value) -> Result<Element> {
    text_query(value, "gateway", ns::GATEWAY, &["desc", "jid", "prompt"])
}

fn register_element(value: &Value) -> Result<Element> {
    let mut query = text_query(value, "register", ns::REGISTER, &REGISTER_FIELDS)?;
    if let Value::Object(spec) = value {
        for flag in ["registered", "remove"] {
            if bool_at(spec, flag, "register")? == Some(true) {
                query.append_child(Element::bare(flag, ns::REGISTER));
            }
        }
    }
    Ok(query)
}

fn register_json(query: &Element) -> Value {
    let mut json = Object::new();
    copy_child_texts(query, ns::REGISTER, &mut json, &REGISTER_FIELDS);
    for flag in ["registered", "remove"] {
        if query.get_child(flag, ns::REGISTER).is_some() {
            json.insert(flag.into(), true.into());
        }
    }
    json.into()
}

/// XEP-0191 block with optional XEP-0377 reports. A single item (a JID string or an object, as
/// a form or query string produces) is accepted as a one-item list.
fn block_element(value: &Value) -> Result<Element> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        Value::String(_) | Value::Object(_) => std::slice::from_ref(value),
        _ => return Err(invalid("block", "expected an array of items")),
    };
    let mut block = Element::bare("block", ns::BLOCKING);
    for item in items {
        block.append_child(block_item_element(item, "block")?);
    }
    Ok(block)
}

fn block_item_element(value: &Value, key: &'static str) -> Result<Element> {
    let (jid, report) = match value {
        Value::String(jid) => (normalise_jid(jid), None),
        Value::Object(item) => (jid_at(item, "jid", key)?, object_at(item, "report", key)?),
        _ => return Err(invalid(key, "each item must be a JID string or an object")),
    };
    let jid = jid.ok_or_else(|| invalid(key, "each item needs a valid 'jid'"))?;
    let mut item = Element::bare("item", ns::BLOCKING);
    set_attr(&mut item, xml_ncname!("jid"), Some(&jid));
    if let Some(report) = report {
        let reason = enum_at(report, "reason", key, &REPORT_REASONS)?
            .ok_or_else(|| invalid(key, "a report needs a 'reason'"))?;
        let mut element = Element::bare("report", ns::REPORTING);
        set_attr(&mut element, xml_ncname!("reason"), Some(reason));
        for stanza_id in array_at(report, "stanza_ids", key)? {
            element.append_child(stanza_id_element(stanza_id, key)?);
        }
        item.append_child(element);
    }
    Ok(item)
}

fn block_json(block: &Element) -> Value {
    block
        .children()
        .filter(|child| child.is("item", ns::BLOCKING))
        .map(|item| {
            let mut json = Object::new();
            copy_attrs(item, &mut json, &["jid"]);
            if let Some(report) = item.get_child("report", ns::REPORTING) {
                let mut json_report = Object::new();
                copy_attrs(report, &mut json_report, &["reason"]);
                let stanza_ids = stanza_ids_json(report);
                if !stanza_ids.is_empty() {
                    json_report.insert("stanza_ids".into(), stanza_ids.into());
                }
                json.insert("report".into(), json_report.into());
            }
            Value::Object(json)
        })
        .collect::<Vec<_>>()
        .into()
}

/// `true` or an object requests the list; an array carries it.
fn blocklist_element(value: &Value) -> Result<Element> {
    let mut blocklist = Element::bare("blocklist", ns::BLOCKING);
    match value {
        Value::Bool(true) | Value::Object(_) => {}
        Value::Array(items) => {
            for item in items {
                blocklist.append_child(block_item_element(item, "blocklist")?);
            }
        }
        _ => return Err(invalid("blocklist", "expected true or an array of items")),
    }
    Ok(blocklist)
}

fn blocklist_json(blocklist: &Element) -> Value {
    blocklist
        .children()
        .filter(|child| child.is("item", ns::BLOCKING))
        .map(|item| attrs_json(item, &["jid"]))
        .collect::<Vec<_>>()
        .into()
}

pub(super) fn iq_json(stanza: &Element, stanza_type: Option<&str>, out: &mut Object) {
    if stanza.get_child("ping", ns::PING).is_some() {
        out.insert("ping".into(), true.into());
    }
    if let Some(query) = stanza.get_child("query", ns::VERSION) {
        out.insert(
            "version".into(),
            text_query_json(query, ns::VERSION, &["name", "version", "os"]),
        );
    }
    type Reader = fn(&Element) -> Value;
    let readers: [(&str, &str, &str, Reader); 12] = [
        ("archive", "query", ns::MAM, archive_json),
        ("result", "fin", ns::MAM, fin_json),
        ("lastactivity", "query", ns::LAST, lastactivity_json),
        ("stats", "query", ns::STATS, stats_json),
        ("extdisco", "services", ns::EXTDISCO, extdisco_json),
        (
            "upload_request",
            "request",
            ns::HTTP_UPLOAD,
            upload_request_json,
        ),
        ("upload_slot", "slot", ns::HTTP_UPLOAD, upload_slot_json),
        ("oob", "query", ns::IQ_OOB, |query| {
            text_query_json(query, ns::IQ_OOB, &["url", "desc"])
        }),
        ("gateway", "query", ns::GATEWAY, |query| {
            text_query_json(query, ns::GATEWAY, &["desc", "jid", "prompt"])
        }),
        ("register", "query", ns::REGISTER, register_json),
        ("block", "block", ns::BLOCKING, block_json),
        ("blocklist", "blocklist", ns::BLOCKING, blocklist_json),
    ];
    for (key, name, namespace, read) in readers {
        if let Some(child) = stanza.get_child(name, namespace) {
            out.insert(key.into(), read(child));
        }
    }
    // mod_rest skips its hand-written ("func") mappings (disco, items, command) for errors.
    if stanza_type == Some("error") {
        return;
    }
    // A result is always rendered as a response, so an empty one still reads as "no features/items".
    let is_response = stanza_type == Some("result");
    if let Some(query) = stanza.get_child("query", ns::DISCO_INFO) {
        let json = if is_response || has_children(query) {
            disco_info_json(query)
        } else {
            request_json(query)
        };
        out.insert("disco".into(), json);
    }
    if let Some(query) = stanza.get_child("query", ns::DISCO_ITEMS) {
        let json = if is_response || has_children(query) {
            disco_items_json(query)
        } else {
            request_json(query)
        };
        out.insert("items".into(), json);
    }
    if let Some(command) = stanza.get_child("command", ns::COMMANDS) {
        out.insert("command".into(), command_json(command));
    }
}

/// A disco request is `true`, or its node as a plain string.
fn request_json(query: &Element) -> Value {
    query.attr("node").map_or(Value::Bool(true), Value::from)
}

fn disco_info_json(query: &Element) -> Value {
    let identities: Vec<Value> = query
        .children()
        .filter(|child| child.is("identity", ns::DISCO_INFO))
        .filter_map(identity_json)
        .collect();
    let features: Vec<Value> = query
        .children()
        .filter(|child| child.is("feature", ns::DISCO_INFO))
        .filter_map(|feature| feature.attr("var"))
        .map(Value::from)
        .collect();
    let mut json = Object::new();
    if let Some(node) = query.attr("node") {
        insert_str(&mut json, "node", node);
    }
    json.insert("identities".into(), identities.into());
    json.insert("features".into(), features.into());
    let extensions = extensions_json(query);
    if !extensions.is_empty() {
        json.insert("extensions".into(), extensions.into());
    }
    json.into()
}

/// Forms without a FORM_TYPE cannot be keyed and are skipped.
fn extensions_json(query: &Element) -> Object {
    let mut extensions = Object::new();
    for form in query
        .children()
        .filter(|child| child.is("x", ns::DATA_FORMS))
    {
        let mut data = forms::formdata_json(form);
        let form_type = match data.remove("FORM_TYPE") {
            Some(Value::String(form_type)) => form_type,
            Some(Value::Array(values)) => match values.into_iter().next() {
                Some(Value::String(form_type)) => form_type,
                _ => continue,
            },
            _ => continue,
        };
        extensions.insert(form_type, data.into());
    }
    extensions
}

/// Identities lacking the mandatory category or type are skipped, as mod_rest does.
fn identity_json(identity: &Element) -> Option<Value> {
    let mut json = Object::new();
    insert_str(&mut json, "category", identity.attr("category")?);
    insert_str(&mut json, "type", identity.attr("type")?);
    if let Some(name) = identity.attr("name") {
        insert_str(&mut json, "name", name);
    }
    Some(json.into())
}

fn disco_items_json(query: &Element) -> Value {
    query
        .children()
        .filter(|child| child.is("item", ns::DISCO_ITEMS))
        .map(|item| attrs_json(item, &["jid", "node", "name"]))
        .collect::<Vec<_>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_roundtrip, invalid_key, roundtrip, to_json, to_stanza, xml};
    use serde_json::json;

    #[test]
    fn roundtrip_disco_extensions() {
        assert_roundtrip(
            json!({"kind": "iq", "type": "result", "from": "example.com", "disco": {
                "identities": [{"category": "server", "type": "im"}],
                "features": ["http://jabber.org/protocol/disco#info"],
                "extensions": {
                    "urn:xmpp:dataforms:softwareinfo": {"os": "Linux", "software": "Switchboard", "public": true},
                    "http://jabber.org/network/serverinfo": {"abuse-addresses": ["mailto:abuse@example.com"]}
                }
            }}),
        );
        let stanza = to_stanza(json!({"type": "result", "disco": {
            "extensions": {"urn:example": {"a": "b"}}
        }}));
        assert_eq!(
            stanza,
            xml(concat!(
                r#"<iq xmlns="jabber:client" type="result"><query xmlns="http://jabber.org/protocol/disco#info">"#,
                r#"<x xmlns="jabber:x:data" type="result">"#,
                r#"<field var="FORM_TYPE" type="hidden"><value>urn:example</value></field>"#,
                r#"<field var="a" type="text-single"><value>b</value></field></x></query></iq>"#
            ))
        );
    }

    #[test]
    fn golden_readme_command_execute_request() {
        let request = json!({
            "command": {"node": "uptime"}, "id": "Jv-87nRaP6Mnrp8l", "kind": "iq", "to": "example.com", "type": "set"
        });
        let stanza = xml(concat!(
            r#"<iq xmlns="jabber:client" type="set" id="Jv-87nRaP6Mnrp8l" to="example.com">"#,
            r#"<command xmlns="http://jabber.org/protocol/commands" node="uptime"/></iq>"#
        ));
        assert_eq!(to_stanza(request.clone()), stanza);
        assert_eq!(to_json(&stanza), request);
        assert_eq!(
            to_stanza(json!({"command": "uptime", "to": "example.com", "id": "Jv-87nRaP6Mnrp8l"})),
            stanza
        );
    }

    #[test]
    fn golden_readme_command_executed_response() {
        let response = json!({
            "command": {
                "node": "uptime",
                "note": {
                    "text": "This server has been running for 0 days, 20 hours and 54 minutes (since Fri Feb  7 18:05:30 2020)",
                    "type": "info"
                },
                "sessionid": "6380880a-93e9-4f13-8ee2-171927a40e67",
                "status": "completed"
            },
            "from": "example.com", "id": "Jv-87nRaP6Mnrp8l", "kind": "iq", "type": "result"
        });
        let stanza = xml(concat!(
            r#"<iq xmlns="jabber:client" type="result" id="Jv-87nRaP6Mnrp8l" from="example.com">"#,
            r#"<command xmlns="http://jabber.org/protocol/commands" node="uptime" "#,
            r#"sessionid="6380880a-93e9-4f13-8ee2-171927a40e67" status="completed">"#,
            r#"<note type="info">This server has been running for 0 days, 20 hours and 54 minutes (since Fri Feb  7 18:05:30 2020)</note>"#,
            r#"</command></iq>"#
        ));
        assert_eq!(to_json(&stanza), response);
        assert_eq!(to_stanza(response), stanza);
    }

    #[test]
    fn roundtrip_command_with_actions_note_and_form() {
        assert_roundtrip(json!({"kind": "iq", "type": "result", "command": {
            "node": "config", "sessionid": "s1", "status": "executing",
            "actions": {"execute": "next", "next": true, "prev": true},
            "note": {"type": "warn", "text": "Careful"},
            "form": {"type": "form", "title": "Step 1", "fields": [{"var": "name", "type": "text-single", "required": true}]}
        }}));
        assert_roundtrip(
            json!({"kind": "iq", "type": "set", "command": {"node": "config", "action": "cancel", "sessionid": "s1"}}),
        );
    }

    #[test]
    fn command_data_is_submitted_and_results_read_as_data() {
        let stanza = to_stanza(
            json!({"command": {"node": "adduser", "sessionid": "s", "data": {"accountjid": "a@example.com"}}}),
        );
        assert_eq!(
            stanza,
            xml(concat!(
                r#"<iq xmlns="jabber:client" type="set"><command xmlns="http://jabber.org/protocol/commands" node="adduser" sessionid="s">"#,
                r#"<x xmlns="jabber:x:data" type="submit"><field var="accountjid"><value>a@example.com</value></field></x></command></iq>"#
            ))
        );
        let result = xml(concat!(
            r#"<iq xmlns="jabber:client" type="result"><command xmlns="http://jabber.org/protocol/commands" node="users" status="completed">"#,
            r#"<x xmlns="jabber:x:data" type="result"><field var="online" type="jid-multi"><value>a@b</value></field></x></command></iq>"#
        ));
        assert_eq!(
            to_json(&result)["command"],
            json!({"node": "users", "status": "completed",
                "form": {"type": "result", "fields": [{"var": "online", "type": "jid-multi", "value": ["a@b"]}]},
                "data": {"online": ["a@b"]}})
        );
    }

    #[test]
    fn roundtrip_archive_query() {
        assert_roundtrip(json!({"kind": "iq", "type": "set", "archive": {
            "queryid": "f27",
            "form": {"type": "submit", "fields": [
                {"var": "FORM_TYPE", "type": "hidden", "values": ["urn:xmpp:mam:2"]},
                {"var": "with", "values": ["juliet@capulet.lit"]}
            ]},
            "page": {"max": 10, "after": "09af3-cc343-b409f"}
        }}));
        assert_roundtrip(json!({"kind": "iq", "type": "set", "archive": {}}));
    }

    #[test]
    fn archive_shortcuts_build_form_and_page() {
        let json = roundtrip(json!({"archive": {
            "with": "juliet@capulet.lit", "start": "2010-06-07T00:00:00Z", "ids": "a,b", "max": "5", "before": ""
        }}));
        assert_eq!(
            json,
            json!({"kind": "iq", "type": "set", "archive": {
                "form": {"type": "submit", "fields": [
                    {"var": "FORM_TYPE", "type": "hidden", "values": ["urn:xmpp:mam:2"]},
                    {"var": "with", "values": ["juliet@capulet.lit"]},
                    {"var": "start", "values": ["2010-06-07T00:00:00Z"]},
                    {"var": "ids", "values": ["a", "b"]}
                ]},
                "page": {"max": 5, "before": ""}
            }})
        );
        assert_eq!(
            roundtrip(json!({"archive": {"ids": ["x", "y"]}}))["archive"]["form"]["fields"][1],
            json!({"var": "ids", "values": ["x", "y"]})
        );
        // Page shortcuts also apply next to an explicit form; form shortcuts then do not.
        assert_eq!(
            roundtrip(
                json!({"archive": {"form": {"type": "submit"}, "with": "ignored@x", "max": 3}})
            )["archive"],
            json!({"form": {"type": "submit", "fields": []}, "page": {"max": 3}})
        );
    }

    #[test]
    fn roundtrip_result_page() {
        assert_roundtrip(
            json!({"kind": "iq", "type": "result", "id": "q", "result": {
                "complete": true, "stable": false, "page": {"first": "a", "last": "b", "count": 3}
            }}),
        );
    }

    #[test]
    fn roundtrip_lastactivity() {
        assert_roundtrip(
            json!({"kind": "iq", "type": "result", "lastactivity": {"seconds": 903, "status": "Heading Home"}}),
        );
        assert_eq!(
            to_stanza(json!({"lastactivity": true, "to": "romeo@montague.lit"})),
            xml(
                r#"<iq xmlns="jabber:client" type="get" to="romeo@montague.lit"><query xmlns="jabber:iq:last"/></iq>"#
            )
        );
        assert_eq!(
            roundtrip(json!({"lastactivity": {"seconds": "0"}}))["lastactivity"],
            json!({"seconds": 0})
        );
    }

    #[test]
    fn roundtrip_stats() {
        assert_roundtrip(json!({"kind": "iq", "type": "result", "stats": [
            {"name": "users/online", "unit": "users", "value": 12},
            {"name": "cpu", "unit": "%", "value": 1.5},
            {"name": "time/uptime"}
        ]}));
        assert_eq!(roundtrip(json!({"stats": {}}))["stats"], json!([]));
        assert_eq!(
            roundtrip(json!({"stats": [{"name": "n", "value": " -3 "}]}))["stats"],
            json!([{"name": "n", "value": -3}])
        );
    }

    #[test]
    fn roundtrip_extdisco() {
        assert_roundtrip(
            json!({"kind": "iq", "type": "result", "extdisco": {"services": [
                {"type": "turn", "host": "turn.example.com", "port": 3478, "transport": "udp", "username": "u",
                 "password": "p", "expires": "2025-01-01T00:00:00Z", "restricted": true, "name": "TURN"},
                {"type": "stun", "host": "stun.example.com"}
            ]}}),
        );
        assert_roundtrip(json!({"kind": "iq", "type": "get", "extdisco": {"type": "stun"}}));
    }

    #[test]
    fn roundtrip_upload_request() {
        assert_roundtrip(
            json!({"kind": "iq", "type": "get", "to": "upload.example.com",
            "upload_request": {"filename": "très cool.jpg", "size": 23456, "content-type": "image/jpeg"}}),
        );
        assert_eq!(
            roundtrip(json!({"upload_request": {"filename": "a", "size": "7"}}))["upload_request"],
            json!({"filename": "a", "size": 7})
        );
    }

    #[test]
    fn roundtrip_upload_slot() {
        assert_roundtrip(json!({"kind": "iq", "type": "result", "upload_slot": {
            "put": {"url": "https://upload.example.com/put/x.jpg", "headers": [
                {"name": "Authorization", "value": "Basic Base64String=="}, {"name": "Cookie", "value": "foo=bar"}
            ]},
            "get": {"url": "https://download.example.com/x.jpg"}
        }}));
    }

    #[test]
    fn roundtrip_iq_oob() {
        assert_roundtrip(
            json!({"kind": "iq", "type": "set", "oob": {"url": "https://example.com/file", "desc": "A file"}}),
        );
        assert_eq!(
            to_stanza(json!({"kind": "iq", "type": "set", "oob": {"url": "u"}})),
            xml(
                r#"<iq xmlns="jabber:client" type="set"><query xmlns="jabber:iq:oob"><url>u</url></query></iq>"#
            )
        );
    }

    #[test]
    fn roundtrip_gateway() {
        assert_roundtrip(
            json!({"kind": "iq", "type": "result", "gateway": {"desc": "Enter the phone number", "prompt": "Phone Number"}}),
        );
        assert_roundtrip(
            json!({"kind": "iq", "type": "result", "gateway": {"jid": "+12345@sms.example.com"}}),
        );
    }

    #[test]
    fn roundtrip_register() {
        assert_roundtrip(json!({"kind": "iq", "type": "result", "register": {
            "instructions": "Choose a username", "username": "", "password": "", "email": ""
        }}));
        assert_roundtrip(
            json!({"kind": "iq", "type": "result", "register": {"registered": true, "username": "juliet"}}),
        );
        assert_eq!(
            to_stanza(json!({"type": "set", "register": {"remove": true}})),
            xml(
                r#"<iq xmlns="jabber:client" type="set"><query xmlns="jabber:iq:register"><remove/></query></iq>"#
            )
        );
    }

    #[test]
    fn roundtrip_block() {
        assert_roundtrip(json!({"kind": "iq", "type": "set", "block": [
            {"jid": "spammer@example.com", "report": {"reason": "urn:xmpp:reporting:spam",
                "stanza_ids": [{"id": "s1", "by": "romeo@example.com"}]}},
            {"jid": "troll@example.com", "report": {"reason": "urn:xmpp:reporting:abuse"}},
            {"jid": "example.net"}
        ]}));
        let single = xml(
            r#"<iq xmlns="jabber:client" type="set"><block xmlns="urn:xmpp:blocking"><item jid="a@example.com"/></block></iq>"#,
        );
        assert_eq!(to_stanza(json!({"block": "A@example.com"})), single);
        assert_eq!(
            to_stanza(json!({"block": {"jid": "a@example.com"}})),
            single
        );
    }

    #[test]
    fn roundtrip_blocklist() {
        assert_roundtrip(
            json!({"kind": "iq", "type": "result", "blocklist": [{"jid": "a@example.com"}, {"jid": "example.net"}]}),
        );
        assert_roundtrip(json!({"kind": "iq", "type": "get", "blocklist": []}));
        assert_eq!(
            to_stanza(json!({"blocklist": true})),
            xml(
                r#"<iq xmlns="jabber:client" type="get"><blocklist xmlns="urn:xmpp:blocking"/></iq>"#
            )
        );
    }

    #[test]
    fn error_iqs_keep_schema_keys_but_skip_func_keys() {
        let stanza = xml(concat!(
            r#"<iq xmlns="jabber:client" type="error"><query xmlns="jabber:iq:register"><username/></query>"#,
            r#"<command xmlns="http://jabber.org/protocol/commands" node="x"/>"#,
            r#"<error type="cancel"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>"#
        ));
        assert_eq!(
            to_json(&stanza),
            json!({"kind": "iq", "type": "error", "register": {"username": ""},
                "error": {"type": "cancel", "condition": "conflict"}})
        );
    }

    #[test]
    fn invalid_iq_values_are_rejected() {
        for (value, key) in [
            (json!({"disco": {"extensions": {"urn:x": "y"}}}), "disco"),
            (json!({"disco": {"extensions": []}}), "disco"),
            (
                json!({"disco": {"extensions": {"urn:x": {"a": {}}}}}),
                "disco",
            ),
            (json!({"command": {}}), "command"),
            (json!({"command": 5}), "command"),
            (
                json!({"command": {"node": "n", "action": "jump"}}),
                "command",
            ),
            (
                json!({"command": {"node": "n", "status": "done"}}),
                "command",
            ),
            (
                json!({"command": {"node": "n", "actions": {"execute": "run"}}}),
                "command",
            ),
            (
                json!({"command": {"node": "n", "note": {"type": "fatal"}}}),
                "command",
            ),
            (json!({"command": {"node": "n", "data": []}}), "command"),
            (json!({"archive": "x"}), "archive"),
            (json!({"archive": {"with": 5}}), "archive"),
            (json!({"archive": {"ids": [1]}}), "archive"),
            (json!({"archive": {"max": "ten"}}), "archive"),
            (json!({"archive": {"page": []}}), "archive"),
            (
                json!({"kind": "iq", "result": {"complete": "perhaps"}}),
                "result",
            ),
            (json!({"lastactivity": {"seconds": -1}}), "lastactivity"),
            (json!({"lastactivity": "x"}), "lastactivity"),
            (json!({"stats": "x"}), "stats"),
            (json!({"stats": [{"value": 1}]}), "stats"),
            (json!({"stats": [{"name": "n", "value": "many"}]}), "stats"),
            (
                json!({"extdisco": {"services": [{"type": "stun"}]}}),
                "extdisco",
            ),
            (
                json!({"extdisco": {"services": [{"type": "stun", "host": "h", "port": 70000}]}}),
                "extdisco",
            ),
            (
                json!({"extdisco": {"services": [{"type": "stun", "host": "h", "restricted": "no"}]}}),
                "extdisco",
            ),
            (json!({"upload_request": {"size": 1}}), "upload_request"),
            (
                json!({"upload_request": {"filename": "a"}}),
                "upload_request",
            ),
            (
                json!({"upload_request": {"filename": "a", "size": "big"}}),
                "upload_request",
            ),
            (json!({"upload_slot": {"put": {"url": "u"}}}), "upload_slot"),
            (
                json!({"upload_slot": {"put": {"url": "u", "headers": [{"name": "X-Evil", "value": "1"}]}, "get": {"url": "u"}}}),
                "upload_slot",
            ),
            (json!({"kind": "iq", "oob": "u"}), "oob"),
            (json!({"gateway": {"prompt": 1}}), "gateway"),
            (json!({"register": {"username": 1}}), "register"),
            (json!({"register": {"remove": "yes"}}), "register"),
            (json!({"block": 1}), "block"),
            (json!({"block": [{"jid": "@bad"}]}), "block"),
            (
                json!({"block": [{"jid": "a@b", "report": {"reason": "urn:xmpp:reporting:rude"}}]}),
                "block",
            ),
            (json!({"block": [{"jid": "a@b", "report": {}}]}), "block"),
            (json!({"blocklist": "x"}), "blocklist"),
            (json!({"blocklist": [{"name": "no jid"}]}), "blocklist"),
        ] {
            assert_eq!(invalid_key(value.clone()), key, "{value}");
        }
    }
}
