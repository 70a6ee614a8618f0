//! The room service at `conference.<domain>`: takes every stanza for the service and its rooms,
//! keeps the rooms (persistent ones restored from the store), and offers the in-process API
//! the HTTP surfaces use. Each room is behind its own lock and delivers through its own task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jid::{BareJid, Jid};
use minidom::Element;
use rand::RngCore;
use switchboard_xmpp::muc::{self, Affiliation, Destroy, MucError, Role, RoomConfig};
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StanzaKind};
use switchboard_xmpp::{mam, ns};
use tokio::sync::{OnceCell, mpsc};

use super::api::{
    ApiError, ArchiveFrom, ArchivePage, NewRoom, OccupantInfo, RoomDetails, RoomMessage,
    RoomSummary,
};
use super::record;
use super::room::{Effects, Limits, Room};
use crate::config::RoomCreation;
use crate::ctx::{Ctx, Service};
use crate::routed::{Outcome, Routed};
use crate::storage::archive::{Criteria, PageRequest, Position, QueryError, With};

/// One room: its state behind an async lock (one stanza at a time), and the queue of its
/// delivery task, so that a large room's fan-out neither blocks the sender nor other rooms.
struct RoomHandle {
    room: tokio::sync::Mutex<Room>,
    queue: mpsc::Sender<Vec<Element>>,
}

impl RoomHandle {
    fn start(ctx: &Ctx, room: Room) -> Arc<RoomHandle> {
        let (queue, rx) = mpsc::channel(ctx.config().muc.room_queue.max(1));
        tokio::spawn(deliver(ctx.clone(), rx));
        Arc::new(RoomHandle {
            room: tokio::sync::Mutex::new(room),
            queue,
        })
    }
}

/// Routes each batch in order; ends when the room is dropped.
async fn deliver(ctx: Ctx, mut rx: mpsc::Receiver<Vec<Element>>) {
    while let Some(batch) = rx.recv().await {
        for el in batch {
            ctx.send(el).await;
        }
    }
}

/// The group chat service. Register it with `Handlers::hosted(domain, …)`; the HTTP side
/// reaches it through `AppState::muc`.
///
/// # In-process API
/// Every method takes room JIDs on this service's domain (see [`MucService::room_jid`]) and
/// acts as the room would act on the equivalent XMPP request: the same permission rules, the
/// same notifications to occupants, the same archive and persistence.
/// - [`MucService::create_room`]: a room with configuration, subject and affiliations;
/// - [`MucService::rooms_of`]: the rooms a user is affiliated with (member or above) or in;
/// - [`MucService::room`]: configuration, subject, affiliations and occupants of a room;
/// - [`MucService::set_affiliation`]: add or remove members, admins, owners, bans;
/// - [`MucService::configure`], [`MucService::set_subject`];
/// - [`MucService::send`]: a groupchat message from a user (joined or not), archived;
/// - [`MucService::messages`]: a page of the room's archive;
/// - [`MucService::invite`], [`MucService::kick`], [`MucService::destroy`];
/// - [`MucService::join_as`], [`MucService::leave_as`]: a session that sends no presence of
///   its own (an SSE stream) in and out of a room.
pub struct MucService {
    ctx: Ctx,
    domain: String,
    rooms: Mutex<HashMap<String, Arc<RoomHandle>>>,
    /// Persistent rooms are read from the store once, at first use.
    loaded: OnceCell<()>,
}

