//! Group chat rooms (XEP-0045): persistent rooms' state, one JSON document per room that the
//! room service reads and writes whole, and the rooms' message archives.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::archive::{Criteria, NewArchived, Page, PageRequest, QueryError};
use super::error::StoreError;

/// A persistent room as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRoom {
    /// The localpart of the room JID.
    pub name: String,
    /// The room service's JSON document of the room.
    pub state: String,
}

#[async_trait]
pub trait MucStore: Send + Sync {
    /// Every stored room.
    async fn muc_rooms(&self) -> Result<Vec<StoredRoom>, StoreError>;

    /// Creates or replaces a room.
    async fn muc_save_room(&self, room: &StoredRoom) -> Result<(), StoreError>;

    /// Forgets a room (when it is stored) and its archive.
    async fn muc_delete_room(&self, name: &str) -> Result<(), StoreError>;

    /// Appends messages to rooms' archives (`owner` is the room name), in order, in one write.
    async fn muc_archive_append(&self, entries: &[NewArchived]) -> Result<(), StoreError>;

    /// Deletes at most `limit` messages archived before `cutoff`, oldest first, across all
    /// rooms' archives; returns how many went.
    async fn muc_archive_purge(
        &self,
        cutoff: DateTime<Utc>,
        limit: usize,
    ) -> Result<u64, StoreError>;

    /// A page of room `room`'s archive, as [`super::ArchiveStore::archive_page`] pages accounts'.
    async fn muc_archive_page(
        &self,
        room: &str,
        criteria: &Criteria,
        page: &PageRequest,
    ) -> Result<Page, QueryError>;
}
