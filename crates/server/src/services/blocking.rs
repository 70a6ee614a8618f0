//! XEP-0191 blocking: the blocklist service of each account (get, block, unblock, with pushes
//! and presence), and the filter that keeps blocked JIDs and the account apart (§3.3).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jid::Jid;
use minidom::Element;
use switchboard_xmpp::blocking::{self, BlockList, Request};
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StanzaKind};

use crate::ctx::{Ctx, Feature, Filter, Flow, Service};
use crate::ids::random_id;
use crate::routed::{Origin, Outcome, Routed};
use crate::sessions::SessionEntry;
use crate::storage::StoreError;

/// How long a blocklist read from the store is trusted: changes made through this server are
/// seen at once; this bounds how late a change made elsewhere (another node, an account deleted
/// from the command line) is seen.
const FRESH_FOR: Duration = Duration::from_secs(60);

/// The blocking service and filter; one instance is registered as both.
pub struct Blocking {
    lists: Blocklists,
}

impl Blocking {
    /// `cache_size` bounds how many accounts' blocklists are kept in memory.
    pub fn new(cache_size: usize) -> Blocking {
        Blocking {
            lists: Blocklists {
                entries: Mutex::new(HashMap::new()),
                capacity: cache_size.max(1),
                generation: AtomicU64::new(0),
            },
        }
    }
}

/// Blocklists kept in memory so that the filter reads no storage for most stanzas.
struct Blocklists {
    entries: Mutex<HashMap<String, Cached>>,
    capacity: usize,
    /// Bumped by every change: a read that raced a change is not cached.
    generation: AtomicU64,
}

struct Cached {
    list: Arc<BlockList>,
    loaded: Instant,
}

impl Blocklists {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn get(&self, ctx: &Ctx, user: &str) -> Result<Arc<BlockList>, StoreError> {
        if let Some(cached) = self.entries().get(user)
            && cached.loaded.elapsed() < FRESH_FOR
        {
            return Ok(cached.list.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let list = Arc::new(BlockList::new(ctx.store().blocklist(user).await?));
        let mut entries = self.entries();
        if self.generation.load(Ordering::Acquire) == generation {
            if entries.len() >= self.capacity && !entries.contains_key(user) {
                entries.retain(|_, cached| cached.loaded.elapsed() < FRESH_FOR);
                if entries.len() >= self.capacity {
                    entries.clear();
                }
            }
            entries.insert(
                user.to_owned(),
                Cached {
                    list: list.clone(),
                    loaded: Instant::now(),
                },
            );
        }
        Ok(list)
    }

    /// Forgets `user`'s list after the store changed it.
    fn changed(&self, user: &str) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(user);
    }
}

/// Addresses a user's blocklist never applies to: the account itself and its server.
fn exempt(ctx: &Ctx, user: &str, jid: &Jid) -> bool {
    let own_domain = jid.domain().as_str() == ctx.domain();
    match jid.node() {
        Some(node) => own_domain && node.as_str() == user,
        None => own_domain && jid.resource().is_none(),
    }
}

#[async_trait]
impl Service for Blocking {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let user = match ctx.own_account(&iq) {
            Some(user) => user,
            // Nobody else's blocklist is reachable, nor is it revealed that there is one.
            None => {
                return ctx
                    .bounce(
                        &iq,
                        ErrorType::Cancel,
                        DefinedCondition::ServiceUnavailable,
                        None,
                    )
                    .await;
            }
        };
        let request = stanza::iq_payload(&iq.el)
            .ok_or(blocking::RequestError::Shape)
            .and_then(|payload| Request::parse(iq.type_(), payload));
        let request = match request {
            Ok(request) => request,
            Err(e) => {
                let (type_, condition) = e.condition();
                return ctx
                    .bounce(&iq, type_, condition, Some(&e.to_string()))
                    .await;
            }
        };
        let done = match request {
            Request::List => return self.list(ctx, &user, &iq).await,
            Request::Block(jids) => self.block(ctx, &user, jids).await,
            Request::Unblock(jids) => self.unblock(ctx, &user, Some(jids)).await,
            Request::UnblockAll => self.unblock(ctx, &user, None).await,
        };
        match done {
            Ok(Changed { push, presence }) => {
                let outcome = ctx.reply(&iq, stanza::iq_result(&iq.el, None)).await;
                push_to_requesters(ctx, &user, &push).await;
                for stanza in presence {
                    stanza.send(ctx).await;
                }
                outcome
            }
            Err(Refusal(type_, condition, text)) => {
                ctx.bounce(&iq, type_, condition, Some(&text)).await
            }
        }
    }

