//! Multi-user chat (XEP-0045) on the wire: join requests and their history limits, `muc#user`
//! presence items and status codes, admin items, invitations, and the room configuration form.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use jid::Jid;
use minidom::Element;
use serde::{Deserialize, Serialize};

use crate::ns;
use crate::stanza::{DefinedCondition, ErrorType};

/// Status codes of `muc#user` presence and messages (XEP-0045 §15.6).
pub mod status {
    /// Any occupant may see real JIDs.
    pub const NON_ANONYMOUS: u16 = 100;
    /// An affiliation changed while the user was not in the room.
    pub const AFFILIATION_CHANGED: u16 = 101;
    /// The presence is the occupant's own.
    pub const SELF: u16 = 110;
    /// The room is logged (archived).
    pub const LOGGED: u16 = 170;
    /// A new room was created.
    pub const CREATED: u16 = 201;
    /// The service changed the requested nickname.
    pub const NICK_ASSIGNED: u16 = 210;
    /// Someone was banned.
    pub const BANNED: u16 = 301;
    /// The occupant changes nickname.
    pub const NICK_CHANGED: u16 = 303;
    /// Someone was kicked.
    pub const KICKED: u16 = 307;
    /// Removed because of an affiliation change.
    pub const AFFILIATION_REMOVED: u16 = 321;
    /// Removed because the room became members-only.
    pub const MEMBERS_ONLY_REMOVED: u16 = 322;
    /// Removed because the service is shutting down.
    pub const SHUTDOWN: u16 = 332;
    /// A configuration change that is not privacy-related.
    pub const CONFIG_CHANGED: u16 = 104;
}

/// Affiliations (XEP-0045 §5.2), in increasing rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Affiliation {
    Outcast,
    None,
    Member,
    Admin,
    Owner,
}

impl Affiliation {
    pub fn as_str(self) -> &'static str {
        match self {
            Affiliation::Outcast => "outcast",
            Affiliation::None => "none",
            Affiliation::Member => "member",
            Affiliation::Admin => "admin",
            Affiliation::Owner => "owner",
        }
    }
}

impl FromStr for Affiliation {
    type Err = MucError;

    fn from_str(s: &str) -> Result<Affiliation, MucError> {
        Ok(match s {
            "outcast" => Affiliation::Outcast,
            "none" => Affiliation::None,
            "member" => Affiliation::Member,
            "admin" => Affiliation::Admin,
            "owner" => Affiliation::Owner,
            _ => return Err(MucError::BadRequest("unknown affiliation")),
        })
    }
}

/// Roles (XEP-0045 §5.1), in increasing rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    None,
    Visitor,
    Participant,
    Moderator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::None => "none",
            Role::Visitor => "visitor",
            Role::Participant => "participant",
            Role::Moderator => "moderator",
        }
    }
}

impl FromStr for Role {
    type Err = MucError;

    fn from_str(s: &str) -> Result<Role, MucError> {
        Ok(match s {
            "none" => Role::None,
            "visitor" => Role::Visitor,
            "participant" => Role::Participant,
            "moderator" => Role::Moderator,
            _ => return Err(MucError::BadRequest("unknown role")),
        })
    }
}

