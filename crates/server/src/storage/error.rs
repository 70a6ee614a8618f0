//! What a store can fail with, whatever its backend.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    #[error("no such account")]
    NoSuchUser,
    /// The account's offline storage is full.
    #[error("offline storage quota exceeded")]
    QuotaExceeded,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}