    fn features(&self) -> &'static [Feature] {
        const FEATURES: &[Feature] = &[Feature::server(ns::BLOCKING)];
        FEATURES
    }
}

/// An accepted change: the push payload for the resources that asked for the list, and the
/// presence the contacts concerned are owed.
struct Changed {
    push: Element,
    presence: Vec<Owed>,
}

/// Why a change is refused: the error and its English text.
struct Refusal(ErrorType, DefinedCondition, String);

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        tracing::error!(error = %e, "blocklist storage failed");
        Refusal(
            ErrorType::Wait,
            DefinedCondition::InternalServerError,
            "The blocklist is not available right now".into(),
        )
    }
}

/// Presence a block or unblock makes the server send to a contact (§3.3, §3.4).
enum Owed {
    /// Unavailable presence from one of the user's resources, pushed straight to the contact's
    /// available resources: routed, the blocklist would now stop it.
    Unavailable {
        from: String,
        contact: String,
        to: Vec<SessionEntry>,
    },
    /// A resource's current presence, routed like any presence now that nothing blocks it.
    Current(Element),
}

impl Owed {
    async fn send(self, ctx: &Ctx) {
        match self {
            Owed::Unavailable { from, contact, to } => {
                for entry in to {
                    let mut presence = Element::bare("presence", ns::CLIENT);
                    stanza::set_attr(&mut presence, "type", "unavailable");
                    stanza::set_attr(&mut presence, "from", &from);
                    stanza::set_attr(
                        &mut presence,
                        "to",
                        &format!("{contact}/{}", entry.resource),
                    );
                    entry.push(presence);
                }
            }
            Owed::Current(presence) => {
                ctx.send(presence).await;
            }
        }
    }
}

impl Blocking {
    /// `user`'s blocklist for the filter; a store failure lets stanzas through (logged) rather
    /// than stopping all of the account's traffic.
    async fn list_for_filter(&self, ctx: &Ctx, user: &str) -> Option<Arc<BlockList>> {
        match self.lists.get(ctx, user).await {
            Ok(list) => Some(list),
            Err(e) => {
                tracing::error!(user, error = %e, "blocklist unreadable; not applied");
                None
            }
        }
    }

    async fn list(&self, ctx: &Ctx, user: &str, iq: &Routed) -> Outcome {
        // The requesting session now wants blocklist pushes (§3.3).
        if let Origin::Session(id) = iq.origin {
            ctx.sessions()
                .update(user, id, &mut |e| e.blocklist_requested = true);
        }
        match self.lists.get(ctx, user).await {
            Ok(list) => {
                let result = blocking::blocklist_result(&list);
                ctx.reply(iq, stanza::iq_result(&iq.el, Some(result))).await
            }
            Err(e) => {
                let Refusal(type_, condition, text) = e.into();
                ctx.bounce(iq, type_, condition, Some(&text)).await
            }
        }
    }

    async fn block(&self, ctx: &Ctx, user: &str, jids: Vec<Jid>) -> Result<Changed, Refusal> {
        if jids.iter().any(|jid| exempt(ctx, user, jid)) {
            return Err(Refusal(
                ErrorType::Modify,
                DefinedCondition::BadRequest,
                "An account cannot block itself or its own server".into(),
            ));
        }
        let before = BlockList::new(ctx.store().blocklist(user).await?);
        let added = jids.iter().filter(|jid| !before.contains(jid)).count();
        let max = ctx.config().limits.max_blocklist_items;
        if before.len() + added > max {
            return Err(Refusal(
                ErrorType::Modify,
                DefinedCondition::PolicyViolation,
                format!("A blocklist holds at most {max} JIDs"),
            ));
        }
        let names: Vec<String> = jids.iter().map(|jid| jid.to_string()).collect();
        let stored = ctx.store().block(user, &names).await;
        self.lists.changed(user);
        stored?;
        let newly = BlockList::new(names);
        let presence = unavailable_to(ctx, user, &newly).await;
        Ok(Changed {
            push: blocking::block_push(&jids),
            presence,
        })
    }

