//! What the client API and the admin API share about group chat: the room service or a 404,
//! its refusals as statuses, and the event streams of members joining their rooms.

use std::sync::Arc;

use jid::{BareJid, Jid};
use minidom::Element;
use switchboard_xmpp::muc::MucError;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza;

use super::account_ops::submit;
use super::error::{HttpError, Kind};
use super::state::AppState;
use crate::services::muc::api::ApiError;
use crate::services::muc::service::MucService;

/// The resource prefix of event-stream sessions.
pub const SSE_RESOURCE: &str = "sse-";

/// The room service, or 404 when `muc.enabled` is off.
pub fn service(app: &AppState) -> Result<&Arc<MucService>, HttpError> {
    app.muc()
        .ok_or_else(|| HttpError::not_found("Group chat is disabled on this server"))
}

/// A room's JID from a bare id or a room JID on the service's domain.
pub fn room_jid(muc: &MucService, id: &str) -> Result<BareJid, HttpError> {
    muc.room_jid(id).map_err(room_error)
}

/// The room service's refusals as the client API's statuses.
pub fn room_error(e: ApiError) -> HttpError {
    match e {
        ApiError::NoSuchRoom => HttpError::not_found("Room not found"),
        ApiError::RoomExists => HttpError::new(Kind::Conflict, "Room already exists"),
        ApiError::BadName => HttpError::bad_request("Invalid room id"),
        ApiError::Disabled => HttpError::not_found("Group chat is disabled on this server"),
        ApiError::Refused(refusal) => {
            let text = refusal.to_string();
            match refusal {
                MucError::Forbidden(_)
                | MucError::NotAllowed(_)
                | MucError::NotAuthorized(_)
                | MucError::RegistrationRequired(_) => HttpError::forbidden(text),
                MucError::ItemNotFound(_) => HttpError::not_found(text),
                MucError::Conflict(_) => HttpError::new(Kind::Conflict, text),
                MucError::ResourceConstraint(_) | MucError::ServiceUnavailable(_) => {
                    HttpError::unavailable(text, std::time::Duration::from_secs(1))
                }
                MucError::Internal(_) => HttpError::internal(),
                MucError::BadRequest(_)
                | MucError::NotAcceptable(_)
                | MucError::FeatureNotImplemented(_) => HttpError::bad_request(text),
            }
        }
        ApiError::Store(e) => {
            tracing::error!(error = %e, "room storage unavailable");
            HttpError::internal()
        }
    }
}

/// The presence that joins `session` (a full JID) to `room` under `nick`, without history:
/// an event stream reads the room's archive over the API instead.
fn join_presence(session: &Jid, room: &BareJid, nick: &str) -> Option<(Jid, Element)> {
    let to = Jid::new(&format!("{room}/{nick}")).ok()?;
    let mut history = Element::bare("history", ns::MUC);
    stanza::set_attr(&mut history, "maxstanzas", "0");
    let mut presence = Element::builder("presence", ns::CLIENT)
        .append(Element::builder("x", ns::MUC).append(history).build())
        .build();
    stanza::set_attr(&mut presence, "from", session.as_str());
    stanza::set_attr(&mut presence, "to", to.as_str());
    Some((to, presence))
}

/// Joins the event-stream session `session` of `account` to `room` under the account's
/// localpart (another session of the same account may hold that nick: they share it).
pub async fn join(app: &AppState, account: &BareJid, session: &Jid, room: &BareJid) -> bool {
    let nick = account.node().map(|n| n.to_string()).unwrap_or_default();
    let Some((to, presence)) = join_presence(session, room, &nick) else {
        return false;
    };
    submit(app, account, Some(to), presence).await.is_ok()
}

/// Leaves `room` from `session`, as a client's unavailable presence would.
pub async fn leave(app: &AppState, account: &BareJid, session: &Jid, room: &BareJid) {
    let nick = account.node().map(|n| n.to_string()).unwrap_or_default();
    let Ok(to) = Jid::new(&format!("{room}/{nick}")) else {
        return;
    };
    let mut presence = Element::bare("presence", ns::CLIENT);
    stanza::set_attr(&mut presence, "type", "unavailable");
    stanza::set_attr(&mut presence, "from", session.as_str());
    stanza::set_attr(&mut presence, "to", to.as_str());
    if let Err(e) = submit(app, account, Some(to), presence).await {
        tracing::debug!(room = %room, error = e.text(), "event stream could not leave a room");
    }
}

/// Joins every open event stream of `user` to `room`: a member added while its streams are
/// open gets the room's messages at once.
pub async fn join_open_streams(app: &AppState, user: &BareJid, room: &BareJid) {
    let Some(name) = user.node() else {
        return;
    };
    if user.domain().as_str() != app.domain() {
        return;
    }
    for entry in app.server().sessions().resources(name.as_str()) {
        if entry.resource.starts_with(SSE_RESOURCE)
            && let Ok(session) = Jid::new(&format!("{user}/{}", entry.resource))
        {
            join(app, user, &session, room).await;
        }
    }
}
