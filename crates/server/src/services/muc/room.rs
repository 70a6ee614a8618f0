//! One room's state and what each stanza does to it: occupants joining, changing nickname and
//! leaving, groupchat and private messages, subject, invitations, roles and affiliations, the
//! owner's configuration and destruction. Pure decisions: the stanzas to send come back as
//! [`Effects`] for the service to deliver, archive and persist.

use std::collections::BTreeMap;
use std::time::Instant;

use base64::Engine;
use chrono::{DateTime, Utc};
use jid::{BareJid, Jid};
use minidom::Element;
use sha2::{Digest, Sha256};
use switchboard_xmpp::muc::{
    self, AdminItem, Affiliation, AllowPm, Destroy, HistoryLimits, Join, ListedItem, Mediated,
    MucError, Role, RoomConfig, Target, UserItem, Whois, status,
};
use switchboard_xmpp::{mam, ns, stanza};

use crate::storage::archive::NewArchived;

/// How many groupchat messages an occupant may send: a token bucket.
#[derive(Clone, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: u32) -> Bucket {
        Bucket {
            tokens: f64::from(burst),
            at: Instant::now(),
        }
    }

    fn take(&mut self, rate: u32, burst: u32) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * f64::from(rate);
        self.tokens = (self.tokens + refill).min(f64::from(burst));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A nickname in the room, with every session (device) of its user joined under it.
#[derive(Clone, Debug)]
pub(super) struct Occupant {
    pub nick: String,
    /// `room@service/nick`.
    pub at: Jid,
    pub bare: BareJid,
    /// The real JIDs joined under this nickname (several devices of one user).
    pub sessions: Vec<Jid>,
    /// The last presence it sent, without addresses or MUC payloads.
    presence: Element,
    pub role: Role,
    /// XEP-0421: stable per user and room, unrelated to the real JID for other rooms.
    id: String,
    bucket: Bucket,
}

/// What the room's limits and rules are read from, for one stanza.
pub(super) struct Limits {
    pub max_occupants: usize,
    pub messages_per_second: u32,
    pub message_burst: u32,
}

/// A successful join: history and subject follow the presences, once the archive is read.
pub(super) struct Joined {
    pub to: Jid,
    pub history: HistoryLimits,
    pub subject: Element,
}

/// What handling a stanza asks of the service, in order.
#[derive(Default)]
pub(super) struct Effects {
    /// Stanzas to route, in order.
    pub out: Vec<Element>,
    /// Stanzas to route after history (the subject of a join comes after its history).
    pub joined: Option<Joined>,
    /// A message to write to the room's archive before `out` goes.
    pub archive: Option<NewArchived>,
    /// The stored state changed.
    pub persist: bool,
    /// The room is destroyed: forget it and its archive.
    pub destroyed: bool,
}

/// A room: configuration, affiliations, reserved nicknames, subject and who is in it.
pub(super) struct Room {
    pub jid: BareJid,
    pub config: RoomConfig,
    pub affiliations: BTreeMap<BareJid, Affiliation>,
    /// Nicknames reserved with `muc#register`, by user.
    pub reserved: BTreeMap<BareJid, String>,
    pub subject: String,
    /// The nickname that set the subject.
    pub subject_by: String,
    /// The key of occupant ids, kept with the room so that they stay stable.
    pub secret: String,
    pub occupants: BTreeMap<String, Occupant>,
    /// Created and nobody joined yet (status 201 for the first occupant).
    pub fresh: bool,
    /// Destroyed or vanished: handlers holding it look the room up again.
    pub gone: bool,
    /// Its state is in the store (it is, or was, persistent).
    pub stored: bool,
}

fn join_jid(room: &BareJid, nick: &str) -> Result<Jid, MucError> {
    room.with_resource_str(nick)
        .map(Jid::from)
        .map_err(|_| MucError::BadRequest("not a valid nickname"))
}

impl Room {
    pub fn new(jid: BareJid, config: RoomConfig, secret: String) -> Room {
        Room {
            jid,
            config,
            affiliations: BTreeMap::new(),
            reserved: BTreeMap::new(),
            subject: String::new(),
            subject_by: String::new(),
            secret,
            occupants: BTreeMap::new(),
            fresh: true,
            gone: false,
            stored: false,
        }
    }

    pub fn affiliation(&self, user: &BareJid) -> Affiliation {
        self.affiliations
            .get(user)
            .copied()
            .unwrap_or(Affiliation::None)
    }

    pub fn set_affiliation(&mut self, user: BareJid, affiliation: Affiliation) {
        if affiliation == Affiliation::None {
            self.affiliations.remove(&user);
        } else {
            self.affiliations.insert(user, affiliation);
        }
    }

    fn owners(&self) -> usize {
        self.affiliations
            .values()
            .filter(|a| **a == Affiliation::Owner)
            .count()
    }

    /// The occupant a real JID is joined as.
    pub fn occupant_of(&self, real: &Jid) -> Option<&Occupant> {
        self.occupants
            .values()
            .find(|o| o.sessions.iter().any(|s| s == real))
    }

