//! The narrow context that services, webhooks and surfaces get instead of the router: deliver a
//! stanza, the sessions, the store and accounts, the clock, the metrics and the configuration
//! in force (swapped whole by a reload, so that whoever reads it sees the new one).

use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use jid::{BareJid, Jid};
use minidom::Element;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};

use crate::auth::Accounts;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::routed::{Origin, Outcome, Routed};
use crate::sessions::{SessionEntry, SessionTable};
use crate::storage::Store;
use crate::waiters::Waiters;

/// Moves a stanza to where its `to` says: implemented by the router.
#[async_trait]
pub trait Dispatch: Send + Sync {
    async fn route(&self, stanza: Routed) -> Outcome;
}

/// Where a service discovery feature is advertised (XEP-0030 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// disco#info of the served domain.
    Server,
    /// disco#info of each account's bare JID.
    Account,
}

/// A `<feature var='…'/>` a service provides, and where it is advertised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Feature {
    pub scope: Scope,
    pub var: &'static str,
}

impl Feature {
    pub const fn server(var: &'static str) -> Feature {
        Feature {
            scope: Scope::Server,
            var,
        }
    }

    pub const fn account(var: &'static str) -> Feature {
        Feature {
            scope: Scope::Account,
            var,
        }
    }
}

/// Something on the server that stanzas are routed to (disco, roster, presence, a component's
/// callback…). It answers through the [`Ctx`] it is given, never through the router itself.
#[async_trait]
pub trait Service: Send + Sync {
    async fn handle(&self, ctx: &Ctx, stanza: Routed) -> Outcome;

    /// What it provides, for service discovery: disco#info lists exactly the features of the
    /// services registered.
    fn features(&self) -> &'static [Feature] {
        &[]
    }
}

/// A service whose JIDs share the server's own domain with its accounts (group chat rooms when
/// `muc.domain` is the server's domain): it claims the localparts that are its own.
pub trait SharedDomain: Service {
    /// Whether `local@domain` is one of its entities (an existing room).
    fn claims(&self, local: &str) -> bool;
    /// Whether a stanza to `local@domain`, which is neither one of its entities nor an account,
    /// asks it to create one (a room join).
    fn creates(&self, stanza: &Routed) -> bool;
}

/// Takes stanzas for an account that has no session at all (a bot's webhook), before the
/// routing rules store, bounce or drop them. Gives the stanza back when it does not take it.
#[async_trait]
pub trait Divert: Send + Sync {
    async fn divert(&self, ctx: &Ctx, user: &str, stanza: Routed) -> Result<Outcome, Routed>;
}

/// Whether a stanza goes on after a [`Filter`] saw it.
#[derive(Debug, PartialEq)]
pub enum Flow {
    Continue,
    /// The filter took care of it (dropped, refused, answered): routing ends with this outcome.
    Stop(Outcome),
}

/// Sees the stanzas of local accounts on their way through the router, in registration order:
/// the sender's side before routing, the recipient's side before delivery. Blocking, archiving
/// and carbons are filters.
#[async_trait]
pub trait Filter: Send + Sync {
    /// A stanza that local account `user` sent (from a client or over HTTP; stanzas the server
    /// writes itself are not shown here).
    async fn outbound(&self, ctx: &Ctx, user: &str, stanza: &mut Routed) -> Flow {
        let _ = (ctx, user, stanza);
        Flow::Continue
    }

    /// A stanza for local account `user`, about to be pushed to `targets` (its resources the
    /// routing rules chose; empty when it is stored, diverted, handled for the account or
    /// refused).
    async fn inbound(
        &self,
        ctx: &Ctx,
        user: &str,
        stanza: &mut Routed,
        targets: &[SessionEntry],
    ) -> Flow {
        let _ = (ctx, user, stanza, targets);
        Flow::Continue
    }
}

/// Cheap to clone; every clone shares the same server.
#[derive(Clone)]
pub struct Ctx {
    inner: Arc<Shared>,
}

struct Shared {
    /// Weak, so that the router (which owns a `Ctx`) and the long-lived tasks holding one do
    /// not keep each other alive; after shutdown, deliveries are dropped.
    dispatch: OnceLock<Weak<dyn Dispatch>>,
    sessions: Arc<dyn SessionTable>,
    waiters: Arc<Waiters>,
    accounts: Accounts,
    live: ArcSwap<Live>,
    /// Fixed for the server's life: a new domain takes a restart.
    domain: Jid,
    started: Instant,
    metrics: Arc<Metrics>,
}

/// The configuration in force and what is derived from it, replaced together.
struct Live {
    config: Arc<Config>,
    admins: Vec<BareJid>,
}

impl Live {
    fn of(config: Arc<Config>) -> Live {
        let admins = config.admins.iter().map(|a| a.as_bare().clone()).collect();
        Live { config, admins }
    }
}

impl Ctx {
    pub fn new(config: Arc<Config>, accounts: Accounts, sessions: Arc<dyn SessionTable>) -> Ctx {
        // The configuration is validated at load time: the domain is a valid JID.
        let domain = Jid::new(&config.domain).unwrap_or_else(|_| Jid::new("localhost").unwrap());
        Ctx {
            inner: Arc::new(Shared {
                dispatch: OnceLock::new(),
                sessions,
                waiters: Arc::new(Waiters::default()),
                accounts,
                live: ArcSwap::from_pointee(Live::of(config)),
                domain,
                started: Instant::now(),
                metrics: Arc::new(Metrics::new()),
            }),
        }
    }

