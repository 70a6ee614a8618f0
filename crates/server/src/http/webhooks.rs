//! Webhook administration over HTTP for the accounts listed under `admins` (dead letters and
//! their re-drive, account callbacks), and `/metrics` in the Prometheus text format.
//!
//! * `GET /rest/admin/webhooks/dead-letters`
//! * `POST /rest/admin/webhooks/dead-letters/{delivery_id}/redrive`
//! * `GET /rest/admin/webhooks/users`
//! * `PUT /rest/admin/webhooks/users/{jid}` with `{"url": …, "content_type"?, "stanzas"?,
//!   "events"?, "secret"?}`, answering the signing key; `DELETE` removes the callback.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use switchboard_xmpp::rest_error::RestError;

use super::AppState;
use super::auth;
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

/// Why a request was refused; rendered like the other admin errors.
#[derive(Debug)]
enum Failure {
    Auth(RestError),
    NotAdmin,
    NotFound(String),
    BadRequest(String),
    Conflict(String),
    Internal,
}

impl Failure {
    fn response(self, domain: &str) -> Response {
        let (status, condition, text) = match self {
            Failure::Auth(e) => (e.status(), e.condition(), e.text().to_owned()),
            Failure::NotAdmin => (
                403,
                "forbidden",
                "Webhook administration is for the accounts listed under 'admins'".to_owned(),
            ),
            Failure::NotFound(text) => (404, "item-not-found", text),
            Failure::BadRequest(text) => (400, "bad-request", text),
            Failure::Conflict(text) => (409, "conflict", text),
            Failure::Internal => (
                500,
                "internal-server-error",
                "Internal server error".to_owned(),
            ),
        };
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({
            "type": "error",
            "error": {"condition": condition, "text": text, "source": "switchboard"},
            "code": status.as_u16(),
        });
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED
            && let Ok(value) = HeaderValue::from_str(&auth::challenge(domain))
        {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl From<WebhookError> for Failure {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Invalid(text) => Failure::BadRequest(text),
            WebhookError::NoSuchUser => Failure::NotFound("No such account".into()),
            e @ WebhookError::Configured(_) => Failure::Conflict(e.to_string()),
            e => {
                tracing::error!(error = %e, "webhook administration failed");
                Failure::Internal
            }
        }
    }
}

/// The caller must be an admin; the server must have its webhooks (it always has once started).
async fn admin(app: &AppState, headers: &HeaderMap) -> Result<Webhooks, Failure> {
    let identity = auth::authenticate(app.server.accounts(), app.server.domain(), headers)
        .await
        .map_err(Failure::Auth)?;
    if !app.server.is_admin(&identity.jid) {
        return Err(Failure::NotAdmin);
    }
    Ok(app.webhooks.clone())
}

fn respond(app: &AppState, result: Result<Response, Failure>) -> Response {
    result.unwrap_or_else(|failure| failure.response(app.server.domain()))
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

async fn metrics(State(app): State<AppState>) -> Response {
    let text = app.webhooks.metrics_text().await;
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn dead_letters(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        let hooks = admin(&app, &headers).await?;
        let letters = hooks
            .dead_letters(DEAD_LETTER_PAGE)
            .await
            .map_err(|e| Failure::from(WebhookError::from(e)))?;
        let list: Vec<Value> = letters.iter().map(entry_json).collect();
        Ok(Json(json!({ "dead_letters": list })).into_response())
    }
    .await;
    respond(&app, result)
}

async fn redrive(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let hooks = admin(&app, &headers).await?;
        let done = hooks
            .redrive(&id)
            .await
            .map_err(|e| Failure::from(WebhookError::from(e)))?;
        if !done {
            return Err(Failure::NotFound(format!("No dead letter with id '{id}'")));
        }
        Ok(Json(json!({ "redriven": id })).into_response())
    }
    .await;
    respond(&app, result)
}

async fn list_users(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        let hooks = admin(&app, &headers).await?;
        Ok(Json(json!({ "users": hooks.user_registrations() })).into_response())
    }
    .await;
    respond(&app, result)
}

async fn register(
    State(app): State<AppState>,
    Path(jid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let hooks = admin(&app, &headers).await?;
        let bytes = axum::body::to_bytes(body, app.rest.max_body_bytes)
            .await
            .map_err(|_| Failure::BadRequest("Payload too large".into()))?;
        let request: UserCallbackRequest = serde_json::from_slice(&bytes)
            .map_err(|e| Failure::BadRequest(format!("Invalid JSON: {e}")))?;
        let secret = hooks.register_user(&jid, request).await?;
        Ok(Json(json!({ "jid": jid, "secret": secret })).into_response())
    }
    .await;
    respond(&app, result)
}

async fn unregister(
    State(app): State<AppState>,
    Path(jid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let hooks = admin(&app, &headers).await?;
        if !hooks.unregister_user(&jid).await? {
            return Err(Failure::NotFound(format!(
                "{jid} has no registered callback"
            )));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    respond(&app, result)
}
