//! Incremental XMPP stream framing on rxml: bytes in, stream headers and whole top-level elements out.
//! Enforces the restricted XML of RFC 6120 §11 plus per-stanza byte and nesting-depth limits.

use std::collections::VecDeque;

use minidom::Element;
use minidom::tree_builder::TreeBuilder;
use rxml::error::EndOrError;
use rxml::{Parse, RawEvent, RawParser, WithOptions};

use crate::ns;
use crate::stanza::StreamCondition;

/// Limits applied to every top-level element of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one top-level element (stanza or nonza), as received on the wire.
    pub max_stanza_bytes: usize,
    /// Nesting depth inside one top-level element; the element itself is depth 1.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stanza_bytes: 256 * 1024,
            max_depth: 32,
        }
    }
}

/// The attributes of a `<stream:stream>` (TCP) header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamHeader {
    pub to: Option<String>,
    pub from: Option<String>,
    pub version: Option<String>,
    pub lang: Option<String>,
    /// The default namespace declared on the header (`jabber:client` for c2s).
    pub default_ns: Option<String>,
}

/// What the parser yields, in stream order.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    Open(StreamHeader),
    Element(Element),
    Close,
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum FramingError {
    #[error("XML is not well-formed: {0}")]
    NotWellFormed(String),
    #[error("restricted XML feature used: {0}")]
    RestrictedXml(String),
    #[error("element exceeds {limit} bytes")]
    StanzaTooBig { limit: usize },
    #[error("element nesting exceeds depth {limit}")]
    TooDeep { limit: usize },
    #[error("stream root is not <stream:stream> in {}", ns::STREAM)]
    InvalidNamespace,
    #[error("character data outside of any element")]
    TextAtStreamLevel,
    #[error("a WebSocket message must carry exactly one complete element")]
    NotOneElement,
}

impl FramingError {
    /// The stream error this violation closes the stream with (RFC 6120 §4.9.3, XEP-0478).
    pub fn condition(&self) -> StreamCondition {
        match self {
            FramingError::NotWellFormed(_) | FramingError::NotOneElement => {
                StreamCondition::NotWellFormed
            }
            FramingError::RestrictedXml(_) => StreamCondition::RestrictedXml,
            FramingError::StanzaTooBig { .. } | FramingError::TooDeep { .. } => {
                StreamCondition::PolicyViolation
            }
            FramingError::InvalidNamespace => StreamCondition::InvalidNamespace,
            FramingError::TextAtStreamLevel => StreamCondition::BadFormat,
        }
    }
}

/// A push parser for one XML stream (one per stream restart).
pub struct StreamParser {
    limits: Limits,
    raw: RawParser,
    tree: TreeBuilder,
    events: VecDeque<StreamEvent>,
    /// Open elements, the stream root included.
    depth: usize,
    /// Bytes of the element being received (or of the header before the root is open).
    current_bytes: usize,
    header: StreamHeader,
    failed: Option<FramingError>,
    /// Fragment mode (RFC 7395): the root was synthesised, so no `Open` is emitted for it.
    fragment: bool,
    /// The element being received declares namespace prefixes of its own (see
    /// [`crate::stanza::without_prefixes`]); rare, so only such elements pay for a copy.
    declares_prefixes: bool,
}

impl StreamParser {
    pub fn new(limits: Limits) -> Self {
        let options = rxml::Options {
            // Names and attribute values beyond this are refused; text is split, not refused.
            max_token_length: limits.max_stanza_bytes.clamp(1024, 16 * 1024),
            ..rxml::Options::default()
        };
        StreamParser {
            limits,
            raw: RawParser::with_options(options),
            tree: TreeBuilder::new(),
            events: VecDeque::new(),
            depth: 0,
            current_bytes: 0,
            header: StreamHeader::default(),
            failed: None,
            fragment: false,
            declares_prefixes: false,
        }
    }

    /// A parser for RFC 7395 framing, where every message is one element and there is no
    /// enclosing stream element: elements default to `jabber:client`, as they would inside a
    /// c2s stream.
    pub fn new_fragments(limits: Limits) -> Self {
        let mut parser = StreamParser::new(limits);
        parser.fragment = true;
        let root = format!(
            "<stream:stream xmlns='{}' xmlns:stream='{}'>",
            ns::CLIENT,
            ns::STREAM
        );
        parser
            .feed(root.as_bytes())
            .expect("the synthetic stream root is well-formed");
        parser.events.clear();
        parser
    }

