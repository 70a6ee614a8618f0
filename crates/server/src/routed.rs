//! A stanza on its way through the router: the element with its `to` and `from` parsed once,
//! its kind, and the surface it came from; and the outcome the router reports back.

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::sender::{FromError, Principal};
use switchboard_xmpp::stanza::StanzaKind;

use crate::sessions::SessionId;

/// The way in a stanza took; decides where an error about it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A bound c2s resource (TCP or WebSocket).
    Session(SessionId),
    /// An HTTP request (`/rest`, `/msg`, the admin API): an immediate error comes back in the
    /// HTTP response instead of being routed (mod_rest §4.2).
    Http,
    /// A webhook callback's answer.
    Webhook,
    /// The server or one of its services.
    Server,
}

impl Origin {
    /// As a metric label.
    pub fn label(self) -> &'static str {
        match self {
            Origin::Session(_) => "c2s",
            Origin::Http => "http",
            Origin::Webhook => "webhook",
            Origin::Server => "server",
        }
    }
}

/// Why a surface's stanza cannot enter the router.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("not a stanza: <{0}/>")]
    NotAStanza(String),
    #[error(transparent)]
    From(#[from] FromError),
    /// The `to` attribute is not a JID; the element is given back for a `jid-malformed` reply.
    #[error("'to' is not a valid JID")]
    To(Box<Element>),
}

#[derive(Debug)]
pub struct Routed {
    pub kind: StanzaKind,
    pub to: Option<Jid>,
    pub from: Jid,
    pub origin: Origin,
    pub el: Element,
}

impl Routed {
    /// A stanza from an authenticated surface: `from` stamped and checked by the one rule
    /// ([`Principal::stamp`]), `to` parsed once.
    pub fn accept(principal: &Principal, el: Element, origin: Origin) -> Result<Routed, Refused> {
        if StanzaKind::of(&el).is_none() {
            return Err(Refused::NotAStanza(el.name().to_owned()));
        }
        let to = match el.attr("to").map(Jid::new) {
            None => None,
            Some(Ok(to)) => Some(to),
            Some(Err(_)) => return Err(Refused::To(Box::new(el))),
        };
        Routed::addressed(principal, el, to, origin)
    }

    /// [`Routed::accept`] for a surface that already parsed (and checked) the `to` attribute.
    pub fn addressed(
        principal: &Principal,
        mut el: Element,
        to: Option<Jid>,
        origin: Origin,
    ) -> Result<Routed, Refused> {
        let kind = StanzaKind::of(&el).ok_or_else(|| Refused::NotAStanza(el.name().to_owned()))?;
        let from = principal.stamp(&mut el)?;
        Ok(Routed {
            kind,
            to,
            from,
            origin,
            el,
        })
    }

    /// A stanza written by the server itself, whose `from` is trusted as it stands. `None`
    /// when it is not a stanza or its addresses are missing or invalid (a server bug, logged).
    pub fn from_server(el: Element) -> Option<Routed> {
        let parsed = StanzaKind::of(&el).and_then(|kind| {
            let from = Jid::new(el.attr("from")?).ok()?;
            let to = match el.attr("to") {
                None => None,
                Some(to) => Some(Jid::new(to).ok()?),
            };
            Some((kind, from, to))
        });
        match parsed {
            Some((kind, from, to)) => Some(Routed {
                kind,
                to,
                from,
                origin: Origin::Server,
                el,
            }),
            None => {
                tracing::error!(
                    name = el.name(),
                    "server stanza without valid addresses dropped"
                );
                None
            }
        }
    }

    /// The `type` attribute, empty when absent.
    pub fn type_(&self) -> &str {
        self.el.attr("type").unwrap_or_default()
    }

    /// The `id` attribute, empty when absent.
    pub fn id(&self) -> &str {
        self.el.attr("id").unwrap_or_default()
    }
}

/// What became of a routed stanza.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Written to one or more mailboxes.
    Delivered,
    /// Persisted for an account with no available resource.
    Stored,
    /// Persisted in the webhook outbox for a callback.
    Queued,
    /// Taken by a service of the server.
    Handled,
    /// Answered with an error. For an HTTP origin the error is returned here instead of being
    /// routed, so that the request can answer with it.
    Bounced(Option<Box<Element>>),
    /// Ignored, as the routing rules say for it.
    Dropped,
}

impl Outcome {
    /// As a metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Stored => "stored",
            Outcome::Queued => "queued",
            Outcome::Handled => "handled",
            Outcome::Bounced(_) => "bounced",
            Outcome::Dropped => "dropped",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jid::FullJid;

    fn alice() -> Principal {
        Principal::Resource(FullJid::new("alice@localhost/phone").unwrap())
    }

    #[test]
    fn accept_parses_once_and_stamps() {
        let el: Element = "<message xmlns='jabber:client' to='Bob@localhost'/>"
            .parse()
            .unwrap();
        let routed = Routed::accept(&alice(), el, Origin::Http).unwrap();
        assert_eq!(routed.kind, StanzaKind::Message);
        assert_eq!(routed.to.unwrap().as_str(), "bob@localhost");
        assert_eq!(routed.from.as_str(), "alice@localhost/phone");
        assert_eq!(routed.el.attr("from"), Some("alice@localhost/phone"));
    }

    #[test]
    fn accept_refuses_what_cannot_be_routed() {
        let bad_to: Element = "<iq xmlns='jabber:client' to='a@b@c' type='get'/>"
            .parse()
            .unwrap();
        assert!(matches!(
            Routed::accept(&alice(), bad_to, Origin::Http),
            Err(Refused::To(_))
        ));
        let spoof: Element = "<message xmlns='jabber:client' from='bob@localhost'/>"
            .parse()
            .unwrap();
        assert_eq!(
            Routed::accept(&alice(), spoof, Origin::Http).unwrap_err(),
            Refused::From(FromError::Spoofed)
        );
        let other: Element = "<foo xmlns='jabber:client'/>".parse().unwrap();
        assert!(matches!(
            Routed::accept(&alice(), other, Origin::Http),
            Err(Refused::NotAStanza(_))
        ));
    }

    #[test]
    fn server_stanzas_need_a_sender() {
        let ok: Element = "<presence xmlns='jabber:client' from='localhost' to='a@localhost'/>"
            .parse()
            .unwrap();
        assert!(Routed::from_server(ok).is_some());
        let no_from: Element = "<presence xmlns='jabber:client'/>".parse().unwrap();
        assert!(Routed::from_server(no_from).is_none());
    }
}
