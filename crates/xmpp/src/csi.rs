//! XEP-0352 client state indication (`urn:xmpp:csi:0`): the `<active/>` and `<inactive/>`
//! nonzas a client sends to say whether a user is looking at it.

use minidom::Element;

use crate::ns;

/// What a client says about its user's attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    Active,
    Inactive,
}

impl ClientState {
    /// `None` for any other element.
    pub fn parse(el: &Element) -> Option<ClientState> {
        if el.ns() != ns::CSI {
            return None;
        }
        match el.name() {
            "active" => Some(ClientState::Active),
            "inactive" => Some(ClientState::Inactive),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        let parse = |xml: &str| ClientState::parse(&xml.parse().unwrap());
        assert_eq!(
            parse("<active xmlns='urn:xmpp:csi:0'/>"),
            Some(ClientState::Active)
        );
        assert_eq!(
            parse("<inactive xmlns='urn:xmpp:csi:0'/>"),
            Some(ClientState::Inactive)
        );
        assert_eq!(parse("<csi xmlns='urn:xmpp:csi:0'/>"), None);
        assert_eq!(parse("<active xmlns='jabber:client'/>"), None);
    }
}
