//! One callback: where a component's or an account's stanzas are POSTed, which of them, in which
//! format and under which signing key; URL templating and the OPTIONS probe that may pick the format.

use std::time::Duration;

use minidom::Element;
use switchboard_xmpp::rest_codec::{self, MediaType};
use switchboard_xmpp::stanza::StanzaKind;
use tokio::sync::OnceCell;

use super::delivery;
use super::spec::{Event, Spec, render_template};

/// The stanza's type with RFC 6120 defaults, so `{type}` is never empty.
fn effective_type(stanza: &Element) -> &str {
    match (stanza.name(), stanza.attr("type")) {
        (_, Some(type_)) => type_,
        ("presence", None) => "available",
        _ => "normal",
    }
}

/// A configured callback. Cheap to share: the dispatcher holds it while delivering.
#[derive(Debug)]
pub struct Callback {
    /// A component domain or an account's bare JID.
    pub owner: String,
    spec: Spec,
    secret: String,
    /// `from` of the probe: the component itself, or the server for an account.
    probe_from: String,
    /// The format after the OPTIONS probe (which may override the configured one).
    negotiated: OnceCell<MediaType>,
}

impl Callback {
    pub fn new(owner: &str, spec: Spec, secret: String, probe_from: &str) -> Callback {
        Callback {
            owner: owner.to_owned(),
            spec,
            secret,
            probe_from: probe_from.to_owned(),
            negotiated: OnceCell::new(),
        }
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Whether this callback takes a stanza of `kind` addressed in form `event`.
    pub fn accepts(&self, kind: StanzaKind, event: Event) -> bool {
        self.spec.kinds.contains(&kind) && self.spec.events.contains(&event)
    }

    /// The URL for one stanza.
    pub fn url_for(&self, stanza: &Element) -> String {
        render_template(
            &self.spec.url,
            stanza.name(),
            effective_type(stanza),
            stanza.attr("to").unwrap_or_default(),
            stanza.attr("from").unwrap_or_default(),
        )
    }

    /// The body format: the configured one, unless the probe's answer chose another. The first
    /// caller runs the probe; the others wait for it (bounded by `timeout`).
    pub async fn media(&self, client: &delivery::Client, timeout: Duration) -> MediaType {
        *self
            .negotiated
            .get_or_init(|| self.probe(client, timeout))
            .await
    }

    /// mod_rest §5.2: `OPTIONS` on the URL rendered for `kind=meta, type=info`; a 200 whose
    /// `Accept` names a format Switchboard writes picks it.
    async fn probe(&self, client: &delivery::Client, timeout: Duration) -> MediaType {
        let url = render_template(
            &self.spec.url,
            "meta",
            "info",
            &self.owner,
            &self.probe_from,
        );
        let configured = self.spec.media;
        match delivery::probe(client, &url, &self.secret, timeout).await {
            Ok((200, accept)) => {
                let media = accept.map_or(configured, |accept| {
                    rest_codec::negotiate(Some(&accept), Some(configured))
                });
                tracing::info!(callback = %self.owner, format = media.mime(), "callback connected");
                media
            }
            Ok((status, _)) => {
                tracing::warn!(callback = %self.owner, status, "callback probe was not answered with 200");
                configured
            }
            Err(e) => {
                tracing::warn!(callback = %self.owner, error = %e, "could not connect to the callback");
                configured
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use jid::Jid;

    use super::*;
    use crate::webhook::spec::{COMPONENT_EVENTS, parse_spec};

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn url_for_uses_default_types() {
        let spec = parse_spec(
            "http://h/{kind}/{type}",
            None,
            None,
            None,
            &COMPONENT_EVENTS,
        )
        .unwrap();
        let cb = Callback::new("rest.localhost", spec, "k".into(), "rest.localhost");
        let presence: Element = "<presence xmlns='jabber:client' to='rest.localhost'/>"
            .parse()
            .unwrap();
        assert_eq!(cb.url_for(&presence), "http://h/presence/available");
        let message: Element = "<message xmlns='jabber:client' to='rest.localhost'/>"
            .parse()
            .unwrap();
        assert_eq!(cb.url_for(&message), "http://h/message/normal");
    }

    #[test]
    fn events_and_filters() {
        let spec = parse_spec(
            "http://x/",
            None,
            Some(&list(&["message", "iq"])),
            Some(&list(&["bare", "host"])),
            &COMPONENT_EVENTS,
        )
        .unwrap();
        let cb = Callback::new("rest.localhost", spec, "k".into(), "rest.localhost");
        assert!(cb.accepts(StanzaKind::Message, Event::Bare));
        assert!(cb.accepts(StanzaKind::Iq, Event::Host));
        assert!(!cb.accepts(StanzaKind::Presence, Event::Bare));
        assert!(!cb.accepts(StanzaKind::Message, Event::Full));
        let jid = |s: &str| Jid::new(s).unwrap();
        assert_eq!(Event::of(&jid("rest.localhost")), Event::Host);
        assert_eq!(Event::of(&jid("a@rest.localhost")), Event::Bare);
        assert_eq!(Event::of(&jid("a@rest.localhost/r")), Event::Full);
    }
}
