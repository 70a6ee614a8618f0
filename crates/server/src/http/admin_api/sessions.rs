//! `/api/admin/sessions/{host}`: every bound resource; `/{user}/{resource}`: kick one.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use switchboard_xmpp::stanza::StreamCondition;

use super::lookup::served;
use crate::http::api_input::ApiPath;
use crate::http::caller::Admin;
use crate::http::error::HttpError;
use crate::http::state::AppState;
use crate::sessions::SessionMsg;

const KICK_WAIT: Duration = Duration::from_secs(5);

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/sessions/{host}", get(list))
        .route("/sessions/{host}/{user}/{resource}", delete(kick))
}

async fn list(
    State(app): State<AppState>,
    _: Admin,
    ApiPath(host): ApiPath<String>,
) -> Result<Json<Vec<String>>, HttpError> {
    served(&app, &host)?;
    let sessions = app.server().sessions();
    let mut list = Vec::new();
    for (user, _) in sessions.users() {
        for entry in sessions.resources(&user) {
            list.push(format!("{user}@{host}/{}", entry.resource));
        }
    }
    Ok(Json(list))
}

async fn kick(
    State(app): State<AppState>,
    _: Admin,
    ApiPath((host, user, resource)): ApiPath<(String, String, String)>,
) -> Result<StatusCode, HttpError> {
    served(&app, &host)?;
    let entry = app
        .server()
        .sessions()
        .resource(&user, &resource)
        .ok_or_else(|| HttpError::not_found("No such session"))?;
    let kick = SessionMsg::Kick(
        StreamCondition::PolicyViolation,
        "Kicked by an administrator",
    );
    // A session behind on its mailbox gets a moment to take the kick; one that ended
    // meanwhile is gone anyway. The answer waits until the session is unbound, so that what
    // the caller lists next no longer shows it.
    let sessions = app.server().sessions();
    let gone = async {
        let _ = entry.tx.send(kick).await;
        while sessions.session(&user, entry.id).is_some() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    match tokio::time::timeout(KICK_WAIT, gone).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(_) => Err(HttpError::unavailable(
            "The session is not reading its mailbox",
            KICK_WAIT,
        )),
    }
}
