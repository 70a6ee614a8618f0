//! The JSON of MongooseIM's client REST API for 1:1 messages: a sent message's request, an
//! archived or streamed message's shape, and Smack stanza properties both ways.

use std::collections::BTreeMap;

use jid::Jid;
use minidom::Element;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ns, stanza};

/// Smack's stanza properties (`<properties xmlns='http://www.jivesoftware.com/xmlns/xmpp/properties'>`).
pub const SMACK_PROPERTIES: &str = "http://www.jivesoftware.com/xmlns/xmpp/properties";

/// Properties one message may carry: a bound on what one request makes the server build.
pub const MAX_PROPERTIES: usize = 64;

/// `POST /api/messages`: MongooseIM's `to` and `body`, and our extensions.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    pub to: String,
    pub body: String,
    /// `<thread/>` (XEP-0201).
    #[serde(default)]
    pub thread: Option<String>,
    /// Asks for chat markers (XEP-0333 `<markable/>`).
    #[serde(default)]
    pub markable: bool,
    /// Smack properties: strings, booleans, integers and floating-point numbers.
    #[serde(default)]
    pub properties: BTreeMap<String, Value>,
}

/// Why a request cannot become a message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    #[error("Invalid recipient JID")]
    To,
    #[error("Empty message body")]
    EmptyBody,
    #[error("At most {MAX_PROPERTIES} properties")]
    TooManyProperties,
    #[error("Property '{0}' must be a string, a boolean or a number")]
    PropertyValue(String),
    #[error("'{0}' contains characters not allowed in XML")]
    NotXml(&'static str),
}

/// JSON strings may hold characters XML cannot carry (U+0000, most controls): refused up
/// front, as the stanza could not be written.
fn xml_text<'a>(field: &'static str, text: &'a str) -> Result<&'a str, SendError> {
    rxml::strings::validate_cdata(text)
        .map(|()| text)
        .map_err(|_| SendError::NotXml(field))
}

impl SendMessage {
    /// The recipient, as a JID.
    pub fn recipient(&self) -> Result<Jid, SendError> {
        let to = Jid::new(&self.to).map_err(|_| SendError::To)?;
        xml_text("to", to.as_str()).map_err(|_| SendError::To)?;
        Ok(to)
    }

    /// A `chat` message with `id`, ready to be routed as the sender.
    pub fn to_element(&self, id: &str) -> Result<Element, SendError> {
        let to = self.recipient()?;
        if self.body.is_empty() {
            return Err(SendError::EmptyBody);
        }
        if self.properties.len() > MAX_PROPERTIES {
            return Err(SendError::TooManyProperties);
        }
        let mut message = Element::builder("message", ns::CLIENT)
            .append(
                Element::builder("body", ns::CLIENT)
                    .append(xml_text("body", &self.body)?)
                    .build(),
            )
            .build();
        stanza::set_attr(&mut message, "type", "chat");
        stanza::set_attr(&mut message, "to", to.as_str());
        stanza::set_attr(&mut message, "id", id);
        if let Some(thread) = &self.thread {
            message.append_child(
                Element::builder("thread", ns::CLIENT)
                    .append(xml_text("thread", thread)?)
                    .build(),
            );
        }
        if self.markable {
            message.append_child(Element::bare("markable", ns::CHAT_MARKERS));
        }
        if !self.properties.is_empty() {
            let mut properties = Vec::with_capacity(self.properties.len());
            for (name, value) in &self.properties {
                xml_text("properties", name)?;
                let value = Property::from_json(value)
                    .ok_or_else(|| SendError::PropertyValue(name.clone()))?;
                if let Property::String(text) = &value {
                    xml_text("properties", text)?;
                }
                properties.push((name.clone(), value));
            }
            message.append_child(properties_element(&properties));
        }
        Ok(message)
    }
}

