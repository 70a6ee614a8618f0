//! Accounts and their credentials: SCRAM keys per account and hashed bearer tokens.
//! Backends implement [`AccountStore`]; each is run through the same tests.

use async_trait::async_trait;

use super::error::StoreError;
use switchboard_xmpp::sasl::StoredCredentials;

/// Which SCRAM families every account has keys for: an account imported with one family only
/// cannot log in with the other, so clients must not be offered it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScramCoverage {
    pub sha1: bool,
    pub sha256: bool,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn create_user(&self, user: &str, creds: &StoredCredentials) -> Result<(), StoreError>;

    async fn delete_user(&self, user: &str) -> Result<bool, StoreError>;

    async fn list_users(&self) -> Result<Vec<String>, StoreError>;

    async fn credentials(&self, user: &str) -> Result<Option<StoredCredentials>, StoreError>;

    async fn set_credentials(
        &self,
        user: &str,
        creds: &StoredCredentials,
    ) -> Result<bool, StoreError>;

    async fn create_token(&self, user: &str, token_hash: &[u8]) -> Result<(), StoreError>;

    async fn revoke_token(&self, token_hash: &[u8]) -> Result<bool, StoreError>;

    async fn token_owner(&self, token_hash: &[u8]) -> Result<Option<String>, StoreError>;

    /// A counter that moves whenever a token is revoked, an account deleted or its credentials
    /// changed, by any process: what credential caches poll.
    async fn credential_version(&self) -> Result<i64, StoreError>;

    async fn scram_coverage(&self) -> Result<ScramCoverage, StoreError>;
}
