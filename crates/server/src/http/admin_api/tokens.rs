//! `POST /api/admin/tokens/{user}` issues a bearer token with a scope (`user` by default,
//! least privilege); `DELETE /api/admin/tokens` with `{"token"}` revokes one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use serde::{Deserialize, Serialize};

use super::lookup::{account_error, local_account};
use crate::http::api_input::{ApiJson, ApiPath};
use crate::http::caller::Admin;
use crate::http::error::HttpError;
use crate::http::state::AppState;
use crate::storage::TokenScope;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/tokens/{user}", post(create))
        .route("/tokens", delete(revoke))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    #[serde(default)]
    pub scope: TokenScope,
}

#[derive(Serialize)]
pub struct IssuedToken {
    pub token: String,
    pub scope: TokenScope,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    pub token: String,
}

async fn create(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(user): ApiPath<String>,
    ApiJson(request): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<IssuedToken>), HttpError> {
    let (jid, user) = local_account(&app, &user).await?;
    let token = app
        .accounts()
        .create_token(&user, request.scope)
        .await
        .map_err(account_error)?;
    tracing::info!(admin = %admin.jid, account = %jid, scope = request.scope.as_str(), "token issued");
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            token,
            scope: request.scope,
        }),
    ))
}

async fn revoke(
    State(app): State<AppState>,
    _: Admin,
    ApiJson(request): ApiJson<Revoke>,
) -> Result<StatusCode, HttpError> {
    if app
        .accounts()
        .revoke_token(&request.token)
        .await
        .map_err(account_error)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(HttpError::not_found("No such token"))
    }
}
