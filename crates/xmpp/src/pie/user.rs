//! One account of a XEP-0227 file: what a `<user>` element holds, read the way Prosody and
//! ejabberd write it, and written back in the same shape (never with a plaintext password).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use jid::BareJid;
use minidom::Element;

use super::node::{self, PieNode};
use super::skipped::{Skipped, SkippedKind};
use crate::ns;
use crate::sasl::{ScramHash, ScramKeys, StoredCredentials};
use crate::subscription::Subscription;

/// How the account proves who it is.
#[derive(Clone, PartialEq, Eq)]
pub enum PieCredentials {
    /// A `password` attribute (ejabberd with `auth_password_format: plain`).
    Plain(String),
    /// `<scram-credentials>` of one or both hashes this server knows.
    Scram(StoredCredentials),
}

impl std::fmt::Debug for PieCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PieCredentials::Plain(_) => f.write_str("Plain(…)"),
            PieCredentials::Scram(creds) => f.debug_tuple("Scram").field(creds).finish(),
        }
    }
}

/// A roster item (RFC 6121 §2.1.2) as XEP-0227 carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PieRosterItem {
    pub jid: BareJid,
    pub name: Option<String>,
    pub subscription: Subscription,
    /// `ask='subscribe'`: the user's request awaits the contact's answer.
    pub ask: bool,
    pub groups: Vec<String>,
}

/// One account, as read from or written to a `<user>` element.
#[derive(Clone, Debug, PartialEq)]
pub struct PieUser {
    /// The localpart, as the file spells it.
    pub name: String,
    pub credentials: PieCredentials,
    pub roster: Vec<PieRosterItem>,
    /// Subscription requests the account received and has not answered: the requesters.
    pub pending_in: Vec<BareJid>,
    /// Stored messages, in `jabber:client`.
    pub offline: Vec<Element>,
    /// The XEP-0054 `<vCard xmlns='vcard-temp'>`.
    pub vcard: Option<Element>,
    /// XEP-0049 private XML: one element per namespace.
    pub private: Vec<Element>,
    /// XEP-0163 PEP nodes with their configuration and items.
    pub pep: Vec<PieNode>,
    pub skipped: Vec<Skipped>,
}

/// Why a `<user>` cannot be imported at all.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserError {
    #[error("<user> has no name attribute")]
    NoName,
    #[error("account '{0}' has neither a password nor SCRAM-SHA-1 or SCRAM-SHA-256 credentials")]
    NoCredentials(String),
    #[error("account '{user}': {mechanism} credentials: {reason}")]
    BadCredentials {
        user: String,
        mechanism: String,
        reason: String,
    },
}

impl PieUser {
    /// Reads a `<user>` of `urn:xmpp:pie:0`. Data this server keeps no store for, and items
    /// it cannot take (a roster item whose JID is invalid, a PEP item without an id), land in
    /// `skipped` with a reason.
    pub fn from_element(user: &Element) -> Result<PieUser, UserError> {
        let name = user.attr("name").ok_or(UserError::NoName)?.to_owned();
        let mut pie = PieUser {
            name: name.clone(),
            credentials: PieCredentials::Plain(String::new()),
            roster: Vec::new(),
            pending_in: Vec::new(),
            offline: Vec::new(),
            vcard: None,
            private: Vec::new(),
            pep: Vec::new(),
            skipped: Vec::new(),
        };
        let mut sha1 = None;
        let mut sha256 = None;
        let (mut pep_owner, mut pep_items) = (Vec::new(), Vec::new());
        for child in user.children() {
            match (child.ns().as_str(), child.name()) {
                (ns::PIE_SCRAM, "scram-credentials") => {
                    let mechanism = child.attr("mechanism").unwrap_or_default();
                    let hash = match mechanism {
                        "SCRAM-SHA-1" => ScramHash::Sha1,
                        "SCRAM-SHA-256" => ScramHash::Sha256,
                        other => {
                            pie.skip(
                                SkippedKind::Credentials,
                                format!("{other} (only SCRAM-SHA-1 and SCRAM-SHA-256 are kept)"),
                            );
                            continue;
                        }
                    };
                    let keys =
                        scram_keys(child, hash).map_err(|reason| UserError::BadCredentials {
                            user: name.clone(),
                            mechanism: mechanism.to_owned(),
                            reason,
                        })?;
                    match hash {
                        ScramHash::Sha1 => sha1 = Some(keys),
                        ScramHash::Sha256 => sha256 = Some(keys),
                    }
                }
                (ns::ROSTER, "query") => pie.read_roster(child),
                (ns::PIE | ns::CLIENT, "presence") => pie.read_pending(child),
                (ns::PIE, "offline-messages") => pie.read_offline(child),
                (ns::VCARD, "vCard") => {
                    if pie.vcard.is_some() {
                        pie.skip(SkippedKind::VCard, "a second vCard".into());
                    } else {
                        pie.vcard = Some(child.clone());
                    }
                }
                (ns::PRIVATE, "query") => pie.read_private(child),
                (ns::PUBSUB, "pubsub") => pep_items.push(child),
                (ns::PUBSUB_OWNER, "pubsub") => pep_owner.push(child),
                (ns::PIE_MAM, "archive") => {
                    let count = child.children().count();
                    pie.skip(SkippedKind::Archive, format!("{count} archived messages"));
                }
                (namespace, element) => {
                    pie.skip(SkippedKind::Other, format!("{{{namespace}}}{element}"));
                }
            }
        }
        pie.pep = node::read(&pep_owner, &pep_items, &mut pie.skipped);
        pie.credentials = match user.attr("password") {
            Some(password) if !password.is_empty() => PieCredentials::Plain(password.to_owned()),
            _ if sha1.is_some() || sha256.is_some() => {
                let creds = StoredCredentials::from_keys(sha1, sha256).map_err(|e| {
                    UserError::BadCredentials {
                        user: name.clone(),
                        mechanism: "SCRAM".into(),
                        reason: e.to_string(),
                    }
                })?;
                PieCredentials::Scram(creds)
            }
            _ => return Err(UserError::NoCredentials(name)),
        };
        Ok(pie)
    }

