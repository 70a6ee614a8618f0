//! Callback settings as written in the configuration or the admin API, checked and read into a
//! [`Spec`]: URL template, body format, stanza kinds and address forms. Pure: no I/O.

use jid::{BareJid, Jid};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use switchboard_xmpp::rest_codec::MediaType;
use switchboard_xmpp::stanza::StanzaKind;

use crate::egress as target;

/// The address forms of mod_rest's `rest_callback_events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `user@domain`
    Bare,
    /// `user@domain/resource`
    Full,
    /// `domain`
    Host,
}

impl Event {
    fn parse(name: &str) -> Option<Event> {
        match name {
            "bare" => Some(Event::Bare),
            "full" => Some(Event::Full),
            "host" => Some(Event::Host),
            _ => None,
        }
    }

    /// The form of a stanza's `to`.
    pub fn of(to: &Jid) -> Event {
        match (to.node(), to.resource()) {
            (None, _) => Event::Host,
            (Some(_), Some(_)) => Event::Full,
            (Some(_), None) => Event::Bare,
        }
    }
}

/// Component callbacks see all three forms (mod_rest's default for components).
pub const COMPONENT_EVENTS: [Event; 3] = [Event::Bare, Event::Full, Event::Host];
/// An account has no host form.
pub const USER_EVENTS: [Event; 2] = [Event::Bare, Event::Full];

/// What a callback is configured with, before its secret is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub url: String,
    pub media: MediaType,
    pub kinds: Vec<StanzaKind>,
    pub events: Vec<Event>,
}

/// Checks and reads callback settings; the error names the offending value.
pub fn parse_spec(
    url: &str,
    content_type: Option<&str>,
    stanzas: Option<&[String]>,
    events: Option<&[String]>,
    allowed_events: &[Event],
) -> Result<Spec, String> {
    check_url(url)?;
    let media = match content_type {
        None => MediaType::Xml,
        // mod_rest's alias.
        Some("json") => MediaType::Json,
        Some(value) => MediaType::from_content_type(value)
            .filter(|m| *m != MediaType::Text)
            .ok_or_else(|| format!("content type '{value}' cannot carry a stanza"))?,
    };
    let kinds = match stanzas {
        None => vec![StanzaKind::Message, StanzaKind::Presence, StanzaKind::Iq],
        Some(list) => list
            .iter()
            .map(|s| StanzaKind::from_name(s).ok_or_else(|| format!("unknown stanza kind '{s}'")))
            .collect::<Result<_, _>>()?,
    };
    let events = match events {
        None => allowed_events.to_vec(),
        Some(list) => list
            .iter()
            .map(|e| {
                Event::parse(e)
                    .filter(|e| allowed_events.contains(e))
                    .ok_or_else(|| format!("event '{e}' does not apply here"))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Spec {
        url: url.to_owned(),
        media,
        kinds,
        events,
    })
}

/// The template must give an http(s) URL whatever the placeholders become.
fn check_url(template: &str) -> Result<(), String> {
    let sample = render_template(template, "message", "chat", "a@b", "c@d");
    let url = reqwest::Url::parse(&sample)
        .map_err(|e| format!("callback URL '{template}' is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "callback URL '{template}' must be http:// or https://"
        ));
    }
    Ok(())
}

/// A registered callback's host must be public unless `allow_private` (see [`target`]).
pub fn check_target(template: &str, allow_private: bool) -> Result<(), String> {
    let sample = render_template(template, "message", "chat", "a@b", "c@d");
    let url = reqwest::Url::parse(&sample)
        .map_err(|e| format!("callback URL '{template}' is not a URL: {e}"))?;
    target::check_url(&url, allow_private).map_err(|e| e.to_string())
}

/// Everything but unreserved characters is percent-encoded (RFC 3986 §2.3), so a JID's `@`
/// and `/` cannot change the URL's structure.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Replaces `{kind}`, `{type}`, `{to}` and `{from}`; other braces are left as they are.
pub(super) fn render_template(
    template: &str,
    kind: &str,
    type_: &str,
    to: &str,
    from: &str,
) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let value = [
            ("{kind}", kind),
            ("{type}", type_),
            ("{to}", to),
            ("{from}", from),
        ]
        .into_iter()
        .find(|(name, _)| after.starts_with(name));
        match value {
            Some((name, value)) => {
                out.extend(utf8_percent_encode(value, COMPONENT));
                rest = &after[name.len()..];
            }
            None => {
                out.push('{');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `user@domain` for an account JID of the served domain (or a bare localpart).
pub fn user_owner(domain: &str, input: &str) -> Option<String> {
    let input = if input.contains('@') {
        input.to_owned()
    } else {
        format!("{input}@{domain}")
    };
    let jid = BareJid::new(&input).ok()?;
    (jid.domain().as_str() == domain && jid.node().is_some()).then(|| jid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn placeholders_are_url_encoded() {
        let url = render_template(
            "http://h:1/{kind}/{type}/{to}?from={from}&x={unknown}",
            "message",
            "chat",
            "bot@rest.localhost/res 1",
            "alice@localhost/desk",
        );
        assert_eq!(
            url,
            "http://h:1/message/chat/bot%40rest.localhost%2Fres%201?from=alice%40localhost%2Fdesk&x={unknown}"
        );
        assert_eq!(
            render_template("http://h/{", "a", "b", "c", "d"),
            "http://h/{"
        );
    }

    #[test]
    fn spec_defaults_and_errors() {
        let spec =
            parse_spec("https://example.org/x", None, None, None, &COMPONENT_EVENTS).unwrap();
        assert_eq!(spec.media, MediaType::Xml);
        assert_eq!(spec.kinds.len(), 3);
        assert_eq!(spec.events, COMPONENT_EVENTS.to_vec());
        let spec = parse_spec(
            "http://127.0.0.1:9/{to}",
            Some("json"),
            Some(&list(&["message"])),
            Some(&list(&["bare"])),
            &USER_EVENTS,
        )
        .unwrap();
        assert_eq!(spec.media, MediaType::Json);
        assert_eq!(spec.kinds, vec![StanzaKind::Message]);
        assert_eq!(spec.events, vec![Event::Bare]);
        assert!(parse_spec("ftp://x/", None, None, None, &USER_EVENTS).is_err());
        assert!(parse_spec("not a url", None, None, None, &USER_EVENTS).is_err());
        assert!(parse_spec("http://x/", Some("text/plain"), None, None, &USER_EVENTS).is_err());
        assert!(
            parse_spec(
                "http://x/",
                None,
                Some(&list(&["pizza"])),
                None,
                &USER_EVENTS
            )
            .is_err()
        );
        assert!(
            parse_spec(
                "http://x/",
                None,
                None,
                Some(&list(&["host"])),
                &USER_EVENTS
            )
            .is_err()
        );
    }

    #[test]
    fn account_owners() {
        assert_eq!(
            user_owner("localhost", "bot").as_deref(),
            Some("bot@localhost")
        );
        assert_eq!(
            user_owner("localhost", "Bot@localhost").as_deref(),
            Some("bot@localhost")
        );
        assert_eq!(user_owner("localhost", "bot@elsewhere"), None);
        assert_eq!(user_owner("localhost", "rest.localhost/x"), None);
        assert_eq!(user_owner("localhost", "@localhost"), None);
    }
}
