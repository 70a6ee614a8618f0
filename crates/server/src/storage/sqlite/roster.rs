//! Roster items and roster versions of the accounts, in SQLite; every change and its version
//! bump are one transaction.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::{SqliteStore, now_ms};
use crate::storage::error::StoreError;
use crate::storage::roster::{RosterChange, RosterItem, RosterStore, RosterVersion};

fn item_from_row(row: &SqliteRow) -> Result<RosterItem, StoreError> {
    let groups: String = row.try_get("groups")?;
    Ok(RosterItem {
        jid: row.try_get("jid")?,
        name: row.try_get("name")?,
        subscription: row.try_get("subscription")?,
        ask: row.try_get("ask")?,
        groups: serde_json::from_str(&groups)
            .map_err(|e| StoreError::Corrupt(format!("roster groups: {e}")))?,
    })
}

fn groups_json(groups: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(groups).map_err(|e| StoreError::Corrupt(format!("roster groups: {e}")))
}

/// A write for an account that does not exist is `NoSuchUser`.
fn write_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NoSuchUser,
        e => e.into(),
    }
}

/// Raises `user`'s roster version inside `tx`: one more than before, and never below the clock.
async fn bump(tx: &mut Transaction<'_, Sqlite>, user: &str) -> Result<RosterVersion, StoreError> {
    let row = sqlx::query(
        "INSERT INTO roster_versions (username, version) VALUES (?, ?)
         ON CONFLICT (username) DO UPDATE SET version = max(version + 1, excluded.version)
         RETURNING version",
    )
    .bind(user)
    .bind(now_ms())
    .fetch_one(&mut **tx)
    .await
    .map_err(write_error)?;
    Ok(row.try_get("version")?)
}

impl SqliteStore {
    /// Runs one upsert of an item returning its columns, and the version bump, atomically.
    async fn change_item(
        &self,
        user: &str,
        query: sqlx::query::Query<'_, Sqlite, <Sqlite as sqlx::Database>::Arguments>,
    ) -> Result<RosterChange, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = query.fetch_one(&mut *tx).await.map_err(write_error)?;
        let item = item_from_row(&row)?;
        let version = bump(&mut tx, user).await?;
        tx.commit().await?;
        Ok(RosterChange { item, version })
    }
}

#[async_trait]
impl RosterStore for SqliteStore {
    async fn roster(&self, user: &str) -> Result<Vec<RosterItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT jid, name, subscription, ask, groups FROM roster_items WHERE username = ?
             ORDER BY jid",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(item_from_row).collect()
    }

    async fn roster_item(&self, user: &str, jid: &str) -> Result<Option<RosterItem>, StoreError> {
        let row = sqlx::query(
            "SELECT jid, name, subscription, ask, groups FROM roster_items
             WHERE username = ? AND jid = ?",
        )
        .bind(user)
        .bind(jid)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(item_from_row).transpose()
    }

    async fn roster_version(&self, user: &str) -> Result<RosterVersion, StoreError> {
        let row = sqlx::query("SELECT version FROM roster_versions WHERE username = ?")
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get("version")?,
            None => 0,
        })
    }

    async fn roster_set(&self, user: &str, item: &RosterItem) -> Result<RosterVersion, StoreError> {
        let groups = groups_json(&item.groups)?;
        let query = sqlx::query(
            "INSERT INTO roster_items (username, jid, name, subscription, ask, groups) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (username, jid) DO UPDATE SET name = excluded.name, groups = excluded.groups,
                subscription = excluded.subscription, ask = excluded.ask
             RETURNING jid, name, subscription, ask, groups",
        )
        .bind(user)
        .bind(&item.jid)
        .bind(&item.name)
        .bind(&item.subscription)
        .bind(&item.ask)
        .bind(groups);
        Ok(self.change_item(user, query).await?.version)
    }

    async fn roster_set_details(
        &self,
        user: &str,
        jid: &str,
        name: Option<&str>,
        groups: &[String],
    ) -> Result<RosterChange, StoreError> {
        let query = sqlx::query(
            "INSERT INTO roster_items (username, jid, name, groups) VALUES (?, ?, ?, ?)
             ON CONFLICT (username, jid) DO UPDATE SET name = excluded.name, groups = excluded.groups
             RETURNING jid, name, subscription, ask, groups",
        )
        .bind(user)
        .bind(jid)
        .bind(name)
        .bind(groups_json(groups)?);
        self.change_item(user, query).await
    }

    async fn roster_set_subscription(
        &self,
        user: &str,
        jid: &str,
        subscription: &str,
        ask: Option<&str>,
    ) -> Result<RosterChange, StoreError> {
        let query = sqlx::query(
            "INSERT INTO roster_items (username, jid, subscription, ask) VALUES (?, ?, ?, ?)
             ON CONFLICT (username, jid) DO UPDATE SET subscription = excluded.subscription,
                ask = excluded.ask
             RETURNING jid, name, subscription, ask, groups",
        )
        .bind(user)
        .bind(jid)
        .bind(subscription)
        .bind(ask);
        self.change_item(user, query).await
    }

    async fn roster_remove(
        &self,
        user: &str,
        jid: &str,
    ) -> Result<Option<RosterVersion>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM roster_items WHERE username = ? AND jid = ?")
            .bind(user)
            .bind(jid)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let version = bump(&mut tx, user).await?;
        tx.commit().await?;
        Ok(Some(version))
    }
}
