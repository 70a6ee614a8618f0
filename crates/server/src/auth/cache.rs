//! Credentials verified once and remembered: bearer tokens and passwords (HTTP Basic, SASL PLAIN)
//! that the store accepted, so that a request costs a hash lookup instead of a query or PBKDF2.
//!
//! Nothing here is ever a reason to let someone in that the store would refuse for longer than
//! the poll interval: entries are keyed by a keyed hash (secret per process) of the presented
//! secret, only successes are kept, local changes remove what they touch at once, and the
//! store's credential version (moved by triggers on every revocation, deletion and password
//! change, whoever makes them) is polled, every cached entry dropped when it moved.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::storage::accounts::{ScramCoverage, TokenGrant};
use crate::storage::{Store, StoreError};

/// How much is cached and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSettings {
    /// Entries per kind (tokens, passwords); 0 turns caching off.
    pub capacity: usize,
    /// How long a verified password is believed without verifying it again.
    pub password_ttl: Duration,
    /// How often the store's credential version is read to see other processes' changes.
    pub poll_every: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            capacity: 10_000,
            password_ttl: Duration::from_secs(60),
            poll_every: Duration::from_secs(1),
        }
    }
}

/// A secret's 128-bit keyed hash: two SipHash-1-3 instances with random keys of this process.
type Key = (u64, u64);

struct Password {
    user: String,
    verified: Instant,
}

#[derive(Default)]
struct State {
    /// The store's credential version the entries were verified under.
    version: Option<i64>,
    /// Moves on every invalidation: a lookup that started before one does not cache its result.
    generation: u64,
    next_poll: Option<Instant>,
    tokens: HashMap<Key, TokenGrant>,
    passwords: HashMap<Key, Password>,
    /// Which SCRAM families every account has keys for; asked at every stream's SASL offer.
    coverage: Option<ScramCoverage>,
}

impl State {
    fn clear(&mut self) {
        self.generation += 1;
        self.tokens.clear();
        self.passwords.clear();
        self.coverage = None;
    }
}

/// What a lookup that missed must hand back to [`CredentialCache::remember_token`] or
/// [`CredentialCache::remember_password`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Miss {
    key: Key,
    generation: u64,
}

pub struct CredentialCache {
    settings: CacheSettings,
    hashers: (RandomState, RandomState),
    state: Mutex<State>,
}

