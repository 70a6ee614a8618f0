//! The capabilities (XEP-0115) of the resources of local accounts: verified answers cached by
//! `ver`, and the one disco#info query per unknown `ver` that fills the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::caps::{Caps, Interests, Ver};
use switchboard_xmpp::{ns, stanza};
use tokio::sync::Notify;

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
    /// `ver`s being asked about: one query each, whatever the number of resources showing it;
    /// the others wait for its answer.
    asking: Mutex<HashMap<Ver, Arc<Notify>>>,
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
                asking: Mutex::new(HashMap::new()),
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
    /// or from `full`'s answer to a disco#info query checked against the hash (while one query
    /// for the `ver` is under way, others wait for it). `None` when the answer does not verify
    /// or does not come in time.
    pub async fn learn(&self, ctx: &Ctx, full: &Jid, caps: &Caps) -> Option<Arc<Interests>> {
        if let Some(interests) = self.known(caps) {
            return Some(interests);
        }
        let timeout = Duration::from_secs(ctx.config().pep.caps_timeout_secs);
        let waiting = {
            let mut asking = lock(&self.inner.asking);
            match asking.get(&caps.ver) {
                Some(notify) => Some(notify.clone()),
                None => {
                    asking.insert(caps.ver.clone(), Arc::new(Notify::new()));
                    None
                }
            }
        };
        if let Some(notify) = waiting {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // The answer may have come between the look-ups above.
            if let Some(interests) = self.known(caps) {
                return Some(interests);
            }
            let _ = tokio::time::timeout(timeout, notified).await;
            return self.known(caps);
        }
        let learnt = match ask(ctx, full, caps, timeout).await {
            Some(query) => match caps.verify(&query) {
                Ok(interests) => {
                    let interests = Arc::new(interests);
                    self.remember(caps.ver.clone(), interests.clone());
                    Some(interests)
                }
                Err(e) => {
                    tracing::debug!(jid = %full, error = %e, "capabilities not verified");
                    None
                }
            },
            None => None,
        };
        if let Some(notify) = lock(&self.inner.asking).remove(&caps.ver) {
            notify.notify_waiters();
        }
        learnt
    }
}

/// Sends the disco#info query for `caps` to `full` and waits for the `<query/>` of its result.
async fn ask(ctx: &Ctx, full: &Jid, caps: &Caps, timeout: Duration) -> Option<Element> {
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
    let reply = tokio::time::timeout(timeout, replies.recv()).await.ok()??;
    if reply.attr("type") != Some("result") {
        return None;
    }
    reply.get_child("query", ns::DISCO_INFO).cloned()
}
