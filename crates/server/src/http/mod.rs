//! The HTTP side: `/rest` (stanzas over HTTP, mod_rest), `/msg` (mod_post_msg), the admin API,
//! `/metrics`, `/xmpp-websocket` (RFC 7395) with its AsyncAPI document, `/health` and an
//! optional static app at `/`, behind one edge.
//!
//! The edge: [`listener`] bounds connections; [`layers`] wraps every route (access log and
//! metrics from [`observe`], span, timeouts, concurrency, panics, masked credentials);
//! [`surface`] gives each API its CORS headers and error style ([`error`]); every caller passes
//! the [`gate`] through the extractors of [`caller`].

pub mod access;
pub mod account_ops;
pub mod admin;
pub mod admin_api;
pub mod api_input;
pub mod app_login;
pub mod body;
pub mod caller;
pub mod client_api;
pub mod cors;
pub mod credentials;
pub mod error;
pub mod gate;
pub mod layers;
pub mod listener;
pub mod observe;
pub mod openapi;
pub mod post_msg;
pub mod rest;
pub mod room_ops;
pub mod state;
pub mod surface;
pub mod tls;
pub mod upload;
pub mod webhooks;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;

use crate::c2s::websocket;
use crate::config::HttpConfig;
use state::AppState;

/// The whole HTTP app. Requests time out after `http.request_timeout_secs`, except that an iq
/// sent over `/rest` may also wait up to `rest.iq_max_timeout_secs` for its reply, and a file
/// upload or download takes up to `upload.transfer_timeout_secs`.
pub fn app(state: AppState, http: &HttpConfig) -> Result<Router, String> {
    if http.request_timeout_secs == 0 || http.body_timeout_secs == 0 {
        return Err(
            "http.request_timeout_secs and http.body_timeout_secs must be at least 1".into(),
        );
    }
    if http.max_concurrent_requests == 0 {
        return Err("http.max_concurrent_requests must be at least 1".into());
    }
    let request_timeout = Duration::from_secs(http.request_timeout_secs);
    let iq_wait = Duration::from_secs(state.rest.iq_max_timeout_secs);
    let stanzas = layers::timeout(rest::routes(), request_timeout + iq_wait);
    let others = Router::new()
        .route("/rest/openapi.json", get(openapi::serve))
        .route("/api/openapi.json", get(openapi::serve_api))
        .route("/health", get(|| async { "ok" }))
        .merge(post_msg::routes())
        .merge(admin::routes())
        .merge(webhooks::routes())
        .merge(client_api::routes())
        .merge(admin_api::routes())
        .merge(app_login::routes());
    // The upgrade is answered at once; the WebSocket session then lives outside any request,
    // as an event stream lives as long as its client reads.
    let upgrades = Router::new()
        .route("/xmpp-websocket", get(ws))
        .merge(client_api::streams());
    let mut routes = Router::new()
        .merge(stanzas)
        .merge(layers::timeout(others, request_timeout))
        .merge(upgrades);
    if let Some(transfer) = state.transfer_timeout() {
        routes = routes.merge(layers::timeout(upload::routes(), transfer));
    }
    if let Some(dir) = &http.static_dir {
        if !dir.is_dir() {
            return Err(format!(
                "http.static_dir: {} is not a directory",
                dir.display()
            ));
        }
        // ServeDir lists no directory, serves index.html for one, refuses paths that leave
        // the directory, and sets Content-Type from the file's extension.
        routes = routes.fallback_service(tower_http::services::ServeDir::new(dir));
    }
    Ok(layers::around(routes, state.edge(), http.max_concurrent_requests).with_state(state))
}

/// The stream's client is the address a trusted proxy forwarded for, as on every other route,
/// so that its failed logins are counted against it and not against the proxy.
async fn ws(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let client = SocketAddr::new(state.gate().client_ip(peer.ip(), &headers), peer.port());
    websocket::upgrade(state.c2s.clone(), client, &headers, upgrade).await
}
