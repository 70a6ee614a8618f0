//! The HTTP surface on one axum router: `/rest` (stanzas over HTTP), `/xmpp-websocket`
//! (RFC 7395) and `/health`.

pub mod auth;
pub mod rest;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router as HttpRouter;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::{get, post};

use crate::c2s::{C2sContext, websocket};
use crate::config::RestConfig;
use crate::router::Router;

#[derive(Clone)]
pub struct AppState {
    pub router: Router,
    pub c2s: Arc<C2sContext>,
    pub rest: RestConfig,
}

pub fn app(state: AppState) -> HttpRouter {
    HttpRouter::new()
        .route("/rest", post(rest::post))
        .route("/xmpp-websocket", get(ws))
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
}

async fn ws(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> Response {
    websocket::upgrade(state.c2s.clone(), peer, upgrade).await
}
