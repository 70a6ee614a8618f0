//! The REST admin API: the admin commands of `services::commands` over HTTP, for the accounts
//! listed under `admins`.
//!
//! * `POST /rest/admin/{command}` with an optional JSON object of arguments
//!   (`{"user":"bob","host":"localhost","password":"x"}`), answering JSON;
//! * `POST /rest/admin` with an ejabberd mod_rest command line as the body
//!   (`register user12 localhost somepass`), answering `text/plain`. As in that seed, the line
//!   may start with `--auth USER HOST PASSWORD` instead of an `Authorization` header.
//!
//! The gate is the one of `/rest` (IP rule, credentials, rate limit); a caller who is not an
//! admin then gets 403.
//! The commands are the ones the XEP-0050 ad-hoc nodes run
//! ([`crate::services::commands::run`]).

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_xmpp::rest_error::RestError;

use super::body::read_body;
use super::caller::{Admin, Visitor};
use super::credentials::Authorization;
use super::error::HttpError;
use super::state::AppState;
use crate::services::commands::{Args, Command, CommandError, Outcome};

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/rest/admin", post(command_line))
        .route("/rest/admin/{command}", post(json_command))
}

async fn read(app: &AppState, body: Body) -> Result<Bytes, HttpError> {
    read_body(body, app.rest.max_body_bytes, app.body_timeout).await
}

// ---------------------------------------------------------------------------------------------
// POST /rest/admin/{command}: JSON

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonArgs {
    user: Option<String>,
    host: Option<String>,
    password: Option<String>,
}

async fn json_command(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let command = Command::from_node(&name).ok_or(CommandError::UnknownCommand(name))?;
    let bytes = read(&app, body).await?;
    let args = json_args(&headers, &bytes)?;
    let outcome = app.run_command(&admin.jid, command, args).await?;
    let (status, value) = json_outcome(&outcome);
    Ok((status, [(CONTENT_TYPE, JSON)], value.to_string()).into_response())
}

/// An empty body means no arguments; anything else must be a JSON object.
fn json_args(headers: &HeaderMap, bytes: &[u8]) -> Result<Args, HttpError> {
    if bytes.trim_ascii().is_empty() {
        return Ok(Args::default());
    }
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case(JSON));
    if !is_json {
        return Err(HttpError::from(RestError::MediaType)
            .with_detail(format!("arguments must be sent as {JSON}")));
    }
    let args: JsonArgs =
        serde_json::from_slice(bytes).map_err(|e| HttpError::bad_request(e.to_string()))?;
    Ok(Args {
        user: args.user,
        host: args.host,
        password: args.password,
    })
}

