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

/// What a bearer token may be used for: least privilege, `user` unless asked otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Acts as its account on the client APIs (`/rest`, `/api`, `/msg`).
    #[default]
    User,
    /// Also the admin APIs, when its account is listed under `admins`.
    Admin,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::User => "user",
            TokenScope::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<TokenScope> {
        match value {
            "user" => Some(TokenScope::User),
            "admin" => Some(TokenScope::Admin),
            _ => None,
        }
    }
}

/// Whose a bearer token is and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenGrant {
    pub user: String,
    pub scope: TokenScope,
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

    async fn create_token(
        &self,
        user: &str,
        token_hash: &[u8],
        scope: TokenScope,
    ) -> Result<(), StoreError>;

    async fn revoke_token(&self, token_hash: &[u8]) -> Result<bool, StoreError>;

    async fn token_owner(&self, token_hash: &[u8]) -> Result<Option<TokenGrant>, StoreError>;

    /// A counter that moves whenever a token is revoked, an account deleted or its credentials
    /// changed, by any process: what credential caches poll.
    async fn credential_version(&self) -> Result<i64, StoreError>;

    async fn scram_coverage(&self) -> Result<ScramCoverage, StoreError>;
}
