//! The one error type of the HTTP side: every refusal and failure on every surface, written in
//! that surface's style (mod_rest bodies on `/rest`, a line of text on `/msg`, JSON for admins).

use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchboard_xmpp::rest_codec::{self, MediaType, RequestError};
use switchboard_xmpp::rest_error::RestError;

use crate::services::commands::CommandError;

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

/// What went wrong, independent of how a surface writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An entry of mod_rest's error table. Credentials, access rules, rate limits, bodies and
    /// the server's own limits are reported with these on every surface.
    Rest(RestError),
    /// 400 `bad-request`: arguments or a body the surface cannot use.
    BadRequest,
    /// 403 `forbidden`: an authenticated caller who may not do this (not an admin).
    Forbidden,
    /// 404 `item-not-found`.
    NotFound,
    /// 409 `conflict`.
    Conflict,
    /// 422 with the named condition (`jid-malformed`, `not-acceptable`, `improper-addressing`).
    Unprocessable(&'static str),
}

/// How a surface writes its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// mod_rest (§7): the error table's body in the negotiated format.
    Rest(MediaType),
    /// mod_post_msg: one line of text; every refused credential is 401.
    PostMsg,
    /// The admin APIs: `{"type":"error","error":{"condition":…,"text":…},"code":N}`.
    AdminJson,
    /// ejabberd's command mode: one line of text.
    AdminText,
    /// `/api` and `/api/admin`, as MongooseIM's REST APIs: the text as a JSON string; every
    /// refused credential is 401.
    Api,
    /// Everything else (`/metrics`, refused connections): the text.
    Plain,
}

/// A refused or failed HTTP request. Handlers and extractors return it; the edge middleware
/// writes it in the style of the surface that was called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    kind: Kind,
    /// Appended to a mod_rest error's text; the whole text of the other kinds.
    detail: Option<String>,
    retry_after: Option<Duration>,
}

