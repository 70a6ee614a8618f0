//! mod_rest's request/response codec (§1.1, §2, §4.3, §7): a request's path, query and body of
//! any supported media type become one stanza; stanzas and errors become response bodies.

use minidom::Element;
use serde_json::{Map, Number, Value};

use crate::framing::{FramingError, Limits, StreamParser, without_xml_declaration};
use crate::json::{self, JsonMapError};
use crate::ns;
use crate::rest_error::RestError;
use crate::stanza;

/// The media types mod_rest reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    Xml,
    Json,
    Form,
    Text,
    Cbor,
}

impl MediaType {
    const ALL: [MediaType; 5] = [
        MediaType::Xml,
        MediaType::Json,
        MediaType::Form,
        MediaType::Text,
        MediaType::Cbor,
    ];

    /// Response formats, in mod_rest's order of preference (XML is its default).
    const OUTPUTS: [MediaType; 4] = [
        MediaType::Xml,
        MediaType::Json,
        MediaType::Form,
        MediaType::Cbor,
    ];

    /// From a Content-Type header value; parameters such as `; charset=utf-8` are ignored and
    /// the comparison is case-insensitive.
    pub fn from_content_type(value: &str) -> Option<MediaType> {
        // mod_rest takes the value up to the first `;` or space.
        let essence = value
            .trim_start()
            .split(|c: char| c == ';' || c.is_ascii_whitespace())
            .next()
            .unwrap_or_default();
        Self::ALL
            .into_iter()
            .find(|media| media.mime().eq_ignore_ascii_case(essence))
    }

    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Xml => "application/xmpp+xml",
            MediaType::Json => "application/json",
            MediaType::Form => "application/x-www-form-urlencoded",
            MediaType::Text => "text/plain",
            MediaType::Cbor => "application/cbor",
        }
    }
}

/// A `/rest/…` path after the `/rest/` prefix, split on `/` and percent-decoded per segment.
///
/// mod_rest reads it two ways (§1.1). A POST path is `{kind}/{type}/{to}`, where an iq `type`
/// other than `get`/`set` names a payload key instead. A GET path is `{payload}/{to}`, read as
/// `iq/{payload}/{to}`. In both, `to` is everything after, `/` included, and may be empty.
/// The empty path (`POST /rest/`) stands for no path at all, unlike in mod_rest, where it was
/// an invalid path for every type but XML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestPath {
    segments: Vec<String>,
}

