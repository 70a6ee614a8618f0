//! The capabilities (XEP-0115) of the resources of local accounts: verified answers cached by
//! `ver`, and the one disco#info query per unknown `ver` that fills the cache.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::caps::{Caps, Interests, Ver};
use switchboard_xmpp::{ns, stanza};

use crate::ctx::Ctx;
use crate::ids::random_id;
use crate::sessions::SessionEntry;

/// Verified `ver`s and the notifications they ask for; cheap to clone.
#[derive(Clone)]
pub struct CapsCache {
    inner: Arc<Inner>,
}

struct Inner {
    known: Mutex<HashMap<Ver, Arc<Interests>>>,
    /// `ver`s being asked about: one query each, whatever the number of resources showing it.
    asking: Mutex<HashSet<Ver>>,
    capacity: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl CapsCache {
    pub fn new(capacity: usize) -> CapsCache {
        CapsCache {
            inner: Arc::new(Inner {
                known: Mutex::new(HashMap::new()),
                asking: Mutex::new(HashSet::new()),
                capacity: capacity.max(1),
            }),
        }
    }

    /// What `caps` is known to ask for.
    pub fn known(&self, caps: &Caps) -> Option<Arc<Interests>> {
        lock(&self.inner.known).get(&caps.ver).cloned()
    }

    /// What the last presence of `entry` asks for, when its capabilities are known.
    pub fn of_entry(&self, entry: &SessionEntry) -> Option<Arc<Interests>> {
        let presence = entry.presence.as_ref()?;
        self.known(&Caps::of_presence(presence)?)
    }

    fn remember(&self, ver: Ver, interests: Arc<Interests>) {
        let mut known = lock(&self.inner.known);
        if known.len() >= self.inner.capacity && !known.contains_key(&ver) {
            // Whole-cache eviction keeps this simple and bounded; real deployments see a few
            // hundred distinct client versions, far below the default size.
            known.clear();
        }
        known.insert(ver, interests);
    }

    /// What `caps`, shown by `full` (a resource of a local account), asks for: from the cache,
    /// or from `full`'s answer to a disco#info query checked against the hash. `None` when
    /// the answer does not verify, does not come in time, or another query for the same `ver`
    /// is under way (its answer serves the next presence).
    pub async fn learn(&self, ctx: &Ctx, full: &Jid, caps: &Caps) -> Option<Arc<Interests>> {
        if let Some(interests) = self.known(caps) {
            return Some(interests);
        }
        if !lock(&self.inner.asking).insert(caps.ver.clone()) {
            return None;
        }
        let answer = ask(ctx, full, caps).await;
        lock(&self.inner.asking).remove(&caps.ver);
        let query = answer?;
        match caps.verify(&query) {
            Ok(interests) => {
                let interests = Arc::new(interests);
                self.remember(caps.ver.clone(), interests.clone());
                Some(interests)
            }
            Err(e) => {
                tracing::debug!(jid = %full, error = %e, "capabilities not verified");
                None
            }
        }
    }
}

/// Sends the disco#info query for `caps` to `full` and waits for the `<query/>` of its result.
async fn ask(ctx: &Ctx, full: &Jid, caps: &Caps) -> Option<Element> {
    let asker = Jid::new(&format!("{}/caps", ctx.domain())).ok()?;
    let id = random_id();
    let (_guard, mut replies) = ctx.waiters().wait_for_reply(&asker, &id, None)?;
    let mut iq = Element::bare("iq", ns::CLIENT);
    stanza::set_attr(&mut iq, "type", "get");
    stanza::set_attr(&mut iq, "id", &id);
    stanza::set_attr(&mut iq, "from", asker.as_str());
    stanza::set_attr(&mut iq, "to", full.as_str());
    iq.append_child(caps.query());
    ctx.send(iq).await;
    let timeout = Duration::from_secs(ctx.config().pep.caps_timeout_secs);
    let reply = tokio::time::timeout(timeout, replies.recv()).await.ok()??;
    if reply.attr("type") != Some("result") {
        return None;
    }
    reply.get_child("query", ns::DISCO_INFO).cloned()
}
