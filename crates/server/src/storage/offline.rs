//! Messages kept for accounts with no available resource, oldest first.
//! Backends implement [`OfflineStore`]; each is run through the same tests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreError;

/// A stanza held for a user with no available resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfflineMessage {
    pub id: i64,
    pub stanza: String,
    pub stored_at: DateTime<Utc>,
}

#[async_trait]
pub trait OfflineStore: Send + Sync {
    async fn offline_push(&self, user: &str, stanza: &str) -> Result<(), StoreError>;

    async fn offline_list(&self, user: &str) -> Result<Vec<OfflineMessage>, StoreError>;

    async fn offline_delete(&self, user: &str, ids: &[i64]) -> Result<(), StoreError>;
}
