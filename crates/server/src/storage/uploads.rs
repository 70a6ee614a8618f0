//! HTTP File Upload slots and files (XEP-0363): who asked for which file, its announced size
//! and type, and whether its PUT completed. Backends implement [`UploadStore`].

use async_trait::async_trait;

use super::error::StoreError;

/// A slot as handed out; `completed_at` is set once its file is stored whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    pub user: String,
    pub filename: String,
    pub size: u64,
    pub content_type: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds after which a pending slot no longer takes its PUT.
    pub slot_expires_at: i64,
    pub completed_at: Option<i64>,
}

#[async_trait]
pub trait UploadStore: Send + Sync {
    /// Records a new slot (`completed_at` ignored) if the user's files, counting the pending
    /// slots still open at `upload.created_at`, stay within `quota` bytes with it. `false`:
    /// over quota, nothing recorded.
    async fn reserve_upload(&self, upload: &Upload, quota: u64) -> Result<bool, StoreError>;

    async fn upload(&self, id: &str) -> Result<Option<Upload>, StoreError>;

    /// Marks a pending slot complete; `false` when it was already complete or does not exist.
    async fn complete_upload(&self, id: &str, at: i64) -> Result<bool, StoreError>;

    /// Ids of the uploads to purge: files completed before `completed_before` (when given) and
    /// pending slots whose PUT window closed before `now`; at most `limit`, oldest first.
    async fn stale_uploads(
        &self,
        completed_before: Option<i64>,
        now: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;

    async fn delete_upload(&self, id: &str) -> Result<(), StoreError>;
}