/// A request the room refuses, with the stanza error it answers with.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum MucError {
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("not acceptable: {0}")]
    NotAcceptable(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    #[error("not authorized: {0}")]
    NotAuthorized(&'static str),
    #[error("registration required: {0}")]
    RegistrationRequired(&'static str),
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("item not found: {0}")]
    ItemNotFound(&'static str),
    #[error("service unavailable: {0}")]
    ServiceUnavailable(&'static str),
    #[error("resource constraint: {0}")]
    ResourceConstraint(&'static str),
    #[error("feature not implemented: {0}")]
    FeatureNotImplemented(&'static str),
    #[error("internal server error: {0}")]
    Internal(&'static str),
}

impl MucError {
    /// The stanza error type and condition (XEP-0045 §7.2, §8, §9, §10 tables).
    pub fn condition(&self) -> (ErrorType, DefinedCondition) {
        match self {
            MucError::BadRequest(_) => (ErrorType::Modify, DefinedCondition::BadRequest),
            MucError::NotAcceptable(_) => (ErrorType::Modify, DefinedCondition::NotAcceptable),
            MucError::Forbidden(_) => (ErrorType::Auth, DefinedCondition::Forbidden),
            MucError::NotAllowed(_) => (ErrorType::Cancel, DefinedCondition::NotAllowed),
            MucError::NotAuthorized(_) => (ErrorType::Auth, DefinedCondition::NotAuthorized),
            MucError::RegistrationRequired(_) => {
                (ErrorType::Auth, DefinedCondition::RegistrationRequired)
            }
            MucError::Conflict(_) => (ErrorType::Cancel, DefinedCondition::Conflict),
            MucError::ItemNotFound(_) => (ErrorType::Cancel, DefinedCondition::ItemNotFound),
            MucError::ServiceUnavailable(_) => {
                (ErrorType::Wait, DefinedCondition::ServiceUnavailable)
            }
            MucError::ResourceConstraint(_) => {
                (ErrorType::Wait, DefinedCondition::ResourceConstraint)
            }
            MucError::FeatureNotImplemented(_) => {
                (ErrorType::Cancel, DefinedCondition::FeatureNotImplemented)
            }
            MucError::Internal(_) => (ErrorType::Wait, DefinedCondition::InternalServerError),
        }
    }

    /// The human-readable text sent with the error.
    pub fn text(&self) -> &'static str {
        match self {
            MucError::BadRequest(t)
            | MucError::NotAcceptable(t)
            | MucError::Forbidden(t)
            | MucError::NotAllowed(t)
            | MucError::NotAuthorized(t)
            | MucError::RegistrationRequired(t)
            | MucError::Conflict(t)
            | MucError::ItemNotFound(t)
            | MucError::ServiceUnavailable(t)
            | MucError::ResourceConstraint(t)
            | MucError::FeatureNotImplemented(t)
            | MucError::Internal(t) => t,
        }
    }
}

/// How much history a joining occupant asks for (XEP-0045 §7.2.13); every limit applies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryLimits {
    pub maxstanzas: Option<usize>,
    pub maxchars: Option<usize>,
    pub seconds: Option<u64>,
    pub since: Option<DateTime<Utc>>,
}

/// A join request: the `<x xmlns='http://jabber.org/protocol/muc'/>` of a presence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Join {
    pub password: Option<String>,
    pub history: HistoryLimits,
}

impl Join {
    /// The join request in `presence`, `None` when it carries none (a presence update, or a
    /// client that does not speak XEP-0045 and joins by plain presence, §7.2.1 note).
    pub fn parse(presence: &Element) -> Result<Option<Join>, MucError> {
        let Some(x) = presence.get_child("x", ns::MUC) else {
            return Ok(None);
        };
        let password = x.get_child("password", ns::MUC).map(Element::text);
        let mut history = HistoryLimits::default();
        if let Some(h) = x.get_child("history", ns::MUC) {
            let number = |attr: &str| -> Result<Option<u64>, MucError> {
                h.attr(attr)
                    .map(|v| {
                        v.trim()
                            .parse::<u64>()
                            .map_err(|_| MucError::BadRequest("history limits are integers"))
                    })
                    .transpose()
            };
            history.maxstanzas = number("maxstanzas")?.map(saturating_usize);
            history.maxchars = number("maxchars")?.map(saturating_usize);
            history.seconds = number("seconds")?;
            history.since = h
                .attr("since")
                .map(|v| {
                    DateTime::parse_from_rfc3339(v)
                        .map(|d| d.with_timezone(&Utc))
                        .map_err(|_| MucError::BadRequest("history since is a XEP-0082 DateTime"))
                })
                .transpose()?;
        }
        Ok(Some(Join { password, history }))
    }
}

fn saturating_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The `<item/>` of a `muc#user` payload: what the recipient may know of an occupant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserItem<'a> {
    pub affiliation: Option<Affiliation>,
    pub role: Option<Role>,
    /// The real JID, shown to those allowed to see it.
    pub jid: Option<&'a str>,
    /// The new nickname, in the unavailable presence of a nickname change.
    pub nick: Option<&'a str>,
    /// Who kicked or banned (their nickname).
    pub actor: Option<&'a str>,
    pub reason: Option<&'a str>,
}

/// `<x xmlns='…muc#user'>` with the item and status codes.
pub fn user_x(item: &UserItem<'_>, statuses: &[u16]) -> Element {
    let mut el = Element::builder("item", ns::MUC_USER);
    if let Some(a) = item.affiliation {
        el = el.attr(name("affiliation"), a.as_str());
    }
    if let Some(r) = item.role {
        el = el.attr(name("role"), r.as_str());
    }
    if let Some(jid) = item.jid {
        el = el.attr(name("jid"), jid);
    }
    if let Some(nick) = item.nick {
        el = el.attr(name("nick"), nick);
    }
    if let Some(actor) = item.actor {
        el = el.append(
            Element::builder("actor", ns::MUC_USER)
                .attr(name("nick"), actor)
                .build(),
        );
    }
    if let Some(reason) = item.reason {
        el = el.append(text_el("reason", ns::MUC_USER, reason));
    }
    let mut x = Element::builder("x", ns::MUC_USER).append(el.build());
    for code in statuses {
        x = x.append(status_el(*code));
    }
    x.build()
}

/// `<x xmlns='…muc#user'>` holding only status codes (room messages such as a config change).
pub fn status_x(statuses: &[u16]) -> Element {
    let mut x = Element::builder("x", ns::MUC_USER);
    for code in statuses {
        x = x.append(status_el(*code));
    }
    x.build()
}

fn status_el(code: u16) -> Element {
    Element::builder("status", ns::MUC_USER)
        .attr(name("code"), code.to_string())
        .build()
}

fn text_el(el: &str, namespace: &str, text: &str) -> Element {
    Element::builder(el, namespace).append(text).build()
}

/// The `<destroy/>` of an owner's request (XEP-0045 §10.9) or of the occupants' notice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Destroy {
    pub alternate: Option<Jid>,
    pub reason: Option<String>,
    pub password: Option<String>,
}

impl Destroy {
    fn parse(el: &Element) -> Result<Destroy, MucError> {
        let alternate = el
            .attr("jid")
            .map(|j| Jid::new(j).map_err(|_| MucError::BadRequest("alternate venue is not a JID")))
            .transpose()?;
        let child = |n: &str| {
            el.children()
                .find(|c| c.name() == n)
                .map(Element::text)
                .filter(|t| !t.is_empty())
        };
        Ok(Destroy {
            alternate,
            reason: child("reason"),
            password: child("password"),
        })
    }

    /// As told to occupants in their unavailable presence.
    pub fn to_user_x(&self) -> Element {
        let mut destroy = Element::builder("destroy", ns::MUC_USER);
        if let Some(alt) = &self.alternate {
            destroy = destroy.attr(name("jid"), alt.as_str());
        }
        if let Some(reason) = &self.reason {
            destroy = destroy.append(text_el("reason", ns::MUC_USER, reason));
        }
        if let Some(password) = &self.password {
            destroy = destroy.append(text_el("password", ns::MUC_USER, password));
        }
        let item = user_x(
            &UserItem {
                affiliation: Some(Affiliation::None),
                role: Some(Role::None),
                ..UserItem::default()
            },
            &[],
        );
        let mut x = item;
        x.append_child(destroy.build());
        x
    }
}

/// What an owner asks with `<query xmlns='…muc#owner'>` (XEP-0045 §10).
#[derive(Clone, Debug, PartialEq)]
pub enum OwnerRequest {
    /// The configuration form (`get`).
    Form,
    /// A submitted form: the fields by var.
    Submit(Fields),
    /// An instant room's empty form, or a cancelled configuration: nothing changes.
    Keep,
    Destroy(Destroy),
}

impl OwnerRequest {
    pub fn parse(query: &Element, is_get: bool) -> Result<OwnerRequest, MucError> {
        if is_get {
            return Ok(OwnerRequest::Form);
        }
        if let Some(destroy) = query.get_child("destroy", ns::MUC_OWNER) {
            return Destroy::parse(destroy).map(OwnerRequest::Destroy);
        }
        let Some(form) = query.get_child("x", ns::DATA_FORMS) else {
            return Err(MucError::BadRequest("expected a data form or <destroy/>"));
        };
        match form.attr("type") {
            Some("cancel") => Ok(OwnerRequest::Keep),
            Some("submit") => {
                let fields = Fields::parse(form)?;
                if fields.0.is_empty() {
                    Ok(OwnerRequest::Keep)
                } else {
                    Ok(OwnerRequest::Submit(fields))
                }
            }
            _ => Err(MucError::BadRequest(
                "the form is neither submitted nor cancelled",
            )),
        }
    }
}

/// The fields of a submitted form other than its FORM_TYPE, by var.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields(pub BTreeMap<String, Vec<String>>);

impl Fields {
    fn parse(form: &Element) -> Result<Fields, MucError> {
        let mut fields = BTreeMap::new();
        for f in form.children().filter(|c| c.is("field", ns::DATA_FORMS)) {
            let Some(var) = f.attr("var") else {
                return Err(MucError::BadRequest("a form field without var"));
            };
            if var == "FORM_TYPE" {
                continue;
            }
            let values = f
                .children()
                .filter(|c| c.is("value", ns::DATA_FORMS))
                .map(Element::text)
                .collect();
            fields.insert(var.to_owned(), values);
        }
        Ok(Fields(fields))
    }

    /// The first value of `var`, if the form carries it.
    pub fn first(&self, var: &str) -> Option<&str> {
        self.0.get(var).and_then(|v| v.first()).map(String::as_str)
    }

    fn flag(&self, var: &str) -> Result<Option<bool>, MucError> {
        match self.first(var) {
            None => Ok(None),
            Some("1" | "true") => Ok(Some(true)),
            Some("0" | "false") => Ok(Some(false)),
            Some(_) => Err(MucError::NotAcceptable(
                "a boolean field is 0, 1, true or false",
            )),
        }
    }
}

/// Who may see occupants' real JIDs (`muc#roomconfig_whois`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Whois {
    /// Semi-anonymous: moderators only.
    #[default]
    Moderators,
    /// Non-anonymous: every occupant.
    Anyone,
}