    /// Puts a reloaded configuration in force: from now on [`Ctx::config`] and
    /// [`Ctx::is_admin`] answer from it. Its domain must be the one the server started with.
    pub fn reconfigure(&self, config: Arc<Config>) {
        self.inner.live.store(Arc::new(Live::of(config)));
    }

    /// Connects the router; the first call wins.
    pub fn attach(&self, dispatch: Weak<dyn Dispatch>) {
        let _ = self.inner.dispatch.set(dispatch);
    }

    /// Routes a stanza.
    pub async fn deliver(&self, stanza: Routed) -> Outcome {
        match self.inner.dispatch.get().and_then(Weak::upgrade) {
            Some(dispatch) => dispatch.route(stanza).await,
            None => Outcome::Dropped,
        }
    }

    /// Routes a stanza the server wrote (its `from` is trusted).
    pub async fn send(&self, el: Element) -> Outcome {
        match Routed::from_server(el) {
            Some(stanza) => self.deliver(stanza).await,
            None => Outcome::Dropped,
        }
    }

    /// Sends `reply` to `request`'s sender, from the address the request was sent to (its
    /// `to`, or the sender's own bare JID for a request to the account itself, RFC 6120 §10.3).
    pub async fn reply(&self, request: &Routed, mut reply: Element) -> Outcome {
        stanza::set_attr(&mut reply, "from", self.answering_address(request).as_str());
        stanza::set_attr(&mut reply, "to", request.from.as_str());
        self.send(reply).await;
        Outcome::Handled
    }

    /// Answers `stanza` with an error, when the rules allow a reply (never to errors or iq
    /// results). An HTTP sender gets the error back in the outcome instead.
    pub async fn bounce(
        &self,
        stanza: &Routed,
        type_: ErrorType,
        condition: DefinedCondition,
        text: Option<&str>,
    ) -> Outcome {
        self.bounce_with(stanza, stanza::stanza_error(type_, condition, text))
            .await
    }

    /// [`Ctx::bounce`] with a prepared `<error/>` element (one with an application-specific
    /// condition, for instance).
    pub async fn bounce_with(&self, stanza: &Routed, error: Element) -> Outcome {
        let Some(mut error) = stanza::error_reply_with(&stanza.el, error) else {
            return Outcome::Dropped;
        };
        stanza::set_attr(&mut error, "from", self.answering_address(stanza).as_str());
        stanza::set_attr(&mut error, "to", stanza.from.as_str());
        if stanza.origin == Origin::Http {
            return Outcome::Bounced(Some(Box::new(error)));
        }
        self.send(error).await;
        Outcome::Bounced(None)
    }

    /// Who answers for `stanza`: its destination, or for a stanza without `to` the sender's
    /// account (or the server, for a sender without one).
    fn answering_address(&self, stanza: &Routed) -> Jid {
        match &stanza.to {
            Some(to) => to.clone(),
            None if self.local_user(&stanza.from).is_some() => Jid::from(stanza.from.to_bare()),
            None => self.inner.domain.clone(),
        }
    }

    pub fn sessions(&self) -> &Arc<dyn SessionTable> {
        &self.inner.sessions
    }

    pub fn waiters(&self) -> &Arc<Waiters> {
        &self.inner.waiters
    }

    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.inner.accounts.store()
    }

    /// The configuration in force. Read it where it is used rather than keeping a copy, so that
    /// a reload reaches the code: the value is one consistent configuration, old or new.
    pub fn config(&self) -> Arc<Config> {
        self.inner.live.load().config.clone()
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// The served domain.
    pub fn domain(&self) -> &str {
        self.inner.domain.as_str()
    }

    /// The served domain as a JID.
    pub fn domain_jid(&self) -> &Jid {
        &self.inner.domain
    }

    /// The localpart of a JID of an account on the served domain.
    pub fn local_user(&self, jid: &Jid) -> Option<String> {
        (jid.domain() == self.inner.domain.domain())
            .then(|| jid.node().map(|n| n.to_string()))
            .flatten()
    }

    /// The local account an iq addresses (its `to`, or the sender's own account without one),
    /// when that is the sender's own account: the only one whose private data it may reach.
    pub fn own_account(&self, iq: &Routed) -> Option<String> {
        let owner = self.local_user(iq.to.as_ref().unwrap_or(&iq.from))?;
        (self.local_user(&iq.from)? == owner).then_some(owner)
    }

    /// The bare JID of a local account.
    pub fn account_jid(&self, user: &str) -> Option<BareJid> {
        BareJid::new(&format!("{user}@{}", self.domain())).ok()
    }

    /// Whether `jid` (any resource) belongs to an account listed in `admins`.
    pub fn is_admin(&self, jid: &Jid) -> bool {
        let bare = jid.to_bare();
        self.inner.live.load().admins.contains(&bare)
    }

    /// Time since the server started.
    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// The clock of stamps and archives.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}
