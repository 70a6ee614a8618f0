//! Rosters (RFC 6121 §2) with their version (XEP-0237), raised by every change. Backends
//! implement [`RosterStore`]; each is run through the same tests.

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

impl RosterItem {
    /// An item with no name, no groups and no subscription.
    pub fn new(jid: &str) -> RosterItem {
        RosterItem {
            jid: jid.to_owned(),
            name: None,
            subscription: "none".into(),
            ask: None,
            groups: Vec::new(),
        }
    }
}

/// A roster version (XEP-0237): compared for equality only, shown to clients as a string.
pub type RosterVersion = i64;

/// One item as a change left it, with the roster's version after the change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterChange {
    pub item: RosterItem,
    pub version: RosterVersion,
}

#[async_trait]
pub trait RosterStore: Send + Sync {
    async fn roster(&self, user: &str) -> Result<Vec<RosterItem>, StoreError>;

    async fn roster_item(&self, user: &str, jid: &str) -> Result<Option<RosterItem>, StoreError>;

    /// The current version; 0 for an account whose roster never changed.
    async fn roster_version(&self, user: &str) -> Result<RosterVersion, StoreError>;

    /// Writes the whole item; returns the new version.
    async fn roster_set(&self, user: &str, item: &RosterItem) -> Result<RosterVersion, StoreError>;

    /// Sets what the client owns (name and groups), adding the item if needed and keeping its
    /// subscription as it is.
    async fn roster_set_details(
        &self,
        user: &str,
        jid: &str,
        name: Option<&str>,
        groups: &[String],
    ) -> Result<RosterChange, StoreError>;

    /// Sets what the server owns (subscription and `ask`), adding the item if needed and
    /// keeping its name and groups as they are.
    async fn roster_set_subscription(
        &self,
        user: &str,
        jid: &str,
        subscription: &str,
        ask: Option<&str>,
    ) -> Result<RosterChange, StoreError>;

    /// Removes an item; the new version, or `None` when there was no such item.
    async fn roster_remove(
        &self,
        user: &str,
        jid: &str,
    ) -> Result<Option<RosterVersion>, StoreError>;
}
