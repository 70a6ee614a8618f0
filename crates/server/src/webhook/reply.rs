//! How a callback's answer becomes the reply to the stanza it was given (mod_rest §5.4), and what
//! the sender hears when Switchboard gives up on a callback.
//!
//! Divergences from mod_rest, each deliberate: a receipt carries the id of the message it
//! acknowledges; a 2xx without a usable body answers a message or presence only with the receipt
//! it asked for (mod_rest sent back an empty message); a message reply without a type inherits
//! the original's, and an answer to a groupchat message is a groupchat message to the room.

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::callback_error;
use switchboard_xmpp::framing::Limits;
use switchboard_xmpp::ns;
use switchboard_xmpp::rest_codec::{self, MediaType};
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};

use crate::ids::random_id;

/// Why Switchboard stopped trying a callback, as the sender is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum GaveUp {
    /// The last answer was this HTTP status (429 or 5xx) without a stanza in its body.
    Status(u16),
    /// The callback could not be reached or did not answer; the text says how.
    Unreachable(String),
}

/// mod_rest's `reply_allowed`: errors and results are never answered.
fn reply_allowed(original: &Element) -> bool {
    !matches!(original.attr("type"), Some("error" | "result"))
}

/// A message with an id asking for a XEP-0184 receipt.
fn wants_receipt(original: &Element) -> bool {
    original.name() == "message"
        && original.attr("id").is_some()
        && original.has_child("request", ns::RECEIPTS)
}

/// The stanza in a callback's response body, if the body holds one of the same kind as
/// `original` in a media type Switchboard reads (XML, JSON, form, text, CBOR).
pub(super) fn parse_body(
    original: &Element,
    content_type: Option<&str>,
    body: &[u8],
    limits: Limits,
) -> Option<Element> {
    if body.is_empty() {
        return None;
    }
    let media = content_type.and_then(MediaType::from_content_type)?;
    let parsed = rest_codec::decode_request(Some(media), body, None, None, limits).ok()?;
    (parsed.name() == original.name() && parsed.ns() == ns::CLIENT).then_some(parsed)
}

/// The reply to `original` for a callback that answered `status`, with the stanza found in the
/// response body, if any. `None` when nothing is to be sent back.
pub(super) fn for_answer(
    original: &Element,
    status: u16,
    body: Option<Element>,
) -> Option<Element> {
    if !reply_allowed(original) {
        return None;
    }
    let accepted = status == 202 || status == 204;
    let reply = match body {
        Some(parsed) if !accepted => Some(rewrite(original, parsed)),
        _ if (200..300).contains(&status) => empty_reply(original),
        _ => status_error(original, status),
    };
    match reply {
        Some(reply) => Some(with_receipt(original, reply)),
        None if wants_receipt(original) => Some(with_receipt(original, shell(original))),
        None => None,
    }
}

/// The error the sender gets when Switchboard gives up on the callback.
pub(super) fn for_give_up(original: &Element, why: &GaveUp) -> Option<Element> {
    if !reply_allowed(original) {
        return None;
    }
    match why {
        GaveUp::Status(status) => status_error(original, *status),
        // mod_rest answers every failed request this way, with the failure's text.
        GaveUp::Unreachable(text) => stanza::error_reply(
            original,
            ErrorType::Wait,
            DefinedCondition::RecipientUnavailable,
            Some(text),
        ),
    }
}

/// The §4.5 error for a status, with the reason phrase as text.
fn status_error(original: &Element, status: u16) -> Option<Element> {
    let (type_, condition) = callback_error::condition_for_status(status);
    let fallback = format!("HTTP {status}");
    let text = callback_error::reason_phrase(status).unwrap_or(&fallback);
    stanza::error_reply(original, type_, condition, Some(text))
}

/// 202, 204 or a 2xx without a usable body: an iq gets its empty result; a message only the
/// receipt it asked for, added by the caller; a presence nothing.
fn empty_reply(original: &Element) -> Option<Element> {
    (original.name() == "iq").then(|| stanza::iq_result(original, None))
}

