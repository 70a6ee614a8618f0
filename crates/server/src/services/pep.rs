//! XEP-0163 personal eventing on each account's bare JID: the pubsub requests, access models,
//! notifications to the resources whose capabilities ask for a node, and the last items sent to
//! a contact's resource when it comes online.

use std::sync::Arc;

use async_trait::async_trait;
use jid::Jid;
use minidom::Element;
use switchboard_xmpp::blocking::BlockList;
use switchboard_xmpp::caps::{Caps, Interests};
use switchboard_xmpp::ns;
use switchboard_xmpp::pep::{
    self, AccessModel, Event, Fields, Item, NodeConfig, PepError, Request, SendLast,
};
use switchboard_xmpp::stanza::{self, StanzaKind};
use switchboard_xmpp::subscription::Subscription;

use super::avatar::{self, AvatarIds};
use super::caps::CapsCache;
use super::contacts;
use crate::ctx::{Ctx, Feature, Filter, Flow, Service};
use crate::ids::random_id;
use crate::routed::{Origin, Outcome, Routed};
use crate::sessions::SessionId;
use crate::storage::{Created, StoreError, StoredItem};

/// The PEP service and the filter that watches its accounts' presence; cheap to clone.
#[derive(Clone)]
pub struct Pep {
    caps: CapsCache,
    avatars: Arc<AvatarIds>,
}

impl Pep {
    /// Keeps `caps_cache_size` verified capabilities and `avatar_cache_size` accounts' avatar
    /// ids in memory.
    pub fn new(caps_cache_size: usize, avatar_cache_size: usize) -> Pep {
        Pep {
            caps: CapsCache::new(caps_cache_size),
            avatars: Arc::new(AvatarIds::new(avatar_cache_size)),
        }
    }

    /// Called after `owner`'s `node` changed.
    fn changed(&self, owner: &str, node: &str) {
        if node == ns::AVATAR_METADATA {
            self.avatars.forget(owner);
        }
    }
}

/// What a request may do, given who sent it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Owner,
    /// Another entity, a bare JID: it may read what the node's access model lets it.
    Other,
}

impl From<StoreError> for PepError {
    fn from(e: StoreError) -> PepError {
        tracing::error!(error = %e, "PEP storage failed");
        PepError::Storage
    }
}

#[async_trait]
impl Service for Pep {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let Some(owner) = ctx.local_user(iq.to.as_ref().unwrap_or(&iq.from)) else {
            return Outcome::Dropped;
        };
        let role = if ctx.local_user(&iq.from).as_deref() == Some(owner.as_str()) {
            Role::Owner
        } else {
            Role::Other
        };
        let request = stanza::iq_payload(&iq.el)
            .ok_or(PepError::BadRequest("iq without payload"))
            .and_then(|payload| Request::parse(iq.type_(), payload));
        let answer = match request {
            Ok(request) => self.answer(ctx, &owner, role, &iq.from, request).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(payload) => ctx.reply(&iq, stanza::iq_result(&iq.el, payload)).await,
            Err(e) => ctx.bounce_with(&iq, e.error()).await,
        }
    }

    fn features(&self) -> &'static [Feature] {
        FEATURES
    }
}

/// XEP-0060 §10's feature names of what this service implements, on the account (XEP-0163 §6).
const FEATURES: &[Feature] = &[
    Feature::account(ns::PUBSUB),
    Feature::account("http://jabber.org/protocol/pubsub#access-open"),
    Feature::account("http://jabber.org/protocol/pubsub#access-presence"),
    Feature::account("http://jabber.org/protocol/pubsub#access-whitelist"),
    Feature::account("http://jabber.org/protocol/pubsub#auto-create"),
    Feature::account("http://jabber.org/protocol/pubsub#config-node"),
    Feature::account("http://jabber.org/protocol/pubsub#create-and-configure"),
    Feature::account("http://jabber.org/protocol/pubsub#create-nodes"),
    Feature::account("http://jabber.org/protocol/pubsub#delete-items"),
    Feature::account("http://jabber.org/protocol/pubsub#delete-nodes"),
    Feature::account("http://jabber.org/protocol/pubsub#filtered-notifications"),
    Feature::account("http://jabber.org/protocol/pubsub#item-ids"),
    Feature::account("http://jabber.org/protocol/pubsub#last-published"),
    Feature::account("http://jabber.org/protocol/pubsub#multi-items"),
    Feature::account("http://jabber.org/protocol/pubsub#persistent-items"),
    Feature::account("http://jabber.org/protocol/pubsub#presence-notifications"),
    Feature::account("http://jabber.org/protocol/pubsub#presence-subscribe"),
    Feature::account("http://jabber.org/protocol/pubsub#publish"),
    Feature::account("http://jabber.org/protocol/pubsub#publish-options"),
    Feature::account("http://jabber.org/protocol/pubsub#purge-nodes"),
    Feature::account("http://jabber.org/protocol/pubsub#retract-items"),
    Feature::account("http://jabber.org/protocol/pubsub#retrieve-items"),
];

