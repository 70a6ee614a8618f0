//! The client REST API in MongooseIM 6.5's shapes, under `/api` and again under `/api/v1`:
//! messages and history, contacts, rooms (group chat) and the event stream; see
//! docs/client-api.md.

pub mod contacts;
pub mod messages;
pub mod rooms;
pub mod sse;

use axum::Router;

use super::state::AppState;

/// The routes answered within `http.request_timeout_secs`, under both prefixes.
pub fn routes() -> Router<AppState> {
    let api = Router::new()
        .merge(messages::routes())
        .merge(contacts::routes())
        .merge(rooms::routes());
    Router::new().nest("/api", api.clone()).nest("/api/v1", api)
}

/// The event stream, which lives as long as its client stays, under both prefixes.
pub fn streams() -> Router<AppState> {
    Router::new()
        .nest("/api", sse::routes())
        .nest("/api/v1", sse::routes())
}
