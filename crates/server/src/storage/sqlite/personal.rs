//! vCards and private XML of the accounts, in SQLite.

use async_trait::async_trait;

use super::SqliteStore;
use crate::storage::error::StoreError;
use crate::storage::personal::PersonalStore;

fn foreign_key(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NoSuchUser,
        e => e.into(),
    }
}

#[async_trait]
impl PersonalStore for SqliteStore {
    async fn vcard(&self, user: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT vcard FROM vcards WHERE username = ?")
                .bind(user)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_vcard(&self, user: &str, vcard: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO vcards (username, vcard) VALUES (?, ?)
             ON CONFLICT (username) DO UPDATE SET vcard = excluded.vcard",
        )
        .bind(user)
        .bind(vcard)
        .execute(&self.pool)
        .await
        .map_err(foreign_key)?;
        Ok(())
    }

    async fn private_xml(&self, user: &str, namespace: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT payload FROM private_xml WHERE username = ? AND namespace = ?",
        )
        .bind(user)
        .bind(namespace)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn private_documents(&self, user: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT namespace, payload FROM private_xml WHERE username = ? ORDER BY namespace",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn set_private_xml(
        &self,
        user: &str,
        namespace: &str,
        payload: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO private_xml (username, namespace, payload) VALUES (?, ?, ?)
             ON CONFLICT (username, namespace) DO UPDATE SET payload = excluded.payload",
        )
        .bind(user)
        .bind(namespace)
        .bind(payload)
        .execute(&self.pool)
        .await
        .map_err(foreign_key)?;
        Ok(())
    }
}