/// A Smack property's value with its declared type.
#[derive(Clone, Debug, PartialEq)]
pub enum Property {
    Integer(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    Boolean(bool),
    String(String),
}

impl Property {
    /// Reads `<value type='…'>text</value>`; a type Smack has that JSON cannot carry
    /// (`java-object`) or a value that does not parse as its type stays a string.
    fn parse(type_: Option<&str>, text: String) -> Property {
        let parsed = match type_ {
            Some("integer") => text.parse().ok().map(Property::Integer),
            Some("long") => text.parse().ok().map(Property::Long),
            Some("float") => text.parse().ok().map(Property::Float),
            Some("double") => text.parse().ok().map(Property::Double),
            Some("boolean") => text.parse().ok().map(Property::Boolean),
            _ => None,
        };
        parsed.unwrap_or(Property::String(text))
    }

    /// The JSON value of a request: integers that fit 32 bits are `integer`, others `long`.
    fn from_json(value: &Value) -> Option<Property> {
        Some(match value {
            Value::String(s) => Property::String(s.clone()),
            Value::Bool(b) => Property::Boolean(*b),
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => i32::try_from(i).map_or(Property::Long(i), Property::Integer),
                (None, Some(f)) => Property::Double(f),
                (None, None) => return None,
            },
            _ => return None,
        })
    }

    fn type_name(&self) -> &'static str {
        match self {
            Property::Integer(_) => "integer",
            Property::Long(_) => "long",
            Property::Float(_) => "float",
            Property::Double(_) => "double",
            Property::Boolean(_) => "boolean",
            Property::String(_) => "string",
        }
    }

    fn text(&self) -> String {
        match self {
            Property::Integer(v) => v.to_string(),
            Property::Long(v) => v.to_string(),
            Property::Float(v) => v.to_string(),
            Property::Double(v) => v.to_string(),
            Property::Boolean(v) => v.to_string(),
            Property::String(v) => v.clone(),
        }
    }

    /// As MongooseIM shows it (a string), or typed (`?typed=true`).
    pub fn to_json(&self, typed: bool) -> Value {
        if !typed {
            return Value::String(self.text());
        }
        match self {
            Property::Integer(v) => Value::from(*v),
            Property::Long(v) => Value::from(*v),
            Property::Float(v) => serde_json::Number::from_f64(f64::from(*v))
                .map_or_else(|| Value::String(self.text()), Value::Number),
            Property::Double(v) => serde_json::Number::from_f64(*v)
                .map_or_else(|| Value::String(self.text()), Value::Number),
            Property::Boolean(v) => Value::Bool(*v),
            Property::String(v) => Value::String(v.clone()),
        }
    }
}

/// `<properties/>` holding `properties` in order.
pub fn properties_element(properties: &[(String, Property)]) -> Element {
    let mut el = Element::bare("properties", SMACK_PROPERTIES);
    for (name, value) in properties {
        let mut v = Element::builder("value", SMACK_PROPERTIES)
            .append(value.text())
            .build();
        stanza::set_attr(&mut v, "type", value.type_name());
        el.append_child(
            Element::builder("property", SMACK_PROPERTIES)
                .append(
                    Element::builder("name", SMACK_PROPERTIES)
                        .append(name.as_str())
                        .build(),
                )
                .append(v)
                .build(),
        );
    }
    el
}

/// The properties of `message`, in document order; a later one of the same name wins.
pub fn properties(message: &Element) -> Vec<(String, Property)> {
    let Some(el) = message.get_child("properties", SMACK_PROPERTIES) else {
        return Vec::new();
    };
    el.children()
        .filter(|c| c.is("property", SMACK_PROPERTIES))
        .filter_map(|p| {
            let name = p.get_child("name", SMACK_PROPERTIES)?.text();
            let value = p.get_child("value", SMACK_PROPERTIES)?;
            Some((name, Property::parse(value.attr("type"), value.text())))
        })
        .take(MAX_PROPERTIES)
        .collect()
}

/// MongooseIM's `RecvMessage`, plus `properties` typed on request.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RecvMessage {
    pub from: String,
    pub to: String,
    /// The archive's stanza-id (what `before_id`/`after_id` and `Last-Event-ID` take).
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Unix milliseconds.
    pub timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, Value>>,
}