/// Who may send private messages to occupants (`muc#roomconfig_allowpm`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllowPm {
    #[default]
    Anyone,
    Participants,
    Moderators,
    None,
}

impl AllowPm {
    fn as_str(self) -> &'static str {
        match self {
            AllowPm::Anyone => "anyone",
            AllowPm::Participants => "participants",
            AllowPm::Moderators => "moderators",
            AllowPm::None => "none",
        }
    }
}

/// A room's configuration (`muc#roomconfig`, XEP-0045 §10.2 and §15.5.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomConfig {
    pub name: String,
    pub description: String,
    pub persistent: bool,
    /// Listed in the service's disco#items.
    pub public: bool,
    pub members_only: bool,
    pub moderated: bool,
    /// Empty: no password.
    pub password: String,
    pub whois: Whois,
    pub change_subject: bool,
    pub allow_invites: bool,
    pub allow_pm: AllowPm,
    /// 0: the service's limit.
    pub max_users: usize,
    /// Messages go to the room's archive (history on join and room MAM).
    pub logging: bool,
}

impl Default for RoomConfig {
    fn default() -> RoomConfig {
        RoomConfig {
            name: String::new(),
            description: String::new(),
            persistent: false,
            public: true,
            members_only: false,
            moderated: false,
            password: String::new(),
            whois: Whois::Moderators,
            change_subject: false,
            allow_invites: false,
            allow_pm: AllowPm::Anyone,
            max_users: 0,
            logging: true,
        }
    }
}

