//! The REST admin API: the admin commands of `services::commands` over HTTP, for the accounts
//! listed under `admins`.
//!
//! * `POST /rest/admin/{command}` with an optional JSON object of arguments
//!   (`{"user":"bob","host":"localhost","password":"x"}`), answering JSON;
//! * `POST /rest/admin` with an ejabberd mod_rest command line as the body
//!   (`register user12 localhost somepass`), answering `text/plain`. As in that seed, the line
//!   may start with `--auth USER HOST PASSWORD` instead of an `Authorization` header.
//!
//! Credentials are Basic or Bearer as for `/rest`; a caller who is not an admin gets 403.
//! The commands are the ones the XEP-0050 ad-hoc nodes run ([`commands::run`]).

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jid::Jid;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_xmpp::rest_error::RestError;

use super::AppState;
use super::auth::{self, Identity};
use crate::services::commands::{self, Args, Command, CommandError, Outcome};

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/rest/admin", post(command_line))
        .route("/rest/admin/{command}", post(json_command))
}

/// Why an admin request was refused.
#[derive(Debug)]
enum Failure {
    /// Missing (401) or rejected (403) credentials.
    Auth(RestError),
    NotAdmin,
    TooLarge,
    MediaType,
    BadRequest(String),
    Command(CommandError),
    /// `allowed_ips` or the rate limit, as for account credentials on `/rest`.
    Gate(super::gate::Refusal),
}

