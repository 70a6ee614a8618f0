//! Stanza helpers over minidom: kinds, replies, stanza and stream errors, stream headers.
//! Everything the server writes to the wire is built here, never by string concatenation elsewhere.

use minidom::Element;
pub use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use xmpp_parsers::stream_error::{DefinedCondition as StreamErrorCondition, StreamError};

use crate::ns;

/// The three stanza kinds of RFC 6120 §8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StanzaKind {
    Message,
    Presence,
    Iq,
}

impl StanzaKind {
    /// The kind of a top-level element in `jabber:client`, or `None` for anything else.
    pub fn of(el: &Element) -> Option<StanzaKind> {
        if el.ns() != ns::CLIENT {
            return None;
        }
        StanzaKind::from_name(el.name())
    }

    pub fn from_name(name: &str) -> Option<StanzaKind> {
        match name {
            "message" => Some(StanzaKind::Message),
            "presence" => Some(StanzaKind::Presence),
            "iq" => Some(StanzaKind::Iq),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StanzaKind::Message => "message",
            StanzaKind::Presence => "presence",
            StanzaKind::Iq => "iq",
        }
    }
}

/// Stream error conditions of RFC 6120 §4.9.3 that the server emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamCondition {
    BadFormat,
    Conflict,
    ConnectionTimeout,
    HostUnknown,
    InternalServerError,
    InvalidFrom,
    InvalidNamespace,
    NotAuthorized,
    NotWellFormed,
    PolicyViolation,
    ResourceConstraint,
    RestrictedXml,
    SystemShutdown,
    UnsupportedStanzaType,
    UnsupportedVersion,
}

impl From<StreamCondition> for StreamErrorCondition {
    fn from(condition: StreamCondition) -> StreamErrorCondition {
        match condition {
            StreamCondition::BadFormat => StreamErrorCondition::BadFormat,
            StreamCondition::Conflict => StreamErrorCondition::Conflict,
            StreamCondition::ConnectionTimeout => StreamErrorCondition::ConnectionTimeout,
            StreamCondition::HostUnknown => StreamErrorCondition::HostUnknown,
            StreamCondition::InternalServerError => StreamErrorCondition::InternalServerError,
            StreamCondition::InvalidFrom => StreamErrorCondition::InvalidFrom,
            StreamCondition::InvalidNamespace => StreamErrorCondition::InvalidNamespace,
            StreamCondition::NotAuthorized => StreamErrorCondition::NotAuthorized,
            StreamCondition::NotWellFormed => StreamErrorCondition::NotWellFormed,
            StreamCondition::PolicyViolation => StreamErrorCondition::PolicyViolation,
            StreamCondition::ResourceConstraint => StreamErrorCondition::ResourceConstraint,
            StreamCondition::RestrictedXml => StreamErrorCondition::RestrictedXml,
            StreamCondition::SystemShutdown => StreamErrorCondition::SystemShutdown,
            StreamCondition::UnsupportedStanzaType => StreamErrorCondition::UnsupportedStanzaType,
            StreamCondition::UnsupportedVersion => StreamErrorCondition::UnsupportedVersion,
        }
    }
}

/// An element in the streams namespace written with the conventional `stream:` prefix
/// (`<stream:features>`, `<stream:error>`), which some clients match literally.
pub fn stream_element(name: &str) -> Element {
    Element::builder(name, ns::STREAM)
        .prefix(Some("stream".into()), ns::STREAM)
        .map(|b| b.build())
        .unwrap_or_else(|_| Element::bare(name, ns::STREAM))
}

/// `<stream:error>` with a condition and optional English text.
pub fn stream_error(condition: StreamCondition, text: Option<&str>) -> Element {
    let error = match text {
        Some(text) => StreamError::new(condition.into(), "en", text),
        None => StreamError {
            condition: condition.into(),
            texts: Default::default(),
            application_specific: Vec::new(),
        },
    };
    let mut typed = Element::from(error);
    let mut el = stream_element(typed.name());
    for node in typed.take_nodes() {
        el.append_node(node);
    }
    el
}

/// Builds a stanza error element (type + defined condition + English text).
pub fn stanza_error(type_: ErrorType, condition: DefinedCondition, text: Option<&str>) -> Element {
    let mut err = StanzaError::new(type_, condition, "en", text.unwrap_or_default());
    if text.is_none() {
        err.texts.clear();
    }
    Element::from(err)
}

