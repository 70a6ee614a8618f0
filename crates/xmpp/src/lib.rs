//! Switchboard's pure protocol layer: stream framing with limits, stanza helpers, negotiation and
//! SASL, the REST JSON mapping and error tables. No sockets, no async runtime, no storage: bytes and values in, values out.

pub mod avatar;
pub mod blocking;
pub mod bookmarks;
pub mod callback_error;
pub mod caps;
pub mod carbons;
pub mod csi;
pub mod framing;
pub mod json;
pub mod mam;
pub mod muc;
pub mod negotiation;
pub mod ns;
pub mod offline;
pub mod pep;
pub mod pie;
pub mod push;
pub mod register;
pub mod rest_codec;
pub mod rest_error;
pub mod sasl;
pub mod sender;
pub mod sm;
pub mod stanza;
pub mod subscription;
pub mod upload;
pub mod xml_writer;

pub use jid;
pub use minidom;
pub use minidom::Element;
