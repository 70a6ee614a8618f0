//! What an account's SCRAM credentials are made of (RFC 5802 §3): the hash functions, the keys
//! stored per account and hash, their derivation from a password, and decoys for unknown users.

use std::sync::OnceLock;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use stringprep::saslprep;
use subtle::ConstantTimeEq;

/// RFC 7677 §4: the minimum iteration count a server should accept for new credentials.
pub const MIN_ITERATIONS: u32 = 4096;

/// Bytes of every salt this server generates, decoys included.
pub const SALT_LEN: usize = 16;

/// The hash function of a SCRAM family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScramHash {
    Sha1,
    Sha256,
}

impl ScramHash {
    pub(crate) fn output_len(self) -> usize {
        match self {
            ScramHash::Sha1 => 20,
            ScramHash::Sha256 => 32,
        }
    }

    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => Sha1::digest(data).to_vec(),
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    pub(crate) fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => hmac_parts::<Hmac<Sha1>>(key, parts),
            ScramHash::Sha256 => hmac_parts::<Hmac<Sha256>>(key, parts),
        }
    }

    /// RFC 5802 §3: SaltedPassword, from a password already prepared with SASLprep.
    pub(crate) fn salted_password(self, prepped: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut salted = vec![0; self.output_len()];
        let password = prepped.as_bytes();
        match self {
            ScramHash::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut salted),
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut salted)
            }
        }
        salted
    }

    /// RFC 5802 §3: SaltedPassword, then ClientKey → StoredKey and ServerKey.
    pub fn keys(self, prepped_password: &str, salt: Vec<u8>, iterations: u32) -> ScramKeys {
        let salted = self.salted_password(prepped_password, &salt, iterations);
        let client_key = self.hmac(&salted, &[b"Client Key"]);
        ScramKeys {
            salt,
            iterations,
            stored_key: self.digest(&client_key),
            server_key: self.hmac(&salted, &[b"Server Key"]),
        }
    }

    /// The mechanism family's name, which keeps decoys of the two hashes apart.
    fn label(self) -> &'static [u8] {
        match self {
            ScramHash::Sha1 => b"SCRAM-SHA-1",
            ScramHash::Sha256 => b"SCRAM-SHA-256",
        }
    }
}

fn hmac_parts<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC hashes over-long keys and pads short ones, so no key length is rejected.
    let mut mac =
        <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        Mac::update(&mut mac, part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// What the store keeps per account and hash; never the password.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScramKeys {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys authenticate as the account against this server: never in logs.
        f.debug_struct("ScramKeys")
            .field(
                "salt",
                &base64::engine::general_purpose::STANDARD.encode(&self.salt),
            )
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramKeys {
    /// Constant-time check of a plaintext password against these keys: one key derivation.
    pub fn matches_password(&self, hash: ScramHash, password: &str) -> bool {
        let Ok(prepped) = saslprep(password) else {
            return false;
        };
        let derived = hash.keys(&prepped, self.salt.clone(), self.iterations);
        derived.stored_key.ct_eq(&self.stored_key).into()
    }
}

/// How answers about accounts that do not exist are faked: keys indistinguishable from real
/// ones without the secret, the same for every request about one name (as a real account's
/// salt would be), and reached by no password, so that no proof or password ever verifies.
#[derive(Clone)]
pub struct Decoy {
    secret: Vec<u8>,
    iterations: u32,
}

impl std::fmt::Debug for Decoy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoy")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl Decoy {
    /// Pass a secret that survives restarts and the iteration count real credentials are
    /// derived with, or the decoys become recognisable.
    pub fn new(secret: &[u8], iterations: u32) -> Decoy {
        Decoy {
            secret: secret.to_vec(),
            iterations,
        }
    }

    /// A random secret fixed for the life of the process and [`MIN_ITERATIONS`]: repeated
    /// probes of one unknown name see the same salt until a restart.
    pub fn per_process() -> Decoy {
        static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
        Decoy::new(SECRET.get_or_init(rand::random), MIN_ITERATIONS)
    }

    /// The keys `username` would have if it existed.
    pub fn keys(&self, hash: ScramHash, username: &str) -> ScramKeys {
        let (label, user, secret) = (hash.label(), username.as_bytes(), &self.secret);
        let mut salt = ScramHash::Sha256.hmac(secret, &[b"salt\0", label, b"\0", user]);
        salt.truncate(SALT_LEN);
        ScramKeys {
            salt,
            iterations: self.iterations,
            stored_key: hash.hmac(secret, &[b"stored\0", label, b"\0", user]),
            server_key: hash.hmac(secret, &[b"server\0", label, b"\0", user]),
        }
    }
}

