//! `/api/admin/mucs/{host}`: MongooseIM's MUC administration on the XEP-0045 service (create
//! a room, invite, send as a user, kick an occupant) plus destroying a room.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use jid::BareJid;
use serde::Deserialize;
use switchboard_xmpp::client_api::SendRoomMessage;
use switchboard_xmpp::muc::RoomConfig;

use super::lookup::local_account;
use crate::http::api_input::{ApiJson, ApiPath};
use crate::http::caller::Admin;
use crate::http::error::HttpError;
use crate::http::room_ops::{self, room_error, service};
use crate::http::state::AppState;
use crate::ids::random_id;
use crate::services::muc::api::NewRoom;
use crate::services::muc::service::MucService;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/mucs/{host}", post(create))
        .route("/mucs/{host}/{room}", delete(destroy))
        .route("/mucs/{host}/{room}/participants", post(invite))
        .route("/mucs/{host}/{room}/messages", post(send))
        .route("/mucs/{host}/{room}/{nick}", delete(kick))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMuc {
    pub name: String,
    pub owner: String,
    /// MongooseIM joined the owner under this nick; here the owner joins when it chooses.
    #[serde(default)]
    pub nick: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    pub sender: String,
    pub recipient: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MucMessage {
    pub from: String,
    pub body: String,
}

/// The service, when `{host}` is its domain.
fn muc_at<'a>(app: &'a AppState, host: &str) -> Result<&'a MucService, HttpError> {
    let muc = service(app)?;
    if muc.domain() != host {
        return Err(HttpError::not_found(format!("Unknown MUC host {host}")));
    }
    Ok(muc)
}

fn room_at(muc: &MucService, room: &str) -> Result<BareJid, HttpError> {
    room_ops::room_jid(muc, room)
}

async fn create(
    State(app): State<AppState>,
    _: Admin,
    ApiPath(host): ApiPath<String>,
    ApiJson(spec): ApiJson<NewMuc>,
) -> Result<StatusCode, HttpError> {
    let muc = muc_at(&app, &host)?;
    let (owner, _) = local_account(&app, &spec.owner).await?;
    muc.create_room(NewRoom {
        name: Some(spec.name.clone()),
        owner,
        config: RoomConfig {
            name: spec.name,
            persistent: true,
            ..RoomConfig::default()
        },
        subject: String::new(),
        affiliations: Vec::new(),
    })
    .await
    .map_err(room_error)?;
    Ok(StatusCode::CREATED)
}

async fn invite(
    State(app): State<AppState>,
    _: Admin,
    ApiPath((host, room)): ApiPath<(String, String)>,
    ApiJson(invitation): ApiJson<Invitation>,
) -> Result<StatusCode, HttpError> {
    let muc = muc_at(&app, &host)?;
    let room = room_at(muc, &room)?;
    let (sender, _) = local_account(&app, &invitation.sender).await?;
    let recipient = crate::http::account_ops::bare(&invitation.recipient)?;
    muc.invite(&room, &sender, &recipient, invitation.reason.as_deref())
        .await
        .map_err(room_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn send(
    State(app): State<AppState>,
    _: Admin,
    ApiPath((host, room)): ApiPath<(String, String)>,
    ApiJson(message): ApiJson<MucMessage>,
) -> Result<StatusCode, HttpError> {
    let muc = muc_at(&app, &host)?;
    let room = room_at(muc, &room)?;
    let (from, _) = local_account(&app, &message.from).await?;
    let content = SendRoomMessage {
        body: Some(message.body),
        markable: false,
        chat_marker: None,
    }
    .to_element(&random_id())
    .map_err(|e| HttpError::bad_request(e.to_string()))?;
    muc.send(&room, &from, content).await.map_err(room_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn kick(
    State(app): State<AppState>,
    _: Admin,
    ApiPath((host, room, nick)): ApiPath<(String, String, String)>,
) -> Result<StatusCode, HttpError> {
    let muc = muc_at(&app, &host)?;
    let room = room_at(muc, &room)?;
    muc.kick(&room, None, &nick, None)
        .await
        .map_err(room_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn destroy(
    State(app): State<AppState>,
    _: Admin,
    ApiPath((host, room)): ApiPath<(String, String)>,
) -> Result<StatusCode, HttpError> {
    let muc = muc_at(&app, &host)?;
    let room = room_at(muc, &room)?;
    muc.destroy(&room, None, None, None)
        .await
        .map_err(room_error)?;
    Ok(StatusCode::NO_CONTENT)
}
