//! Push registrations (XEP-0357): the app server JID and node each account's clients enabled,
//! with their publish-options. Backends implement [`PushStore`].

use async_trait::async_trait;

use super::error::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushRegistration {
    /// The app server's pubsub service (a bare JID).
    pub service: String,
    pub node: String,
    /// The `publish-options` data form, serialised, when the client sent one.
    pub options: Option<String>,
}

#[async_trait]
pub trait PushStore: Send + Sync {
    /// Adds or replaces the registration for (`service`, `node`); `NoSuchUser` for an unknown
    /// account.
    async fn push_enable(
        &self,
        user: &str,
        registration: &PushRegistration,
    ) -> Result<(), StoreError>;

    /// Removes the registration for `node` at `service`, or all of `service`'s without a node.
    async fn push_disable(
        &self,
        user: &str,
        service: &str,
        node: Option<&str>,
    ) -> Result<(), StoreError>;

    /// The account's registrations, by service and node.
    async fn push_registrations(&self, user: &str) -> Result<Vec<PushRegistration>, StoreError>;
}
