//! PEP nodes and items of the accounts, in SQLite.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use switchboard_xmpp::pep::{AccessModel, NodeConfig, SendLast};

use super::{SqliteStore, limit};
use crate::storage::error::StoreError;
use crate::storage::pep::{Created, PepStore, StoredItem, StoredNode};

fn config_of(row: &SqliteRow) -> Result<NodeConfig, StoreError> {
    let access: String = row.try_get("access_model")?;
    let send_last: String = row.try_get("send_last")?;
    let max_items: i64 = row.try_get("max_items")?;
    Ok(NodeConfig {
        access_model: AccessModel::parse(&access)
            .ok_or_else(|| StoreError::Corrupt(format!("access model {access}")))?,
        persist_items: row.try_get("persist_items")?,
        max_items: u32::try_from(max_items)
            .map_err(|_| StoreError::Corrupt(format!("max_items {max_items}")))?,
        send_last: SendLast::parse(&send_last)
            .ok_or_else(|| StoreError::Corrupt(format!("send_last {send_last}")))?,
    })
}

fn item_of(row: &SqliteRow) -> Result<StoredItem, StoreError> {
    Ok(StoredItem {
        id: row.try_get("item_id")?,
        payload: row.try_get("payload")?,
    })
}

/// Drops the oldest items of a node beyond the `keep` newest.
async fn trim(
    conn: &mut sqlx::SqliteConnection,
    user: &str,
    node: &str,
    keep: u32,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM pep_items WHERE username = ? AND node = ? AND seq NOT IN
         (SELECT seq FROM pep_items WHERE username = ? AND node = ? ORDER BY seq DESC LIMIT ?)",
    )
    .bind(user)
    .bind(node)
    .bind(user)
    .bind(node)
    .bind(i64::from(keep))
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl PepStore for SqliteStore {
    async fn pep_node(&self, user: &str, node: &str) -> Result<Option<NodeConfig>, StoreError> {
        let row = sqlx::query("SELECT * FROM pep_nodes WHERE username = ? AND node = ?")
            .bind(user)
            .bind(node)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(config_of).transpose()
    }

    async fn pep_nodes(&self, user: &str) -> Result<Vec<StoredNode>, StoreError> {
        let rows = sqlx::query("SELECT * FROM pep_nodes WHERE username = ? ORDER BY node")
            .bind(user)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredNode {
                    node: row.try_get("node")?,
                    config: config_of(row)?,
                })
            })
            .collect()
    }

    async fn pep_create(
        &self,
        user: &str,
        node: &str,
        config: &NodeConfig,
        max_nodes: usize,
    ) -> Result<Created, StoreError> {
        // One statement that writes: a transaction reading first could not take the write lock
        // once another connection wrote meanwhile (SQLite answers busy at once, not after the
        // busy timeout).
        let inserted = sqlx::query(
            "INSERT INTO pep_nodes (username, node, access_model, persist_items, max_items,
             send_last)
             SELECT ?, ?, ?, ?, ?, ?
             WHERE (SELECT COUNT(*) FROM pep_nodes WHERE username = ?) < ?
             ON CONFLICT (username, node) DO NOTHING",
        )
        .bind(user)
        .bind(node)
        .bind(config.access_model.as_str())
        .bind(config.persist_items)
        .bind(i64::from(config.max_items))
        .bind(config.send_last.as_str())
        .bind(user)
        .bind(limit(max_nodes))
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(done) if done.rows_affected() > 0 => Ok(Created::Created),
            Ok(_) => Ok(if self.pep_node(user, node).await?.is_some() {
                Created::Exists
            } else {
                Created::TooMany
            }),
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                Err(StoreError::NoSuchUser)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn pep_configure(
        &self,
        user: &str,
        node: &str,
        config: &NodeConfig,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE pep_nodes SET access_model = ?, persist_items = ?, max_items = ?,
             send_last = ? WHERE username = ? AND node = ?",
        )
        .bind(config.access_model.as_str())
        .bind(config.persist_items)
        .bind(i64::from(config.max_items))
        .bind(config.send_last.as_str())
        .bind(user)
        .bind(node)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        trim(&mut tx, user, node, config.kept()).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn pep_delete(&self, user: &str, node: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM pep_nodes WHERE username = ? AND node = ?")
            .bind(user)
            .bind(node)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn pep_publish(
        &self,
        user: &str,
        node: &str,
        item: &StoredItem,
        keep: u32,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO pep_items (username, node, item_id, seq, payload)
             VALUES (?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM pep_items
                               WHERE username = ? AND node = ?), ?)
             ON CONFLICT (username, node, item_id)
             DO UPDATE SET seq = excluded.seq, payload = excluded.payload",
        )
        .bind(user)
        .bind(node)
        .bind(&item.id)
        .bind(user)
        .bind(node)
        .bind(&item.payload)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        trim(&mut tx, user, node, keep).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn pep_retract(
        &self,
        user: &str,
        node: &str,
        ids: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut removed = Vec::new();
        for id in ids {
            let done = sqlx::query(
                "DELETE FROM pep_items WHERE username = ? AND node = ? AND item_id = ?",
            )
            .bind(user)
            .bind(node)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() > 0 {
                removed.push(id.clone());
            }
        }
        tx.commit().await?;
        Ok(removed)
    }

    async fn pep_items(
        &self,
        user: &str,
        node: &str,
        max: Option<u32>,
    ) -> Result<Vec<StoredItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT item_id, payload FROM (SELECT * FROM pep_items WHERE username = ? AND node = ?
             ORDER BY seq DESC LIMIT ?) ORDER BY seq",
        )
        .bind(user)
        .bind(node)
        .bind(max.map_or(-1, i64::from))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(item_of).collect()
    }

    async fn pep_items_by_id(
        &self,
        user: &str,
        node: &str,
        ids: &[String],
    ) -> Result<Vec<StoredItem>, StoreError> {
        let mut found: Vec<(i64, StoredItem)> = Vec::new();
        for id in ids {
            let row = sqlx::query(
                "SELECT item_id, payload, seq FROM pep_items
                 WHERE username = ? AND node = ? AND item_id = ?",
            )
            .bind(user)
            .bind(node)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = row
                && !found.iter().any(|(_, item)| &item.id == id)
            {
                found.push((row.try_get("seq")?, item_of(&row)?));
            }
        }
        found.sort_by_key(|(seq, _)| *seq);
        Ok(found.into_iter().map(|(_, item)| item).collect())
    }

    async fn pep_purge(&self, user: &str, node: &str) -> Result<bool, StoreError> {
        sqlx::query("DELETE FROM pep_items WHERE username = ? AND node = ?")
            .bind(user)
            .bind(node)
            .execute(&self.pool)
            .await?;
        Ok(self.pep_node(user, node).await?.is_some())
    }
}
