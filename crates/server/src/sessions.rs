//! The table of bound resources behind a small trait: what the router resolves addresses
//! against. Local sessions today; a cluster registry can implement the same trait later.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::stanza::StreamCondition;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Identifies one binding of a resource; a resource re-bound by a new stream gets a new id.
pub type SessionId = u64;

/// What a session mailbox carries.
#[derive(Debug)]
pub enum SessionMsg {
    /// Boxed so that a message is a few words: the channel allocates its slots in blocks, and
    /// an idle session's mailbox should cost little.
    Stanza(Box<Element>),
    /// Close the stream with this error (e.g. `conflict` when the resource is taken over).
    Kick(StreamCondition, &'static str),
}

pub type Mailbox = mpsc::Sender<SessionMsg>;

/// The table's view of one bound resource; the session's own state stays in its task.
#[derive(Clone, Debug)]
pub struct SessionEntry {
    pub id: SessionId,
    pub resource: String,
    pub tx: Mailbox,
    /// Sent available presence: eligible for messages to the bare JID.
    pub available: bool,
    pub priority: i8,
    /// Requested the roster, so it receives roster pushes (RFC 6121 §2.1.6).
    pub interested: bool,
    /// The last available presence it broadcast, shown to its newly available siblings.
    pub presence: Option<Arc<Element>>,
    /// Enabled message carbons (XEP-0280): gets copies of the account's other conversations.
    pub carbons: bool,
    /// Requested the blocklist, so it receives blocklist pushes (XEP-0191 §3.3).
    pub blocklist_requested: bool,
    /// Entities it sent directed presence to, told when it becomes unavailable (RFC 6121 §4.6).
    pub directed: Arc<HashSet<Jid>>,
    /// Its link dropped and it waits to be resumed (XEP-0198): what reaches it is queued, and
    /// its client learns of it only when it comes back (push notifications, XEP-0357).
    pub detached: bool,
}

/// How a write to a mailbox went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    Delivered,
    /// The session is not keeping up: back-pressure, never unbounded memory.
    Full,
    /// The session ended between lookup and delivery.
    Gone,
}

impl SessionEntry {
    /// Writes a stanza to this resource's mailbox without waiting.
    pub fn push(&self, el: Element) -> Pushed {
        match self.tx.try_send(SessionMsg::Stanza(Box::new(el))) {
            Ok(()) => Pushed::Delivered,
            Err(mpsc::error::TrySendError::Full(_)) => Pushed::Full,
            Err(mpsc::error::TrySendError::Closed(_)) => Pushed::Gone,
        }
    }

    /// Writes a stanza to this resource's mailbox, waiting for room until `deadline`. Only for
    /// senders that are not sessions themselves: a session waiting for its own mailbox (or for
    /// one whose owner waits for it) would never be woken.
    pub async fn push_until(&self, el: Element, deadline: Instant) -> Pushed {
        match tokio::time::timeout_at(deadline, self.tx.send(SessionMsg::Stanza(Box::new(el))))
            .await
        {
            Ok(Ok(())) => Pushed::Delivered,
            Ok(Err(_)) => Pushed::Gone,
            Err(_) => Pushed::Full,
        }
    }
}

/// Where bound resources are looked up. Users are nodeprep'd localparts of the served domain.
pub trait SessionTable: Send + Sync + 'static {
    /// Binds `resource` for `user`; returns the new id and the entry it displaced, if any.
    fn bind(&self, user: &str, resource: &str, tx: Mailbox) -> (SessionId, Option<SessionEntry>);
    /// Removes a binding; a newer binding of the same resource is left alone.
    fn unbind(&self, user: &str, id: SessionId);
    /// Every bound resource of `user`.
    fn resources(&self, user: &str) -> Vec<SessionEntry>;
    /// One bound resource of `user`.
    fn resource(&self, user: &str, resource: &str) -> Option<SessionEntry>;
    /// The binding of session `id` of `user`, while it lasts.
    fn session(&self, user: &str, id: SessionId) -> Option<SessionEntry> {
        self.resources(user).into_iter().find(|e| e.id == id)
    }
    /// Whether `user` has any bound resource.
    fn is_bound(&self, user: &str) -> bool;
    /// Changes one binding in place; returns whether it exists.
    fn update(&self, user: &str, id: SessionId, change: &mut dyn FnMut(&mut SessionEntry)) -> bool;
    /// Users with at least one bound resource and their resource counts, sorted.
    fn users(&self) -> Vec<(String, usize)>;
    /// Bound resources across all users.
    fn count(&self) -> usize;
}

/// The sessions of this process.
#[derive(Default)]
pub struct LocalSessions {
    by_user: RwLock<HashMap<String, Vec<SessionEntry>>>,
    next_id: AtomicU64,
}