impl RoomConfig {
    pub fn password_protected(&self) -> bool {
        !self.password.is_empty()
    }

    /// The configuration form with the current values (XEP-0045 §10.2 example 163).
    pub fn form(&self, max_users_cap: usize) -> Element {
        let max = if self.max_users == 0 {
            max_users_cap
        } else {
            self.max_users
        };
        let flag = |b: bool| if b { "1" } else { "0" };
        let whois = match self.whois {
            Whois::Moderators => "moderators",
            Whois::Anyone => "anyone",
        };
        let fields = vec![
            hidden("FORM_TYPE", ns::MUC_ROOMCONFIG),
            field("muc#roomconfig_roomname", "text-single", &[&self.name]),
            field(
                "muc#roomconfig_roomdesc",
                "text-single",
                &[&self.description],
            ),
            field(
                "muc#roomconfig_persistentroom",
                "boolean",
                &[flag(self.persistent)],
            ),
            field("muc#roomconfig_publicroom", "boolean", &[flag(self.public)]),
            field(
                "muc#roomconfig_membersonly",
                "boolean",
                &[flag(self.members_only)],
            ),
            field(
                "muc#roomconfig_moderatedroom",
                "boolean",
                &[flag(self.moderated)],
            ),
            field(
                "muc#roomconfig_passwordprotectedroom",
                "boolean",
                &[flag(self.password_protected())],
            ),
            field(
                "muc#roomconfig_roomsecret",
                "text-private",
                &[&self.password],
            ),
            with_options(
                field("muc#roomconfig_whois", "list-single", &[whois]),
                &["moderators", "anyone"],
            ),
            field(
                "muc#roomconfig_changesubject",
                "boolean",
                &[flag(self.change_subject)],
            ),
            field(
                "muc#roomconfig_allowinvites",
                "boolean",
                &[flag(self.allow_invites)],
            ),
            with_options(
                field(
                    "muc#roomconfig_allowpm",
                    "list-single",
                    &[self.allow_pm.as_str()],
                ),
                &["anyone", "participants", "moderators", "none"],
            ),
            field(
                "muc#roomconfig_maxusers",
                "text-single",
                &[&max.to_string()],
            ),
            field(
                "muc#roomconfig_enablelogging",
                "boolean",
                &[flag(self.logging)],
            ),
        ];
        let mut form = Element::builder("x", ns::DATA_FORMS).attr(name("type"), "form");
        form = form.append(text_el("title", ns::DATA_FORMS, "Room configuration"));
        for f in fields {
            form = form.append(f);
        }
        Element::builder("query", ns::MUC_OWNER)
            .append(form.build())
            .build()
    }

