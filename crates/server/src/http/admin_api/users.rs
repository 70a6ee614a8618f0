//! `/api/admin/users/{host}`: list and register accounts; `/{user}`: change a password, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use serde::Deserialize;

use super::lookup::{account_error, served};
use crate::http::api_input::{ApiJson, ApiPath};
use crate::http::caller::Admin;
use crate::http::error::HttpError;
use crate::http::state::AppState;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/users/{host}", get(list).post(create))
        .route("/users/{host}/{user}", put(password).delete(delete))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub newpass: String,
}

async fn list(
    State(app): State<AppState>,
    _: Admin,
    ApiPath(host): ApiPath<String>,
) -> Result<Json<Vec<String>>, HttpError> {
    served(&app, &host)?;
    let users = app.accounts().list_users().await.map_err(account_error)?;
    Ok(Json(
        users.into_iter().map(|u| format!("{u}@{host}")).collect(),
    ))
}

async fn create(
    State(app): State<AppState>,
    _: Admin,
    ApiPath(host): ApiPath<String>,
    ApiJson(user): ApiJson<NewUser>,
) -> Result<StatusCode, HttpError> {
    served(&app, &host)?;
    app.accounts()
        .add_user(&user.username, &user.password)
        .await
        .map_err(account_error)?;
    Ok(StatusCode::CREATED)
}

async fn password(
    State(app): State<AppState>,
    _: Admin,
    ApiPath((host, user)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<NewPassword>,
) -> Result<StatusCode, HttpError> {
    served(&app, &host)?;
    app.accounts()
        .set_password(&user, &request.newpass)
        .await
        .map_err(account_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath((host, user)): ApiPath<(String, String)>,
) -> Result<StatusCode, HttpError> {
    served(&app, &host)?;
    // An admin deleting itself would lock the API's last user out mid-session.
    let own = app.accounts().username(&user).ok() == admin.jid.node().map(|n| n.to_string());
    if own {
        return Err(HttpError::forbidden(
            "An admin cannot delete its own account here",
        ));
    }
    app.accounts()
        .delete_user(&user)
        .await
        .map_err(account_error)?;
    Ok(StatusCode::NO_CONTENT)
}
