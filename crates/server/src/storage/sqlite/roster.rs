//! Roster items of the accounts, in SQLite.

use async_trait::async_trait;
use sqlx::Row;

use super::SqliteStore;
use crate::storage::error::StoreError;
use crate::storage::roster::{RosterItem, RosterStore};

#[async_trait]
impl RosterStore for SqliteStore {
    async fn roster(&self, user: &str) -> Result<Vec<RosterItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT jid, name, subscription, ask, groups FROM roster_items WHERE username = ? ORDER BY jid",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let groups: String = row.try_get("groups")?;
                Ok(RosterItem {
                    jid: row.try_get("jid")?,
                    name: row.try_get("name")?,
                    subscription: row.try_get("subscription")?,
                    ask: row.try_get("ask")?,
                    groups: serde_json::from_str(&groups)
                        .map_err(|e| StoreError::Corrupt(format!("roster groups: {e}")))?,
                })
            })
            .collect()
    }

    async fn roster_set(&self, user: &str, item: &RosterItem) -> Result<(), StoreError> {
        let groups = serde_json::to_string(&item.groups)
            .map_err(|e| StoreError::Corrupt(format!("roster groups: {e}")))?;
        sqlx::query(
            "INSERT INTO roster_items (username, jid, name, subscription, ask, groups) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (username, jid) DO UPDATE SET name = excluded.name, groups = excluded.groups,
                subscription = excluded.subscription, ask = excluded.ask",
        )
        .bind(user)
        .bind(&item.jid)
        .bind(&item.name)
        .bind(&item.subscription)
        .bind(&item.ask)
        .bind(groups)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn roster_remove(&self, user: &str, jid: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM roster_items WHERE username = ? AND jid = ?")
            .bind(user)
            .bind(jid)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