    /// Applies a submitted form; unknown fields are ignored (other services' extensions),
    /// known ones with bad values refuse the whole form.
    pub fn apply(&mut self, fields: &Fields, max_users_cap: usize) -> Result<(), MucError> {
        let mut next = self.clone();
        if let Some(v) = fields.first("muc#roomconfig_roomname") {
            next.name = v.to_owned();
        }
        if let Some(v) = fields.first("muc#roomconfig_roomdesc") {
            next.description = v.to_owned();
        }
        let flags: [(&str, &mut bool); 7] = [
            ("muc#roomconfig_persistentroom", &mut next.persistent),
            ("muc#roomconfig_publicroom", &mut next.public),
            ("muc#roomconfig_membersonly", &mut next.members_only),
            ("muc#roomconfig_moderatedroom", &mut next.moderated),
            ("muc#roomconfig_changesubject", &mut next.change_subject),
            ("muc#roomconfig_allowinvites", &mut next.allow_invites),
            ("muc#roomconfig_enablelogging", &mut next.logging),
        ];
        for (var, slot) in flags {
            if let Some(v) = fields.flag(var)? {
                *slot = v;
            }
        }
        let protected = fields.flag("muc#roomconfig_passwordprotectedroom")?;
        if let Some(secret) = fields.first("muc#roomconfig_roomsecret") {
            next.password = secret.to_owned();
        }
        if protected == Some(false) {
            next.password.clear();
        } else if protected == Some(true) && next.password.is_empty() {
            return Err(MucError::NotAcceptable(
                "a password-protected room needs a secret",
            ));
        }
        if let Some(v) = fields.first("muc#roomconfig_whois") {
            next.whois = match v {
                "moderators" => Whois::Moderators,
                "anyone" => Whois::Anyone,
                _ => return Err(MucError::NotAcceptable("whois is moderators or anyone")),
            };
        }
        if let Some(v) = fields.first("muc#roomconfig_allowpm") {
            next.allow_pm = match v {
                "anyone" => AllowPm::Anyone,
                "participants" => AllowPm::Participants,
                "moderators" => AllowPm::Moderators,
                "none" => AllowPm::None,
                _ => return Err(MucError::NotAcceptable("unknown allowpm value")),
            };
        }
        if let Some(v) = fields.first("muc#roomconfig_maxusers") {
            let max: usize = match v {
                "" | "none" => 0,
                v => v
                    .parse()
                    .map_err(|_| MucError::NotAcceptable("maxusers is a number"))?,
            };
            if max > max_users_cap {
                return Err(MucError::NotAcceptable(
                    "maxusers is above the service's limit",
                ));
            }
            next.max_users = max;
        }
        *self = next;
        Ok(())
    }

    /// XEP-0045 §15.5.3 disco#info features describing the room.
    pub fn features(&self) -> Vec<&'static str> {
        let pick = |b: bool, yes: &'static str, no: &'static str| if b { yes } else { no };
        vec![
            pick(self.persistent, "muc_persistent", "muc_temporary"),
            pick(self.public, "muc_public", "muc_hidden"),
            pick(self.members_only, "muc_membersonly", "muc_open"),
            pick(self.moderated, "muc_moderated", "muc_unmoderated"),
            pick(
                self.password_protected(),
                "muc_passwordprotected",
                "muc_unsecured",
            ),
            pick(
                self.whois == Whois::Anyone,
                "muc_nonanonymous",
                "muc_semianonymous",
            ),
        ]
    }
}

/// The `muc#roominfo` extension of a room's disco#info (XEP-0045 §15.5.4).
pub fn room_info_form(config: &RoomConfig, occupants: usize, subject: &str) -> Element {
    let mut form = Element::builder("x", ns::DATA_FORMS).attr(name("type"), "result");
    for f in [
        hidden("FORM_TYPE", ns::MUC_ROOMINFO),
        field(
            "muc#roominfo_description",
            "text-single",
            &[&config.description],
        ),
        field(
            "muc#roominfo_occupants",
            "text-single",
            &[&occupants.to_string()],
        ),
        field("muc#roominfo_subject", "text-single", &[subject]),
        field("muc#roomconfig_roomname", "text-single", &[&config.name]),
    ] {
        form = form.append(f);
    }
    form.build()
}

fn field(var: &str, type_: &str, values: &[&str]) -> Element {
    let mut f = Element::builder("field", ns::DATA_FORMS)
        .attr(name("var"), var)
        .attr(name("type"), type_);
    for v in values {
        f = f.append(text_el("value", ns::DATA_FORMS, v));
    }
    f.build()
}

fn hidden(var: &str, value: &str) -> Element {
    field(var, "hidden", &[value])
}

fn with_options(mut f: Element, options: &[&str]) -> Element {
    for o in options {
        f.append_child(
            Element::builder("option", ns::DATA_FORMS)
                .append(text_el("value", ns::DATA_FORMS, o))
                .build(),
        );
    }
    f
}

/// Who an admin item is about: a present occupant by nickname, or a user by bare JID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Nick(String),
    Jid(Jid),
}

/// One `<item/>` of a `muc#admin` query (XEP-0045 §8, §9): a role or affiliation to set, or
/// a list to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminItem {
    SetRole {
        target: Target,
        role: Role,
        reason: Option<String>,
    },
    SetAffiliation {
        target: Target,
        affiliation: Affiliation,
        reason: Option<String>,
    },
    ListRole(Role),
    ListAffiliation(Affiliation),
}

