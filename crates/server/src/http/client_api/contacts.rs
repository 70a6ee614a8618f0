//! `/api/contacts`: the caller's roster and subscriptions, changed through the roster service
//! and the router so that connected clients see roster pushes and presence (RFC 6121).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use serde::{Deserialize, Serialize};

use crate::http::account_ops::{self, Contact, ContactAction};
use crate::http::api_input::{ApiJson, ApiPath, ApiUser};
use crate::http::error::HttpError;
use crate::http::state::AppState;

/// Contacts one `DELETE /api/contacts` may name.
const MAX_DELETE: usize = 1000;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/contacts", get(list).post(add).delete(delete_many))
        .route("/contacts/{jid}", put(act).delete(delete_one))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    pub jid: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub action: ContactAction,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToDelete {
    pub to_delete: Vec<String>,
}

#[derive(Serialize)]
pub struct NotDeleted {
    pub not_deleted: Vec<String>,
}

async fn list(
    State(app): State<AppState>,
    caller: ApiUser,
) -> Result<Json<Vec<Contact>>, HttpError> {
    Ok(Json(account_ops::contacts(&app, &caller.user).await?))
}

async fn add(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiJson(request): ApiJson<NewContact>,
) -> Result<StatusCode, HttpError> {
    let contact = account_ops::contact_jid(&app, &request.jid).await?;
    account_ops::add_contact(&app, &caller.jid, &contact).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn act(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiPath(jid): ApiPath<String>,
    ApiJson(request): ApiJson<Action>,
) -> Result<StatusCode, HttpError> {
    let contact = account_ops::bare(&jid)?;
    account_ops::contact_action(&app, &caller.user, &caller.jid, &contact, request.action).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_one(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiPath(jid): ApiPath<String>,
) -> Result<StatusCode, HttpError> {
    let contact = account_ops::bare(&jid)?;
    if account_ops::remove_contact(&app, &caller.user, &caller.jid, &contact).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(HttpError::not_found("Contact not in the roster"))
    }
}

async fn delete_many(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiJson(request): ApiJson<ToDelete>,
) -> Result<Json<NotDeleted>, HttpError> {
    if request.to_delete.len() > MAX_DELETE {
        return Err(HttpError::bad_request(format!(
            "At most {MAX_DELETE} contacts per request"
        )));
    }
    let mut not_deleted = Vec::new();
    for jid in request.to_delete {
        let removed = match account_ops::bare(&jid) {
            Ok(contact) => {
                account_ops::remove_contact(&app, &caller.user, &caller.jid, &contact).await?
            }
            Err(_) => false,
        };
        if !removed {
            not_deleted.push(jid);
        }
    }
    Ok(Json(NotDeleted { not_deleted }))
}
