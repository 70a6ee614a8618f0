//! XEP-0163 PEP nodes of each account: their configuration and their items in publication
//! order. Backends implement [`PepStore`]; each is run through the same tests.

use async_trait::async_trait;
use switchboard_xmpp::pep::NodeConfig;

use super::error::StoreError;

/// An item as stored: its id and its payload serialised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredItem {
    pub id: String,
    pub payload: String,
}

/// A node of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredNode {
    pub node: String,
    pub config: NodeConfig,
}

/// What creating a node came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    Created,
    Exists,
    /// The account already has its maximum of nodes.
    TooMany,
}

#[async_trait]
pub trait PepStore: Send + Sync {
    /// The configuration of `user`'s `node`, if it exists.
    async fn pep_node(&self, user: &str, node: &str) -> Result<Option<NodeConfig>, StoreError>;

    /// Every node of `user`, by name.
    async fn pep_nodes(&self, user: &str) -> Result<Vec<StoredNode>, StoreError>;

    /// Creates a node unless it exists or `user` holds `max_nodes` already; `NoSuchUser` for
    /// an unknown account.
    async fn pep_create(
        &self,
        user: &str,
        node: &str,
        config: &NodeConfig,
        max_nodes: usize,
    ) -> Result<Created, StoreError>;

    /// Replaces a node's configuration, dropping the oldest items beyond what it now keeps;
    /// false when there is no such node.
    async fn pep_configure(
        &self,
        user: &str,
        node: &str,
        config: &NodeConfig,
    ) -> Result<bool, StoreError>;

    /// Deletes a node and its items; false when there was none.
    async fn pep_delete(&self, user: &str, node: &str) -> Result<bool, StoreError>;

    /// Stores `item` as the node's newest (replacing one of the same id) and keeps only the
    /// `keep` newest; false when there is no such node.
    async fn pep_publish(
        &self,
        user: &str,
        node: &str,
        item: &StoredItem,
        keep: u32,
    ) -> Result<bool, StoreError>;

    /// Removes the items named; returns the ids that were there.
    async fn pep_retract(
        &self,
        user: &str,
        node: &str,
        ids: &[String],
    ) -> Result<Vec<String>, StoreError>;

    /// The `max` newest items (all without `max`), oldest first.
    async fn pep_items(
        &self,
        user: &str,
        node: &str,
        max: Option<u32>,
    ) -> Result<Vec<StoredItem>, StoreError>;

    /// The items named that exist, oldest first.
    async fn pep_items_by_id(
        &self,
        user: &str,
        node: &str,
        ids: &[String],
    ) -> Result<Vec<StoredItem>, StoreError>;

    /// Removes every item of a node; false when there is no such node.
    async fn pep_purge(&self, user: &str, node: &str) -> Result<bool, StoreError>;
}
