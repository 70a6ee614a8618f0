//! The one `from` rule of every surface (RFC 6120 §8.1.2.1): a stanza's sender is stamped from,
//! or checked against, the identity its surface authenticated, so that no way in can spoof.

use jid::{BareJid, FullJid, Jid};
use minidom::Element;

use crate::stanza;

/// Who a surface authenticated, and so which `from` addresses it may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A bound c2s resource: it sends as its full JID (a bare `from` of its own is accepted and
    /// completed to the full JID).
    Resource(FullJid),
    /// An account acting over HTTP: it sends as its bare JID, or any resource of it.
    Account(BareJid),
    /// A component domain: it sends as the domain or any JID under it (mod_rest's rule).
    Domain(BareJid),
}

/// Why a stanza's `from` was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FromError {
    #[error("'from' is not a valid JID")]
    Malformed,
    #[error("'from' does not belong to the authenticated identity")]
    Spoofed,
}

impl Principal {
    /// The address stamped when a stanza names no sender.
    pub fn default_from(&self) -> Jid {
        match self {
            Principal::Resource(full) => Jid::from(full.clone()),
            Principal::Account(bare) | Principal::Domain(bare) => Jid::from(bare.clone()),
        }
    }

    /// Whether this principal may send as `from`.
    pub fn owns(&self, from: &Jid) -> bool {
        match self {
            Principal::Resource(full) => from.to_bare() == full.to_bare(),
            Principal::Account(bare) => from.to_bare() == *bare,
            Principal::Domain(domain) => from.domain() == domain.domain(),
        }
    }

    /// The sender of `stanza` under this principal: its `from` when owned (a client's bare
    /// JID completed to its full JID), the principal's own address when absent. The stanza's
    /// `from` attribute is rewritten to the result.
    pub fn stamp(&self, stanza: &mut Element) -> Result<Jid, FromError> {
        let from = match stanza.attr("from") {
            None => self.default_from(),
            Some(raw) => {
                let from = Jid::new(raw).map_err(|_| FromError::Malformed)?;
                if !self.owns(&from) {
                    return Err(FromError::Spoofed);
                }
                match self {
                    // A client names its own bare JID or full JID; both mean this resource.
                    Principal::Resource(full) if from.resource().is_none() => {
                        Jid::from(full.clone())
                    }
                    Principal::Resource(full) if from.as_str() != full.as_str() => {
                        return Err(FromError::Spoofed);
                    }
                    _ => from,
                }
            }
        };
        stanza::set_attr(stanza, "from", from.as_str());
        Ok(from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> FullJid {
        FullJid::new(s).unwrap()
    }

    fn bare(s: &str) -> BareJid {
        BareJid::new(s).unwrap()
    }

    fn message(from: Option<&str>) -> Element {
        let mut el = Element::bare("message", crate::ns::CLIENT);
        if let Some(from) = from {
            stanza::set_attr(&mut el, "from", from);
        }
        el
    }

    /// (principal, `from` in the stanza, expected sender or error)
    fn table() -> Vec<(
        Principal,
        Option<&'static str>,
        Result<&'static str, FromError>,
    )> {
        let resource = Principal::Resource(full("alice@localhost/phone"));
        let account = Principal::Account(bare("alice@localhost"));
        let domain = Principal::Domain(bare("rest.localhost"));
        vec![
            (resource.clone(), None, Ok("alice@localhost/phone")),
            (
                resource.clone(),
                Some("alice@localhost/phone"),
                Ok("alice@localhost/phone"),
            ),
            (
                resource.clone(),
                Some("Alice@LOCALHOST"),
                Ok("alice@localhost/phone"),
            ),
            (
                resource.clone(),
                Some("alice@localhost/laptop"),
                Err(FromError::Spoofed),
            ),
            (
                resource.clone(),
                Some("bob@localhost/phone"),
                Err(FromError::Spoofed),
            ),
            (resource.clone(), Some("localhost"), Err(FromError::Spoofed)),
            (resource, Some("@@"), Err(FromError::Malformed)),
            (account.clone(), None, Ok("alice@localhost")),
            (
                account.clone(),
                Some("alice@localhost"),
                Ok("alice@localhost"),
            ),
            (
                account.clone(),
                Some("alice@localhost/bot"),
                Ok("alice@localhost/bot"),
            ),
            (
                account.clone(),
                Some("mallory@localhost"),
                Err(FromError::Spoofed),
            ),
            (account.clone(), Some("localhost"), Err(FromError::Spoofed)),
            (account, Some("alice@other"), Err(FromError::Spoofed)),
            (domain.clone(), None, Ok("rest.localhost")),
            (
                domain.clone(),
                Some("anything@rest.localhost/any"),
                Ok("anything@rest.localhost/any"),
            ),
            (domain.clone(), Some("rest.localhost"), Ok("rest.localhost")),
            (
                domain.clone(),
                Some("alice@localhost"),
                Err(FromError::Spoofed),
            ),
            (domain, Some("a@b@c"), Err(FromError::Malformed)),
        ]
    }

    #[test]
    fn every_principal_stamps_and_checks_by_one_rule() {
        for (principal, from, expected) in table() {
            let mut el = message(from);
            let got = principal.stamp(&mut el);
            match expected {
                Ok(sender) => {
                    assert_eq!(
                        got.as_ref().map(Jid::as_str),
                        Ok(sender),
                        "{principal:?} {from:?}"
                    );
                    assert_eq!(el.attr("from"), Some(sender), "attribute is rewritten");
                }
                Err(e) => assert_eq!(got, Err(e), "{principal:?} {from:?}"),
            }
        }
    }
}
