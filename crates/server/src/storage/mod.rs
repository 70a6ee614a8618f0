//! Persistent state behind one trait, so that SQLite (embedded default) and PostgreSQL can both
//! serve it; implementations live in a file each and run the same test suite.

pub mod accounts;
pub mod archive;
pub mod error;
pub mod offline;
pub mod outbox;
pub mod roster;
pub mod sqlite;
#[cfg(test)]
pub mod suite;
pub mod webhooks;

pub use accounts::AccountStore;
pub use archive::ArchiveStore;
pub use error::StoreError;
pub use offline::{OfflineMessage, OfflineStore};
pub use outbox::{NewOutboxEntry, OutboxDepth, OutboxEntry, OutboxStore};
pub use roster::{RosterItem, RosterStore};
pub use webhooks::{UserCallbackRow, WebhookStore};

/// Everything the server persists, one trait per concern. Usernames are nodeprep'd localparts
/// of the served domain.
pub trait Store:
    AccountStore + RosterStore + OfflineStore + OutboxStore + WebhookStore + ArchiveStore + 'static
{
}

impl<T> Store for T where
    T: AccountStore
        + RosterStore
        + OfflineStore
        + OutboxStore
        + WebhookStore
        + ArchiveStore
        + 'static
{
}