impl RecvMessage {
    /// The JSON of `message`, archived (or streamed) under `id` at `timestamp`; `from` and
    /// `to` are bare JIDs, as MongooseIM gives them.
    pub fn of(message: &Element, id: &str, timestamp: i64, typed: bool) -> RecvMessage {
        let bare = |attr| {
            message
                .attr(attr)
                .map(|j| {
                    Jid::new(j)
                        .map(|j| j.to_bare().to_string())
                        .unwrap_or_else(|_| j.to_owned())
                })
                .unwrap_or_default()
        };
        let thread = message.get_child("thread", ns::CLIENT);
        let properties = properties(message);
        RecvMessage {
            from: bare("from"),
            to: bare("to"),
            id: id.to_owned(),
            body: message.get_child("body", ns::CLIENT).map(Element::text),
            timestamp,
            thread: thread.map(Element::text),
            parent: thread.and_then(|t| t.attr("parent")).map(str::to_owned),
            properties: (!properties.is_empty()).then(|| {
                properties
                    .into_iter()
                    .map(|(name, value)| (name, value.to_json(typed)))
                    .collect()
            }),
        }
    }
}

/// A chat marker (XEP-0333) as MongooseIM's room messages carry it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChatMarker {
    #[serde(rename = "type")]
    pub kind: MarkerKind,
    /// The id of the message marked.
    pub id: String,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MarkerKind {
    Received,
    Displayed,
    Acknowledged,
}

impl MarkerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MarkerKind::Received => "received",
            MarkerKind::Displayed => "displayed",
            MarkerKind::Acknowledged => "acknowledged",
        }
    }

    fn parse(name: &str) -> Option<MarkerKind> {
        match name {
            "received" => Some(MarkerKind::Received),
            "displayed" => Some(MarkerKind::Displayed),
            "acknowledged" => Some(MarkerKind::Acknowledged),
            _ => None,
        }
    }
}

/// `POST /api/rooms/{id}/messages`: a body, a chat marker, or both.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SendRoomMessage {
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub markable: bool,
    #[serde(default)]
    pub chat_marker: Option<ChatMarker>,
}

impl SendRoomMessage {
    /// The message's content (the room sets addresses and type).
    pub fn to_element(&self, id: &str) -> Result<Element, SendError> {
        let mut message = Element::bare("message", ns::CLIENT);
        stanza::set_attr(&mut message, "id", id);
        match (&self.body, &self.chat_marker) {
            (Some(body), _) if !body.is_empty() => message.append_child(
                Element::builder("body", ns::CLIENT)
                    .append(xml_text("body", body)?)
                    .build(),
            ),
            (_, Some(_)) => return self.marker_only(message),
            _ => return Err(SendError::EmptyBody),
        };
        if self.markable {
            message.append_child(Element::bare("markable", ns::CHAT_MARKERS));
        }
        self.marker_only(message)
    }

    fn marker_only(&self, mut message: Element) -> Result<Element, SendError> {
        if let Some(marker) = &self.chat_marker {
            let mut el = Element::bare(marker.kind.as_str(), ns::CHAT_MARKERS);
            stanza::set_attr(&mut el, "id", xml_text("chat_marker", &marker.id)?);
            message.append_child(el);
        }
        Ok(message)
    }
}

/// MongooseIM's `RecvRoomMessage` (plus `room` on event streams).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RecvRoomMessage {
    /// The room's stanza-id.
    pub id: String,
    /// The sender: its bare JID when known, else its occupant JID (`room@…/nick`).
    pub from: String,
    /// Unix milliseconds.
    pub timestamp: i64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub markable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_marker: Option<ChatMarker>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}

