//! Stanzas addressed to a REST component's domain: queued for its callback when it has one that
//! takes them (crate::webhook), otherwise answered with service-unavailable rather than vanishing.

use async_trait::async_trait;
use switchboard_xmpp::stanza::{DefinedCondition, ErrorType};

use crate::ctx::{Ctx, Service};
use crate::routed::{Outcome, Routed};
use crate::webhook::{Event, Webhooks};

/// One REST component domain.
pub struct Component {
    pub domain: String,
    pub webhooks: Webhooks,
}

#[async_trait]
impl Service for Component {
    async fn handle(&self, ctx: &Ctx, stanza: Routed) -> Outcome {
        let text = match (self.webhooks.callback(&self.domain), &stanza.to) {
            (Some(callback), Some(to)) => {
                if callback.accepts(stanza.kind, Event::of(to)) {
                    // Returns once the stanza is stored: whoever acknowledges it upstream may.
                    return self.webhooks.enqueue(ctx, &callback, stanza).await;
                }
                "This component's callback does not take this stanza"
            }
            _ => "This component has no callback to receive stanzas",
        };
        ctx.bounce(
            &stanza,
            ErrorType::Cancel,
            DefinedCondition::ServiceUnavailable,
            Some(text),
        )
        .await
    }
}