/// The key sets of one account: both for accounts made here; one may be missing for an
/// account imported from another server (XEP-0227), which kept one hash only.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredCredentials {
    sha1: Option<ScramKeys>,
    sha256: Option<ScramKeys>,
}

/// Why credentials cannot be derived from a password.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    #[error("password is empty or fails SASLprep")]
    InvalidPassword,
    #[error("iteration count {0} is below the minimum of {MIN_ITERATIONS}")]
    IterationsTooLow(u32),
    #[error("no SCRAM key set")]
    NoKeys,
    #[error("{hash:?} keys must be {expected} bytes long")]
    KeyLength { hash: ScramHash, expected: usize },
}

impl StoredCredentials {
    /// Derives both key sets from a password (SASLprep'd first) with a fresh random salt each.
    pub fn derive(password: &str, iterations: u32) -> Result<Self, CredentialsError> {
        if iterations < MIN_ITERATIONS {
            return Err(CredentialsError::IterationsTooLow(iterations));
        }
        let prepped = saslprep(password).map_err(|_| CredentialsError::InvalidPassword)?;
        if prepped.is_empty() {
            return Err(CredentialsError::InvalidPassword);
        }
        Ok(Self {
            sha1: Some(ScramHash::Sha1.keys(&prepped, fresh_salt(), iterations)),
            sha256: Some(ScramHash::Sha256.keys(&prepped, fresh_salt(), iterations)),
        })
    }

    /// Key sets kept by another server, at least one, each with keys as long as its hash's
    /// output. Their iteration count is the other server's choice and is not checked.
    pub fn from_keys(
        sha1: Option<ScramKeys>,
        sha256: Option<ScramKeys>,
    ) -> Result<Self, CredentialsError> {
        for (hash, keys) in [(ScramHash::Sha1, &sha1), (ScramHash::Sha256, &sha256)] {
            let expected = hash.output_len();
            if let Some(keys) = keys
                && (keys.stored_key.len() != expected || keys.server_key.len() != expected)
            {
                return Err(CredentialsError::KeyLength { hash, expected });
            }
        }
        if sha1.is_none() && sha256.is_none() {
            return Err(CredentialsError::NoKeys);
        }
        Ok(Self { sha1, sha256 })
    }

    /// An account without a password (provisioned by a token login): every password check and
    /// SCRAM exchange against it fails as a wrong password does.
    pub fn passwordless() -> Self {
        Self {
            sha1: None,
            sha256: None,
        }
    }

    pub fn is_passwordless(&self) -> bool {
        self.sha1.is_none() && self.sha256.is_none()
    }

    /// Constant-time check of a plaintext password (SASL PLAIN, HTTP Basic), against the
    /// SHA-256 keys when there are some.
    pub fn verify_password(&self, password: &str) -> bool {
        match (&self.sha256, &self.sha1) {
            (Some(keys), _) => keys.matches_password(ScramHash::Sha256, password),
            (None, Some(keys)) => keys.matches_password(ScramHash::Sha1, password),
            (None, None) => false,
        }
    }

    /// The key set a SCRAM exchange with `hash` runs against; `None` when the account has
    /// none for it (the exchange then fails as with a wrong password).
    pub fn for_hash(&self, hash: ScramHash) -> Option<&ScramKeys> {
        match hash {
            ScramHash::Sha1 => self.sha1.as_ref(),
            ScramHash::Sha256 => self.sha256.as_ref(),
        }
    }

    /// Whether a key set is missing: such (imported) credentials are replaced with both key
    /// sets derived afresh once a login reveals the password.
    pub fn needs_upgrade(&self) -> bool {
        !self.is_passwordless() && (self.sha1.is_none() || self.sha256.is_none())
    }
}

