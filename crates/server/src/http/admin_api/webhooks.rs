//! `/api/admin/webhooks/…`: the webhook administration of `/rest/admin/webhooks/…` (dead
//! letters, re-drive, account callbacks) under the admin API, with its error bodies.

use axum::routing::{get, post, put};

use crate::http::state::AppState;
use crate::http::webhooks::{dead_letters, list_users, redrive, register, unregister};

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/webhooks/dead-letters", get(dead_letters))
        .route("/webhooks/dead-letters/{id}/redrive", post(redrive))
        .route("/webhooks/users", get(list_users))
        .route("/webhooks/users/{jid}", put(register).delete(unregister))
}
