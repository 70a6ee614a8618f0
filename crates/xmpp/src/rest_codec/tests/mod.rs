//! Tests of the codec through its public API, one file per concern; the helpers here are
//! shared by them.

mod media;
mod request;
mod response;

use minidom::Element;
use serde_json::Value;

use super::cbor::to_cbor;
use super::*;
use crate::framing::Limits;
use crate::ns;
use crate::rest_error::RestError;
use crate::stanza;

fn xml(text: &str) -> Element {
    stanza::parse_in_stream(text).expect("test XML is well-formed")
}

fn path(raw: &str) -> RestPath {
    RestPath::parse(raw).expect("test path is valid")
}

fn post(
    media: Option<MediaType>,
    body: &str,
    raw_path: Option<&str>,
) -> Result<Element, RequestError> {
    let path = raw_path.map(path);
    decode_request(
        media,
        body.as_bytes(),
        path.as_ref(),
        None,
        Limits::default(),
    )
}

fn get(raw_path: &str, query: &str) -> Result<Element, RequestError> {
    decode_request(
        None,
        b"",
        Some(&path(raw_path)),
        Some(query),
        Limits::default(),
    )
}

fn error_of(result: Result<Element, RequestError>) -> RestError {
    match result {
        Err(err) => err.error,
        Ok(stanza) => panic!("expected an error, got {}", stanza::to_xml(&stanza)),
    }
}

fn cbor(value: &Value) -> Vec<u8> {
    to_cbor(value).expect("test value encodes")
}