    /// Unblocks `jids`, or everyone for `None`.
    async fn unblock(
        &self,
        ctx: &Ctx,
        user: &str,
        jids: Option<Vec<Jid>>,
    ) -> Result<Changed, Refusal> {
        let before = BlockList::new(ctx.store().blocklist(user).await?);
        let stored = match &jids {
            Some(jids) => {
                let names: Vec<String> = jids.iter().map(|jid| jid.to_string()).collect();
                ctx.store().unblock(user, &names).await
            }
            None => ctx.store().unblock_all(user).await,
        };
        self.lists.changed(user);
        stored?;
        let after = BlockList::new(ctx.store().blocklist(user).await?);
        let presence = current_to(ctx, user, &before, &after).await;
        let items = jids.unwrap_or_default();
        Ok(Changed {
            push: blocking::unblock_push(&items),
            presence,
        })
    }
}

/// Roster contacts allowed to see `user`'s presence (subscription `from` or `both`).
async fn presence_subscribers(ctx: &Ctx, user: &str) -> Vec<Jid> {
    match ctx.store().roster(user).await {
        Ok(items) => items
            .into_iter()
            .filter(|item| matches!(item.subscription.as_str(), "from" | "both"))
            .filter_map(|item| Jid::new(&item.jid).ok())
            .collect(),
        Err(e) => {
            tracing::error!(user, error = %e, "roster read failed");
            Vec::new()
        }
    }
}

/// The user's available resources.
fn available(ctx: &Ctx, user: &str) -> Vec<SessionEntry> {
    ctx.sessions()
        .resources(user)
        .into_iter()
        .filter(|e| e.available)
        .collect()
}

/// Unavailable presence from each available resource of `user` to each subscriber the new
/// items block (§3.3): the user now appears offline to them.
async fn unavailable_to(ctx: &Ctx, user: &str, newly: &BlockList) -> Vec<Owed> {
    let resources = available(ctx, user);
    if resources.is_empty() {
        return Vec::new();
    }
    let mut owed = Vec::new();
    for contact in presence_subscribers(ctx, user).await {
        let Some(contact_user) = ctx.local_user(&contact).filter(|_| newly.blocks(&contact)) else {
            continue;
        };
        let to = available(ctx, &contact_user);
        for resource in &resources {
            owed.push(Owed::Unavailable {
                from: format!("{user}@{}/{}", ctx.domain(), resource.resource),
                contact: format!("{contact_user}@{}", ctx.domain()),
                to: to.clone(),
            });
        }
    }
    owed
}

/// The current presence of each available resource of `user` to each subscriber that was
/// blocked and no longer is (§3.4).
async fn current_to(ctx: &Ctx, user: &str, before: &BlockList, after: &BlockList) -> Vec<Owed> {
    let resources = available(ctx, user);
    if resources.is_empty() {
        return Vec::new();
    }
    let mut owed = Vec::new();
    for contact in presence_subscribers(ctx, user).await {
        if !before.blocks(&contact) || after.blocks(&contact) {
            continue;
        }
        for resource in &resources {
            if let Some(presence) = &resource.presence {
                let mut presence = (**presence).clone();
                let from = format!("{user}@{}/{}", ctx.domain(), resource.resource);
                stanza::set_attr(&mut presence, "from", &from);
                stanza::set_attr(&mut presence, "to", contact.as_str());
                owed.push(Owed::Current(presence));
            }
        }
    }
    owed
}

/// The push to every resource of `user` that requested the blocklist (§3.3–3.5).
async fn push_to_requesters(ctx: &Ctx, user: &str, payload: &Element) {
    for entry in ctx
        .sessions()
        .resources(user)
        .into_iter()
        .filter(|e| e.blocklist_requested)
    {
        let mut iq = Element::builder("iq", ns::CLIENT)
            .append(payload.clone())
            .build();
        stanza::set_attr(&mut iq, "type", "set");
        stanza::set_attr(&mut iq, "id", &format!("block-{}", random_id()));
        stanza::set_attr(&mut iq, "from", &format!("{user}@{}", ctx.domain()));
        stanza::set_attr(
            &mut iq,
            "to",
            &format!("{user}@{}/{}", ctx.domain(), entry.resource),
        );
        ctx.send(iq).await;
    }
}