    fn nick_of(&self, real: &Jid) -> Option<String> {
        self.occupant_of(real).map(|o| o.nick.clone())
    }

    fn default_role(&self, affiliation: Affiliation) -> Role {
        match affiliation {
            Affiliation::Owner | Affiliation::Admin => Role::Moderator,
            Affiliation::Member => Role::Participant,
            Affiliation::None if self.config.moderated => Role::Visitor,
            Affiliation::None => Role::Participant,
            Affiliation::Outcast => Role::None,
        }
    }

    fn occupant_id(&self, user: &BareJid) -> String {
        let digest = Sha256::new()
            .chain_update(self.secret.as_bytes())
            .chain_update([0])
            .chain_update(user.as_str().as_bytes())
            .finalize();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..18])
    }

    fn sees_jids(&self, viewer: &Occupant) -> bool {
        self.config.whois == Whois::Anyone || viewer.role == Role::Moderator
    }

    /// `occupant`'s presence as `viewer` receives it at `to`.
    fn presence_for(
        &self,
        occupant: &Occupant,
        viewer: &Occupant,
        to: &Jid,
        notice: &Notice<'_>,
    ) -> Element {
        let mut p = occupant.presence.clone();
        stanza::set_attr(&mut p, "from", occupant.at.as_str());
        stanza::set_attr(&mut p, "to", to.as_str());
        if notice.unavailable {
            stanza::set_attr(&mut p, "type", "unavailable");
        }
        let own = viewer.nick == occupant.nick && viewer.bare == occupant.bare;
        let real = occupant.sessions.first().map(Jid::to_string);
        let mut codes = notice.codes.clone();
        if own {
            codes.insert(0, status::SELF);
            codes.extend(&notice.self_codes);
        }
        let item = UserItem {
            affiliation: Some(self.affiliation(&occupant.bare)),
            role: Some(if notice.unavailable {
                Role::None
            } else {
                occupant.role
            }),
            jid: real.as_deref().filter(|_| own || self.sees_jids(viewer)),
            nick: notice.new_nick,
            actor: notice.actor,
            reason: notice.reason,
        };
        p.append_child(muc::user_x(&item, &codes));
        p.append_child(muc::occupant_id(&occupant.id));
        p
    }

    /// `occupant`'s presence to every session in the room, and to its own sessions when it
    /// is no longer in it.
    fn tell_everyone(&self, occupant: &Occupant, notice: &Notice<'_>, out: &mut Vec<Element>) {
        let departed = !self.occupants.contains_key(&occupant.nick);
        let viewers = self.occupants.values().chain(departed.then_some(occupant));
        for viewer in viewers {
            for to in &viewer.sessions {
                out.push(self.presence_for(occupant, viewer, to, notice));
            }
        }
    }

    /// The subject message a joining session receives last (XEP-0045 §7.2.15).
    fn subject_message(&self, to: &Jid) -> Element {
        let from = if self.subject_by.is_empty() {
            Jid::from(self.jid.clone())
        } else {
            join_jid(&self.jid, &self.subject_by).unwrap_or_else(|_| Jid::from(self.jid.clone()))
        };
        let subject = Element::builder("subject", ns::CLIENT)
            .append(self.subject.as_str())
            .build();
        let mut m = Element::builder("message", ns::CLIENT)
            .append(subject)
            .build();
        stanza::set_attr(&mut m, "type", "groupchat");
        stanza::set_attr(&mut m, "from", from.as_str());
        stanza::set_attr(&mut m, "to", to.as_str());
        m
    }

    /// Presence from `from` to `to` (`room@service/nick`): a join, a presence update, a
    /// nickname change or, unavailable, a leave.
    pub fn presence(
        &mut self,
        from: &Jid,
        to: &Jid,
        el: &Element,
        limits: &Limits,
    ) -> Result<Effects, MucError> {
        let mut fx = Effects::default();
        match el.attr("type") {
            None => {}
            Some("unavailable") | Some("error") => {
                self.leave(from, &mut fx);
                return Ok(fx);
            }
            // Subscriptions and probes mean nothing to a room.
            Some(_) => return Ok(fx),
        }
        let nick = to
            .resource()
            .map(|r| r.as_str().to_owned())
            .ok_or(MucError::BadRequest(
                "join with a nickname: room@service/nick",
            ))?;
        let template = presence_template(el);
        if let Some(current) = self.nick_of(from) {
            if current == nick {
                let occupant = self.occupants.get_mut(&nick).expect("occupant found above");
                occupant.presence = template;
                let occupant = occupant.clone();
                self.tell_everyone(&occupant, &Notice::default(), &mut fx.out);
                return Ok(fx);
            }
            self.change_nick(from, &current, &nick, to, template, &mut fx)?;
            return Ok(fx);
        }
        let join = Join::parse(el)?.unwrap_or_default();
        self.join(from, &nick, to, template, join, limits)
    }

    /// A nickname held by someone else, by presence or by registration.
    fn nick_taken(&self, nick: &str, user: &BareJid) -> bool {
        self.occupants.get(nick).is_some_and(|o| &o.bare != user)
            || self
                .reserved
                .iter()
                .any(|(owner, n)| n == nick && owner != user)
    }

    fn join(
        &mut self,
        from: &Jid,
        nick: &str,
        at: &Jid,
        template: Element,
        join: Join,
        limits: &Limits,
    ) -> Result<Effects, MucError> {
        let mut fx = Effects::default();
        let user = from.to_bare();
        let affiliation = self.affiliation(&user);
        if affiliation == Affiliation::Outcast {
            return Err(MucError::Forbidden("you are banned from this room"));
        }
        if self.config.members_only && affiliation < Affiliation::Member {
            return Err(MucError::RegistrationRequired(
                "this room is for members only",
            ));
        }
        if self.config.password_protected()
            && join.password.as_deref() != Some(self.config.password.as_str())
        {
            return Err(MucError::NotAuthorized("a password is required"));
        }
        if self.nick_taken(nick, &user) {
            return Err(MucError::Conflict("this nickname is in use"));
        }
        if let Some(occupant) = self.occupants.get_mut(nick) {
            // Another device of the same user joins under the same nickname.
            occupant.sessions.push(from.clone());
            let occupant = occupant.clone();
            // The others first, its own presence last (XEP-0045 §7.2.3).
            for other in self.occupants.values().filter(|o| o.nick != occupant.nick) {
                fx.out
                    .push(self.presence_for(other, &occupant, from, &Notice::default()));
            }
            let notice = Notice {
                self_codes: self.join_codes(false),
                ..Notice::default()
            };
            fx.out
                .push(self.presence_for(&occupant, &occupant, from, &notice));
            fx.joined = Some(Joined {
                to: from.clone(),
                history: join.history,
                subject: self.subject_message(from),
            });
            return Ok(fx);
        }
        let cap = match self.config.max_users {
            0 => limits.max_occupants,
            n => n.min(limits.max_occupants),
        };
        if self.occupants.len() >= cap && affiliation < Affiliation::Admin {
            return Err(MucError::ServiceUnavailable("the room is full"));
        }
        let occupant = Occupant {
            nick: nick.to_owned(),
            at: at.clone(),
            bare: user.clone(),
            sessions: vec![from.clone()],
            presence: template,
            role: self.default_role(affiliation),
            id: self.occupant_id(&user),
            bucket: Bucket::full(limits.message_burst),
        };
        // The others' presence first, the joiner's own last (XEP-0045 §7.2.3).
        for other in self.occupants.values() {
            fx.out
                .push(self.presence_for(other, &occupant, from, &Notice::default()));
        }
        let created = std::mem::take(&mut self.fresh);
        self.occupants.insert(nick.to_owned(), occupant.clone());
        let notice = Notice {
            self_codes: self.join_codes(created),
            ..Notice::default()
        };
        self.tell_everyone(&occupant, &notice, &mut fx.out);
        fx.joined = Some(Joined {
            to: from.clone(),
            history: join.history,
            subject: self.subject_message(from),
        });
        Ok(fx)
    }

    fn join_codes(&self, created: bool) -> Vec<u16> {
        let mut codes = Vec::new();
        if self.config.whois == Whois::Anyone {
            codes.push(status::NON_ANONYMOUS);
        }
        if self.config.logging {
            codes.push(status::LOGGED);
        }
        if created {
            codes.push(status::CREATED);
        }
        codes
    }

    fn change_nick(
        &mut self,
        from: &Jid,
        current: &str,
        nick: &str,
        at: &Jid,
        template: Element,
        fx: &mut Effects,
    ) -> Result<(), MucError> {
        let user = from.to_bare();
        if self.nick_taken(nick, &user) || self.occupants.contains_key(nick) {
            return Err(MucError::Conflict("this nickname is in use"));
        }
        let Some(old) = self.occupants.remove(current) else {
            return Ok(());
        };
        let notice = Notice {
            unavailable: true,
            codes: vec![status::NICK_CHANGED],
            new_nick: Some(nick),
            ..Notice::default()
        };
        // Sent while the old nickname is out of the room, so its own sessions get it too.
        self.tell_everyone(&old, &notice, &mut fx.out);
        let renamed = Occupant {
            nick: nick.to_owned(),
            at: at.clone(),
            presence: template,
            ..old
        };
        self.occupants.insert(nick.to_owned(), renamed.clone());
        self.tell_everyone(&renamed, &Notice::default(), &mut fx.out);
        Ok(())
    }

    /// A session leaves (unavailable presence, or an error bounced from it).
    pub fn leave(&mut self, from: &Jid, fx: &mut Effects) {
        let Some(nick) = self.nick_of(from) else {
            return;
        };
        let occupant = self.occupants.get_mut(&nick).expect("occupant found above");
        occupant.sessions.retain(|s| s != from);
        if !occupant.sessions.is_empty() {
            // The user stays under this nickname with its other devices: only this one hears.
            let mut alone = occupant.clone();
            alone.sessions = vec![from.clone()];
            let notice = Notice {
                unavailable: true,
                ..Notice::default()
            };
            fx.out
                .push(self.presence_for(&alone, &alone, from, &notice));
            return;
        }
        let mut gone = self.occupants.remove(&nick).expect("occupant found above");
        gone.sessions = vec![from.clone()];
        let notice = Notice {
            unavailable: true,
            ..Notice::default()
        };
        self.tell_everyone(&gone, &notice, &mut fx.out);
    }

    /// Removes an occupant for `reason_code` (kicked, banned, no longer a member…).
    fn remove(
        &mut self,
        nick: &str,
        code: u16,
        actor: Option<&str>,
        reason: Option<&str>,
        fx: &mut Effects,
    ) {
        let Some(gone) = self.occupants.remove(nick) else {
            return;
        };
        let notice = Notice {
            unavailable: true,
            codes: vec![code],
            actor,
            reason,
            ..Notice::default()
        };
        self.tell_everyone(&gone, &notice, &mut fx.out);
    }

    /// The sender of a groupchat message: its occupant nickname, or a service account's
    /// localpart when it posts without joining.
    fn speaker(&self, from: &Jid, service_account: bool) -> Result<Speaker, MucError> {
        if let Some(o) = self.occupant_of(from) {
            return Ok(Speaker {
                nick: o.nick.clone(),
                user: o.bare.clone(),
                role: o.role,
            });
        }
        if service_account {
            let user = from.to_bare();
            let nick = user
                .node()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default();
            return Ok(Speaker {
                nick,
                user,
                role: Role::Moderator,
            });
        }
        Err(MucError::NotAcceptable(
            "only occupants may send to the room",
        ))
    }

    /// A message to the room itself: groupchat, subject, invitations or declines.
    pub fn message(
        &mut self,
        from: &Jid,
        el: &Element,
        service_account: bool,
        limits: &Limits,
        now: DateTime<Utc>,
    ) -> Result<Effects, MucError> {
        let mut fx = Effects::default();
        match el.attr("type") {
            Some("groupchat") => {
                let speaker = self.speaker(from, service_account)?;
                self.groupchat(speaker, from, el, limits, now, &mut fx)?;
            }
            Some("error") => self.leave(from, &mut fx),
            _ => {
                let mediated = Mediated::parse(el)?;
                if mediated.is_empty() {
                    return Err(MucError::BadRequest("send groupchat messages to the room"));
                }
                for m in mediated {
                    self.mediate(from, m, &mut fx)?;
                }
            }
        }
        Ok(fx)
    }

    fn groupchat(
        &mut self,
        speaker: Speaker,
        from: &Jid,
        el: &Element,
        limits: &Limits,
        now: DateTime<Utc>,
        fx: &mut Effects,
    ) -> Result<(), MucError> {
        if speaker.role < Role::Participant {
            return Err(MucError::Forbidden("you have no voice in this room"));
        }
        if let Some(o) = self.occupants.get_mut(&speaker.nick)
            && o.sessions.contains(from)
            && !o
                .bucket
                .take(limits.messages_per_second, limits.message_burst)
        {
            return Err(MucError::ResourceConstraint("too many messages; slow down"));
        }
        let subject = el.get_child("subject", ns::CLIENT);
        let body = el.get_child("body", ns::CLIENT);
        if let (Some(subject), None) = (subject, body) {
            if speaker.role < Role::Moderator && !self.config.change_subject {
                return Err(MucError::Forbidden(
                    "only moderators may change the subject",
                ));
            }
            self.subject = subject.text();
            self.subject_by = speaker.nick.clone();
            fx.persist = true;
        }
        let at = join_jid(&self.jid, &speaker.nick)?;
        let mut message = el.clone();
        stanza::remove_attr(&mut message, "to");
        stanza::set_attr(&mut message, "from", at.as_str());
        mam::strip_stanza_ids(&mut message, &self.jid);
        strip_children(&mut message, "occupant-id", ns::OCCUPANT_ID);
        message.append_child(muc::occupant_id(&self.occupant_id(&speaker.user)));
        if self.config.logging && body.is_some() {
            let id = crate::ids::time_ordered_id(now);
            message.append_child(mam::stanza_id(&self.jid, &id));
            fx.archive = Some(NewArchived {
                owner: self.room_name(),
                id,
                at: now,
                with_bare: speaker.user.to_string(),
                with_full: at.to_string(),
                stanza: stanza::to_xml_portable(&message),
            });
        }
        for occupant in self.occupants.values() {
            for to in &occupant.sessions {
                let mut copy = message.clone();
                stanza::set_attr(&mut copy, "to", to.as_str());
                fx.out.push(copy);
            }
        }
        Ok(())
    }

    /// The localpart of the room JID, its name in storage.
    pub fn room_name(&self) -> String {
        self.jid
            .node()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default()
    }

    fn mediate(&mut self, from: &Jid, m: Mediated, fx: &mut Effects) -> Result<(), MucError> {
        match m {
            Mediated::Invite { to, reason } => {
                let inviter = self
                    .occupant_of(from)
                    .ok_or(MucError::NotAcceptable("only occupants may invite"))?
                    .bare
                    .clone();
                let more = self.invite_as(&inviter, &to.to_bare(), reason.as_deref())?;
                fx.out.extend(more.out);
                fx.persist |= more.persist;
            }
            Mediated::Decline { to, reason } => {
                fx.out.push(muc::decline(
                    self.jid.as_str(),
                    to.as_str(),
                    &from.to_bare().to_string(),
                    reason.as_deref(),
                ));
            }
        }
        Ok(())
    }

    /// An invitation from `inviter` to `invitee` (XEP-0045 §7.8.2 with XEP-0249 alongside);
    /// in a members-only room the invitee becomes a member.
    pub fn invite_as(
        &mut self,
        inviter: &BareJid,
        invitee: &BareJid,
        reason: Option<&str>,
    ) -> Result<Effects, MucError> {
        let affiliation = self.affiliation(inviter);
        if affiliation == Affiliation::Outcast {
            return Err(MucError::Forbidden("you are banned from this room"));
        }
        if self.config.members_only
            && !self.config.allow_invites
            && affiliation < Affiliation::Admin
        {
            return Err(MucError::Forbidden("only admins may invite to this room"));
        }
        let mut fx = Effects::default();
        if self.config.members_only && self.affiliation(invitee) < Affiliation::Member {
            self.set_affiliation(invitee.clone(), Affiliation::Member);
            fx.persist = true;
        }
        let password = self
            .config
            .password_protected()
            .then_some(self.config.password.as_str());
        fx.out.push(muc::invitation(
            self.jid.as_str(),
            invitee.as_str(),
            inviter.as_str(),
            reason,
            password,
        ));
        Ok(fx)
    }

    /// A groupchat message from `user` without a session (the in-process API): as its
    /// occupant when joined, else under its reserved nickname or its localpart, with the voice
    /// its affiliation gives.
    pub fn post(
        &mut self,
        user: &BareJid,
        el: &Element,
        limits: &Limits,
        now: DateTime<Utc>,
    ) -> Result<Effects, MucError> {
        let affiliation = self.affiliation(user);
        let speaker = match self.occupants.values().find(|o| &o.bare == user) {
            Some(o) => Speaker {
                nick: o.nick.clone(),
                user: user.clone(),
                role: o.role,
            },
            None => {
                if affiliation == Affiliation::Outcast {
                    return Err(MucError::Forbidden("you are banned from this room"));
                }
                if (self.config.members_only || self.config.moderated)
                    && affiliation < Affiliation::Member
                {
                    return Err(MucError::Forbidden("only members may post to this room"));
                }
                let nick = self.reserved.get(user).cloned().unwrap_or_else(|| {
                    user.node()
                        .map(|n| n.as_str().to_owned())
                        .unwrap_or_default()
                });
                if self.nick_taken(&nick, user) {
                    return Err(MucError::Conflict("the sender's nickname is in use"));
                }
                Speaker {
                    nick,
                    user: user.clone(),
                    role: self.default_role(affiliation),
                }
            }
        };
        let mut message = el.clone();
        stanza::set_attr(&mut message, "type", "groupchat");
        let mut fx = Effects::default();
        self.groupchat(
            speaker,
            &Jid::from(user.clone()),
            &message,
            limits,
            now,
            &mut fx,
        )?;
        Ok(fx)
    }

    /// The subject message to every session in the room.
    pub fn subject_to_all(&self) -> Vec<Element> {
        self.occupants
            .values()
            .flat_map(|o| o.sessions.iter())
            .map(|to| self.subject_message(to))
            .collect()
    }

    /// A private message to occupant `nick` (XEP-0045 §7.5).
    pub fn private_message(
        &mut self,
        from: &Jid,
        nick: &str,
        el: &Element,
    ) -> Result<Effects, MucError> {
        if el.attr("type") == Some("groupchat") {
            return Err(MucError::BadRequest("groupchat messages go to the room"));
        }
        if el.attr("type") == Some("error") {
            // A copy to an occupant bounced: its session is gone (a ghost), it leaves.
            let mut fx = Effects::default();
            self.leave(from, &mut fx);
            return Ok(fx);
        }
        let sender = self.occupant_of(from).ok_or(MucError::NotAcceptable(
            "only occupants may send private messages",
        ))?;
        let allowed = match self.config.allow_pm {
            AllowPm::Anyone => true,
            AllowPm::Participants => sender.role >= Role::Participant,
            AllowPm::Moderators => sender.role == Role::Moderator,
            AllowPm::None => false,
        };
        if !allowed {
            return Err(MucError::Forbidden("private messages are not allowed here"));
        }
        let target = self
            .occupants
            .get(nick)
            .ok_or(MucError::ItemNotFound("no such occupant"))?;
        let mut message = el.clone();
        stanza::set_attr(&mut message, "from", sender.at.as_str());
        strip_children(&mut message, "occupant-id", ns::OCCUPANT_ID);
        message.append_child(Element::bare("x", ns::MUC_USER));
        message.append_child(muc::occupant_id(&sender.id));
        let mut fx = Effects::default();
        for to in &target.sessions {
            let mut copy = message.clone();
            stanza::set_attr(&mut copy, "to", to.as_str());
            fx.out.push(copy);
        }
        Ok(fx)
    }

    /// The owner's configuration: the form, a submitted form, or destruction.
    pub fn owner(
        &mut self,
        from: &Jid,
        request: muc::OwnerRequest,
        max_occupants: usize,
    ) -> Result<(Option<Element>, Effects), MucError> {
        if self.affiliation(&from.to_bare()) != Affiliation::Owner {
            return Err(MucError::Forbidden("only owners may configure the room"));
        }
        let mut fx = Effects::default();
        match request {
            muc::OwnerRequest::Form => return Ok((Some(self.config.form(max_occupants)), fx)),
            muc::OwnerRequest::Keep => {}
            muc::OwnerRequest::Submit(fields) => {
                self.config.apply(&fields, max_occupants)?;
                self.configured(&mut fx);
            }
            muc::OwnerRequest::Destroy(destroy) => self.destroy(&destroy, &mut fx),
        }
        Ok((None, fx))
    }

    /// After a configuration change: occupants are told, and those the room no longer
    /// admits leave.
    pub fn configured(&mut self, fx: &mut Effects) {
        fx.persist = true;
        if self.config.members_only {
            let outsiders: Vec<String> = self
                .occupants
                .values()
                .filter(|o| self.affiliation(&o.bare) < Affiliation::Member)
                .map(|o| o.nick.clone())
                .collect();
            for nick in outsiders {
                self.remove(&nick, status::MEMBERS_ONLY_REMOVED, None, None, fx);
            }
        }
        for occupant in self.occupants.values() {
            for to in &occupant.sessions {
                let mut m = Element::builder("message", ns::CLIENT)
                    .append(muc::status_x(&[status::CONFIG_CHANGED]))
                    .build();
                stanza::set_attr(&mut m, "type", "groupchat");
                stanza::set_attr(&mut m, "from", self.jid.as_str());
                stanza::set_attr(&mut m, "to", to.as_str());
                fx.out.push(m);
            }
        }
    }

    /// Everyone leaves with the destruction notice; the room is gone.
    pub fn destroy(&mut self, destroy: &Destroy, fx: &mut Effects) {
        let x = destroy.to_user_x();
        for occupant in std::mem::take(&mut self.occupants).into_values() {
            for to in &occupant.sessions {
                let mut p = Element::builder("presence", ns::CLIENT)
                    .append(x.clone())
                    .build();
                stanza::set_attr(&mut p, "type", "unavailable");
                stanza::set_attr(&mut p, "from", occupant.at.as_str());
                stanza::set_attr(&mut p, "to", to.as_str());
                fx.out.push(p);
            }
        }
        fx.destroyed = true;
    }

    /// A `muc#admin` request by `from` (XEP-0045 §8, §9, §10).
    pub fn admin(
        &mut self,
        from: &Jid,
        items: Vec<AdminItem>,
    ) -> Result<(Option<Element>, Effects), MucError> {
        let actor_user = from.to_bare();
        let actor = Actor {
            affiliation: self.affiliation(&actor_user),
            role: self.occupant_of(from).map_or(Role::None, |o| o.role),
            nick: self.nick_of(from),
        };
        let mut fx = Effects::default();
        if let [AdminItem::ListRole(_) | AdminItem::ListAffiliation(_)] = items.as_slice() {
            return Ok((Some(self.list(&actor, &items[0])?), fx));
        }
        // All or nothing: every item is checked on a copy before anything is told.
        let mut trial = self.snapshot();
        for item in &items {
            trial.apply_admin(&actor, item, &mut Effects::default())?;
        }
        for item in &items {
            self.apply_admin(&actor, item, &mut fx)?;
        }
        Ok((None, fx))
    }

    fn snapshot(&self) -> Room {
        Room {
            jid: self.jid.clone(),
            config: self.config.clone(),
            affiliations: self.affiliations.clone(),
            reserved: self.reserved.clone(),
            subject: self.subject.clone(),
            subject_by: self.subject_by.clone(),
            secret: self.secret.clone(),
            occupants: self.occupants.clone(),
            fresh: self.fresh,
            gone: self.gone,
            stored: self.stored,
        }
    }

    fn list(&self, actor: &Actor, item: &AdminItem) -> Result<Element, MucError> {
        match item {
            AdminItem::ListRole(role) => {
                if actor.role < Role::Moderator {
                    return Err(MucError::Forbidden("only moderators may list roles"));
                }
                let listed: Vec<(String, String, Affiliation, Role)> = self
                    .occupants
                    .values()
                    .filter(|o| o.role == *role)
                    .map(|o| {
                        (
                            o.bare.to_string(),
                            o.nick.clone(),
                            self.affiliation(&o.bare),
                            o.role,
                        )
                    })
                    .collect();
                let items: Vec<ListedItem<'_>> = listed
                    .iter()
                    .map(|(jid, nick, a, r)| ListedItem {
                        jid: Some(jid),
                        nick: Some(nick),
                        affiliation: *a,
                        role: Some(*r),
                    })
                    .collect();
                Ok(muc::admin_list(&items))
            }
            AdminItem::ListAffiliation(affiliation) => {
                if actor.affiliation < Affiliation::Admin {
                    return Err(MucError::Forbidden("only admins may list affiliations"));
                }
                let listed: Vec<String> = self
                    .affiliations
                    .iter()
                    .filter(|(_, a)| *a == affiliation)
                    .map(|(j, _)| j.to_string())
                    .collect();
                let items: Vec<ListedItem<'_>> = listed
                    .iter()
                    .map(|jid| ListedItem {
                        jid: Some(jid),
                        nick: None,
                        affiliation: *affiliation,
                        role: None,
                    })
                    .collect();
                Ok(muc::admin_list(&items))
            }
            _ => Err(MucError::BadRequest("not a list request")),
        }
    }

    fn apply_admin(
        &mut self,
        actor: &Actor,
        item: &AdminItem,
        fx: &mut Effects,
    ) -> Result<(), MucError> {
        match item {
            AdminItem::SetRole {
                target,
                role,
                reason,
            } => {
                let nick = match target {
                    Target::Nick(n) => n.clone(),
                    Target::Jid(j) => self
                        .occupants
                        .values()
                        .find(|o| o.bare == j.to_bare())
                        .map(|o| o.nick.clone())
                        .ok_or(MucError::ItemNotFound("not in the room"))?,
                };
                self.set_role(actor, &nick, *role, reason.as_deref(), fx)
            }
            AdminItem::SetAffiliation {
                target,
                affiliation,
                reason,
            } => {
                let user = match target {
                    Target::Jid(j) => j.to_bare(),
                    Target::Nick(n) => self
                        .occupants
                        .get(n)
                        .map(|o| o.bare.clone())
                        .ok_or(MucError::ItemNotFound("no such occupant"))?,
                };
                self.change_affiliation(actor, user, *affiliation, reason.as_deref(), fx)
            }
            AdminItem::ListRole(_) | AdminItem::ListAffiliation(_) => {
                Err(MucError::BadRequest("list requests come alone, in a get"))
            }
        }
    }

    /// Kick (role none), voice (participant/visitor) and moderator changes (XEP-0045 §8).
    fn set_role(
        &mut self,
        actor: &Actor,
        nick: &str,
        role: Role,
        reason: Option<&str>,
        fx: &mut Effects,
    ) -> Result<(), MucError> {
        let Some(target) = self.occupants.get(nick) else {
            return Err(MucError::ItemNotFound("no such occupant"));
        };
        let target_affiliation = self.affiliation(&target.bare);
        let moderator = actor.role == Role::Moderator || actor.affiliation >= Affiliation::Admin;
        if !moderator {
            return Err(MucError::Forbidden("only moderators may change roles"));
        }
        let needs_admin = role == Role::Moderator || target.role == Role::Moderator;
        if needs_admin && actor.affiliation < Affiliation::Admin {
            return Err(MucError::NotAllowed(
                "only admins may grant or revoke moderation",
            ));
        }
        if target_affiliation > actor.affiliation
            || (target_affiliation >= Affiliation::Admin && role < Role::Moderator)
        {
            return Err(MucError::NotAllowed(
                "cannot change the role of a higher affiliation",
            ));
        }
        if role == Role::None {
            self.remove(nick, status::KICKED, actor.nick.as_deref(), reason, fx);
            return Ok(());
        }
        let occupant = self.occupants.get_mut(nick).expect("checked above");
        occupant.role = role;
        let occupant = occupant.clone();
        let notice = Notice {
            actor: actor.nick.as_deref(),
            reason,
            ..Notice::default()
        };
        self.tell_everyone(&occupant, &notice, &mut fx.out);
        Ok(())
    }

    /// Membership, administration, ownership and bans (XEP-0045 §9, §10).
    fn change_affiliation(
        &mut self,
        actor: &Actor,
        user: BareJid,
        affiliation: Affiliation,
        reason: Option<&str>,
        fx: &mut Effects,
    ) -> Result<(), MucError> {
        let current = self.affiliation(&user);
        let by_owner = actor.affiliation == Affiliation::Owner;
        let allowed = by_owner
            || (actor.affiliation == Affiliation::Admin
                && current < Affiliation::Admin
                && affiliation < Affiliation::Admin);
        if !allowed {
            return Err(MucError::Forbidden(
                "not allowed to change this affiliation",
            ));
        }
        if current == Affiliation::Owner && affiliation != Affiliation::Owner && self.owners() <= 1
        {
            return Err(MucError::Conflict("a room keeps at least one owner"));
        }
        self.set_affiliation(user.clone(), affiliation);
        fx.persist = true;
        let present: Vec<String> = self
            .occupants
            .values()
            .filter(|o| o.bare == user)
            .map(|o| o.nick.clone())
            .collect();
        for nick in present {
            if affiliation == Affiliation::Outcast {
                self.remove(&nick, status::BANNED, actor.nick.as_deref(), reason, fx);
            } else if self.config.members_only && affiliation < Affiliation::Member {
                self.remove(
                    &nick,
                    status::AFFILIATION_REMOVED,
                    actor.nick.as_deref(),
                    reason,
                    fx,
                );
            } else {
                let role = self.default_role(affiliation);
                let occupant = self.occupants.get_mut(&nick).expect("listed above");
                occupant.role = role;
                let occupant = occupant.clone();
                let notice = Notice {
                    reason,
                    ..Notice::default()
                };
                self.tell_everyone(&occupant, &notice, &mut fx.out);
            }
        }
        Ok(())
    }

    /// A nickname registration (`muc#register`, XEP-0045 §7.10).
    pub fn register(
        &mut self,
        from: &Jid,
        request: muc::Registration,
    ) -> Result<Effects, MucError> {
        let user = from.to_bare();
        let affiliation = self.affiliation(&user);
        if affiliation == Affiliation::Outcast {
            return Err(MucError::Forbidden("you are banned from this room"));
        }
        let mut fx = Effects {
            persist: true,
            ..Effects::default()
        };
        match request {
            muc::Registration::Nick(nick) => {
                let nick = join_jid(&self.jid, nick.trim())?
                    .resource()
                    .map(|r| r.as_str().to_owned())
                    .unwrap_or_default();
                if self.nick_taken(&nick, &user) {
                    return Err(MucError::Conflict("this nickname is reserved or in use"));
                }
                self.reserved.insert(user.clone(), nick);
                if affiliation < Affiliation::Member {
                    self.set_affiliation(user, Affiliation::Member);
                }
            }
            muc::Registration::Remove => {
                self.reserved.remove(&user);
                if affiliation == Affiliation::Member {
                    let actor = Actor {
                        affiliation: Affiliation::Owner,
                        role: Role::Moderator,
                        nick: None,
                    };
                    self.change_affiliation(&actor, user, Affiliation::None, None, &mut fx)?;
                }
            }
        }
        Ok(fx)
    }

    /// Who answers XEP-0410 self-pings: `Ok` when `from` is joined as `nick`.
    pub fn self_ping(&self, from: &Jid, nick: &str) -> Result<(), MucError> {
        match self.occupant_of(from) {
            Some(o) if o.nick == nick => Ok(()),
            Some(_) => Err(MucError::FeatureNotImplemented(
                "pings to other occupants are not relayed",
            )),
            None => Err(MucError::NotAcceptable("not joined")),
        }
    }

    /// The room's disco#info (XEP-0045 §6.4).
    pub fn disco_info(&self) -> Element {
        let name = if self.config.name.is_empty() {
            self.room_name()
        } else {
            self.config.name.clone()
        };
        let mut features = vec![
            ns::MUC,
            ns::MAM,
            ns::STANZA_ID,
            ns::OCCUPANT_ID,
            ns::REGISTER,
            ns::MUC_SELF_PING,
            ns::DISCO_INFO,
        ];
        features.extend(self.config.features());
        let form = muc::room_info_form(&self.config, self.occupants.len(), &self.subject);
        muc::disco_info(&name, &features, Some(form))
    }

    /// Whether `user` may read the room's archive (room MAM, the API's history).
    pub fn may_read_archive(&self, user: &BareJid) -> bool {
        let affiliation = self.affiliation(user);
        if affiliation == Affiliation::Outcast {
            return false;
        }
        !self.config.members_only || affiliation >= Affiliation::Member
    }
}

