//! The one router every stanza flows through. It only dispatches: a stanza enters as a
//! [`Routed`] (addresses parsed once, sender already stamped by its surface), the pure rules of
//! [`resolve`] pick its destination, and it is handed to a mailbox: an HTTP waiter, a session,
//! a webhook, offline storage, or a service registered in [`Handlers`].

mod handlers;
pub mod resolve;

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StanzaKind};
use tokio::time::Instant;

pub use handlers::Handlers;
use resolve::{Domains, Resolution, Then, resolve};

use crate::ctx::{Ctx, Dispatch, Flow, SharedDomain};
use crate::routed::{Origin, Outcome, Routed};
use crate::sessions::{Pushed, SessionEntry};
use crate::throttle::ReportEvery;

/// Stanzas refused because a mailbox stayed full, summarised.
static REFUSED: ReportEvery = ReportEvery::new(Duration::from_secs(10));

/// Owns the dispatching; dropping the last `Router` ends deliveries through every [`Ctx`].
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: Ctx,
    domains: Domains,
    handlers: Handlers,
}

impl Router {
    /// Builds the router and connects `ctx` to it.
    pub fn new(ctx: Ctx, handlers: Handlers) -> Router {
        let domains = Domains {
            server: ctx.domain().to_owned(),
            hosted: handlers.hosted_domains(),
        };
        let inner = Arc::new(Inner {
            ctx: ctx.clone(),
            domains,
            handlers,
        });
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        ctx.attach(weak);
        Router { inner }
    }

    pub fn ctx(&self) -> &Ctx {
        &self.inner.ctx
    }
}

impl Inner {
    /// Writes the stanza to each resource's mailbox. A full mailbox is back-pressure on the
    /// sender, never unbounded memory: an HTTP or webhook sender waits for room up to
    /// `limits.mailbox_wait_ms` (its request is what waits), any other gets an error at once
    /// (a session must not wait: the mailbox may be its own, or that of one waiting for it).
    async fn push(&self, entries: Vec<SessionEntry>, stanza: &Routed) -> Pushed {
        let wait = match stanza.origin {
            Origin::Http | Origin::Webhook => self.ctx.config().limits.mailbox_wait_ms,
            Origin::Session(_) | Origin::Server => 0,
        };
        let deadline = Instant::now() + Duration::from_millis(wait);
        let (mut delivered, mut full) = (false, false);
        for entry in entries {
            let pushed = match entry.push(stanza.el.clone()) {
                Pushed::Full if wait > 0 => entry.push_until(stanza.el.clone(), deadline).await,
                pushed => pushed,
            };
            match pushed {
                Pushed::Delivered => delivered = true,
                Pushed::Full => full = true,
                Pushed::Gone => {}
            }
        }
        match (delivered, full) {
            (true, _) => Pushed::Delivered,
            (false, true) => Pushed::Full,
            (false, false) => Pushed::Gone,
        }
    }

    /// A local account that no resource takes the stanza for: its webhook when it has no
    /// session at all, else what the routing rules say.
    async fn unavailable(&self, user: &str, then: Then, stanza: Routed) -> Outcome {
        let ctx = &self.ctx;
        let stanza = match self.divert(user, stanza).await {
            Ok(outcome) => return outcome,
            Err(stanza) => stanza,
        };
        match (then, &self.handlers.offline) {
            (Then::Store, Some(offline)) => offline.handle(ctx, stanza).await,
            (Then::Store | Then::Bounce, _) => {
                ctx.bounce(
                    &stanza,
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    None,
                )
                .await
            }
            (Then::Drop, _) => Outcome::Dropped,
        }
    }

    /// Offers a stanza for an account without any session to its webhook.
    async fn divert(&self, user: &str, stanza: Routed) -> Result<Outcome, Routed> {
        match &self.handlers.divert {
            Some(divert) if !self.ctx.sessions().is_bound(user) => {
                divert.divert(&self.ctx, user, stanza).await
            }
            _ => Err(stanza),
        }
    }

