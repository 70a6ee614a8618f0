//! HTTP File Upload slots in SQLite; the quota check and the insert are one statement.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::SqliteStore;
use crate::storage::error::StoreError;
use crate::storage::uploads::{Upload, UploadStore};

fn size(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn stored(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn row_to_upload(row: &SqliteRow) -> Result<Upload, StoreError> {
    Ok(Upload {
        id: row.try_get("id")?,
        user: row.try_get("username")?,
        filename: row.try_get("filename")?,
        size: size(row.try_get("size")?),
        content_type: row.try_get("content_type")?,
        created_at: row.try_get("created_at")?,
        slot_expires_at: row.try_get("slot_expires_at")?,
        completed_at: row.try_get("completed_at")?,
    })
}

#[async_trait]
impl UploadStore for SqliteStore {
    async fn reserve_upload(&self, upload: &Upload, quota: u64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO uploads
                 (id, username, filename, size, content_type, created_at, slot_expires_at)
             SELECT ?, ?, ?, ?, ?, ?, ?
             WHERE (SELECT COALESCE(SUM(size), 0) FROM uploads
                    WHERE username = ? AND (completed_at IS NOT NULL OR slot_expires_at > ?))
                   + ? <= ?",
        )
        .bind(&upload.id)
        .bind(&upload.user)
        .bind(&upload.filename)
        .bind(stored(upload.size))
        .bind(&upload.content_type)
        .bind(upload.created_at)
        .bind(upload.slot_expires_at)
        .bind(&upload.user)
        .bind(upload.created_at)
        .bind(stored(upload.size))
        .bind(stored(quota))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn upload(&self, id: &str) -> Result<Option<Upload>, StoreError> {
        let row = sqlx::query("SELECT * FROM uploads WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_upload).transpose()
    }

    async fn complete_upload(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE uploads SET completed_at = ? WHERE id = ? AND completed_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn stale_uploads(
        &self,
        completed_before: Option<i64>,
        now: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM uploads
             WHERE (completed_at IS NULL AND slot_expires_at <= ?)
                OR (completed_at IS NOT NULL AND completed_at < ?)
             ORDER BY created_at LIMIT ?",
        )
        .bind(now)
        .bind(completed_before.unwrap_or(i64::MIN))
        .bind(super::limit(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    async fn delete_upload(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