impl HttpError {
    pub fn new(kind: Kind, detail: impl Into<String>) -> HttpError {
        HttpError {
            kind,
            detail: Some(detail.into()),
            retry_after: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> HttpError {
        HttpError::new(Kind::BadRequest, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> HttpError {
        HttpError::new(Kind::Forbidden, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> HttpError {
        HttpError::new(Kind::NotFound, detail)
    }

    pub fn internal() -> HttpError {
        HttpError::from(RestError::Internal)
    }

    /// 503 for a request the server will not take now; the client may retry after `wait`.
    pub fn unavailable(detail: impl Into<String>, wait: Duration) -> HttpError {
        HttpError::new(Kind::Rest(RestError::Unavailable), detail).retry_after(wait)
    }

    /// Appends `detail` to the text (mod_rest's `text: detail`).
    pub fn with_detail(mut self, detail: impl Into<String>) -> HttpError {
        self.detail = Some(detail.into());
        self
    }

    pub fn retry_after(mut self, wait: Duration) -> HttpError {
        self.retry_after = Some(wait);
        self
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Refused credentials (missing, malformed, unknown or wrong), which mod_post_msg answers
    /// with 401 where mod_rest has 401 and 403.
    fn is_credential_refusal(&self) -> bool {
        matches!(
            self.kind,
            Kind::Rest(
                RestError::NoAuthz
                    | RestError::Unauthz
                    | RestError::MalformAuthz
                    | RestError::PrepAuthz
            )
        )
    }

    pub fn status(&self, style: Style) -> StatusCode {
        if matches!(style, Style::PostMsg | Style::Api) && self.is_credential_refusal() {
            return StatusCode::UNAUTHORIZED;
        }
        let code = match self.kind {
            Kind::Rest(error) => error.status(),
            Kind::BadRequest => 400,
            Kind::Forbidden => 403,
            Kind::NotFound => 404,
            Kind::Conflict => 409,
            Kind::Unprocessable(_) => 422,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn condition(&self) -> &'static str {
        match self.kind {
            Kind::Rest(error) => error.condition(),
            Kind::BadRequest => "bad-request",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "item-not-found",
            Kind::Conflict => "conflict",
            Kind::Unprocessable(condition) => condition,
        }
    }

    pub fn text(&self) -> String {
        match (self.kind, &self.detail) {
            (Kind::Rest(error), Some(detail)) => format!("{}: {detail}", error.text()),
            (Kind::Rest(error), None) => error.text().to_owned(),
            (_, Some(detail)) => detail.clone(),
            (_, None) => self
                .status(Style::Plain)
                .canonical_reason()
                .unwrap_or("Error")
                .to_owned(),
        }
    }

    /// Writes the error into `response` in `style`: status, body, `Content-Type`, and the
    /// only places where `Retry-After` and `WWW-Authenticate` are set. Other headers already
    /// on the response (CORS) stay.
    pub fn render(&self, style: Style, challenge: Option<&HeaderValue>, response: &mut Response) {
        let status = self.status(style);
        let (content_type, body): (&str, Vec<u8>) = match (style, self.kind) {
            (Style::Rest(media), Kind::Rest(error)) => (
                media.mime(),
                rest_codec::encode_error(media, error, self.detail.as_deref()),
            ),
            (Style::Rest(_) | Style::AdminJson, _) => (JSON, self.json(status).into_bytes()),
            (Style::PostMsg, _) if self.is_credential_refusal() => {
                (TEXT, b"Credentials missing or not accepted".to_vec())
            }
            (Style::PostMsg | Style::Plain, _) => (TEXT, self.text().into_bytes()),
            (Style::AdminText, _) => (TEXT, format!("{}\n", self.text()).into_bytes()),
            (Style::Api, _) => (JSON, json!(self.text()).to_string().into_bytes()),
        };
        *response.status_mut() = status;
        *response.body_mut() = Body::from(body);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up, so that a client never retries too early.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED
            && let Some(challenge) = challenge
        {
            headers.insert(WWW_AUTHENTICATE, challenge.clone());
        }
    }

    /// The admin APIs' body, shaped like mod_rest's JSON errors.
    fn json(&self, status: StatusCode) -> String {
        json!({
            "type": "error",
            "error": {"condition": self.condition(), "text": self.text(), "source": "switchboard"},
            "code": status.as_u16(),
        })
        .to_string()
    }
}

/// A plain rendering, carrying the error itself so that the edge middleware can write it in
/// the style of the surface.
impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        self.render(Style::Plain, None, &mut response);
        response.extensions_mut().insert(self);
        response
    }
}

impl From<RestError> for HttpError {
    fn from(error: RestError) -> HttpError {
        HttpError {
            kind: Kind::Rest(error),
            detail: None,
            retry_after: None,
        }
    }
}

impl From<RequestError> for HttpError {
    fn from(e: RequestError) -> HttpError {
        HttpError {
            kind: Kind::Rest(e.error),
            detail: e.detail,
            retry_after: None,
        }
    }
}

/// The REST admin API's statuses for the admin commands.
impl From<CommandError> for HttpError {
    fn from(e: CommandError) -> HttpError {
        let kind = match &e {
            CommandError::Forbidden(_) => Kind::Forbidden,
            CommandError::UnknownCommand(_)
            | CommandError::UnknownHost(_)
            | CommandError::NoSuchUser(_) => Kind::NotFound,
            CommandError::MissingArgument(_) => Kind::BadRequest,
            CommandError::Exists(_) => Kind::Conflict,
            CommandError::InvalidUser(_) => Kind::Unprocessable("jid-malformed"),
            CommandError::BadPassword(_) => Kind::Unprocessable("not-acceptable"),
            CommandError::Internal => return HttpError::internal(),
        };
        HttpError::new(kind, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(error: &HttpError, style: Style) -> (StatusCode, Response) {
        let mut response = Response::new(Body::empty());
        let challenge = HeaderValue::from_static("Basic realm=\"x\"");
        error.render(style, Some(&challenge), &mut response);
        (response.status(), response)
    }

    async fn body_text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn rest_style_uses_the_negotiated_mod_rest_body() {
        let error = HttpError::from(RestError::To).with_detail("x@@y");
        let (status, response) = rendered(&error, Style::Rest(MediaType::Json));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let body: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(body["error"]["condition"], "improper-addressing");
        assert_eq!(body["error"]["type"], "modify");
        assert_eq!(body["error"]["text"], "Invalid destination JID: x@@y");
        assert_eq!(body["code"], 422);

        let (_, response) = rendered(&error, Style::Rest(MediaType::Xml));
        assert_eq!(response.headers()[CONTENT_TYPE], "application/xmpp+xml");
        assert!(body_text(response).await.contains("<improper-addressing"));
    }

    #[tokio::test]
    async fn post_msg_answers_every_refused_credential_with_401() {
        for error in [
            RestError::NoAuthz,
            RestError::Unauthz,
            RestError::MalformAuthz,
            RestError::PrepAuthz,
        ] {
            let (status, response) = rendered(&HttpError::from(error), Style::PostMsg);
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{error:?}");
            assert_eq!(response.headers()[WWW_AUTHENTICATE], "Basic realm=\"x\"");
            assert_eq!(
                body_text(response).await,
                "Credentials missing or not accepted"
            );
        }
        // mod_rest keeps 403 for wrong credentials, without a challenge.
        let (status, response) = rendered(
            &HttpError::from(RestError::Unauthz),
            Style::Rest(MediaType::Json),
        );
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(!response.headers().contains_key(WWW_AUTHENTICATE));
        // Other refusals keep their status on /msg.
        let forbidden = HttpError::from(RestError::Forbidden).with_detail("refused by allowed_ips");
        let (status, response) = rendered(&forbidden, Style::PostMsg);
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body_text(response).await,
            "Refused by an access rule: refused by allowed_ips"
        );
    }

    #[tokio::test]
    async fn admin_styles() {
        let error = HttpError::from(CommandError::Exists("bob@localhost".into()));
        let (status, response) = rendered(&error, Style::AdminJson);
        assert_eq!(status, StatusCode::CONFLICT);
        let body: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(
            body,
            json!({"type": "error", "code": 409, "error": {"condition": "conflict",
                   "text": "user bob@localhost already exists", "source": "switchboard"}})
        );
        let (_, response) = rendered(&error, Style::AdminText);
        assert_eq!(response.headers()[CONTENT_TYPE], TEXT);
        assert_eq!(
            body_text(response).await,
            "user bob@localhost already exists\n"
        );
        // A non-mod_rest kind on /rest falls back to the admin JSON shape.
        let (status, response) = rendered(&HttpError::not_found("no"), Style::Rest(MediaType::Xml));
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[CONTENT_TYPE], JSON);
    }

    #[tokio::test]
    async fn api_style_is_a_json_string_and_401_for_credentials() {
        let (status, response) = rendered(&HttpError::from(RestError::Unauthz), Style::Api);
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Basic realm=\"x\"");
        assert_eq!(response.headers()[CONTENT_TYPE], JSON);
        let body: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert!(body.is_string());
        let (status, response) = rendered(&HttpError::bad_request("Invalid limit"), Style::Api);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body_text(response).await, "\"Invalid limit\"");
    }

    #[test]
    fn command_errors_map_to_statuses() {
        let status = |e: CommandError| HttpError::from(e).status(Style::AdminJson).as_u16();
        assert_eq!(status(CommandError::Forbidden("register")), 403);
        assert_eq!(status(CommandError::UnknownCommand("x".into())), 404);
        assert_eq!(status(CommandError::UnknownHost("x".into())), 404);
        assert_eq!(status(CommandError::NoSuchUser("x".into())), 404);
        assert_eq!(status(CommandError::MissingArgument("user")), 400);
        assert_eq!(status(CommandError::Exists("x".into())), 409);
        assert_eq!(status(CommandError::InvalidUser("x".into())), 422);
        assert_eq!(status(CommandError::BadPassword("x".into())), 422);
        assert_eq!(status(CommandError::Internal), 500);
        assert_eq!(
            HttpError::from(CommandError::InvalidUser("a b".into())).condition(),
            "jid-malformed"
        );
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        for (wait, expected) in [(1500, "2"), (200, "1"), (3000, "3")] {
            let error = HttpError::unavailable("busy", Duration::from_millis(wait));
            let (status, response) = rendered(&error, Style::Plain);
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[RETRY_AFTER], expected);
            assert!(!response.headers().contains_key(WWW_AUTHENTICATE));
        }
        let (_, response) = rendered(&HttpError::bad_request("x"), Style::Plain);
        assert!(!response.headers().contains_key(RETRY_AFTER));
    }

    #[tokio::test]
    async fn into_response_keeps_the_error_for_the_edge() {
        let error = HttpError::from(RestError::Size);
        let response = error.clone().into_response();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(response.extensions().get::<HttpError>(), Some(&error));
        assert_eq!(body_text(response).await, "Payload too large");
    }
}
