//! Presence among one account's own resources: broadcast of a resource's presence to all
//! available resources, and the current presences shown to a newly available one.
//! Subscriptions and presence to contacts arrive with the RFC 6121 subscription work.

use minidom::Element;

use crate::router::Router;

/// Sends presence without `to` from one of `user`'s resources to all of its available
/// resources, the sender included when available (RFC 6121 §4.2.2).
pub async fn broadcast(router: &Router, user: &str, presence: Element) {
    // The sending session updated its own availability before routing, so an unavailable
    // resource does not receive its own goodbye.
    for entry in router.sessions_of(user).into_iter().filter(|e| e.available) {
        let mut copy = presence.clone();
        let to = format!("{user}@{}/{}", router.domain(), entry.resource);
        switchboard_xmpp::stanza::set_attr(&mut copy, "to", &to);
        router.push(&entry, copy).await;
    }
}

/// The presences of `user`'s other available resources, for a resource that just became
/// available.
pub fn others(router: &Router, user: &str, except_id: u64) -> Vec<Element> {
    router
        .sessions_of(user)
        .into_iter()
        .filter(|e| e.id != except_id && e.available)
        .filter_map(|e| e.presence)
        .collect()
}
