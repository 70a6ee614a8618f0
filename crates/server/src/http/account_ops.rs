//! What the client API and the admin API do for one account, through the real services: send
//! a chat message, read its archive, and drive its roster and subscriptions (RFC 6121).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use jid::{BareJid, Jid};
use minidom::Element;
use serde::{Deserialize, Serialize};
use switchboard_xmpp::client_api::{RecvMessage, SendMessage};
use switchboard_xmpp::ns;
use switchboard_xmpp::sender::Principal;
use switchboard_xmpp::stanza;
use switchboard_xmpp::subscription::{self, State, Subscription};

use super::error::HttpError;
use super::state::AppState;
use crate::ids::random_id;
use crate::routed::Outcome;
use crate::services::contacts::{self, Shown};
use crate::storage::archive::{Archived, Criteria, PageRequest, Position, QueryError, With};

/// Messages a history request returns when it names no `limit` (MongooseIM's default).
pub const DEFAULT_LIMIT: usize = 50;

/// How long a roster change through the roster service may take.
const ROSTER_WAIT: Duration = Duration::from_secs(10);

/// `?limit=&before=&after=&before_id=&after_id=&typed=` of a history request.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    pub limit: Option<usize>,
    /// Unix milliseconds: only messages strictly before.
    pub before: Option<i64>,
    /// Unix milliseconds: only messages strictly after.
    pub after: Option<i64>,
    /// Archive ids: only messages strictly before or after this one (both: between them).
    pub before_id: Option<String>,
    pub after_id: Option<String>,
    /// Properties with their types instead of strings.
    #[serde(default)]
    pub typed: bool,
}

fn millis(ms: i64) -> Result<DateTime<Utc>, HttpError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| HttpError::bad_request("Invalid timestamp"))
}

/// A page of `user`'s archive (with `with` only, when given), newest first. With `after` or
/// `after_id` the page is the oldest `limit` messages past that point, so that a client
/// paging forwards skips nothing.
pub async fn history(
    app: &AppState,
    user: &str,
    with: Option<&Jid>,
    query: &HistoryQuery,
) -> Result<Vec<(Archived, Element)>, HttpError> {
    let max = app.server().config().api.max_history_limit;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit > max {
        return Err(HttpError::bad_request(format!(
            "Invalid limit: at most {max}"
        )));
    }
    let criteria = Criteria {
        with: with.map(|with| match with.resource() {
            None => With::Bare(with.to_string()),
            Some(_) => With::Full {
                bare: with.to_bare().to_string(),
                full: with.to_string(),
            },
        }),
        start: query
            .after
            .map(|ms| millis(ms).map(|t| t + TimeDelta::milliseconds(1)))
            .transpose()?,
        end: query
            .before
            .map(|ms| millis(ms).map(|t| t - TimeDelta::microseconds(1)))
            .transpose()?,
        after_id: query.after_id.clone(),
        before_id: query.before_id.clone(),
        ..Criteria::default()
    };
    let from = if query.after.is_some() || query.after_id.is_some() {
        Position::Oldest
    } else {
        Position::Newest
    };
    if limit == 0 {
        return Ok(Vec::new());
    }
    app.flush_archive().await;
    let request = PageRequest {
        from,
        max: limit,
        count_limit: 0,
    };
    let page = app
        .server()
        .store()
        .archive_page(user, &criteria, &request)
        .await
        .map_err(|e| match e {
            QueryError::UnknownId(id) => HttpError::not_found(format!("Unknown message id {id}")),
            QueryError::Store(e) => {
                tracing::error!(user, error = %e, "archive unavailable");
                HttpError::internal()
            }
        })?;
    let mut messages: Vec<(Archived, Element)> = page
        .messages
        .into_iter()
        .filter_map(|archived| match archived.stanza.parse::<Element>() {
            Ok(el) => Some((archived, el)),
            Err(e) => {
                tracing::error!(user, id = archived.id, error = %e, "unreadable archived message");
                None
            }
        })
        .collect();
    messages.reverse();
    Ok(messages)
}

/// The client API's shape of an archived message.
pub fn recv_message(archived: &Archived, el: &Element, typed: bool) -> RecvMessage {
    RecvMessage::of(el, &archived.id, archived.at.timestamp_millis(), typed)
}