    /// Parses all of `data`; complete events become available through [`Self::next_event`].
    /// After an error the parser stays failed: the stream must be closed.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), FramingError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        loop {
            match self.raw.parse(&mut data, false) {
                Ok(Some(event)) => {
                    if let Err(err) = self.handle(event) {
                        self.failed = Some(err.clone());
                        return Err(err);
                    }
                }
                Ok(None) | Err(EndOrError::NeedMoreData) => return Ok(()),
                Err(EndOrError::Error(err)) => {
                    let err = match err {
                        rxml::Error::RestrictedXml(what) => {
                            FramingError::RestrictedXml(what.to_string())
                        }
                        rxml::Error::UndeclaredEntity => {
                            FramingError::RestrictedXml("custom entity reference".into())
                        }
                        // rxml has no DTD grammar at all: `<!DOCTYPE` fails as a markup
                        // declaration it does not know, which RFC 6120 §11.1 calls restricted.
                        rxml::Error::InvalidSyntax(what) if what.contains("section start") => {
                            FramingError::RestrictedXml(format!("markup declaration ({what})"))
                        }
                        other => FramingError::NotWellFormed(other.to_string()),
                    };
                    self.failed = Some(err.clone());
                    return Err(err);
                }
            }
        }
    }

    pub fn next_event(&mut self) -> Option<StreamEvent> {
        self.events.pop_front()
    }

    /// Parses one RFC 7395 message, which must hold exactly one complete element.
    pub fn feed_message(&mut self, data: &[u8]) -> Result<Element, FramingError> {
        debug_assert!(self.fragment, "feed_message needs a fragment parser");
        self.feed(data)?;
        let one = match (self.events.pop_front(), self.events.pop_front()) {
            (Some(StreamEvent::Element(el)), None) if self.depth == 1 => Some(el),
            _ => None,
        };
        one.ok_or_else(|| {
            self.failed = Some(FramingError::NotOneElement);
            FramingError::NotOneElement
        })
    }

    /// Whether an element is partially received (used to decide if an idle buffer may be freed).
    pub fn is_mid_element(&self) -> bool {
        self.depth > 1
    }

    /// Frees the parser's scratch buffers; call while the connection is idle between elements.
    pub fn release_temporaries(&mut self) {
        self.raw.release_temporaries();
        self.events.shrink_to_fit();
    }

    fn handle(&mut self, event: RawEvent) -> Result<(), FramingError> {
        let starts_element = matches!(event, RawEvent::ElementHeadOpen(..));
        if starts_element && self.depth == 1 {
            self.current_bytes = 0;
        }
        // Whitespace between top-level elements belongs to no element and is not counted.
        if self.depth != 1 || starts_element {
            self.count(event.metrics().len())?;
        }
        if let RawEvent::Attribute(_, (prefix, name), value) = &event
            && let Some(wrong) =
                reserved_binding(prefix.as_ref().map(|p| p.as_str()), name.as_str(), value)
        {
            return Err(FramingError::NotWellFormed(wrong));
        }
        match &event {
            RawEvent::XmlDeclaration(..) => return Ok(()),
            RawEvent::ElementHeadOpen(..) => {
                self.depth += 1;
                if self.depth > self.limits.max_depth + 1 {
                    return Err(FramingError::TooDeep {
                        limit: self.limits.max_depth,
                    });
                }
            }
            RawEvent::Attribute(_, (prefix, name), value) if self.depth == 1 => {
                self.header_attribute(prefix.as_ref().map(|p| p.as_str()), name, value);
            }
            RawEvent::Attribute(_, (Some(prefix), _), _) if prefix.as_str() == "xmlns" => {
                self.declares_prefixes = true;
            }
            RawEvent::Text(_, text) if self.depth == 1 => {
                // Whitespace between stanzas is a keepalive; it never reaches the tree.
                if text.chars().all(|c| c.is_ascii_whitespace()) {
                    return Ok(());
                }
                return Err(FramingError::TextAtStreamLevel);
            }
            _ => {}
        }
        let is_head_close = matches!(event, RawEvent::ElementHeadClose(_));
        let is_foot = matches!(event, RawEvent::ElementFoot(_));
        self.tree
            .process_event(event)
            .map_err(|e| FramingError::NotWellFormed(e.to_string()))?;
        if is_head_close && self.depth == 1 {
            self.root_opened()?;
        } else if is_foot {
            self.depth -= 1;
            match self.depth {
                0 => self.events.push_back(StreamEvent::Close),
                1 => {
                    self.current_bytes = 0;
                    if let Some(el) = self.tree.unshift_child() {
                        let el = if std::mem::take(&mut self.declares_prefixes) {
                            crate::stanza::without_prefixes(&el)
                        } else {
                            el
                        };
                        self.events.push_back(StreamEvent::Element(el));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn count(&mut self, len: usize) -> Result<(), FramingError> {
        self.current_bytes = self.current_bytes.saturating_add(len);
        if self.current_bytes > self.limits.max_stanza_bytes {
            return Err(FramingError::StanzaTooBig {
                limit: self.limits.max_stanza_bytes,
            });
        }
        Ok(())
    }

    fn header_attribute(&mut self, prefix: Option<&str>, name: &rxml::NcName, value: &str) {
        let value = Some(value.to_owned());
        match (prefix, name.as_str()) {
            (None, "xmlns") => self.header.default_ns = value,
            (None, "to") => self.header.to = value,
            (None, "from") => self.header.from = value,
            (None, "version") => self.header.version = value,
            (Some("xml"), "lang") => self.header.lang = value,
            _ => {}
        }
    }

    fn root_opened(&mut self) -> Result<(), FramingError> {
        self.current_bytes = 0;
        let is_stream = self
            .tree
            .top()
            .is_some_and(|root| root.is("stream", ns::STREAM));
        if !is_stream {
            return Err(FramingError::InvalidNamespace);
        }
        if !self.fragment {
            self.events
                .push_back(StreamEvent::Open(std::mem::take(&mut self.header)));
        }
        Ok(())
    }
}

/// Namespaces in XML 1.0 §3: `xml` may only be bound to its own namespace and nothing else to
/// it, `xmlns` and its namespace to nothing. The tree builder lets these through, but an element
/// in such a namespace cannot be written again (the serialiser panics), so a document that
/// declares one is refused: what is wrong with the attribute (`prefix`:`name` = `uri`), if it is
/// such a declaration.
pub fn reserved_binding(prefix: Option<&str>, name: &str, uri: &str) -> Option<String> {
    let declared = match (prefix, name) {
        (None, "xmlns") => None,
        (Some("xmlns"), declared) => Some(declared),
        _ => return None,
    };
    let allowed = match declared {
        Some("xmlns") => false,
        Some("xml") => uri == ns::XML,
        _ => uri != ns::XML && uri != ns::XMLNS,
    };
    (!allowed).then(|| {
        format!(
            "namespace '{uri}' may not be bound to {}",
            declared.map_or("the default namespace".to_owned(), |p| format!(
                "prefix '{p}'"
            ))
        )
    })
}

/// The bytes after an XML declaration (`<?xml version='1.0'?>`) at the very start of `data`, or
/// all of `data` when it starts with none. rxml checks the declaration (version 1.0, UTF-8 only);
/// any other processing instruction (`<?xml-stylesheet …?>`) stays for the parser to refuse.
pub fn without_xml_declaration(data: &[u8]) -> Result<&[u8], FramingError> {
    let declares = data.starts_with(b"<?xml")
        && data
            .get(5)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == b'?');
    if !declares {
        return Ok(data);
    }
    let end = data
        .windows(2)
        .position(|pair| pair == b"?>")
        .map(|at| at + 2)
        .ok_or_else(|| FramingError::NotWellFormed("unterminated XML declaration".into()))?;
    let (declaration, rest) = data.split_at(end);
    let mut input = declaration;
    match RawParser::new().parse(&mut input, false) {
        Ok(Some(RawEvent::XmlDeclaration(..))) => Ok(rest),
        Err(EndOrError::Error(rxml::Error::RestrictedXml(what))) => {
            Err(FramingError::RestrictedXml(what.to_string()))
        }
        Err(EndOrError::Error(other)) => Err(FramingError::NotWellFormed(other.to_string())),
        Ok(_) | Err(EndOrError::NeedMoreData) => Err(FramingError::NotWellFormed(
            "invalid XML declaration".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' xml:lang='en'>";

    fn parse_all(chunks: &[&[u8]], limits: Limits) -> (Vec<StreamEvent>, Option<FramingError>) {
        let mut parser = StreamParser::new(limits);
        let mut events = Vec::new();
        for chunk in chunks {
            let result = parser.feed(chunk);
            while let Some(ev) = parser.next_event() {
                events.push(ev);
            }
            if let Err(err) = result {
                return (events, Some(err));
            }
        }
        (events, None)
    }

    fn stream_of(body: &str) -> String {
        format!("{HEADER}{body}")
    }

    #[test]
    fn header_is_parsed() {
        let (events, err) = parse_all(&[HEADER.as_bytes()], Limits::default());
        assert_eq!(err, None);
        assert_eq!(
            events,
            vec![StreamEvent::Open(StreamHeader {
                to: Some("localhost".into()),
                from: None,
                version: Some("1.0".into()),
                lang: Some("en".into()),
                default_ns: Some("jabber:client".into()),
            })]
        );
    }

    #[test]
    fn stanzas_and_close_are_emitted() {
        let doc = stream_of(
            "<message to='a@b'><body>hi &amp; bye</body></message> \n<iq type='get' id='1'/></stream:stream>",
        );
        let (events, err) = parse_all(&[doc.as_bytes()], Limits::default());
        assert_eq!(err, None);
        assert_eq!(events.len(), 4);
        match &events[1] {
            StreamEvent::Element(el) => {
                assert!(el.is("message", ns::CLIENT));
                assert_eq!(el.attr("to"), Some("a@b"));
                assert_eq!(el.get_child("body", ns::CLIENT).unwrap().text(), "hi & bye");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(&events[2], StreamEvent::Element(el) if el.is("iq", ns::CLIENT)));
        assert_eq!(events[3], StreamEvent::Close);
    }

    #[test]
    fn a_leading_xml_declaration_is_skipped() {
        let rest = without_xml_declaration(b"<?xml version='1.0' encoding='UTF-8'?><m/>");
        assert_eq!(rest, Ok(&b"<m/>"[..]));
        assert_eq!(without_xml_declaration(b"<m/>"), Ok(&b"<m/>"[..]));
        // Other processing instructions are not declarations: the parser refuses them later.
        let pi = b"<?xml-stylesheet href='a'?><m/>";
        assert_eq!(without_xml_declaration(pi), Ok(&pi[..]));
        for bad in [
            &b"<?xml version='1.0' encoding='ISO-8859-1'?><m/>"[..],
            b"<?xml version='1.0'",
            b"<?xml foo='1'?><m/>",
        ] {
            assert!(without_xml_declaration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn doctype_entity_bomb_is_restricted() {
        let doc = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>]><stream:stream/>";
        let (_, err) = parse_all(&[doc.as_bytes()], Limits::default());
        assert_eq!(err.unwrap().condition(), StreamCondition::RestrictedXml);
    }

    #[test]
    fn comments_and_pis_are_restricted() {
        for bad in ["<!-- hi -->", "<?php echo 1; ?>"] {
            let doc = stream_of(&format!("<message>{bad}</message>"));
            let (_, err) = parse_all(&[doc.as_bytes()], Limits::default());
            let err = err.expect("must fail");
            assert!(
                matches!(
                    err.condition(),
                    StreamCondition::RestrictedXml | StreamCondition::NotWellFormed
                ),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn undeclared_entity_is_refused() {
        let doc = stream_of("<message><body>&lol;</body></message>");
        let (_, err) = parse_all(&[doc.as_bytes()], Limits::default());
        assert!(err.is_some());
    }

    #[test]
    fn oversize_stanza_is_a_policy_violation() {
        let limits = Limits {
            max_stanza_bytes: 1024,
            max_depth: 32,
        };
        let doc = stream_of(&format!(
            "<message><body>{}</body></message>",
            "x".repeat(2000)
        ));
        let (events, err) = parse_all(&[doc.as_bytes()], limits);
        assert_eq!(events.len(), 1, "only the header");
        assert_eq!(err, Some(FramingError::StanzaTooBig { limit: 1024 }));
        assert_eq!(err.unwrap().condition(), StreamCondition::PolicyViolation);
    }

    #[test]
    fn size_limit_resets_between_stanzas() {
        let limits = Limits {
            max_stanza_bytes: 1024,
            max_depth: 32,
        };
        let one = format!("<message><body>{}</body></message>", "x".repeat(900));
        let doc = stream_of(&one.repeat(5));
        let (events, err) = parse_all(&[doc.as_bytes()], limits);
        assert_eq!(err, None);
        assert_eq!(events.len(), 6);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let limits = Limits::default();
        let ok = format!("<iq>{}{}</iq>", "<a>".repeat(31), "</a>".repeat(31));
        let (_, err) = parse_all(&[stream_of(&ok).as_bytes()], limits);
        assert_eq!(err, None);
        let deep = format!("<iq>{}{}</iq>", "<a>".repeat(32), "</a>".repeat(32));
        let (_, err) = parse_all(&[stream_of(&deep).as_bytes()], limits);
        assert_eq!(err, Some(FramingError::TooDeep { limit: 32 }));
    }

    #[test]
    fn rebound_prefixes_serialise_without_panicking() {
        let doc = stream_of(
            "<message xmlns:x='urn:a'><x:foo><y xmlns:x='urn:b' x:attr='1'/></x:foo></message>",
        );
        let (events, err) = parse_all(&[doc.as_bytes()], Limits::default());
        assert_eq!(err, None);
        let StreamEvent::Element(el) = &events[1] else {
            panic!("{events:?}")
        };
        let xml = crate::stanza::to_xml(el);
        let back: Element = xml.parse().unwrap();
        let foo = back.get_child("foo", "urn:a").unwrap();
        let y = foo.children().next().unwrap();
        assert_eq!(y.attr_ns("urn:b", "attr"), Some("1"));
    }

    /// Found by the framer fuzz target: a stanza in the xmlns namespace was accepted and
    /// then panicked the serialiser.
    #[test]
    fn reserved_namespaces_end_the_stream() {
        for stanza in [
            "<bind xmlns='http://www.w3.org/2000/xmlns/'/>",
            "<x:bind xmlns:x='http://www.w3.org/2000/xmlns/'/>",
            "<bind xmlns='http://www.w3.org/XML/1998/namespace'/>",
            "<x:bind xmlns:x='http://www.w3.org/XML/1998/namespace'/>",
            "<xml:bind xmlns:xml='urn:other'/>",
            "<xmlns:bind xmlns:xmlns='urn:other'/>",
        ] {
            let doc = stream_of(stanza);
            let (events, err) = parse_all(&[doc.as_bytes()], Limits::default());
            assert_eq!(
                err.map(|e| e.condition()),
                Some(StreamCondition::NotWellFormed),
                "{stanza}"
            );
            assert!(
                !events.iter().any(|e| matches!(e, StreamEvent::Element(_))),
                "{stanza}"
            );
        }
        // Declaring `xml` to its own namespace is allowed, and `xml:lang` works as ever.
        let doc =
            stream_of("<message xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='en'/>");
        let (events, err) = parse_all(&[doc.as_bytes()], Limits::default());
        assert_eq!(err, None);
        let Some(StreamEvent::Element(el)) = events.last() else {
            panic!("{events:?}");
        };
        assert!(crate::stanza::to_xml(el).contains("xml:lang"));
    }

    #[test]
    fn wrong_root_is_invalid_namespace() {
        let (_, err) = parse_all(&[b"<stream xmlns='jabber:client'>"], Limits::default());
        assert_eq!(err, Some(FramingError::InvalidNamespace));
    }

    #[test]
    fn garbage_is_not_well_formed() {
        let doc = stream_of("<message></iq>");
        let (_, err) = parse_all(&[doc.as_bytes()], Limits::default());
        assert_eq!(err.unwrap().condition(), StreamCondition::NotWellFormed);
    }

    #[test]
    fn text_at_stream_level_is_bad_format() {
        let doc = stream_of("hello<message/>");
        let (_, err) = parse_all(&[doc.as_bytes()], Limits::default());
        assert_eq!(err, Some(FramingError::TextAtStreamLevel));
    }

    #[test]
    fn unbound_prefix_is_not_well_formed() {
        let doc = stream_of("<foo:message/>");
        let (_, err) = parse_all(&[doc.as_bytes()], Limits::default());
        assert!(err.is_some());
    }

    #[test]
    fn failed_parser_stays_failed() {
        let mut parser = StreamParser::new(Limits::default());
        assert!(parser.feed(b"<<<").is_err());
        assert!(parser.feed(HEADER.as_bytes()).is_err());
    }

    #[test]
    fn fragments_one_element_per_message() {
        let mut parser = StreamParser::new_fragments(Limits::default());
        let open = parser
            .feed_message(
                b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>",
            )
            .unwrap();
        assert!(open.is("open", ns::FRAMING));
        let msg = parser
            .feed_message(b"<message to='a@b'><body>x</body></message>")
            .unwrap();
        assert!(msg.is("message", ns::CLIENT), "default namespace applies");
        assert_eq!(
            parser.feed_message(b"<message><body>x</body>"),
            Err(FramingError::NotOneElement)
        );
    }

    #[test]
    fn fragments_refuse_two_elements() {
        let mut parser = StreamParser::new_fragments(Limits::default());
        assert_eq!(
            parser.feed_message(b"<presence/><presence/>"),
            Err(FramingError::NotOneElement)
        );
    }

    #[test]
    fn fragments_refuse_closing_the_synthetic_root() {
        let mut parser = StreamParser::new_fragments(Limits::default());
        assert!(parser.feed_message(b"</stream:stream>").is_err());
    }

    fn sample_stream() -> String {
        stream_of(concat!(
            "<message to='juliet@example.com' id='m1' xml:lang='en'><body>Wherefore &lt;art&gt; thou?</body>",
            "<thread>t1</thread></message>\n",
            "<iq type='get' id='i1'><query xmlns='jabber:iq:roster'/></iq>",
            "<presence><show>away</show><status>zzz \u{1F634}</status></presence>",
            "<r xmlns='urn:xmpp:sm:3'/>",
            "</stream:stream>"
        ))
    }

    proptest! {
        #[test]
        fn framing_is_independent_of_chunk_boundaries(cuts in proptest::collection::vec(0usize..400, 0..12)) {
            let doc = sample_stream();
            let bytes = doc.as_bytes();
            let (expected, err) = parse_all(&[bytes], Limits::default());
            prop_assert_eq!(err, None);
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut start = 0;
            for p in points {
                chunks.push(&bytes[start..p]);
                start = p;
            }
            chunks.push(&bytes[start..]);
            let (got, err) = parse_all(&chunks, Limits::default());
            prop_assert_eq!(err, None);
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut parser = StreamParser::new(Limits { max_stanza_bytes: 256, max_depth: 4 });
            let _ = parser.feed(HEADER.as_bytes());
            let _ = parser.feed(&data);
            while parser.next_event().is_some() {}
        }

        #[test]
        fn limits_hold_for_any_split(body_len in 0usize..3000, split in 0usize..3000) {
            let limits = Limits { max_stanza_bytes: 1024, max_depth: 8 };
            let doc = stream_of(&format!("<message><body>{}</body></message>", "y".repeat(body_len)));
            let bytes = doc.as_bytes();
            let split = split.min(bytes.len());
            let (events, err) = parse_all(&[&bytes[..split], &bytes[split..]], limits);
            let stanza_len = "<message><body></body></message>".len() + body_len;
            if stanza_len > 1024 {
                prop_assert_eq!(err, Some(FramingError::StanzaTooBig { limit: 1024 }));
            } else {
                prop_assert_eq!(err, None);
                prop_assert_eq!(events.len(), 2);
            }
        }
    }
}
