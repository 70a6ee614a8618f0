//! `POST /msg/{jid}`: Prosody's mod_post_msg, a one-request way to send a message.
//!
//! HTTP Basic with the account's JID (or localpart) and password; the body is `text/plain`
//! (the message text), `application/x-www-form-urlencoded` or `application/json` (fields
//! `to`, `type`, `body`, `html`). The message leaves from the account's bare JID. Answers 201
//! with an empty body once sent; see `docs/post_msg.md` for the status codes.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::{ACCEPT, ALLOW, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use jid::Jid;
use minidom::Element;
use switchboard_xmpp::framing::{Limits, StreamParser};
use switchboard_xmpp::ns;
use switchboard_xmpp::rest_error::RestError;
use switchboard_xmpp::stanza::{self, StanzaKind};

use super::AppState;
use crate::auth::AccountError;
use crate::ids::random_id;
use crate::routed::{Origin, Routed};

pub const XHTML_IM: &str = "http://jabber.org/protocol/xhtml-im";
pub const XHTML: &str = "http://www.w3.org/1999/xhtml";

const ALLOWED: &str = "POST, OPTIONS";
const ACCEPTED: &str = "application/x-www-form-urlencoded, text/plain, application/json";

/// Message types a sender may choose (RFC 6121 §5.2.2); `error` is left out because an error
/// message must carry an `<error/>` that this API cannot express (RFC 6120 §8.3).
const MESSAGE_TYPES: [&str; 4] = ["chat", "groupchat", "headline", "normal"];

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/msg", post(post_bare).options(options))
        .route("/msg/", post(post_bare).options(options))
        .route("/msg/{*jid}", post(post_to).options(options))
}

