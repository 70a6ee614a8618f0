//! The webhook outbox: stanzas accepted for callbacks, waiting, retried or dead-lettered.
//! Backends implement [`OutboxStore`]; each is run through the same tests.

use async_trait::async_trait;

use super::error::StoreError;

/// A stanza waiting in the webhook outbox, or a dead letter when `dead_at` is set.
/// Times are milliseconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    /// Stable across retries: sent as `X-Switchboard-Delivery`.
    pub delivery_id: String,
    /// The callback's owner: a component domain or an account's bare JID.
    pub owner: String,
    /// Bare JID the stanza is addressed to; entries of one destination go out in id order.
    pub destination: String,
    pub kind: String,
    pub stanza: String,
    pub created_at: i64,
    pub attempts: u32,
    pub next_attempt_at: i64,
    /// When an iq's sender gets an error reply instead of waiting longer.
    pub deadline: Option<i64>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub dead_at: Option<i64>,
}

/// What is written to the outbox when a stanza is accepted for a callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOutboxEntry {
    pub delivery_id: String,
    pub owner: String,
    pub destination: String,
    pub kind: String,
    pub stanza: String,
    pub created_at: i64,
    pub deadline: Option<i64>,
}

/// Entries waiting and dead-lettered for one callback owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxDepth {
    pub owner: String,
    pub pending: u64,
    pub dead: u64,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    async fn outbox_push(&self, entry: &NewOutboxEntry) -> Result<i64, StoreError>;

    async fn outbox_heads(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError>;

    async fn outbox_delete(&self, id: i64) -> Result<(), StoreError>;

    async fn outbox_retry(
        &self,
        id: i64,
        next_attempt_at: i64,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), StoreError>;

    async fn outbox_bury(
        &self,
        id: i64,
        dead_at: i64,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), StoreError>;

    async fn outbox_dead_letters(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError>;

    async fn outbox_redrive(&self, delivery_id: &str, now: i64) -> Result<bool, StoreError>;

    async fn outbox_depth(&self) -> Result<Vec<OutboxDepth>, StoreError>;
}