    fn skip(&mut self, kind: SkippedKind, reason: String) {
        self.skipped.push(Skipped { kind, reason });
    }

    /// One document per namespace: a later one of the same namespace is left out.
    fn read_private(&mut self, query: &Element) {
        for stored in query.children() {
            if self.private.iter().any(|p| p.ns() == stored.ns()) {
                let reason = format!("a second document of {}", stored.ns());
                self.skip(SkippedKind::PrivateXml, reason);
            } else {
                self.private.push(stored.clone());
            }
        }
    }

    fn read_roster(&mut self, query: &Element) {
        for item in query.children() {
            if !item.is("item", ns::ROSTER) {
                self.skip(
                    SkippedKind::RosterItem,
                    format!("<{}> in the roster", item.name()),
                );
                continue;
            }
            let raw_jid = item.attr("jid").unwrap_or_default();
            let Ok(jid) = BareJid::new(raw_jid) else {
                self.skip(
                    SkippedKind::RosterItem,
                    format!("'{raw_jid}' is not a bare JID"),
                );
                continue;
            };
            let subscription = match item.attr("subscription").unwrap_or("none") {
                "none" => Subscription::None,
                "to" => Subscription::To,
                "from" => Subscription::From,
                "both" => Subscription::Both,
                other => {
                    self.skip(
                        SkippedKind::RosterItem,
                        format!("{jid}: subscription '{other}'"),
                    );
                    continue;
                }
            };
            let mut groups: Vec<String> = Vec::new();
            for group in item.children().filter(|g| g.is("group", ns::ROSTER)) {
                let group = group.text();
                if !group.is_empty() && !groups.contains(&group) {
                    groups.push(group);
                }
            }
            self.roster.push(PieRosterItem {
                jid,
                name: item
                    .attr("name")
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned),
                subscription,
                ask: item.attr("ask") == Some("subscribe"),
                groups,
            });
        }
    }

    /// Prosody writes pending requests in the file's namespace, ejabberd in `jabber:client`.
    fn read_pending(&mut self, presence: &Element) {
        let from = presence.attr("from").unwrap_or_default();
        match (presence.attr("type"), BareJid::new(from)) {
            (Some("subscribe"), Ok(jid)) => {
                if !self.pending_in.contains(&jid) {
                    self.pending_in.push(jid);
                }
            }
            (Some("subscribe"), Err(_)) => self.skip(
                SkippedKind::Other,
                format!("subscription request from '{from}', not a bare JID"),
            ),
            (kind, _) => self.skip(
                SkippedKind::Other,
                format!("presence of type '{}'", kind.unwrap_or("available")),
            ),
        }
    }

    fn read_offline(&mut self, offline: &Element) {
        for stanza in offline.children() {
            if stanza.is("message", ns::CLIENT) {
                self.offline.push(stanza.clone());
            } else {
                self.skip(
                    SkippedKind::OfflineItem,
                    format!("{{{}}}{}", stanza.ns(), stanza.name()),
                );
            }
        }
    }

    /// The `<user>` element this server writes: SCRAM credentials of each hash it has, the
    /// roster, pending requests, offline messages, vCard, private XML and PEP nodes, in the
    /// order and shapes Prosody writes them.
    pub fn to_element(&self) -> Element {
        let mut user = Element::builder("user", ns::PIE)
            .attr(name("name"), self.name.as_str())
            .build();
        match &self.credentials {
            // Written only by a caller that has one; this server never does.
            PieCredentials::Plain(password) => {
                crate::stanza::set_attr(&mut user, "password", password);
            }
            PieCredentials::Scram(creds) => {
                for hash in [ScramHash::Sha1, ScramHash::Sha256] {
                    if let Some(keys) = creds.for_hash(hash) {
                        user.append_child(scram_element(hash, keys));
                    }
                }
            }
        }
        if !self.roster.is_empty() {
            let mut query = Element::builder("query", ns::ROSTER).build();
            for item in &self.roster {
                let mut el = Element::builder("item", ns::ROSTER)
                    .attr(name("jid"), item.jid.to_string())
                    .attr(name("subscription"), item.subscription.as_str())
                    .build();
                if let Some(n) = &item.name {
                    crate::stanza::set_attr(&mut el, "name", n);
                }
                if item.ask {
                    crate::stanza::set_attr(&mut el, "ask", "subscribe");
                }
                for group in &item.groups {
                    el.append_child(
                        Element::builder("group", ns::ROSTER)
                            .append(group.as_str())
                            .build(),
                    );
                }
                query.append_child(el);
            }
            user.append_child(query);
        }
        for from in &self.pending_in {
            user.append_child(
                Element::builder("presence", ns::CLIENT)
                    .attr(name("from"), from.to_string())
                    .attr(name("type"), "subscribe")
                    .build(),
            );
        }
        if !self.offline.is_empty() {
            let mut offline = Element::builder("offline-messages", ns::PIE).build();
            for message in &self.offline {
                offline.append_child(crate::stanza::without_prefixes(message));
            }
            user.append_child(offline);
        }
        if let Some(vcard) = &self.vcard {
            user.append_child(crate::stanza::without_prefixes(vcard));
        }
        if !self.private.is_empty() {
            let mut query = Element::builder("query", ns::PRIVATE).build();
            for stored in &self.private {
                query.append_child(crate::stanza::without_prefixes(stored));
            }
            user.append_child(query);
        }
        if !self.pep.is_empty() {
            user.append_child(node::owner_element(&self.pep));
            user.append_child(node::items_element(&self.pep));
        }
        user
    }
}