    /// Handled by the server on behalf of an account (RFC 6121 §8.5.2.1.3, §3, §4).
    async fn account(&self, user: &str, stanza: Routed) -> Outcome {
        // Subscriptions change the account's state whether or not a webhook stands in for it:
        // presence goes to the presence service, which diverts what it delivers itself.
        let stanza = if stanza.kind == StanzaKind::Presence && self.handlers.presence.is_some() {
            stanza
        } else {
            match self.divert(user, stanza).await {
                Ok(outcome) => return outcome,
                Err(stanza) => stanza,
            }
        };
        let handler = match stanza.kind {
            StanzaKind::Presence => self.handlers.presence.as_ref(),
            StanzaKind::Iq if is_request(&stanza) => match stanza::iq_payload(&stanza.el) {
                Some(payload) => self.handlers.account_iq_for(&payload.ns()),
                None => None,
            },
            // Results and errors (roster push acknowledgements…) need no answer.
            _ => return Outcome::Dropped,
        };
        match handler {
            Some(handler) => handler.handle(&self.ctx, stanza).await,
            None if stanza.kind == StanzaKind::Iq => {
                self.ctx
                    .bounce(
                        &stanza,
                        ErrorType::Cancel,
                        DefinedCondition::ServiceUnavailable,
                        None,
                    )
                    .await
            }
            None => Outcome::Dropped,
        }
    }

    /// A stanza to the served domain itself.
    async fn server(&self, stanza: Routed) -> Outcome {
        let ctx = &self.ctx;
        match stanza.kind {
            StanzaKind::Iq if is_request(&stanza) => {
                let Some(payload) = stanza::iq_payload(&stanza.el) else {
                    return ctx
                        .bounce(
                            &stanza,
                            ErrorType::Modify,
                            DefinedCondition::BadRequest,
                            Some("iq without payload"),
                        )
                        .await;
                };
                match self.handlers.server_iq_for(&payload.ns()) {
                    Some(handler) => handler.handle(ctx, stanza).await,
                    None => {
                        ctx.bounce(
                            &stanza,
                            ErrorType::Cancel,
                            DefinedCondition::ServiceUnavailable,
                            None,
                        )
                        .await
                    }
                }
            }
            StanzaKind::Message => {
                ctx.bounce(
                    &stanza,
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    Some("The server does not accept messages"),
                )
                .await
            }
            // Directed presence to the server, iq results and errors need no answer.
            _ => Outcome::Dropped,
        }
    }
}

impl Inner {
    /// Whether `stanza`, to `local@<server domain>`, goes to the service sharing the domain
    /// with the accounts: a JID it claims, or a request to create one under a name that is no
    /// account's (accounts keep their JIDs).
    async fn for_shared(&self, shared: &dyn SharedDomain, stanza: &Routed) -> bool {
        let Some(local) = stanza
            .to
            .as_ref()
            .filter(|to| to.domain().as_str() == self.domains.server)
            .and_then(|to| to.node())
        else {
            return false;
        };
        if shared.claims(local.as_str()) {
            return true;
        }
        shared.creates(stanza)
            && matches!(self.ctx.store().credentials(local.as_str()).await, Ok(None))
    }

    async fn outbound(&self, user: &str, stanza: &mut Routed) -> Flow {
        for filter in &self.handlers.filters {
            if let Flow::Stop(outcome) = filter.outbound(&self.ctx, user, stanza).await {
                return Flow::Stop(outcome);
            }
        }
        Flow::Continue
    }

    async fn inbound(&self, user: &str, stanza: &mut Routed, targets: &[SessionEntry]) -> Flow {
        for filter in &self.handlers.filters {
            if let Flow::Stop(outcome) = filter.inbound(&self.ctx, user, stanza, targets).await {
                return Flow::Stop(outcome);
            }
        }
        Flow::Continue
    }
}

