//! Services the server itself answers: disco, ping, version, roster, presence broadcast and
//! offline storage. The router hands them stanzas addressed to the domain or to an account.

pub mod commands;
pub mod component;
pub mod disco;
pub mod offline;
pub mod presence;
pub mod roster;

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StanzaKind};
use xmpp_parsers::version::VersionResult;

use crate::router::Router;

/// The software name and version reported by XEP-0092 and disco.
pub const SOFTWARE: &str = "Switchboard";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A stanza with no `to`: addressed to the sender's own account (RFC 6120 §10.3).
pub async fn handle_to_self(router: &Router, kind: StanzaKind, mut stanza: Element) {
    let Some(from) = stanza.attr("from").and_then(|f| Jid::new(f).ok()) else {
        return;
    };
    let Some(user) = local_user(router, &from) else {
        return;
    };
    match kind {
        StanzaKind::Iq => handle_to_account(router, &user, stanza).await,
        StanzaKind::Presence => presence::broadcast(router, &user, stanza).await,
        StanzaKind::Message => {
            stanza::set_attr(&mut stanza, "to", &from.to_bare().to_string());
            Box::pin(router.route(stanza)).await;
        }
    }
}

/// An iq to an account's bare JID, answered by the server on the account's behalf.
pub async fn handle_to_account(router: &Router, user: &str, iq: Element) {
    if !matches!(iq.attr("type"), Some("get" | "set")) {
        // Results and errors (roster push acknowledgements, …) need no answer.
        return;
    }
    let from_owner = iq
        .attr("from")
        .and_then(|f| Jid::new(f).ok())
        .and_then(|f| local_user(router, &f))
        .is_some_and(|u| u == user);
    let payload_ns = stanza::iq_payload(&iq).map(|p| p.ns()).unwrap_or_default();
    match payload_ns.as_str() {
        ns::ROSTER if from_owner => roster::handle(router, user, iq).await,
        ns::DISCO_INFO => disco::account_info(router, user, iq).await,
        ns::PING if from_owner => reply(router, stanza::iq_result(&iq, None)).await,
        _ => {
            router
                .bounce(
                    &iq,
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    None,
                )
                .await
        }
    }
}

/// A stanza to the domain itself.
pub async fn handle_to_server(router: &Router, kind: StanzaKind, stanza: Element) {
    match kind {
        StanzaKind::Iq if matches!(stanza.attr("type"), Some("get" | "set")) => {
            server_iq(router, stanza).await
        }
        StanzaKind::Message => {
            router
                .bounce(
                    &stanza,
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    Some("The server does not accept messages"),
                )
                .await
        }
        // Directed presence to the server and iq results need no answer.
        _ => {}
    }
}

async fn server_iq(router: &Router, iq: Element) {
    let Some(payload) = stanza::iq_payload(&iq) else {
        router
            .bounce(
                &iq,
                ErrorType::Modify,
                DefinedCondition::BadRequest,
                Some("iq without payload"),
            )
            .await;
        return;
    };
    if payload.ns() == ns::COMMANDS {
        commands::handle(router, iq).await;
        return;
    }
    let requester = iq.attr("from").and_then(|f| Jid::new(f).ok());
    let is_get = iq.attr("type") == Some("get");
    let answer = match (payload.ns().as_str(), payload.name(), is_get) {
        (ns::DISCO_INFO, "query", true) => disco::server_info(router, requester.as_ref(), payload),
        (ns::DISCO_ITEMS, "query", true) => {
            disco::server_items(router, requester.as_ref(), payload)
        }
        (ns::PING, "ping", true) => Ok(None),
        (ns::VERSION, "query", true) => Ok(Some(version())),
        (ns::DISCO_INFO | ns::DISCO_ITEMS | ns::PING | ns::VERSION, _, _) => {
            Err((ErrorType::Cancel, DefinedCondition::FeatureNotImplemented))
        }
        _ => Err((ErrorType::Cancel, DefinedCondition::ServiceUnavailable)),
    };
    match answer {
        Ok(payload) => reply(router, stanza::iq_result(&iq, payload)).await,
        Err((type_, condition)) => router.bounce(&iq, type_, condition, None).await,
    }
}

/// XEP-0092 software version (the operating system is not disclosed).
fn version() -> Element {
    VersionResult {
        name: SOFTWARE.to_owned(),
        version: VERSION.to_owned(),
        os: None,
    }
    .into()
}

/// Sends a server-originated reply, stamping the server as sender when the request had no `to`.
pub async fn reply(router: &Router, mut reply: Element) {
    if reply.attr("from").is_none() {
        // Answers on behalf of an account come from its bare JID.
        if let Some(to) = reply.attr("to").and_then(|t| Jid::new(t).ok()) {
            stanza::set_attr(&mut reply, "from", &to.to_bare().to_string());
        }
    }
    Box::pin(router.route(reply)).await;
}

/// The localpart of a JID on our domain.
pub fn local_user(router: &Router, jid: &Jid) -> Option<String> {
    (jid.domain().as_str() == router.domain())
        .then(|| jid.node().map(|n| n.to_string()))
        .flatten()
}
