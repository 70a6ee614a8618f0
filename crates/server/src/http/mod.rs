//! The HTTP surface on one axum router: `/rest` (stanzas over HTTP, mod_rest), `/msg`
//! (mod_post_msg), the admin API, `/xmpp-websocket` (RFC 7395) and `/health`.

pub mod access;
pub mod admin;
pub mod auth;
pub mod gate;
pub mod openapi;
pub mod post_msg;
pub mod rest;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router as HttpRouter;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::{get, post};

use crate::c2s::{C2sContext, websocket};
use crate::config::RestConfig;
use crate::ctx::Ctx;
use crate::webhook::Webhooks;

#[derive(Clone)]
pub struct AppState {
    /// The server's narrow context: delivery, accounts, sessions, configuration.
    pub server: Ctx,
    pub webhooks: Webhooks,
    pub c2s: Arc<C2sContext>,
    pub rest: RestConfig,
    pub gate: Arc<gate::Gate>,
}

pub fn app(state: AppState) -> HttpRouter {
    HttpRouter::new()
        .route("/rest", post(rest::post_root))
        .route("/rest/", post(rest::post_root))
        .route("/rest/echo", post(rest::post_echo))
        .route("/rest/openapi.json", get(openapi::serve))
        .route("/rest/{*path}", post(rest::post_path).get(rest::get_path))
        .route("/xmpp-websocket", get(ws))
        .route("/health", get(|| async { "ok" }))
        .merge(post_msg::routes())
        .merge(admin::routes())
        .merge(webhooks::routes())
        .with_state(state)
}

async fn ws(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> Response {
    websocket::upgrade(state.c2s.clone(), peer, upgrade).await
}
