//! The one router every stanza flows through: it checks the sender's `from`, then delivers by the
//! `to` address to a session mailbox, offline storage, or a service on the server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StanzaKind, StreamCondition};
use tokio::sync::mpsc;

use crate::auth::Accounts;
use crate::services;

/// What a session mailbox carries.
#[derive(Debug)]
pub enum SessionMsg {
    Stanza(Element),
    /// Close the stream with this error (e.g. `conflict` when the resource is taken over).
    Kick(StreamCondition, &'static str),
}

/// The router's view of one bound resource; the session's own state stays in its task.
#[derive(Clone, Debug)]
pub struct SessionEntry {
    pub resource: String,
    pub id: u64,
    pub tx: mpsc::Sender<SessionMsg>,
    /// Sent available presence: eligible for messages to the bare JID.
    pub available: bool,
    pub priority: i8,
    /// Requested the roster, so it receives roster pushes (RFC 6121 §2.1.6).
    pub interested: bool,
    pub presence: Option<Element>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RouteError {
    #[error("'from' does not match the authenticated identity")]
    SpoofedFrom,
    #[error("'from' is not a valid JID")]
    InvalidFrom,
}

#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

struct Inner {
    domain: String,
    accounts: Accounts,
    /// Bare JIDs allowed to run admin commands.
    admins: Vec<String>,
    started: std::time::Instant,
    /// Domains served by REST components.
    components: Vec<String>,
    /// HTTP requests waiting for replies, by the JID they were sent from.
    waiters: RwLock<HashMap<String, Vec<Waiter>>>,
    /// How many waiters exist, read without the lock.
    waiting: std::sync::atomic::AtomicUsize,
    sessions: RwLock<HashMap<String, Vec<SessionEntry>>>,
    next_id: AtomicU64,
    /// Callbacks for components and accounts; set once at startup.
    webhooks: std::sync::OnceLock<crate::webhook::Webhooks>,
}

/// What an HTTP request waits for: the reply to its iq, and MAM results for its query
/// (mod_rest §4.3). Nothing else sent to that JID is taken away from its owner.
struct Waiter {
    id: u64,
    /// The `id` of the stanza the request sent.
    stanza_id: String,
    wait: WaitFor,
    tx: mpsc::Sender<Element>,
}

enum WaitFor {
    /// The reply to an iq, and MAM results for its query.
    Reply { queryid: Option<String> },
    /// An error the server sends straight back for a message or presence (mod_rest §4.2
    /// answers with it instead of 202).
    Bounce { kind: &'static str },
}

impl Waiter {
    fn wants(&self, stanza: &Element) -> bool {
        let same_id = stanza.attr("id") == Some(self.stanza_id.as_str());
        match &self.wait {
            WaitFor::Reply { queryid } => match stanza.name() {
                "iq" => same_id && matches!(stanza.attr("type"), Some("result" | "error")),
                "message" => queryid.as_deref().is_some_and(|q| {
                    stanza
                        .get_child("result", "urn:xmpp:mam:2")
                        .is_some_and(|r| r.attr("queryid") == Some(q))
                }),
                _ => false,
            },
            WaitFor::Bounce { kind } => {
                same_id && stanza.name() == *kind && stanza.attr("type") == Some("error")
            }
        }
    }
}

/// Removes its waiter when the HTTP request ends, answered or not.
pub struct WaiterGuard {
    router: Router,
    jid: String,
    id: u64,
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        let mut waiters = self
            .router
            .inner
            .waiters
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(list) = waiters.get_mut(&self.jid) {
            let before = list.len();
            list.retain(|w| w.id != self.id);
            if list.len() < before {
                self.router.inner.waiting.fetch_sub(1, Ordering::Relaxed);
            }
            if list.is_empty() {
                waiters.remove(&self.jid);
            }
        }
    }
}

/// Keeps a registration alive; dropping it removes the session entry.
pub struct Registration {
    router: Router,
    user: String,
    resource: String,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.router.unregister(&self.user, &self.resource, self.id);
    }
}

impl Registration {
    pub fn full_jid(&self) -> String {
        format!("{}@{}/{}", self.user, self.router.domain(), self.resource)
    }

    pub fn resource(&self) -> &str {
        &self.resource
    }

    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Router {
    pub fn new(
        domain: &str,
        accounts: Accounts,
        admins: &[String],
        components: &[String],
    ) -> Router {
        Router {
            inner: Arc::new(Inner {
                domain: domain.to_owned(),
                accounts,
                admins: admins
                    .iter()
                    .filter_map(|a| jid::BareJid::new(a).ok())
                    .map(|a| a.to_string())
                    .collect(),
                started: std::time::Instant::now(),
                components: components.to_vec(),
                waiters: RwLock::new(HashMap::new()),
                waiting: std::sync::atomic::AtomicUsize::new(0),
                sessions: RwLock::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                webhooks: std::sync::OnceLock::new(),
            }),
        }
    }

    pub fn domain(&self) -> &str {
        &self.inner.domain
    }

    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }

