//! Persistent state behind one trait, so that SQLite (embedded default) and PostgreSQL can both
//! serve it; implementations live in a file each and run the same test suite.

pub mod accounts;
pub mod archive;
pub mod blocking;
pub mod error;
pub mod muc;
pub mod offline;
pub mod outbox;
pub mod pep;
pub mod personal;
pub mod portable;
pub mod presence;
pub mod push;
pub mod roster;
pub mod sqlite;
#[cfg(test)]
pub mod suite;
pub mod uploads;
pub mod webhooks;

pub use accounts::{AccountStore, ScramCoverage};
pub use archive::ArchiveStore;
pub use blocking::BlockingStore;
pub use error::StoreError;
pub use muc::{MucStore, StoredRoom};
pub use offline::{OfflineMessage, OfflineQuota, OfflineStore, OfflineUsage};
pub use outbox::{NewOutboxEntry, OutboxDepth, OutboxEntry, OutboxStore};
pub use pep::{Created, PepStore, StoredItem, StoredNode};
pub use personal::PersonalStore;
pub use portable::{PortableAccount, PortableStore};
pub use presence::{PresenceStore, SubscriptionRequest};
pub use push::{PushRegistration, PushStore};
pub use roster::{RosterChange, RosterItem, RosterStore, RosterVersion};
pub use uploads::{Upload, UploadStore};
pub use webhooks::{UserCallbackRow, WebhookStore};

/// Everything the server persists, one trait per concern. Usernames are nodeprep'd localparts
/// of the served domain.
pub trait Store:
    AccountStore
    + RosterStore
    + PresenceStore
    + OfflineStore
    + OutboxStore
    + WebhookStore
    + BlockingStore
    + ArchiveStore
    + PepStore
    + PersonalStore
    + PortableStore
    + UploadStore
    + PushStore
    + MucStore
    + 'static
{
}

impl<T> Store for T where
    T: AccountStore
        + RosterStore
        + PresenceStore
        + OfflineStore
        + OutboxStore
        + WebhookStore
        + BlockingStore
        + ArchiveStore
        + PepStore
        + PersonalStore
        + PortableStore
        + UploadStore
        + PushStore
        + MucStore
        + 'static
{
}
