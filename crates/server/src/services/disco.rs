//! XEP-0030 service discovery for the server domain (with the ad-hoc command nodes) and for
//! accounts' bare JIDs.

use async_trait::async_trait;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};
use xmpp_parsers::disco::{
    DiscoInfoQuery, DiscoInfoResult, DiscoItemsQuery, DiscoItemsResult, Identity, Item,
};

use super::commands;
use super::version::SOFTWARE;
use crate::ctx::{Ctx, Feature, Service};
use crate::routed::{Outcome, Routed};

type IqOutcome = Result<Option<Element>, (ErrorType, DefinedCondition)>;

const BAD_REQUEST: (ErrorType, DefinedCondition) =
    (ErrorType::Modify, DefinedCondition::BadRequest);

/// XEP-0030 §3.1: a named identity without a language.
fn identity(category: &str, type_: &str, name: Option<&str>) -> Identity {
    Identity {
        category: category.to_owned(),
        type_: type_.to_owned(),
        lang: None,
        name: name.map(str::to_owned),
    }
}

fn info(identities: Vec<Identity>, features: &[&str]) -> Element {
    DiscoInfoResult {
        node: None,
        identities,
        features: features.iter().map(|&var| var.to_owned()).collect(),
        extensions: Vec::new(),
    }
    .into()
}

/// `registered` with a service's own features, sorted and without repeats.
fn with_own(registered: Vec<&'static str>, own: &[Feature]) -> Vec<&'static str> {
    let mut all = registered;
    all.extend(own.iter().map(|f| f.var));
    all.sort_unstable();
    all.dedup();
    all
}

/// disco#info and disco#items of the served domain.
pub struct ServerDisco {
    features: Vec<&'static str>,
    /// JIDs listed in disco#items: the services hosted beside the server (uploads…).
    items: Vec<String>,
}

impl ServerDisco {
    const FEATURES: &[Feature] = &[
        Feature::server(ns::DISCO_INFO),
        Feature::server(ns::DISCO_ITEMS),
    ];

    /// Advertises `registered`, the server features of the other services registered.
    pub fn new(registered: Vec<&'static str>) -> ServerDisco {
        ServerDisco {
            features: with_own(registered, Self::FEATURES),
            items: Vec::new(),
        }
    }

    /// Lists `items` (domains of services hosted beside the server) in disco#items.
    pub fn with_items(mut self, items: Vec<String>) -> ServerDisco {
        self.items = items;
        self
    }

    fn answer(&self, ctx: &Ctx, iq: &Routed, query: &Element) -> IqOutcome {
        let requester = Some(&iq.from);
        if query.is("query", ns::DISCO_INFO) {
            let query = DiscoInfoQuery::try_from(query.clone()).map_err(|_| BAD_REQUEST)?;
            if let Some(node) = query.node {
                return commands::disco_info(ctx, requester, &node);
            }
            return Ok(Some(info(
                vec![identity("server", "im", Some(SOFTWARE))],
                &self.features,
            )));
        }
        let query = DiscoItemsQuery::try_from(query.clone()).map_err(|_| BAD_REQUEST)?;
        if let Some(node) = query.node {
            return commands::disco_items(ctx, requester, &node);
        }
        let items = DiscoItemsResult {
            node: None,
            items: self
                .items
                .iter()
                .filter_map(|jid| jid::Jid::new(jid).ok())
                .map(|jid| Item {
                    jid,
                    node: None,
                    name: None,
                })
                .collect(),
            rsm: None,
        };
        Ok(Some(items.into()))
    }
}

#[async_trait]
impl Service for ServerDisco {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let query = stanza::iq_payload(&iq.el).filter(|q| q.name() == "query");
        let answer = match query {
            Some(query) if iq.type_() == "get" => self.answer(ctx, &iq, query),
            _ => Err((ErrorType::Cancel, DefinedCondition::FeatureNotImplemented)),
        };
        match answer {
            Ok(payload) => ctx.reply(&iq, stanza::iq_result(&iq.el, payload)).await,
            Err((type_, condition)) => ctx.bounce(&iq, type_, condition, None).await,
        }
    }

    fn features(&self) -> &'static [Feature] {
        Self::FEATURES
    }
}

/// disco#info on an account's bare JID: `account/registered` when it exists (XEP-0030 §3.1),
/// with the account features of the services registered.
pub struct AccountDisco {
    features: Vec<&'static str>,
}

impl AccountDisco {
    const FEATURES: &[Feature] = &[Feature::account(ns::DISCO_INFO)];

    /// Advertises `registered`, the account features of the other services registered.
    pub fn new(registered: Vec<&'static str>) -> AccountDisco {
        AccountDisco {
            features: with_own(registered, Self::FEATURES),
        }
    }
}

#[async_trait]
impl Service for AccountDisco {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let user = ctx.local_user(iq.to.as_ref().unwrap_or(&iq.from));
        let exists = match &user {
            Some(user) => matches!(ctx.store().credentials(user).await, Ok(Some(_))),
            None => false,
        };
        // Accounts have no nodes.
        let plain_query = stanza::iq_payload(&iq.el)
            .and_then(|q| DiscoInfoQuery::try_from(q.clone()).ok())
            .is_some_and(|q| q.node.is_none());
        if !exists || !plain_query || iq.type_() != "get" {
            return ctx
                .bounce(
                    &iq,
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    None,
                )
                .await;
        }
        let mut identities = vec![identity("account", "registered", None)];
        // XEP-0163 §6.1: an account with a PEP service is also a pubsub/pep entity.
        if self.features.contains(&ns::PUBSUB) {
            identities.push(identity("pubsub", "pep", None));
        }
        let info = info(identities, &self.features);
        ctx.reply(&iq, stanza::iq_result(&iq.el, Some(info))).await
    }

    fn features(&self) -> &'static [Feature] {
        Self::FEATURES
    }
}
