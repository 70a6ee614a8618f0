//! Request decoding (§1.1, §2.1): a request's path, query and body, in any media type, become
//! one stanza.

use minidom::Element;
use serde_json::{Map, Value};

use super::cbor::cbor_to_json;
use super::form::{FormBody, decode_form};
use super::media::MediaType;
use super::path::{PathParts, RestPath};
use crate::framing::{FramingError, Limits, StreamParser, without_xml_declaration};
use crate::json::{self, JsonMapError};
use crate::rest_error::RestError;

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
    pub(super) fn with(error: RestError, detail: impl Into<String>) -> Self {
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
    let segments = path.map(RestPath::segments).filter(|s| !s.is_empty());
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
        Some(MediaType::Cbor) => {
            let value = cbor_to_json(body)
                .map_err(|detail| RequestError::with(RestError::Parse, detail))?;
            with_path(value, parts()?)
        }
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