    /// The webhook subsystem, once [`Router::attach_webhooks`] ran.
    pub fn webhooks(&self) -> Option<&crate::webhook::Webhooks> {
        self.inner.webhooks.get()
    }

    /// Hands the router its webhooks; a second call is ignored.
    pub fn attach_webhooks(&self, webhooks: crate::webhook::Webhooks) {
        let _ = self.inner.webhooks.set(webhooks);
    }

    /// Whether `jid` (any resource) belongs to an account listed in `admins`.
    pub fn is_admin(&self, jid: &Jid) -> bool {
        self.inner.admins.contains(&jid.to_bare().to_string())
    }

    /// Time since the server started.
    pub fn uptime(&self) -> std::time::Duration {
        self.inner.started.elapsed()
    }

    /// Bare JIDs with at least one bound resource, with their resource counts.
    pub fn connected_users(&self) -> Vec<(String, usize)> {
        let mut users: Vec<(String, usize)> = self
            .sessions_read()
            .iter()
            .map(|(user, list)| (format!("{user}@{}", self.domain()), list.len()))
            .collect();
        users.sort();
        users
    }

    fn sessions_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Vec<SessionEntry>>> {
        self.inner
            .sessions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sessions_write(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Vec<SessionEntry>>> {
        self.inner
            .sessions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Binds `resource` for `user`. A session already holding it is told to close with
    /// `conflict` (RFC 6120 §7.7.2.2: the newer session wins).
    pub fn register(
        &self,
        user: &str,
        resource: &str,
        tx: mpsc::Sender<SessionMsg>,
    ) -> Registration {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = SessionEntry {
            resource: resource.to_owned(),
            id,
            tx,
            available: false,
            priority: 0,
            interested: false,
            presence: None,
        };
        let replaced = {
            let mut sessions = self.sessions_write();
            let list = sessions.entry(user.to_owned()).or_default();
            let old = list
                .iter()
                .position(|e| e.resource == resource)
                .map(|i| list.swap_remove(i));
            list.push(entry);
            old
        };
        if let Some(old) = replaced {
            let _ = old.tx.try_send(SessionMsg::Kick(
                StreamCondition::Conflict,
                "Replaced by new connection",
            ));
        }
        Registration {
            router: self.clone(),
            user: user.to_owned(),
            resource: resource.to_owned(),
            id,
        }
    }

    /// Registers interest in the reply to iq `iq_id` sent from `full_jid` (and in MAM results
    /// for `queryid`). `None` when an iq with that id from that JID is already waiting.
    pub fn wait_for_reply(
        &self,
        full_jid: &str,
        iq_id: &str,
        queryid: Option<&str>,
    ) -> Option<(WaiterGuard, mpsc::Receiver<Element>)> {
        let wait = WaitFor::Reply {
            queryid: queryid.map(str::to_owned),
        };
        self.add_waiter(full_jid, iq_id, wait)
    }

    /// Registers interest in an error the server sends back at once for the message or
    /// presence `stanza_id` sent from `jid` (bare or full). `None` when one is already waiting.
    pub fn wait_for_bounce(
        &self,
        jid: &str,
        stanza_id: &str,
        kind: StanzaKind,
    ) -> Option<(WaiterGuard, mpsc::Receiver<Element>)> {
        let wait = WaitFor::Bounce {
            kind: kind.as_str(),
        };
        self.add_waiter(jid, stanza_id, wait)
    }

    fn add_waiter(
        &self,
        jid: &str,
        stanza_id: &str,
        wait: WaitFor,
    ) -> Option<(WaiterGuard, mpsc::Receiver<Element>)> {
        let (tx, rx) = mpsc::channel(64);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut waiters = self
            .inner
            .waiters
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let list = waiters.entry(jid.to_owned()).or_default();
        if list.iter().any(|w| w.stanza_id == stanza_id) {
            return None;
        }
        list.push(Waiter {
            id,
            stanza_id: stanza_id.to_owned(),
            wait,
            tx,
        });
        self.inner.waiting.fetch_add(1, Ordering::Relaxed);
        let guard = WaiterGuard {
            router: self.clone(),
            jid: jid.to_owned(),
            id,
        };
        Some((guard, rx))
    }

    /// Hands `stanza` to a waiting HTTP request if one wants it; otherwise gives it back.
    fn capture(&self, to: &Jid, stanza: Element) -> Option<Element> {
        // Nearly always nobody waits: skip the lock and the JID formatting on the routing path.
        if self.inner.waiting.load(Ordering::Relaxed) == 0 {
            return Some(stanza);
        }
        let to = to.to_string();
        let to = to.as_str();
        let waiters = self
            .inner
            .waiters
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(waiter) = waiters
            .get(to)
            .and_then(|l| l.iter().find(|w| w.wants(&stanza)))
        else {
            return Some(stanza);
        };
        if waiter.tx.try_send(stanza).is_err() {
            tracing::warn!(to, "HTTP waiter is not keeping up; reply dropped");
        }
        None
    }

    /// Whether `domain` is served by a REST component.
    pub fn is_component(&self, domain: &str) -> bool {
        self.inner.components.iter().any(|c| c == domain)
    }

    fn unregister(&self, user: &str, resource: &str, id: u64) {
        let mut sessions = self.sessions_write();
        if let Some(list) = sessions.get_mut(user) {
            list.retain(|e| !(e.resource == resource && e.id == id));
            if list.is_empty() {
                sessions.remove(user);
            }
        }
    }

    /// Updates one session's entry in place.
    pub fn update_session(&self, user: &str, id: u64, f: impl FnOnce(&mut SessionEntry)) {
        let mut sessions = self.sessions_write();
        if let Some(entry) = sessions
            .get_mut(user)
            .and_then(|list| list.iter_mut().find(|e| e.id == id))
        {
            f(entry);
        }
    }

    /// A snapshot of a user's sessions.
    pub fn sessions_of(&self, user: &str) -> Vec<SessionEntry> {
        self.sessions_read().get(user).cloned().unwrap_or_default()
    }

    /// Number of bound resources (including REST waiters) across all users.
    pub fn session_count(&self) -> usize {
        self.sessions_read().values().map(Vec::len).sum()
    }

    /// Generates a resource not currently bound for `user`.
    pub fn fresh_resource(&self, prefix: &str) -> String {
        format!("{prefix}{}", random_id())
    }

    /// Accepts a stanza from an authenticated surface: `from` is stamped with `identity` when
    /// absent and must otherwise belong to it (a bare identity may pick any resource).
    pub async fn submit(&self, identity: &Jid, mut stanza: Element) -> Result<(), RouteError> {
        match stanza.attr("from") {
            None => stanza::set_attr(&mut stanza, "from", &identity.to_string()),
            Some(from) => {
                let from = Jid::new(from).map_err(|_| RouteError::InvalidFrom)?;
                // mod_rest's jid.compare: parts the identity leaves out are wildcards, so
                // a component domain may send as anything@domain/anything.
                let allowed = match (identity.node(), identity.resource()) {
                    (_, Some(_)) => from == *identity,
                    (Some(_), None) => from.to_bare() == identity.to_bare(),
                    (None, None) => from.domain() == identity.domain(),
                };
                if !allowed {
                    return Err(RouteError::SpoofedFrom);
                }
                stanza::set_attr(&mut stanza, "from", &from.to_string());
            }
        }
        self.route(stanza).await;
        Ok(())
    }

    /// Delivers a stanza whose `from` is already trusted (stamped by a surface or a service).
    pub async fn route(&self, stanza: Element) {
        let Some(kind) = StanzaKind::of(&stanza) else {
            tracing::debug!(name = stanza.name(), "dropping non-stanza element");
            return;
        };
        let to = match stanza.attr("to").map(Jid::new) {
            None => None,
            Some(Ok(to)) => Some(to),
            Some(Err(_)) => {
                self.bounce(
                    &stanza,
                    ErrorType::Modify,
                    DefinedCondition::JidMalformed,
                    None,
                )
                .await;
                return;
            }
        };
        let stanza = match &to {
            Some(to) => match self.capture(to, stanza) {
                Some(stanza) => stanza,
                None => return,
            },
            None => stanza,
        };
        match to {
            None => services::handle_to_self(self, kind, stanza).await,
            Some(to) if self.is_component(to.domain().as_str()) => {
                services::component::deliver(self, stanza).await
            }
            Some(to) if to.domain().as_str() != self.domain() => {
                self.bounce(
                    &stanza,
                    ErrorType::Cancel,
                    DefinedCondition::RemoteServerNotFound,
                    Some("Server-to-server federation is not enabled"),
                )
                .await
            }
            Some(to) => match to.node() {
                None => services::handle_to_server(self, kind, stanza).await,
                Some(node) => {
                    let user = node.to_string();
                    match to.resource() {
                        Some(resource) => {
                            let resource = resource.to_string();
                            self.to_full(kind, &user, &resource, stanza).await
                        }
                        None => self.to_bare(kind, &user, stanza).await,
                    }
                }
            },
        }
    }

    async fn to_full(&self, kind: StanzaKind, user: &str, resource: &str, stanza: Element) {
        let target = self
            .sessions_read()
            .get(user)
            .and_then(|list| list.iter().find(|e| e.resource == resource).cloned());
        if let Some(entry) = target {
            self.push(&entry, stanza).await;
            return;
        }
        // An account with a callback and no session takes it by webhook (crate::webhook).
        let Some(stanza) = crate::webhook::divert(self, user, stanza).await else {
            return;
        };
        let type_ = stanza.attr("type").unwrap_or_default().to_owned();
        match (kind, type_.as_str()) {
            // RFC 6121 §8.5.3.2.1: a message to an unavailable resource is treated as bare.
            (StanzaKind::Message, "" | "normal" | "chat") => self.to_bare(kind, user, stanza).await,
            (StanzaKind::Message, "groupchat") | (StanzaKind::Iq, "get" | "set") => {
                self.bounce(
                    &stanza,
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    None,
                )
                .await
            }
            _ => {}
        }
    }

    async fn to_bare(&self, kind: StanzaKind, user: &str, stanza: Element) {
        // An account with a callback and no session takes it by webhook (crate::webhook).
        let Some(stanza) = crate::webhook::divert(self, user, stanza).await else {
            return;
        };
        match kind {
            StanzaKind::Message => self.message_to_bare(user, stanza).await,
            StanzaKind::Presence => {
                let targets: Vec<SessionEntry> = self
                    .sessions_of(user)
                    .into_iter()
                    .filter(|e| e.available)
                    .collect();
                for entry in targets {
                    self.push(&entry, stanza.clone()).await;
                }
            }
            StanzaKind::Iq => services::handle_to_account(self, user, stanza).await,
        }
    }

    async fn message_to_bare(&self, user: &str, stanza: Element) {
        let type_ = stanza.attr("type").unwrap_or("normal").to_owned();
        let sessions = self.sessions_of(user);
        let best = sessions
            .iter()
            .filter(|e| e.available && e.priority >= 0)
            .map(|e| e.priority)
            .max();
        if let Some(best) = best
            && type_ != "groupchat"
        {
            // Every resource sharing the highest priority gets it (RFC 6121 §8.5.2.1.1).
            for entry in sessions
                .iter()
                .filter(|e| e.available && e.priority == best)
            {
                self.push(entry, stanza.clone()).await;
            }
            return;
        }
        // An account with a callback and no session takes it by webhook (crate::webhook).
        let Some(stanza) = crate::webhook::divert(self, user, stanza).await else {
            return;
        };
        match type_.as_str() {
            "normal" | "chat" => services::offline::store(self, user, stanza).await,
            // RFC 6121 §8.5.2.1: headlines and errors for nobody are ignored by design.
            "headline" | "error" => {}
            _ => {
                self.bounce(
                    &stanza,
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    None,
                )
                .await
            }
        }
    }

    /// Hands a stanza to a session mailbox. A full mailbox bounces the stanza instead of
    /// growing memory or blocking the sender.
    pub async fn push(&self, entry: &SessionEntry, stanza: Element) {
        match entry.tx.try_send(SessionMsg::Stanza(stanza)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(SessionMsg::Stanza(stanza))) => {
                tracing::warn!(resource = %entry.resource, "session mailbox full");
                Box::pin(self.bounce(
                    &stanza,
                    ErrorType::Wait,
                    DefinedCondition::ResourceConstraint,
                    Some("Recipient is not keeping up"),
                ))
                .await;
            }
            Err(mpsc::error::TrySendError::Closed(SessionMsg::Stanza(stanza))) => {
                // The session ended between lookup and delivery: route as if it never existed.
                if StanzaKind::of(&stanza) == Some(StanzaKind::Message)
                    && let Some(user) = bare_user(&stanza, self.domain())
                {
                    Box::pin(self.message_to_bare(&user, stanza)).await;
                }
            }
            Err(_) => {}
        }
    }

    /// Answers `stanza` with an error from the server, when the rules allow a reply.
    pub async fn bounce(
        &self,
        stanza: &Element,
        type_: ErrorType,
        condition: DefinedCondition,
        text: Option<&str>,
    ) {
        if let Some(mut reply) = stanza::error_reply(stanza, type_, condition, text) {
            if reply.attr("from").is_none() {
                stanza::set_attr(&mut reply, "from", self.domain());
            }
            if reply.attr("to").is_some() {
                Box::pin(self.route(reply)).await;
            }
        }
    }
}

/// The local user a stanza is addressed to, if any.
fn bare_user(stanza: &Element, domain: &str) -> Option<String> {
    let to = Jid::new(stanza.attr("to")?).ok()?;
    (to.domain().as_str() == domain)
        .then(|| to.node().map(|n| n.to_string()))
        .flatten()
}

/// A short random identifier for stream ids, resources and stanza ids.
pub fn random_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