/// Who acts in an admin request.
struct Actor {
    affiliation: Affiliation,
    role: Role,
    nick: Option<String>,
}

/// Who a groupchat message is from.
struct Speaker {
    nick: String,
    user: BareJid,
    role: Role,
}

/// What a presence broadcast says besides the occupant's own presence.
#[derive(Default)]
struct Notice<'a> {
    unavailable: bool,
    /// Status codes for everyone.
    codes: Vec<u16>,
    /// Status codes for the occupant's own sessions only (after 110).
    self_codes: Vec<u16>,
    new_nick: Option<&'a str>,
    actor: Option<&'a str>,
    reason: Option<&'a str>,
}

/// The parts of an occupant's presence the room repeats: show, status, priority and
/// extensions other than MUC's own, under no addresses.
fn presence_template(el: &Element) -> Element {
    let mut p = Element::bare("presence", ns::CLIENT);
    for child in el.children() {
        let muc_own = child.ns() == ns::MUC
            || child.ns() == ns::MUC_USER
            || child.is("occupant-id", ns::OCCUPANT_ID);
        if !muc_own {
            p.append_child(child.clone());
        }
    }
    p
}

fn strip_children(el: &mut Element, name: &str, namespace: &str) {
    if !el.children().any(|c| c.is(name, namespace)) {
        return;
    }
    for node in el.take_nodes() {
        match node {
            minidom::Node::Element(c) if c.is(name, namespace) => {}
            node => {
                el.append_node(node);
            }
        }
    }
}