impl Pep {
    async fn answer(
        &self,
        ctx: &Ctx,
        owner: &str,
        role: Role,
        from: &Jid,
        request: Request,
    ) -> Result<Option<Element>, PepError> {
        let owner_only = !matches!(request, Request::Items { .. });
        if owner_only && role != Role::Owner {
            return Err(PepError::Forbidden);
        }
        match request {
            Request::Publish {
                node,
                id,
                payload,
                options,
            } => {
                let id = self
                    .publish(ctx, owner, &node, id, payload, options.as_ref())
                    .await?;
                Ok(Some(pep::publish_result(&node, &id)))
            }
            Request::Items { node, max, ids } => {
                let config = node_config(ctx, owner, &node).await?;
                if role == Role::Other {
                    may_read(ctx, owner, from, &config).await?;
                }
                let stored = if ids.is_empty() {
                    let limit = ctx.config().pep.max_items;
                    let max = max.map_or(limit, |m| m.min(limit));
                    ctx.store().pep_items(owner, &node, Some(max)).await?
                } else {
                    ctx.store().pep_items_by_id(owner, &node, &ids).await?
                };
                Ok(Some(pep::items_result(&node, &items_of(&stored))))
            }
            Request::Retract { node, ids, notify } => {
                self.retract(ctx, owner, &node, &ids, notify).await?;
                Ok(None)
            }
            Request::Create { node, config } => {
                let mut created = NodeConfig::DEFAULT;
                if let Some(fields) = config {
                    created.apply(&fields, ctx.config().pep.max_items)?;
                }
                match create(ctx, owner, &node, &created).await? {
                    Created::Created => Ok(None),
                    Created::Exists => Err(PepError::NodeExists),
                    Created::TooMany => Err(PepError::TooManyNodes),
                }
            }
            Request::ConfigureGet { node } => {
                let config = node_config(ctx, owner, &node).await?;
                Ok(Some(pep::configure_result(&node, &config)))
            }
            Request::ConfigureSet {
                node,
                config: fields,
            } => {
                let mut config = node_config(ctx, owner, &node).await?;
                config.apply(&fields, ctx.config().pep.max_items)?;
                if !ctx.store().pep_configure(owner, &node, &config).await? {
                    return Err(PepError::NoSuchNode);
                }
                Ok(None)
            }
            Request::Delete { node } => {
                let config = node_config(ctx, owner, &node).await?;
                if !ctx.store().pep_delete(owner, &node).await? {
                    return Err(PepError::NoSuchNode);
                }
                self.changed(owner, &node);
                self.notify(ctx, owner, &node, &config, &Event::Deleted)
                    .await;
                Ok(None)
            }
            Request::Purge { node } => {
                let config = node_config(ctx, owner, &node).await?;
                if !ctx.store().pep_purge(owner, &node).await? {
                    return Err(PepError::NoSuchNode);
                }
                self.changed(owner, &node);
                self.notify(ctx, owner, &node, &config, &Event::Purged)
                    .await;
                Ok(None)
            }
        }
    }

