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

use super::{
    NewOutboxEntry, OfflineMessage, OutboxDepth, OutboxEntry, RosterItem, Store, StoreError,
    UserCallbackRow,
};
use switchboard_xmpp::sasl::{ScramKeys, StoredCredentials};

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

type SqliteQuery<'q> =
    sqlx::query::Query<'q, sqlx::Sqlite, <sqlx::Sqlite as sqlx::Database>::Arguments>;

/// Binds both SCRAM key sets in the column order `users` declares them.
fn bind_keys<'q>(query: SqliteQuery<'q>, creds: &'q StoredCredentials) -> SqliteQuery<'q> {
    query
        .bind(&creds.sha1.salt)
        .bind(i64::from(creds.sha1.iterations))
        .bind(&creds.sha1.stored_key)
        .bind(&creds.sha1.server_key)
        .bind(&creds.sha256.salt)
        .bind(i64::from(creds.sha256.iterations))
        .bind(&creds.sha256.stored_key)
        .bind(&creds.sha256.server_key)
}

fn now() -> String {
    Utc::now().to_rfc3339()
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

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

fn json_list(list: &Option<Vec<String>>) -> Result<Option<String>, StoreError> {
    list.as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("webhook list: {e}")))
}

fn parse_list(row: &SqliteRow, column: &str) -> Result<Option<Vec<String>>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("webhook {column}: {e}")))
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, user: &str, creds: &StoredCredentials) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO users (username, sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,
                sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user);
        let result = bind_keys(query, creds)
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
        let query = sqlx::query(
            "UPDATE users SET sha1_salt = ?, sha1_iterations = ?, sha1_stored_key = ?, sha1_server_key = ?,
                sha256_salt = ?, sha256_iterations = ?, sha256_stored_key = ?, sha256_server_key = ?
             WHERE username = ?",
        )
        ;
        let done = bind_keys(query, creds)
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

    async fn webhook_secret(&self, owner: &str, candidate: &str) -> Result<String, StoreError> {
        // Two processes (server and CLI) may race here; the first insert wins for both.
        sqlx::query(
            "INSERT INTO webhook_secrets (owner, secret, created_at) VALUES (?, ?, ?)
             ON CONFLICT (owner) DO NOTHING",
        )
        .bind(owner)
        .bind(candidate)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT secret FROM webhook_secrets WHERE owner = ?")
            .bind(owner)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("secret")?)
    }

    async fn webhook_users(&self) -> Result<Vec<UserCallbackRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT username, url, content_type, stanzas, events, secret FROM webhook_users
             ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(UserCallbackRow {
                    username: row.try_get("username")?,
                    url: row.try_get("url")?,
                    content_type: row.try_get("content_type")?,
                    stanzas: parse_list(row, "stanzas")?,
                    events: parse_list(row, "events")?,
                    secret: row.try_get("secret")?,
                })
            })
            .collect()
    }

    async fn webhook_user_set(&self, row: &UserCallbackRow) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO webhook_users (username, url, content_type, stanzas, events, secret,
                updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (username) DO UPDATE SET url = excluded.url,
                content_type = excluded.content_type, stanzas = excluded.stanzas,
                events = excluded.events, secret = excluded.secret,
                updated_at = excluded.updated_at",
        )
        .bind(&row.username)
        .bind(&row.url)
        .bind(&row.content_type)
        .bind(json_list(&row.stanzas)?)
        .bind(json_list(&row.events)?)
        .bind(&row.secret)
        .bind(now_ms())
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

    async fn webhook_user_delete(&self, username: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM webhook_users WHERE username = ?")
            .bind(username)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
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

    fn outbox_entry(n: u32, destination: &str) -> NewOutboxEntry {
        NewOutboxEntry {
            delivery_id: format!("d{n}"),
            owner: "rest.localhost".into(),
            destination: destination.into(),
            kind: "message".into(),
            stanza: format!("<message>{n}</message>"),
            created_at: 1000 + i64::from(n),
            deadline: None,
        }
    }

    #[tokio::test]
    async fn outbox_heads_are_per_destination_in_order() {
        let s = store().await;
        let a1 = s
            .outbox_push(&outbox_entry(1, "a@rest.localhost"))
            .await
            .unwrap();
        s.outbox_push(&outbox_entry(2, "a@rest.localhost"))
            .await
            .unwrap();
        let b1 = s
            .outbox_push(&outbox_entry(3, "b@rest.localhost"))
            .await
            .unwrap();
        assert!(matches!(
            s.outbox_push(&outbox_entry(1, "c@rest.localhost")).await,
            Err(StoreError::Conflict)
        ));
        let heads = s.outbox_heads(10).await.unwrap();
        let ids: Vec<i64> = heads.iter().map(|h| h.id).collect();
        assert_eq!(ids, vec![a1, b1]);
        assert_eq!(heads[0].next_attempt_at, 1001);
        assert_eq!(heads[0].attempts, 0);

        // A retry moves a head later without letting the next entry of its destination pass.
        s.outbox_retry(a1, 5000, Some(503), "HTTP 503")
            .await
            .unwrap();
        let heads = s.outbox_heads(10).await.unwrap();
        assert_eq!(heads.iter().map(|h| h.id).collect::<Vec<_>>(), vec![b1, a1]);
        assert_eq!(heads[1].attempts, 1);
        assert_eq!(heads[1].last_status, Some(503));
        assert_eq!(heads[1].last_error.as_deref(), Some("HTTP 503"));
        assert_eq!(s.outbox_heads(1).await.unwrap().len(), 1);

        s.outbox_delete(b1).await.unwrap();
        assert_eq!(s.outbox_heads(10).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn outbox_dead_letters_and_redrive() {
        let s = store().await;
        let first = s
            .outbox_push(&outbox_entry(1, "a@rest.localhost"))
            .await
            .unwrap();
        let second = s
            .outbox_push(&outbox_entry(2, "a@rest.localhost"))
            .await
            .unwrap();
        s.outbox_bury(first, 9000, None, "connection refused")
            .await
            .unwrap();
        // The dead letter no longer holds up its destination.
        let heads = s.outbox_heads(10).await.unwrap();
        assert_eq!(heads.iter().map(|h| h.id).collect::<Vec<_>>(), vec![second]);
        let dead = s.outbox_dead_letters(10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].delivery_id, "d1");
        assert_eq!(dead[0].dead_at, Some(9000));
        assert_eq!(dead[0].attempts, 1);
        let depth = s.outbox_depth().await.unwrap();
        assert_eq!(
            depth,
            vec![OutboxDepth {
                owner: "rest.localhost".into(),
                pending: 1,
                dead: 1
            }]
        );

        assert!(!s.outbox_redrive("d2", 10_000).await.unwrap(), "not dead");
        assert!(!s.outbox_redrive("nope", 10_000).await.unwrap());
        assert!(s.outbox_redrive("d1", 10_000).await.unwrap());
        assert!(s.outbox_dead_letters(10).await.unwrap().is_empty());
        let heads = s.outbox_heads(10).await.unwrap();
        assert_eq!(
            heads[0].id, first,
            "a redriven letter is first in its line again"
        );
        assert_eq!(heads[0].attempts, 0);
        assert_eq!(heads[0].created_at, 10_000);
    }

    #[tokio::test]
    async fn webhook_secrets_are_created_once() {
        let s = store().await;
        assert_eq!(
            s.webhook_secret("rest.localhost", "one").await.unwrap(),
            "one"
        );
        assert_eq!(
            s.webhook_secret("rest.localhost", "two").await.unwrap(),
            "one"
        );
        assert_eq!(
            s.webhook_secret("bot@localhost", "three").await.unwrap(),
            "three"
        );
    }

    #[tokio::test]
    async fn webhook_users_follow_their_account() {
        let s = store().await;
        let mut row = UserCallbackRow {
            username: "bot".into(),
            url: "http://127.0.0.1:1/hook".into(),
            content_type: None,
            stanzas: Some(vec!["message".into()]),
            events: None,
            secret: Some("k".into()),
        };
        assert!(matches!(
            s.webhook_user_set(&row).await,
            Err(StoreError::NoSuchUser)
        ));
        s.create_user("bot", &creds()).await.unwrap();
        s.webhook_user_set(&row).await.unwrap();
        row.url = "http://127.0.0.1:2/hook".into();
        row.content_type = Some("application/json".into());
        s.webhook_user_set(&row).await.unwrap();
        assert_eq!(s.webhook_users().await.unwrap(), vec![row]);
        assert!(s.webhook_user_delete("bot").await.unwrap());
        assert!(!s.webhook_user_delete("bot").await.unwrap());
        s.webhook_user_set(&UserCallbackRow {
            username: "bot".into(),
            url: "http://127.0.0.1:3/".into(),
            content_type: None,
            stanzas: None,
            events: None,
            secret: None,
        })
        .await
        .unwrap();
        s.delete_user("bot").await.unwrap();
        assert!(s.webhook_users().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn outbox_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SqliteStore::open(dir.path()).await.unwrap();
            s.outbox_push(&outbox_entry(1, "a@rest.localhost"))
                .await
                .unwrap();
        }
        let s = SqliteStore::open(dir.path()).await.unwrap();
        assert_eq!(s.outbox_heads(10).await.unwrap()[0].delivery_id, "d1");
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
