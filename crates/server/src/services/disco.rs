//! XEP-0030 service discovery for the server domain and for accounts.

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};
use xmpp_parsers::disco::{
    DiscoInfoQuery, DiscoInfoResult, DiscoItemsQuery, DiscoItemsResult, Identity,
};

use super::{SOFTWARE, commands, reply};
use crate::router::Router;

/// Features of the server host, advertised in disco#info.
pub const SERVER_FEATURES: &[&str] = &[
    ns::DISCO_INFO,
    ns::DISCO_ITEMS,
    ns::PING,
    ns::VERSION,
    ns::ROSTER,
    ns::COMMANDS,
    ns::MSGOFFLINE,
    ns::DELAY,
];

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

pub fn server_info(router: &Router, requester: Option<&Jid>, query: &Element) -> IqOutcome {
    let query = DiscoInfoQuery::try_from(query.clone()).map_err(|_| BAD_REQUEST)?;
    if let Some(node) = query.node {
        return commands::disco_info(router, requester, &node);
    }
    Ok(Some(info(
        vec![identity("server", "im", Some(SOFTWARE))],
        SERVER_FEATURES,
    )))
}

pub fn server_items(router: &Router, requester: Option<&Jid>, query: &Element) -> IqOutcome {
    let query = DiscoItemsQuery::try_from(query.clone()).map_err(|_| BAD_REQUEST)?;
    if let Some(node) = query.node {
        return commands::disco_items(router, requester, &node);
    }
    let items = DiscoItemsResult {
        node: None,
        items: Vec::new(),
        rsm: None,
    };
    Ok(Some(items.into()))
}

/// disco#info on an account's bare JID: `account/registered` when it exists (XEP-0030 §3.1).
pub async fn account_info(router: &Router, user: &str, iq: Element) {
    let exists = matches!(
        router.accounts().store().credentials(user).await,
        Ok(Some(_))
    );
    // Accounts have no nodes.
    let plain_query = stanza::iq_payload(&iq)
        .and_then(|q| DiscoInfoQuery::try_from(q.clone()).ok())
        .is_some_and(|q| q.node.is_none());
    if !exists || !plain_query || iq.attr("type") != Some("get") {
        router
            .bounce(
                &iq,
                ErrorType::Cancel,
                DefinedCondition::ServiceUnavailable,
                None,
            )
            .await;
        return;
    }
    let info = info(
        vec![identity("account", "registered", None)],
        &[ns::DISCO_INFO],
    );
    reply(router, stanza::iq_result(&iq, Some(info))).await;
}
