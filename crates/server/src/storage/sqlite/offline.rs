//! Offline messages of the accounts, in SQLite: quota-checked inserts against totals kept by
//! triggers (migration 0003), batches by id, and the per-account delivery claim.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{SqliteStore, limit, now};
use crate::storage::error::StoreError;
use crate::storage::offline::{OfflineMessage, OfflineQuota, OfflineStore, OfflineUsage};

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

#[async_trait]
impl OfflineStore for SqliteStore {
    async fn offline_push(
        &self,
        user: &str,
        stanza: &str,
        quota: OfflineQuota,
    ) -> Result<(), StoreError> {
        let bytes = int(stanza.len() as u64);
        // One statement: the quota check and the insert cannot be split by another writer.
        let result = sqlx::query(
            "INSERT INTO offline_messages (username, stanza, stored_at, bytes)
             SELECT ?1, ?2, ?3, ?4
             WHERE ?5 > 0 AND ?4 <= ?6 AND NOT EXISTS (
                SELECT 1 FROM offline_usage
                WHERE username = ?1 AND (messages >= ?5 OR bytes + ?4 > ?6))",
        )
        .bind(user)
        .bind(stanza)
        .bind(now())
        .bind(bytes)
        .bind(int(quota.max_messages))
        .bind(int(quota.max_bytes))
        .execute(&self.pool)
        .await;
        match result {
            Ok(done) if done.rows_affected() == 0 => Err(StoreError::QuotaExceeded),
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                Err(StoreError::NoSuchUser)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn offline_batch(
        &self,
        user: &str,
        after: i64,
        max: usize,
    ) -> Result<Vec<OfflineMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, stanza, stored_at FROM offline_messages WHERE username = ? AND id > ?
             ORDER BY id LIMIT ?",
        )
        .bind(user)
        .bind(after)
        .bind(limit(max))
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

    async fn offline_usage(&self, user: &str) -> Result<OfflineUsage, StoreError> {
        let row = sqlx::query("SELECT messages, bytes FROM offline_usage WHERE username = ?")
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(OfflineUsage {
                messages: count(row.try_get("messages")?),
                bytes: count(row.try_get("bytes")?),
            }),
            None => Ok(OfflineUsage::default()),
        }
    }

    async fn offline_totals(&self) -> Result<OfflineUsage, StoreError> {
        // The per-account totals kept by triggers: one row per account with stored messages.
        let row = sqlx::query(
            "SELECT COALESCE(SUM(messages), 0) AS messages, COALESCE(SUM(bytes), 0) AS bytes
             FROM offline_usage",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(OfflineUsage {
            messages: count(row.try_get("messages")?),
            bytes: count(row.try_get("bytes")?),
        })
    }

    async fn offline_claim(
        &self,
        user: &str,
        holder: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO offline_claims (username, holder, expires_at) VALUES (?1, ?2, ?4)
             ON CONFLICT (username) DO UPDATE SET holder = excluded.holder,
                expires_at = excluded.expires_at
             WHERE offline_claims.holder = excluded.holder OR offline_claims.expires_at <= ?3",
        )
        .bind(user)
        .bind(holder)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(done) => Ok(done.rows_affected() > 0),
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                Err(StoreError::NoSuchUser)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn offline_release(&self, user: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM offline_claims WHERE username = ? AND holder = ?")
            .bind(user)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