/// Why a request was refused; each maps to one status.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// 401: no, unusable or wrong credentials.
    Unauthorized,
    /// 413: the body is larger than `rest.max_body_bytes`.
    TooLarge,
    /// 415: a Content-Type other than the three formats (or a charset other than UTF-8).
    MediaType,
    /// 400: the body does not parse, or a field is invalid.
    BadRequest(String),
    /// 422: no recipient, or one that is not a valid JID.
    Recipient(String),
    /// 500: storage or routing failed.
    Internal,
    /// 403/429: refused by an access rule or the rate limit, as on `/rest`.
    Gate(super::gate::Refusal),
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::Unauthorized => StatusCode::UNAUTHORIZED,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::MediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::Recipient(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Refusal::Gate(refusal) => StatusCode::from_u16(refusal.error.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    fn text(&self) -> String {
        match self {
            Refusal::Unauthorized => "Credentials missing or not accepted".into(),
            Refusal::TooLarge => "Payload too large".into(),
            Refusal::MediaType => format!("Unsupported media type; use one of: {ACCEPTED}"),
            Refusal::BadRequest(why) => format!("Bad request: {why}"),
            Refusal::Recipient(why) => format!("Invalid recipient: {why}"),
            Refusal::Internal => "Internal server error".into(),
            Refusal::Gate(refusal) => match &refusal.detail {
                Some(detail) => format!("{}: {detail}", refusal.error.text()),
                None => refusal.error.text().to_owned(),
            },
        }
    }

    fn into_response(self, domain: &str) -> Response {
        let status = self.status();

        let mut response = (
            status,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.text(),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED
            && let Ok(value) = HeaderValue::from_str(&challenge(domain))
        {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        if let Refusal::Gate(refusal) = &self {
            refusal.set_retry_after(response.headers_mut());
        }
        response
    }
}

/// `WWW-Authenticate` value for this API (mod_post_msg's realm).
pub fn challenge(domain: &str) -> String {
    format!("Basic realm=\"{domain}/post_msg\"")
}

async fn options() -> Response {
    (StatusCode::OK, [(ALLOW, ALLOWED), (ACCEPT, ACCEPTED)]).into_response()
}

/// The recipient named in the path: none, a URL-decoded JID, or why it could not be decoded.
type PathJid = Result<Option<String>, String>;

async fn post_bare(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(&app, peer.ip(), &headers, Ok(None), body).await
}

async fn post_to(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jid: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // A path that does not decode (`/msg/%FF`) is judged after the credentials, as a recipient.
    let path = jid.map(|Path(jid)| Some(jid)).map_err(|e| e.body_text());
    respond(&app, peer.ip(), &headers, path, body).await
}

async fn respond(
    app: &AppState,
    peer: IpAddr,
    headers: &HeaderMap,
    path: PathJid,
    body: Body,
) -> Response {
    match handle(app, peer, headers, path, body).await {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(refusal) => refusal.into_response(app.server.domain()),
    }
}

async fn handle(
    app: &AppState,
    peer: IpAddr,
    headers: &HeaderMap,
    path: PathJid,
    body: Body,
) -> Result<(), Refusal> {
    // The order is mod_rest's: credentials, size, then the payload.
    let sender = authenticate(app, headers).await?;
    // The same access rules and rate limit as account credentials on /rest.
    let caller = app
        .gate
        .screen(app.gate.account(sender), headers, peer)
        .map_err(Refusal::Gate)?;
    let bytes = axum::body::to_bytes(body, app.rest.max_body_bytes)
        .await
        .map_err(|_| Refusal::TooLarge)?;
    let format = content_type(headers)?;
    let fields = match format {
        Format::Text => Fields {
            body: Some(utf8(&bytes)?.to_owned()),
            ..Fields::default()
        },
        Format::Form => form_fields(utf8(&bytes)?)?,
        Format::Json => json_fields(&bytes)?,
    };
    let limits = Limits {
        max_stanza_bytes: app.rest.max_body_bytes.max(app.c2s.limits.max_stanza_bytes),
        // The XHTML-IM element sits one level below <message>.
        max_depth: app.c2s.limits.max_depth.saturating_sub(1).max(2),
    };
    let path = match path {
        Ok(path) => path,
        // Only matters when the body names no recipient.
        Err(why) if fields.to.as_deref().is_none_or(str::is_empty) => {
            return Err(Refusal::Recipient(why));
        }
        Err(_) => None,
    };
    let message = build_message(app.server.domain(), path.as_deref(), fields, limits)?;
    let to = message.attr("to").and_then(|t| Jid::new(t).ok());
    caller
        .rules
        .check_stanza(StanzaKind::Message, to.as_ref(), &caller.jid)
        .map_err(|denied| {
            Refusal::Gate(super::gate::Refusal {
                error: RestError::Forbidden,
                detail: Some(format!("refused by {}", denied.0)),
                retry_after: None,
            })
        })?;
    let message = Routed::accept(&caller.principal(), message, Origin::Http)
        .map_err(|_| Refusal::Internal)?;
    app.server.deliver(message).await;
    Ok(())
}

/// Checks HTTP Basic credentials (`user@domain:password` or `user:password`) and returns the
/// account's bare JID. Every failure is a 401, as in mod_post_msg.
async fn authenticate(app: &AppState, headers: &HeaderMap) -> Result<Jid, Refusal> {
    let header = headers
        .get(AUTHORIZATION)
        .ok_or(Refusal::Unauthorized)?
        .to_str()
        .map_err(|_| Refusal::Unauthorized)?;
    let (scheme, credentials) = header
        .trim()
        .split_once(char::is_whitespace)
        .ok_or(Refusal::Unauthorized)?;
    // RFC 9110 §11.1: auth schemes are case-insensitive.
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(Refusal::Unauthorized);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .map_err(|_| Refusal::Unauthorized)?;
    let decoded = String::from_utf8(decoded).map_err(|_| Refusal::Unauthorized)?;
    // Neither a localpart nor a domain may contain ':', so the first one ends the user name.
    let (name, password) = decoded.split_once(':').ok_or(Refusal::Unauthorized)?;
    let accounts = app.server.accounts();
    let user = accounts.username(name).map_err(|e| match e {
        AccountError::Store(_) => Refusal::Internal,
        _ => Refusal::Unauthorized,
    })?;
    // Compares derived keys in constant time and costs the same for unknown accounts.
    match accounts.check_password(&user, password).await {
        Ok(true) => {}
        Ok(false) => {
            // The same pause a failed XMPP login gets, to slow password guessing down.
            let delay = app.c2s.auth.failure_delay_ms;
            tokio::time::sleep(Duration::from_millis(delay)).await;
            return Err(Refusal::Unauthorized);
        }
        Err(_) => return Err(Refusal::Internal),
    }
    Jid::new(&format!("{user}@{}", app.server.domain())).map_err(|_| Refusal::Unauthorized)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Form,
    Json,
}

/// The request format from `Content-Type`; parameters are allowed, but a charset must be UTF-8
/// (or its subset US-ASCII), since that is how the body is read.
fn content_type(headers: &HeaderMap) -> Result<Format, Refusal> {
    let value = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::MediaType)?;
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let format = match mime.as_str() {
        "text/plain" => Format::Text,
        "application/x-www-form-urlencoded" => Format::Form,
        "application/json" => Format::Json,
        _ => return Err(Refusal::MediaType),
    };
    for param in parts {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("charset") {
            let charset = value.trim().trim_matches('"').to_ascii_lowercase();
            if !matches!(charset.as_str(), "utf-8" | "utf8" | "us-ascii") {
                return Err(Refusal::MediaType);
            }
        }
    }
    Ok(format)
}

fn utf8(bytes: &[u8]) -> Result<&str, Refusal> {
    std::str::from_utf8(bytes).map_err(|_| Refusal::BadRequest("body is not valid UTF-8".into()))
}

/// The fields a form or JSON body may carry; all optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Fields {
    to: Option<String>,
    type_: Option<String>,
    body: Option<String>,
    html: Option<String>,
}

impl Fields {
    fn set(&mut self, key: &str, value: String) {
        let slot = match key {
            "to" => &mut self.to,
            "type" => &mut self.type_,
            "body" => &mut self.body,
            "html" => &mut self.html,
            _ => return,
        };
        *slot = Some(value);
    }
}

/// Decodes `application/x-www-form-urlencoded` (WHATWG URL §5.1): `+` is a space, `%XX` a
/// byte; the last occurrence of a field wins, unknown fields are ignored.
fn form_fields(body: &str) -> Result<Fields, Refusal> {
    let decode = |s: &str| -> Result<String, Refusal> {
        let spaced = s.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| Refusal::BadRequest("form field is not valid UTF-8".into()))
    };
    let mut fields = Fields::default();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        fields.set(&decode(key)?, decode(value)?);
    }
    Ok(fields)
}