    /// Publishes `payload` to `owner`'s `node` (created on first use with `options`, else held
    /// to them as preconditions), notifies, and returns the item's id. Also how the server
    /// publishes on an account's behalf (XEP-0398, XEP-0411).
    pub async fn publish(
        &self,
        ctx: &Ctx,
        owner: &str,
        node: &str,
        id: Option<String>,
        payload: Element,
        options: Option<&Fields>,
    ) -> Result<String, PepError> {
        let limits = ctx.config().pep.clone();
        let serialised = stanza::to_xml_portable(&payload);
        if serialised.len() > limits.max_item_bytes {
            return Err(PepError::PayloadTooBig);
        }
        if id.as_ref().is_some_and(|id| id.len() > pep::MAX_ITEM_ID) {
            return Err(PepError::BadRequest("item id too long"));
        }
        let config = match ctx.store().pep_node(owner, node).await? {
            Some(config) => {
                if let Some(options) = options
                    && !config.meets(options, limits.max_items)
                {
                    return Err(PepError::PreconditionNotMet);
                }
                config
            }
            None => {
                let mut config = NodeConfig::DEFAULT;
                if let Some(options) = options {
                    config
                        .apply(options, limits.max_items)
                        .map_err(|_| PepError::PreconditionNotMet)?;
                }
                match create(ctx, owner, node, &config).await? {
                    Created::Created => config,
                    // Created meanwhile by another request: held to the options like any node.
                    Created::Exists => {
                        let config = node_config(ctx, owner, node).await?;
                        if options.is_some_and(|o| !config.meets(o, limits.max_items)) {
                            return Err(PepError::PreconditionNotMet);
                        }
                        config
                    }
                    Created::TooMany => return Err(PepError::TooManyNodes),
                }
            }
        };
        let id = id.unwrap_or_else(random_id);
        let stored = StoredItem {
            id: id.clone(),
            payload: serialised,
        };
        let keep = config.kept().min(limits.max_items);
        if !ctx.store().pep_publish(owner, node, &stored, keep).await? {
            return Err(PepError::NoSuchNode);
        }
        let item = Item {
            id: id.clone(),
            payload,
        };
        self.changed(owner, node);
        avatar::published(ctx, owner, node, &item).await;
        self.notify(ctx, owner, node, &config, &Event::Published(item))
            .await;
        Ok(id)
    }

    /// Removes the items `ids` of `owner`'s `node`, telling those interested when `notify`.
    pub async fn retract(
        &self,
        ctx: &Ctx,
        owner: &str,
        node: &str,
        ids: &[String],
        notify: bool,
    ) -> Result<(), PepError> {
        let config = node_config(ctx, owner, node).await?;
        let removed = ctx.store().pep_retract(owner, node, ids).await?;
        self.changed(owner, node);
        if notify && !removed.is_empty() {
            self.notify(ctx, owner, node, &config, &Event::Retracted(removed))
                .await;
        }
        Ok(())
    }

    /// Sends `event` of `owner`'s `node` to every available resource that may see the node
    /// (the owner's own, and its presence subscribers' unless the node is a whitelist) and
    /// whose capabilities ask for its notifications.
    async fn notify(&self, ctx: &Ctx, owner: &str, node: &str, config: &NodeConfig, event: &Event) {
        let Some(owner_jid) = ctx.account_jid(owner) else {
            return;
        };
        let mut users = vec![owner.to_owned()];
        if config.access_model != AccessModel::Whitelist {
            match ctx.store().roster(owner).await {
                Ok(roster) => users.extend(
                    roster
                        .iter()
                        .filter(|i| {
                            matches!(
                                Subscription::parse(&i.subscription),
                                Subscription::From | Subscription::Both
                            )
                        })
                        .filter_map(|i| ctx.local_user(&Jid::new(&i.jid).ok()?))
                        .filter(|user| user != owner),
                ),
                Err(e) => tracing::error!(owner, error = %e, "roster unavailable for PEP"),
            }
        }
        let payload = pep::event(node, event);
        let blocked = if users.len() > 1 {
            blocklist(ctx, owner).await
        } else {
            BlockList::default()
        };
        for user in users {
            for entry in ctx.sessions().resources(&user) {
                if !entry.available
                    || !self
                        .caps
                        .of_entry(&entry)
                        .is_some_and(|interests| interests.wants(node))
                {
                    continue;
                }
                let to = format!("{user}@{}/{}", ctx.domain(), entry.resource);
                if Jid::new(&to).is_ok_and(|jid| blocked.blocks(&jid)) {
                    continue;
                }
                let message =
                    pep::notification(owner_jid.as_str(), &to, &random_id(), payload.clone());
                ctx.send(message).await;
            }
        }
    }
}

