//! The REST request decoder (`rest_codec::decode_request`) with arbitrary paths, query strings
//! and bodies of every media type; a stanza it accepts must serialise and encode in every
//! response format without panicking.
//!
//! Input: one control byte, then `path NUL query NUL body`. Bits 0–2 of the control byte pick
//! the Content-Type (none, XML, JSON, form, text, CBOR; 6 and 7 none), bit 3 makes it a GET
//! (the query is then read), bit 4 selects tight limits (1 KiB, depth 4).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_xmpp::framing::Limits;
use switchboard_xmpp::json;
use switchboard_xmpp::rest_codec::{self, MediaType, RestPath};
use switchboard_xmpp::stanza;

const OUTPUTS: [MediaType; 5] = [
    MediaType::Xml,
    MediaType::Json,
    MediaType::Form,
    MediaType::Text,
    MediaType::Cbor,
];

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let mut parts = data.splitn(3, |&b| b == 0);
    let raw_path = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = parts.next().unwrap_or_default();

    let media = match control & 7 {
        1 => Some(MediaType::Xml),
        2 => Some(MediaType::Json),
        3 => Some(MediaType::Form),
        4 => Some(MediaType::Text),
        5 => Some(MediaType::Cbor),
        _ => None,
    };
    let get_query = (control & 8 == 8).then_some(query.as_ref());
    let limits = if control & 16 == 16 {
        Limits {
            max_stanza_bytes: 1024,
            max_depth: 4,
        }
    } else {
        Limits::default()
    };
    let path = match raw_path.as_ref() {
        "" => None,
        raw => match RestPath::parse(raw) {
            Ok(path) => Some(path),
            Err(_) => return,
        },
    };
    let reply_type = rest_codec::negotiate(Some(&query), media);
    assert_ne!(reply_type, MediaType::Text, "text is never a reply format");
    let Ok(stanza) = rest_codec::decode_request(media, body, path.as_ref(), get_query, limits)
    else {
        return;
    };
    let xml = stanza::to_xml(&stanza);
    assert!(xml.starts_with('<'), "{xml}");
    let _ = json::stanza_to_json(&stanza);
    for media in OUTPUTS {
        let _ = rest_codec::encode_stanzas(media, std::slice::from_ref(&stanza));
    }
});
