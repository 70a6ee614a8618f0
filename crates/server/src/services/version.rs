//! XEP-0092 software version of the server (the operating system is not disclosed).

use async_trait::async_trait;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};
use xmpp_parsers::version::VersionResult;

use crate::ctx::{Ctx, Feature, Service};
use crate::routed::{Outcome, Routed};

/// The software name and version reported by XEP-0092 and disco.
pub const SOFTWARE: &str = "Switchboard";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub struct Version;

#[async_trait]
impl Service for Version {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let is_query = stanza::iq_payload(&iq.el).is_some_and(|p| p.name() == "query");
        if iq.type_() != "get" || !is_query {
            return ctx
                .bounce(
                    &iq,
                    ErrorType::Cancel,
                    DefinedCondition::FeatureNotImplemented,
                    None,
                )
                .await;
        }
        let query = VersionResult {
            name: SOFTWARE.to_owned(),
            version: VERSION.to_owned(),
            os: None,
        };
        ctx.reply(&iq, stanza::iq_result(&iq.el, Some(query.into())))
            .await
    }

    fn features(&self) -> &'static [Feature] {
        const FEATURES: &[Feature] = &[Feature::server(ns::VERSION)];
        FEATURES
    }
}
