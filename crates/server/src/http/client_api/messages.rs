//! `POST /api/messages` (send a chat message as the caller) and `GET /api/messages[/{with}]`
//! (the caller's archive, newest first, with time and stanza-id cursors).

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use jid::Jid;
use serde_json::{Value, json};
use switchboard_xmpp::client_api::{RecvMessage, SendMessage};

use crate::http::account_ops::{self, HistoryQuery};
use crate::http::api_input::{ApiJson, ApiPath, ApiQuery, ApiUser};
use crate::http::error::HttpError;
use crate::http::state::AppState;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/messages", get(all).post(send))
        .route("/messages/{with}", get(with))
}

async fn send(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiJson(request): ApiJson<SendMessage>,
) -> Result<Json<Value>, HttpError> {
    let id = account_ops::send_message(&app, &caller.jid, &request).await?;
    Ok(Json(json!({ "id": id })))
}

async fn all(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Vec<RecvMessage>>, HttpError> {
    page(&app, &caller, None, &query).await
}

async fn with(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiPath(with): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Vec<RecvMessage>>, HttpError> {
    let with = Jid::new(&with).map_err(|_| HttpError::bad_request("Invalid JID"))?;
    page(&app, &caller, Some(&with), &query).await
}

async fn page(
    app: &AppState,
    caller: &ApiUser,
    with: Option<&Jid>,
    query: &HistoryQuery,
) -> Result<Json<Vec<RecvMessage>>, HttpError> {
    let messages = account_ops::history(app, &caller.user, with, query).await?;
    Ok(Json(
        messages
            .iter()
            .map(|(archived, el)| account_ops::recv_message(archived, el, query.typed))
            .collect(),
    ))
}
