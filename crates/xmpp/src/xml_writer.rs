//! A direct XML writer for element trees that declare no named prefixes (every stanza the
//! server routes): one pass into the caller's buffer, byte-for-byte the form minidom writes.
//!
//! minidom's own writer drives rxml's general encoder one item at a time, each through a fresh
//! buffer and a namespace tracker; on the message path that was a fifth of all instructions
//! (bench/RESULTS.md, callgrind). Trees that do declare prefixes (the stream elements) keep
//! going through minidom, which honours them.

use minidom::{Element, Node};

/// Appends `el` to `out`. `inherited` is the default namespace in scope where it is written
/// (`""` for a document of its own): the element declares its namespace only when it differs.
pub fn write(el: &Element, inherited: &str, out: &mut Vec<u8>) {
    // minidom hands out the namespace only as a fresh String: ask for it only to declare it.
    let declared = (!el.has_ns(inherited)).then(|| el.ns());
    out.push(b'<');
    out.extend_from_slice(el.name().as_bytes());
    if let Some(ns) = &declared {
        out.extend_from_slice(b" xmlns='");
        escape(ns, true, out);
        out.push(b'\'');
    }
    let ns = declared.as_deref().unwrap_or(inherited);
    let mut prefixes = 0usize;
    for ((attr_ns, name), value) in el.attrs() {
        out.push(b' ');
        match attr_ns.as_namespace_name() {
            None => {}
            Some(uri) if uri == XML_NS => out.extend_from_slice(b"xml:"),
            Some(uri) => {
                // A namespaced attribute gets a prefix of its own, declared just before it.
                let prefix = format!("tns{prefixes}");
                prefixes += 1;
                out.extend_from_slice(b"xmlns:");
                out.extend_from_slice(prefix.as_bytes());
                out.extend_from_slice(b"='");
                escape(uri, true, out);
                out.extend_from_slice(b"' ");
                out.extend_from_slice(prefix.as_bytes());
                out.push(b':');
            }
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"='");
        escape(value, true, out);
        out.push(b'\'');
    }
    let mut nodes = el.nodes().peekable();
    if nodes.peek().is_none() {
        out.extend_from_slice(b"/>");
        return;
    }
    out.push(b'>');
    for node in nodes {
        match node {
            Node::Element(child) => write(child, ns, out),
            Node::Text(text) => escape(text, false, out),
        }
    }
    out.extend_from_slice(b"</");
    out.extend_from_slice(el.name().as_bytes());
    out.push(b'>');
}

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Bytes that [`escape`] must look at: in text (1), and also in attribute values (2).
const SPECIAL: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = 1;
        b += 1;
    }
    table[b'\t' as usize] = 2;
    table[b'\n' as usize] = 2;
    table[b'"' as usize] = 2;
    table[b'\'' as usize] = 2;
    table[b'<' as usize] = 1;
    table[b'>' as usize] = 1;
    table[b'&' as usize] = 1;
    table[0xbe] = 1;
    table[0xbf] = 1;
    table
};

/// Escapes character data (or an attribute value, which also escapes quotes and the
/// whitespace an attribute would normalise). Characters XML cannot carry at all (controls other
/// than tab, line feed and carriage return; U+FFFE, U+FFFF) are left out: parsed input never
/// holds them, and leaving them out keeps the output well-formed whatever a caller built.
fn escape(text: &str, attribute: bool, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let level = if attribute { 2 } else { 1 };
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let special = SPECIAL[usize::from(b)];
        if special == 0 || special > level {
            continue;
        }
        let replacement: &[u8] = match b {
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'&' => b"&amp;",
            b'\r' => b"&#xd;",
            b'"' => b"&#34;",
            b'\'' => b"&#39;",
            b'\n' => b"&#xa;",
            b'\t' => b"&#x9;",
            // The last byte of U+FFFE (EF BF BE) or U+FFFF (EF BF BF).
            0xbe | 0xbf if i >= 2 && bytes[i - 2] == 0xef && bytes[i - 1] == 0xbf => {
                out.extend_from_slice(&bytes[from..i - 2]);
                from = i + 1;
                continue;
            }
            0xbe | 0xbf => continue,
            _ => b"",
        };
        out.extend_from_slice(&bytes[from..i]);
        out.extend_from_slice(replacement);
        from = i + 1;
    }
    out.extend_from_slice(&bytes[from..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minidom_form(el: &Element) -> String {
        let mut out = Vec::new();
        el.write_to(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn ours(el: &Element) -> String {
        let mut out = Vec::new();
        write(el, "", &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_what_minidom_writes() {
        for xml in [
            "<message xmlns='jabber:client' to='a@b/c' type='chat' id='x&quot;1'><body>x &lt; y &amp; z &gt; w\r\n'\"</body>\
             <request xmlns='urn:xmpp:receipts'/><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
            "<iq xmlns='jabber:client' type='result'><query xmlns='jabber:iq:roster'><item jid='a@b' name='&apos;A\tB&#xA;'>\
             <group>G</group></item></query></iq>",
            "<presence xmlns='jabber:client' xml:lang='de'><status xml:lang='en'>hi</status><x xmlns='u'>mixed<y/>text</x></presence>",
            "<presence xmlns='jabber:client'/>",
        ] {
            let el: Element = xml.parse().unwrap();
            assert_eq!(ours(&el), minidom_form(&el), "{xml}");
        }
    }

    #[test]
    fn namespaced_attributes_and_empty_namespaces_stay_well_formed() {
        let el: Element =
            "<a xmlns='u'><b xmlns='' p:x='1' q:y='2' xmlns:p='urn:p' xmlns:q='urn:q'/></a>"
                .parse()
                .unwrap();
        let written = ours(&el);
        let back: Element = written.parse().unwrap();
        let b = back.get_child("b", "").unwrap();
        assert_eq!(b.attr_ns("urn:p", "x"), Some("1"), "{written}");
        assert_eq!(b.attr_ns("urn:q", "y"), Some("2"), "{written}");
    }

    #[test]
    fn characters_xml_cannot_carry_are_left_out() {
        let mut el = Element::bare("body", "jabber:client");
        el.append_text("a\u{1}b\u{fffe}c\u{ffff}d\u{fffd}e");
        assert_eq!(
            ours(&el),
            "<body xmlns='jabber:client'>abcd\u{fffd}e</body>"
        );
    }

    #[test]
    fn nested_elements_inherit_the_default_namespace() {
        let el: Element = "<message xmlns='jabber:client'><body>x</body></message>"
            .parse()
            .unwrap();
        let mut out = Vec::new();
        write(&el, "jabber:client", &mut out);
        assert_eq!(out, b"<message><body>x</body></message>");
    }
}