/// A random key for occupant ids.
fn new_secret() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `group-<uuid v4>`, the WebSocket seed's room naming.
fn group_name() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "group-{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl MucService {
    /// The service for `domain` (`muc.domain_for(server domain)`), delivering through `ctx`.
    pub fn new(ctx: Ctx, domain: String) -> MucService {
        MucService {
            ctx,
            domain,
            rooms: Mutex::new(HashMap::new()),
            loaded: OnceCell::new(),
        }
    }

    /// The service's domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The JID of room `name` (a localpart, or a room JID on this service).
    pub fn room_jid(&self, name: &str) -> Result<BareJid, ApiError> {
        let jid = match name.split_once('@') {
            Some((_, domain)) if domain != self.domain => return Err(ApiError::BadName),
            Some(_) => BareJid::new(name),
            None => BareJid::new(&format!("{name}@{}", self.domain)),
        }
        .map_err(|_| ApiError::BadName)?;
        if jid.node().is_none() {
            return Err(ApiError::BadName);
        }
        Ok(jid)
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<RoomHandle>>> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lookup(&self, name: &str) -> Option<Arc<RoomHandle>> {
        self.registry().get(name).cloned()
    }

    async fn load(&self) {
        self.loaded
            .get_or_init(|| async {
                let stored = match self.ctx.store().muc_rooms().await {
                    Ok(stored) => stored,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the stored rooms");
                        return;
                    }
                };
                let mut restored = 0;
                for s in stored {
                    match record::load(&s, &self.domain) {
                        Ok(room) if room.config.persistent => {
                            let handle = RoomHandle::start(&self.ctx, room);
                            self.registry().insert(s.name, handle);
                            restored += 1;
                        }
                        // Made temporary, then the server stopped before it emptied.
                        Ok(_) => {
                            if let Err(e) = self.ctx.store().muc_delete_room(&s.name).await {
                                tracing::error!(room = s.name, error = %e, "cannot delete room");
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "stored room skipped"),
                    }
                }
                tracing::info!(
                    rooms = restored,
                    domain = self.domain,
                    "group chat rooms restored"
                );
            })
            .await;
    }

    fn limits(&self) -> Limits {
        let config = self.ctx.config();
        Limits {
            max_occupants: config.muc.max_occupants,
            messages_per_second: config.muc.messages_per_second,
            message_burst: config.muc.message_burst,
        }
    }

    /// Whether `who` may create a room (`muc.restrict_room_creation`).
    fn may_create(&self, who: &Jid) -> bool {
        match self.ctx.config().muc.restrict_room_creation {
            RoomCreation::Anyone => true,
            RoomCreation::Local => self.ctx.local_user(who).is_some(),
            RoomCreation::Admins => self.ctx.is_admin(who),
        }
    }

    /// Rooms `user` owns (checked against `muc.max_rooms_per_user`).
    async fn owned_by(&self, user: &BareJid) -> usize {
        let handles: Vec<Arc<RoomHandle>> = self.registry().values().cloned().collect();
        let mut owned = 0;
        for h in handles {
            if h.room.lock().await.affiliation(user) == Affiliation::Owner {
                owned += 1;
            }
        }
        owned
    }

    /// Checks the limits on creating a room for `owner`.
    async fn check_new_room(&self, owner: &Jid) -> Result<(), MucError> {
        let config = self.ctx.config();
        if self.registry().len() >= config.muc.max_rooms {
            return Err(MucError::ResourceConstraint(
                "the service holds its maximum of rooms",
            ));
        }
        if !self.ctx.is_admin(owner)
            && self.owned_by(&owner.to_bare()).await >= config.muc.max_rooms_per_user
        {
            return Err(MucError::NotAllowed("you own as many rooms as allowed"));
        }
        Ok(())
    }

    /// The room named `name`, created empty (owned by `creator`) when the join allows it.
    async fn room_for_join(
        &self,
        name: &str,
        jid: BareJid,
        creator: &Jid,
    ) -> Result<Arc<RoomHandle>, MucError> {
        if let Some(h) = self.lookup(name) {
            return Ok(h);
        }
        if !self.may_create(creator) {
            return Err(MucError::NotAllowed("you may not create rooms here"));
        }
        self.check_new_room(creator).await?;
        let mut room = Room::new(jid, RoomConfig::default(), new_secret());
        room.set_affiliation(creator.to_bare(), Affiliation::Owner);
        let handle = RoomHandle::start(&self.ctx, room);
        Ok(self
            .registry()
            .entry(name.to_owned())
            .or_insert(handle)
            .clone())
    }

    /// Sends what a change produced, in order: archive first, then the stanzas, history and
    /// subject of a join; then persistence and, for a room now gone, its removal.
    async fn finish(&self, room: &mut Room, handle: &RoomHandle, fx: Effects) {
        let store = self.ctx.store();
        if let Some(entry) = &fx.archive
            && let Err(e) = store.muc_archive_append(std::slice::from_ref(entry)).await
        {
            tracing::error!(room = %room.jid, error = %e, "cannot archive a room message");
        }
        let mut out = fx.out;
        if let Some(joined) = fx.joined {
            out.extend(self.history(room, &joined.to, &joined.history).await);
            out.push(joined.subject);
        }
        if !out.is_empty() && handle.queue.send(out).await.is_err() {
            tracing::error!(room = %room.jid, "room delivery task gone");
        }
        if fx.destroyed {
            self.forget(room).await;
            return;
        }
        if fx.persist && (room.config.persistent || room.stored) {
            match record::store(room) {
                Ok(stored) => match store.muc_save_room(&stored).await {
                    Ok(()) => room.stored = true,
                    Err(e) => tracing::error!(room = %room.jid, error = %e, "cannot save room"),
                },
                Err(e) => tracing::error!(error = %e, "cannot save room"),
            }
        }
    }

    /// Removes a destroyed or vanished room with its stored state and archive.
    async fn forget(&self, room: &mut Room) {
        room.gone = true;
        let name = room.room_name();
        self.registry().remove(&name);
        if let Err(e) = self.ctx.store().muc_delete_room(&name).await {
            tracing::error!(room = name, error = %e, "cannot delete room");
        }
    }

    /// History for a joining session, from the room's archive (XEP-0045 §7.2.13).
    async fn history(&self, room: &Room, to: &Jid, limits: &muc::HistoryLimits) -> Vec<Element> {
        let config = self.ctx.config();
        let max = limits
            .maxstanzas
            .unwrap_or(config.muc.history_default)
            .min(config.muc.history_max);
        if max == 0 || limits.maxchars == Some(0) {
            return Vec::new();
        }
        let by_seconds = limits.seconds.map(|s| {
            self.ctx.now()
                - chrono::Duration::seconds(
                    i64::try_from(s)
                        .unwrap_or(i64::MAX / 1000)
                        .min(i64::MAX / 1000),
                )
        });
        let start = match (by_seconds, limits.since) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let criteria = Criteria {
            start,
            ..Criteria::default()
        };
        let request = PageRequest {
            from: Position::Newest,
            max,
            count_limit: 0,
        };
        let page = match self
            .ctx
            .store()
            .muc_archive_page(&room.room_name(), &criteria, &request)
            .await
        {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(room = %room.jid, error = %e, "cannot read room history");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        let mut chars = 0usize;
        for m in page.messages.iter().rev() {
            chars += m.stanza.len();
            if limits.maxchars.is_some_and(|max| chars > max) {
                break;
            }
            let Ok(mut el) = m.stanza.parse::<Element>() else {
                continue;
            };
            stanza::set_attr(&mut el, "to", to.as_str());
            el.append_child(stanza::delay(room.jid.as_str(), &mam::stamp(&m.at)));
            out.push(el);
        }
        out.reverse();
        out
    }

    async fn bounce(&self, ctx: &Ctx, stanza: &Routed, e: &MucError) -> Outcome {
        let (type_, condition) = e.condition();
        ctx.bounce(stanza, type_, condition, Some(e.text())).await
    }

    /// A stanza to a room or an occupant.
    async fn to_room(&self, ctx: &Ctx, name: &str, stanza: Routed) -> Outcome {
        let to = stanza.to.clone().expect("rooms are addressed");
        let room_jid = to.to_bare();
        loop {
            let joins = stanza.kind == StanzaKind::Presence
                && stanza.el.attr("type").is_none()
                && to.resource().is_some();
            let handle = match self.lookup(name) {
                Some(h) => h,
                None if joins => {
                    match self
                        .room_for_join(name, room_jid.clone(), &stanza.from)
                        .await
                    {
                        Ok(h) => h,
                        Err(e) => return self.bounce(ctx, &stanza, &e).await,
                    }
                }
                None if stanza.kind == StanzaKind::Presence => return Outcome::Dropped,
                None => {
                    let e = MucError::ItemNotFound("no such room");
                    return self.bounce(ctx, &stanza, &e).await;
                }
            };
            let mut room = handle.room.lock().await;
            if room.gone {
                continue;
            }
            let outcome = self.in_room(ctx, &mut room, &handle, &stanza).await;
            let empty = room.occupants.is_empty() && !room.config.persistent && !room.gone;
            if stanza.kind == StanzaKind::Presence && empty {
                self.forget(&mut room).await;
            }
            return outcome;
        }
    }

    async fn in_room(
        &self,
        ctx: &Ctx,
        room: &mut Room,
        handle: &RoomHandle,
        stanza: &Routed,
    ) -> Outcome {
        let to = stanza.to.as_ref().expect("rooms are addressed");
        let from = &stanza.from;
        let nick = to.resource().map(|r| r.as_str().to_owned());
        let result = match (stanza.kind, nick) {
            (StanzaKind::Presence, _) => room.presence(from, to, &stanza.el, &self.limits()),
            (StanzaKind::Message, None) => {
                let service_account = self.is_service_account(from);
                room.message(from, &stanza.el, service_account, &self.limits(), ctx.now())
            }
            (StanzaKind::Message, Some(nick)) => room.private_message(from, &nick, &stanza.el),
            (StanzaKind::Iq, nick) => return self.iq(ctx, room, handle, stanza, nick).await,
        };
        match result {
            Ok(fx) => {
                self.finish(room, handle, fx).await;
                Outcome::Handled
            }
            Err(e) => self.bounce(ctx, stanza, &e).await,
        }
    }

    fn is_service_account(&self, from: &Jid) -> bool {
        let bare = from.to_bare();
        self.ctx
            .config()
            .muc
            .service_accounts
            .iter()
            .any(|a| a.as_bare() == &bare)
    }

    async fn iq(
        &self,
        ctx: &Ctx,
        room: &mut Room,
        handle: &RoomHandle,
        iq: &Routed,
        nick: Option<String>,
    ) -> Outcome {
        let is_get = match iq.type_() {
            "get" => true,
            "set" => false,
            _ => return Outcome::Dropped,
        };
        let Some(payload) = stanza::iq_payload(&iq.el).cloned() else {
            let e = MucError::BadRequest("iq without payload");
            return self.bounce(ctx, iq, &e).await;
        };
        let from = &iq.from;
        if let Some(nick) = nick {
            if payload.is("ping", ns::PING) {
                return match room.self_ping(from, &nick) {
                    Ok(()) => ctx.reply(iq, stanza::iq_result(&iq.el, None)).await,
                    Err(e) => self.bounce(ctx, iq, &e).await,
                };
            }
            let e = MucError::ServiceUnavailable("iqs to occupants are not relayed");
            return self.bounce(ctx, iq, &e).await;
        }
        let max = ctx.config().muc.max_occupants;
        let answer: Result<(Option<Element>, Effects), MucError> = match payload.ns().as_str() {
            ns::DISCO_INFO if is_get => Ok((Some(room.disco_info()), Effects::default())),
            ns::DISCO_ITEMS if is_get => Ok((Some(muc::disco_items(&[])), Effects::default())),
            ns::PING if is_get => Ok((None, Effects::default())),
            ns::MUC_OWNER => muc::OwnerRequest::parse(&payload, is_get)
                .and_then(|request| room.owner(from, request, max)),
            ns::MUC_ADMIN => {
                muc::admin_items(&payload, is_get).and_then(|items| room.admin(from, items))
            }
            ns::REGISTER if is_get => {
                let nick = room.reserved.get(&from.to_bare()).map(String::as_str);
                Ok((Some(muc::register_form(nick)), Effects::default()))
            }
            ns::REGISTER => muc::Registration::parse(&payload)
                .and_then(|r| room.register(from, r))
                .map(|fx| (None, fx)),
            ns::MAM => return self.room_mam(ctx, room, iq, &payload, is_get).await,
            _ => Err(MucError::FeatureNotImplemented("not supported by rooms")),
        };
        match answer {
            Ok((payload, fx)) => {
                let outcome = ctx.reply(iq, stanza::iq_result(&iq.el, payload)).await;
                self.finish(room, handle, fx).await;
                outcome
            }
            Err(e) => self.bounce(ctx, iq, &e).await,
        }
    }

    /// XEP-0313 on the room's JID: the room's archive, for those who may read it.
    async fn room_mam(
        &self,
        ctx: &Ctx,
        room: &Room,
        iq: &Routed,
        payload: &Element,
        is_get: bool,
    ) -> Outcome {
        if !room.may_read_archive(&iq.from.to_bare()) {
            let e = MucError::Forbidden("only members may read this room's archive");
            return self.bounce(ctx, iq, &e).await;
        }
        if is_get {
            return ctx
                .reply(iq, stanza::iq_result(&iq.el, Some(mam::query_form())))
                .await;
        }
        let query = match mam::Query::parse(payload) {
            Ok(q) => q,
            Err(e) => {
                let (type_, condition) = e.condition();
                return ctx.bounce(iq, type_, condition, Some(&e.to_string())).await;
            }
        };
        let cap = ctx.config().mam.max_page_size;
        let from = match &query.anchor {
            mam::Anchor::First => Position::Oldest,
            mam::Anchor::After(id) => Position::After(id.clone()),
            mam::Anchor::Last => Position::Newest,
            mam::Anchor::Before(id) => Position::Before(id.clone()),
        };
        let criteria = Criteria {
            with: query
                .with
                .as_ref()
                .map(|w| With::Bare(w.to_bare().to_string())),
            start: query.start,
            end: query.end,
            after_id: query.after_id.clone(),
            before_id: query.before_id.clone(),
            ids: query.ids.clone(),
        };
        let request = PageRequest {
            from,
            max: query.max.unwrap_or(cap).min(cap),
            count_limit: ctx.config().mam.count_limit,
        };
        let page = match ctx
            .store()
            .muc_archive_page(&room.room_name(), &criteria, &request)
            .await
        {
            Ok(page) => page,
            Err(QueryError::UnknownId(_)) => {
                return ctx
                    .bounce(iq, ErrorType::Cancel, DefinedCondition::ItemNotFound, None)
                    .await;
            }
            Err(QueryError::Store(e)) => {
                tracing::error!(room = %room.jid, error = %e, "room archive unavailable");
                return ctx
                    .bounce(
                        iq,
                        ErrorType::Wait,
                        DefinedCondition::InternalServerError,
                        None,
                    )
                    .await;
            }
        };
        let mut messages: Vec<_> = page.messages.iter().collect();
        if query.flip {
            messages.reverse();
        }
        for m in messages {
            let Ok(el) = m.stanza.parse::<Element>() else {
                continue;
            };
            let item = mam::Item {
                id: &m.id,
                at: m.at,
                message: el,
            };
            let result = mam::result(
                iq.from.as_str(),
                room.jid.as_str(),
                query.queryid.as_deref(),
                item,
            );
            ctx.send(result).await;
        }
        let bounds = match (page.messages.first(), page.messages.last()) {
            (Some(first), Some(last)) => Some(mam::PageBounds {
                first: &first.id,
                first_index: page.first_index,
                last: &last.id,
            }),
            _ => None,
        };
        let fin = mam::fin(page.complete, bounds, page.count);
        ctx.reply(iq, stanza::iq_result(&iq.el, Some(fin))).await
    }

    /// A stanza to the service's own domain: disco, ping, unique room names.
    async fn to_service(&self, ctx: &Ctx, stanza: Routed) -> Outcome {
        if stanza.kind != StanzaKind::Iq {
            if stanza.kind == StanzaKind::Message {
                let e = MucError::ServiceUnavailable("send messages to a room");
                return self.bounce(ctx, &stanza, &e).await;
            }
            return Outcome::Dropped;
        }
        let is_get = match stanza.type_() {
            "get" => true,
            "set" => false,
            _ => return Outcome::Dropped,
        };
        let payload = stanza::iq_payload(&stanza.el).cloned();
        let answer = match payload.as_ref().map(|p| (p.name().to_owned(), p.ns())) {
            Some((_, n)) if n == ns::DISCO_INFO && is_get => Some(muc::disco_info(
                "Chatrooms",
                &[
                    ns::MUC,
                    ns::MUC_UNIQUE,
                    ns::DISCO_INFO,
                    ns::DISCO_ITEMS,
                    ns::PING,
                ],
                None,
            )),
            Some((_, n)) if n == ns::DISCO_ITEMS && is_get => Some(self.public_rooms().await),
            Some((name, n)) if n == ns::MUC_UNIQUE && name == "unique" && is_get => Some(
                Element::builder("unique", ns::MUC_UNIQUE)
                    .append(group_name())
                    .build(),
            ),
            Some((_, n)) if n == ns::PING && is_get => None,
            _ => {
                let e = MucError::FeatureNotImplemented("not supported by the service");
                return self.bounce(ctx, &stanza, &e).await;
            }
        };
        ctx.reply(&stanza, stanza::iq_result(&stanza.el, answer))
            .await
    }

    async fn public_rooms(&self) -> Element {
        let handles: Vec<Arc<RoomHandle>> = self.registry().values().cloned().collect();
        let mut items = Vec::new();
        for h in handles {
            let room = h.room.lock().await;
            if room.config.public && !room.gone {
                let name = if room.config.name.is_empty() {
                    room.room_name()
                } else {
                    room.config.name.clone()
                };
                items.push((room.jid.to_string(), name));
            }
        }
        items.sort();
        muc::disco_items(&items)
    }

    // The in-process API.

    /// A room by JID, its state locked for one change.
    async fn existing(&self, room: &BareJid) -> Result<(Arc<RoomHandle>, String), ApiError> {
        self.load().await;
        if room.domain().as_str() != self.domain {
            return Err(ApiError::NoSuchRoom);
        }
        let name = room
            .node()
            .map(|n| n.as_str().to_owned())
            .ok_or(ApiError::BadName)?;
        let handle = self.lookup(&name).ok_or(ApiError::NoSuchRoom)?;
        Ok((handle, name))
    }

    /// Runs `change` on the room's state and delivers what it produced.
    async fn change<T>(
        &self,
        room: &BareJid,
        change: impl FnOnce(&mut Room) -> Result<(T, Effects), MucError>,
    ) -> Result<T, ApiError> {
        let (handle, _) = self.existing(room).await?;
        let mut state = handle.room.lock().await;
        if state.gone {
            return Err(ApiError::NoSuchRoom);
        }
        let (value, fx) = change(&mut state)?;
        self.finish(&mut state, &handle, fx).await;
        Ok(value)
    }

    /// Creates a room: `spec.owner` owns it, with `spec.config`, `spec.subject` and the further
    /// affiliations. Refused as an XMPP join would be by `muc.restrict_room_creation`,
    /// `muc.max_rooms` and `muc.max_rooms_per_user`; a name in use is [`ApiError::RoomExists`].
    /// Stored when the configuration is persistent. Returns the room JID.
    pub async fn create_room(&self, spec: NewRoom) -> Result<BareJid, ApiError> {
        self.load().await;
        let name = spec.name.unwrap_or_else(group_name);
        let jid = self.room_jid(&name)?;
        let name = jid
            .node()
            .map(|n| n.as_str().to_owned())
            .ok_or(ApiError::BadName)?;
        let owner = Jid::from(spec.owner.clone());
        if !self.may_create(&owner) {
            return Err(MucError::NotAllowed("this user may not create rooms").into());
        }
        self.check_new_room(&owner).await?;
        let max = self.ctx.config().muc.max_occupants;
        if spec.config.max_users > max {
            return Err(MucError::NotAcceptable("maxusers is above the service's limit").into());
        }
        let mut room = Room::new(jid.clone(), spec.config, new_secret());
        room.fresh = false;
        room.subject = spec.subject;
        room.set_affiliation(spec.owner, Affiliation::Owner);
        for (user, affiliation) in spec.affiliations {
            room.set_affiliation(user, affiliation);
        }
        if room.config.persistent {
            self.ctx
                .store()
                .muc_save_room(&record::store(&room)?)
                .await?;
            room.stored = true;
        }
        let handle = RoomHandle::start(&self.ctx, room);
        let mut rooms = self.registry();
        if rooms.contains_key(&name) {
            return Err(ApiError::RoomExists);
        }
        rooms.insert(name, handle);
        Ok(jid)
    }

    /// The rooms `user` is affiliated with (member, admin or owner) or present in, sorted by
    /// JID.
    pub async fn rooms_of(&self, user: &BareJid) -> Result<Vec<RoomSummary>, ApiError> {
        self.load().await;
        let handles: Vec<Arc<RoomHandle>> = self.registry().values().cloned().collect();
        let mut out = Vec::new();
        for h in handles {
            let room = h.room.lock().await;
            let affiliation = room.affiliation(user);
            let present = room.occupants.values().any(|o| &o.bare == user);
            if !room.gone && (affiliation >= Affiliation::Member || present) {
                out.push(RoomSummary {
                    jid: room.jid.clone(),
                    name: room.config.name.clone(),
                    subject: room.subject.clone(),
                    affiliation,
                });
            }
        }
        out.sort_by(|a, b| a.jid.cmp(&b.jid));
        Ok(out)
    }

    /// Configuration, subject, affiliations and occupants of `room`.
    pub async fn room(&self, room: &BareJid) -> Result<RoomDetails, ApiError> {
        let (handle, _) = self.existing(room).await?;
        let state = handle.room.lock().await;
        if state.gone {
            return Err(ApiError::NoSuchRoom);
        }
        Ok(RoomDetails {
            jid: state.jid.clone(),
            config: state.config.clone(),
            subject: state.subject.clone(),
            affiliations: state
                .affiliations
                .iter()
                .map(|(j, a)| (j.clone(), *a))
                .collect(),
            occupants: state
                .occupants
                .values()
                .map(|o| OccupantInfo {
                    nick: o.nick.clone(),
                    jid: o.bare.clone(),
                    role: o.role,
                    affiliation: state.affiliation(&o.bare),
                })
                .collect(),
        })
    }

    /// Sets `user`'s affiliation with `room` (`Affiliation::None` removes it, `Outcast` bans).
    /// `actor` must be allowed to (XEP-0045 §9, §10); `None` acts as the service itself, with
    /// an owner's rights. Occupants are told; a banned or no-longer-admitted user leaves.
    pub async fn set_affiliation(
        &self,
        room: &BareJid,
        actor: Option<&BareJid>,
        user: &BareJid,
        affiliation: Affiliation,
    ) -> Result<(), ApiError> {
        let item = muc::AdminItem::SetAffiliation {
            target: muc::Target::Jid(Jid::from(user.clone())),
            affiliation,
            reason: None,
        };
        self.change(room, |state| {
            let actor = acting_as(state, actor);
            state.admin(&actor, vec![item]).map(|(_, fx)| ((), fx))
        })
        .await
    }

    /// Replaces the configuration of `room`, as an owner's submitted form would (`actor`
    /// must be an owner; `None` is the service).
    pub async fn configure(
        &self,
        room: &BareJid,
        actor: Option<&BareJid>,
        config: RoomConfig,
    ) -> Result<(), ApiError> {
        let max = self.ctx.config().muc.max_occupants;
        self.change(room, |state| {
            let actor = acting_as(state, actor);
            if state.affiliation(&actor.to_bare()) != Affiliation::Owner {
                return Err(MucError::Forbidden("only owners may configure the room"));
            }
            if config.max_users > max {
                return Err(MucError::NotAcceptable(
                    "maxusers is above the service's limit",
                ));
            }
            state.config = config;
            let mut fx = Effects::default();
            state.configured(&mut fx);
            Ok(((), fx))
        })
        .await
    }

    /// Sets the subject of `room` as `actor` (or the service), telling the occupants.
    pub async fn set_subject(
        &self,
        room: &BareJid,
        actor: Option<&BareJid>,
        subject: &str,
    ) -> Result<(), ApiError> {
        let limits = self.limits();
        let now = self.ctx.now();
        let message = Element::builder("message", ns::CLIENT)
            .append(
                Element::builder("subject", ns::CLIENT)
                    .append(subject)
                    .build(),
            )
            .build();
        self.change(room, |state| match actor {
            Some(user) => state.post(user, &message, &limits, now).map(|fx| ((), fx)),
            None => {
                state.subject = subject.to_owned();
                state.subject_by.clear();
                let mut fx = Effects {
                    persist: true,
                    ..Effects::default()
                };
                fx.out = state.subject_to_all();
                Ok(((), fx))
            }
        })
        .await
    }

    /// Posts a groupchat message to `room` from `sender`, joined or not: shown from its
    /// nickname in the room (its reserved nickname, else its localpart), archived, and
    /// delivered to every occupant. `message` is the content (`<message><body/>…</message>`;
    /// addresses and type are set here). The sender needs a voice: not banned, a member of a
    /// members-only or moderated room. Returns the stanza-id (the archive id).
    pub async fn send(
        &self,
        room: &BareJid,
        sender: &BareJid,
        message: Element,
    ) -> Result<String, ApiError> {
        let limits = self.limits();
        let now = self.ctx.now();
        self.change(room, |state| {
            let fx = state.post(sender, &message, &limits, now)?;
            let id = fx
                .archive
                .as_ref()
                .map(|a| a.id.clone())
                .unwrap_or_else(|| crate::ids::time_ordered_id(now));
            Ok((id, fx))
        })
        .await
    }

    /// A page of `room`'s archive, at most `max` messages (capped by `mam.max_page_size`),
    /// as `reader` may see it (`None`: the service, which sees everything).
    pub async fn messages(
        &self,
        room: &BareJid,
        reader: Option<&BareJid>,
        from: ArchiveFrom,
        max: usize,
    ) -> Result<ArchivePage, ApiError> {
        let (handle, name) = self.existing(room).await?;
        {
            let state = handle.room.lock().await;
            if let Some(reader) = reader
                && !state.may_read_archive(reader)
            {
                return Err(
                    MucError::Forbidden("only members may read this room's archive").into(),
                );
            }
        }
        let request = PageRequest {
            from: match from {
                ArchiveFrom::Newest => Position::Newest,
                ArchiveFrom::Oldest => Position::Oldest,
                ArchiveFrom::Before(id) => Position::Before(id),
                ArchiveFrom::After(id) => Position::After(id),
            },
            max: max.min(self.ctx.config().mam.max_page_size),
            count_limit: 0,
        };
        let page = match self
            .ctx
            .store()
            .muc_archive_page(&name, &Criteria::default(), &request)
            .await
        {
            Ok(page) => page,
            Err(QueryError::UnknownId(_)) => {
                return Err(MucError::ItemNotFound("no message with this id").into());
            }
            Err(QueryError::Store(e)) => return Err(e.into()),
        };
        let messages = page
            .messages
            .into_iter()
            .filter_map(|m| {
                let stanza: Element = m.stanza.parse().ok()?;
                Some(room_message(m.id, m.at, &m.with_bare, &m.with_full, stanza))
            })
            .collect();
        Ok(ArchivePage {
            messages,
            complete: page.complete,
        })
    }

    /// Invites `invitee` to `room` on behalf of `inviter` (who need not be joined): a
    /// mediated invitation with a XEP-0249 direct one alongside; in a members-only room the
    /// invitee becomes a member when the inviter may invite.
    pub async fn invite(
        &self,
        room: &BareJid,
        inviter: &BareJid,
        invitee: &BareJid,
        reason: Option<&str>,
    ) -> Result<(), ApiError> {
        self.change(room, |state| {
            state.invite_as(inviter, invitee, reason).map(|fx| ((), fx))
        })
        .await
    }

    /// Joins `room` as `nick` on behalf of session `real` (a full JID, such as an SSE
    /// session's, that sends no presence of its own): the occupants see it join, and `real`
    /// receives the presences, `history` messages of history (`None`: `muc.history_default`)
    /// and the subject, as for an XMPP join, with the same refusals (banned, members-only,
    /// password, nickname in use, room full). Nothing tells the room when that session ends:
    /// call [`MucService::leave_as`].
    pub async fn join_as(
        &self,
        room: &BareJid,
        real: &Jid,
        nick: &str,
        password: Option<&str>,
        history: Option<usize>,
    ) -> Result<(), ApiError> {
        let at = room
            .with_resource_str(nick)
            .map(Jid::from)
            .map_err(|_| MucError::BadRequest("not a valid nickname"))?;
        let presence = muc::join_presence(password, history);
        let limits = self.limits();
        self.change(room, |state| {
            state
                .presence(real, &at, &presence, &limits)
                .map(|fx| ((), fx))
        })
        .await
    }

    /// Takes session `real` out of `room` (unavailable presence to the occupants, and to it).
    /// A session that is not in the room changes nothing.
    pub async fn leave_as(&self, room: &BareJid, real: &Jid) -> Result<(), ApiError> {
        self.change(room, |state| {
            let mut fx = Effects::default();
            state.leave(real, &mut fx);
            Ok(((), fx))
        })
        .await
    }

    /// Removes occupant `nick` from `room` (role none, status 307) as `actor` (a moderator;
    /// `None` is the service).
    pub async fn kick(
        &self,
        room: &BareJid,
        actor: Option<&BareJid>,
        nick: &str,
        reason: Option<&str>,
    ) -> Result<(), ApiError> {
        let item = muc::AdminItem::SetRole {
            target: muc::Target::Nick(nick.to_owned()),
            role: Role::None,
            reason: reason.map(str::to_owned),
        };
        self.change(room, |state| {
            let actor = acting_as(state, actor);
            state.admin(&actor, vec![item]).map(|(_, fx)| ((), fx))
        })
        .await
    }

    /// Destroys `room` as `actor` (an owner; `None` is the service): occupants leave with the
    /// alternate venue and reason, its stored state and archive are deleted.
    pub async fn destroy(
        &self,
        room: &BareJid,
        actor: Option<&BareJid>,
        reason: Option<&str>,
        alternate: Option<&BareJid>,
    ) -> Result<(), ApiError> {
        let destroy = Destroy {
            alternate: alternate.cloned().map(Jid::from),
            reason: reason.map(str::to_owned),
            password: None,
        };
        self.change(room, |state| {
            let actor = acting_as(state, actor);
            state
                .owner(&actor, muc::OwnerRequest::Destroy(destroy), 0)
                .map(|(_, fx)| ((), fx))
        })
        .await
    }
}

/// The JID an API call acts as: the actor's, or for the service itself an owner's.
fn acting_as(room: &Room, actor: Option<&BareJid>) -> Jid {
    match actor {
        Some(a) => Jid::from(a.clone()),
        None => room
            .affiliations
            .iter()
            .find(|(_, a)| **a == Affiliation::Owner)
            .map(|(j, _)| Jid::from(j.clone()))
            .unwrap_or_else(|| Jid::from(room.jid.clone())),
    }
}

fn room_message(
    id: String,
    at: DateTime<Utc>,
    sender: &str,
    occupant: &str,
    stanza: Element,
) -> RoomMessage {
    let nick = Jid::new(occupant)
        .ok()
        .and_then(|j| j.resource().map(|r| r.as_str().to_owned()))
        .unwrap_or_default();
    let body = stanza.get_child("body", ns::CLIENT).map(Element::text);
    RoomMessage {
        id,
        at,
        nick,
        sender: BareJid::new(sender).ok(),
        body,
        stanza,
    }
}

#[async_trait]
impl Service for MucService {
    async fn handle(&self, ctx: &Ctx, stanza: Routed) -> Outcome {
        self.load().await;
        let Some(node) = stanza
            .to
            .as_ref()
            .and_then(|to| to.node().map(|n| n.as_str().to_owned()))
        else {
            return self.to_service(ctx, stanza).await;
        };
        self.to_room(ctx, &node, stanza).await
    }
}