impl RestPath {
    /// Parses the raw (still percent-encoded) remainder; `echo` is the caller's to handle first.
    /// Fails with `InvalidPath` unless the path is empty or has a word (`[A-Za-z0-9_]+`) followed
    /// by at least one more segment, which both readings require.
    pub fn parse(raw: &str) -> Result<RestPath, RestError> {
        let raw = raw.trim_start_matches('/');
        if raw.is_empty() {
            return Ok(RestPath {
                segments: Vec::new(),
            });
        }
        let segments = raw
            .split('/')
            .map(|segment| {
                String::from_utf8(percent_decode(segment.as_bytes(), false))
                    .map_err(|_| RestError::InvalidPath)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if segments.len() < 2 || !is_word(&segments[0]) {
            return Err(RestError::InvalidPath);
        }
        Ok(RestPath { segments })
    }
}

/// mod_rest's `[%w_]+`, on ASCII as Lua's `%w` is.
fn is_word(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A path read as `{kind}/{type}/{to}` (mod_rest's `^([mpi]%w+)/([%w_]+)/(.*)$`).
struct PathParts<'a> {
    kind: &'a str,
    type_or_payload: &'a str,
    to: String,
}

impl<'a> PathParts<'a> {
    fn read(segments: &'a [String]) -> Result<PathParts<'a>, RequestError> {
        let [kind, type_or_payload, to @ ..] = segments else {
            return Err(RestError::InvalidPath.into());
        };
        let kind_ok = kind.len() >= 2
            && kind.starts_with(['m', 'p', 'i'])
            && kind.bytes().all(|b| b.is_ascii_alphanumeric());
        if to.is_empty() || !kind_ok || !is_word(type_or_payload) {
            return Err(RestError::InvalidPath.into());
        }
        Ok(PathParts {
            kind,
            type_or_payload,
            to: to.join("/"),
        })
    }

    /// mod_rest's `amend_from_path`: `data` is the decoded body (or query map), if any.
    fn amend(&self, data: Option<Value>) -> Result<Map<String, Value>, RequestError> {
        let mut obj = Map::new();
        if self.kind == "iq" && !matches!(self.type_or_payload, "get" | "set") {
            let payload = match (self.type_or_payload, data) {
                ("ping", _) => Value::Bool(true),
                (_, None | Some(Value::Null)) => Value::Object(Map::new()),
                (_, Some(data)) => data,
            };
            obj.insert("kind".into(), "iq".into());
            obj.insert(self.type_or_payload.into(), payload);
        } else {
            obj = match data {
                None => Map::new(),
                Some(Value::Object(data)) => data,
                Some(_) => return Err(RestError::InvalidJson.into()),
            };
            obj.insert("kind".into(), self.kind.into());
            obj.insert("type".into(), self.type_or_payload.into());
        }
        if !self.to.is_empty() {
            obj.insert("to".into(), self.to.as_str().into());
        }
        Ok(obj)
    }
}

/// Why a request could not become a stanza; `detail` is appended to the error text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{}", .error.text(), .detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct RequestError {
    pub error: RestError,
    pub detail: Option<String>,
}

impl From<RestError> for RequestError {
    fn from(error: RestError) -> Self {
        RequestError {
            error,
            detail: None,
        }
    }
}

impl RequestError {
    fn with(error: RestError, detail: impl Into<String>) -> Self {
        RequestError {
            error,
            detail: Some(detail.into()),
        }
    }
}

impl From<JsonMapError> for RequestError {
    fn from(err: JsonMapError) -> Self {
        let error = match &err {
            JsonMapError::NotAnObject => RestError::InvalidJson,
            JsonMapError::UnknownKind(_) => RestError::UnknownKind,
            JsonMapError::InvalidTo => RestError::To,
            JsonMapError::InvalidFrom => RestError::From,
            JsonMapError::InvalidValue { .. } => RestError::Parse,
        };
        RequestError::with(error, err.to_string())
    }
}

/// Builds the stanza of a request (mod_rest §1.1, §2.1).
///
/// `media` is the request's Content-Type, `None` when the header is absent; an unknown type must
/// be refused by the caller (`RestError::MediaType`) rather than passed as `None`, which with a
/// path means "stanza from the path alone". `get_query` is `Some` exactly for GET requests
/// (`""` without a query string): the path is then read as `iq/{path}`, the body is ignored and
/// the form-encoded query becomes the payload map. The XML body ignores the path, as in mod_rest.
/// Addressing, `from` and iq shape are checked afterwards by the caller.
///
/// Fixes a mod_rest quirk: a CBOR body is merged with the path like a JSON body (mod_rest
/// ignored the path for CBOR).
pub fn decode_request(
    media: Option<MediaType>,
    body: &[u8],
    path: Option<&RestPath>,
    get_query: Option<&str>,
    limits: Limits,
) -> Result<Element, RequestError> {
    let segments = path
        .map(|path| path.segments.as_slice())
        .filter(|s| !s.is_empty());
    if let Some(query) = get_query {
        let segments = segments.ok_or(RestError::InvalidPath)?;
        let segments: Vec<String> = std::iter::once("iq".to_owned())
            .chain(segments.iter().cloned())
            .collect();
        let parts = PathParts::read(&segments)?;
        let data = match query {
            "" => None,
            query => match decode_form(query.as_bytes()) {
                Ok(FormBody::Map(map)) => Some(Value::Object(map)),
                Ok(FormBody::Text(_)) => return Err(RestError::InvalidQuery.into()),
                Err(detail) => return Err(RequestError::with(RestError::InvalidQuery, detail)),
            },
        };
        return to_stanza(Value::Object(parts.amend(data)?));
    }
    let parts = || segments.map(PathParts::read).transpose();
    match media {
        None => match parts()? {
            Some(parts) => to_stanza(Value::Object(parts.amend(None)?)),
            None => Err(RestError::MediaType.into()),
        },
        Some(MediaType::Xml) => parse_xml(body, limits),
        Some(MediaType::Json) => {
            let value = serde_json::from_slice(body)
                .map_err(|err| RequestError::with(RestError::Parse, err.to_string()))?;
            with_path(value, parts()?)
        }
        Some(MediaType::Cbor) => with_path(cbor_to_json(body)?, parts()?),
        Some(MediaType::Form) => {
            let form =
                decode_form(body).map_err(|detail| RequestError::with(RestError::Parse, detail))?;
            match (form, parts()?) {
                (FormBody::Map(map), parts) => with_path(Value::Object(map), parts),
                (FormBody::Text(_), Some(_)) => Err(RestError::InvalidQuery.into()),
                (FormBody::Text(text), None) => chat_message(text),
            }
        }
        Some(MediaType::Text) => {
            let text = std::str::from_utf8(body)
                .map_err(|err| RequestError::with(RestError::Parse, err.to_string()))?;
            let Some(parts) = parts()? else {
                return chat_message(text.to_owned());
            };
            let key = match parts.kind {
                "message" => "body",
                "presence" => "show",
                _ => return Err(RestError::InvalidPath.into()),
            };
            let mut obj = parts.amend(None)?;
            obj.insert(key.into(), text.into());
            to_stanza(Value::Object(obj))
        }
    }
}

fn with_path(value: Value, parts: Option<PathParts<'_>>) -> Result<Element, RequestError> {
    match parts {
        Some(parts) => to_stanza(Value::Object(parts.amend(Some(value))?)),
        None => to_stanza(value),
    }
}

fn to_stanza(value: Value) -> Result<Element, RequestError> {
    Ok(json::json_to_stanza(&value)?)
}

/// text/plain without a path: a chat message to nobody in particular, as in mod_rest.
fn chat_message(text: String) -> Result<Element, RequestError> {
    let mut obj = Map::new();
    obj.insert("type".into(), "chat".into());
    obj.insert("body".into(), text.into());
    to_stanza(Value::Object(obj))
}

fn parse_xml(body: &[u8], limits: Limits) -> Result<Element, RequestError> {
    if body.len() > limits.max_stanza_bytes {
        return Err(RestError::Size.into());
    }
    // The body already fits the limit; the floor only leaves room for the parser's own
    // synthetic stream header, which counts against the same budget.
    let limits = Limits {
        max_stanza_bytes: limits.max_stanza_bytes.max(1024),
        ..limits
    };
    let mut parser = StreamParser::new_fragments(limits);
    // Clients often start with an XML declaration; Prosody accepts and ignores it.
    let element = without_xml_declaration(body)
        .and_then(|body| parser.feed_message(body))
        .map_err(|err| {
            let error = match err {
                FramingError::StanzaTooBig { .. } => RestError::Size,
                _ => RestError::Parse,
            };
            RequestError::with(error, err.to_string())
        })?;
    // The framing layer already dropped any prefix declarations that could not re-serialise.
    Ok(element)
}

fn cbor_to_json(body: &[u8]) -> Result<Value, RequestError> {
    let mut rest = body;
    let value: ciborium::Value = ciborium::from_reader(&mut rest)
        .map_err(|err| RequestError::with(RestError::Parse, err.to_string()))?;
    if !rest.is_empty() {
        return Err(RequestError::with(
            RestError::Parse,
            "data after the CBOR item",
        ));
    }
    cbor_value_to_json(value).map_err(|detail| RequestError::with(RestError::Parse, detail))
}

/// CBOR's data model is wider than JSON's: byte strings, non-text map keys, non-finite floats
/// and integers beyond 64 bits are refused; tags are looked through.
fn cbor_value_to_json(value: ciborium::Value) -> Result<Value, &'static str> {
    use ciborium::Value as Cbor;
    Ok(match value {
        Cbor::Integer(integer) => {
            let integer = i128::from(integer);
            if let Ok(small) = i64::try_from(integer) {
                small.into()
            } else {
                u64::try_from(integer)
                    .map_err(|_| "integer out of range")?
                    .into()
            }
        }
        Cbor::Float(float) => Number::from_f64(float)
            .map(Value::Number)
            .ok_or("non-finite number")?,
        Cbor::Text(text) => text.into(),
        Cbor::Bool(flag) => flag.into(),
        Cbor::Null => Value::Null,
        Cbor::Tag(_, inner) => cbor_value_to_json(*inner)?,
        Cbor::Array(items) => items
            .into_iter()
            .map(cbor_value_to_json)
            .collect::<Result<Vec<_>, _>>()?
            .into(),
        Cbor::Map(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                let Cbor::Text(key) = key else {
                    return Err("map keys must be text");
                };
                map.insert(key, cbor_value_to_json(value)?);
            }
            map.into()
        }
        Cbor::Bytes(_) => return Err("byte strings have no JSON equivalent"),
        _ => return Err("unsupported CBOR value"),
    })
}

/// A form body as Prosody's `http.formdecode` sees it: `key=value` pairs, or, without any
/// `=`, one decoded text.
enum FormBody {
    Map(Map<String, Value>),
    Text(String),
}

/// Pairs without `=` are skipped and a repeated key keeps its last value, as in Prosody. Only
/// text that is not UTF-8 once decoded fails. An empty body is an empty map (mod_rest read it
/// as an empty text).
fn decode_form(body: &[u8]) -> Result<FormBody, String> {
    let text = |bytes: &[u8]| {
        String::from_utf8(percent_decode(bytes, true))
            .map_err(|_| "form data is not UTF-8 once decoded".to_owned())
    };
    if !body.is_empty() && !body.contains(&b'=') {
        return text(body).map(FormBody::Text);
    }
    let mut map = Map::new();
    for pair in body.split(|&b| b == b'&') {
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        map.insert(text(&pair[..eq])?, text(&pair[eq + 1..])?.into());
    }
    Ok(FormBody::Map(map))
}

/// Decodes `%XX` escapes (and `+` as a space in form data); a `%` not followed by two hex
/// digits stays as it is, as browsers and Prosody treat it.
fn percent_decode(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let escaped = match input.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex_value(*hi).zip(hex_value(*lo)),
            _ => None,
        };
        match (escaped, input[i]) {
            (Some((hi, lo)), _) => {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
            (None, b'+') if plus_is_space => out.push(b' '),
            (None, byte) => out.push(byte),
        }
        i += 1;
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// The WHATWG `application/x-www-form-urlencoded` serialiser.
fn encode_form(pairs: &[(String, String)]) -> String {
    let encode = |text: &str, out: &mut String| {
        for byte in text.bytes() {
            match byte {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    out.push(char::from(byte));
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
    };
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode(key, &mut out);
        out.push('=');
        encode(value, &mut out);
    }
    out
}

/// One media range of an `Accept` header.
struct AcceptRange {
    main: String,
    sub: String,
    quality: f32,
}

impl AcceptRange {
    /// How specifically this range names `media` (RFC 9110 §12.5.1: the most specific match
    /// decides the quality), or `None` if it does not match at all.
    fn specificity(&self, media: MediaType) -> Option<u8> {
        let (main, sub) = media.mime().split_once('/')?;
        match (self.main.as_str(), self.sub.as_str()) {
            ("*", "*") => Some(0),
            (m, "*") if m == main => Some(1),
            (m, s) if m == main && s == sub => Some(2),
            _ => None,
        }
    }
}

/// Entries that do not parse (no `/`, a q-value outside 0–1) are ignored.
fn parse_accept(accept: &str) -> Vec<AcceptRange> {
    accept
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let range = parts.next()?.trim().to_ascii_lowercase();
            let (main, sub) = range.split_once('/')?;
            if main.is_empty() || sub.is_empty() {
                return None;
            }
            let mut quality = 1.0;
            for param in parts {
                let Some((name, value)) = param.split_once('=') else {
                    continue;
                };
                if name.trim().eq_ignore_ascii_case("q") {
                    quality = value.trim().parse::<f32>().ok()?;
                    if !(0.0..=1.0).contains(&quality) {
                        return None;
                    }
                }
            }
            Some(AcceptRange {
                main: main.to_owned(),
                sub: sub.to_owned(),
                quality,
            })
        })
        .collect()
}

/// The quality `Accept` gives `media` and the position of the range that decided it.
fn quality_of(ranges: &[AcceptRange], media: MediaType) -> Option<(f32, usize)> {
    let mut best: Option<(u8, f32, usize)> = None;
    for (position, range) in ranges.iter().enumerate() {
        if let Some(specificity) = range.specificity(media)
            && best.is_none_or(|(known, _, _)| specificity > known)
        {
            best = Some((specificity, range.quality, position));
        }
    }
    best.map(|(_, quality, position)| (quality, position))
}

/// The response format (§2.2). `Accept` is read by q-value (RFC 9110 §12.5.1: the highest
/// quality wins, `*/*` and `application/*` match, `q=0` excludes); equal qualities prefer the
/// request's own type, then the earlier range. With no usable `Accept`, the request's type is
/// used, then XML. Text is never an output format.
///
/// mod_rest instead picked the supported type whose name occurs first in `Accept` + "," +
/// Content-Type, ignoring q-values and wildcards.
pub fn negotiate(accept: Option<&str>, request: Option<MediaType>) -> MediaType {
    let fallback = request
        .filter(|media| *media != MediaType::Text)
        .unwrap_or(MediaType::Xml);
    let ranges = accept.map(parse_accept).unwrap_or_default();
    let mut best: Option<(f32, usize, MediaType)> = None;
    for media in MediaType::OUTPUTS {
        let Some((quality, position)) = quality_of(&ranges, media) else {
            continue;
        };
        if quality <= 0.0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((known, _, _)) if quality != known => quality > known,
            Some((_, _, chosen)) if chosen == fallback => false,
            Some((_, known_position, _)) => media == fallback || position < known_position,
        };
        if better {
            best = Some((quality, position, media));
        }
    }
    if let Some((_, _, media)) = best {
        return media;
    }
    // Nothing acceptable: answer anyway (mod_rest never sends 406), avoiding excluded types.
    let excluded = |media: MediaType| quality_of(&ranges, media).is_some_and(|(q, _)| q <= 0.0);
    std::iter::once(fallback)
        .chain(MediaType::OUTPUTS)
        .find(|media| !excluded(*media))
        .unwrap_or(fallback)
}

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