/// A JSON object with string fields `to`, `type`, `body`, `html`; `null` counts as absent.
fn json_fields(bytes: &[u8]) -> Result<Fields, Refusal> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Refusal::BadRequest(format!("invalid JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| Refusal::BadRequest("JSON payload must be an object".into()))?;
    let mut fields = Fields::default();
    for key in ["to", "type", "body", "html"] {
        match object.get(key) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(s)) => fields.set(key, s.clone()),
            Some(_) => return Err(Refusal::BadRequest(format!("'{key}' must be a string"))),
        }
    }
    Ok(fields)
}

/// The recipient: a `to` field wins over the path. A JID without `@` is a localpart on our
/// domain (`/msg/bob` and `/msg/bob/phone` address `bob@domain`, `bob@domain/phone`).
fn recipient(domain: &str, path: Option<&str>, to: Option<&str>) -> Result<Jid, Refusal> {
    let raw = to
        .filter(|t| !t.is_empty())
        .or(path.filter(|p| !p.is_empty()))
        .ok_or_else(|| Refusal::Recipient("no recipient in the path or the 'to' field".into()))?;
    let bare_part = raw.split('/').next().unwrap_or_default();
    let full = if bare_part.contains('@') {
        raw.to_owned()
    } else {
        match raw.split_once('/') {
            Some((local, resource)) => format!("{local}@{domain}/{resource}"),
            None => format!("{raw}@{domain}"),
        }
    };
    Jid::new(&full).map_err(|e| Refusal::Recipient(format!("'{raw}' is not a valid JID: {e}")))
}

