//! Persistent state behind one trait, so that SQLite (embedded default) and PostgreSQL can both
//! serve it; implementations live in a file each and run the same test suite.

mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use sqlite::SqliteStore;

use crate::auth::scram::StoredCredentials;

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
}
