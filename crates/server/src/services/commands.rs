//! Admin commands, and XEP-0050 ad-hoc commands on the server domain that expose them.
//!
//! The commands themselves live in [`run`], shared with the REST admin endpoints
//! (`http/admin.rs`): each surface turns its input into [`Args`], calls [`run`] and renders the
//! [`Outcome`] or [`CommandError`]. Node names are the short ones the ejabberd seed uses
//! (`uptime`, `register`, …); the XEP-0133 URIs are not used yet.
//!
//! `uptime` is open to every account; the others need an account listed under `admins`.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StreamCondition};

use async_trait::async_trait;

use crate::auth::AccountError;
use crate::ctx::{Ctx, Feature, Service};
use crate::ids::random_id;
use crate::routed::Routed;
use crate::sessions::SessionMsg;

/// One admin command, named by its ad-hoc node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    Uptime,
    RegisteredUsers,
    Register,
    Unregister,
    ChangePassword,
    ConnectedUsers,
}

/// A field of a command's input form.
#[derive(Clone, Copy, Debug)]
struct Field {
    var: &'static str,
    type_: &'static str,
    label: &'static str,
}

const ACCOUNT_JID: &str = "accountjid";
const PASSWORD: &str = "password";

const ACCOUNT_FIELD: Field = Field {
    var: ACCOUNT_JID,
    type_: "jid-single",
    label: "The Jabber ID of the account",
};
const PASSWORD_FIELD: Field = Field {
    var: PASSWORD,
    type_: "text-private",
    label: "Password",
};
const NEW_PASSWORD_FIELD: Field = Field {
    var: PASSWORD,
    type_: "text-private",
    label: "New password",
};

impl Command {
    pub const ALL: [Command; 6] = [
        Command::Uptime,
        Command::RegisteredUsers,
        Command::Register,
        Command::Unregister,
        Command::ChangePassword,
        Command::ConnectedUsers,
    ];

    pub fn from_node(node: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.node() == node)
    }

    /// The ad-hoc node, also the command's name on the REST admin API.
    pub fn node(self) -> &'static str {
        match self {
            Command::Uptime => "uptime",
            Command::RegisteredUsers => "registered_users",
            Command::Register => "register",
            Command::Unregister => "unregister",
            Command::ChangePassword => "change_password",
            Command::ConnectedUsers => "connected_users",
        }
    }

    /// The human-readable name listed in disco#items.
    pub fn name(self) -> &'static str {
        match self {
            Command::Uptime => "Get uptime",
            Command::RegisteredUsers => "List registered users",
            Command::Register => "Register a user",
            Command::Unregister => "Unregister a user",
            Command::ChangePassword => "Change a user's password",
            Command::ConnectedUsers => "List connected users",
        }
    }

    pub fn admin_only(self) -> bool {
        self != Command::Uptime
    }

    /// Whether `requester` may see and run this command.
    pub fn allowed(self, ctx: &Ctx, requester: Option<&Jid>) -> bool {
        !self.admin_only() || requester.is_some_and(|j| ctx.is_admin(j))
    }

    /// What the ad-hoc form asks for; commands without fields complete at once.
    fn fields(self) -> &'static [Field] {
        match self {
            Command::Register => &[ACCOUNT_FIELD, PASSWORD_FIELD],
            Command::Unregister => &[ACCOUNT_FIELD],
            Command::ChangePassword => &[ACCOUNT_FIELD, NEW_PASSWORD_FIELD],
            Command::Uptime | Command::RegisteredUsers | Command::ConnectedUsers => &[],
        }
    }
}

/// The arguments of a command, whichever surface they came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// The account: a localpart or a bare JID on our domain.
    pub user: Option<String>,
    /// The host the command applies to; our domain when absent.
    pub host: Option<String>,
    pub password: Option<String>,
}