fn json_outcome(outcome: &Outcome) -> (StatusCode, Value) {
    match outcome {
        Outcome::Uptime(uptime) => (StatusCode::OK, json!({"seconds": uptime.as_secs()})),
        Outcome::RegisteredUsers(jids) | Outcome::ConnectedUsers(jids) => {
            (StatusCode::OK, json!(jids))
        }
        Outcome::Registered(_) => (StatusCode::CREATED, json!({"ok": true})),
        Outcome::Unregistered(_) | Outcome::PasswordChanged(_) => {
            (StatusCode::OK, json!({"ok": true}))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// POST /rest/admin: ejabberd command mode

async fn command_line(
    State(app): State<AppState>,
    visitor: Visitor,
    body: Body,
) -> Result<Response, HttpError> {
    let bytes = read(&app, body).await?;
    let line = std::str::from_utf8(&bytes)
        .map_err(|_| HttpError::bad_request("The command line is not UTF-8"))?;
    let mut words: Vec<&str> = line.split_whitespace().collect();
    // ejabberd's in-body credentials stand in for the Authorization header.
    let visitor = match words.as_slice() {
        ["--auth", user, host, password, ..] => {
            let credentials = Authorization::basic(&format!("{user}@{host}"), password);
            words.drain(..4);
            visitor.presenting(credentials)
        }
        ["--auth", ..] => {
            return Err(HttpError::bad_request(
                "usage: --auth USER HOST PASSWORD COMMAND [ARGS]",
            ));
        }
        _ => visitor,
    };
    let Admin(admin) = Admin::check(&app, visitor.admit(&app).await?)?;
    let (command, args) = parse_line(&words)?;
    let outcome = app.run_command(&admin.jid, command, args).await?;
    let (status, text) = text_outcome(&outcome);
    Ok((status, [(CONTENT_TYPE, TEXT)], text).into_response())
}

fn usage(command: Command) -> &'static str {
    match command {
        Command::Uptime => "uptime",
        Command::RegisteredUsers => "registered_users HOST",
        Command::Register => "register USER HOST PASSWORD",
        Command::Unregister => "unregister USER HOST",
        Command::ChangePassword => "change_password USER HOST NEWPASS",
        Command::ConnectedUsers => "connected_users",
    }
}

/// `COMMAND ARGS…` as ejabberdctl takes them.
fn parse_line(words: &[&str]) -> Result<(Command, Args), HttpError> {
    let Some((name, rest)) = words.split_first() else {
        let all: Vec<&str> = Command::ALL.into_iter().map(usage).collect();
        return Err(HttpError::bad_request(format!(
            "No command given; one of: {}",
            all.join(", ")
        )));
    };
    let command =
        Command::from_node(name).ok_or_else(|| CommandError::UnknownCommand((*name).to_owned()))?;
    let some = |s: &str| Some(s.to_owned());
    let args = match (command, rest) {
        (Command::Uptime | Command::ConnectedUsers | Command::RegisteredUsers, []) => {
            Args::default()
        }
        (Command::RegisteredUsers, [host]) => Args {
            host: some(host),
            ..Args::default()
        },
        (Command::Register | Command::ChangePassword, [user, host, password]) => Args {
            user: some(user),
            host: some(host),
            password: some(password),
        },
        (Command::Unregister, [user, host]) => Args {
            user: some(user),
            host: some(host),
            password: None,
        },
        _ => {
            return Err(HttpError::bad_request(format!("usage: {}", usage(command))));
        }
    };
    Ok((command, args))
}

/// One JID per line for the lists; the command's note otherwise.
fn text_outcome(outcome: &Outcome) -> (StatusCode, String) {
    let status = match outcome {
        Outcome::Registered(_) => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    let text = match outcome.jids() {
        Some(jids) => jids.iter().map(|j| format!("{j}\n")).collect(),
        None => format!("{}\n", outcome.note()),
    };
    (status, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::HeaderValue;

    use crate::http::error::{Kind, Style};

    fn parse(line: &str) -> Result<(Command, Args), HttpError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        parse_line(&words)
    }

    #[test]
    fn seed_command_lines_parse() {
        let (command, args) = parse("registered_users localhost").unwrap();
        assert_eq!(command, Command::RegisteredUsers);
        assert_eq!(args.host.as_deref(), Some("localhost"));
        let (command, args) = parse("register user12 localhost somepass").unwrap();
        assert_eq!(command, Command::Register);
        assert_eq!(
            args,
            Args {
                user: Some("user12".into()),
                host: Some("localhost".into()),
                password: Some("somepass".into()),
            }
        );
        let (command, args) = parse("unregister user12 localhost\n").unwrap();
        assert_eq!(command, Command::Unregister);
        assert_eq!(args.password, None);
        assert_eq!(
            parse("change_password user12 localhost new").unwrap().0,
            Command::ChangePassword
        );
        assert_eq!(parse("connected_users").unwrap().0, Command::ConnectedUsers);
        assert_eq!(parse("uptime").unwrap().0, Command::Uptime);
    }

    #[test]
    fn bad_command_lines_are_refused() {
        assert_eq!(
            parse("").unwrap_err().status(Style::AdminText),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse("register user12 localhost")
                .unwrap_err()
                .status(Style::AdminText),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse("uptime now").unwrap_err().status(Style::AdminText),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse("stop_kindly").unwrap_err().status(Style::AdminText),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn json_arguments_need_json() {
        let mut headers = HeaderMap::new();
        assert_eq!(json_args(&headers, b"").unwrap(), Args::default());
        assert_eq!(
            json_args(&headers, b"{\"user\":\"bob\"}")
                .unwrap_err()
                .kind(),
            Kind::Rest(RestError::MediaType)
        );
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert_eq!(
            json_args(&headers, b"{\"user\":\"bob\"}")
                .unwrap()
                .user
                .as_deref(),
            Some("bob")
        );
        for bad in [&b"{\"usr\":\"bob\"}"[..], b"[1]"] {
            assert_eq!(
                json_args(&headers, bad).unwrap_err().kind(),
                Kind::BadRequest
            );
        }
    }

    #[test]
    fn outcomes_render() {
        let (status, text) = text_outcome(&Outcome::RegisteredUsers(vec![
            "a@localhost".into(),
            "b@localhost".into(),
        ]));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(text, "a@localhost\nb@localhost\n");
        let (status, value) = json_outcome(&Outcome::Registered("c@localhost".into()));
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(value, json!({"ok": true}));
        let (_, value) = json_outcome(&Outcome::Uptime(std::time::Duration::from_secs(7)));
        assert_eq!(value, json!({"seconds": 7}));
    }
}
