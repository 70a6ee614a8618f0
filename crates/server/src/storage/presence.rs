//! Subscription requests an account received and has not answered (RFC 6121 §3.1.3), kept
//! whole until answered. Backends implement [`PresenceStore`]; each runs the same tests.

use async_trait::async_trait;

use super::error::StoreError;

/// An inbound subscription request awaiting the account's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionRequest {
    /// The requester's bare JID.
    pub jid: String,
    /// The request as received, extensions included (RFC 6121 §8.4).
    pub stanza: String,
}

#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// Keeps (or replaces) the request from `jid`.
    async fn request_set(&self, user: &str, jid: &str, stanza: &str) -> Result<(), StoreError>;

    /// Forgets the request from `jid`; whether there was one.
    async fn request_remove(&self, user: &str, jid: &str) -> Result<bool, StoreError>;

    async fn request_exists(&self, user: &str, jid: &str) -> Result<bool, StoreError>;

    /// Up to `limit` requests from JIDs after `after` (all when `None`), in JID order: the
    /// pending requests are read page by page.
    async fn requests(
        &self,
        user: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SubscriptionRequest>, StoreError>;
}