impl Failure {
    fn status(&self) -> StatusCode {
        let code = match self {
            Failure::Auth(e) => e.status(),
            Failure::NotAdmin => 403,
            Failure::TooLarge => 413,
            Failure::MediaType => 415,
            Failure::BadRequest(_) => 400,
            Failure::Command(e) => e.http_status(),
            Failure::Gate(refusal) => refusal.error.status(),
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn condition(&self) -> &'static str {
        match self {
            Failure::Auth(e) => e.condition(),
            Failure::NotAdmin => "forbidden",
            Failure::TooLarge => "resource-constraint",
            Failure::MediaType => "bad-format",
            Failure::BadRequest(_) => "bad-request",
            Failure::Command(e) => e.condition(),
            Failure::Gate(refusal) => refusal.error.condition(),
        }
    }

    fn text(&self) -> String {
        match self {
            Failure::Auth(e) => e.text().to_owned(),
            Failure::NotAdmin => "Admin commands are for the accounts listed under 'admins'".into(),
            Failure::TooLarge => "Payload too large".into(),
            Failure::MediaType => format!("Arguments must be sent as {JSON}"),
            Failure::BadRequest(why) => why.clone(),
            Failure::Command(e) => e.to_string(),
            Failure::Gate(refusal) => match &refusal.detail {
                Some(detail) => format!("{}: {detail}", refusal.error.text()),
                None => refusal.error.text().to_owned(),
            },
        }
    }

    fn respond(self, domain: &str, content_type: &'static str, body: String) -> Response {
        let status = self.status();

        let mut response = (status, [(CONTENT_TYPE, content_type)], body).into_response();
        if status == StatusCode::UNAUTHORIZED
            && let Ok(value) = HeaderValue::from_str(&auth::challenge(domain))
        {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        if let Failure::Gate(refusal) = &self {
            refusal.set_retry_after(response.headers_mut());
        }
        response
    }

    /// `{"type":"error","error":{"condition":…,"text":…},"code":N}`, as `/rest` errors.
    fn json_response(self, domain: &str) -> Response {
        let body = json!({
            "type": "error",
            "error": {"condition": self.condition(), "text": self.text(), "source": "switchboard"},
            "code": self.status().as_u16(),
        });
        self.respond(domain, JSON, body.to_string())
    }

    fn text_response(self, domain: &str) -> Response {
        let body = format!("{}\n", self.text());
        self.respond(domain, TEXT, body)
    }
}

/// The caller, who must be an admin, calling from an allowed address within the rate limit.
fn require_admin(
    app: &AppState,
    identity: Identity,
    headers: &HeaderMap,
    peer: IpAddr,
) -> Result<Identity, Failure> {
    if !app.server.is_admin(&identity.jid) {
        return Err(Failure::NotAdmin);
    }
    app.gate
        .screen(app.gate.account(identity.jid.clone()), headers, peer)
        .map_err(Failure::Gate)?;
    Ok(identity)
}

async fn header_identity(app: &AppState, headers: &HeaderMap) -> Result<Identity, Failure> {
    auth::authenticate(app.server.accounts(), app.server.domain(), headers)
        .await
        .map_err(Failure::Auth)
}

/// ejabberd's in-body `--auth USER HOST PASSWORD`.
async fn inline_identity(
    app: &AppState,
    user: &str,
    host: &str,
    password: &str,
) -> Result<Identity, Failure> {
    let accounts = app.server.accounts();
    let user = accounts
        .username(&format!("{user}@{host}"))
        .map_err(|_| Failure::Auth(RestError::Unauthz))?;
    match accounts.check_password(&user, password).await {
        Ok(true) => {}
        Ok(false) => return Err(Failure::Auth(RestError::Unauthz)),
        Err(_) => return Err(Failure::Auth(RestError::Internal)),
    }
    let jid = Jid::new(&format!("{user}@{}", app.server.domain()))
        .map_err(|_| Failure::Auth(RestError::PrepAuthz))?;
    Ok(Identity { user, jid })
}

async fn read_body(app: &AppState, body: Body) -> Result<axum::body::Bytes, Failure> {
    axum::body::to_bytes(body, app.rest.max_body_bytes)
        .await
        .map_err(|_| Failure::TooLarge)
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
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match run_json(&app, peer.ip(), &name, &headers, body).await {
        Ok((status, value)) => (status, [(CONTENT_TYPE, JSON)], value.to_string()).into_response(),
        Err(failure) => failure.json_response(app.server.domain()),
    }
}

async fn run_json(
    app: &AppState,
    peer: IpAddr,
    name: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(StatusCode, Value), Failure> {
    let identity = require_admin(app, header_identity(app, headers).await?, headers, peer)?;
    let command = Command::from_node(name)
        .ok_or_else(|| Failure::Command(CommandError::UnknownCommand(name.to_owned())))?;
    let bytes = read_body(app, body).await?;
    let args = json_args(headers, &bytes)?;
    let outcome = commands::run(&app.server, Some(&identity.jid), command, args)
        .await
        .map_err(Failure::Command)?;
    Ok(json_outcome(&outcome))
}

/// An empty body means no arguments; anything else must be a JSON object.
fn json_args(headers: &HeaderMap, bytes: &[u8]) -> Result<Args, Failure> {
    if bytes.trim_ascii().is_empty() {
        return Ok(Args::default());
    }
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case(JSON));
    if !is_json {
        return Err(Failure::MediaType);
    }
    let args: JsonArgs =
        serde_json::from_slice(bytes).map_err(|e| Failure::BadRequest(e.to_string()))?;
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
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match run_line(&app, peer.ip(), &headers, body).await {
        Ok((status, text)) => (status, [(CONTENT_TYPE, TEXT)], text).into_response(),
        Err(failure) => failure.text_response(app.server.domain()),
    }
}

async fn run_line(
    app: &AppState,
    peer: IpAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<(StatusCode, String), Failure> {
    let bytes = read_body(app, body).await?;
    let line = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::BadRequest("The command line is not UTF-8".into()))?;
    let mut words: Vec<&str> = line.split_whitespace().collect();
    let identity = match words.as_slice() {
        ["--auth", user, host, password, ..] => {
            let identity = inline_identity(app, user, host, password).await?;
            words.drain(..4);
            identity
        }
        ["--auth", ..] => {
            return Err(Failure::BadRequest(
                "usage: --auth USER HOST PASSWORD COMMAND [ARGS]".into(),
            ));
        }
        _ => header_identity(app, headers).await?,
    };
    let identity = require_admin(app, identity, headers, peer)?;
    let (command, args) = parse_line(&words)?;
    let outcome = commands::run(&app.server, Some(&identity.jid), command, args)
        .await
        .map_err(Failure::Command)?;
    Ok(text_outcome(&outcome))
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
fn parse_line(words: &[&str]) -> Result<(Command, Args), Failure> {
    let Some((name, rest)) = words.split_first() else {
        let all: Vec<&str> = Command::ALL.into_iter().map(usage).collect();
        return Err(Failure::BadRequest(format!(
            "No command given; one of: {}",
            all.join(", ")
        )));
    };
    let command = Command::from_node(name)
        .ok_or_else(|| Failure::Command(CommandError::UnknownCommand((*name).to_owned())))?;
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
            return Err(Failure::BadRequest(format!("usage: {}", usage(command))));
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

    fn parse(line: &str) -> Result<(Command, Args), Failure> {
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
        assert_eq!(parse("").unwrap_err().status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            parse("register user12 localhost").unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse("uptime now").unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse("stop_kindly").unwrap_err().status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn json_arguments_need_json() {
        let mut headers = HeaderMap::new();
        assert_eq!(json_args(&headers, b"").unwrap(), Args::default());
        assert!(matches!(
            json_args(&headers, b"{\"user\":\"bob\"}"),
            Err(Failure::MediaType)
        ));
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
        assert!(matches!(
            json_args(&headers, b"{\"usr\":\"bob\"}"),
            Err(Failure::BadRequest(_))
        ));
        assert!(matches!(
            json_args(&headers, b"[1]"),
            Err(Failure::BadRequest(_))
        ));
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