/// What a command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Uptime(Duration),
    RegisteredUsers(Vec<String>),
    ConnectedUsers(Vec<String>),
    Registered(String),
    Unregistered(String),
    PasswordChanged(String),
}

impl Outcome {
    /// The human-readable summary (the ad-hoc `<note/>`, the text-mode reply).
    pub fn note(&self) -> String {
        match self {
            Outcome::Uptime(uptime) => uptime_text(*uptime),
            Outcome::RegisteredUsers(jids) => count_text(jids.len(), "registered user"),
            Outcome::ConnectedUsers(jids) => count_text(jids.len(), "connected user"),
            Outcome::Registered(jid) => format!("User {jid} successfully registered"),
            Outcome::Unregistered(jid) => format!("User {jid} successfully unregistered"),
            Outcome::PasswordChanged(jid) => format!("Password of {jid} changed"),
        }
    }

    /// The JIDs listed by `registered_users` and `connected_users`.
    pub fn jids(&self) -> Option<&[String]> {
        match self {
            Outcome::RegisteredUsers(jids) | Outcome::ConnectedUsers(jids) => Some(jids),
            _ => None,
        }
    }
}

/// Why a command did not run or failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("unknown command '{0}'")]
    UnknownCommand(String),
    #[error("only administrators may run '{0}'")]
    Forbidden(&'static str),
    #[error("missing argument '{0}'")]
    MissingArgument(&'static str),
    #[error("host '{0}' is not served here")]
    UnknownHost(String),
    #[error("'{0}' is not a valid username")]
    InvalidUser(String),
    #[error("user {0} already exists")]
    Exists(String),
    #[error("user {0} does not exist")]
    NoSuchUser(String),
    #[error("password rejected: {0}")]
    BadPassword(String),
    #[error("internal server error")]
    Internal,
}

/// Runs `command` for `requester` (admin-only commands refuse everyone else).
pub async fn run(
    ctx: &Ctx,
    requester: Option<&Jid>,
    command: Command,
    args: Args,
) -> Result<Outcome, CommandError> {
    if !command.allowed(ctx, requester) {
        return Err(CommandError::Forbidden(command.node()));
    }
    if let Some(host) = args.host.as_deref()
        && !jid::DomainPart::new(host).is_ok_and(|d| d.as_str() == ctx.domain())
    {
        return Err(CommandError::UnknownHost(host.to_owned()));
    }
    let accounts = ctx.accounts();
    let domain = ctx.domain();
    let outcome = match command {
        Command::Uptime => Outcome::Uptime(ctx.uptime()),
        Command::RegisteredUsers => {
            let mut users = accounts
                .list_users()
                .await
                .map_err(|e| account_error(e, ""))?;
            users.sort();
            Outcome::RegisteredUsers(users.iter().map(|u| format!("{u}@{domain}")).collect())
        }
        Command::ConnectedUsers => Outcome::ConnectedUsers(
            ctx.sessions()
                .users()
                .into_iter()
                .map(|(user, _)| format!("{user}@{domain}"))
                .collect(),
        ),
        Command::Register => {
            let user = account(ctx, &args)?;
            let password = password(&args)?;
            let jid = format!("{user}@{domain}");
            accounts
                .add_user(&user, password)
                .await
                .map_err(|e| account_error(e, &jid))?;
            Outcome::Registered(jid)
        }
        Command::Unregister => {
            let user = account(ctx, &args)?;
            let jid = format!("{user}@{domain}");
            accounts
                .delete_user(&user)
                .await
                .map_err(|e| account_error(e, &jid))?;
            // Live sessions of a deleted account end now rather than at their next login.
            for entry in ctx.sessions().resources(&user) {
                let _ = entry.tx.try_send(SessionMsg::Kick(
                    StreamCondition::NotAuthorized,
                    "Account deleted",
                ));
            }
            Outcome::Unregistered(jid)
        }
        Command::ChangePassword => {
            let user = account(ctx, &args)?;
            let password = password(&args)?;
            let jid = format!("{user}@{domain}");
            accounts
                .set_password(&user, password)
                .await
                .map_err(|e| account_error(e, &jid))?;
            Outcome::PasswordChanged(jid)
        }
    };
    if command.admin_only() {
        tracing::info!(
            admin = %requester.map(|j| j.to_string()).unwrap_or_default(),
            command = command.node(),
            "admin command"
        );
    }
    Ok(outcome)
}

/// The nodeprep'd localpart named by `args.user`.
fn account(ctx: &Ctx, args: &Args) -> Result<String, CommandError> {
    let raw = args
        .user
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or(CommandError::MissingArgument("user"))?;
    ctx.accounts()
        .username(raw)
        .map_err(|e| account_error(e, raw))
}

fn password(args: &Args) -> Result<&str, CommandError> {
    args.password
        .as_deref()
        .filter(|p| !p.is_empty())
        .ok_or(CommandError::MissingArgument("password"))
}

fn account_error(e: AccountError, jid: &str) -> CommandError {
    match e {
        AccountError::InvalidUsername(input) => CommandError::InvalidUser(input),
        AccountError::WrongDomain(input) => CommandError::UnknownHost(
            input
                .split_once('@')
                .map_or(input.as_str(), |(_, host)| host)
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
        ),
        AccountError::Exists => CommandError::Exists(jid.to_owned()),
        AccountError::NoSuchUser => CommandError::NoSuchUser(jid.to_owned()),
        AccountError::BadPassword(why) => CommandError::BadPassword(why),
        AccountError::Store(e) => {
            tracing::error!(error = %e, "admin command failed in the store");
            CommandError::Internal
        }
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn count_text(n: usize, what: &str) -> String {
    plural(n as u64, what)
}

/// "Server has been running for 0 days, 20 hours, 54 minutes and 3 seconds (since …)".
pub fn uptime_text(uptime: Duration) -> String {
    let secs = uptime.as_secs();
    let since = chrono::Utc::now()
        - chrono::TimeDelta::from_std(uptime).unwrap_or(chrono::TimeDelta::zero());
    format!(
        "Server has been running for {}, {}, {} and {} (since {})",
        plural(secs / 86_400, "day"),
        plural(secs / 3_600 % 24, "hour"),
        plural(secs / 60 % 60, "minute"),
        plural(secs % 60, "second"),
        since.format("%Y-%m-%d %H:%M:%S UTC"),
    )
}

// ---------------------------------------------------------------------------------------------
// Service discovery

type IqOutcome = Result<Option<Element>, (ErrorType, DefinedCondition)>;

fn disco_identity(category: &str, type_: &str, name: &str) -> Element {
    let mut el = Element::bare("identity", ns::DISCO_INFO);
    stanza::set_attr(&mut el, "category", category);
    stanza::set_attr(&mut el, "type", type_);
    stanza::set_attr(&mut el, "name", name);
    el
}

fn disco_feature(var: &str) -> Element {
    let mut el = Element::bare("feature", ns::DISCO_INFO);
    stanza::set_attr(&mut el, "var", var);
    el
}

/// The command a node names, if `requester` may use it.
fn visible(
    ctx: &Ctx,
    requester: Option<&Jid>,
    node: &str,
) -> Result<Command, (ErrorType, DefinedCondition)> {
    let command =
        Command::from_node(node).ok_or((ErrorType::Cancel, DefinedCondition::ItemNotFound))?;
    if !command.allowed(ctx, requester) {
        // XEP-0050 §2.2: a command not available to the requester is forbidden.
        return Err((ErrorType::Cancel, DefinedCondition::Forbidden));
    }
    Ok(command)
}

/// disco#items on a node of the server: the command list, or a command (which has no items).
pub fn disco_items(ctx: &Ctx, requester: Option<&Jid>, node: &str) -> IqOutcome {
    let mut query = Element::bare("query", ns::DISCO_ITEMS);
    stanza::set_attr(&mut query, "node", node);
    if node == ns::COMMANDS {
        for command in Command::ALL
            .into_iter()
            .filter(|c| c.allowed(ctx, requester))
        {
            let mut item = Element::bare("item", ns::DISCO_ITEMS);
            stanza::set_attr(&mut item, "jid", ctx.domain());
            stanza::set_attr(&mut item, "node", command.node());
            stanza::set_attr(&mut item, "name", command.name());
            query.append_child(item);
        }
        return Ok(Some(query));
    }
    visible(ctx, requester, node)?;
    Ok(Some(query))
}

/// disco#info on a node of the server: the command list or one command (XEP-0050 §2.2).
pub fn disco_info(ctx: &Ctx, requester: Option<&Jid>, node: &str) -> IqOutcome {
    let mut query = Element::bare("query", ns::DISCO_INFO);
    stanza::set_attr(&mut query, "node", node);
    if node == ns::COMMANDS {
        query.append_child(disco_identity(
            "automation",
            "command-list",
            "Ad-Hoc Commands",
        ));
        query.append_child(disco_feature(ns::DISCO_ITEMS));
        return Ok(Some(query));
    }
    let command = visible(ctx, requester, node)?;
    query.append_child(disco_identity("automation", "command-node", command.name()));
    query.append_child(disco_feature(ns::COMMANDS));
    query.append_child(disco_feature(ns::DATA_FORMS));
    Ok(Some(query))
}

// ---------------------------------------------------------------------------------------------
// Ad-hoc execution (XEP-0050 §3.4)

/// Multi-stage sessions waiting for their form, process-wide and bounded.
const MAX_SESSIONS: usize = 1024;
const MAX_SESSIONS_PER_OWNER: usize = 8;
const SESSION_TTL: Duration = Duration::from_secs(600);

static SESSIONS: LazyLock<Mutex<SessionTable>> = LazyLock::new(Default::default);

fn sessions() -> std::sync::MutexGuard<'static, SessionTable> {
    SESSIONS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug)]
struct PendingSession {
    /// The bare JID of the account that started it; only that account may continue, from any
    /// resource (each `/rest` request comes from a fresh one).
    owner: String,
    command: Command,
    started: Instant,
}

#[derive(Debug, PartialEq, Eq)]
enum Lookup {
    Found,
    Unknown,
    Expired,
}

#[derive(Debug, Default)]
struct SessionTable {
    map: HashMap<String, PendingSession>,
}

impl SessionTable {
    /// Opens a session, first dropping expired ones, then the oldest of the owner's beyond
    /// its share, then the oldest overall beyond the cap.
    fn open(&mut self, owner: &str, command: Command, now: Instant) -> String {
        self.map
            .retain(|_, s| now.saturating_duration_since(s.started) < SESSION_TTL);
        while self.map.values().filter(|s| s.owner == owner).count() >= MAX_SESSIONS_PER_OWNER {
            self.evict_oldest(|s| s.owner == owner);
        }
        while self.map.len() >= MAX_SESSIONS {
            self.evict_oldest(|_| true);
        }
        let id = loop {
            let id = format!("{}-{}", random_id(), random_id());
            if !self.map.contains_key(&id) {
                break id;
            }
        };
        self.map.insert(
            id.clone(),
            PendingSession {
                owner: owner.to_owned(),
                command,
                started: now,
            },
        );
        id
    }

    fn evict_oldest(&mut self, filter: impl Fn(&PendingSession) -> bool) {
        let oldest = self
            .map
            .iter()
            .filter(|(_, s)| filter(s))
            .min_by_key(|(_, s)| s.started)
            .map(|(id, _)| id.clone());
        if let Some(id) = oldest {
            self.map.remove(&id);
        }
    }

    /// Whether `id` is a live session of `owner` for `command`; an expired one is dropped.
    fn check(&mut self, id: &str, owner: &str, command: Command, now: Instant) -> Lookup {
        match self.map.get(id) {
            Some(s) if s.owner == owner && s.command == command => {
                if now.saturating_duration_since(s.started) < SESSION_TTL {
                    Lookup::Found
                } else {
                    self.map.remove(id);
                    Lookup::Expired
                }
            }
            _ => Lookup::Unknown,
        }
    }

    fn close(&mut self, id: &str) {
        self.map.remove(id);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Execute,
    Cancel,
    Prev,
    Next,
    Complete,
}

impl Action {
    fn parse(value: &str) -> Option<Action> {
        match value {
            "execute" => Some(Action::Execute),
            "cancel" => Some(Action::Cancel),
            "prev" => Some(Action::Prev),
            "next" => Some(Action::Next),
            "complete" => Some(Action::Complete),
            _ => None,
        }
    }
}

/// A stanza error, with XEP-0050's specific condition when there is one.
#[derive(Debug, PartialEq)]
struct Fault {
    type_: ErrorType,
    condition: DefinedCondition,
    specific: Option<&'static str>,
    text: Option<String>,
}

impl Fault {
    fn cancel(condition: DefinedCondition) -> Fault {
        Fault {
            type_: ErrorType::Cancel,
            condition,
            specific: None,
            text: None,
        }
    }

    /// `<bad-request/>` with a specific condition (XEP-0050 §4.6).
    fn bad_request(specific: &'static str, text: &str) -> Fault {
        Fault {
            type_: ErrorType::Modify,
            condition: DefinedCondition::BadRequest,
            specific: Some(specific),
            text: Some(text.to_owned()),
        }
    }

    fn element(self, iq: &Element) -> Option<Element> {
        let mut reply = stanza::error_reply(iq, self.type_, self.condition, self.text.as_deref())?;
        if let Some(specific) = self.specific
            && let Some(error) = reply.children_mut().find(|c| c.name() == "error")
        {
            error.append_child(Element::bare(specific, ns::COMMANDS));
        }
        Some(reply)
    }
}

/// XEP-0050 ad-hoc commands on the server domain.
pub struct Commands;

#[async_trait]
impl Service for Commands {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> crate::routed::Outcome {
        let requester = Some(&iq.from);
        let answer = match stanza::iq_payload(&iq.el) {
            Some(command) if iq.type_() == "set" && command.is("command", ns::COMMANDS) => {
                execute(ctx, requester, command, Instant::now()).await
            }
            _ => Err(Fault {
                type_: ErrorType::Modify,
                condition: DefinedCondition::BadRequest,
                specific: None,
                text: Some("Commands are executed with an iq set of <command/>".into()),
            }),
        };
        match answer {
            Ok(payload) => {
                ctx.reply(&iq, stanza::iq_result(&iq.el, Some(payload)))
                    .await
            }
            Err(fault) => match fault.element(&iq.el) {
                Some(error) => ctx.reply(&iq, error).await,
                None => crate::routed::Outcome::Dropped,
            },
        }
    }

    fn features(&self) -> &'static [Feature] {
        const FEATURES: &[Feature] = &[Feature::server(ns::COMMANDS)];
        FEATURES
    }
}

async fn execute(
    ctx: &Ctx,
    requester: Option<&Jid>,
    request: &Element,
    now: Instant,
) -> Result<Element, Fault> {
    let node = request
        .attr("node")
        .ok_or_else(|| Fault::bad_request("bad-payload", "The command has no node"))?;
    let command = Command::from_node(node).ok_or(Fault::cancel(DefinedCondition::ItemNotFound))?;
    if !command.allowed(ctx, requester) {
        return Err(Fault::cancel(DefinedCondition::Forbidden));
    }
    let action = match request.attr("action") {
        None => Action::Execute,
        Some(a) => Action::parse(a)
            .ok_or_else(|| Fault::bad_request("malformed-action", "Unknown action"))?,
    };
    let owner = requester
        .map(|j| j.to_bare().to_string())
        .unwrap_or_default();
    // XEP-0050 §4.3: a form of type cancel counts as submitted.
    let form = request
        .get_child("x", ns::DATA_FORMS)
        .filter(|x| matches!(x.attr("type"), Some("submit" | "cancel")));
    let Some(sessionid) = request.attr("sessionid") else {
        return match action {
            Action::Cancel => Err(Fault::bad_request(
                "bad-sessionid",
                "There is no session to cancel",
            )),
            Action::Prev | Action::Next => Err(Fault::bad_request(
                "bad-action",
                "The command has a single stage",
            )),
            Action::Execute | Action::Complete => {
                if command.fields().is_empty() || form.is_some() {
                    // Nothing to ask, or the form came with the request: one step.
                    let args = form_args(command, form)?;
                    complete(ctx, requester, command, &random_id(), args).await
                } else if action == Action::Complete {
                    Err(Fault::bad_request(
                        "bad-payload",
                        "The command needs a submitted form",
                    ))
                } else {
                    let sessionid = sessions().open(&owner, command, now);
                    Ok(executing(command, &sessionid))
                }
            }
        };
    };
    let lookup = sessions().check(sessionid, &owner, command, now);
    match lookup {
        Lookup::Found => {}
        Lookup::Unknown => {
            return Err(Fault::bad_request("bad-sessionid", "Unknown session"));
        }
        Lookup::Expired => {
            return Err(Fault {
                type_: ErrorType::Cancel,
                condition: DefinedCondition::NotAllowed,
                specific: Some("session-expired"),
                text: Some("The session has expired".into()),
            });
        }
    }
    match action {
        Action::Cancel => {
            sessions().close(sessionid);
            let mut el = command_element(command, sessionid, "canceled");
            el.append_child(note("info", "Command canceled"));
            Ok(el)
        }
        Action::Prev | Action::Next => Err(Fault::bad_request(
            "bad-action",
            "Only 'complete' is allowed at this stage",
        )),
        Action::Execute | Action::Complete => {
            let Some(form) = form else {
                return Err(Fault::bad_request(
                    "bad-payload",
                    "The command needs a submitted form",
                ));
            };
            // A form missing a field leaves the session open for another try.
            let args = form_args(command, Some(form))?;
            sessions().close(sessionid);
            complete(ctx, requester, command, sessionid, args).await
        }
    }
}

/// The arguments a submitted form carries; every field of the command is required.
fn form_args(command: Command, form: Option<&Element>) -> Result<Args, Fault> {
    let value = |var: &str| {
        form.and_then(|form| {
            form.children()
                .filter(|f| f.is("field", ns::DATA_FORMS) && f.attr("var") == Some(var))
                .find_map(|f| f.get_child("value", ns::DATA_FORMS))
                .map(|v| v.text())
                .filter(|v| !v.trim().is_empty())
        })
    };
    for field in command.fields() {
        if value(field.var).is_none() {
            return Err(Fault::bad_request(
                "bad-payload",
                &format!("The form is missing '{}'", field.var),
            ));
        }
    }
    Ok(Args {
        user: value(ACCOUNT_JID),
        host: None,
        password: value(PASSWORD),
    })
}

/// Runs the command and reports it: a failure of the command itself is a completed command
/// with an error note (XEP-0050 §4.4); refusals are stanza errors.
async fn complete(
    ctx: &Ctx,
    requester: Option<&Jid>,
    command: Command,
    sessionid: &str,
    args: Args,
) -> Result<Element, Fault> {
    let mut el = command_element(command, sessionid, "completed");
    match run(ctx, requester, command, args).await {
        Ok(outcome) => {
            el.append_child(note("info", &outcome.note()));
            if let Some(jids) = outcome.jids() {
                el.append_child(result_form(command, jids));
            }
            Ok(el)
        }
        Err(CommandError::Forbidden(_)) => Err(Fault::cancel(DefinedCondition::Forbidden)),
        Err(CommandError::UnknownCommand(_)) => Err(Fault::cancel(DefinedCondition::ItemNotFound)),
        Err(CommandError::MissingArgument(what)) => Err(Fault::bad_request(
            "bad-payload",
            &format!("Missing '{what}'"),
        )),
        Err(CommandError::Internal) => Err(Fault {
            type_: ErrorType::Wait,
            condition: DefinedCondition::InternalServerError,
            specific: None,
            text: None,
        }),
        Err(e) => {
            el.append_child(note("error", &e.to_string()));
            Ok(el)
        }
    }
}

fn command_element(command: Command, sessionid: &str, status: &str) -> Element {
    let mut el = Element::bare("command", ns::COMMANDS);
    stanza::set_attr(&mut el, "node", command.node());
    stanza::set_attr(&mut el, "sessionid", sessionid);
    stanza::set_attr(&mut el, "status", status);
    el
}

fn note(type_: &str, text: &str) -> Element {
    let mut el = Element::builder("note", ns::COMMANDS).append(text).build();
    stanza::set_attr(&mut el, "type", type_);
    el
}

fn text_child(name: &str, text: &str) -> Element {
    Element::builder(name, ns::DATA_FORMS).append(text).build()
}

/// The first stage of a command with fields: its form, and `complete` as the only action.
fn executing(command: Command, sessionid: &str) -> Element {
    let mut el = command_element(command, sessionid, "executing");
    let mut actions = Element::bare("actions", ns::COMMANDS);
    stanza::set_attr(&mut actions, "execute", "complete");
    actions.append_child(Element::bare("complete", ns::COMMANDS));
    el.append_child(actions);
    let mut form = Element::bare("x", ns::DATA_FORMS);
    stanza::set_attr(&mut form, "type", "form");
    form.append_child(text_child("title", command.name()));
    form.append_child(text_child(
        "instructions",
        "Fill out this form to complete the command.",
    ));
    for field in command.fields() {
        let mut el = Element::bare("field", ns::DATA_FORMS);
        stanza::set_attr(&mut el, "var", field.var);
        stanza::set_attr(&mut el, "type", field.type_);
        stanza::set_attr(&mut el, "label", field.label);
        el.append_child(Element::bare("required", ns::DATA_FORMS));
        form.append_child(el);
    }
    el.append_child(form);
    el
}

/// The JIDs of `registered_users` / `connected_users` as a result form.
fn result_form(command: Command, jids: &[String]) -> Element {
    let (var, label) = match command {
        Command::ConnectedUsers => ("onlineuserjids", "The list of all online users"),
        _ => ("registereduserjids", "The list of all users"),
    };
    let mut form = Element::bare("x", ns::DATA_FORMS);
    stanza::set_attr(&mut form, "type", "result");
    form.append_child(text_child("title", command.name()));
    let mut field = Element::bare("field", ns::DATA_FORMS);
    stanza::set_attr(&mut field, "var", var);
    stanza::set_attr(&mut field, "type", "jid-multi");
    stanza::set_attr(&mut field, "label", label);
    for jid in jids {
        field.append_child(text_child("value", jid));
    }
    form.append_child(field);
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_round_trip() {
        for command in Command::ALL {
            assert_eq!(Command::from_node(command.node()), Some(command));
        }
        assert_eq!(
            Command::from_node("http://jabber.org/protocol/admin#add-user"),
            None
        );
        assert!(!Command::Uptime.admin_only());
        assert!(Command::Register.admin_only());
    }

    #[test]
    fn uptime_text_counts_units() {
        let text = uptime_text(Duration::from_secs(86_400 + 2 * 3_600 + 60 + 5));
        assert!(
            text.starts_with(
                "Server has been running for 1 day, 2 hours, 1 minute and 5 seconds (since "
            ),
            "{text}"
        );
    }

    #[test]
    fn session_table_is_bounded_per_owner_and_overall() {
        let now = Instant::now();
        let mut table = SessionTable::default();
        let first = table.open("a@x/r", Command::Register, now);
        assert_eq!(
            table.check(&first, "a@x/r", Command::Register, now),
            Lookup::Found
        );
        assert_eq!(
            table.check(&first, "b@x/r", Command::Register, now),
            Lookup::Unknown
        );
        assert_eq!(
            table.check(&first, "a@x/r", Command::Unregister, now),
            Lookup::Unknown
        );
        for i in 1..MAX_SESSIONS_PER_OWNER + 3 {
            table.open(
                "a@x/r",
                Command::Register,
                now + Duration::from_millis(i as u64),
            );
        }
        assert_eq!(table.map.len(), MAX_SESSIONS_PER_OWNER);
        assert_eq!(
            table.check(&first, "a@x/r", Command::Register, now),
            Lookup::Unknown
        );
        for i in 0..MAX_SESSIONS + 10 {
            table.open(&format!("u{i}@x/r"), Command::Register, now);
        }
        assert_eq!(table.map.len(), MAX_SESSIONS);
    }

    #[test]
    fn sessions_expire() {
        let now = Instant::now();
        let mut table = SessionTable::default();
        let id = table.open("a@x/r", Command::Register, now);
        let later = now + SESSION_TTL + Duration::from_secs(1);
        assert_eq!(
            table.check(&id, "a@x/r", Command::Register, later),
            Lookup::Expired
        );
        assert_eq!(
            table.check(&id, "a@x/r", Command::Register, later),
            Lookup::Unknown
        );
        table.open("a@x/r", Command::Register, now);
        table.open("b@x/r", Command::Register, later);
        assert_eq!(table.map.len(), 1, "opening drops expired sessions");
    }

    #[test]
    fn form_fields_are_required() {
        let form: Element = "<x xmlns='jabber:x:data' type='submit'>\
            <field var='accountjid'><value>bob@localhost</value></field>\
            <field var='password'><value> </value></field></x>"
            .parse()
            .unwrap();
        let err = form_args(Command::Register, Some(&form)).unwrap_err();
        assert_eq!(err.specific, Some("bad-payload"));
        let args = form_args(Command::Unregister, Some(&form)).unwrap();
        assert_eq!(args.user.as_deref(), Some("bob@localhost"));
        assert!(form_args(Command::Uptime, None).is_ok());
    }

    #[test]
    fn faults_carry_the_specific_condition() {
        let iq: Element =
            "<iq xmlns='jabber:client' type='set' id='c1' from='a@localhost/r' to='localhost'>\
            <command xmlns='http://jabber.org/protocol/commands' node='register'/></iq>"
                .parse()
                .unwrap();
        let reply = Fault::bad_request("bad-action", "no").element(&iq).unwrap();
        let error = reply.get_child("error", ns::CLIENT).unwrap();
        assert_eq!(error.attr("type"), Some("modify"));
        assert!(error.has_child("bad-request", ns::STANZAS));
        assert!(error.has_child("bad-action", ns::COMMANDS));
    }

    #[test]
    fn executing_stage_offers_complete_and_a_form() {
        let el = executing(Command::Register, "s1");
        assert_eq!(el.attr("status"), Some("executing"));
        let actions = el.get_child("actions", ns::COMMANDS).unwrap();
        assert_eq!(actions.attr("execute"), Some("complete"));
        let form = el.get_child("x", ns::DATA_FORMS).unwrap();
        assert_eq!(form.attr("type"), Some("form"));
        let vars: Vec<_> = form.children().filter_map(|f| f.attr("var")).collect();
        assert_eq!(vars, ["accountjid", "password"]);
    }
}
