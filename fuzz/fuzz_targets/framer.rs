//! The stream framer (`framing::StreamParser`) fed arbitrary bytes, as a TCP stream in chunks
//! or as RFC 7395 WebSocket messages; every element it yields must serialise again.
//!
//! Input: one control byte, then the data. Bit 0 of the control byte picks WebSocket mode,
//! where the data is split into messages at each 0xFF byte (a byte no XML text can hold) and
//! bit 1 selects tight limits (1 KiB, depth 4) so that the limit paths are reached. In TCP
//! mode the upper seven bits give the chunk size (1 to 127 bytes) and bit 2 the tight limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_xmpp::framing::{Limits, StreamEvent, StreamParser};
use switchboard_xmpp::stanza;

fn limits(tight: bool) -> Limits {
    if tight {
        Limits {
            max_stanza_bytes: 1024,
            max_depth: 4,
        }
    } else {
        Limits::default()
    }
}

fn check(event: StreamEvent) {
    if let StreamEvent::Element(el) = event {
        let xml = stanza::to_xml(&el);
        assert!(xml.starts_with('<'), "{xml}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    if control & 1 == 1 {
        let mut parser = StreamParser::new_fragments(limits(control & 2 == 2));
        for message in data.split(|&b| b == 0xFF) {
            match parser.feed_message(message) {
                Ok(el) => check(StreamEvent::Element(el)),
                Err(_) => break,
            }
        }
    } else {
        let chunk = usize::from(control >> 1).max(1);
        let mut parser = StreamParser::new(limits(control & 4 == 4));
        for piece in data.chunks(chunk) {
            let fed = parser.feed(piece);
            while let Some(event) = parser.next_event() {
                check(event);
            }
            if fed.is_err() {
                assert!(parser.feed(b"<more/>").is_err(), "a failed parser stays failed");
                break;
            }
            if !parser.is_mid_element() {
                parser.release_temporaries();
            }
        }
    }
});
