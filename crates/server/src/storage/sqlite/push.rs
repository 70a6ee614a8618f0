//! Push registrations (XEP-0357) in SQLite.

use async_trait::async_trait;
use sqlx::Row;

use super::{SqliteStore, now};
use crate::storage::error::StoreError;
use crate::storage::push::{PushRegistration, PushStore};

#[async_trait]
impl PushStore for SqliteStore {
    async fn push_enable(
        &self,
        user: &str,
        registration: &PushRegistration,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO push_registrations (username, service, node, options, created_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (username, service, node) DO UPDATE SET options = excluded.options",
        )
        .bind(user)
        .bind(&registration.service)
        .bind(&registration.node)
        .bind(&registration.options)
        .bind(now())
        .execute(&self.pool)
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                Err(StoreError::NoSuchUser)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn push_disable(
        &self,
        user: &str,
        service: &str,
        node: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM push_registrations
             WHERE username = ? AND service = ? AND (? IS NULL OR node = ?)",
        )
        .bind(user)
        .bind(service)
        .bind(node)
        .bind(node)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn push_registrations(&self, user: &str) -> Result<Vec<PushRegistration>, StoreError> {
        let rows = sqlx::query(
            "SELECT service, node, options FROM push_registrations
             WHERE username = ? ORDER BY service, node",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PushRegistration {
                    service: row.try_get("service")?,
                    node: row.try_get("node")?,
                    options: row.try_get("options")?,
                })
            })
            .collect()
    }
}