impl CredentialCache {
    pub fn new(settings: CacheSettings) -> CredentialCache {
        CredentialCache {
            settings,
            hashers: (RandomState::new(), RandomState::new()),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn key(&self, parts: &[&str]) -> Key {
        (
            self.hashers.0.hash_one(parts),
            self.hashers.1.hash_one(parts),
        )
    }

    /// Reads the store's credential version when the interval has passed (one caller at a
    /// time does; the others go on with what is cached) and forgets everything if it moved.
    /// A failed read forgets everything too: the store decides again.
    pub async fn poll(&self, store: &dyn Store) {
        let now = Instant::now();
        {
            let mut state = self.state();
            if state.next_poll.is_some_and(|next| now < next) {
                return;
            }
            state.next_poll = Some(now + self.settings.poll_every);
        }
        let version = store.credential_version().await;
        let mut state = self.state();
        match version {
            Ok(version) if state.version == Some(version) => {}
            Ok(version) => {
                state.clear();
                state.version = Some(version);
            }
            Err(e) => {
                log_poll_failure(&e);
                state.clear();
                state.version = None;
            }
        }
    }

    /// The owner and scope of a bearer token, if it was verified before.
    pub fn token(&self, token: &str) -> Result<TokenGrant, Miss> {
        let key = self.key(&["token", token]);
        let state = self.state();
        match state.tokens.get(&key) {
            Some(grant) => Ok(grant.clone()),
            None => Err(Miss {
                key,
                generation: state.generation,
            }),
        }
    }

    pub fn remember_token(&self, miss: Miss, grant: &TokenGrant) {
        let capacity = self.settings.capacity;
        let mut state = self.state();
        if capacity == 0 || state.generation != miss.generation {
            return;
        }
        make_room(&mut state.tokens, capacity);
        state.tokens.insert(miss.key, grant.clone());
    }

    /// Whether `password` was verified for `user` within the TTL.
    pub fn password(&self, user: &str, password: &str) -> Result<(), Miss> {
        let key = self.key(&["password", user, password]);
        let mut state = self.state();
        if let Some(entry) = state.passwords.get(&key) {
            if entry.user == user && entry.verified.elapsed() < self.settings.password_ttl {
                return Ok(());
            }
            state.passwords.remove(&key);
        }
        Err(Miss {
            key,
            generation: state.generation,
        })
    }

    pub fn remember_password(&self, miss: Miss, user: &str) {
        let capacity = self.settings.capacity;
        let mut state = self.state();
        if capacity == 0 || state.generation != miss.generation {
            return;
        }
        make_room(&mut state.passwords, capacity);
        state.passwords.insert(
            miss.key,
            Password {
                user: user.to_owned(),
                verified: Instant::now(),
            },
        );
    }

    /// A token this process revoked.
    pub fn forget_token(&self, token: &str) {
        let key = self.key(&["token", token]);
        let mut state = self.state();
        state.generation += 1;
        state.tokens.remove(&key);
    }

    /// An account whose credentials changed or that was deleted: its tokens and passwords,
    /// and the SCRAM coverage its keys took part in.
    pub fn forget_user(&self, user: &str) {
        let mut state = self.state();
        state.generation += 1;
        state.tokens.retain(|_, grant| grant.user != user);
        state.passwords.retain(|_, entry| entry.user != user);
        state.coverage = None;
    }

    /// The SCRAM coverage read since the last change, or the generation to hand to
    /// [`CredentialCache::remember_coverage`] with what the store says.
    pub fn coverage(&self) -> Result<ScramCoverage, u64> {
        let state = self.state();
        state.coverage.ok_or(state.generation)
    }

    pub fn remember_coverage(&self, generation: u64, coverage: ScramCoverage) {
        let mut state = self.state();
        if self.settings.capacity > 0 && state.generation == generation {
            state.coverage = Some(coverage);
        }
    }
}

/// Keeps a map under its capacity by dropping an arbitrary entry: the cache only saves work,
/// so which one goes matters little, and it costs no bookkeeping per hit.
fn make_room<V>(map: &mut HashMap<Key, V>, capacity: usize) {
    if map.len() >= capacity
        && let Some(key) = map.keys().next().copied()
    {
        map.remove(&key);
    }
}

fn log_poll_failure(e: &StoreError) {
    static FAILED: crate::throttle::ReportEvery =
        crate::throttle::ReportEvery::new(Duration::from_secs(10));
    if let Some(failures) = FAILED.note(Instant::now()) {
        tracing::warn!(error = %e, failures, "cannot read the credential version; cache emptied");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::TokenScope;

    fn alice() -> TokenGrant {
        TokenGrant {
            user: "alice".into(),
            scope: TokenScope::User,
        }
    }

    fn cache(capacity: usize) -> CredentialCache {
        CredentialCache::new(CacheSettings {
            capacity,
            password_ttl: Duration::from_secs(60),
            poll_every: Duration::from_secs(3600),
        })
    }

    #[test]
    fn tokens_hit_after_they_are_remembered_and_miss_once_forgotten() {
        let c = cache(10);
        let miss = c.token("t1").unwrap_err();
        c.remember_token(miss, &alice());
        assert_eq!(c.token("t1"), Ok(alice()));
        assert!(c.token("t2").is_err());
        c.forget_token("t1");
        assert!(c.token("t1").is_err());
        let miss = c.token("t3").unwrap_err();
        c.remember_token(miss, &alice());
        c.forget_user("alice");
        assert!(c.token("t3").is_err());
    }

    #[test]
    fn a_lookup_that_raced_an_invalidation_is_not_cached() {
        let c = cache(10);
        let miss = c.token("t1").unwrap_err();
        c.forget_token("t1");
        c.remember_token(miss, &alice());
        assert!(c.token("t1").is_err());
        let miss = c.password("alice", "pw").unwrap_err();
        c.forget_user("alice");
        c.remember_password(miss, "alice");
        assert!(c.password("alice", "pw").is_err());
    }

    #[test]
    fn passwords_are_keyed_by_user_and_password() {
        let c = cache(10);
        let miss = c.password("alice", "pw").unwrap_err();
        c.remember_password(miss, "alice");
        assert_eq!(c.password("alice", "pw"), Ok(()));
        assert!(c.password("alice", "pw2").is_err());
        assert!(c.password("bob", "pw").is_err());
        // The separator is part of the hash: "a" + "lice…" is not "alice" + "…".
        assert!(c.password("alicep", "w").is_err());
        c.forget_user("bob");
        assert_eq!(c.password("alice", "pw"), Ok(()));
        c.forget_user("alice");
        assert!(c.password("alice", "pw").is_err());
    }

    #[test]
    fn passwords_expire() {
        let c = CredentialCache::new(CacheSettings {
            password_ttl: Duration::ZERO,
            ..CacheSettings::default()
        });
        let miss = c.password("alice", "pw").unwrap_err();
        c.remember_password(miss, "alice");
        assert!(c.password("alice", "pw").is_err());
        assert!(
            c.state().passwords.is_empty(),
            "an expired entry is dropped"
        );
    }

    #[test]
    fn capacity_bounds_each_kind_and_zero_turns_it_off() {
        let c = cache(3);
        for i in 0..10 {
            let token = format!("t{i}");
            let miss = c.token(&token).unwrap_err();
            c.remember_token(miss, &alice());
        }
        assert_eq!(c.state().tokens.len(), 3);
        assert_eq!(c.token("t9"), Ok(alice()), "the newest is kept");
        let off = cache(0);
        let miss = off.token("t1").unwrap_err();
        off.remember_token(miss, &alice());
        assert!(off.token("t1").is_err());
    }
}
