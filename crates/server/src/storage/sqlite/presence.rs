//! Pending inbound subscription requests of the accounts, in SQLite, one row per requester
//! (a repeated request replaces the stored one).

use async_trait::async_trait;
use sqlx::Row;

use super::{SqliteStore, limit, now};
use crate::storage::error::StoreError;
use crate::storage::presence::{PresenceStore, SubscriptionRequest};

#[async_trait]
impl PresenceStore for SqliteStore {
    async fn request_set(&self, user: &str, jid: &str, stanza: &str) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO subscription_requests (username, jid, stanza, received_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (username, jid) DO UPDATE SET stanza = excluded.stanza,
                received_at = excluded.received_at",
        )
        .bind(user)
        .bind(jid)
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

    async fn request_remove(&self, user: &str, jid: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM subscription_requests WHERE username = ? AND jid = ?")
            .bind(user)
            .bind(jid)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn request_exists(&self, user: &str, jid: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM subscription_requests WHERE username = ? AND jid = ?")
            .bind(user)
            .bind(jid)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn requests(
        &self,
        user: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<SubscriptionRequest>, StoreError> {
        let rows = sqlx::query(
            "SELECT jid, stanza FROM subscription_requests WHERE username = ? AND jid > ?
             ORDER BY jid LIMIT ?",
        )
        .bind(user)
        .bind(after.unwrap_or_default())
        .bind(limit(max))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SubscriptionRequest {
                    jid: row.try_get("jid")?,
                    stanza: row.try_get("stanza")?,
                })
            })
            .collect()
    }
}
