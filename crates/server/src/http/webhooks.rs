//! Webhook administration over HTTP for the accounts listed under `admins` (dead letters and
//! their re-drive, account callbacks), and `/metrics` in the Prometheus text format (gated by
//! `http.metrics_allowed_ips` alone: scrapers have no credentials).
//!
//! * `GET /rest/admin/webhooks/dead-letters`
//! * `POST /rest/admin/webhooks/dead-letters/{delivery_id}/redrive`
//! * `GET /rest/admin/webhooks/users`
//! * `PUT /rest/admin/webhooks/users/{jid}` with `{"url": …, "content_type"?, "stanzas"?,
//!   "events"?, "secret"?}`, answering the signing key; `DELETE` removes the callback.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::body::read_body;
use super::caller::{Admin, Monitor};
use super::error::{HttpError, Kind};
use super::state::AppState;
use crate::storage::OutboxEntry;
use crate::webhook::{UserCallbackRequest, WebhookError, Webhooks};

/// Dead letters listed at most per request; the CLI shows the same window.
pub const DEAD_LETTER_PAGE: usize = 1000;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/rest/admin/webhooks/dead-letters", get(dead_letters))
        .route(
            "/rest/admin/webhooks/dead-letters/{id}/redrive",
            post(redrive),
        )
        .route("/rest/admin/webhooks/users", get(list_users))
        .route(
            "/rest/admin/webhooks/users/{jid}",
            put(register).delete(unregister),
        )
}

impl From<WebhookError> for HttpError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Invalid(text) => HttpError::bad_request(text),
            WebhookError::NoSuchUser => HttpError::not_found("No such account"),
            e @ WebhookError::Configured(_) => HttpError::new(Kind::Conflict, e.to_string()),
            e => {
                tracing::error!(error = %e, "webhook administration failed");
                HttpError::internal()
            }
        }
    }
}

/// The server's webhooks.
fn hooks(app: &AppState) -> Result<&Webhooks, HttpError> {
    Ok(app.webhooks())
}

fn entry_json(entry: &OutboxEntry) -> Value {
    use crate::webhook::rfc3339 as time;
    json!({
        "id": entry.delivery_id,
        "callback": entry.owner,
        "to": entry.destination,
        "kind": entry.kind,
        "attempts": entry.attempts,
        "created_at": time(entry.created_at),
        "dead_at": entry.dead_at.and_then(time),
        "last_status": entry.last_status,
        "last_error": entry.last_error,
        "stanza": entry.stanza,
    })
}

/// `/metrics` in the Prometheus text format, for the addresses in `http.metrics_allowed_ips`.
async fn metrics(State(app): State<AppState>, _: Monitor) -> Response {
    let text = app.scrape().await;
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

pub async fn dead_letters(State(app): State<AppState>, _: Admin) -> Result<Response, HttpError> {
    let letters = hooks(&app)?
        .dead_letters(DEAD_LETTER_PAGE)
        .await
        .map_err(WebhookError::from)?;
    let list: Vec<Value> = letters.iter().map(entry_json).collect();
    Ok(Json(json!({ "dead_letters": list })).into_response())
}

pub async fn redrive(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    let done = hooks(&app)?
        .redrive(&id)
        .await
        .map_err(WebhookError::from)?;
    if !done {
        return Err(HttpError::not_found(format!(
            "No dead letter with id '{id}'"
        )));
    }
    Ok(Json(json!({ "redriven": id })).into_response())
}

pub async fn list_users(State(app): State<AppState>, _: Admin) -> Result<Response, HttpError> {
    Ok(Json(json!({ "users": hooks(&app)?.user_registrations() })).into_response())
}

pub async fn register(
    State(app): State<AppState>,
    _: Admin,
    Path(jid): Path<String>,
    body: Body,
) -> Result<Response, HttpError> {
    let bytes = read_body(body, app.rest.max_body_bytes, app.body_timeout).await?;
    let request: UserCallbackRequest = serde_json::from_slice(&bytes)
        .map_err(|e| HttpError::bad_request(format!("Invalid JSON: {e}")))?;
    let secret = hooks(&app)?.register_user(&jid, request).await?;
    Ok(Json(json!({ "jid": jid, "secret": secret })).into_response())
}

pub async fn unregister(
    State(app): State<AppState>,
    _: Admin,
    Path(jid): Path<String>,
) -> Result<Response, HttpError> {
    if !hooks(&app)?.unregister_user(&jid).await? {
        return Err(HttpError::not_found(format!(
            "{jid} has no registered callback"
        )));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
