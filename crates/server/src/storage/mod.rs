//! Persistent state behind one trait, so that SQLite (embedded default) and PostgreSQL can both
//! serve it; implementations live in a file each and run the same test suite.

mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use sqlite::SqliteStore;

use switchboard_xmpp::sasl::StoredCredentials;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    #[error("no such account")]
    NoSuchUser,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// One entry of a user's roster (RFC 6121 §2.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterItem {
    pub jid: String,
    pub name: Option<String>,
    pub subscription: String,
    pub ask: Option<String>,
    pub groups: Vec<String>,
}

/// A stanza held for a user with no available resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfflineMessage {
    pub id: i64,
    pub stanza: String,
    pub stored_at: DateTime<Utc>,
}

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

/// An account's callback registered through the admin API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserCallbackRow {
    pub username: String,
    pub url: String,
    pub content_type: Option<String>,
    pub stanzas: Option<Vec<String>>,
    pub events: Option<Vec<String>>,
    pub secret: Option<String>,
}

/// Everything the server persists. Usernames are nodeprep'd localparts of the served domain.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn create_user(&self, user: &str, creds: &StoredCredentials) -> Result<(), StoreError>;
    async fn delete_user(&self, user: &str) -> Result<bool, StoreError>;
    async fn list_users(&self) -> Result<Vec<String>, StoreError>;
    async fn credentials(&self, user: &str) -> Result<Option<StoredCredentials>, StoreError>;
    async fn set_credentials(
        &self,
        user: &str,
        creds: &StoredCredentials,
    ) -> Result<bool, StoreError>;

    async fn create_token(&self, user: &str, token_hash: &[u8]) -> Result<(), StoreError>;
    async fn revoke_token(&self, token_hash: &[u8]) -> Result<bool, StoreError>;
    async fn token_owner(&self, token_hash: &[u8]) -> Result<Option<String>, StoreError>;

    async fn roster(&self, user: &str) -> Result<Vec<RosterItem>, StoreError>;
    async fn roster_set(&self, user: &str, item: &RosterItem) -> Result<(), StoreError>;
    async fn roster_remove(&self, user: &str, jid: &str) -> Result<bool, StoreError>;

    async fn offline_push(&self, user: &str, stanza: &str) -> Result<(), StoreError>;
    async fn offline_list(&self, user: &str) -> Result<Vec<OfflineMessage>, StoreError>;
    async fn offline_delete(&self, user: &str, ids: &[i64]) -> Result<(), StoreError>;

    /// Appends to the webhook outbox; returns the entry's id.
    async fn outbox_push(&self, entry: &NewOutboxEntry) -> Result<i64, StoreError>;
    /// The oldest pending entry of each destination, soonest due first.
    async fn outbox_heads(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError>;
    async fn outbox_delete(&self, id: i64) -> Result<(), StoreError>;
    /// Records a failed attempt and when to try again.
    async fn outbox_retry(
        &self,
        id: i64,
        next_attempt_at: i64,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), StoreError>;
    /// Records a last failed attempt and turns the entry into a dead letter.
    async fn outbox_bury(
        &self,
        id: i64,
        dead_at: i64,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), StoreError>;
    /// Dead letters, oldest first.
    async fn outbox_dead_letters(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Puts a dead letter back in line as if it had just arrived; false if there is none.
    async fn outbox_redrive(&self, delivery_id: &str, now: i64) -> Result<bool, StoreError>;
    async fn outbox_depth(&self) -> Result<Vec<OutboxDepth>, StoreError>;

    /// The stored signing key of `owner`, storing `candidate` first if there is none yet.
    async fn webhook_secret(&self, owner: &str, candidate: &str) -> Result<String, StoreError>;
    async fn webhook_users(&self) -> Result<Vec<UserCallbackRow>, StoreError>;
    /// Creates or replaces an account's callback; `NoSuchUser` if the account does not exist.
    async fn webhook_user_set(&self, row: &UserCallbackRow) -> Result<(), StoreError>;
    async fn webhook_user_delete(&self, username: &str) -> Result<bool, StoreError>;
}
