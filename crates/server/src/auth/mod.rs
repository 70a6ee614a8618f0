//! Accounts and credentials: SCRAM keys for XMPP logins, hashed bearer tokens for HTTP, and the
//! username rules shared by every surface.

pub mod cache;
pub mod jwt;
pub mod registrations;
pub mod throttle;

use std::sync::{Arc, OnceLock};

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use switchboard_xmpp::sasl::StoredCredentials;

use crate::storage::accounts::{ScramCoverage, TokenGrant, TokenScope};
use crate::storage::{Store, StoreError};
use cache::{CacheSettings, CredentialCache};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("'{0}' is not a valid username")]
    InvalidUsername(String),
    #[error("'{0}' belongs to another domain")]
    WrongDomain(String),
    #[error("account already exists")]
    Exists,
    #[error("no such account")]
    NoSuchUser,
    #[error("password rejected: {0}")]
    BadPassword(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => AccountError::Exists,
            StoreError::NoSuchUser => AccountError::NoSuchUser,
            other => AccountError::Store(other),
        }
    }
}

/// Account operations over the store; cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
    domain: String,
    iterations: u32,
    /// Checked instead when an account does not exist, so both paths cost one derivation.
    decoy: Arc<OnceLock<Option<StoredCredentials>>>,
    /// Tokens and passwords verified before (see [`cache`]).
    cache: Arc<CredentialCache>,
}

impl Accounts {
    pub fn new(store: Arc<dyn Store>, domain: &str, iterations: u32) -> Accounts {
        Accounts {
            store,
            domain: domain.to_owned(),
            iterations,
            decoy: Arc::new(OnceLock::new()),
            cache: Arc::new(CredentialCache::new(CacheSettings::default())),
        }
    }

