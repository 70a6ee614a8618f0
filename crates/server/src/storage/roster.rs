//! Rosters (RFC 6121 §2): one item per contact of an account.
//! Backends implement [`RosterStore`]; each is run through the same tests.

use async_trait::async_trait;

use super::error::StoreError;

/// One entry of a user's roster (RFC 6121 §2.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterItem {
    pub jid: String,
    pub name: Option<String>,
    pub subscription: String,
    pub ask: Option<String>,
    pub groups: Vec<String>,
}

#[async_trait]
pub trait RosterStore: Send + Sync {
    async fn roster(&self, user: &str) -> Result<Vec<RosterItem>, StoreError>;

    async fn roster_set(&self, user: &str, item: &RosterItem) -> Result<(), StoreError>;

    async fn roster_remove(&self, user: &str, jid: &str) -> Result<bool, StoreError>;
}
