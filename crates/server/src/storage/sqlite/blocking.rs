//! Blocklists of the accounts, in SQLite.

use async_trait::async_trait;
use sqlx::Row;

use super::{SqliteStore, now};
use crate::storage::blocking::BlockingStore;
use crate::storage::error::StoreError;

#[async_trait]
impl BlockingStore for SqliteStore {
    async fn blocklist(&self, user: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT jid FROM blocklist WHERE username = ? ORDER BY jid")
            .bind(user)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| Ok(row.try_get("jid")?)).collect()
    }

    async fn block(&self, user: &str, jids: &[String]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let created_at = now();
        for jid in jids {
            let inserted = sqlx::query(
                "INSERT INTO blocklist (username, jid, created_at) VALUES (?, ?, ?)
                 ON CONFLICT (username, jid) DO NOTHING",
            )
            .bind(user)
            .bind(jid)
            .bind(&created_at)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {}
                Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                    return Err(StoreError::NoSuchUser);
                }
                Err(e) => return Err(e.into()),
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn unblock(&self, user: &str, jids: &[String]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for jid in jids {
            sqlx::query("DELETE FROM blocklist WHERE username = ? AND jid = ?")
                .bind(user)
                .bind(jid)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn unblock_all(&self, user: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM blocklist WHERE username = ?")
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
