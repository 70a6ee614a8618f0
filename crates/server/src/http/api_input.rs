//! What the client API (`/api`) and the admin API (`/api/admin`) read from a request: the
//! account calling, and JSON bodies, queries and paths refused with a JSON 400.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use jid::BareJid;
use serde::de::DeserializeOwned;

use super::error::HttpError;
use super::gate::Caller;
use super::state::AppState;

/// An account calling the client API (a REST component has no account to act for).
pub struct ApiUser {
    /// The nodeprep'd localpart.
    pub user: String,
    pub jid: BareJid,
    pub caller: Caller,
}

impl ApiUser {
    pub fn of(caller: Caller) -> Result<ApiUser, HttpError> {
        let jid = caller.jid.to_bare();
        let user = jid
            .node()
            .ok_or_else(|| HttpError::forbidden("The client API acts for accounts only"))?
            .to_string();
        Ok(ApiUser { user, jid, caller })
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, HttpError> {
        ApiUser::of(Caller::from_request_parts(parts, app).await?)
    }
}

/// A JSON body; anything else (no JSON type, bad syntax, wrong fields) is 400.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, HttpError> {
        axum::Json::<T>::from_request(request, state)
            .await
            .map(|axum::Json(value)| ApiJson(value))
            .map_err(|e: JsonRejection| {
                HttpError::bad_request(format!("Invalid request body: {}", e.body_text()))
            })
    }
}

/// A query string; values of the wrong type are 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|e: QueryRejection| HttpError::bad_request(e.body_text()))
    }
}

/// Path parameters; values of the wrong type are 400.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|e: PathRejection| HttpError::bad_request(e.body_text()))
    }
}