/// Reads the items of a `muc#admin` query: one list request for a `get`, changes for a `set`.
pub fn admin_items(query: &Element, is_get: bool) -> Result<Vec<AdminItem>, MucError> {
    let mut items = Vec::new();
    for item in query.children().filter(|c| c.is("item", ns::MUC_ADMIN)) {
        let role = item.attr("role").map(Role::from_str).transpose()?;
        let affiliation = item
            .attr("affiliation")
            .map(Affiliation::from_str)
            .transpose()?;
        if is_get {
            items.push(match (role, affiliation) {
                (Some(r), None) => AdminItem::ListRole(r),
                (None, Some(a)) => AdminItem::ListAffiliation(a),
                _ => return Err(MucError::BadRequest("ask for one role or one affiliation")),
            });
            continue;
        }
        let target = match (item.attr("nick"), item.attr("jid")) {
            (Some(nick), _) if role.is_some() => Target::Nick(nick.to_owned()),
            (_, Some(jid)) => Target::Jid(
                Jid::new(jid).map_err(|_| MucError::BadRequest("item jid is not a JID"))?,
            ),
            (Some(nick), None) => Target::Nick(nick.to_owned()),
            (None, None) => return Err(MucError::BadRequest("an item names a nick or a jid")),
        };
        let reason = item
            .get_child("reason", ns::MUC_ADMIN)
            .map(Element::text)
            .filter(|t| !t.is_empty());
        items.push(match (role, affiliation) {
            (Some(role), None) => AdminItem::SetRole {
                target,
                role,
                reason,
            },
            (None, Some(affiliation)) => AdminItem::SetAffiliation {
                target,
                affiliation,
                reason,
            },
            _ => {
                return Err(MucError::BadRequest(
                    "an item sets a role or an affiliation",
                ));
            }
        });
    }
    if items.is_empty() {
        return Err(MucError::BadRequest("no item"));
    }
    Ok(items)
}

/// A listed user in a `muc#admin` result.
pub struct ListedItem<'a> {
    pub jid: Option<&'a str>,
    pub nick: Option<&'a str>,
    pub affiliation: Affiliation,
    pub role: Option<Role>,
}

/// The result of a list request.
pub fn admin_list(items: &[ListedItem<'_>]) -> Element {
    let mut query = Element::builder("query", ns::MUC_ADMIN);
    for i in items {
        let mut item = Element::builder("item", ns::MUC_ADMIN)
            .attr(name("affiliation"), i.affiliation.as_str());
        if let Some(jid) = i.jid {
            item = item.attr(name("jid"), jid);
        }
        if let Some(nick) = i.nick {
            item = item.attr(name("nick"), nick);
        }
        if let Some(role) = i.role {
            item = item.attr(name("role"), role.as_str());
        }
        query = query.append(item.build());
    }
    query.build()
}

/// A mediated invitation or its decline, inside a message to the room (XEP-0045 §7.8.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mediated {
    Invite { to: Jid, reason: Option<String> },
    Decline { to: Jid, reason: Option<String> },
}

impl Mediated {
    /// Every invitation and decline in `message`.
    pub fn parse(message: &Element) -> Result<Vec<Mediated>, MucError> {
        let Some(x) = message.get_child("x", ns::MUC_USER) else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for c in x.children() {
            let invite = c.is("invite", ns::MUC_USER);
            if !invite && !c.is("decline", ns::MUC_USER) {
                continue;
            }
            let to = c
                .attr("to")
                .ok_or(MucError::BadRequest("an invitation names its invitee"))
                .and_then(|j| {
                    Jid::new(j).map_err(|_| MucError::BadRequest("invitee is not a JID"))
                })?;
            let reason = c
                .get_child("reason", ns::MUC_USER)
                .map(Element::text)
                .filter(|t| !t.is_empty());
            found.push(if invite {
                Mediated::Invite { to, reason }
            } else {
                Mediated::Decline { to, reason }
            });
        }
        Ok(found)
    }
}

/// The message the room sends to an invitee (XEP-0045 §7.8.2 example 58), with the
/// XEP-0249 direct invitation alongside for clients that only read that one.
pub fn invitation(
    room: &str,
    to: &str,
    from: &str,
    reason: Option<&str>,
    password: Option<&str>,
) -> Element {
    let mut invite = Element::builder("invite", ns::MUC_USER).attr(name("from"), from);
    if let Some(r) = reason {
        invite = invite.append(text_el("reason", ns::MUC_USER, r));
    }
    let mut x = Element::builder("x", ns::MUC_USER).append(invite.build());
    if let Some(p) = password {
        x = x.append(text_el("password", ns::MUC_USER, p));
    }
    Element::builder("message", ns::CLIENT)
        .attr(name("from"), room)
        .attr(name("to"), to)
        .append(x.build())
        .append(direct_invitation(room, reason, password))
        .build()
}

/// A decline forwarded to the inviter (XEP-0045 §7.8.2 example 61).
pub fn decline(room: &str, to: &str, from: &str, reason: Option<&str>) -> Element {
    let mut decline = Element::builder("decline", ns::MUC_USER).attr(name("from"), from);
    if let Some(r) = reason {
        decline = decline.append(text_el("reason", ns::MUC_USER, r));
    }
    Element::builder("message", ns::CLIENT)
        .attr(name("from"), room)
        .attr(name("to"), to)
        .append(
            Element::builder("x", ns::MUC_USER)
                .append(decline.build())
                .build(),
        )
        .build()
}

/// XEP-0249 `<x xmlns='jabber:x:conference'/>`.
pub fn direct_invitation(room: &str, reason: Option<&str>, password: Option<&str>) -> Element {
    let mut x = Element::builder("x", ns::CONFERENCE).attr(name("jid"), room);
    if let Some(r) = reason {
        x = x.attr(name("reason"), r);
    }
    if let Some(p) = password {
        x = x.attr(name("password"), p);
    }
    x.build()
}

