//! `GET /api/admin/metrics`: a JSON summary of what `/metrics` exposes in detail (sessions,
//! accounts online, stored offline messages, archive size, uptime).

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;

use crate::http::caller::Admin;
use crate::http::error::HttpError;
use crate::http::state::AppState;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/metrics", get(summary))
}

#[derive(Serialize)]
pub struct Summary {
    pub uptime_secs: u64,
    pub sessions: usize,
    pub online_users: usize,
    pub offline_messages: u64,
    pub archived_messages: u64,
}

async fn summary(State(app): State<AppState>, _: Admin) -> Result<Json<Summary>, HttpError> {
    let server = app.server();
    let failed = |e: crate::storage::StoreError| {
        tracing::error!(error = %e, "cannot read the totals");
        HttpError::internal()
    };
    let offline = server.store().offline_totals().await.map_err(failed)?;
    let archived = server.store().archive_total().await.map_err(failed)?;
    Ok(Json(Summary {
        uptime_secs: server.uptime().as_secs(),
        sessions: server.sessions().count(),
        online_users: server.sessions().users().len(),
        offline_messages: offline.messages,
        archived_messages: archived,
    }))
}