/// Whether a stanza may be answered with an error: never reply to errors (RFC 6120 §8.3.1),
/// and never to iq results.
pub fn may_reply_with_error(stanza: &Element) -> bool {
    match stanza.attr("type") {
        Some("error") => false,
        Some("result") => stanza.name() != "iq",
        _ => true,
    }
}

/// The error reply to `stanza`: addresses swapped, same id, `type="error"`.
/// `None` when the stanza must not be answered (it is itself an error or an iq result).
pub fn error_reply(
    stanza: &Element,
    type_: ErrorType,
    condition: DefinedCondition,
    text: Option<&str>,
) -> Option<Element> {
    error_reply_with(stanza, stanza_error(type_, condition, text))
}

/// [`error_reply`] with a prepared `<error/>` element (e.g. one with an application-specific
/// condition).
pub fn error_reply_with(stanza: &Element, error: Element) -> Option<Element> {
    if !may_reply_with_error(stanza) {
        return None;
    }
    let mut reply = reply_shell(stanza);
    reply.set_attr(rxml::Namespace::NONE, name("type"), "error");
    reply.append_child(error);
    Some(reply)
}

/// A XEP-0199 ping request, `<iq type='get'><ping/></iq>`.
pub fn ping_request(id: &str, from: &str, to: &str) -> Element {
    Element::builder("iq", ns::CLIENT)
        .attr(name("type"), "get")
        .attr(name("id"), id)
        .attr(name("from"), from)
        .attr(name("to"), to)
        .append(Element::from(xmpp_parsers::ping::Ping))
        .build()
}

/// `<iq type="result">` answering `iq`, with an optional payload.
pub fn iq_result(iq: &Element, payload: Option<Element>) -> Element {
    let mut reply = reply_shell(iq);
    reply.set_attr(rxml::Namespace::NONE, name("type"), "result");
    if let Some(payload) = payload {
        reply.append_child(payload);
    }
    reply
}

/// A reply of the same kind with `to`/`from` swapped and the id kept.
fn reply_shell(stanza: &Element) -> Element {
    let mut reply = Element::bare(stanza.name(), ns::CLIENT);
    if let Some(from) = stanza.attr("from") {
        reply.set_attr(rxml::Namespace::NONE, name("to"), from);
    }
    if let Some(to) = stanza.attr("to") {
        reply.set_attr(rxml::Namespace::NONE, name("from"), to);
    }
    if let Some(id) = stanza.attr("id") {
        reply.set_attr(rxml::Namespace::NONE, name("id"), id);
    }
    reply
}

/// Sets (or replaces) an un-namespaced attribute.
pub fn set_attr(el: &mut Element, attr: &'static str, value: &str) {
    el.set_attr(rxml::Namespace::NONE, name(attr), value);
}

/// A copy that carries no namespace-prefix declarations. The parser records a document's own
/// `xmlns:…` declarations, which minidom's serialiser re-declares verbatim and panics on when a
/// nested element re-binds a prefix of an ancestor; elements and attributes keep their
/// namespaces, so the copy means the same and serialises safely.
pub fn without_prefixes(element: &Element) -> Element {
    let mut copy = Element::bare(element.name(), element.ns());
    for ((namespace, name), value) in element.attrs() {
        copy.set_attr(namespace.clone(), name.clone(), value.as_str());
    }
    for node in element.nodes() {
        copy.append_node(match node {
            minidom::Node::Element(child) => minidom::Node::Element(without_prefixes(child)),
            minidom::Node::Text(text) => minidom::Node::Text(text.clone()),
        });
    }
    copy
}

/// Whether some element of the tree declares a named namespace prefix (`xmlns:a='…'`), which
/// [`without_prefixes`] must remove before minidom serialises it.
pub fn declares_prefixes(element: &Element) -> bool {
    element
        .prefixes
        .declared_prefixes()
        .keys()
        .any(Option::is_some)
        || element.children().any(declares_prefixes)
}

