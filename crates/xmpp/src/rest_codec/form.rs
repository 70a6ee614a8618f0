//! `application/x-www-form-urlencoded` as Prosody reads it and as the WHATWG serialiser
//! writes it, and the percent-decoding that paths share.

use serde_json::{Map, Value};

/// A form body as Prosody's `http.formdecode` sees it: `key=value` pairs, or, without any
/// `=`, one decoded text.
pub(super) enum FormBody {
    Map(Map<String, Value>),
    Text(String),
}

/// Pairs without `=` are skipped and a repeated key keeps its last value, as in Prosody. Only
/// text that is not UTF-8 once decoded fails. An empty body is an empty map (mod_rest read it
/// as an empty text).
pub(super) fn decode_form(body: &[u8]) -> Result<FormBody, String> {
    let text = |bytes: &[u8]| {
        String::from_utf8(percent_decode(bytes, true))
            .map_err(|_| "form data is not UTF-8 once decoded".to_owned())
    };
    if !body.is_empty() && !body.contains(&b'=') {
        return text(body).map(FormBody::Text);
    }
    let mut map = Map::new();
    for pair in body.split(|&b| b == b'&') {
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        map.insert(text(&pair[..eq])?, text(&pair[eq + 1..])?.into());
    }
    Ok(FormBody::Map(map))
}

/// Decodes `%XX` escapes (and `+` as a space in form data); a `%` not followed by two hex
/// digits stays as it is, as browsers and Prosody treat it.
pub(super) fn percent_decode(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let escaped = match input.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex_value(*hi).zip(hex_value(*lo)),
            _ => None,
        };
        match (escaped, input[i]) {
            (Some((hi, lo)), _) => {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
            (None, b'+') if plus_is_space => out.push(b' '),
            (None, byte) => out.push(byte),
        }
        i += 1;
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// The WHATWG `application/x-www-form-urlencoded` serialiser.
pub(super) fn encode_form(pairs: &[(String, String)]) -> String {
    let encode = |text: &str, out: &mut String| {
        for byte in text.bytes() {
            match byte {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    out.push(char::from(byte));
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
    };
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode(key, &mut out);
        out.push('=');
        encode(value, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"a%20b%2fc+d%zz%4", false), b"a b/c+d%zz%4");
        assert_eq!(percent_decode(b"a+b%2B", true), b"a b+");
    }

    proptest! {
        #[test]
        fn form_encoding_roundtrips(pairs in prop::collection::vec(("[^\u{0}]{1,8}", "\\PC{0,8}"), 1..5)) {
            let pairs: Vec<(String, String)> = pairs;
            let encoded = encode_form(&pairs);
            let FormBody::Map(map) = decode_form(encoded.as_bytes()).unwrap() else {
                panic!("encoded form has '='");
            };
            for (key, value) in &pairs {
                let last = pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v);
                prop_assert_eq!(map.get(key).and_then(Value::as_str), last.map(String::as_str), "{} {}", key, value);
            }
        }
    }
}
