//! The webhook outbox, in SQLite.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, is_unique_violation, limit};
use crate::storage::error::StoreError;
use crate::storage::outbox::{NewOutboxEntry, OutboxDepth, OutboxEntry, OutboxStore};

fn outbox_from_row(row: &SqliteRow) -> Result<OutboxEntry, StoreError> {
    let attempts: i64 = row.try_get("attempts")?;
    let last_status: Option<i64> = row.try_get("last_status")?;
    Ok(OutboxEntry {
        id: row.try_get("id")?,
        delivery_id: row.try_get("delivery_id")?,
        owner: row.try_get("owner")?,
        destination: row.try_get("destination")?,
        kind: row.try_get("kind")?,
        stanza: row.try_get("stanza")?,
        created_at: row.try_get("created_at")?,
        attempts: u32::try_from(attempts)
            .map_err(|_| StoreError::Corrupt("outbox attempts out of range".into()))?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        deadline: row.try_get("deadline")?,
        last_status: last_status
            .map(u16::try_from)
            .transpose()
            .map_err(|_| StoreError::Corrupt("outbox status out of range".into()))?,
        last_error: row.try_get("last_error")?,
        dead_at: row.try_get("dead_at")?,
    })
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn outbox_push(&self, entry: &NewOutboxEntry) -> Result<i64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO webhook_outbox (delivery_id, owner, destination, kind, stanza, created_at,
                next_attempt_at, deadline)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&entry.delivery_id)
        .bind(&entry.owner)
        .bind(&entry.destination)
        .bind(&entry.kind)
        .bind(&entry.stanza)
        .bind(entry.created_at)
        .bind(entry.created_at)
        .bind(entry.deadline)
        .execute(&self.pool)
        .await;
        match done {
            Ok(done) => Ok(done.last_insert_rowid()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    async fn outbox_heads(&self, limit_to: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        // The partial index on (destination, id) answers the MIN per destination.
        let rows = sqlx::query(
            "SELECT id, delivery_id, owner, destination, kind, stanza, created_at, attempts,
                next_attempt_at, deadline, last_status, last_error, dead_at
             FROM webhook_outbox WHERE id IN (
                 SELECT MIN(id) FROM webhook_outbox WHERE dead_at IS NULL GROUP BY destination)
             ORDER BY next_attempt_at, id LIMIT ?",
        )
        .bind(limit(limit_to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_from_row).collect()
    }

    async fn outbox_delete(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM webhook_outbox WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn outbox_retry(
        &self,
        id: i64,
        next_attempt_at: i64,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = ?,
                last_status = ?, last_error = ? WHERE id = ?",
        )
        .bind(next_attempt_at)
        .bind(status.map(i64::from))
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn outbox_bury(
        &self,
        id: i64,
        dead_at: i64,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhook_outbox SET attempts = attempts + 1, dead_at = ?, last_status = ?,
                last_error = ? WHERE id = ?",
        )
        .bind(dead_at)
        .bind(status.map(i64::from))
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn outbox_dead_letters(&self, limit_to: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, delivery_id, owner, destination, kind, stanza, created_at, attempts,
                next_attempt_at, deadline, last_status, last_error, dead_at
             FROM webhook_outbox WHERE dead_at IS NOT NULL ORDER BY dead_at, id LIMIT ?",
        )
        .bind(limit(limit_to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_from_row).collect()
    }

    async fn outbox_redrive(&self, delivery_id: &str, now: i64) -> Result<bool, StoreError> {
        // A fresh age and attempt count: max_age and max_attempts apply anew.
        let done = sqlx::query(
            "UPDATE webhook_outbox SET dead_at = NULL, attempts = 0, created_at = ?,
                next_attempt_at = ? WHERE delivery_id = ? AND dead_at IS NOT NULL",
        )
        .bind(now)
        .bind(now)
        .bind(delivery_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn outbox_depth(&self) -> Result<Vec<OutboxDepth>, StoreError> {
        let rows = sqlx::query(
            "SELECT owner, SUM(dead_at IS NULL) AS pending, SUM(dead_at IS NOT NULL) AS dead
             FROM webhook_outbox GROUP BY owner ORDER BY owner",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let pending: i64 = row.try_get("pending")?;
                let dead: i64 = row.try_get("dead")?;
                Ok(OutboxDepth {
                    owner: row.try_get("owner")?,
                    pending: u64::try_from(pending).unwrap_or_default(),
                    dead: u64::try_from(dead).unwrap_or_default(),
                })
            })
            .collect()
    }
}
