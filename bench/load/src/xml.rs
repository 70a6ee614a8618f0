//! A small incremental splitter for an XMPP byte stream: it finds the stream header, each
//! complete top-level element (stanza) and the stream end. It honours quoted attribute values,
//! processing instructions, comments and CDATA, which is all a server sends. It does not
//! validate: the load client only needs stanza boundaries and a few substrings.

#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// `<stream:stream …>` (TCP) or `<open …/>` (WebSocket).
    Open(String),
    /// One complete top-level element.
    Elem(String),
    /// `</stream:stream>` (TCP) or `<close …/>` (WebSocket).
    Close,
}

#[derive(Default)]
pub struct Scanner {
    buf: Vec<u8>,
    pos: usize,
    depth: usize,
    elem_start: Option<usize>,
}

impl Scanner {
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes held, for the caller's bounds.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            let rel = self.buf[self.pos..].iter().position(|&b| b == b'<');
            let Some(rel) = rel else {
                self.pos = self.buf.len();
                self.compact();
                return None;
            };
            let start = self.pos + rel;
            let end = tag_end(&self.buf, start)?;
            self.pos = end;
            let tag = &self.buf[start..end];
            if tag.starts_with(b"<?") || tag.starts_with(b"<!") {
                continue;
            }
            if tag.starts_with(b"</") {
                self.depth = self.depth.saturating_sub(1);
                match self.depth {
                    0 => {
                        self.compact();
                        return Some(Event::Close);
                    }
                    1 => {
                        let s = self.elem_start.take().unwrap_or(start);
                        let text = String::from_utf8_lossy(&self.buf[s..end]).into_owned();
                        self.compact();
                        return Some(Event::Elem(text));
                    }
                    _ => continue,
                }
            }
            let self_closing = tag.ends_with(b"/>");
            match (self.depth, self_closing) {
                (0, false) => {
                    self.depth = 1;
                    let text = String::from_utf8_lossy(tag).into_owned();
                    self.compact();
                    return Some(Event::Open(text));
                }
                (0, true) => {
                    let text = String::from_utf8_lossy(tag).into_owned();
                    self.compact();
                    return Some(Event::Elem(text));
                }
                (1, true) => {
                    let text = String::from_utf8_lossy(tag).into_owned();
                    self.compact();
                    return Some(Event::Elem(text));
                }
                (1, false) => {
                    self.elem_start = Some(start);
                    self.depth = 2;
                }
                (_, false) => self.depth += 1,
                (_, true) => {}
            }
        }
    }

    fn compact(&mut self) {
        if self.elem_start.is_none() && self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }
}

/// Index one past the `>` closing the markup that starts at `start`, or `None` if incomplete.
fn tag_end(buf: &[u8], start: usize) -> Option<usize> {
    let rest = &buf[start..];
    let find = |pat: &[u8]| {
        rest.windows(pat.len())
            .position(|w| w == pat)
            .map(|i| start + i + pat.len())
    };
    if rest.starts_with(b"<?") {
        return find(b"?>");
    }
    if rest.starts_with(b"<!--") {
        return find(b"-->");
    }
    if rest.starts_with(b"<![CDATA[") {
        return find(b"]]>");
    }
    if rest.len() < 9 && (b"<![CDATA[".starts_with(rest) || b"<!--".starts_with(rest)) {
        return None;
    }
    let mut quote = 0u8;
    for (i, &b) in rest.iter().enumerate().skip(1) {
        if quote != 0 {
            if b == quote {
                quote = 0;
            }
        } else if b == b'"' || b == b'\'' {
            quote = b;
        } else if b == b'>' {
            return Some(start + i + 1);
        }
    }
    None
}

/// The text between `<name…>` and `</name>` in `elem`, for the first `name` element.
pub fn child_text<'a>(elem: &'a str, name: &str) -> Option<&'a str> {
    let open = elem.find(&format!("<{name}"))?;
    let after = &elem[open + 1 + name.len()..];
    let gt = after.find('>')?;
    if after[..gt].ends_with('/') {
        return Some("");
    }
    let body = &after[gt + 1..];
    let close = body.find(&format!("</{name}>"))?;
    Some(&body[..close])
}

/// Whether `elem` has attribute `name` equal to `value`, in either quote style.
pub fn has_attr(elem: &str, name: &str, value: &str) -> bool {
    let head = elem.split('>').next().unwrap_or("");
    head.contains(&format!("{name}='{value}'")) || head.contains(&format!("{name}=\"{value}\""))
}

/// The value of attribute `name` of the first tag in `elem`, in either quote style.
pub fn attr<'a>(elem: &'a str, name: &str) -> Option<&'a str> {
    let head = elem.split('>').next().unwrap_or("");
    ['\'', '"'].iter().find_map(|q| {
        let key = format!(" {name}={q}");
        let start = head.find(&key)? + key.len();
        let len = head[start..].find(*q)?;
        Some(&head[start..start + len])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&str]) -> Vec<Event> {
        let mut s = Scanner::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c.as_bytes());
            while let Some(e) = s.next_event() {
                out.push(e);
            }
        }
        out
    }

    #[test]
    fn splits_stream_in_any_chunking() {
        let doc = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' a=\"x>y\">\
                   <stream:features><mechanisms><mechanism>PLAIN</mechanism></mechanisms>\
                   </stream:features><presence/><message to='a'><body>1 2</body><!-- c -->\
                   </message></stream:stream>";
        let whole = all(&[doc]);
        assert_eq!(whole.len(), 5);
        assert!(matches!(&whole[0], Event::Open(t) if t.contains("x>y")));
        assert!(matches!(&whole[1], Event::Elem(t) if t.starts_with("<stream:features")));
        assert_eq!(whole[2], Event::Elem("<presence/>".into()));
        assert!(matches!(&whole[3], Event::Elem(t) if child_text(t, "body") == Some("1 2")));
        assert_eq!(whole[4], Event::Close);
        let bytes: Vec<String> = doc.chars().map(|c| c.to_string()).collect();
        let refs: Vec<&str> = bytes.iter().map(String::as_str).collect();
        assert_eq!(all(&refs), whole);
    }

    #[test]
    fn attribute_values_of_the_first_tag() {
        let el = "<stanza-id xmlns='urn:xmpp:sid:0' by=\"b@x\" id='a-1'/><x id='no'/>";
        assert_eq!(attr(el, "id"), Some("a-1"));
        assert_eq!(attr(el, "by"), Some("b@x"));
        assert_eq!(attr(el, "to"), None);
        assert_eq!(attr("<x xid='1'/>", "id"), None);
    }

    #[test]
    fn attributes_in_both_quote_styles() {
        assert!(has_attr("<iq type='result' id=\"b\">", "type", "result"));
        assert!(has_attr("<iq type='result' id=\"b\">", "id", "b"));
        assert!(!has_attr(
            "<iq type='error'><x type='result'/>",
            "type",
            "result"
        ));
    }
}
