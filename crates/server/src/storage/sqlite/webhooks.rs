//! Webhook secrets and registered account callbacks, in SQLite.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, now_ms};
use crate::storage::error::StoreError;
use crate::storage::webhooks::{UserCallbackRow, WebhookStore};

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

#[async_trait]
impl WebhookStore for SqliteStore {
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