/// XML 1.0 `Char` (§2.2): text outside it could not be written to a client's stream.
fn check_text(field: &str, text: &str) -> Result<(), Refusal> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    };
    match text.chars().find(|c| !allowed(*c)) {
        None => Ok(()),
        Some(c) => Err(Refusal::BadRequest(format!(
            "'{field}' contains U+{:04X}, which XML does not allow",
            u32::from(c)
        ))),
    }
}

/// Parses the `html` field as the content of an XHTML-IM body, with the same restricted XML
/// parser as client streams.
fn xhtml_im(html: &str, limits: Limits) -> Result<Element, Refusal> {
    let wrapped = format!("<html xmlns='{XHTML_IM}'><body xmlns='{XHTML}'>{html}</body></html>");
    let bad = |why: String| Refusal::BadRequest(format!("'html' is not valid XHTML: {why}"));
    let element = StreamParser::new_fragments(limits)
        .feed_message(wrapped.as_bytes())
        .map_err(|e| bad(e.to_string()))?;
    // The markup must stay inside <body>: `</body><body>…` would smuggle in other children.
    let only_body = element.name() == "html"
        && element.ns() == XHTML_IM
        && element.children().count() == 1
        && element.children().all(|c| c.is("body", XHTML))
        && element.texts().all(|t| t.trim().is_empty());
    if !only_body {
        return Err(bad("markup closes the <body> element".into()));
    }
    // Older mod_post_msg took a whole `<body xmlns='http://www.w3.org/1999/xhtml'>…</body>`;
    // such a value becomes the body itself instead of being nested in a second one.
    let body = element.get_child("body", XHTML).expect("checked above");
    let mut inner = body.children();
    if let (Some(lone), None) = (inner.next(), inner.next())
        && lone.is("body", XHTML)
        && body.texts().all(|t| t.trim().is_empty())
    {
        return Ok(Element::builder("html", XHTML_IM)
            .append(lone.clone())
            .build());
    }
    Ok(element)
}

