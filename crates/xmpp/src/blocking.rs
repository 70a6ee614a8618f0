//! XEP-0191 blocking command (version 1.3): the requests a client sends, the result, pushes and
//! `<blocked/>` error the server writes, and the JID matching rules of §3.6 as a pure function.

use std::collections::BTreeSet;

use jid::Jid;
use minidom::Element;
use xmpp_parsers::blocking::{Block, Blocked, BlocklistResult, Unblock};
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::ns;

/// What a client asks of its blocklist (an iq to its own account).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `<blocklist/>` in an iq get (§3.2).
    List,
    /// `<block/>` in an iq set, never empty (§3.3).
    Block(Vec<Jid>),
    /// `<unblock/>` with items in an iq set (§3.4).
    Unblock(Vec<Jid>),
    /// An empty `<unblock/>` in an iq set (§3.5).
    UnblockAll,
}

/// Why a blocking request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("expected <blocklist/> in a get, or <block/> or <unblock/> in a set")]
    Shape,
    #[error("a block command needs at least one item")]
    NoItems,
    #[error("an item has no 'jid' attribute")]
    MissingJid,
    #[error("an item's 'jid' is not a valid JID")]
    InvalidJid,
}

impl RequestError {
    /// The stanza error answering it: `jid-malformed` for a bad address, else `bad-request`.
    pub fn condition(self) -> (ErrorType, DefinedCondition) {
        match self {
            RequestError::InvalidJid => (ErrorType::Modify, DefinedCondition::JidMalformed),
            _ => (ErrorType::Modify, DefinedCondition::BadRequest),
        }
    }
}

impl Request {
    /// Reads the payload of an iq of type `iq_type` in the blocking namespace.
    pub fn parse(iq_type: &str, payload: &Element) -> Result<Request, RequestError> {
        if !payload.has_ns(ns::BLOCKING) {
            return Err(RequestError::Shape);
        }
        match (iq_type, payload.name()) {
            ("get", "blocklist") => Ok(Request::List),
            ("set", "block") => {
                let items = items(payload)?;
                if items.is_empty() {
                    return Err(RequestError::NoItems);
                }
                Ok(Request::Block(items))
            }
            ("set", "unblock") => {
                let items = items(payload)?;
                Ok(if items.is_empty() {
                    Request::UnblockAll
                } else {
                    Request::Unblock(items)
                })
            }
            _ => Err(RequestError::Shape),
        }
    }
}

/// The JIDs of the `<item/>` children, each parsed (and so normalised) once, duplicates removed.
fn items(payload: &Element) -> Result<Vec<Jid>, RequestError> {
    let mut seen = BTreeSet::new();
    for item in payload.children().filter(|c| c.is("item", ns::BLOCKING)) {
        let jid = item.attr("jid").ok_or(RequestError::MissingJid)?;
        seen.insert(Jid::new(jid).map_err(|_| RequestError::InvalidJid)?);
    }
    Ok(seen.into_iter().collect())
}

/// An account's blocked JIDs in their normalised form, with the matching rules of §3.6.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockList {
    items: BTreeSet<String>,
}