/// Sends `request` as `from`'s account; the message's id.
pub async fn send_message(
    app: &AppState,
    from: &BareJid,
    request: &SendMessage,
) -> Result<String, HttpError> {
    let id = random_id();
    let message = request
        .to_element(&id)
        .map_err(|e| HttpError::bad_request(e.to_string()))?;
    let to = request
        .recipient()
        .map_err(|e| HttpError::bad_request(e.to_string()))?;
    if let Outcome::Bounced(Some(error)) = submit(app, from, Some(to), message).await?
        && refused_for_load(&error)
    {
        // The recipient's sessions (a slow event stream among them) are not keeping up.
        return Err(HttpError::unavailable(
            "The recipient is not keeping up; retry later",
            RETRY_SLOW_RECIPIENT,
        ));
    }
    Ok(id)
}

/// How long a sender refused because its recipient was not keeping up should wait.
const RETRY_SLOW_RECIPIENT: Duration = Duration::from_secs(1);

/// Whether a bounce says the recipient's mailbox stayed full (`resource-constraint`); other
/// bounces (no such account, a blocked sender) are answered 200 as MongooseIM did.
fn refused_for_load(error: &Element) -> bool {
    error
        .get_child("error", ns::CLIENT)
        .is_some_and(|e| e.has_child("resource-constraint", ns::STANZAS))
}

/// Routes `el` as sent by `from`'s account (the one `from` rule).
pub async fn submit(
    app: &AppState,
    from: &BareJid,
    to: Option<Jid>,
    el: Element,
) -> Result<Outcome, HttpError> {
    app.submit(&Principal::Account(from.clone()), to, el)
        .await
        .map_err(|e| HttpError::bad_request(e.to_string()))
}

/// One contact as MongooseIM lists it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Contact {
    pub jid: String,
    /// `none`, `to`, `from` or `both`.
    pub subscription: String,
    /// Pending requests: `none`, `in`, `out` or `both`.
    pub ask: String,
}

fn store_failed(user: &str, e: impl std::fmt::Display) -> HttpError {
    tracing::error!(user, error = %e, "roster storage unavailable");
    HttpError::internal()
}

fn ask(out: bool, incoming: bool) -> &'static str {
    match (out, incoming) {
        (false, false) => "none",
        (false, true) => "in",
        (true, false) => "out",
        (true, true) => "both",
    }
}

/// `user`'s roster with the pending requests each way.
pub async fn contacts(app: &AppState, user: &str) -> Result<Vec<Contact>, HttpError> {
    let store = app.server().store();
    let items = store
        .roster(user)
        .await
        .map_err(|e| store_failed(user, e))?;
    let mut contacts = Vec::with_capacity(items.len());
    for item in items {
        let incoming = store
            .request_exists(user, &item.jid)
            .await
            .map_err(|e| store_failed(user, e))?;
        let state = contacts::state_of(Some(&item), incoming);
        contacts.push(Contact {
            ask: ask(state.pending_out(), state.pending_in()).to_owned(),
            subscription: state.subscription().as_str().to_owned(),
            jid: item.jid,
        });
    }
    Ok(contacts)
}

/// A bare JID from a request.
pub fn bare(jid: &str) -> Result<BareJid, HttpError> {
    BareJid::new(jid).map_err(|_| HttpError::bad_request("Invalid JID"))
}

/// A contact's bare JID from a request; a local one must be an account.
pub async fn contact_jid(app: &AppState, jid: &str) -> Result<BareJid, HttpError> {
    let jid = bare(jid)?;
    if jid.domain().as_str() == app.domain() {
        let user = jid.node().map(|n| n.to_string()).unwrap_or_default();
        let exists = app
            .accounts()
            .store()
            .credentials(&user)
            .await
            .map_err(|e| store_failed(&user, e))?
            .is_some();
        if !exists {
            return Err(HttpError::not_found("User does not exist"));
        }
    }
    Ok(jid)
}

async fn in_roster(app: &AppState, user: &str, contact: &BareJid) -> Result<bool, HttpError> {
    Ok(app
        .server()
        .store()
        .roster_item(user, contact.as_str())
        .await
        .map_err(|e| store_failed(user, e))?
        .is_some())
}

/// Adds `contact` to `owner`'s roster through the roster service (pushes included).
pub async fn add_contact(
    app: &AppState,
    owner: &BareJid,
    contact: &BareJid,
) -> Result<(), HttpError> {
    roster_set(app, owner, contact, None).await
}