#[async_trait]
impl Filter for Blocking {
    /// §3.3: a stanza to a JID the user blocks is refused with `<not-acceptable/>` and
    /// `<blocked/>`.
    async fn outbound(&self, ctx: &Ctx, user: &str, stanza: &mut Routed) -> Flow {
        let Some(to) = stanza.to.as_ref().filter(|to| !exempt(ctx, user, to)) else {
            return Flow::Continue;
        };
        match self.list_for_filter(ctx, user).await {
            Some(list) if list.blocks(to) => {
                Flow::Stop(ctx.bounce_with(stanza, blocking::blocked_error()).await)
            }
            _ => Flow::Continue,
        }
    }

    /// §3.3: nothing from a JID the user blocks is delivered; presence is dropped silently,
    /// messages and iq requests are answered `service-unavailable`, as if the user were
    /// offline. Presence the server sends for another account (broadcasts, probe answers) does
    /// not reach a JID that account blocks either.
    async fn inbound(
        &self,
        ctx: &Ctx,
        user: &str,
        stanza: &mut Routed,
        _targets: &[SessionEntry],
    ) -> Flow {
        let server_written = stanza.origin == Origin::Server;
        // Errors the server writes answer the user's own stanzas (the `<blocked/>` refusal
        // among them), never a blocked JID's.
        if exempt(ctx, user, &stanza.from) || (server_written && stanza.type_() == "error") {
            return Flow::Continue;
        }
        if server_written
            && stanza.type_() != "result"
            && let Some(sender) = ctx.local_user(&stanza.from)
            && let Some(list) = self.list_for_filter(ctx, &sender).await
        {
            let recipient = stanza
                .to
                .clone()
                .or_else(|| ctx.account_jid(user).map(Jid::from));
            if recipient.is_some_and(|to| list.blocks(&to)) {
                return Flow::Stop(Outcome::Dropped);
            }
        }
        match self.list_for_filter(ctx, user).await {
            Some(list) if list.blocks(&stanza.from) => {
                Flow::Stop(refuse_inbound(ctx, stanza).await)
            }
            _ => Flow::Continue,
        }
    }
}

/// What a blocked sender gets back, by stanza kind (§3.3).
async fn refuse_inbound(ctx: &Ctx, stanza: &Routed) -> Outcome {
    let answer = match stanza.kind {
        StanzaKind::Presence => false,
        StanzaKind::Message => stanza.type_() != "error",
        StanzaKind::Iq => matches!(stanza.type_(), "get" | "set"),
    };
    if !answer {
        return Outcome::Dropped;
    }
    ctx.bounce(
        stanza,
        ErrorType::Cancel,
        DefinedCondition::ServiceUnavailable,
        None,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Accounts;
    use crate::config::Config;
    use crate::sessions::LocalSessions;
    use crate::storage::sqlite::SqliteStore;

    async fn ctx() -> Ctx {
        let store = Arc::new(SqliteStore::in_memory().await.unwrap());
        let accounts = Accounts::new(store, "localhost", 4096);
        for user in ["alice", "bob", "carol"] {
            accounts.add_user(user, "pw").await.unwrap();
        }
        Ctx::new(
            Arc::new(Config::default()),
            accounts,
            Arc::new(LocalSessions::default()),
        )
    }

    #[tokio::test]
    async fn cached_lists_follow_changes_and_stay_bounded() {
        let ctx = ctx().await;
        let lists = Blocking::new(2).lists;
        assert!(lists.get(&ctx, "alice").await.unwrap().is_empty());
        ctx.store()
            .block("alice", &["bob@localhost".into()])
            .await
            .unwrap();
        assert!(
            lists.get(&ctx, "alice").await.unwrap().is_empty(),
            "served from memory until the change is announced"
        );
        lists.changed("alice");
        let bob = Jid::new("bob@localhost/pc").unwrap();
        assert!(lists.get(&ctx, "alice").await.unwrap().blocks(&bob));
        for user in ["bob", "carol", "alice", "bob"] {
            lists.get(&ctx, user).await.unwrap();
            assert!(lists.entries().len() <= 2);
        }
        assert!(lists.get(&ctx, "alice").await.unwrap().blocks(&bob));
    }

    #[tokio::test]
    async fn the_account_and_its_server_are_never_blocked() {
        let ctx = ctx().await;
        let exempt = |jid: &str| exempt(&ctx, "alice", &Jid::new(jid).unwrap());
        for own in ["alice@localhost", "alice@localhost/phone", "localhost"] {
            assert!(exempt(own), "{own}");
        }
        for other in [
            "bob@localhost",
            "localhost/bot",
            "alice@elsewhere",
            "elsewhere",
        ] {
            assert!(!exempt(other), "{other}");
        }
    }
}
