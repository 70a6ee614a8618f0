//! Which messages an account archives: its XEP-0441 preferences, or `mam.default_policy` when
//! it set none, with the roster consulted for the `roster` policy.

use jid::Jid;
use switchboard_xmpp::mam::{Policy, Prefs};

use crate::ctx::Ctx;
use crate::storage::StoreError;
use crate::storage::archive::StoredPrefs;

/// `user`'s preferences, the configured default when it has none.
pub async fn prefs(ctx: &Ctx, user: &str) -> Result<Prefs, StoreError> {
    let Some(stored) = ctx.store().archive_prefs(user).await? else {
        return Ok(Prefs {
            default: ctx.config().mam.default_policy,
            ..Prefs::default()
        });
    };
    let jids = |list: Vec<String>| {
        list.iter()
            .map(|j| Jid::new(j).map_err(|e| StoreError::Corrupt(format!("archive prefs: {e}"))))
            .collect::<Result<Vec<Jid>, StoreError>>()
    };
    Ok(Prefs {
        default: stored
            .default
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("archive prefs: {e}")))?,
        always: jids(stored.always)?,
        never: jids(stored.never)?,
    })
}

pub async fn save(ctx: &Ctx, user: &str, prefs: &Prefs) -> Result<(), StoreError> {
    let jids = |list: &[Jid]| list.iter().map(|j| j.to_string()).collect();
    let stored = StoredPrefs {
        default: prefs.default.as_str().to_owned(),
        always: jids(&prefs.always),
        never: jids(&prefs.never),
    };
    ctx.store().set_archive_prefs(user, &stored).await
}

/// Whether `user` archives messages with `peer` (XEP-0441 §2.3). When the preferences cannot
/// be read nothing is archived: a `never` must not be overridden by a failing disk.
pub async fn archives(ctx: &Ctx, user: &str, peer: &Jid) -> bool {
    let prefs = match prefs(ctx, user).await {
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