/// A reply of the original's kind, addressed back to its sender, with a fresh id.
fn shell(original: &Element) -> Element {
    let mut reply = Element::bare(original.name(), ns::CLIENT);
    address(original, &mut reply);
    stanza::set_attr(&mut reply, "id", &random_id());
    if let Some(type_) = original.attr("type") {
        stanza::set_attr(&mut reply, "type", type_);
    }
    reply
}

/// `from` is the callback's JID; `to` the sender, or the room for a groupchat message.
fn address(original: &Element, reply: &mut Element) {
    if let Some(to) = original.attr("to") {
        stanza::set_attr(reply, "from", to);
    }
    if let Some(from) = original.attr("from") {
        let groupchat = original.name() == "message" && original.attr("type") == Some("groupchat");
        match Jid::new(from) {
            Ok(jid) if groupchat => stanza::set_attr(reply, "to", &jid.to_bare().to_string()),
            _ => stanza::set_attr(reply, "to", from),
        }
    }
}

/// The callback's stanza as the reply: its payload and language are kept, its addressing is
/// replaced (§5.4), so a callback cannot send as anyone but the JID it answers for.
fn rewrite(original: &Element, mut parsed: Element) -> Element {
    let mut reply = Element::bare(original.name(), ns::CLIENT);
    address(original, &mut reply);
    let is_error = parsed.attr("type") == Some("error") || parsed.has_child("error", ns::CLIENT);
    let type_ = match original.name() {
        "iq" if is_error => Some("error"),
        "iq" => Some("result"),
        _ if is_error => Some("error"),
        // Only a groupchat message reaches the room.
        "message" if original.attr("type") == Some("groupchat") => Some("groupchat"),
        "message" => parsed.attr("type").or(original.attr("type")),
        _ => parsed.attr("type"),
    };
    if let Some(type_) = type_ {
        stanza::set_attr(&mut reply, "type", type_);
    }
    // An iq answer and an error answer the original's id; anything else is a new stanza.
    let id = if original.name() == "iq" || is_error {
        original.attr("id").map(str::to_owned)
    } else {
        Some(parsed.attr("id").map_or_else(random_id, str::to_owned))
    };
    if let Some(id) = id {
        stanza::set_attr(&mut reply, "id", &id);
    }
    if let Some(lang) = parsed.attr_ns(ns::XML, "lang") {
        let lang = lang.to_owned();
        stanza::set_lang(&mut reply, &lang);
    }
    for node in parsed.take_nodes() {
        reply.append_node(node);
    }
    reply
}