/// `owner`'s blocklist (XEP-0191): nothing of its nodes reaches whom it blocks. A storage
/// failure is logged and blocks nobody, as the blocking filter does.
async fn blocklist(ctx: &Ctx, owner: &str) -> BlockList {
    match ctx.store().blocklist(owner).await {
        Ok(items) => BlockList::new(items),
        Err(e) => {
            tracing::error!(owner, error = %e, "blocklist unavailable for PEP");
            BlockList::default()
        }
    }
}

async fn create(
    ctx: &Ctx,
    owner: &str,
    node: &str,
    config: &NodeConfig,
) -> Result<Created, PepError> {
    let max_nodes = ctx.config().pep.max_nodes;
    Ok(ctx
        .store()
        .pep_create(owner, node, config, max_nodes)
        .await?)
}

async fn node_config(ctx: &Ctx, owner: &str, node: &str) -> Result<NodeConfig, PepError> {
    ctx.store()
        .pep_node(owner, node)
        .await?
        .ok_or(PepError::NoSuchNode)
}

/// XEP-0060 §6.5.9: whether `reader` (not the owner) may retrieve items of a node.
async fn may_read(
    ctx: &Ctx,
    owner: &str,
    reader: &Jid,
    config: &NodeConfig,
) -> Result<(), PepError> {
    match config.access_model {
        AccessModel::Open => Ok(()),
        AccessModel::Presence => {
            let state = contacts::state(ctx, owner, reader.to_bare().as_str()).await?;
            if state.has_from() {
                Ok(())
            } else {
                Err(PepError::PresenceSubscriptionRequired)
            }
        }
        AccessModel::Whitelist => Err(PepError::ClosedNode),
    }
}

/// Stored items as protocol items; one whose payload no longer parses is left out (logged).
fn items_of(stored: &[StoredItem]) -> Vec<Item> {
    stored
        .iter()
        .filter_map(|s| match s.payload.parse::<Element>() {
            Ok(payload) => Some(Item {
                id: s.id.clone(),
                payload,
            }),
            Err(e) => {
                tracing::error!(id = s.id, error = %e, "unreadable PEP item");
                None
            }
        })
        .collect()
}

#[async_trait]
impl Filter for Pep {
    /// A resource's broadcast presence: stamped with the avatar's hash (XEP-0398), and, when it
    /// shows capabilities and comes online or changes them, it learns them (asking once for an
    /// unknown `ver`) and then gets the last item of every node it asks for among its own
    /// account's and the accounts it is subscribed to (XEP-0163 §4.3.3). An approved
    /// subscription sends the owner's last items to the new subscriber's resources.
    async fn outbound(&self, ctx: &Ctx, user: &str, stanza: &mut Routed) -> Flow {
        if stanza.kind != StanzaKind::Presence {
            return Flow::Continue;
        }
        match (stanza.type_(), stanza.to.clone(), stanza.origin) {
            ("", None, Origin::Session(id)) => self.broadcast(ctx, user, id, stanza).await,
            ("subscribed", Some(contact), _) => self.subscribed(ctx, user, &contact),
            _ => {}
        }
        Flow::Continue
    }
}

impl Pep {
    async fn broadcast(&self, ctx: &Ctx, user: &str, id: SessionId, stanza: &mut Routed) {
        self.avatars.stamp_presence(ctx, user, &mut stanza.el).await;
        let Some(caps) = Caps::of_presence(&stanza.el) else {
            return;
        };
        let Some(entry) = ctx.sessions().session(user, id) else {
            return;
        };
        let before = entry.presence.as_deref().and_then(Caps::of_presence);
        if entry.available && before.as_ref() == Some(&caps) {
            return;
        }
        let (pep, ctx, user) = (self.clone(), ctx.clone(), user.to_owned());
        let full = stanza.from.clone();
        tokio::spawn(async move {
            if let Some(interests) = pep.caps.learn(&ctx, &full, &caps).await {
                send_last(&ctx, &user, &full, &interests).await;
            }
        });
    }

