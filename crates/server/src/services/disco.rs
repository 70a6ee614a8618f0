//! XEP-0030 service discovery for the server domain and for accounts.

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};

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
    "msgoffline",
    ns::DELAY,
];

type IqOutcome = Result<Option<Element>, (ErrorType, DefinedCondition)>;

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

pub fn server_info(router: &Router, requester: Option<&Jid>, query: &Element) -> IqOutcome {
    if let Some(node) = query.attr("node") {
        return commands::disco_info(router, requester, node);
    }
    let mut info = Element::bare("query", ns::DISCO_INFO);
    info.append_child(identity("server", "im", Some(SOFTWARE)));
    for var in SERVER_FEATURES {
        info.append_child(feature(var));
    }
    Ok(Some(info))
}

pub fn server_items(router: &Router, requester: Option<&Jid>, query: &Element) -> IqOutcome {
    if let Some(node) = query.attr("node") {
        return commands::disco_items(router, requester, node);
    }
    Ok(Some(Element::bare("query", ns::DISCO_ITEMS)))
}

/// disco#info on an account's bare JID: `account/registered` when it exists (XEP-0030 §3.1).
pub async fn account_info(router: &Router, user: &str, iq: Element) {
    let exists = matches!(
        router.accounts().store().credentials(user).await,
        Ok(Some(_))
    );
    let node = stanza::iq_payload(&iq)
        .and_then(|q| q.attr("node"))
        .is_some();
    if !exists || node || iq.attr("type") != Some("get") {
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
    let mut info = Element::bare("query", ns::DISCO_INFO);
    info.append_child(identity("account", "registered", None));
    info.append_child(feature(ns::DISCO_INFO));
    reply(router, stanza::iq_result(&iq, Some(info))).await;
}