/// Adds `<received id=…/>` for a message that asked for a receipt, unless the reply is an
/// error (the message was not taken) or already carries one.
fn with_receipt(original: &Element, mut reply: Element) -> Element {
    let is_error = reply.attr("type") == Some("error");
    if wants_receipt(original)
        && reply.name() == "message"
        && !is_error
        && !reply.has_child("received", ns::RECEIPTS)
    {
        let mut received = Element::bare("received", ns::RECEIPTS);
        stanza::set_attr(&mut received, "id", original.attr("id").unwrap_or_default());
        reply.append_child(received);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    fn limits() -> Limits {
        Limits::default()
    }

    const CHAT: &str = "<message xmlns='jabber:client' type='chat' id='m1' from='alice@localhost/desk' to='bot@rest.localhost'><body>hi</body></message>";
    const RECEIPT: &str = "<message xmlns='jabber:client' type='chat' id='m2' from='alice@localhost/desk' to='bot@rest.localhost'><body>hi</body><request xmlns='urn:xmpp:receipts'/></message>";
    const IQ: &str = "<iq xmlns='jabber:client' type='get' id='q1' from='alice@localhost/desk' to='bot@rest.localhost'><query xmlns='jabber:iq:version'/></iq>";

    fn error_of(reply: &Element) -> (String, String, String) {
        let error = reply
            .get_child("error", ns::CLIENT)
            .expect("an error child");
        let condition = error
            .children()
            .find(|c| c.ns() == ns::STANZAS && c.name() != "text")
            .map(|c| c.name().to_owned())
            .unwrap_or_default();
        let text = error
            .get_child("text", ns::STANZAS)
            .map(Element::text)
            .unwrap_or_default();
        (
            error.attr("type").unwrap_or_default().to_owned(),
            condition,
            text,
        )
    }

    #[test]
    fn accepted_iq_gets_an_empty_result_and_message_nothing() {
        for status in [202, 204] {
            let reply = for_answer(&el(IQ), status, None).unwrap();
            assert_eq!(
                reply,
                el(
                    "<iq xmlns='jabber:client' type='result' id='q1' to='alice@localhost/desk' from='bot@rest.localhost'/>"
                )
            );
            assert_eq!(for_answer(&el(CHAT), status, None), None);
        }
        // A body on 202 is ignored, as in mod_rest.
        let body = el("<message xmlns='jabber:client'><body>x</body></message>");
        assert_eq!(for_answer(&el(CHAT), 202, Some(body)), None);
    }

    #[test]
    fn receipt_is_sent_with_the_acknowledged_id() {
        let reply = for_answer(&el(RECEIPT), 204, None).unwrap();
        assert_eq!(reply.attr("to"), Some("alice@localhost/desk"));
        assert_eq!(reply.attr("from"), Some("bot@rest.localhost"));
        assert_eq!(reply.attr("type"), Some("chat"));
        assert_ne!(reply.attr("id"), Some("m2"));
        let received = reply.get_child("received", ns::RECEIPTS).unwrap();
        assert_eq!(received.attr("id"), Some("m2"));

        let body = parse_body(
            &el(RECEIPT),
            Some("application/xmpp+xml"),
            b"<message><body>ok</body></message>",
            limits(),
        );
        let reply = for_answer(&el(RECEIPT), 200, body).unwrap();
        assert_eq!(reply.get_child("body", ns::CLIENT).unwrap().text(), "ok");
        assert!(reply.has_child("received", ns::RECEIPTS));

        // An error reply is not a receipt.
        let reply = for_answer(&el(RECEIPT), 404, None).unwrap();
        assert!(!reply.has_child("received", ns::RECEIPTS));
    }

    #[test]
    fn xml_reply_is_readdressed() {
        let body = parse_body(
            &el(CHAT),
            Some("application/xmpp+xml; charset=utf-8"),
            b"<message to='mallory@evil' from='someone@else' type='headline' xml:lang='de'><body>Ja</body></message>",
            limits(),
        )
        .unwrap();
        let reply = for_answer(&el(CHAT), 200, Some(body)).unwrap();
        assert_eq!(reply.attr("to"), Some("alice@localhost/desk"));
        assert_eq!(reply.attr("from"), Some("bot@rest.localhost"));
        assert_eq!(reply.attr("type"), Some("headline"));
        assert_eq!(reply.attr_ns(ns::XML, "lang"), Some("de"));
        assert!(reply.attr("id").is_some_and(|id| id != "m1"));
        assert_eq!(reply.get_child("body", ns::CLIENT).unwrap().text(), "Ja");
    }

    #[test]
    fn untyped_message_reply_inherits_the_type_and_groupchat_goes_to_the_room() {
        let body = parse_body(
            &el(CHAT),
            Some("application/json"),
            br#"{"body":"hello"}"#,
            limits(),
        );
        let reply = for_answer(&el(CHAT), 200, body).unwrap();
        assert_eq!(reply.attr("type"), Some("chat"));

        let room = "<message xmlns='jabber:client' type='groupchat' id='g1' from='room@conference.localhost/alice' to='bot@rest.localhost'><body>hi</body></message>";
        let body = parse_body(&el(room), Some("text/plain"), b"beep", limits());
        let reply = for_answer(&el(room), 200, body).unwrap();
        assert_eq!(reply.attr("to"), Some("room@conference.localhost"));
        assert_eq!(reply.attr("type"), Some("groupchat"));
        assert_eq!(reply.get_child("body", ns::CLIENT).unwrap().text(), "beep");
    }

    #[test]
    fn iq_reply_keeps_the_id_and_becomes_a_result() {
        let body = parse_body(
            &el(IQ),
            Some("application/json"),
            br#"{"version":{"name":"app.py","version":"0"}}"#,
            limits(),
        );
        let reply = for_answer(&el(IQ), 200, body).unwrap();
        assert_eq!(reply.attr("type"), Some("result"));
        assert_eq!(reply.attr("id"), Some("q1"));
        let query = reply.get_child("query", ns::VERSION).unwrap();
        assert_eq!(
            query.get_child("name", ns::VERSION).unwrap().text(),
            "app.py"
        );

        // Text is a message, not an iq: the 200 then means an empty result.
        assert_eq!(
            parse_body(&el(IQ), Some("text/plain"), b"pong", limits()),
            None
        );
        let reply = for_answer(&el(IQ), 200, None).unwrap();
        assert_eq!(reply.attr("type"), Some("result"));
        assert_eq!(reply.children().count(), 0);
    }

    #[test]
    fn error_statuses_follow_the_table() {
        let reply = for_answer(&el(IQ), 404, None).unwrap();
        assert_eq!(reply.attr("type"), Some("error"));
        assert_eq!(reply.attr("id"), Some("q1"));
        assert_eq!(
            error_of(&reply),
            ("cancel".into(), "item-not-found".into(), "Not Found".into())
        );
        let reply = for_answer(&el(CHAT), 422, None).unwrap();
        assert_eq!(
            error_of(&reply),
            (
                "modify".into(),
                "bad-request".into(),
                "Unprocessable Content".into()
            )
        );
    }

    #[test]
    fn stanza_body_on_an_error_status_is_the_reply() {
        let body = parse_body(
            &el(CHAT),
            Some("application/xmpp+xml"),
            b"<message><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
            limits(),
        );
        let reply = for_answer(&el(CHAT), 403, body).unwrap();
        assert_eq!(reply.attr("type"), Some("error"));
        assert_eq!(reply.attr("id"), Some("m1"));
        assert_eq!(error_of(&reply).1, "forbidden");
    }

    #[test]
    fn errors_and_results_are_never_answered() {
        for xml in [
            "<message xmlns='jabber:client' type='error' from='a@localhost' to='bot@rest.localhost'/>",
            "<iq xmlns='jabber:client' type='result' id='r' from='a@localhost' to='bot@rest.localhost'/>",
            "<iq xmlns='jabber:client' type='error' id='r' from='a@localhost' to='bot@rest.localhost'/>",
        ] {
            assert_eq!(for_answer(&el(xml), 200, None), None);
            assert_eq!(for_answer(&el(xml), 500, None), None);
            assert_eq!(
                for_give_up(&el(xml), &GaveUp::Unreachable("down".into())),
                None
            );
        }
    }

    #[test]
    fn giving_up_tells_the_sender_why() {
        let reply =
            for_give_up(&el(IQ), &GaveUp::Unreachable("connection refused".into())).unwrap();
        assert_eq!(
            error_of(&reply),
            (
                "wait".into(),
                "recipient-unavailable".into(),
                "connection refused".into()
            )
        );
        let reply = for_give_up(&el(CHAT), &GaveUp::Status(503)).unwrap();
        assert_eq!(
            error_of(&reply),
            (
                "cancel".into(),
                "service-unavailable".into(),
                "Service Unavailable".into()
            )
        );
    }

    #[test]
    fn bodies_of_another_kind_or_unreadable_are_ignored() {
        assert_eq!(
            parse_body(
                &el(CHAT),
                Some("application/xmpp+xml"),
                b"<iq type='get'/>",
                limits()
            ),
            None
        );
        assert_eq!(
            parse_body(
                &el(CHAT),
                Some("application/xmpp+xml"),
                b"<message>",
                limits()
            ),
            None
        );
        assert_eq!(
            parse_body(&el(CHAT), Some("text/html"), b"<p>hi</p>", limits()),
            None
        );
        assert_eq!(parse_body(&el(CHAT), None, b"hi", limits()), None);
        let form = parse_body(
            &el(CHAT),
            Some("application/x-www-form-urlencoded"),
            b"body=yes+please",
            limits(),
        )
        .unwrap();
        assert_eq!(
            form.get_child("body", ns::CLIENT).unwrap().text(),
            "yes please"
        );
    }
}