/// Removes `contact` from `owner`'s roster, cancelling subscriptions both ways (RFC 6121
/// §2.5.2); `false` when it was not there.
pub async fn remove_contact(
    app: &AppState,
    user: &str,
    owner: &BareJid,
    contact: &BareJid,
) -> Result<bool, HttpError> {
    if !in_roster(app, user, contact).await? {
        return Ok(false);
    }
    roster_set(app, owner, contact, Some("remove")).await?;
    Ok(true)
}

/// `invite` (subscribe) or `accept` (subscribed) as in MongooseIM.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ContactAction {
    Invite,
    Accept,
}

/// Sends `owner`'s subscription presence for `action` to `contact` through the router, so
/// that both sides' state machines move; 404 when `contact` is not in the roster.
pub async fn contact_action(
    app: &AppState,
    user: &str,
    owner: &BareJid,
    contact: &BareJid,
    action: ContactAction,
) -> Result<(), HttpError> {
    if !in_roster(app, user, contact).await? {
        return Err(HttpError::not_found("Contact not in the roster"));
    }
    let type_ = match action {
        ContactAction::Invite => "subscribe",
        ContactAction::Accept => "subscribed",
    };
    let presence = subscription::presence(type_, owner.as_str(), contact.as_str());
    submit(app, owner, Some(Jid::from(contact.clone())), presence).await?;
    Ok(())
}

/// `connect` makes both accounts subscribed to each other at once; `disconnect` removes each
/// from the other's roster. Both accounts must be local.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ManageAction {
    Connect,
    Disconnect,
}

/// The admin API's two-way change between two local accounts.
pub async fn manage(
    app: &AppState,
    a: &BareJid,
    b: &BareJid,
    action: ManageAction,
) -> Result<(), HttpError> {
    let local = |j: &BareJid| -> Result<String, HttpError> {
        app.server()
            .local_user(&Jid::from(j.clone()))
            .ok_or_else(|| HttpError::bad_request("Both accounts must be local"))
    };
    let (ua, ub) = (local(a)?, local(b)?);
    match action {
        ManageAction::Connect => {
            for (user, owner, other) in [(&ua, a, b), (&ub, b, a)] {
                if !in_roster(app, user, other).await? {
                    roster_set(app, owner, other, None).await?;
                }
            }
            let ctx = app.server();
            let both = State::new(Subscription::Both, false, false);
            for (user, other) in [(&ua, b), (&ub, a)] {
                let before = contacts::state(ctx, user, other.as_str())
                    .await
                    .map_err(|e| store_failed(user, e))?;
                contacts::record(ctx, user, other.as_str(), before, both, None)
                    .await
                    .map_err(|e| store_failed(user, e))?;
            }
            contacts::share(ctx, &ua, &Jid::from(b.clone()), Shown::Current).await;
            contacts::share(ctx, &ub, &Jid::from(a.clone()), Shown::Current).await;
        }
        ManageAction::Disconnect => {
            remove_contact(app, &ua, a, b).await?;
            remove_contact(app, &ub, b, a).await?;
        }
    }
    Ok(())
}

/// A roster set (or removal) for `owner`, answered by the roster service.
async fn roster_set(
    app: &AppState,
    owner: &BareJid,
    contact: &BareJid,
    subscription: Option<&str>,
) -> Result<(), HttpError> {
    let from =
        Jid::new(&format!("{owner}/api-{}", random_id())).map_err(|_| HttpError::internal())?;
    let id = random_id();
    let mut item = Element::bare("item", ns::ROSTER);
    stanza::set_attr(&mut item, "jid", contact.as_str());
    if let Some(subscription) = subscription {
        stanza::set_attr(&mut item, "subscription", subscription);
    }
    let mut iq = Element::builder("iq", ns::CLIENT)
        .append(Element::builder("query", ns::ROSTER).append(item).build())
        .build();
    stanza::set_attr(&mut iq, "type", "set");
    stanza::set_attr(&mut iq, "id", &id);
    stanza::set_attr(&mut iq, "from", from.as_str());
    let (guard, mut rx) = app
        .wait_for_reply(&from, &id, None)
        .ok_or_else(HttpError::internal)?;
    if let Outcome::Bounced(Some(_)) = submit(app, owner, None, iq).await? {
        return Err(HttpError::bad_request("The roster refused the change"));
    }
    let reply = tokio::time::timeout(ROSTER_WAIT, rx.recv()).await;
    drop(guard);
    match reply {
        Ok(Some(reply)) if reply.attr("type") == Some("result") => Ok(()),
        Ok(Some(_)) => Err(HttpError::bad_request("The roster refused the change")),
        Ok(None) | Err(_) => Err(HttpError::internal()),
    }
}
