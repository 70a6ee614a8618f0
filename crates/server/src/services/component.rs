//! Stanzas addressed to a REST component's domain: queued for its callback when it has one that
//! takes them (crate::webhook), otherwise answered with service-unavailable rather than vanishing.

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::stanza::{DefinedCondition, ErrorType, StanzaKind};

use crate::router::Router;
use crate::webhook::Event;

pub async fn deliver(router: &Router, stanza: Element) {
    let to = stanza.attr("to").and_then(|t| Jid::new(t).ok());
    let hooks = router.webhooks();
    let callback = to
        .as_ref()
        .zip(hooks)
        .and_then(|(to, hooks)| hooks.callback(to.domain().as_str()));
    let text = match (callback, to, hooks, StanzaKind::of(&stanza)) {
        (Some(callback), Some(to), Some(hooks), Some(kind)) => {
            if callback.accepts(kind, Event::of(&to)) {
                // Returns once the stanza is stored: whoever acknowledges it upstream may.
                hooks.enqueue(router, &callback, stanza).await;
                return;
            }
            "This component's callback does not take this stanza"
        }
        _ => "This component has no callback to receive stanzas",
    };
    // bounce() never answers errors or iq results.
    router
        .bounce(
            &stanza,
            ErrorType::Cancel,
            DefinedCondition::ServiceUnavailable,
            Some(text),
        )
        .await;
}