fn is_request(stanza: &Routed) -> bool {
    matches!(stanza.type_(), "get" | "set")
}

#[async_trait]
impl Dispatch for Inner {
    /// Dispatches the stanza and counts it by kind, outcome and origin.
    async fn route(&self, stanza: Routed) -> Outcome {
        let (kind, origin) = (stanza.kind.as_str(), stanza.origin.label());
        let outcome = self.dispatch(stanza).await;
        self.ctx
            .metrics()
            .stanza_routed(kind, outcome.label(), origin);
        outcome
    }
}

impl Inner {
    async fn dispatch(&self, mut stanza: Routed) -> Outcome {
        let ctx = &self.ctx;
        if stanza.origin != Origin::Server
            && let Some(user) = ctx.local_user(&stanza.from)
            && let Flow::Stop(outcome) = self.outbound(&user, &mut stanza).await
        {
            return outcome;
        }
        // An HTTP request waiting for this reply takes it before any session does.
        if let Some(to) = stanza.to.as_ref().filter(|to| to.resource().is_some())
            && ctx.waiters().capture(to, &stanza.el)
        {
            return Outcome::Delivered;
        }
        if let Some(shared) = &self.handlers.shared
            && self.for_shared(shared.as_ref(), &stanza).await
        {
            return shared.handle(ctx, stanza).await;
        }
        let resolution = resolve(
            stanza.kind,
            stanza.type_(),
            stanza.to.as_ref(),
            &stanza.from,
            &self.domains,
            ctx.sessions().as_ref(),
        );
        match resolution {
            Resolution::Deliver(entries) => {
                if let Some(user) = stanza_user(&stanza, ctx)
                    && let Flow::Stop(outcome) = self.inbound(&user, &mut stanza, &entries).await
                {
                    return outcome;
                }
                match self.push(entries, &stanza).await {
                    Pushed::Delivered => Outcome::Delivered,
                    Pushed::Full => {
                        if let Some(refused) = REFUSED.note(Instant::now()) {
                            tracing::warn!(
                                to = ?stanza.to,
                                refused,
                                "stanzas refused: the recipient's mailbox stayed full (count since the last report)"
                            );
                        }
                        ctx.bounce(
                            &stanza,
                            ErrorType::Wait,
                            DefinedCondition::ResourceConstraint,
                            Some("Recipient is not keeping up"),
                        )
                        .await
                    }
                    // As if the session had never been there: a message is kept for later.
                    Pushed::Gone => {
                        match (stanza.kind, stanza.type_(), stanza_user(&stanza, ctx)) {
                            (StanzaKind::Message, "" | "normal" | "chat", Some(user)) => {
                                self.unavailable(&user, Then::Store, stanza).await
                            }
                            _ => Outcome::Dropped,
                        }
                    }
                }
            }
            Resolution::Unavailable { user, then } => {
                if let Flow::Stop(outcome) = self.inbound(&user, &mut stanza, &[]).await {
                    return outcome;
                }
                self.unavailable(&user, then, stanza).await
            }
            Resolution::Account(user) => {
                if let Flow::Stop(outcome) = self.inbound(&user, &mut stanza, &[]).await {
                    return outcome;
                }
                self.account(&user, stanza).await
            }
            Resolution::Server => self.server(stanza).await,
            Resolution::Hosted(domain) => match self.handlers.hosted_for(&domain) {
                Some(handler) => handler.handle(ctx, stanza).await,
                None => Outcome::Dropped,
            },
            Resolution::Bounce(DefinedCondition::RemoteServerNotFound) => {
                ctx.bounce(
                    &stanza,
                    ErrorType::Cancel,
                    DefinedCondition::RemoteServerNotFound,
                    Some("Server-to-server federation is not enabled"),
                )
                .await
            }
            Resolution::Bounce(condition) => {
                ctx.bounce(&stanza, ErrorType::Cancel, condition, None)
                    .await
            }
            Resolution::Drop => Outcome::Dropped,
        }
    }
}

