//! Message archives (XEP-0313) in archive order with the queries that page through them, and
//! archiving preferences. Backends implement [`ArchiveStore`]; each runs the same tests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreError;

/// A message to archive for `owner`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewArchived {
    pub owner: String,
    /// Unguessable, unique in the owner's archive.
    pub id: String,
    /// When it was archived (microsecond precision is kept).
    pub at: DateTime<Utc>,
    /// The other party: its bare JID, and the JID as the message named it.
    pub with_bare: String,
    pub with_full: String,
    /// The message as XML.
    pub stanza: String,
}

/// A message read back from an archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Archived {
    pub id: String,
    pub at: DateTime<Utc>,
    /// The other party's bare JID (in a room's archive: the sender's real one).
    pub with_bare: String,
    pub with_full: String,
    pub stanza: String,
}

/// Which party a query is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum With {
    /// Every resource of this bare JID.
    Bare(String),
    /// Exactly this full JID (`full`), whose bare JID is `bare`.
    Full { bare: String, full: String },
}

/// Which messages of an archive match. Every bound is optional; ids are archive ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Criteria {
    pub with: Option<With>,
    /// Archived at or after.
    pub start: Option<DateTime<Utc>>,
    /// Archived at or before.
    pub end: Option<DateTime<Utc>>,
    /// Strictly after this message in archive order.
    pub after_id: Option<String>,
    /// Strictly before this message in archive order.
    pub before_id: Option<String>,
    /// Only these messages (empty: no such restriction).
    pub ids: Vec<String>,
}

/// Where a page is taken from, in archive order (time, ties broken by arrival).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Position {
    /// The oldest matching messages.
    Oldest,
    /// The oldest matching messages after this id.
    After(String),
    /// The newest matching messages.
    Newest,
    /// The newest matching messages before this id.
    Before(String),
}

/// One page of a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub from: Position,
    /// At most this many messages.
    pub max: usize,
    /// Count the matching messages and the page's position among them as long as no more
    /// than this many are to be counted (a count is a scan); 0 counts nothing.
    pub count_limit: u64,
}

/// A page of matching messages, always oldest first whichever end it was taken from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub messages: Vec<Archived>,
    /// No more matching messages lie beyond the page in the direction it was taken.
    pub complete: bool,
    /// How many messages match, when no more than `count_limit`.
    pub count: Option<u64>,
    /// How many matching messages precede the page, when known: always for a page from the
    /// oldest end, otherwise when no more than `count_limit`.
    pub first_index: Option<u64>,
}

/// Why a page cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// An id named by the request is not in the archive (XEP-0313: `item-not-found`).
    #[error("no message with id '{0}' in the archive")]
    UnknownId(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An account's archiving preferences as stored: the default policy's name and JIDs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPrefs {
    pub default: String,
    pub always: Vec<String>,
    pub never: Vec<String>,
}

#[async_trait]
pub trait ArchiveStore: Send + Sync {
    /// Appends messages in order, in one write. Entries of accounts that do not exist are
    /// skipped.
    async fn archive_append(&self, entries: &[NewArchived]) -> Result<(), StoreError>;

    /// A page of `owner`'s messages matching `criteria`.
    async fn archive_page(
        &self,
        owner: &str,
        criteria: &Criteria,
        page: &PageRequest,
    ) -> Result<Page, QueryError>;

    /// Deletes at most `limit` messages archived before `cutoff`, oldest first, across all
    /// archives; returns how many went.
    async fn archive_purge(&self, cutoff: DateTime<Utc>, limit: usize) -> Result<u64, StoreError>;

    /// Messages in all archives together. A count over an index, linear in the archive's
    /// size: callers bound how often they ask (metrics do at most every few minutes).
    async fn archive_total(&self) -> Result<u64, StoreError>;

    async fn archive_prefs(&self, user: &str) -> Result<Option<StoredPrefs>, StoreError>;

    async fn set_archive_prefs(&self, user: &str, prefs: &StoredPrefs) -> Result<(), StoreError>;
}
