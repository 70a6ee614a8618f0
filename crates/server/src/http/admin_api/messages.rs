//! `POST /api/admin/messages` (send as an account) and `GET /api/admin/messages/{owner}[/{with}]`
//! (an account's archive in MongooseIM's admin shape, newest first).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use jid::Jid;
use serde::{Deserialize, Serialize};
use switchboard_xmpp::client_api::SendMessage;

use super::lookup::local_account;
use crate::http::account_ops::{self, HistoryQuery};
use crate::http::api_input::{ApiJson, ApiPath, ApiQuery};
use crate::http::caller::Admin;
use crate::http::error::HttpError;
use crate::http::state::AppState;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/messages", post(send))
        .route("/messages/{owner}", get(all))
        .route("/messages/{owner}/{with}", get(with))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminMessage {
    /// The local account the message is sent as.
    pub caller: String,
    pub to: String,
    pub body: String,
}

/// One archived message as MongooseIM's admin API lists it.
#[derive(Serialize)]
pub struct ArchivedMessage {
    pub sender: String,
    /// Unix seconds.
    pub timestamp: i64,
    pub message_id: String,
    pub body: String,
}

async fn send(
    State(app): State<AppState>,
    _: Admin,
    ApiJson(request): ApiJson<AdminMessage>,
) -> Result<StatusCode, HttpError> {
    let (from, _) = local_account(&app, &request.caller).await?;
    let message = SendMessage {
        to: request.to,
        body: request.body,
        thread: None,
        markable: false,
        properties: Default::default(),
    };
    account_ops::send_message(&app, &from, &message).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn all(
    State(app): State<AppState>,
    _: Admin,
    ApiPath(owner): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Vec<ArchivedMessage>>, HttpError> {
    page(&app, &owner, None, &query).await
}

async fn with(
    State(app): State<AppState>,
    _: Admin,
    ApiPath((owner, with)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Vec<ArchivedMessage>>, HttpError> {
    let with = Jid::new(&with).map_err(|_| HttpError::bad_request("Invalid JID"))?;
    page(&app, &owner, Some(&with), &query).await
}

async fn page(
    app: &AppState,
    owner: &str,
    with: Option<&Jid>,
    query: &HistoryQuery,
) -> Result<Json<Vec<ArchivedMessage>>, HttpError> {
    let (_, user) = local_account(app, owner).await?;
    let messages = account_ops::history(app, &user, with, query).await?;
    Ok(Json(
        messages
            .iter()
            .map(|(archived, el)| {
                let recv = account_ops::recv_message(archived, el, false);
                ArchivedMessage {
                    sender: recv.from,
                    timestamp: archived.at.timestamp(),
                    message_id: recv.id,
                    body: recv.body.unwrap_or_default(),
                }
            })
            .collect(),
    ))
}
