//! Which messages an account archives: its XEP-0441 preferences, or `mam.default_policy` when
//! it set none, with the roster consulted for the `roster` policy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jid::Jid;
use switchboard_xmpp::mam::{Policy, Prefs};

use crate::ctx::Ctx;
use crate::storage::StoreError;
use crate::storage::archive::StoredPrefs;

/// How long a read of an account's preferences is trusted: a change made through this process
/// replaces it at once, one made elsewhere (another node, an account deleted and re-created)
/// is seen after this long at most.
const FRESH: Duration = Duration::from_secs(30);
/// Accounts whose preferences are kept at most; beyond, stale entries go first.
const ENTRIES: usize = 10_000;

/// Preferences read recently, so that archiving a message reads none most of the time.
#[derive(Default)]
pub struct PrefsCache {
    entries: Mutex<HashMap<String, (Instant, Arc<Prefs>)>>,
}

impl PrefsCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<Prefs>)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn keep(&self, user: &str, prefs: Arc<Prefs>) {
        let mut entries = self.lock();
        if entries.len() >= ENTRIES {
            entries.retain(|_, (read, _)| read.elapsed() < FRESH);
            if entries.len() >= ENTRIES {
                entries.clear();
            }
        }
        entries.insert(user.to_owned(), (Instant::now(), prefs));
    }

    /// `user`'s preferences, the configured default when it has none.
    pub async fn get(&self, ctx: &Ctx, user: &str) -> Result<Arc<Prefs>, StoreError> {
        let cached = self
            .lock()
            .get(user)
            .filter(|(read, _)| read.elapsed() < FRESH)
            .map(|(_, prefs)| prefs.clone());
        if let Some(prefs) = cached {
            return Ok(prefs);
        }
        let prefs = Arc::new(load(ctx, user).await?);
        self.keep(user, prefs.clone());
        Ok(prefs)
    }

    pub async fn save(&self, ctx: &Ctx, user: &str, prefs: Prefs) -> Result<(), StoreError> {
        let jids = |list: &[Jid]| list.iter().map(|j| j.to_string()).collect();
        let stored = StoredPrefs {
            default: prefs.default.as_str().to_owned(),
            always: jids(&prefs.always),
            never: jids(&prefs.never),
        };
        ctx.store().set_archive_prefs(user, &stored).await?;
        self.keep(user, Arc::new(prefs));
        Ok(())
    }

    /// Whether `user` archives messages with `peer` (XEP-0441 §2.3). When the preferences
    /// cannot be read nothing is archived: a `never` must not be overridden by a failing disk.
    pub async fn archives(&self, ctx: &Ctx, user: &str, peer: &Jid) -> bool {
        let prefs = match self.get(ctx, user).await {
            Ok(prefs) => prefs,
            Err(e) => {
                tracing::error!(user, error = %e, "cannot read archive preferences");
                return false;
            }
        };
        if let Some(rule) = prefs.rule_for(peer) {
            return rule;
        }
        match prefs.default {
            Policy::Always => true,
            Policy::Never => false,
            Policy::Roster => {
                let contact = peer.to_bare().to_string();
                match ctx.store().roster(user).await {
                    Ok(items) => items.iter().any(|item| item.jid == contact),
                    Err(e) => {
                        tracing::error!(user, error = %e, "cannot read the roster for archiving");
                        false
                    }
                }
            }
        }
    }
}

async fn load(ctx: &Ctx, user: &str) -> Result<Prefs, StoreError> {
    let Some(stored) = ctx.store().archive_prefs(user).await? else {
        return Ok(Prefs {
            default: ctx.config().mam.default_policy,
            ..Prefs::default()
        });
    };
    let corrupt = |e: String| StoreError::Corrupt(format!("archive prefs: {e}"));
    let jids = |list: Vec<String>| {
        list.iter()
            .map(|j| Jid::new(j).map_err(|e| corrupt(e.to_string())))
            .collect::<Result<Vec<Jid>, StoreError>>()
    };
    Ok(Prefs {
        default: stored
            .default
            .parse()
            .map_err(|e: switchboard_xmpp::mam::PrefsError| corrupt(e.to_string()))?,
        always: jids(stored.always)?,
        never: jids(stored.never)?,
    })
}
