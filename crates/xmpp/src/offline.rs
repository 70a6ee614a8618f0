//! XEP-0160 offline storage as a rule over the stanza: which messages for an account with no
//! available resource are kept for later, and which are not worth keeping.

use minidom::Element;

use crate::ns;

/// Whether `message` is kept for an account that has no available resource: a `chat` or
/// `normal` message with a body or an end-to-end encrypted payload (which has none), unless a
/// XEP-0334 `<no-store/>` hint says otherwise; a `<store/>` hint keeps any of those types.
/// `groupchat`, `headline` and `error` messages, and bodiless ones (chat states, receipts,
/// markers), are not kept.
pub fn is_storable(message: &Element) -> bool {
    if !matches!(message.attr("type"), None | Some("chat" | "normal")) {
        return false;
    }
    if message.has_child("no-store", ns::HINTS) {
        return false;
    }
    let encrypted = [
        ("encrypted", ns::OMEMO_LEGACY),
        ("encrypted", ns::OMEMO),
        ("openpgp", ns::OPENPGP),
        ("x", ns::PGP_ENCRYPTED),
    ];
    message.has_child("body", ns::CLIENT)
        || message.has_child("store", ns::HINTS)
        || encrypted
            .iter()
            .any(|&(name, namespace)| message.has_child(name, namespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storable(xml: &str) -> bool {
        is_storable(
            &format!("<message xmlns='jabber:client' to='a@localhost' {xml}")
                .parse()
                .unwrap(),
        )
    }

    #[test]
    fn what_is_kept() {
        let cases = [
            ("type='chat'><body>hi</body></message>", true),
            ("type='normal'><body>hi</body></message>", true),
            ("><body>hi</body></message>", true),
            (
                "type='chat'><encrypted xmlns='eu.siacs.conversations.axolotl'><payload>x</payload></encrypted></message>",
                true,
            ),
            (
                "type='chat'><encrypted xmlns='urn:xmpp:omemo:2'/></message>",
                true,
            ),
            (
                "type='chat'><openpgp xmlns='urn:xmpp:openpgp:0'>x</openpgp></message>",
                true,
            ),
            (
                "type='chat'><x xmlns='jabber:x:encrypted'>x</x></message>",
                true,
            ),
            (
                "type='chat'><received xmlns='urn:xmpp:receipts' id='1'/><store xmlns='urn:xmpp:hints'/></message>",
                true,
            ),
            // Not worth keeping, or not to be kept.
            (
                "type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
                false,
            ),
            (
                "type='chat'><received xmlns='urn:xmpp:receipts' id='1'/></message>",
                false,
            ),
            (
                "type='chat'><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>",
                false,
            ),
            ("type='groupchat'><body>x</body></message>", false),
            ("type='headline'><body>x</body></message>", false),
            ("type='error'><body>x</body></message>", false),
            (
                "type='error'><body>x</body><store xmlns='urn:xmpp:hints'/></message>",
                false,
            ),
            // A body in another namespace is no body.
            (
                "type='chat'><body xmlns='urn:example'>x</body></message>",
                false,
            ),
        ];
        for (xml, expected) in cases {
            assert_eq!(storable(xml), expected, "{xml}");
        }
    }
}
