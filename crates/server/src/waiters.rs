//! HTTP requests waiting for stanzas: an iq POSTed to `/rest` waits for its reply (and MAM
//! results for its query, mod_rest §4.3). A mailbox the router checks before any session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::ns;
use tokio::sync::mpsc;

use crate::throttle::ReportEvery;

/// Replies dropped because their waiter's queue was full, summarised.
static DROPPED: ReportEvery = ReportEvery::new(std::time::Duration::from_secs(10));

/// What one request waits for. Nothing else sent to its JID is taken away from the JID's owner.
struct Waiter {
    id: u64,
    /// The `id` of the iq the request sent.
    iq_id: String,
    /// MAM results for this query id are collected too.
    queryid: Option<String>,
    tx: mpsc::Sender<Element>,
}

impl Waiter {
    fn wants(&self, stanza: &Element) -> bool {
        match stanza.name() {
            "iq" => {
                stanza.attr("id") == Some(self.iq_id.as_str())
                    && matches!(stanza.attr("type"), Some("result" | "error"))
            }
            "message" => self.queryid.as_deref().is_some_and(|q| {
                stanza
                    .get_child("result", ns::MAM)
                    .is_some_and(|r| r.attr("queryid") == Some(q))
            }),
            _ => false,
        }
    }
}

/// Stanzas one request may hold before it reads them: a whole page of MAM results (up to
/// `mam.max_page_size`) and the iq that ends it arrive in one burst.
pub const CAPACITY: usize = 1024;

#[derive(Default)]
pub struct Waiters {
    by_jid: RwLock<HashMap<String, Vec<Waiter>>>,
    /// How many waiters exist, read without the lock: nearly always none.
    count: AtomicUsize,
    next_id: AtomicU64,
}

/// Removes its waiter when the HTTP request ends, answered or not.
pub struct WaiterGuard {
    waiters: Arc<Waiters>,
    jid: String,
    id: u64,
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        let mut map = self.waiters.write();
        if let Some(list) = map.get_mut(&self.jid) {
            let before = list.len();
            list.retain(|w| w.id != self.id);
            if list.len() < before {
                self.waiters.count.fetch_sub(1, Ordering::Relaxed);
            }
            if list.is_empty() {
                map.remove(&self.jid);
            }
        }
    }
}

impl Waiters {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Vec<Waiter>>> {
        self.by_jid
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers interest in the reply to iq `iq_id` sent from `full_jid` (and in MAM results
    /// for `queryid`). `None` when an iq with that id from that JID is already waiting.
    pub fn wait_for_reply(
        self: &Arc<Self>,
        full_jid: &Jid,
        iq_id: &str,
        queryid: Option<&str>,
    ) -> Option<(WaiterGuard, mpsc::Receiver<Element>)> {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let jid = full_jid.to_string();
        let mut map = self.write();
        let list = map.entry(jid.clone()).or_default();
        if list.iter().any(|w| w.iq_id == iq_id) {
            return None;
        }
        list.push(Waiter {
            id,
            iq_id: iq_id.to_owned(),
            queryid: queryid.map(str::to_owned),
            tx,
        });
        self.count.fetch_add(1, Ordering::Relaxed);
        let guard = WaiterGuard {
            waiters: self.clone(),
            jid,
            id,
        };
        Some((guard, rx))
    }

    /// Hands a copy of `stanza` to a waiting request if one wants it; true when taken.
    pub fn capture(&self, to: &Jid, stanza: &Element) -> bool {
        if self.count.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let map = self
            .by_jid
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(waiter) = map
            .get(to.as_str())
            .and_then(|l| l.iter().find(|w| w.wants(stanza)))
        else {
            return false;
        };
        if waiter.tx.try_send(stanza.clone()).is_err()
            && let Some(dropped) = DROPPED.note(tokio::time::Instant::now())
        {
            tracing::warn!(to = %to, dropped, "HTTP waiter is not keeping up; stanzas dropped (count since the last report)");
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn reply_and_mam_results_are_captured_nothing_else() {
        let waiters = Arc::new(Waiters::default());
        let me = jid("alice@localhost/rest-1");
        let (guard, mut rx) = waiters.wait_for_reply(&me, "q1", Some("mam1")).unwrap();
        assert!(waiters.wait_for_reply(&me, "q1", None).is_none());
        let push: Element = "<iq xmlns='jabber:client' type='set' id='q1'/>"
            .parse()
            .unwrap();
        assert!(!waiters.capture(&me, &push), "a request is not a reply");
        let result: Element = "<message xmlns='jabber:client'><result xmlns='urn:xmpp:mam:2' queryid='mam1'/></message>"
            .parse()
            .unwrap();
        assert!(waiters.capture(&me, &result));
        let other: Element = "<message xmlns='jabber:client'><body>hi</body></message>"
            .parse()
            .unwrap();
        assert!(!waiters.capture(&me, &other));
        let reply: Element = "<iq xmlns='jabber:client' type='result' id='q1'/>"
            .parse()
            .unwrap();
        assert!(!waiters.capture(&jid("alice@localhost/x"), &reply));
        assert!(waiters.capture(&me, &reply));
        assert_eq!(rx.try_recv().unwrap().name(), "message");
        assert_eq!(rx.try_recv().unwrap().name(), "iq");
        drop(guard);
        assert_eq!(waiters.count.load(Ordering::Relaxed), 0);
        assert!(waiters.wait_for_reply(&me, "q1", None).is_some());
    }
}
