//! XEP-0227 (portable import/export of server data): the incremental reader of the files
//! Prosody and ejabberd write, the `<user>` mapping, and the document this server writes.

use jid::BareJid;
use minidom::Element;

mod node;
mod reader;
mod skipped;
mod user;

pub use node::{NodeOption, PieItem, PieNode};
pub use reader::{PieError, PieEvent, PieLimits, PieReader, Position};
pub use skipped::{Skipped, SkippedKind};
pub use user::{PieCredentials, PieRosterItem, PieUser, UserError};

/// What an export file starts with, up to the first account of `host`.
pub fn document_start(host: &str) -> String {
    let host = host
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('\'', "&apos;");
    format!(
        "<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='{}'>\n<host jid='{host}'>\n",
        crate::ns::PIE
    )
}

/// One account of an export file, on a line of its own.
pub fn user_line(user: &PieUser) -> String {
    let mut line = crate::stanza::to_xml_portable(&user.to_element());
    line.push('\n');
    line
}

/// A pending subscription request as the presence service keeps it: from the requester's bare
/// JID to the account.
pub fn subscription_request(from: &BareJid, to: &BareJid) -> Element {
    let mut presence = Element::builder("presence", crate::ns::CLIENT).build();
    crate::stanza::set_attr(&mut presence, "from", &from.to_string());
    crate::stanza::set_attr(&mut presence, "to", &to.to_string());
    crate::stanza::set_attr(&mut presence, "type", "subscribe");
    presence
}

/// An offline message without the `<delay/>` its server `host` stamped it with when it stored
/// it (XEP-0203; ejabberd exports it, and so does this server), and that delay's stamp: the
/// importing server stamps the message again when it delivers it.
pub fn split_delay(message: &Element, host: &str) -> (Element, Option<String>) {
    let mut copy = message.clone();
    let stamped = |c: &Element| c.is("delay", crate::ns::DELAY) && c.attr("from") == Some(host);
    let stamp = message
        .children()
        .find(|c| stamped(c))
        .and_then(|d| d.attr("stamp"))
        .map(str::to_owned);
    if stamp.is_some() {
        copy = Element::builder(message.name(), message.ns()).build();
        for ((namespace, name), value) in message.attrs() {
            copy.set_attr(namespace.clone(), name.clone(), value.as_str());
        }
        for node in message.nodes() {
            match node {
                minidom::Node::Element(child) if stamped(child) => {}
                other => copy.append_node(other.clone()),
            }
        }
    }
    (copy, stamp)
}

/// What an export file ends with.
pub const DOCUMENT_END: &str = "</host>\n</server-data>\n";