fn name(local: &'static str) -> rxml::NcName {
    crate::stanza::name(local)
}

fn scram_element(hash: ScramHash, keys: &ScramKeys) -> Element {
    let mechanism = match hash {
        ScramHash::Sha1 => "SCRAM-SHA-1",
        ScramHash::Sha256 => "SCRAM-SHA-256",
    };
    let text =
        |local: &str, value: String| Element::builder(local, ns::PIE_SCRAM).append(value).build();
    Element::builder("scram-credentials", ns::PIE_SCRAM)
        .attr(name("mechanism"), mechanism)
        .append(text("iter-count", keys.iterations.to_string()))
        .append(text("salt", B64.encode(&keys.salt)))
        .append(text("server-key", B64.encode(&keys.server_key)))
        .append(text("stored-key", B64.encode(&keys.stored_key)))
        .build()
}

/// Reads `<scram-credentials>`. ejabberd 23.01 base64-encodes its salt and keys twice (it keeps
/// them base64-encoded and encodes them again on export): keys of the wrong length that decode
/// once more to the right one are taken as such, and the salt is then decoded twice as well.
fn scram_keys(el: &Element, hash: ScramHash) -> Result<ScramKeys, String> {
    let field = |local: &str| {
        el.get_child(local, ns::PIE_SCRAM)
            .map(|c| c.text().trim().to_owned())
            .ok_or_else(|| format!("<{local}> is missing"))
    };
    let decode = |local: &str, value: &str| {
        B64.decode(value)
            .map_err(|e| format!("<{local}> is not base64: {e}"))
    };
    let iterations: u32 = field("iter-count")?
        .parse()
        .map_err(|_| "<iter-count> is not a positive number".to_owned())?;
    if iterations == 0 {
        return Err("<iter-count> is 0".into());
    }
    let mut salt = decode("salt", &field("salt")?)?;
    let mut stored_key = decode("stored-key", &field("stored-key")?)?;
    let mut server_key = decode("server-key", &field("server-key")?)?;
    let len = hash.output_len();
    if stored_key.len() != len || server_key.len() != len {
        let twice = |once: &[u8]| B64.decode(once).ok().filter(|k| k.len() == len);
        match (twice(&stored_key), twice(&server_key)) {
            (Some(stored), Some(server)) => {
                stored_key = stored;
                server_key = server;
                salt = B64
                    .decode(&salt)
                    .map_err(|_| "keys are base64-encoded twice but the salt is not".to_owned())?;
            }
            _ => return Err(format!("keys are not {len} bytes long")),
        }
    }
    if salt.is_empty() {
        return Err("<salt> is empty".into());
    }
    Ok(ScramKeys {
        salt,
        iterations,
        stored_key,
        server_key,
    })
}

#[cfg(test)]
mod tests;
