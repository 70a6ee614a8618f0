//! XEP-0280 message carbons (version 1.0): the enable/disable requests, which messages are copied
//! (§6, with the `<private/>` element and XEP-0334's `<no-copy/>` hint), and the wrappers.

use minidom::Element;

use crate::{ns, stanza};

/// A client's request to change its carbons state (an iq set to its own account).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toggle {
    Enable,
    Disable,
}

impl Toggle {
    /// Reads the payload of an iq set; `None` when it is not `<enable/>` or `<disable/>`.
    pub fn parse(payload: &Element) -> Option<Toggle> {
        if payload.is("enable", ns::CARBONS) {
            Some(Toggle::Enable)
        } else if payload.is("disable", ns::CARBONS) {
            Some(Toggle::Disable)
        } else {
            None
        }
    }
}

/// Which side of the account a copied message passed: sent by one of its resources, or
/// received for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Sent,
    Received,
}

impl Direction {
    fn element(self) -> &'static str {
        match self {
            Direction::Sent => "sent",
            Direction::Received => "received",
        }
    }
}

/// Whether `message` is copied to the account's other carbons-enabled resources (§6): chat
/// messages (MUC private messages among them), normal messages with a body or with a receipt,
/// chat state or marker, and errors coming back to the account; never groupchat or headline,
/// nor a message marked `<private/>` or `<no-copy/>`, nor a copy itself.
pub fn eligible(message: &Element, direction: Direction) -> bool {
    if message.name() != "message"
        || is_private(message)
        || message.has_child("no-copy", ns::HINTS)
        || message.has_child("sent", ns::CARBONS)
        || message.has_child("received", ns::CARBONS)
    {
        return false;
    }
    match message.attr("type").unwrap_or("normal") {
        "chat" => true,
        "normal" => message.has_child("body", ns::CLIENT) || has_im_payload(message),
        "error" => direction == Direction::Received,
        _ => false,
    }
}

/// A XEP-0184 receipt, a XEP-0085 chat state or a XEP-0333 marker.
fn has_im_payload(message: &Element) -> bool {
    message.children().any(|child| {
        child.is("received", ns::RECEIPTS)
            || child.is("request", ns::RECEIPTS)
            || child.has_ns(ns::CHATSTATES)
            || child.has_ns(ns::CHAT_MARKERS)
    })
}

/// Whether the sender asked for no copies (§7).
pub fn is_private(message: &Element) -> bool {
    message.has_child("private", ns::CARBONS)
}

/// Removes `<private/>`, as the receiving server should before delivery (§7). Returns whether
/// there was one.
pub fn strip_private(message: &mut Element) -> bool {
    message.remove_child("private", ns::CARBONS).is_some()
}

