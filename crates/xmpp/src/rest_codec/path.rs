//! `/rest/…` paths (§1.1): segments, and their two readings (`{kind}/{type}/{to}` for POST,
//! `{payload}/{to}` for GET) merged with the request's data.

use serde_json::{Map, Value};

use super::form::percent_decode;
use crate::rest_error::RestError;

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

    pub(super) fn segments(&self) -> &[String] {
        &self.segments
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
pub(super) struct PathParts<'a> {
    pub(super) kind: &'a str,
    pub(super) type_or_payload: &'a str,
    pub(super) to: String,
}

impl<'a> PathParts<'a> {
    pub(super) fn read(segments: &'a [String]) -> Result<PathParts<'a>, RestError> {
        let [kind, type_or_payload, to @ ..] = segments else {
            return Err(RestError::InvalidPath);
        };
        let kind_ok = kind.len() >= 2
            && kind.starts_with(['m', 'p', 'i'])
            && kind.bytes().all(|b| b.is_ascii_alphanumeric());
        if to.is_empty() || !kind_ok || !is_word(type_or_payload) {
            return Err(RestError::InvalidPath);
        }
        Ok(PathParts {
            kind,
            type_or_payload,
            to: to.join("/"),
        })
    }

    /// mod_rest's `amend_from_path`: `data` is the decoded body (or query map), if any.
    pub(super) fn amend(&self, data: Option<Value>) -> Result<Map<String, Value>, RestError> {
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
                Some(_) => return Err(RestError::InvalidJson),
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
