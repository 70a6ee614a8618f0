//! Messages kept for accounts with no available resource, within quotas, read in batches by
//! the session that claims them. Backends implement [`OfflineStore`]; each runs the same tests.

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

/// How much one account may have stored (issue 10: no unbounded storage for others).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfflineQuota {
    pub max_messages: u64,
    /// Bytes of stored stanzas (their XML, UTF-8).
    pub max_bytes: u64,
}

/// What an account has stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OfflineUsage {
    pub messages: u64,
    pub bytes: u64,
}

#[async_trait]
pub trait OfflineStore: Send + Sync {
    /// Stores a message unless it would take the account past `quota`
    /// ([`StoreError::QuotaExceeded`]); the check and the write are one step.
    async fn offline_push(
        &self,
        user: &str,
        stanza: &str,
        quota: OfflineQuota,
    ) -> Result<(), StoreError>;

    /// Up to `limit` messages with ids above `after`, oldest first.
    async fn offline_batch(
        &self,
        user: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<OfflineMessage>, StoreError>;

    async fn offline_delete(&self, user: &str, ids: &[i64]) -> Result<(), StoreError>;

    async fn offline_usage(&self, user: &str) -> Result<OfflineUsage, StoreError>;

    /// What all accounts have stored together (for metrics: one cheap read, not a scan).
    async fn offline_totals(&self) -> Result<OfflineUsage, StoreError>;

    /// Claims the delivery of `user`'s messages for `holder` until `expires_at` (milliseconds
    /// since the epoch): granted when nobody holds an unexpired claim, or `holder` itself does
    /// (a renewal).
    async fn offline_claim(
        &self,
        user: &str,
        holder: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError>;

    /// Gives a claim up (a claim of another holder is left alone).
    async fn offline_release(&self, user: &str, holder: &str) -> Result<(), StoreError>;
}