fn fresh_salt() -> Vec<u8> {
    rand::random::<[u8; SALT_LEN]>().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwordless_accounts_match_no_password() {
        let creds = StoredCredentials::passwordless();
        assert!(creds.is_passwordless());
        assert!(!creds.verify_password("pencil"));
        assert!(creds.for_hash(ScramHash::Sha256).is_none());
        assert!(!creds.needs_upgrade());
        assert!(
            !StoredCredentials::derive("pencil", 4096)
                .unwrap()
                .is_passwordless()
        );
    }

    #[test]
    fn derive_and_verify_password() {
        let creds = StoredCredentials::derive("pencil", 4096).unwrap();
        assert!(creds.verify_password("pencil"));
        assert!(!creds.verify_password("pencils"));
        assert!(!creds.verify_password(""));
        let (sha1, sha256) = (
            creds.for_hash(ScramHash::Sha1).unwrap(),
            creds.for_hash(ScramHash::Sha256).unwrap(),
        );
        assert_eq!(sha1.salt.len(), SALT_LEN);
        assert_ne!(sha1.salt, sha256.salt);
        assert_eq!(sha1.stored_key.len(), 20);
        assert_eq!(sha256.server_key.len(), 32);
        assert!(!creds.needs_upgrade());
    }

    #[test]
    fn imported_key_sets_verify_with_their_hash_and_ask_for_an_upgrade() {
        let sha1 = ScramHash::Sha1.keys("pencil", b"salt".to_vec(), 4096);
        let only_sha1 = StoredCredentials::from_keys(Some(sha1.clone()), None).unwrap();
        assert!(only_sha1.verify_password("pencil"));
        assert!(!only_sha1.verify_password("pencils"));
        assert!(only_sha1.for_hash(ScramHash::Sha256).is_none());
        assert!(only_sha1.needs_upgrade());
        let sha256 = ScramHash::Sha256.keys("pencil", b"salt".to_vec(), 4096);
        let only_sha256 = StoredCredentials::from_keys(None, Some(sha256.clone())).unwrap();
        assert!(only_sha256.verify_password("pencil"));
        assert!(only_sha256.needs_upgrade());
        assert_eq!(
            StoredCredentials::from_keys(None, None),
            Err(CredentialsError::NoKeys)
        );
        assert_eq!(
            StoredCredentials::from_keys(Some(sha256), None),
            Err(CredentialsError::KeyLength {
                hash: ScramHash::Sha1,
                expected: 20
            })
        );
    }

    #[test]
    fn derive_saslpreps_the_password() {
        // RFC 4013 §3: SOFT HYPHEN maps to nothing.
        let creds = StoredCredentials::derive("I\u{00AD}X", 4096).unwrap();
        assert!(creds.verify_password("IX"));
    }

    #[test]
    fn derive_rejects_bad_input() {
        assert_eq!(
            StoredCredentials::derive("pencil", 4095),
            Err(CredentialsError::IterationsTooLow(4095))
        );
        assert_eq!(
            StoredCredentials::derive("", 4096),
            Err(CredentialsError::InvalidPassword)
        );
        assert_eq!(
            StoredCredentials::derive("bell\u{0007}", 4096),
            Err(CredentialsError::InvalidPassword)
        );
    }

    #[test]
    fn decoys_are_stable_per_user_and_hash_and_match_no_password() {
        let decoy = |hash, name| Decoy::new(b"secret", 4096).keys(hash, name);
        assert_eq!(
            decoy(ScramHash::Sha1, "ghost"),
            decoy(ScramHash::Sha1, "ghost")
        );
        assert_ne!(
            decoy(ScramHash::Sha1, "ghost").salt,
            decoy(ScramHash::Sha1, "spectre").salt
        );
        assert_ne!(
            decoy(ScramHash::Sha1, "ghost").salt,
            decoy(ScramHash::Sha256, "ghost").salt
        );
        let keys = decoy(ScramHash::Sha256, "ghost");
        assert_eq!(keys.salt.len(), SALT_LEN);
        assert_eq!(keys.stored_key.len(), 32);
        assert!(!keys.matches_password(ScramHash::Sha256, "ghost"));
        assert!(!keys.matches_password(ScramHash::Sha256, ""));
        assert_eq!(
            Decoy::new(b"secret", 10_000)
                .keys(ScramHash::Sha1, "ghost")
                .iterations,
            10_000
        );
        let process = Decoy::per_process();
        assert_eq!(
            process.keys(ScramHash::Sha1, "ghost"),
            Decoy::per_process().keys(ScramHash::Sha1, "ghost")
        );
        assert!(!format!("{process:?}").contains("secret"));
    }

    #[test]
    fn debug_output_hides_keys() {
        let creds = StoredCredentials::derive("pencil", 4096).unwrap();
        let debug = format!("{creds:?}");
        assert!(debug.contains("iterations: 4096"), "{debug}");
        assert!(!debug.contains("stored_key"), "{debug}");
        assert!(!debug.contains("server_key"), "{debug}");
    }
}
