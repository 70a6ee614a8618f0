//! `/api/rooms`: MongooseIM's rooms on the XEP-0045 service, as persistent members-only rooms
//! named `group-<uuid>`; every call goes through the room service's in-process API, so joined
//! occupants over XMPP see the same changes and messages.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use jid::BareJid;
use serde::{Deserialize, Serialize};
use switchboard_xmpp::client_api::{RecvRoomMessage, SendRoomMessage};
use switchboard_xmpp::muc::{Affiliation, RoomConfig, Whois};

use crate::http::account_ops;
use crate::http::api_input::{ApiJson, ApiPath, ApiQuery, ApiUser};
use crate::http::error::HttpError;
use crate::http::room_ops::{self, room_error, room_jid, service};
use crate::http::state::AppState;
use crate::ids::random_id;
use crate::services::muc::api::{ApiError, ArchiveFrom, NewRoom, RoomMessage};

/// Room messages one request returns at most (MongooseIM's bound).
const MAX_LIMIT: usize = 500;
/// Pages read at most to find the messages before a timestamp.
const MAX_SCAN_PAGES: usize = 20;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/rooms", get(list).post(create))
        .route("/rooms/{id}", get(details).put(create_named))
        .route("/rooms/{id}/config", put(configure))
        .route("/rooms/{id}/users", post(add_user))
        .route("/rooms/{id}/users/{user}", delete(remove_user))
        .route("/rooms/{id}/messages", get(messages).post(send))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomSpec {
    pub name: String,
    pub subject: String,
}

#[derive(Serialize)]
pub struct RoomId {
    pub id: String,
}

#[derive(Serialize)]
pub struct RoomListed {
    pub id: String,
    pub name: String,
    pub subject: String,
}

#[derive(Serialize)]
pub struct Participant {
    pub user: String,
    /// `owner` or `member`.
    pub role: &'static str,
}