fn build_message(
    domain: &str,
    path: Option<&str>,
    fields: Fields,
    limits: Limits,
) -> Result<Element, Refusal> {
    let type_ = match fields.type_.as_deref() {
        None | Some("") => "chat",
        Some(t) if MESSAGE_TYPES.contains(&t) => t,
        Some(t) => {
            return Err(Refusal::BadRequest(format!(
                "'{t}' is not a message type (use one of {})",
                MESSAGE_TYPES.join(", ")
            )));
        }
    };
    if let Some(body) = &fields.body {
        check_text("body", body)?;
    }
    let html = fields
        .html
        .as_deref()
        .filter(|h| !h.is_empty())
        .map(|h| xhtml_im(h, limits))
        .transpose()?;
    let to = recipient(domain, path, fields.to.as_deref())?;
    let mut message = Element::bare("message", ns::CLIENT);
    stanza::set_attr(&mut message, "to", &to.to_string());
    stanza::set_attr(&mut message, "type", type_);
    stanza::set_attr(&mut message, "id", &random_id());
    if let Some(body) = fields.body {
        message.append_child(Element::builder("body", ns::CLIENT).append(body).build());
    }
    if let Some(html) = html {
        message.append_child(html);
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn recipients() {
        let r = |path: Option<&str>, to: Option<&str>| {
            recipient("example.org", path, to).map(|j| j.to_string())
        };
        assert_eq!(r(Some("bob"), None).unwrap(), "bob@example.org");
        assert_eq!(r(Some("bob@other.net"), None).unwrap(), "bob@other.net");
        assert_eq!(r(Some("bob/phone"), None).unwrap(), "bob@example.org/phone");
        assert_eq!(
            r(Some("bob@example.org/a/b"), None).unwrap(),
            "bob@example.org/a/b"
        );
        assert_eq!(r(Some("bob"), Some("carol")).unwrap(), "carol@example.org");
        assert_eq!(r(Some("bob"), Some("")).unwrap(), "bob@example.org");
        assert!(matches!(r(None, None), Err(Refusal::Recipient(_))));
        assert!(matches!(r(Some(""), None), Err(Refusal::Recipient(_))));
        assert!(matches!(r(Some("a@@b"), None), Err(Refusal::Recipient(_))));
        assert!(matches!(
            r(Some("@example.org"), None),
            Err(Refusal::Recipient(_))
        ));
        assert!(matches!(
            r(None, Some("bad user")),
            Err(Refusal::Recipient(_))
        ));
    }

    #[test]
    fn content_types() {
        let ct = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
            content_type(&h)
        };
        assert_eq!(ct("text/plain"), Ok(Format::Text));
        assert_eq!(ct("Text/Plain; charset=UTF-8"), Ok(Format::Text));
        assert_eq!(ct("application/json;charset=\"utf-8\""), Ok(Format::Json));
        assert_eq!(ct("application/x-www-form-urlencoded"), Ok(Format::Form));
        assert_eq!(
            ct("text/plain; charset=iso-8859-1"),
            Err(Refusal::MediaType)
        );
        assert_eq!(ct("text/html"), Err(Refusal::MediaType));
        assert_eq!(content_type(&HeaderMap::new()), Err(Refusal::MediaType));
    }

    #[test]
    fn form_decoding() {
        let f =
            form_fields("to=bob%40x&body=a+b%26c%3D&type=headline&junk&body=last%20one").unwrap();
        assert_eq!(f.to.as_deref(), Some("bob@x"));
        assert_eq!(f.type_.as_deref(), Some("headline"));
        assert_eq!(f.body.as_deref(), Some("last one"));
        assert!(form_fields("body=%FF").is_err());
        assert_eq!(form_fields("").unwrap(), Fields::default());
    }

    #[test]
    fn json_decoding() {
        let f = json_fields(br#"{"to":"bob","body":"hi","type":null,"extra":1}"#).unwrap();
        assert_eq!(f.to.as_deref(), Some("bob"));
        assert_eq!(f.body.as_deref(), Some("hi"));
        assert_eq!(f.type_, None);
        assert!(json_fields(b"[1]").is_err());
        assert!(json_fields(br#"{"body":5}"#).is_err());
        assert!(json_fields(b"{").is_err());
    }

    #[test]
    fn html_is_checked() {
        let html = xhtml_im("<p>Hi <b>there</b> &amp; you</p>", limits()).unwrap();
        let body = html.get_child("body", XHTML).unwrap();
        assert!(body.get_child("p", XHTML).is_some());
        assert!(xhtml_im("<p>unclosed", limits()).is_err());
        assert!(xhtml_im("&nbsp;", limits()).is_err());
        assert!(xhtml_im("</body><body xmlns='x'>y", limits()).is_err());
        assert!(xhtml_im("</body></html><html>", limits()).is_err());
        assert!(xhtml_im("<!-- c -->", limits()).is_err());
        // A complete XHTML body (older mod_post_msg) is not nested in another one.
        let whole = format!("<body xmlns='{XHTML}'><p>x</p></body>");
        let html = xhtml_im(&whole, limits()).unwrap();
        let body = html.get_child("body", XHTML).unwrap();
        assert!(body.get_child("p", XHTML).is_some());
        assert_eq!(html.children().count(), 1);
        // A body beside other content is just (odd) content.
        let html = xhtml_im("<body>a</body><p>b</p>", limits()).unwrap();
        let body = html.get_child("body", XHTML).unwrap();
        assert_eq!(body.children().count(), 2);
    }

    #[test]
    fn message_shape() {
        let fields = Fields {
            body: Some("x".into()),
            ..Fields::default()
        };
        let m = build_message("d", Some("bob"), fields.clone(), limits()).unwrap();
        assert_eq!(m.attr("to"), Some("bob@d"));
        assert_eq!(m.attr("type"), Some("chat"));
        assert!(m.attr("id").is_some());
        assert_eq!(m.get_child("body", ns::CLIENT).unwrap().text(), "x");
        let bad_type = Fields {
            type_: Some("error".into()),
            ..fields.clone()
        };
        assert!(matches!(
            build_message("d", Some("bob"), bad_type, limits()),
            Err(Refusal::BadRequest(_))
        ));
        let control = Fields {
            body: Some("a\u{1}b".into()),
            ..fields
        };
        assert!(matches!(
            build_message("d", Some("bob"), control, limits()),
            Err(Refusal::BadRequest(_))
        ));
    }
}