/// The nickname registration form (XEP-0045 §7.10), filled with the current one.
pub fn register_form(nick: Option<&str>) -> Element {
    let mut form = Element::builder("x", ns::DATA_FORMS).attr(name("type"), "form");
    form = form.append(hidden("FORM_TYPE", ns::MUC_REGISTER));
    form = form.append(field(
        "muc#register_roomnick",
        "text-single",
        &[nick.unwrap_or_default()],
    ));
    let mut query = Element::builder("query", ns::REGISTER);
    if nick.is_some() {
        query = query.append(Element::bare("registered", ns::REGISTER));
    }
    query.append(form.build()).build()
}

/// What a registration request asks (XEP-0045 §7.10): a nickname, or removal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registration {
    Nick(String),
    Remove,
}

impl Registration {
    pub fn parse(query: &Element) -> Result<Registration, MucError> {
        if query.has_child("remove", ns::REGISTER) {
            return Ok(Registration::Remove);
        }
        let form = query
            .get_child("x", ns::DATA_FORMS)
            .ok_or(MucError::BadRequest("expected the registration form"))?;
        if form.attr("type") == Some("cancel") {
            return Err(MucError::BadRequest("registration cancelled"));
        }
        let fields = Fields::parse(form)?;
        match fields.first("muc#register_roomnick") {
            Some(nick) if !nick.trim().is_empty() => Ok(Registration::Nick(nick.to_owned())),
            _ => Err(MucError::NotAcceptable("a nickname is required")),
        }
    }
}

/// A disco#info result for a conference service or room (XEP-0045 §6.2, §6.4): identity
/// `conference/text` named `name`, the features sorted, and an extension form.
pub fn disco_info(name: &str, features: &[&str], extension: Option<Element>) -> Element {
    let identity = Element::builder("identity", ns::DISCO_INFO)
        .attr(self::name("category"), "conference")
        .attr(self::name("type"), "text")
        .attr(self::name("name"), name)
        .build();
    let mut q = Element::builder("query", ns::DISCO_INFO).append(identity);
    let mut features = features.to_vec();
    features.sort_unstable();
    features.dedup();
    for f in features {
        q = q.append(
            Element::builder("feature", ns::DISCO_INFO)
                .attr(self::name("var"), f)
                .build(),
        );
    }
    if let Some(form) = extension {
        q = q.append(form);
    }
    q.build()
}

/// A disco#items result listing `(jid, name)` pairs (rooms of a service).
pub fn disco_items(items: &[(String, String)]) -> Element {
    let mut q = Element::builder("query", ns::DISCO_ITEMS);
    for (jid, item_name) in items {
        q = q.append(
            Element::builder("item", ns::DISCO_ITEMS)
                .attr(name("jid"), jid.as_str())
                .attr(name("name"), item_name.as_str())
                .build(),
        );
    }
    q.build()
}

/// A join presence (no addresses): `<x xmlns='…muc'>` with the password and the number of
/// history messages wanted, when given.
pub fn join_presence(password: Option<&str>, maxstanzas: Option<usize>) -> Element {
    let mut x = Element::builder("x", ns::MUC);
    if let Some(p) = password {
        x = x.append(text_el("password", ns::MUC, p));
    }
    if let Some(n) = maxstanzas {
        x = x.append(
            Element::builder("history", ns::MUC)
                .attr(name("maxstanzas"), n.to_string())
                .build(),
        );
    }
    Element::builder("presence", ns::CLIENT)
        .append(x.build())
        .build()
}

/// XEP-0421 `<occupant-id/>`.
pub fn occupant_id(id: &str) -> Element {
    Element::builder("occupant-id", ns::OCCUPANT_ID)
        .attr(name("id"), id)
        .build()
}