    /// `owner` approved `contact`'s subscription (the subscription filter before this one has
    /// recorded it): the contact's available resources get the last items they ask for of
    /// `owner`'s nodes (`on_sub`, XEP-0060 §12.20).
    fn subscribed(&self, ctx: &Ctx, owner: &str, contact: &Jid) {
        let Some(contact_user) = ctx.local_user(contact).filter(|c| c != owner) else {
            return;
        };
        let (pep, ctx, owner) = (self.clone(), ctx.clone(), owner.to_owned());
        tokio::spawn(async move {
            let Some(contact_bare) = ctx.account_jid(&contact_user) else {
                return;
            };
            match contacts::state(&ctx, &owner, contact_bare.as_str()).await {
                Ok(state) if state.has_from() => {}
                Ok(_) => return,
                Err(e) => {
                    tracing::error!(owner, error = %e, "roster unavailable for PEP");
                    return;
                }
            }
            for entry in ctx.sessions().resources(&contact_user) {
                let Some(interests) = pep.caps.of_entry(&entry).filter(|_| entry.available) else {
                    continue;
                };
                let Ok(full) = Jid::new(&format!("{contact_bare}/{}", entry.resource)) else {
                    continue;
                };
                send_last_of(
                    &ctx,
                    &owner,
                    &contact_user,
                    &full,
                    &interests,
                    Trigger::Subscription,
                )
                .await;
            }
        });
    }
}

/// What makes the server send a node's last item on its own.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// A contact's resource came online (`on_sub_and_presence`).
    Presence,
    /// A contact was granted a subscription (`on_sub` and `on_sub_and_presence`).
    Subscription,
}

impl Trigger {
    fn sends(self, when: SendLast) -> bool {
        match self {
            Trigger::Presence => when == SendLast::OnSubAndPresence,
            Trigger::Subscription => when != SendLast::Never,
        }
    }
}

/// The last item of each node `interests` names, of `user`'s own account and of each local
/// account `user` is subscribed to, to `full`.
async fn send_last(ctx: &Ctx, user: &str, full: &Jid, interests: &Interests) {
    let mut owners = vec![user.to_owned()];
    match ctx.store().roster(user).await {
        Ok(roster) => owners.extend(
            roster
                .iter()
                .filter(|i| {
                    matches!(
                        Subscription::parse(&i.subscription),
                        Subscription::To | Subscription::Both
                    )
                })
                .filter_map(|i| ctx.local_user(&Jid::new(&i.jid).ok()?))
                .filter(|owner| owner != user),
        ),
        Err(e) => tracing::error!(user, error = %e, "roster unavailable for PEP"),
    }
    for owner in &owners {
        send_last_of(ctx, owner, user, full, interests, Trigger::Presence).await;
    }
}

/// The last item of each of `owner`'s nodes that `interests` names, that `user` may see and
/// that `trigger` sends, to `user`'s resource `full`.
async fn send_last_of(
    ctx: &Ctx,
    owner: &str,
    user: &str,
    full: &Jid,
    interests: &Interests,
    trigger: Trigger,
) {
    let Some(owner_jid) = ctx.account_jid(owner) else {
        return;
    };
    if owner != user && blocklist(ctx, owner).await.blocks(full) {
        return;
    }
    for node in interests.nodes() {
        let config = match ctx.store().pep_node(owner, node).await {
            Ok(Some(config)) => config,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(owner, error = %e, "PEP node unavailable");
                continue;
            }
        };
        let visible = owner == user || config.access_model != AccessModel::Whitelist;
        if !visible || !trigger.sends(config.send_last) {
            continue;
        }
        let last = match ctx.store().pep_items(owner, node, Some(1)).await {
            Ok(items) => items_of(&items),
            Err(e) => {
                tracing::error!(owner, error = %e, "PEP items unavailable");
                continue;
            }
        };
        for item in last {
            let event = pep::event(node, &Event::Published(item));
            let message = pep::notification(owner_jid.as_str(), full.as_str(), &random_id(), event);
            ctx.send(message).await;
        }
    }
}