#[derive(Serialize)]
pub struct RoomInfo {
    pub name: String,
    pub subject: String,
    pub participants: Vec<Participant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub user: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RoomHistory {
    pub limit: Option<usize>,
    /// Unix milliseconds: only messages strictly before.
    pub before: Option<i64>,
    pub before_id: Option<String>,
    pub after_id: Option<String>,
}

fn localpart(room: &BareJid) -> String {
    room.node().map(|n| n.to_string()).unwrap_or_default()
}

/// MongooseIM's rooms: persistent, members-only, members see each other's JIDs.
fn room_config(name: &str) -> RoomConfig {
    RoomConfig {
        name: name.to_owned(),
        persistent: true,
        public: false,
        members_only: true,
        whois: Whois::Anyone,
        ..RoomConfig::default()
    }
}

async fn create(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiJson(spec): ApiJson<RoomSpec>,
) -> Result<(StatusCode, Json<RoomId>), HttpError> {
    let muc = service(&app)?;
    let room = muc
        .create_room(NewRoom {
            name: None,
            owner: caller.jid.clone(),
            config: room_config(&spec.name),
            subject: spec.subject,
            affiliations: Vec::new(),
        })
        .await
        .map_err(room_error)?;
    room_ops::join_open_streams(&app, &caller.jid, &room).await;
    Ok((
        StatusCode::CREATED,
        Json(RoomId {
            id: localpart(&room),
        }),
    ))
}

/// `PUT /api/rooms/{id}`: a room with the name the client chose (MongooseIM: 403 when taken).
async fn create_named(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(spec): ApiJson<RoomSpec>,
) -> Result<(StatusCode, Json<RoomId>), HttpError> {
    let muc = service(&app)?;
    let name = room_jid(muc, &id)?;
    let room = muc
        .create_room(NewRoom {
            name: name.node().map(|n| n.to_string()),
            owner: caller.jid.clone(),
            config: room_config(&spec.name),
            subject: spec.subject,
            affiliations: Vec::new(),
        })
        .await
        .map_err(|e| match e {
            ApiError::RoomExists => HttpError::forbidden("Room already exists"),
            e => room_error(e),
        })?;
    room_ops::join_open_streams(&app, &caller.jid, &room).await;
    Ok((
        StatusCode::CREATED,
        Json(RoomId {
            id: localpart(&room),
        }),
    ))
}

async fn list(
    State(app): State<AppState>,
    caller: ApiUser,
) -> Result<Json<Vec<RoomListed>>, HttpError> {
    let muc = service(&app)?;
    let rooms = muc.rooms_of(&caller.jid).await.map_err(room_error)?;
    Ok(Json(
        rooms
            .into_iter()
            .filter(|r| r.affiliation >= Affiliation::Member)
            .map(|r| RoomListed {
                id: localpart(&r.jid),
                name: r.name,
                subject: r.subject,
            })
            .collect(),
    ))
}

/// The caller's affiliation must make it a participant (member, admin or owner).
async fn participant(
    app: &AppState,
    caller: &ApiUser,
    id: &str,
) -> Result<(BareJid, Affiliation), HttpError> {
    let muc = service(app)?;
    let room = room_jid(muc, id)?;
    let details = muc.room(&room).await.map_err(room_error)?;
    let affiliation = details
        .affiliations
        .iter()
        .find(|(jid, _)| *jid == caller.jid)
        .map_or(Affiliation::None, |(_, a)| *a);
    if affiliation < Affiliation::Member {
        return Err(HttpError::forbidden("Not a participant of this room"));
    }
    Ok((room, affiliation))
}

async fn details(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RoomInfo>, HttpError> {
    let (room, _) = participant(&app, &caller, &id).await?;
    let details = service(&app)?.room(&room).await.map_err(room_error)?;
    Ok(Json(RoomInfo {
        name: details.config.name,
        subject: details.subject,
        participants: details
            .affiliations
            .into_iter()
            .filter(|(_, a)| *a >= Affiliation::Member)
            .map(|(user, a)| Participant {
                user: user.to_string(),
                role: if a == Affiliation::Owner {
                    "owner"
                } else {
                    "member"
                },
            })
            .collect(),
    }))
}

async fn configure(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(spec): ApiJson<RoomSpec>,
) -> Result<StatusCode, HttpError> {
    let muc = service(&app)?;
    let (room, _) = participant(&app, &caller, &id).await?;
    let mut config = muc.room(&room).await.map_err(room_error)?.config;
    config.name = spec.name;
    muc.configure(&room, Some(&caller.jid), config)
        .await
        .map_err(room_error)?;
    // Owners only, as checked by the configuration just accepted.
    muc.set_subject(&room, None, &spec.subject)
        .await
        .map_err(room_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_user(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(member): ApiJson<NewMember>,
) -> Result<StatusCode, HttpError> {
    let muc = service(&app)?;
    let (room, _) = participant(&app, &caller, &id).await?;
    let user = account_ops::contact_jid(&app, &member.user).await?;
    muc.set_affiliation(&room, Some(&caller.jid), &user, Affiliation::Member)
        .await
        .map_err(room_error)?;
    room_ops::join_open_streams(&app, &user, &room).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_user(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiPath((id, user)): ApiPath<(String, String)>,
) -> Result<StatusCode, HttpError> {
    let muc = service(&app)?;
    let (room, affiliation) = participant(&app, &caller, &id).await?;
    let user = account_ops::bare(&user)?;
    // A member may remove itself; removing others takes the room's own rules.
    let actor = if user == caller.jid && affiliation < Affiliation::Admin {
        None
    } else {
        Some(&caller.jid)
    };
    muc.set_affiliation(&room, actor, &user, Affiliation::None)
        .await
        .map_err(room_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn send(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<SendRoomMessage>,
) -> Result<Json<RoomId>, HttpError> {
    let muc = service(&app)?;
    let room = room_jid(muc, &id)?;
    let message = request
        .to_element(&random_id())
        .map_err(|e| HttpError::bad_request(e.to_string()))?;
    let id = muc
        .send(&room, &caller.jid, message)
        .await
        .map_err(room_error)?;
    Ok(Json(RoomId { id }))
}

/// MongooseIM's shape of an archived room message: `from` is the sender's bare JID.
pub fn recv_room_message(message: &RoomMessage) -> RecvRoomMessage {
    let from = message
        .sender
        .as_ref()
        .map_or_else(|| message.nick.clone(), ToString::to_string);
    RecvRoomMessage::of(
        &message.stanza,
        &message.id,
        &from,
        message.at.timestamp_millis(),
    )
}

async fn messages(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RoomHistory>,
) -> Result<Json<Vec<RecvRoomMessage>>, HttpError> {
    let muc = service(&app)?;
    let room = room_jid(muc, &id)?;
    let limit = query.limit.unwrap_or(account_ops::DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(HttpError::bad_request(format!(
            "Invalid limit: at most {MAX_LIMIT}"
        )));
    }
    let mut from = match (query.before_id, query.after_id) {
        (Some(_), Some(_)) => {
            return Err(HttpError::bad_request(
                "before_id and after_id exclude each other in rooms",
            ));
        }
        (Some(id), None) => ArchiveFrom::Before(id),
        (None, Some(id)) => ArchiveFrom::After(id),
        (None, None) => ArchiveFrom::Newest,
    };
    let forwards = matches!(from, ArchiveFrom::After(_));
    let mut out: Vec<RecvRoomMessage> = Vec::new();
    for _ in 0..MAX_SCAN_PAGES {
        if out.len() >= limit {
            break;
        }
        let page = muc
            .messages(&room, Some(&caller.jid), from.clone(), limit)
            .await
            .map_err(room_error)?;
        let mut batch: Vec<&RoomMessage> = page.messages.iter().collect();
        if !forwards {
            batch.reverse();
        }
        let edge = batch.last().map(|m| m.id.clone());
        out.extend(
            batch
                .into_iter()
                .filter(|m| query.before.is_none_or(|b| m.at.timestamp_millis() < b))
                .map(recv_room_message),
        );
        match edge {
            Some(edge) if !page.complete && query.before.is_some() && !forwards => {
                from = ArchiveFrom::Before(edge);
            }
            _ => break,
        }
    }
    out.truncate(limit);
    if forwards {
        out.reverse();
    }
    Ok(Json(out))
}
