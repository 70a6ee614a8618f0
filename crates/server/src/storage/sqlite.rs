//! The embedded SQLite store (WAL mode, one file in the data directory), with versioned
//! migrations applied at open.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use super::{OfflineMessage, RosterItem, Store, StoreError};
use crate::auth::scram::{ScramKeys, StoredCredentials};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) `switchboard.db` in `data_dir` and applies pending migrations.
    pub async fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("switchboard.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL survives a process crash; only an OS crash may lose the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::with_options(options).await
    }

    /// A private in-memory database (tests).
    pub async fn in_memory() -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        Self::with_options(options).await
    }

    async fn with_options(options: SqliteConnectOptions) -> Result<SqliteStore, StoreError> {
        let in_memory = options.get_filename().as_os_str() == ":memory:";
        let pool = SqlitePoolOptions::new()
            // Each in-memory connection would be its own database.
            .max_connections(if in_memory { 1 } else { 4 })
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

fn keys_from_row(row: &SqliteRow, prefix: &str) -> Result<ScramKeys, StoreError> {
    let iterations: i64 = row.try_get(format!("{prefix}_iterations").as_str())?;
    Ok(ScramKeys {
        salt: row.try_get(format!("{prefix}_salt").as_str())?,
        iterations: u32::try_from(iterations)
            .map_err(|_| StoreError::Corrupt(format!("{prefix}_iterations out of range")))?,
        stored_key: row.try_get(format!("{prefix}_stored_key").as_str())?,
        server_key: row.try_get(format!("{prefix}_server_key").as_str())?,
    })
}

fn now() -> String {
    Utc::now().to_rfc3339()
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, user: &str, creds: &StoredCredentials) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO users (username, sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,
                sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user)
        .bind(&creds.sha1.salt)
        .bind(i64::from(creds.sha1.iterations))
        .bind(&creds.sha1.stored_key)
        .bind(&creds.sha1.server_key)
        .bind(&creds.sha256.salt)
        .bind(i64::from(creds.sha256.iterations))
        .bind(&creds.sha256.stored_key)
        .bind(&creds.sha256.server_key)
        .bind(now())
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_user(&self, user: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM users WHERE username = ?")
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_users(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT username FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get("username").map_err(StoreError::from))
            .collect()
    }

    async fn credentials(&self, user: &str) -> Result<Option<StoredCredentials>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE username = ?")
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(StoredCredentials {
                sha1: keys_from_row(&row, "sha1")?,
                sha256: keys_from_row(&row, "sha256")?,
            })
        })
        .transpose()
    }

    async fn set_credentials(
        &self,
        user: &str,
        creds: &StoredCredentials,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET sha1_salt = ?, sha1_iterations = ?, sha1_stored_key = ?, sha1_server_key = ?,
                sha256_salt = ?, sha256_iterations = ?, sha256_stored_key = ?, sha256_server_key = ?
             WHERE username = ?",
        )
        .bind(&creds.sha1.salt)
        .bind(i64::from(creds.sha1.iterations))
        .bind(&creds.sha1.stored_key)
        .bind(&creds.sha1.server_key)
        .bind(&creds.sha256.salt)
        .bind(i64::from(creds.sha256.iterations))
        .bind(&creds.sha256.stored_key)
        .bind(&creds.sha256.server_key)
        .bind(user)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_token(&self, user: &str, token_hash: &[u8]) -> Result<(), StoreError> {
        let result =
            sqlx::query("INSERT INTO tokens (token_hash, username, created_at) VALUES (?, ?, ?)")
                .bind(token_hash)
                .bind(user)
                .bind(now())
                .execute(&self.pool)
                .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                Err(StoreError::NoSuchUser)
            }
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    async fn revoke_token(&self, token_hash: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM tokens WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn token_owner(&self, token_hash: &[u8]) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT username FROM tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("username")).transpose()?)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> StoredCredentials {
        StoredCredentials::derive("secret", 4096).unwrap()
    }

    async fn store() -> SqliteStore {
        SqliteStore::in_memory().await.unwrap()
    }

    #[tokio::test]
    async fn users_lifecycle() {
        let s = store().await;
        s.create_user("alice", &creds()).await.unwrap();
        assert!(matches!(
            s.create_user("alice", &creds()).await,
            Err(StoreError::Conflict)
        ));
        s.create_user("bob", &creds()).await.unwrap();
        assert_eq!(s.list_users().await.unwrap(), vec!["alice", "bob"]);
        let c = s.credentials("alice").await.unwrap().unwrap();
        assert!(c.verify_password("secret"));
        assert!(!c.verify_password("wrong"));
        let new = StoredCredentials::derive("other", 4096).unwrap();
        assert!(s.set_credentials("alice", &new).await.unwrap());
        assert!(
            s.credentials("alice")
                .await
                .unwrap()
                .unwrap()
                .verify_password("other")
        );
        assert!(s.delete_user("alice").await.unwrap());
        assert!(!s.delete_user("alice").await.unwrap());
        assert!(s.credentials("alice").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn tokens_follow_their_user() {
        let s = store().await;
        s.create_user("alice", &creds()).await.unwrap();
        s.create_token("alice", b"hash1").await.unwrap();
        assert_eq!(
            s.token_owner(b"hash1").await.unwrap().as_deref(),
            Some("alice")
        );
        assert!(matches!(
            s.create_token("nobody", b"hash2").await,
            Err(StoreError::NoSuchUser)
        ));
        assert!(s.revoke_token(b"hash1").await.unwrap());
        assert_eq!(s.token_owner(b"hash1").await.unwrap(), None);
        s.create_token("alice", b"hash3").await.unwrap();
        s.delete_user("alice").await.unwrap();
        assert_eq!(s.token_owner(b"hash3").await.unwrap(), None);
    }

    #[tokio::test]
    async fn roster_set_update_remove() {
        let s = store().await;
        s.create_user("alice", &creds()).await.unwrap();
        let mut item = RosterItem {
            jid: "bob@localhost".into(),
            name: Some("Bob".into()),
            subscription: "none".into(),
            ask: None,
            groups: vec!["Friends".into()],
        };
        s.roster_set("alice", &item).await.unwrap();
        item.name = None;
        item.groups = vec![];
        s.roster_set("alice", &item).await.unwrap();
        assert_eq!(s.roster("alice").await.unwrap(), vec![item]);
        assert!(s.roster_remove("alice", "bob@localhost").await.unwrap());
        assert!(s.roster("alice").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn offline_messages_keep_order() {
        let s = store().await;
        s.create_user("alice", &creds()).await.unwrap();
        s.offline_push("alice", "<message>1</message>")
            .await
            .unwrap();
        s.offline_push("alice", "<message>2</message>")
            .await
            .unwrap();
        let list = s.offline_list("alice").await.unwrap();
        assert_eq!(list.len(), 2);
        assert!(list[0].id < list[1].id);
        assert_eq!(list[0].stanza, "<message>1</message>");
        s.offline_delete("alice", &[list[0].id]).await.unwrap();
        assert_eq!(s.offline_list("alice").await.unwrap().len(), 1);
        assert!(matches!(
            s.offline_push("ghost", "<message/>").await,
            Err(StoreError::NoSuchUser)
        ));
    }

    #[tokio::test]
    async fn file_store_persists_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SqliteStore::open(dir.path()).await.unwrap();
            s.create_user("alice", &creds()).await.unwrap();
        }
        let s = SqliteStore::open(dir.path()).await.unwrap();
        assert_eq!(s.list_users().await.unwrap(), vec!["alice"]);
    }
}