impl RecvRoomMessage {
    pub fn of(message: &Element, id: &str, from: &str, timestamp: i64) -> RecvRoomMessage {
        let chat_marker = message
            .children()
            .filter(|c| c.ns() == ns::CHAT_MARKERS)
            .find_map(|c| {
                Some(ChatMarker {
                    kind: MarkerKind::parse(c.name())?,
                    id: c.attr("id")?.to_owned(),
                })
            });
        RecvRoomMessage {
            id: id.to_owned(),
            from: from.to_owned(),
            timestamp,
            kind: "message",
            body: message.get_child("body", ns::CLIENT).map(Element::text),
            markable: message.has_child("markable", ns::CHAT_MARKERS),
            chat_marker,
            room: None,
        }
    }
}

/// What a stanza reaching an event stream becomes (MongooseIM streams `message` only; the
/// other kinds are sent when asked for).
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    /// `event: message`: a 1:1 message with a body.
    Message(RecvMessage),
    /// `event: room.message`: a groupchat message with a body or a chat marker.
    RoomMessage(RecvRoomMessage),
    /// `event: presence`.
    Presence(Value),
    /// `event: receipt`: a delivery receipt (XEP-0184) or a chat marker (XEP-0333).
    Receipt(Value),
    /// `event: chat_state` (XEP-0085).
    ChatState(Value),
}

/// The kinds a stream may ask for with `?events=` besides messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamKinds {
    pub presence: bool,
    pub receipt: bool,
    pub chat_state: bool,
}

impl StreamKinds {
    /// `presence,receipt,chat_state` (any subset; `message` is always on and may be named).
    pub fn parse(list: &str) -> Result<StreamKinds, String> {
        let mut kinds = StreamKinds::default();
        for kind in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            match kind {
                "message" => {}
                "presence" => kinds.presence = true,
                "receipt" => kinds.receipt = true,
                "chat_state" => kinds.chat_state = true,
                other => return Err(format!("Unknown event kind '{other}'")),
            }
        }
        Ok(kinds)
    }
}

impl StreamEvent {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::Message(_) => "message",
            StreamEvent::RoomMessage(_) => "room.message",
            StreamEvent::Presence(_) => "presence",
            StreamEvent::Receipt(_) => "receipt",
            StreamEvent::ChatState(_) => "chat_state",
        }
    }

    pub fn data(&self) -> Value {
        match self {
            StreamEvent::Message(m) => serde_json::to_value(m).unwrap_or(Value::Null),
            StreamEvent::RoomMessage(m) => serde_json::to_value(m).unwrap_or(Value::Null),
            StreamEvent::Presence(v) | StreamEvent::Receipt(v) | StreamEvent::ChatState(v) => {
                v.clone()
            }
        }
    }

    /// The event for `stanza` delivered to `own`'s stream at `now_ms`, if `kinds` include it.
    /// A message's id is the stanza-id its archive gave it (what `Last-Event-ID` names).
    pub fn of(stanza: &Element, own: &str, now_ms: i64, kinds: StreamKinds) -> Option<StreamEvent> {
        let from = stanza.attr("from").unwrap_or_default();
        match stanza.name() {
            "message" if stanza.attr("type") == Some("groupchat") => {
                let room = Jid::new(from).ok()?.to_bare();
                let id = archive_id(stanza, room.as_str()).unwrap_or_default();
                let mut event = RecvRoomMessage::of(stanza, &id, from, now_ms);
                if event.body.is_none() && event.chat_marker.is_none() {
                    return None;
                }
                event.room = Some(room.to_string());
                Some(StreamEvent::RoomMessage(event))
            }
            "message" if matches!(stanza.attr("type"), Some("chat" | "normal") | None) => {
                if stanza.has_child("body", ns::CLIENT) {
                    let id = archive_id(stanza, own).unwrap_or_default();
                    return Some(StreamEvent::Message(RecvMessage::of(
                        stanza, &id, now_ms, false,
                    )));
                }
                if kinds.receipt {
                    let receipt = stanza
                        .get_child("received", ns::RECEIPTS)
                        .map(|r| ("received", r))
                        .or_else(|| {
                            ["received", "displayed", "acknowledged"]
                                .into_iter()
                                .find_map(|m| stanza.get_child(m, ns::CHAT_MARKERS).map(|r| (m, r)))
                        });
                    if let Some((type_, el)) = receipt {
                        return Some(StreamEvent::Receipt(serde_json::json!({
                            "from": from, "type": type_, "id": el.attr("id"),
                        })));
                    }
                }
                if kinds.chat_state {
                    let state = stanza.children().find(|c| c.ns() == ns::CHATSTATES)?;
                    return Some(StreamEvent::ChatState(serde_json::json!({
                        "from": from, "state": state.name(),
                    })));
                }
                None
            }
            "presence" if kinds.presence => {
                let child = |name| stanza.get_child(name, ns::CLIENT).map(Element::text);
                Some(StreamEvent::Presence(serde_json::json!({
                    "from": from,
                    "type": stanza.attr("type").unwrap_or("available"),
                    "show": child("show"),
                    "status": child("status"),
                })))
            }
            _ => None,
        }
    }
}

