//! An account's XEP-0054 vCard and its XEP-0049 private XML, one document per namespace.
//! Backends implement [`PersonalStore`]; each is run through the same tests.

use async_trait::async_trait;

use super::error::StoreError;

#[async_trait]
pub trait PersonalStore: Send + Sync {
    /// `user`'s vCard, serialised.
    async fn vcard(&self, user: &str) -> Result<Option<String>, StoreError>;

    /// Replaces `user`'s vCard; `NoSuchUser` for an unknown account.
    async fn set_vcard(&self, user: &str, vcard: &str) -> Result<(), StoreError>;

    /// The private XML `user` stored under `namespace`.
    async fn private_xml(&self, user: &str, namespace: &str) -> Result<Option<String>, StoreError>;

    /// Every private XML document of `user`: its namespace and the document, by namespace.
    async fn private_documents(&self, user: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Replaces what `user` stored under `namespace`; `NoSuchUser` for an unknown account.
    async fn set_private_xml(
        &self,
        user: &str,
        namespace: &str,
        payload: &str,
    ) -> Result<(), StoreError>;
}