impl LocalSessions {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Vec<SessionEntry>>> {
        self.by_user
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Vec<SessionEntry>>> {
        self.by_user
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SessionTable for LocalSessions {
    fn bind(&self, user: &str, resource: &str, tx: Mailbox) -> (SessionId, Option<SessionEntry>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = SessionEntry {
            id,
            resource: resource.to_owned(),
            tx,
            available: false,
            priority: 0,
            interested: false,
            presence: None,
            carbons: false,
            blocklist_requested: false,
            directed: Arc::default(),
            detached: false,
        };
        let mut table = self.write();
        let list = table.entry(user.to_owned()).or_default();
        let replaced = list
            .iter()
            .position(|e| e.resource == resource)
            .map(|i| list.swap_remove(i));
        list.push(entry);
        (id, replaced)
    }

    fn unbind(&self, user: &str, id: SessionId) {
        let mut table = self.write();
        if let Some(list) = table.get_mut(user) {
            list.retain(|e| e.id != id);
            if list.is_empty() {
                table.remove(user);
            }
        }
    }

    fn resources(&self, user: &str) -> Vec<SessionEntry> {
        self.read().get(user).cloned().unwrap_or_default()
    }

    fn resource(&self, user: &str, resource: &str) -> Option<SessionEntry> {
        self.read()
            .get(user)
            .and_then(|list| list.iter().find(|e| e.resource == resource).cloned())
    }

    fn is_bound(&self, user: &str) -> bool {
        self.read().contains_key(user)
    }

    fn update(&self, user: &str, id: SessionId, change: &mut dyn FnMut(&mut SessionEntry)) -> bool {
        let mut table = self.write();
        match table
            .get_mut(user)
            .and_then(|list| list.iter_mut().find(|e| e.id == id))
        {
            Some(entry) => {
                change(entry);
                true
            }
            None => false,
        }
    }

    fn users(&self) -> Vec<(String, usize)> {
        let mut users: Vec<(String, usize)> = self
            .read()
            .iter()
            .map(|(user, list)| (user.clone(), list.len()))
            .collect();
        users.sort();
        users
    }

    fn count(&self) -> usize {
        self.read().values().map(Vec::len).sum()
    }
}

/// Keeps a binding alive; dropping it removes the entry.
pub struct Registration {
    table: Arc<dyn SessionTable>,
    user: String,
    id: SessionId,
}

impl Registration {
    /// Binds `resource` for `user` in `table`. A session already holding it is told to close
    /// with `conflict` (RFC 6120 §7.7.2.2: the newer session wins).
    pub fn bind(
        table: Arc<dyn SessionTable>,
        user: &str,
        resource: &str,
        tx: Mailbox,
    ) -> Registration {
        let (id, replaced) = table.bind(user, resource, tx);
        if let Some(old) = replaced {
            let _ = old.tx.try_send(SessionMsg::Kick(
                StreamCondition::Conflict,
                "Replaced by new connection",
            ));
        }
        Registration {
            table,
            user: user.to_owned(),
            id,
        }
    }

    pub fn id(&self) -> SessionId {
        self.id
    }

    /// Changes this binding's entry in place.
    pub fn update(&self, mut change: impl FnMut(&mut SessionEntry)) {
        self.table.update(&self.user, self.id, &mut change);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.table.unbind(&self.user, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox() -> (Mailbox, mpsc::Receiver<SessionMsg>) {
        mpsc::channel(4)
    }

    #[test]
    fn rebinding_a_resource_kicks_the_old_session() {
        let table: Arc<dyn SessionTable> = Arc::new(LocalSessions::default());
        let (tx1, mut rx1) = mailbox();
        let first = Registration::bind(table.clone(), "alice", "phone", tx1);
        let (tx2, _rx2) = mailbox();
        let second = Registration::bind(table.clone(), "alice", "phone", tx2);
        assert!(matches!(
            rx1.try_recv(),
            Ok(SessionMsg::Kick(StreamCondition::Conflict, _))
        ));
        assert_eq!(table.resources("alice").len(), 1);
        // The displaced session ending must not remove its successor.
        drop(first);
        assert_eq!(
            table.resource("alice", "phone").map(|e| e.id),
            Some(second.id())
        );
        drop(second);
        assert!(!table.is_bound("alice"));
        assert_eq!(table.count(), 0);
    }

    #[test]
    fn updates_and_listing() {
        let table: Arc<dyn SessionTable> = Arc::new(LocalSessions::default());
        let (tx, _rx) = mailbox();
        let a = Registration::bind(table.clone(), "alice", "a", tx.clone());
        let _b = Registration::bind(table.clone(), "alice", "b", tx.clone());
        let _c = Registration::bind(table.clone(), "bob", "c", tx);
        a.update(|e| {
            e.available = true;
            e.priority = 5;
        });
        let entry = table.resource("alice", "a").unwrap();
        assert!(entry.available);
        assert_eq!(entry.priority, 5);
        assert!(!table.update("alice", 999, &mut |_| {}));
        assert_eq!(
            table.users(),
            vec![("alice".to_owned(), 2), ("bob".to_owned(), 1)]
        );
        assert_eq!(table.count(), 3);
    }
}
