//! Offline messages of the accounts, in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{SqliteStore, now};
use crate::storage::error::StoreError;
use crate::storage::offline::{OfflineMessage, OfflineStore};

#[async_trait]
impl OfflineStore for SqliteStore {
    async fn offline_push(&self, user: &str, stanza: &str) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO offline_messages (username, stanza, stored_at) VALUES (?, ?, ?)",
        )
        .bind(user)
        .bind(stanza)
        .bind(now())
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                Err(StoreError::NoSuchUser)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn offline_list(&self, user: &str) -> Result<Vec<OfflineMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, stanza, stored_at FROM offline_messages WHERE username = ? ORDER BY id",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let stored_at: String = row.try_get("stored_at")?;
                Ok(OfflineMessage {
                    id: row.try_get("id")?,
                    stanza: row.try_get("stanza")?,
                    stored_at: DateTime::parse_from_rfc3339(&stored_at)
                        .map_err(|e| StoreError::Corrupt(format!("offline timestamp: {e}")))?
                        .with_timezone(&Utc),
                })
            })
            .collect()
    }

    async fn offline_delete(&self, user: &str, ids: &[i64]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for id in ids {
            sqlx::query("DELETE FROM offline_messages WHERE username = ? AND id = ?")
                .bind(user)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
