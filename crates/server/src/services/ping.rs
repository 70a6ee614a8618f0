//! XEP-0199 ping, answered by the server for itself and, to their owner, for accounts.

use async_trait::async_trait;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};

use crate::ctx::{Ctx, Feature, Service};
use crate::routed::{Outcome, Routed};

/// Pings to the served domain.
pub struct ServerPing;

#[async_trait]
impl Service for ServerPing {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let is_ping = stanza::iq_payload(&iq.el).is_some_and(|p| p.name() == "ping");
        if iq.type_() == "get" && is_ping {
            ctx.reply(&iq, stanza::iq_result(&iq.el, None)).await
        } else {
            ctx.bounce(
                &iq,
                ErrorType::Cancel,
                DefinedCondition::FeatureNotImplemented,
                None,
            )
            .await
        }
    }

    fn features(&self) -> &'static [Feature] {
        const FEATURES: &[Feature] = &[Feature::server(ns::PING)];
        FEATURES
    }
}

/// A ping to one's own bare JID (clients use it to test their connection); anyone else's
/// ping to an account is not answered for it.
pub struct AccountPing;

#[async_trait]
impl Service for AccountPing {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let own = iq
            .to
            .as_ref()
            .is_none_or(|to| to.to_bare() == iq.from.to_bare());
        if own {
            ctx.reply(&iq, stanza::iq_result(&iq.el, None)).await
        } else {
            ctx.bounce(
                &iq,
                ErrorType::Cancel,
                DefinedCondition::ServiceUnavailable,
                None,
            )
            .await
        }
    }
}