/// [`to_xml`] for an element of any origin: a tree declaring named prefixes (rare: the stream
/// parser already rewrites those it receives) is written as its [`without_prefixes`] form.
pub fn to_xml_portable(element: &Element) -> String {
    let mut out = Vec::new();
    crate::xml_writer::write(element, "", &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Sets `xml:lang`.
pub fn set_lang(el: &mut Element, lang: &str) {
    el.set_attr(rxml::Namespace::xml().clone(), name("lang"), lang);
}

/// Removes an un-namespaced attribute.
pub fn remove_attr(el: &mut Element, attr: &'static str) {
    el.attrs_mut().remove(&rxml::Namespace::NONE, &name(attr));
}

pub(crate) fn name(attr: &'static str) -> rxml::NcName {
    rxml::NcName::try_from(attr).expect("attribute names used by the server are valid NCNames")
}

/// The first child element of an iq (its payload), if any.
pub fn iq_payload(iq: &Element) -> Option<&Element> {
    iq.children().next()
}

/// Serialises an element to a string without XML declaration.
pub fn to_xml(el: &Element) -> String {
    let mut out = Vec::new();
    write_xml(el, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends an element's XML (without declaration) to `out`: a transport's write buffer, so
/// that sending a stanza allocates nothing once the buffer has grown. A tree declaring named
/// prefixes (the `stream:` elements) is written by minidom, which keeps them.
pub fn write_xml(el: &Element, out: &mut Vec<u8>) {
    if declares_prefixes(el) {
        // Writing into a Vec cannot fail for an element that minidom itself holds.
        let _ = el.write_to(out);
    } else {
        crate::xml_writer::write(el, "", out);
    }
}

/// Serialises a `jabber:client` stanza as it reads inside a client stream, without declaring
/// its namespace: the form of mod_rest's callback bodies, on which receivers (such as the
/// seed's Flask bot, which compares the tag with `message`) depend.
pub fn to_xml_in_stream(el: &Element) -> String {
    let mut out = Vec::new();
    crate::xml_writer::write(el, ns::CLIENT, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Parses XML written the way [`to_xml_in_stream`] writes it (and mod_rest's clients send it):
/// elements without a namespace declaration are `jabber:client`.
pub fn parse_in_stream(xml: &str) -> Result<Element, minidom::Error> {
    Element::from_reader_with_prefixes(xml.as_bytes(), Some(ns::CLIENT.to_owned()))
}

/// The TCP stream header sent by the server (RFC 6120 §4.7).
pub fn stream_open(from: &str, id: &str, to: Option<&str>) -> String {
    let to = to
        .map(|to| format!(" to='{}'", escape_attr(to)))
        .unwrap_or_default();
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='{}' xmlns:stream='{}' from='{}' id='{}'{} version='1.0' xml:lang='en'>",
        ns::CLIENT,
        ns::STREAM,
        escape_attr(from),
        escape_attr(id),
        to
    )
}

pub const STREAM_CLOSE: &str = "</stream:stream>";

/// The RFC 7395 `<open/>` answer of the server.
pub fn ws_open(from: &str, id: &str, to: Option<&str>) -> Element {
    let mut open = Element::builder("open", ns::FRAMING)
        .attr(name("from"), from)
        .attr(name("id"), id)
        .attr(name("version"), "1.0")
        .attr_ns(rxml::Namespace::xml().clone(), name("lang"), "en")
        .build();
    if let Some(to) = to {
        set_attr(&mut open, "to", to);
    }
    open
}

/// The RFC 7395 `<close/>`.
pub fn ws_close() -> Element {
    Element::bare("close", ns::FRAMING)
}

fn escape_attr(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// XEP-0203 `<delay/>` for stanzas delivered later than they were received.
pub fn delay(from: &str, stamp_rfc3339: &str) -> Element {
    Element::builder("delay", ns::DELAY)
        .attr(name("from"), from)
        .attr(name("stamp"), stamp_rfc3339)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_declaring_named_prefixes_are_written_without_them() {
        let plain: Element =
            "<message xmlns='jabber:client' to='a@b'><body>x</body><x xmlns='urn:x'/></message>"
                .parse()
                .unwrap();
        assert!(!declares_prefixes(&plain));
        assert_eq!(to_xml_portable(&plain), to_xml(&plain));
        let prefixed: Element = "<message xmlns='jabber:client'><a:x xmlns:a='urn:a'><a:y xmlns:a='urn:b'/></a:x></message>"
            .parse()
            .unwrap();
        assert!(declares_prefixes(&prefixed));
        let written: Element = to_xml_portable(&prefixed).parse().unwrap();
        let x = written.get_child("x", "urn:a").unwrap();
        assert!(x.has_child("y", "urn:b"));
    }

    fn parse(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    #[test]
    fn kinds() {
        assert_eq!(
            StanzaKind::of(&parse("<iq xmlns='jabber:client'/>")),
            Some(StanzaKind::Iq)
        );
        assert_eq!(StanzaKind::of(&parse("<iq xmlns='other'/>")), None);
        assert_eq!(StanzaKind::of(&parse("<foo xmlns='jabber:client'/>")), None);
    }

    #[test]
    fn error_reply_swaps_addresses() {
        let iq = parse(
            "<iq xmlns='jabber:client' type='get' id='x' from='a@b/c' to='b'><q xmlns='u'/></iq>",
        );
        let reply = error_reply(
            &iq,
            ErrorType::Cancel,
            DefinedCondition::ServiceUnavailable,
            None,
        )
        .unwrap();
        let expected = parse(
            "<iq xmlns='jabber:client' type='error' id='x' to='a@b/c' from='b'>\
             <error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
        );
        assert_eq!(reply, expected);
    }

    #[test]
    fn never_answer_errors_or_results() {
        for xml in [
            "<message xmlns='jabber:client' type='error'/>",
            "<iq xmlns='jabber:client' type='result'/>",
            "<iq xmlns='jabber:client' type='error'/>",
        ] {
            assert!(
                error_reply(
                    &parse(xml),
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    None
                )
                .is_none()
            );
        }
    }

    #[test]
    fn stream_error_shape() {
        let el = stream_error(StreamCondition::PolicyViolation, Some("too big"));
        assert!(el.is("error", ns::STREAM));
        assert!(el.has_child("policy-violation", ns::STREAMS_ERRORS));
        assert_eq!(
            el.get_child("text", ns::STREAMS_ERRORS).unwrap().text(),
            "too big"
        );
        assert_eq!(
            to_xml(&stream_error(StreamCondition::SystemShutdown, None)),
            "<stream:error xmlns:stream='http://etherx.jabber.org/streams'>\
             <system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
        );
    }

    #[test]
    fn stream_elements_use_the_stream_prefix() {
        let xml = to_xml(&stream_element("features"));
        assert!(xml.starts_with("<stream:features"), "{xml}");
    }

    #[test]
    fn stream_open_escapes() {
        let open = stream_open("local'host", "id<1>", None);
        assert!(open.contains("from='local&apos;host'"));
        assert!(open.contains("id='id&lt;1&gt;'"));
    }

    #[test]
    fn in_stream_form_leaves_the_client_namespace_implicit() {
        let message = parse(
            "<message xmlns='jabber:client' to='a@b' type='chat'><body>x &lt; y</body>\
             <request xmlns='urn:xmpp:receipts'/></message>",
        );
        let xml = to_xml_in_stream(&message);
        assert!(xml.starts_with("<message "), "{xml}");
        assert!(!xml.contains("jabber:client"), "{xml}");
        assert!(xml.contains("urn:xmpp:receipts"), "{xml}");
        let reparsed = parse(&format!("<s xmlns='jabber:client'>{xml}</s>"));
        assert_eq!(reparsed.children().next(), Some(&message));
        let empty = parse("<presence xmlns='jabber:client'/>");
        assert!(to_xml_in_stream(&empty).starts_with("<presence"));
        assert!(to_xml_in_stream(&empty).ends_with("/>"));
    }

    #[test]
    fn ping_request_shape() {
        assert_eq!(
            ping_request("k1", "localhost", "a@localhost/r"),
            parse(
                "<iq xmlns='jabber:client' type='get' id='k1' from='localhost' to='a@localhost/r'>\
                 <ping xmlns='urn:xmpp:ping'/></iq>"
            )
        );
    }

    #[test]
    fn result_keeps_id() {
        let iq = parse("<iq xmlns='jabber:client' type='get' id='p1' from='u@d/r' to='d'/>");
        let res = iq_result(&iq, None);
        assert_eq!(res.attr("type"), Some("result"));
        assert_eq!(res.attr("id"), Some("p1"));
        assert_eq!(res.attr("to"), Some("u@d/r"));
    }
}
