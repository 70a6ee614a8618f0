//! XEP-0030 service discovery for the server domain (with the ad-hoc command nodes) and for
//! accounts' bare JIDs.

use async_trait::async_trait;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};

use super::commands;
use super::version::SOFTWARE;
use crate::ctx::{Ctx, Service};
use crate::routed::{Outcome, Routed};

/// Features of the server host, advertised in disco#info.
pub const SERVER_FEATURES: &[&str] = &[
    ns::DISCO_INFO,
    ns::DISCO_ITEMS,
    ns::PING,
    ns::VERSION,
    ns::ROSTER,
    ns::COMMANDS,
    "msgoffline",
    ns::DELAY,
];

fn identity(category: &str, type_: &str, name: Option<&str>) -> Element {
    let mut el = Element::bare("identity", ns::DISCO_INFO);
    stanza::set_attr(&mut el, "category", category);
    stanza::set_attr(&mut el, "type", type_);
    if let Some(name) = name {
        stanza::set_attr(&mut el, "name", name);
    }
    el
}

fn feature(var: &str) -> Element {
    let mut el = Element::bare("feature", ns::DISCO_INFO);
    stanza::set_attr(&mut el, "var", var);
    el
}

/// disco#info and disco#items of the served domain.
pub struct ServerDisco;

#[async_trait]
impl Service for ServerDisco {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let Some(query) = stanza::iq_payload(&iq.el).filter(|q| q.name() == "query") else {
            return not_implemented(ctx, &iq).await;
        };
        if iq.type_() != "get" {
            return not_implemented(ctx, &iq).await;
        }
        let requester = Some(&iq.from);
        let answer = match (query.ns().as_str(), query.attr("node")) {
            (ns::DISCO_INFO, Some(node)) => commands::disco_info(ctx, requester, node),
            (ns::DISCO_ITEMS, Some(node)) => commands::disco_items(ctx, requester, node),
            (ns::DISCO_INFO, None) => {
                let mut info = Element::bare("query", ns::DISCO_INFO);
                info.append_child(identity("server", "im", Some(SOFTWARE)));
                for var in SERVER_FEATURES {
                    info.append_child(feature(var));
                }
                Ok(Some(info))
            }
            _ => Ok(Some(Element::bare("query", ns::DISCO_ITEMS))),
        };
        match answer {
            Ok(payload) => ctx.reply(&iq, stanza::iq_result(&iq.el, payload)).await,
            Err((type_, condition)) => ctx.bounce(&iq, type_, condition, None).await,
        }
    }
}

async fn not_implemented(ctx: &Ctx, iq: &Routed) -> Outcome {
    ctx.bounce(
        iq,
        ErrorType::Cancel,
        DefinedCondition::FeatureNotImplemented,
        None,
    )
    .await
}

/// disco#info on an account's bare JID: `account/registered` when it exists (XEP-0030 §3.1).
pub struct AccountDisco;

#[async_trait]
impl Service for AccountDisco {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let user = ctx.local_user(iq.to.as_ref().unwrap_or(&iq.from));
        let exists = match &user {
            Some(user) => matches!(ctx.store().credentials(user).await, Ok(Some(_))),
            None => false,
        };
        let node = stanza::iq_payload(&iq.el)
            .and_then(|q| q.attr("node"))
            .is_some();
        if !exists || node || iq.type_() != "get" {
            return ctx
                .bounce(
                    &iq,
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    None,
                )
                .await;
        }
        let mut info = Element::bare("query", ns::DISCO_INFO);
        info.append_child(identity("account", "registered", None));
        info.append_child(feature(ns::DISCO_INFO));
        ctx.reply(&iq, stanza::iq_result(&iq.el, Some(info))).await
    }
}