    /// The same accounts with other cache settings (`auth.credential_cache_*`).
    pub fn with_cache(mut self, settings: CacheSettings) -> Accounts {
        self.cache = Arc::new(CredentialCache::new(settings));
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Accepts `alice` or `alice@domain` (any resource is ignored) and returns the nodeprep'd
    /// localpart.
    pub fn username(&self, input: &str) -> Result<String, AccountError> {
        let invalid = || AccountError::InvalidUsername(input.to_owned());
        if !input.contains('@') {
            return jid::NodePart::new(input)
                .map(|n| n.to_string())
                .map_err(|_| invalid());
        }
        let jid = jid::Jid::new(input).map_err(|_| invalid())?;
        if jid.domain().as_str() != self.domain {
            return Err(AccountError::WrongDomain(input.to_owned()));
        }
        jid.node().map(|n| n.to_string()).ok_or_else(invalid)
    }

    fn derive(&self, password: &str) -> Result<StoredCredentials, AccountError> {
        if password.is_empty() {
            return Err(AccountError::BadPassword("empty password".into()));
        }
        StoredCredentials::derive(password, self.iterations)
            .map_err(|e| AccountError::BadPassword(e.to_string()))
    }

    pub async fn add_user(&self, user: &str, password: &str) -> Result<String, AccountError> {
        let user = self.username(user)?;
        let creds = self.derive(password)?;
        self.store.create_user(&user, &creds).await?;
        Ok(user)
    }

    /// An account without a password (provisioned by a JWT login): password logins to it fail
    /// as with a wrong password until `set_password` gives it one.
    pub async fn add_passwordless(&self, user: &str) -> Result<(), AccountError> {
        let user = self.username(user)?;
        Ok(self
            .store
            .create_user(&user, &StoredCredentials::passwordless())
            .await?)
    }

    /// Whether the account exists (`user` is a nodeprep'd localpart).
    pub async fn exists(&self, user: &str) -> Result<bool, AccountError> {
        Ok(self.store.credentials(user).await?.is_some())
    }

    pub async fn set_password(&self, user: &str, password: &str) -> Result<(), AccountError> {
        let user = self.username(user)?;
        let creds = self.derive(password)?;
        let changed = self.store.set_credentials(&user, &creds).await?;
        self.cache.forget_user(&user);
        if changed {
            Ok(())
        } else {
            Err(AccountError::NoSuchUser)
        }
    }

    pub async fn delete_user(&self, user: &str) -> Result<(), AccountError> {
        let user = self.username(user)?;
        let deleted = self.store.delete_user(&user).await?;
        self.cache.forget_user(&user);
        if deleted {
            Ok(())
        } else {
            Err(AccountError::NoSuchUser)
        }
    }

    pub async fn list_users(&self) -> Result<Vec<String>, AccountError> {
        Ok(self.store.list_users().await?)
    }

    /// Checks a plaintext password (SASL PLAIN, HTTP Basic). A password verified within
    /// `auth.credential_cache_ttl_secs` is believed again; otherwise unknown users cost the same
    /// work as known ones, so timing does not reveal which accounts exist. The key derivation
    /// runs on the blocking pool: it takes milliseconds of CPU that must not stall async workers.
    pub async fn check_password(&self, user: &str, password: &str) -> Result<bool, AccountError> {
        self.cache.poll(self.store.as_ref()).await;
        let miss = match self.cache.password(user, password) {
            Ok(()) => return Ok(true),
            Err(miss) => miss,
        };
        let verified = self.verify_password(user, password).await?;
        if verified {
            self.cache.remember_password(miss, user);
        }
        Ok(verified)
    }

    /// Imported credentials that lack a key set are replaced, once the password is verified,
    /// with both key sets derived from it in the same blocking task.
    async fn verify_password(&self, user: &str, password: &str) -> Result<bool, AccountError> {
        let creds = self.store.credentials(user).await?;
        let verified_against = creds.clone();
        let password = password.to_owned();
        let decoy = self.decoy.clone();
        let iterations = self.iterations;
        let derive = move || match creds {
            Some(creds) if creds.verify_password(&password) => {
                let upgrade = creds
                    .needs_upgrade()
                    .then(|| StoredCredentials::derive(&password, iterations).ok())
                    .flatten();
                (true, upgrade)
            }
            Some(_) => (false, None),
            None => {
                let decoy =
                    decoy.get_or_init(|| StoredCredentials::derive("decoy", iterations).ok());
                if let Some(decoy) = decoy {
                    let _ = decoy.verify_password(&password);
                }
                (false, None)
            }
        };
        let (verified, upgrade) = match tokio::task::spawn_blocking(derive).await {
            Ok(answer) => answer,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only while the runtime shuts down: nobody is let in any more.
            Err(_) => (false, None),
        };
        // Not when the password was changed meanwhile (`user passwd` from another process).
        if let Some(upgraded) = upgrade
            && self.store.credentials(user).await.ok() == Some(verified_against)
        {
            // The password was right either way: a failed upgrade is tried again next login.
            match self.store.set_credentials(user, &upgraded).await {
                Ok(_) => {
                    self.cache.forget_user(user);
                    tracing::info!(
                        %user,
                        "imported credentials upgraded to SCRAM-SHA-1 and SCRAM-SHA-256 keys"
                    );
                }
                Err(e) => tracing::error!(%user, error = %e, "cannot upgrade imported credentials"),
            }
        }
        Ok(verified)
    }

    /// Issues a new bearer token for `user` with `scope`; only its SHA-256 digest is stored.
    pub async fn create_token(
        &self,
        user: &str,
        scope: TokenScope,
    ) -> Result<String, AccountError> {
        let user = self.username(user)?;
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = format!(
            "sb_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        );
        self.store
            .create_token(&user, &token_digest(&token), scope)
            .await?;
        Ok(token)
    }

    pub async fn revoke_token(&self, token: &str) -> Result<bool, AccountError> {
        let revoked = self.store.revoke_token(&token_digest(token)).await?;
        self.cache.forget_token(token);
        Ok(revoked)
    }

    /// Which SCRAM families every account has keys for (what a stream may be offered):
    /// remembered until a credential changes, here or, seen at the next poll, in the store.
    pub async fn scram_coverage(&self) -> Result<ScramCoverage, AccountError> {
        self.cache.poll(self.store.as_ref()).await;
        let generation = match self.cache.coverage() {
            Ok(coverage) => return Ok(coverage),
            Err(generation) => generation,
        };
        let coverage = self.store.scram_coverage().await?;
        self.cache.remember_coverage(generation, coverage);
        Ok(coverage)
    }

    /// The username and scope of a bearer token: from the cache, else from the store. Both look
    /// up by a hash, so comparing the secret itself never happens byte by byte.
    pub async fn token_owner(&self, token: &str) -> Result<Option<TokenGrant>, AccountError> {
        self.cache.poll(self.store.as_ref()).await;
        let miss = match self.cache.token(token) {
            Ok(grant) => return Ok(Some(grant)),
            Err(miss) => miss,
        };
        let owner = self.store.token_owner(&token_digest(token)).await?;
        if let Some(grant) = &owner {
            self.cache.remember_token(miss, grant);
        }
        Ok(owner)
    }
}

fn token_digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::SqliteStore;

    async fn accounts() -> Accounts {
        Accounts::new(
            Arc::new(SqliteStore::in_memory().await.unwrap()),
            "localhost",
            4096,
        )
    }

    #[tokio::test]
    async fn usernames_are_normalised() {
        let a = accounts().await;
        assert_eq!(a.username("Alice").unwrap(), "alice");
        assert_eq!(a.username("alice@localhost/phone").unwrap(), "alice");
        assert!(matches!(
            a.username("alice@elsewhere"),
            Err(AccountError::WrongDomain(_))
        ));
        assert!(a.username("a b@localhost").is_err());
        assert!(a.username("").is_err());
    }

    #[tokio::test]
    async fn passwords_and_tokens() {
        let a = accounts().await;
        a.add_user("alice", "pw").await.unwrap();
        assert!(matches!(
            a.add_user("alice", "pw").await,
            Err(AccountError::Exists)
        ));
        assert!(a.check_password("alice", "pw").await.unwrap());
        assert!(!a.check_password("alice", "nope").await.unwrap());
        assert!(!a.check_password("ghost", "pw").await.unwrap());
        a.set_password("alice", "new").await.unwrap();
        assert!(a.check_password("alice", "new").await.unwrap());
        let token = a.create_token("alice", TokenScope::User).await.unwrap();
        assert_eq!(
            a.token_owner(&token)
                .await
                .unwrap()
                .map(|g| g.user)
                .as_deref(),
            Some("alice")
        );
        assert!(a.revoke_token(&token).await.unwrap());
        assert_eq!(a.token_owner(&token).await.unwrap(), None);
        assert!(matches!(
            a.create_token("ghost", TokenScope::User).await,
            Err(AccountError::NoSuchUser)
        ));
        assert!(matches!(
            a.add_user("bob", "").await,
            Err(AccountError::BadPassword(_))
        ));
    }

    fn polling_always() -> CacheSettings {
        CacheSettings {
            poll_every: std::time::Duration::ZERO,
            ..CacheSettings::default()
        }
    }

    #[tokio::test]
    async fn cached_credentials_end_with_local_changes() {
        let a = accounts().await;
        a.add_user("alice", "pw").await.unwrap();
        let token = a.create_token("alice", TokenScope::User).await.unwrap();
        for _ in 0..2 {
            assert_eq!(
                a.token_owner(&token)
                    .await
                    .unwrap()
                    .map(|g| g.user)
                    .as_deref(),
                Some("alice")
            );
            assert!(a.check_password("alice", "pw").await.unwrap());
        }
        assert!(!a.check_password("alice", "wrong").await.unwrap());
        a.set_password("alice", "new").await.unwrap();
        assert!(!a.check_password("alice", "pw").await.unwrap());
        assert!(a.check_password("alice", "new").await.unwrap());
        assert!(a.revoke_token(&token).await.unwrap());
        assert_eq!(a.token_owner(&token).await.unwrap(), None);
        let token = a.create_token("alice", TokenScope::User).await.unwrap();
        assert!(a.token_owner(&token).await.unwrap().is_some());
        a.delete_user("alice").await.unwrap();
        assert_eq!(a.token_owner(&token).await.unwrap(), None);
        assert!(!a.check_password("alice", "new").await.unwrap());
    }

    /// The server and the CLI share the data directory: what the CLI changes ends what the
    /// server cached once it polls the store's credential version.
    #[tokio::test]
    async fn another_process_changes_are_seen_after_the_poll() {
        let dir = tempfile::tempdir().unwrap();
        let open =
            || async { Arc::new(SqliteStore::open(dir.path()).await.unwrap()) as Arc<dyn Store> };
        let server = Accounts::new(open().await, "localhost", 4096).with_cache(polling_always());
        let cli = Accounts::new(open().await, "localhost", 4096);
        cli.add_user("alice", "pw").await.unwrap();
        cli.add_user("bob", "pw").await.unwrap();
        let alice = cli.create_token("alice", TokenScope::User).await.unwrap();
        let bob = cli.create_token("bob", TokenScope::User).await.unwrap();
        assert!(server.token_owner(&alice).await.unwrap().is_some());
        assert!(server.token_owner(&bob).await.unwrap().is_some());
        assert!(server.check_password("alice", "pw").await.unwrap());
        assert!(server.check_password("bob", "pw").await.unwrap());

        assert!(cli.revoke_token(&alice).await.unwrap());
        assert_eq!(server.token_owner(&alice).await.unwrap(), None);
        cli.set_password("alice", "new").await.unwrap();
        assert!(!server.check_password("alice", "pw").await.unwrap());
        cli.delete_user("bob").await.unwrap();
        assert_eq!(server.token_owner(&bob).await.unwrap(), None);
        assert!(!server.check_password("bob", "pw").await.unwrap());
    }

    /// Until the poll interval has passed, the cache answers alone: this is what makes a
    /// request cost no query (and what the interval bounds).
    #[tokio::test]
    async fn between_polls_the_cache_answers() {
        let dir = tempfile::tempdir().unwrap();
        let open =
            || async { Arc::new(SqliteStore::open(dir.path()).await.unwrap()) as Arc<dyn Store> };
        let server = Accounts::new(open().await, "localhost", 4096).with_cache(CacheSettings {
            poll_every: std::time::Duration::from_secs(3600),
            ..CacheSettings::default()
        });
        let cli = Accounts::new(open().await, "localhost", 4096);
        cli.add_user("alice", "pw").await.unwrap();
        let token = cli.create_token("alice", TokenScope::User).await.unwrap();
        assert!(server.token_owner(&token).await.unwrap().is_some());
        cli.revoke_token(&token).await.unwrap();
        assert!(server.token_owner(&token).await.unwrap().is_some());
    }

    /// The SCRAM families offered are read once and kept until a credential changes: the
    /// upgrade of an imported account on its first password login shows at once.
    #[tokio::test]
    async fn scram_coverage_is_kept_until_an_upgrade() {
        use switchboard_xmpp::sasl::ScramHash;
        let accounts = accounts().await;
        let sha1_only = StoredCredentials::from_keys(
            Some(ScramHash::Sha1.keys("old", b"salt".to_vec(), 4096)),
            None,
        )
        .unwrap();
        accounts
            .store()
            .create_user("imported", &sha1_only)
            .await
            .unwrap();
        let partial = ScramCoverage {
            sha1: true,
            sha256: false,
        };
        assert_eq!(accounts.scram_coverage().await.unwrap(), partial);
        assert_eq!(accounts.cache.coverage(), Ok(partial));
        assert!(!accounts.check_password("imported", "wrong").await.unwrap());
        assert_eq!(accounts.cache.coverage(), Ok(partial));
        assert!(accounts.check_password("imported", "old").await.unwrap());
        assert!(accounts.cache.coverage().is_err());
        let full = ScramCoverage {
            sha1: true,
            sha256: true,
        };
        assert_eq!(accounts.scram_coverage().await.unwrap(), full);
    }
}
