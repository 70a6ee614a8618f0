//! Group chat rooms in SQLite: one row per persistent room, and the rooms' archives in the
//! accounts' archive layout, queried by the same code.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::archive::ROOMS;
use super::{SqliteStore, limit};
use crate::storage::archive::{Criteria, NewArchived, Page, PageRequest, QueryError};
use crate::storage::error::StoreError;
use crate::storage::muc::{MucStore, StoredRoom};

#[async_trait]
impl MucStore for SqliteStore {
    async fn muc_rooms(&self) -> Result<Vec<StoredRoom>, StoreError> {
        let rows = sqlx::query("SELECT name, state FROM muc_rooms ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredRoom {
                    name: row.try_get("name")?,
                    state: row.try_get("state")?,
                })
            })
            .collect()
    }

    async fn muc_save_room(&self, room: &StoredRoom) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO muc_rooms (name, state) VALUES (?, ?)
             ON CONFLICT (name) DO UPDATE SET state = excluded.state",
        )
        .bind(&room.name)
        .bind(&room.state)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn muc_delete_room(&self, name: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM muc_rooms WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM muc_archive WHERE room = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn muc_archive_append(&self, entries: &[NewArchived]) -> Result<(), StoreError> {
        self.append_to(ROOMS, entries).await
    }

    async fn muc_archive_purge(
        &self,
        cutoff: DateTime<Utc>,
        max: usize,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM muc_archive WHERE seq IN
                (SELECT seq FROM muc_archive WHERE ts < ? ORDER BY ts LIMIT ?)",
        )
        .bind(cutoff.timestamp_micros())
        .bind(limit(max))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn muc_archive_page(
        &self,
        room: &str,
        criteria: &Criteria,
        page: &PageRequest,
    ) -> Result<Page, QueryError> {
        self.page_of(ROOMS, room, criteria, page).await
    }
}
