//! Blocklists (XEP-0191): the JIDs each account blocks, in their normalised form.
//! Backends implement [`BlockingStore`]; each is run through the same tests.

use async_trait::async_trait;

use super::error::StoreError;

#[async_trait]
pub trait BlockingStore: Send + Sync {
    /// The blocked JIDs of `user`, sorted.
    async fn blocklist(&self, user: &str) -> Result<Vec<String>, StoreError>;

    /// Adds `jids` (already blocked ones are kept once); `NoSuchUser` for an unknown account.
    async fn block(&self, user: &str, jids: &[String]) -> Result<(), StoreError>;

    /// Removes `jids`; those not blocked are ignored.
    async fn unblock(&self, user: &str, jids: &[String]) -> Result<(), StoreError>;

    /// Empties the blocklist.
    async fn unblock_all(&self, user: &str) -> Result<(), StoreError>;
}