/// The id `own`'s archive gave `message` (XEP-0359 `<stanza-id by='own'/>`).
pub fn archive_id(message: &Element, own: &str) -> Option<String> {
    message
        .children()
        .find(|c| c.is("stanza-id", ns::STANZA_ID) && c.attr("by") == Some(own))
        .and_then(|c| c.attr("id"))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SEED: &str = "<message xmlns='jabber:client' to='alice@localhost' from='bob@localhost/r' \
        id='123' type='chat'><body>Hi!</body><thread parent='p1'>t1</thread>\
        <properties xmlns='http://www.jivesoftware.com/xmlns/xmpp/properties'>\
        <property><name>some_number</name><value type='integer'>123</value></property>\
        <property><name>some_string</name><value type='string'>abc</value></property>\
        <property><name>odd</name><value type='integer'>x</value></property>\
        </properties></message>";

    #[test]
    fn seed_message_maps_to_strings_or_types() {
        let el: Element = SEED.parse().unwrap();
        let plain = serde_json::to_value(RecvMessage::of(&el, "s1", 1531329049949, false)).unwrap();
        assert_eq!(
            plain,
            json!({"from": "bob@localhost", "to": "alice@localhost", "id": "s1", "body": "Hi!",
                   "timestamp": 1531329049949_i64, "thread": "t1", "parent": "p1",
                   "properties": {"some_number": "123", "some_string": "abc", "odd": "x"}})
        );
        let typed = RecvMessage::of(&el, "s1", 1, true);
        assert_eq!(
            serde_json::to_value(typed.properties).unwrap(),
            json!({"some_number": 123, "some_string": "abc", "odd": "x"})
        );
    }

    #[test]
    fn send_builds_typed_properties_that_read_back() {
        let request: SendMessage = serde_json::from_value(json!({
            "to": "bob@localhost", "body": "hi", "thread": "t", "markable": true,
            "properties": {"n": 5, "big": 5_000_000_000_i64, "f": 1.5, "b": true, "s": "x"}
        }))
        .unwrap();
        let el = request.to_element("m1").unwrap();
        assert_eq!(el.attr("type"), Some("chat"));
        assert!(el.has_child("markable", ns::CHAT_MARKERS));
        let read = RecvMessage::of(&el, "m1", 0, true);
        assert_eq!(
            serde_json::to_value(read.properties).unwrap(),
            json!({"n": 5, "big": 5_000_000_000_i64, "f": 1.5, "b": true, "s": "x"})
        );
        let types: Vec<&str> = properties(&el).iter().map(|(_, v)| v.type_name()).collect();
        assert_eq!(types, ["boolean", "long", "double", "integer", "string"]);
    }

    #[test]
    fn stream_events_by_kind() {
        let all = StreamKinds::parse("message, presence,receipt,chat_state").unwrap();
        assert!(StreamKinds::parse("presence,bogus").is_err());
        let ev = |xml: &str, kinds| {
            StreamEvent::of(&xml.parse::<Element>().unwrap(), "a@l", 7, kinds)
                .map(|e| (e.name(), e.data()))
        };
        let message = "<message xmlns='jabber:client' from='b@l/r' to='a@l' type='chat'><body>x</body>            <stanza-id xmlns='urn:xmpp:sid:0' by='other@l' id='no'/>            <stanza-id xmlns='urn:xmpp:sid:0' by='a@l' id='s9'/></message>";
        let (name, data) = ev(message, StreamKinds::default()).unwrap();
        assert_eq!(name, "message");
        assert_eq!(data["id"], "s9");
        assert_eq!(data["timestamp"], 7);
        let receipt = "<message xmlns='jabber:client' from='b@l/r'><received xmlns='urn:xmpp:receipts' id='m1'/></message>";
        assert_eq!(ev(receipt, StreamKinds::default()), None);
        assert_eq!(
            ev(receipt, all).unwrap().1,
            serde_json::json!({"from": "b@l/r", "type": "received", "id": "m1"})
        );
        let state = "<message xmlns='jabber:client' from='b@l/r'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>";
        assert_eq!(ev(state, all).unwrap().1["state"], "composing");
        let presence = "<presence xmlns='jabber:client' from='b@l/r'><show>away</show></presence>";
        assert_eq!(ev(presence, StreamKinds::default()), None);
        assert_eq!(ev(presence, all).unwrap().1["show"], "away");
    }

    #[test]
    fn room_messages_both_ways() {
        let request: SendRoomMessage = serde_json::from_value(json!({
            "body": "hi", "markable": true,
        }))
        .unwrap();
        let mut el = request.to_element("m1").unwrap();
        stanza::set_attr(&mut el, "type", "groupchat");
        stanza::set_attr(&mut el, "from", "group-1@conference.l/alice");
        el.append_child(
            "<stanza-id xmlns='urn:xmpp:sid:0' by='group-1@conference.l' id='r7'/>"
                .parse::<Element>()
                .unwrap(),
        );
        let event = StreamEvent::of(&el, "bob@l", 5, StreamKinds::default()).unwrap();
        assert_eq!(event.name(), "room.message");
        assert_eq!(
            event.data(),
            json!({"id": "r7", "from": "group-1@conference.l/alice", "timestamp": 5,
                   "type": "message", "body": "hi", "markable": true,
                   "room": "group-1@conference.l"})
        );
        let marker: SendRoomMessage = serde_json::from_value(json!({
            "chat_marker": {"type": "displayed", "id": "m1"},
        }))
        .unwrap();
        let el = marker.to_element("m2").unwrap();
        let read = RecvRoomMessage::of(&el, "r8", "x", 0);
        assert_eq!(read.body, None);
        assert_eq!(read.chat_marker.unwrap().kind, MarkerKind::Displayed);
        let empty: SendRoomMessage = serde_json::from_value(json!({})).unwrap();
        assert_eq!(empty.to_element("m3"), Err(SendError::EmptyBody));
    }

    #[test]
    fn bad_requests_are_refused() {
        let parse = |v: Value| serde_json::from_value::<SendMessage>(v);
        assert!(parse(json!({"to": "a@b"})).is_err(), "body is required");
        assert!(parse(json!({"to": "a@b", "body": "x", "extra": 1})).is_err());
        let request = parse(json!({"to": "a@@b", "body": "x"})).unwrap();
        assert_eq!(request.to_element("i"), Err(SendError::To));
        let request = parse(json!({"to": "a@b", "body": ""})).unwrap();
        assert_eq!(request.to_element("i"), Err(SendError::EmptyBody));
        let request = parse(json!({"to": "a@b", "body": "x", "properties": {"o": [1]}})).unwrap();
        assert_eq!(
            request.to_element("i"),
            Err(SendError::PropertyValue("o".into()))
        );
        let request = parse(json!({"to": "a@b", "body": "x\u{1a}y"})).unwrap();
        assert_eq!(request.to_element("i"), Err(SendError::NotXml("body")));
        let request =
            parse(json!({"to": "a@b", "body": "x", "properties": {"k": "\u{0}"}})).unwrap();
        assert_eq!(
            request.to_element("i"),
            Err(SendError::NotXml("properties"))
        );
    }
}