impl BlockList {
    /// A list of normalised JIDs (as [`Jid::as_str`] writes them).
    pub fn new(items: impl IntoIterator<Item = String>) -> BlockList {
        BlockList {
            items: items.into_iter().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn contains(&self, jid: &Jid) -> bool {
        self.items.contains(jid.as_str())
    }

    /// The blocked JIDs, sorted.
    pub fn items(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(String::as_str)
    }

    /// Whether any item matches `jid`: an item `user@domain/resource` or `domain/resource`
    /// matches that address only, `user@domain` any of its resources, and `domain` the domain
    /// itself, every address at it and every address at one of its subdomains.
    pub fn blocks(&self, jid: &Jid) -> bool {
        if self.items.is_empty() {
            return false;
        }
        if self.items.contains(jid.as_str()) {
            return true;
        }
        if jid.node().is_some() && jid.resource().is_some() && self.contains_bare(jid) {
            return true;
        }
        let mut domain = jid.domain().as_str();
        loop {
            if self.items.contains(domain) {
                return true;
            }
            match domain.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => domain = parent,
                _ => return false,
            }
        }
    }

    fn contains_bare(&self, jid: &Jid) -> bool {
        self.items.contains(jid.to_bare().as_str())
    }
}

/// The `<blocklist/>` answering a get (§3.2).
pub fn blocklist_result(list: &BlockList) -> Element {
    BlocklistResult {
        items: parsed(list.items()),
    }
    .into()
}

/// The payload of a push announcing blocked JIDs (§3.3).
pub fn block_push(items: &[Jid]) -> Element {
    Block {
        items: items.to_vec(),
    }
    .into()
}

/// The payload of a push announcing unblocked JIDs, or with no items, that all were (§3.4, §3.5).
pub fn unblock_push(items: &[Jid]) -> Element {
    Unblock {
        items: items.to_vec(),
    }
    .into()
}

/// The error for a stanza a user sent to a JID it blocks (§3.3): `not-acceptable` with the
/// application condition `<blocked xmlns='urn:xmpp:blocking:errors'/>`.
pub fn blocked_error() -> Element {
    let mut error = StanzaError::new(ErrorType::Cancel, DefinedCondition::NotAcceptable, "en", "");
    error.texts.clear();
    error.other = Some(Blocked.into());
    error.into()
}

fn parsed<'a>(items: impl Iterator<Item = &'a str>) -> Vec<Jid> {
    // Items are stored normalised, so they parse; anything that no longer does is left out.
    items.filter_map(|item| Jid::new(item).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    fn jid(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    fn list(items: &[&str]) -> BlockList {
        BlockList::new(items.iter().map(|i| jid(i).to_string()))
    }

    #[test]
    fn requests_parse_by_type_and_element() {
        let ns = "xmlns='urn:xmpp:blocking'";
        assert_eq!(
            Request::parse("get", &el(&format!("<blocklist {ns}/>"))),
            Ok(Request::List)
        );
        assert_eq!(
            Request::parse(
                "set",
                &el(&format!(
                    "<block {ns}><item jid='Romeo@Montague.net'/><item jid='romeo@montague.net'/><item jid='iago@shakespeare.lit'/></block>"
                ))
            ),
            Ok(Request::Block(vec![
                jid("iago@shakespeare.lit"),
                jid("romeo@montague.net")
            ]))
        );
        assert_eq!(
            Request::parse(
                "set",
                &el(&format!("<unblock {ns}><item jid='x.example'/></unblock>"))
            ),
            Ok(Request::Unblock(vec![jid("x.example")]))
        );
        assert_eq!(
            Request::parse("set", &el(&format!("<unblock {ns}/>"))),
            Ok(Request::UnblockAll)
        );
    }

    #[test]
    fn malformed_requests_get_precise_errors() {
        let ns = "xmlns='urn:xmpp:blocking'";
        let error = |type_: &str, xml: &str| Request::parse(type_, &el(xml)).unwrap_err();
        assert_eq!(
            error("set", &format!("<block {ns}/>")),
            RequestError::NoItems
        );
        assert_eq!(
            error("set", &format!("<block {ns}><item/></block>")),
            RequestError::MissingJid
        );
        let bad = error("set", &format!("<block {ns}><item jid='a@b@c'/></block>"));
        assert_eq!(bad, RequestError::InvalidJid);
        assert_eq!(bad.condition().1, DefinedCondition::JidMalformed);
        assert_eq!(
            error("set", &format!("<blocklist {ns}/>")),
            RequestError::Shape
        );
        assert_eq!(
            error("get", &format!("<block {ns}><item jid='a@b'/></block>")),
            RequestError::Shape
        );
        assert_eq!(
            error("get", "<blocklist xmlns='urn:other'/>"),
            RequestError::Shape
        );
    }

    /// XEP-0191 §3.6, in the order it lists the item forms.
    #[test]
    fn matching_follows_the_four_item_forms() {
        let full = list(&["romeo@montague.net/orchard"]);
        assert!(full.blocks(&jid("romeo@montague.net/orchard")));
        assert!(!full.blocks(&jid("romeo@montague.net/garden")));
        assert!(!full.blocks(&jid("romeo@montague.net")));

        let bare = list(&["romeo@montague.net"]);
        assert!(bare.blocks(&jid("romeo@montague.net")));
        assert!(bare.blocks(&jid("romeo@montague.net/any")));
        assert!(!bare.blocks(&jid("benvolio@montague.net")));
        assert!(!bare.blocks(&jid("montague.net")));

        let domain_resource = list(&["montague.net/bot"]);
        assert!(domain_resource.blocks(&jid("montague.net/bot")));
        assert!(!domain_resource.blocks(&jid("montague.net")));
        assert!(!domain_resource.blocks(&jid("romeo@montague.net/bot")));

        let domain = list(&["montague.net"]);
        for blocked in [
            "montague.net",
            "romeo@montague.net",
            "romeo@montague.net/orchard",
            "montague.net/bot",
            "chat.montague.net",
            "room@conference.chat.montague.net/nick",
        ] {
            assert!(domain.blocks(&jid(blocked)), "{blocked}");
        }
        for allowed in ["capulet.net", "juliet@xmontague.net", "net", "montague.org"] {
            assert!(!domain.blocks(&jid(allowed)), "{allowed}");
        }
        assert!(!BlockList::default().blocks(&jid("anyone@anywhere")));
    }

    #[test]
    fn matching_uses_normalised_addresses() {
        let bare = list(&["Romeo@Montague.NET"]);
        assert!(bare.blocks(&jid("romeo@montague.net/Orchard")));
        assert_eq!(bare.items().collect::<Vec<_>>(), ["romeo@montague.net"]);
    }

    #[test]
    fn server_payloads_have_the_xep_shape() {
        let result = blocklist_result(&list(&["b@x", "a@x"]));
        assert_eq!(
            result,
            el(
                "<blocklist xmlns='urn:xmpp:blocking'><item jid='a@x'/><item jid='b@x'/></blocklist>"
            )
        );
        assert_eq!(
            blocklist_result(&BlockList::default()),
            el("<blocklist xmlns='urn:xmpp:blocking'/>")
        );
        assert_eq!(
            block_push(&[jid("a@x")]),
            el("<block xmlns='urn:xmpp:blocking'><item jid='a@x'/></block>")
        );
        assert_eq!(
            unblock_push(&[]),
            el("<unblock xmlns='urn:xmpp:blocking'/>")
        );
        let error = blocked_error();
        assert_eq!(error.attr("type"), Some("cancel"));
        assert!(error.has_child("not-acceptable", ns::STANZAS));
        assert!(error.has_child("blocked", ns::BLOCKING_ERRORS));
    }
}
