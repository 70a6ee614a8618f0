//! mod_rest's request/response codec (§1.1, §2, §4.3, §7): a request's path, query and body of
//! any supported media type become one stanza; stanzas and errors become response bodies.

mod cbor;
mod form;
mod media;
mod path;
mod request;
mod response;

pub use media::{MediaType, negotiate};
pub use path::RestPath;
pub use request::{RequestError, decode_request};
pub use response::{encode_error, encode_stanzas};

#[cfg(test)]
mod tests;