fn to_cbor(value: &Value) -> Result<Vec<u8>, RestError> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).map_err(|_| RestError::Internal)?;
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn xml(text: &str) -> Element {
        stanza::parse_in_stream(text).expect("test XML is well-formed")
    }

    fn path(raw: &str) -> RestPath {
        RestPath::parse(raw).expect("test path is valid")
    }

    fn post(
        media: Option<MediaType>,
        body: &str,
        raw_path: Option<&str>,
    ) -> Result<Element, RequestError> {
        let path = raw_path.map(path);
        decode_request(
            media,
            body.as_bytes(),
            path.as_ref(),
            None,
            Limits::default(),
        )
    }

    fn get(raw_path: &str, query: &str) -> Result<Element, RequestError> {
        decode_request(
            None,
            b"",
            Some(&path(raw_path)),
            Some(query),
            Limits::default(),
        )
    }

    fn error_of(result: Result<Element, RequestError>) -> RestError {
        match result {
            Err(err) => err.error,
            Ok(stanza) => panic!("expected an error, got {}", stanza::to_xml(&stanza)),
        }
    }

    fn cbor(value: &Value) -> Vec<u8> {
        to_cbor(value).expect("test value encodes")
    }

    // Media types.

    #[test]
    fn media_types_from_content_type() {
        for (value, media) in [
            ("application/xmpp+xml", MediaType::Xml),
            ("application/json; charset=utf-8", MediaType::Json),
            ("Application/JSON", MediaType::Json),
            (
                "application/x-www-form-urlencoded;charset=UTF-8",
                MediaType::Form,
            ),
            ("text/plain; charset=utf-8", MediaType::Text),
            (" application/cbor ", MediaType::Cbor),
        ] {
            assert_eq!(MediaType::from_content_type(value), Some(media), "{value}");
            assert_eq!(MediaType::from_content_type(media.mime()), Some(media));
        }
        for value in [
            "text/html",
            "application/xml",
            "",
            "application/json+x",
            "*/*",
        ] {
            assert_eq!(MediaType::from_content_type(value), None, "{value}");
        }
    }

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
        let body =
            r#"{"body": "Hello!", "kind": "message", "to": "user@example.org", "type": "chat"}"#;
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
            xml(
                r#"<message xmlns="jabber:client" type="chat"><body>Hello world!</body></message>"#
            )
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

    // §11.15: negotiation.

    #[test]
    fn checklist_15_negotiation_by_quality() {
        use MediaType::*;
        for (accept, request, expected) in [
            (None, None, Xml),
            (None, Some(Json), Json),
            (None, Some(Text), Xml),
            (None, Some(Cbor), Cbor),
            (Some(""), Some(Form), Form),
            (Some("*/*"), Some(Json), Json),
            (Some("*/*"), None, Xml),
            (Some("application/*"), Some(Form), Form),
            (Some("application/json"), Some(Xml), Json),
            (Some("application/json"), None, Json),
            (
                Some("application/xmpp+xml;q=0.5, application/json"),
                Some(Xml),
                Json,
            ),
            (
                Some("application/json;q=0.2, application/xmpp+xml;q=0.9"),
                Some(Json),
                Xml,
            ),
            (Some("text/html"), Some(Json), Json),
            (Some("text/plain"), Some(Text), Xml),
            (Some("application/json;q=0"), Some(Xml), Xml),
            (Some("application/json;q=0"), Some(Json), Xml),
            (Some("application/json;q=0, */*"), Some(Json), Xml),
            (Some("*/*;q=0.1, application/cbor"), Some(Json), Cbor),
            (Some("application/cbor, application/json"), Some(Xml), Cbor),
            (Some("application/cbor, application/json"), Some(Json), Json),
            (
                Some("application/*;q=0.5, application/json;q=0.4"),
                Some(Json),
                Xml,
            ),
            (Some("APPLICATION/JSON ; Q=1"), None, Json),
            (
                Some(
                    "application/json;q=2, application/cbor;q=abc, application/x-www-form-urlencoded;q=0.3",
                ),
                None,
                Form,
            ),
            (
                Some(
                    "application/json;q=0, application/xmpp+xml;q=0, application/cbor;q=0, application/x-www-form-urlencoded;q=0",
                ),
                Some(Json),
                Json,
            ),
            (Some("garbage, ,;;, /"), Some(Form), Form),
        ] {
            assert_eq!(
                negotiate(accept, request),
                expected,
                "{accept:?} {request:?}"
            );
        }
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
            serde_json::from_slice(&encode_stanzas(MediaType::Json, &stanzas()[1..]).unwrap())
                .unwrap();
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
        let form =
            String::from_utf8(encode_stanzas(MediaType::Form, &[presence]).unwrap()).unwrap();
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
        let back =
            decode_request(Some(MediaType::Form), &form, None, None, Limits::default()).unwrap();
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
            serde_json::from_slice(&encode_error(MediaType::Json, RestError::NoAuthz, None))
                .unwrap();
        assert_eq!(json, RestError::NoAuthz.json_body(None));
        let cbor_body: Value = ciborium::from_reader(
            encode_error(MediaType::Cbor, RestError::To, Some("x")).as_slice(),
        )
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

    // Encoding helpers.

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"a%20b%2fc+d%zz%4", false), b"a b/c+d%zz%4");
        assert_eq!(percent_decode(b"a+b%2B", true), b"a b+");
    }

    proptest! {
        #[test]
        fn form_encoding_roundtrips(pairs in prop::collection::vec(("[^\u{0}]{1,8}", "\\PC{0,8}"), 1..5)) {
            let pairs: Vec<(String, String)> = pairs;
            let encoded = encode_form(&pairs);
            let FormBody::Map(map) = decode_form(encoded.as_bytes()).unwrap() else {
                panic!("encoded form has '='");
            };
            for (key, value) in &pairs {
                let last = pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v);
                prop_assert_eq!(map.get(key).and_then(Value::as_str), last.map(String::as_str), "{} {}", key, value);
            }
        }

        #[test]
        fn negotiate_never_panics(accept in prop::option::of("\\PC{0,60}"), request in prop::sample::select(vec![None, Some(MediaType::Xml), Some(MediaType::Json), Some(MediaType::Form), Some(MediaType::Text), Some(MediaType::Cbor)])) {
            let chosen = negotiate(accept.as_deref(), request);
            prop_assert_ne!(chosen, MediaType::Text);
        }

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
}
