//! Whole accounts written at once, as an import (XEP-0227) brings them: credentials, roster,
//! pending subscription requests, offline messages, vCard, private XML and PEP nodes in one
//! transaction per account.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreError;
use super::pep::{StoredItem, StoredNode};
use super::roster::RosterItem;
use switchboard_xmpp::sasl::StoredCredentials;

/// Everything an import writes for one account.
#[derive(Clone, Debug, PartialEq)]
pub struct PortableAccount {
    pub user: String,
    pub credentials: StoredCredentials,
    pub roster: Vec<RosterItem>,
    /// Pending inbound subscription requests: the requester's bare JID and the stanza.
    pub requests: Vec<(String, String)>,
    /// Offline messages (XML) with the time each was stored.
    pub offline: Vec<(String, DateTime<Utc>)>,
    /// The vCard (XML).
    pub vcard: Option<String>,
    /// Private XML documents: the namespace and the document.
    pub private: Vec<(String, String)>,
    /// PEP nodes, each with its items oldest first.
    pub pep: Vec<(StoredNode, Vec<StoredItem>)>,
}

#[async_trait]
pub trait PortableStore: Send + Sync {
    /// Writes the account and all its data, or nothing. An existing account is
    /// [`StoreError::Conflict`] unless `replace`, which first deletes it and all its data.
    async fn import_account(
        &self,
        account: &PortableAccount,
        replace: bool,
    ) -> Result<(), StoreError>;
}
