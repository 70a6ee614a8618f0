//! The admin REST API under `/api/admin`, MongooseIM 6.5's admin paths after that prefix:
//! users, sessions, messages, stanzas, contacts, rooms, tokens, webhooks, a metrics summary.
//! Only admins (`admins`, with a password or an `admin`-scoped token); every call is logged.

pub mod contacts;
pub mod lookup;
pub mod messages;
pub mod metrics;
pub mod muc;
pub mod sessions;
pub mod stanzas;
pub mod tokens;
pub mod users;
pub mod webhooks;

use axum::Router;

use super::state::AppState;

pub fn routes() -> Router<AppState> {
    let admin = Router::new()
        .merge(users::routes())
        .merge(sessions::routes())
        .merge(messages::routes())
        .merge(stanzas::routes())
        .merge(contacts::routes())
        .merge(tokens::routes())
        .merge(webhooks::routes())
        .merge(metrics::routes())
        .merge(muc::routes());
    Router::new().nest("/api/admin", admin)
}
