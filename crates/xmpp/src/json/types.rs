//! The values the JSON mapping's modules share: its error, the stanza kinds, and the signatures
//! by which the message module maps forwarded messages without importing the stanza mapping.

use minidom::Element;
use serde_json::{Map, Value};

/// Errors from mapping JSON to a stanza or back; each maps to a mod_rest error key.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JsonMapError {
    /// mod_rest `invalid-json` → 400.
    #[error("JSON payload must be an object")]
    NotAnObject,
    /// mod_rest `unknown-kind` → 400.
    #[error("unknown stanza kind '{0}'")]
    UnknownKind(String),
    /// mod_rest `to` → 422 improper-addressing.
    #[error("invalid destination JID")]
    InvalidTo,
    /// mod_rest `from` → 422 invalid-from.
    #[error("invalid source JID")]
    InvalidFrom,
    /// A known key with a value that cannot be mapped → 400.
    #[error("invalid value for '{key}': {reason}")]
    InvalidValue { key: &'static str, reason: String },
}

pub(super) type Object = Map<String, Value>;
pub(super) type Result<T> = std::result::Result<T, JsonMapError>;

/// Maps the message inside `<forwarded/>` (XEP-0297) to XML: the object, the key to blame
/// faults on, and the nesting depth so far.
pub(super) type BuildForwarded = fn(&Value, &'static str, usize) -> Result<Element>;

/// Maps the message inside `<forwarded/>` to JSON, given the nesting depth so far.
pub(super) type RenderForwarded = fn(&Element, usize) -> Option<Value>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Message,
    Presence,
    Iq,
}

impl Kind {
    pub(super) fn from_name(name: &str) -> Option<Self> {
        match name {
            "message" => Some(Self::Message),
            "presence" => Some(Self::Presence),
            "iq" => Some(Self::Iq),
            _ => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Presence => "presence",
            Self::Iq => "iq",
        }
    }

    /// mod_rest's `kind_by_type`; `error` is deliberately absent because every kind has it.
    pub(super) fn by_type(stanza_type: &str) -> Option<Self> {
        match stanza_type {
            "get" | "set" | "result" => Some(Self::Iq),
            "normal" | "chat" | "headline" | "groupchat" => Some(Self::Message),
            "available" | "unavailable" | "subscribe" | "unsubscribe" | "subscribed"
            | "unsubscribed" => Some(Self::Presence),
            _ => None,
        }
    }

    /// RFC 6120/6121 types; presence `available` has already become "no attribute" here.
    pub(super) fn valid_types(self) -> &'static [&'static str] {
        match self {
            Self::Message => &["normal", "chat", "headline", "groupchat", "error"],
            Self::Presence => &[
                "unavailable",
                "subscribe",
                "subscribed",
                "unsubscribe",
                "unsubscribed",
                "probe",
                "error",
            ],
            Self::Iq => &["get", "set", "result", "error"],
        }
    }
}
