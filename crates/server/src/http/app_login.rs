//! What a browser app needs beside `/xmpp-websocket`: the AsyncAPI description of the
//! WebSocket chat (`/asyncapi.json`, `.yaml`) and the development login (`POST /dev/login`).

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::state::AppState;
use crate::auth::jwt;

/// The AsyncAPI 3.0 document of `/xmpp-websocket`, as served at `/asyncapi.json`.
pub const ASYNCAPI: &str = include_str!("asyncapi.json");

/// How long a development login lasts.
const DEV_LOGIN_TTL: Duration = Duration::from_secs(12 * 3600);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/asyncapi.json", get(asyncapi_json))
        .route("/asyncapi.yaml", get(asyncapi_yaml))
        .route("/dev/login", post(dev_login))
}

async fn asyncapi_json() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], ASYNCAPI)
}

async fn asyncapi_yaml() -> Response {
    match serde_json::from_str::<Value>(ASYNCAPI) {
        Ok(document) => ([(CONTENT_TYPE, "application/yaml")], to_yaml(&document)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the built-in AsyncAPI document does not parse");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// YAML 1.2 in block style: mappings and sequences nested by indentation, every key and
/// scalar written as JSON writes it (a JSON string is a YAML double-quoted scalar).
pub fn to_yaml(value: &Value) -> String {
    fn scalar(value: &Value) -> String {
        match value {
            Value::Array(items) if items.is_empty() => "[]".into(),
            Value::Object(map) if map.is_empty() => "{}".into(),
            other => other.to_string(),
        }
    }
    fn is_block(value: &Value) -> bool {
        match value {
            Value::Array(items) => !items.is_empty(),
            Value::Object(map) => !map.is_empty(),
            _ => false,
        }
    }
    fn write(value: &Value, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, item) in map {
                    let key = Value::from(key.as_str()).to_string();
                    if is_block(item) {
                        out.push_str(&format!("{pad}{key}:\n"));
                        write(item, indent + 2, out);
                    } else {
                        out.push_str(&format!("{pad}{key}: {}\n", scalar(item)));
                    }
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for item in items {
                    if is_block(item) {
                        out.push_str(&format!("{pad}-\n"));
                        write(item, indent + 2, out);
                    } else {
                        out.push_str(&format!("{pad}- {}\n", scalar(item)));
                    }
                }
            }
            other => out.push_str(&format!("{pad}{}\n", scalar(other))),
        }
    }
    let mut out = String::new();
    write(value, 0, &mut out);
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevLogin {
    user: String,
}

/// Development only (`auth.jwt.dev_login`): a token for any account, without a password, set
/// as the login cookie and returned. Answered only to loopback clients; 403 while off.
async fn dev_login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(request): Json<DevLogin>,
) -> Response {
    let config = state.c2s.server.config();
    let settings = &config.auth.jwt;
    if !settings.dev_login || !settings.enabled() {
        return refused(
            StatusCode::FORBIDDEN,
            "development logins are off (auth.jwt.dev_login)",
        );
    }
    if !peer.ip().is_loopback() {
        return refused(
            StatusCode::FORBIDDEN,
            "development logins are for loopback clients only",
        );
    }
    let Ok(user) = state.c2s.server.accounts().username(&request.user) else {
        return refused(StatusCode::BAD_REQUEST, "not a username of this server");
    };
    let token = match jwt::sign(settings, &user, DEV_LOGIN_TTL) {
        Ok(token) => token,
        Err(e) => {
            tracing::error!(error = %e, "cannot sign a development login");
            return refused(StatusCode::INTERNAL_SERVER_ERROR, "cannot sign a token");
        }
    };
    let cookie = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        settings.cookie_name,
        DEV_LOGIN_TTL.as_secs()
    );
    let Ok(cookie) = HeaderValue::from_str(&cookie) else {
        return refused(StatusCode::INTERNAL_SERVER_ERROR, "cannot set the cookie");
    };
    tracing::warn!(%user, "development login issued (auth.jwt.dev_login)");
    let jid = format!("{user}@{}", config.domain);
    let body = serde_json::json!({ "jid": jid, "token": token });
    ([(SET_COOKIE, cookie)], Json(body)).into_response()
}

fn refused(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_nests_blocks_and_quotes_scalars() {
        let value = serde_json::json!({
            "a": { "b": [1, "two: 2", { "c": true }], "e": [], "f": {} },
            "g": null
        });
        assert_eq!(
            to_yaml(&value),
            "\"a\":\n  \"b\":\n    - 1\n    - \"two: 2\"\n    -\n      \"c\": true\n  \"e\": []\n  \"f\": {}\n\"g\": null\n"
        );
    }

    #[test]
    fn the_document_is_asyncapi_3() {
        let document: Value = serde_json::from_str(ASYNCAPI).unwrap();
        assert_eq!(document["asyncapi"], "3.0.0");
    }
}