/// The local account a stanza is addressed to (its own, when it has no `to`).
fn stanza_user(stanza: &Routed, ctx: &Ctx) -> Option<String> {
    ctx.local_user(stanza.to.as_ref().unwrap_or(&stanza.from))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use jid::{BareJid, Jid};
    use minidom::Element;
    use switchboard_xmpp::sender::Principal;
    use tokio::sync::mpsc;

    use super::*;
    use crate::auth::Accounts;
    use crate::config::Config;
    use crate::ctx::Filter;
    use crate::routed::Origin;
    use crate::services::{offline::Offline, ping::ServerPing};
    use crate::sessions::{LocalSessions, Registration, SessionMsg};
    use crate::storage::sqlite::SqliteStore;

    async fn router() -> Router {
        router_with(Config::default()).await
    }

    async fn router_with(config: Config) -> Router {
        let store = Arc::new(SqliteStore::in_memory().await.unwrap());
        let accounts = Accounts::new(store, "localhost", 4096);
        accounts.add_user("bob", "pw").await.unwrap();
        let ctx = Ctx::new(
            Arc::new(config),
            accounts,
            Arc::new(LocalSessions::default()),
        );
        let handlers = Handlers::default()
            .server_iq(switchboard_xmpp::ns::PING, Arc::new(ServerPing))
            .offline(Arc::new(Offline));
        Router::new(ctx, handlers)
    }

    fn from_http(xml: &str) -> Routed {
        let el: Element = xml.parse().unwrap();
        let alice = Principal::Account(BareJid::new("alice@localhost").unwrap());
        Routed::accept(&alice, el, Origin::Http).unwrap()
    }

    fn bounce_condition(outcome: Outcome) -> String {
        match outcome {
            Outcome::Bounced(Some(error)) => {
                let error = error
                    .get_child("error", switchboard_xmpp::ns::CLIENT)
                    .unwrap();
                error.children().next().unwrap().name().to_owned()
            }
            other => panic!("not an inline bounce: {other:?}"),
        }
    }

    #[tokio::test]
    async fn http_senders_get_errors_back_instead_of_routed() {
        let r = router().await;
        let ctx = r.ctx();
        let groupchat = from_http(
            "<message xmlns='jabber:client' to='bob@localhost' type='groupchat'><body>x</body></message>",
        );
        assert_eq!(
            bounce_condition(ctx.deliver(groupchat).await),
            "service-unavailable"
        );
        let remote = from_http(
            "<message xmlns='jabber:client' to='x@elsewhere.example'><body>x</body></message>",
        );
        assert_eq!(
            bounce_condition(ctx.deliver(remote).await),
            "remote-server-not-found"
        );
        let empty = from_http("<iq xmlns='jabber:client' to='localhost' type='get' id='1'/>");
        assert_eq!(bounce_condition(ctx.deliver(empty).await), "bad-request");
        let unknown = from_http(
            "<iq xmlns='jabber:client' to='localhost' type='get' id='2'><q xmlns='urn:x'/></iq>",
        );
        assert_eq!(
            bounce_condition(ctx.deliver(unknown).await),
            "service-unavailable"
        );
        let nobody = from_http(
            "<message xmlns='jabber:client' to='ghost@localhost' type='chat'><body>x</body></message>",
        );
        assert_eq!(
            bounce_condition(ctx.deliver(nobody).await),
            "service-unavailable"
        );
    }

    #[tokio::test]
    async fn messages_for_an_absent_account_are_stored() {
        let r = router().await;
        let chat = from_http(
            "<message xmlns='jabber:client' to='bob@localhost' type='chat'><body>x</body></message>",
        );
        assert_eq!(r.ctx().deliver(chat).await, Outcome::Stored);
        assert_eq!(
            r.ctx().store().offline_usage("bob").await.unwrap().messages,
            1
        );
    }

    #[tokio::test]
    async fn a_waiting_request_takes_its_reply_before_the_session() {
        let r = router().await;
        let ctx = r.ctx();
        let (tx, mut session) = mpsc::channel(4);
        let _bound = Registration::bind(ctx.sessions().clone(), "alice", "rest-1", tx);
        let me = Jid::new("alice@localhost/rest-1").unwrap();
        let (_guard, mut waiter) = ctx.waiters().wait_for_reply(&me, "p1", None).unwrap();
        let ping = from_http(
            "<iq xmlns='jabber:client' from='alice@localhost/rest-1' to='localhost' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>",
        );
        assert_eq!(ctx.deliver(ping).await, Outcome::Handled);
        let reply = waiter.try_recv().unwrap();
        assert_eq!(reply.attr("type"), Some("result"));
        assert_eq!(reply.attr("from"), Some("localhost"));
        assert!(session.try_recv().is_err(), "the session saw nothing");
    }

    #[tokio::test]
    async fn a_session_that_ended_is_skipped() {
        let r = router().await;
        let ctx = r.ctx();
        let (tx, rx) = mpsc::channel::<SessionMsg>(4);
        let bound = Registration::bind(ctx.sessions().clone(), "bob", "desk", tx);
        bound.update(|e| e.available = true);
        drop(rx);
        let chat = from_http(
            "<message xmlns='jabber:client' to='bob@localhost' type='chat'><body>x</body></message>",
        );
        assert_eq!(ctx.deliver(chat).await, Outcome::Stored);
    }

    /// Records what it is shown and stops stanzas whose id starts with `stop`.
    #[derive(Default)]
    struct Recorder {
        seen: std::sync::Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Filter for Recorder {
        async fn outbound(&self, _: &Ctx, user: &str, stanza: &mut Routed) -> Flow {
            self.seen
                .lock()
                .unwrap()
                .push(format!("out:{user}:{}", stanza.id()));
            if stanza.id().starts_with("stop") {
                return Flow::Stop(Outcome::Dropped);
            }
            Flow::Continue
        }

        async fn inbound(
            &self,
            _: &Ctx,
            user: &str,
            stanza: &mut Routed,
            targets: &[SessionEntry],
        ) -> Flow {
            let line = format!("in:{user}:{}:{}", stanza.id(), targets.len());
            self.seen.lock().unwrap().push(line);
            Flow::Continue
        }
    }

    #[tokio::test]
    async fn filters_see_both_sides_of_local_traffic() {
        let recorder = Arc::new(Recorder::default());
        let store = Arc::new(SqliteStore::in_memory().await.unwrap());
        let accounts = Accounts::new(store, "localhost", 4096);
        accounts.add_user("bob", "pw").await.unwrap();
        let ctx = Ctx::new(
            Arc::new(Config::default()),
            accounts,
            Arc::new(LocalSessions::default()),
        );
        let handlers = Handlers::default()
            .offline(Arc::new(Offline))
            .filter(recorder.clone());
        let r = Router::new(ctx, handlers);
        let (tx, _rx) = mpsc::channel(4);
        let bound = Registration::bind(r.ctx().sessions().clone(), "bob", "desk", tx);
        bound.update(|e| e.available = true);
        let chat = |id: &str| {
            from_http(&format!(
                "<message xmlns='jabber:client' to='bob@localhost' type='chat' id='{id}'><body>x</body></message>"
            ))
        };
        assert_eq!(r.ctx().deliver(chat("m1")).await, Outcome::Delivered);
        assert_eq!(r.ctx().deliver(chat("stop1")).await, Outcome::Dropped);
        let server_written: Element =
            "<message xmlns='jabber:client' from='localhost' to='bob@localhost' id='s1'/>"
                .parse()
                .unwrap();
        r.ctx().send(server_written).await;
        assert_eq!(
            *recorder.seen.lock().unwrap(),
            vec![
                "out:alice:m1",
                "in:bob:m1:1",
                "out:alice:stop1",
                // The server's own stanzas skip the sender's side.
                "in:bob:s1:1",
            ]
        );
    }

    #[tokio::test]
    async fn no_deliveries_after_the_router_is_gone() {
        let r = router().await;
        let ctx = r.ctx().clone();
        drop(r);
        let chat = from_http(
            "<message xmlns='jabber:client' to='bob@localhost' type='chat'><body>x</body></message>",
        );
        assert_eq!(ctx.deliver(chat).await, Outcome::Dropped);
    }

    fn waiting(ms: u64) -> Config {
        let mut config = Config::default();
        config.limits.mailbox_wait_ms = ms;
        config
    }

    fn chat(n: u32) -> Element {
        format!(
            "<message xmlns='jabber:client' to='bob@localhost/desk' type='chat' id='m{n}'><body>x</body></message>"
        )
        .parse()
        .unwrap()
    }

    /// Bob's one resource, with a mailbox of one slot that is already taken.
    fn full_mailbox(r: &Router) -> (Registration, mpsc::Receiver<SessionMsg>) {
        let (tx, rx) = mpsc::channel(1);
        let bound = Registration::bind(r.ctx().sessions().clone(), "bob", "desk", tx);
        bound.update(|e| e.available = true);
        let alice = Principal::Account(BareJid::new("alice@localhost").unwrap());
        let first = Routed::accept(&alice, chat(0), Origin::Http).unwrap();
        assert_eq!(
            r.ctx()
                .sessions()
                .resource("bob", "desk")
                .unwrap()
                .push(first.el),
            Pushed::Delivered
        );
        (bound, rx)
    }

    fn id_of(msg: Option<SessionMsg>) -> String {
        match msg {
            Some(SessionMsg::Stanza(el)) => el.attr("id").unwrap_or_default().to_owned(),
            other => panic!("not a stanza: {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_http_sender_waits_for_room_in_a_full_mailbox() {
        let r = router_with(waiting(3_600_000)).await;
        let (_bound, mut rx) = full_mailbox(&r);
        let alice = Principal::Account(BareJid::new("alice@localhost").unwrap());
        let second = Routed::accept(&alice, chat(1), Origin::Http).unwrap();
        let ctx = r.ctx().clone();
        let sending = tokio::spawn(async move { ctx.deliver(second).await });
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(!sending.is_finished(), "waits while the mailbox is full");
        assert_eq!(id_of(rx.recv().await), "m0");
        assert_eq!(sending.await.unwrap(), Outcome::Delivered);
        assert_eq!(id_of(rx.recv().await), "m1");
    }

    #[tokio::test]
    async fn an_http_sender_is_refused_once_the_wait_is_over() {
        let r = router_with(waiting(20)).await;
        let (_bound, mut rx) = full_mailbox(&r);
        let alice = Principal::Account(BareJid::new("alice@localhost").unwrap());
        let second = Routed::accept(&alice, chat(1), Origin::Http).unwrap();
        assert_eq!(
            bounce_condition(r.ctx().deliver(second).await),
            "resource-constraint"
        );
        assert_eq!(id_of(rx.recv().await), "m0");
        assert!(rx.try_recv().is_err(), "the refused stanza is not queued");
    }

    /// A session routing into a full mailbox is refused at once, however long HTTP senders
    /// may wait: the mailbox could be its own.
    #[tokio::test]
    async fn a_session_sender_never_waits() {
        let r = router_with(waiting(3_600_000)).await;
        let (_bound, _rx) = full_mailbox(&r);
        let alice = Principal::Resource(jid::FullJid::new("alice@localhost/phone").unwrap());
        let second = Routed::accept(&alice, chat(1), Origin::Session(7)).unwrap();
        let outcome =
            tokio::time::timeout(std::time::Duration::from_secs(600), r.ctx().deliver(second))
                .await
                .expect("a session sender is answered without waiting");
        assert!(matches!(outcome, Outcome::Bounced(_)), "{outcome:?}");
    }
}
