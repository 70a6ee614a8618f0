//! `/api/admin/contacts/{user}`: an account's contacts, changed as the account would change
//! them; `…/{contact}/manage` connects or disconnects two local accounts both ways at once.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use serde::Deserialize;

use super::lookup::local_account;
use crate::http::account_ops::{self, Contact, ManageAction};
use crate::http::api_input::{ApiJson, ApiPath};
use crate::http::caller::Admin;
use crate::http::client_api::contacts::{Action, NewContact};
use crate::http::error::HttpError;
use crate::http::state::AppState;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/contacts/{user}", get(list).post(add))
        .route("/contacts/{user}/{contact}", put(act).delete(remove))
        .route("/contacts/{user}/{contact}/manage", put(manage))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manage {
    pub action: ManageAction,
}

async fn list(
    State(app): State<AppState>,
    _: Admin,
    ApiPath(user): ApiPath<String>,
) -> Result<Json<Vec<Contact>>, HttpError> {
    let (_, user) = local_account(&app, &user).await?;
    Ok(Json(account_ops::contacts(&app, &user).await?))
}

async fn add(
    State(app): State<AppState>,
    _: Admin,
    ApiPath(user): ApiPath<String>,
    ApiJson(request): ApiJson<NewContact>,
) -> Result<StatusCode, HttpError> {
    let (owner, _) = local_account(&app, &user).await?;
    let contact = account_ops::contact_jid(&app, &request.jid).await?;
    account_ops::add_contact(&app, &owner, &contact).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn act(
    State(app): State<AppState>,
    _: Admin,
    ApiPath((user, contact)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<Action>,
) -> Result<StatusCode, HttpError> {
    let (owner, user) = local_account(&app, &user).await?;
    let contact = account_ops::bare(&contact)?;
    account_ops::contact_action(&app, &user, &owner, &contact, request.action).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove(
    State(app): State<AppState>,
    _: Admin,
    ApiPath((user, contact)): ApiPath<(String, String)>,
) -> Result<StatusCode, HttpError> {
    let (owner, user) = local_account(&app, &user).await?;
    let contact = account_ops::bare(&contact)?;
    if account_ops::remove_contact(&app, &user, &owner, &contact).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(HttpError::not_found("Contact not in the roster"))
    }
}

async fn manage(
    State(app): State<AppState>,
    _: Admin,
    ApiPath((user, contact)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<Manage>,
) -> Result<StatusCode, HttpError> {
    let (a, _) = local_account(&app, &user).await?;
    let (b, _) = local_account(&app, &contact).await?;
    if a == b {
        return Err(HttpError::bad_request("An account is not its own contact"));
    }
    account_ops::manage(&app, &a, &b, request.action).await?;
    Ok(StatusCode::NO_CONTENT)
}