/// The copy of `message` for the resource `to`, from the account's bare JID `from` (§4, §5):
/// `<message><sent|received><forwarded>message</forwarded></…></message>`, of the same type.
pub fn wrap(direction: Direction, message: &Element, from: &str, to: &str) -> Element {
    let forwarded = Element::builder("forwarded", ns::FORWARD)
        .append(stanza::without_prefixes(message))
        .build();
    let mut copy = Element::builder("message", ns::CLIENT)
        .append(
            Element::builder(direction.element(), ns::CARBONS)
                .append(forwarded)
                .build(),
        )
        .build();
    stanza::set_attr(&mut copy, "from", from);
    stanza::set_attr(&mut copy, "to", to);
    if let Some(type_) = message.attr("type") {
        stanza::set_attr(&mut copy, "type", type_);
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use xmpp_parsers::carbons::{Received, Sent};

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    fn message(type_: Option<&str>, payload: &str) -> Element {
        let type_ = type_.map(|t| format!(" type='{t}'")).unwrap_or_default();
        el(&format!(
            "<message xmlns='jabber:client' from='juliet@capulet.example/balcony' to='romeo@montague.example'{type_}>{payload}</message>"
        ))
    }

    #[test]
    fn toggles_parse() {
        assert_eq!(
            Toggle::parse(&el("<enable xmlns='urn:xmpp:carbons:2'/>")),
            Some(Toggle::Enable)
        );
        assert_eq!(
            Toggle::parse(&el("<disable xmlns='urn:xmpp:carbons:2'/>")),
            Some(Toggle::Disable)
        );
        assert_eq!(
            Toggle::parse(&el("<enable xmlns='urn:xmpp:carbons:1'/>")),
            None
        );
    }

    #[test]
    fn eligibility_follows_section_6() {
        let both = |m: &Element| {
            (
                eligible(m, Direction::Sent),
                eligible(m, Direction::Received),
            )
        };
        let body = "<body>hi</body>";
        assert_eq!(both(&message(Some("chat"), body)), (true, true));
        assert_eq!(both(&message(Some("chat"), "")), (true, true));
        assert_eq!(both(&message(Some("normal"), body)), (true, true));
        assert_eq!(both(&message(None, body)), (true, true));
        assert_eq!(both(&message(None, "")), (false, false));
        let receipt = "<received xmlns='urn:xmpp:receipts' id='m1'/>";
        assert_eq!(both(&message(None, receipt)), (true, true));
        let state = "<composing xmlns='http://jabber.org/protocol/chatstates'/>";
        assert_eq!(both(&message(None, state)), (true, true));
        let marker = "<displayed xmlns='urn:xmpp:chat-markers:0' id='m1'/>";
        assert_eq!(both(&message(None, marker)), (true, true));
        let muc_pm = "<body>psst</body><x xmlns='http://jabber.org/protocol/muc#user'/>";
        assert_eq!(both(&message(Some("chat"), muc_pm)), (true, true));
        assert_eq!(both(&message(Some("groupchat"), body)), (false, false));
        assert_eq!(both(&message(Some("headline"), body)), (false, false));
        assert_eq!(both(&message(Some("error"), "")), (false, true));
        let private = "<body>x</body><private xmlns='urn:xmpp:carbons:2'/>";
        assert_eq!(both(&message(Some("chat"), private)), (false, false));
        let no_copy = "<body>x</body><no-copy xmlns='urn:xmpp:hints'/>";
        assert_eq!(both(&message(Some("chat"), no_copy)), (false, false));
        let nested = "<sent xmlns='urn:xmpp:carbons:2'/>";
        assert_eq!(both(&message(Some("chat"), nested)), (false, false));
    }

    #[test]
    fn private_is_stripped() {
        let mut m = message(
            Some("chat"),
            "<body>x</body><private xmlns='urn:xmpp:carbons:2'/>",
        );
        assert!(strip_private(&mut m));
        assert!(!is_private(&m));
        assert!(!strip_private(&mut m));
        assert!(m.has_child("body", ns::CLIENT));
    }

    #[test]
    fn copies_wrap_the_original() {
        let original = message(Some("chat"), "<body>hi</body>");
        let copy = wrap(
            Direction::Received,
            &original,
            "romeo@montague.example",
            "romeo@montague.example/home",
        );
        assert_eq!(copy.attr("from"), Some("romeo@montague.example"));
        assert_eq!(copy.attr("to"), Some("romeo@montague.example/home"));
        assert_eq!(copy.attr("type"), Some("chat"));
        let received =
            Received::try_from(copy.get_child("received", ns::CARBONS).unwrap().clone()).unwrap();
        assert_eq!(
            received.forwarded.message.to.unwrap().as_str(),
            "romeo@montague.example"
        );
        let sent = wrap(
            Direction::Sent,
            &message(None, "<body>x</body>"),
            "a@b",
            "a@b/c",
        );
        assert_eq!(sent.attr("type"), None);
        assert!(Sent::try_from(sent.get_child("sent", ns::CARBONS).unwrap().clone()).is_ok());
    }
}
