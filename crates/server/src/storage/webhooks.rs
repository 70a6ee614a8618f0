//! Webhook signing keys and the callbacks registered for accounts.
//! Backends implement [`WebhookStore`]; each is run through the same tests.

use async_trait::async_trait;

use super::error::StoreError;

/// An account's callback registered through the admin API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserCallbackRow {
    pub username: String,
    pub url: String,
    pub content_type: Option<String>,
    pub stanzas: Option<Vec<String>>,
    pub events: Option<Vec<String>>,
    pub secret: Option<String>,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn webhook_secret(&self, owner: &str, candidate: &str) -> Result<String, StoreError>;

    async fn webhook_users(&self) -> Result<Vec<UserCallbackRow>, StoreError>;

    async fn webhook_user_set(&self, row: &UserCallbackRow) -> Result<(), StoreError>;

    async fn webhook_user_delete(&self, username: &str) -> Result<bool, StoreError>;
}
