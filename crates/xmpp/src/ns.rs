//! Namespace URIs used across the server, in one place so that a typo is a compile error.

pub const CLIENT: &str = "jabber:client";
pub const STREAM: &str = "http://etherx.jabber.org/streams";
pub const STREAMS_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
pub const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
pub const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
pub const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
pub const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
pub const ROSTER: &str = "jabber:iq:roster";
pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
pub const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
pub const PING: &str = "urn:xmpp:ping";
pub const VERSION: &str = "jabber:iq:version";
pub const DELAY: &str = "urn:xmpp:delay";
pub const RECEIPTS: &str = "urn:xmpp:receipts";
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
pub const COMMANDS: &str = "http://jabber.org/protocol/commands";
pub const DATA_FORMS: &str = "jabber:x:data";
pub const MAM: &str = "urn:xmpp:mam:2";