fn name(attr: &'static str) -> rxml::NcName {
    rxml::NcName::try_from(attr).expect("attribute names used here are valid NCNames")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    #[test]
    fn join_reads_password_and_history() {
        let p = el(
            "<presence xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc'>\
             <password>pw</password><history maxstanzas='5' seconds='60' \
             since='2026-01-01T00:00:00Z'/></x></presence>",
        );
        let join = Join::parse(&p).unwrap().unwrap();
        assert_eq!(join.password.as_deref(), Some("pw"));
        assert_eq!(join.history.maxstanzas, Some(5));
        assert_eq!(join.history.seconds, Some(60));
        assert!(join.history.since.is_some());
        assert_eq!(
            Join::parse(&el("<presence xmlns='jabber:client'/>")).unwrap(),
            None
        );
        let bad = el(
            "<presence xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc'>\
             <history maxchars='many'/></x></presence>",
        );
        assert!(matches!(Join::parse(&bad), Err(MucError::BadRequest(_))));
    }

    #[test]
    fn user_x_carries_item_and_codes() {
        let x = user_x(
            &UserItem {
                affiliation: Some(Affiliation::Owner),
                role: Some(Role::Moderator),
                jid: Some("a@localhost/x"),
                ..UserItem::default()
            },
            &[status::SELF, status::CREATED],
        );
        let item = x.get_child("item", ns::MUC_USER).unwrap();
        assert_eq!(item.attr("affiliation"), Some("owner"));
        assert_eq!(item.attr("role"), Some("moderator"));
        assert_eq!(item.attr("jid"), Some("a@localhost/x"));
        let codes: Vec<_> = x
            .children()
            .filter(|c| c.name() == "status")
            .filter_map(|c| c.attr("code"))
            .collect();
        assert_eq!(codes, ["110", "201"]);
    }

    #[test]
    fn config_form_round_trips_and_refuses_bad_values() {
        let mut config = RoomConfig::default();
        let form = config.form(100);
        let x = form.get_child("x", ns::DATA_FORMS).unwrap();
        assert!(
            x.children()
                .any(|f| f.attr("var") == Some("muc#roomconfig_whois"))
        );
        let submit = el("<query xmlns='http://jabber.org/protocol/muc#owner'>\
             <x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
             <field var='muc#roomconfig_persistentroom'><value>1</value></field>\
             <field var='muc#roomconfig_membersonly'><value>true</value></field>\
             <field var='muc#roomconfig_whois'><value>anyone</value></field>\
             <field var='muc#roomconfig_roomsecret'><value>s3</value></field>\
             <field var='muc#roomconfig_maxusers'><value>50</value></field>\
             </x></query>");
        let OwnerRequest::Submit(fields) = OwnerRequest::parse(&submit, false).unwrap() else {
            panic!("a submitted form");
        };
        config.apply(&fields, 100).unwrap();
        assert!(config.persistent && config.members_only);
        assert_eq!(config.whois, Whois::Anyone);
        assert_eq!(config.password, "s3");
        assert_eq!(config.max_users, 50);
        let mut too_many = fields.clone();
        too_many
            .0
            .insert("muc#roomconfig_maxusers".into(), vec!["500".into()]);
        let before = config.clone();
        assert!(config.apply(&too_many, 100).is_err());
        assert_eq!(config, before, "a refused form changes nothing");
        let instant = el("<query xmlns='http://jabber.org/protocol/muc#owner'>\
             <x xmlns='jabber:x:data' type='submit'/></query>");
        assert_eq!(
            OwnerRequest::parse(&instant, false).unwrap(),
            OwnerRequest::Keep
        );
    }

    #[test]
    fn admin_items_parse_roles_and_affiliations() {
        let q = el("<query xmlns='http://jabber.org/protocol/muc#admin'>\
             <item nick='pistol' role='none'><reason>out</reason></item>\
             <item jid='x@localhost' affiliation='outcast'/></query>");
        let items = admin_items(&q, false).unwrap();
        assert_eq!(
            items[0],
            AdminItem::SetRole {
                target: Target::Nick("pistol".into()),
                role: Role::None,
                reason: Some("out".into())
            }
        );
        assert!(matches!(
            items[1],
            AdminItem::SetAffiliation {
                affiliation: Affiliation::Outcast,
                ..
            }
        ));
        let get = el("<query xmlns='http://jabber.org/protocol/muc#admin'>\
             <item affiliation='member'/></query>");
        assert_eq!(
            admin_items(&get, true).unwrap(),
            [AdminItem::ListAffiliation(Affiliation::Member)]
        );
        let bad = el("<query xmlns='http://jabber.org/protocol/muc#admin'>\
             <item nick='x' role='king'/></query>");
        assert!(admin_items(&bad, false).is_err());
    }

    #[test]
    fn invitations_parse_and_build() {
        let m = el(
            "<message xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc#user'>\
             <invite to='bob@localhost'><reason>hi</reason></invite></x></message>",
        );
        assert_eq!(
            Mediated::parse(&m).unwrap(),
            [Mediated::Invite {
                to: Jid::new("bob@localhost").unwrap(),
                reason: Some("hi".into())
            }]
        );
        let out = invitation("r@c", "bob@localhost", "alice@localhost", Some("hi"), None);
        assert!(out.has_child("x", ns::CONFERENCE));
        assert!(out.has_child("x", ns::MUC_USER));
    }

    #[test]
    fn join_presence_round_trips() {
        let p = join_presence(Some("pw"), Some(3));
        let join = Join::parse(&p).unwrap().unwrap();
        assert_eq!(join.password.as_deref(), Some("pw"));
        assert_eq!(join.history.maxstanzas, Some(3));
    }

    #[test]
    fn registration_reads_the_nick() {
        let q = el(
            "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>\
             <field var='muc#register_roomnick'><value>thirdwitch</value></field></x></query>",
        );
        assert_eq!(
            Registration::parse(&q).unwrap(),
            Registration::Nick("thirdwitch".into())
        );
        let rm = el("<query xmlns='jabber:iq:register'><remove/></query>");
        assert_eq!(Registration::parse(&rm).unwrap(), Registration::Remove);
    }
}
