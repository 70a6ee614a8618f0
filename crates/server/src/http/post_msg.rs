//! `POST /msg/{jid}`: Prosody's mod_post_msg, a one-request way to send a message.
//!
//! HTTP Basic with the account's JID (or localpart) and password; the body is `text/plain`
//! (the message text), `application/x-www-form-urlencoded` or `application/json` (fields
//! `to`, `type`, `body`, `html`). The message leaves from the account's bare JID. Answers 201
//! with an empty body once sent; see `docs/post_msg.md` for the status codes.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jid::Jid;
use minidom::Element;
use switchboard_xmpp::framing::{Limits, StreamParser};
use switchboard_xmpp::ns;
use switchboard_xmpp::rest_error::RestError;
use switchboard_xmpp::stanza::{self, StanzaKind};

use super::body::read_body;
use super::error::{HttpError, Kind};
use super::gate::Caller;
use super::state::AppState;
use crate::ids::random_id;

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

fn bad_request(why: impl std::fmt::Display) -> HttpError {
    HttpError::bad_request(format!("Bad request: {why}"))
}

/// 422: no recipient, or one that is not a valid JID.
fn bad_recipient(why: impl std::fmt::Display) -> HttpError {
    HttpError::new(
        Kind::Unprocessable("improper-addressing"),
        format!("Invalid recipient: {why}"),
    )
}

fn unsupported_media_type() -> HttpError {
    HttpError::from(RestError::MediaType).with_detail(format!("use one of: {ACCEPTED}"))
}

async fn options() -> Response {
    (StatusCode::OK, [(ALLOW, ALLOWED), (ACCEPT, ACCEPTED)]).into_response()
}

/// The recipient named in the path: none, a URL-decoded JID, or why it could not be decoded.
type PathJid = Result<Option<String>, String>;

// The caller is extracted first: the order is mod_rest's, credentials, size, then the payload.

async fn post_bare(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, HttpError> {
    send(&app, &caller, &headers, Ok(None), body).await
}

async fn post_to(
    State(app): State<AppState>,
    caller: Caller,
    jid: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, HttpError> {
    // A path that does not decode (`/msg/%FF`) is judged after the credentials, as a recipient.
    let path = jid.map(|Path(jid)| Some(jid)).map_err(|e| e.body_text());
    send(&app, &caller, &headers, path, body).await
}

/// Sends the message from the caller's bare JID; 201 once routed.
async fn send(
    app: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    path: PathJid,
    body: Body,
) -> Result<StatusCode, HttpError> {
    let bytes = read_body(body, app.rest.max_body_bytes, app.body_timeout).await?;
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
        max_stanza_bytes: app
            .rest
            .max_body_bytes
            .max(app.c2s.settings().limits.max_stanza_bytes),
        // The XHTML-IM element sits one level below <message>.
        max_depth: app.c2s.settings().limits.max_depth.saturating_sub(1).max(2),
    };
    let path = match path {
        Ok(path) => path,
        // Only matters when the body names no recipient.
        Err(why) if fields.to.as_deref().is_none_or(str::is_empty) => {
            return Err(bad_recipient(why));
        }
        Err(_) => None,
    };
    let message = build_message(app.domain(), path.as_deref(), fields, limits)?;
    let to = message
        .attr("to")
        .map(Jid::new)
        .transpose()
        .map_err(|_| HttpError::internal())?;
    caller
        .rules
        .check_stanza(StanzaKind::Message, to.as_ref(), &caller.jid)
        .map_err(|denied| {
            HttpError::from(RestError::Forbidden).with_detail(format!("refused by {}", denied.0))
        })?;
    app.submit(&caller.principal(), to, message)
        .await
        .map_err(|_| HttpError::internal())?;
    Ok(StatusCode::CREATED)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Form,
    Json,
}

/// The request format from `Content-Type`; parameters are allowed, but a charset must be UTF-8
/// (or its subset US-ASCII), since that is how the body is read.
fn content_type(headers: &HeaderMap) -> Result<Format, HttpError> {
    let value = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unsupported_media_type)?;
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let format = match mime.as_str() {
        "text/plain" => Format::Text,
        "application/x-www-form-urlencoded" => Format::Form,
        "application/json" => Format::Json,
        _ => return Err(unsupported_media_type()),
    };
    for param in parts {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("charset") {
            let charset = value.trim().trim_matches('"').to_ascii_lowercase();
            if !matches!(charset.as_str(), "utf-8" | "utf8" | "us-ascii") {
                return Err(unsupported_media_type());
            }
        }
    }
    Ok(format)
}

fn utf8(bytes: &[u8]) -> Result<&str, HttpError> {
    std::str::from_utf8(bytes).map_err(|_| bad_request("body is not valid UTF-8"))
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
fn form_fields(body: &str) -> Result<Fields, HttpError> {
    let decode = |s: &str| -> Result<String, HttpError> {
        let spaced = s.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad_request("form field is not valid UTF-8"))
    };
    let mut fields = Fields::default();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        fields.set(&decode(key)?, decode(value)?);
    }
    Ok(fields)
}

/// A JSON object with string fields `to`, `type`, `body`, `html`; `null` counts as absent.
fn json_fields(bytes: &[u8]) -> Result<Fields, HttpError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad_request(format!("invalid JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| bad_request("JSON payload must be an object"))?;
    let mut fields = Fields::default();
    for key in ["to", "type", "body", "html"] {
        match object.get(key) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(s)) => fields.set(key, s.clone()),
            Some(_) => return Err(bad_request(format!("'{key}' must be a string"))),
        }
    }
    Ok(fields)
}

/// The recipient: a `to` field wins over the path. A JID without `@` is a localpart on our
/// domain (`/msg/bob` and `/msg/bob/phone` address `bob@domain`, `bob@domain/phone`).
fn recipient(domain: &str, path: Option<&str>, to: Option<&str>) -> Result<Jid, HttpError> {
    let raw = to
        .filter(|t| !t.is_empty())
        .or(path.filter(|p| !p.is_empty()))
        .ok_or_else(|| bad_recipient("no recipient in the path or the 'to' field"))?;
    let bare_part = raw.split('/').next().unwrap_or_default();
    let full = if bare_part.contains('@') {
        raw.to_owned()
    } else {
        match raw.split_once('/') {
            Some((local, resource)) => format!("{local}@{domain}/{resource}"),
            None => format!("{raw}@{domain}"),
        }
    };
    Jid::new(&full).map_err(|e| bad_recipient(format!("'{raw}' is not a valid JID: {e}")))
}

/// XML 1.0 `Char` (§2.2): text outside it could not be written to a client's stream.
fn check_text(field: &str, text: &str) -> Result<(), HttpError> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    };
    match text.chars().find(|c| !allowed(*c)) {
        None => Ok(()),
        Some(c) => Err(bad_request(format!(
            "'{field}' contains U+{:04X}, which XML does not allow",
            u32::from(c)
        ))),
    }
}

/// Parses the `html` field as the content of an XHTML-IM body, with the same restricted XML
/// parser as client streams.
fn xhtml_im(html: &str, limits: Limits) -> Result<Element, HttpError> {
    let wrapped = format!("<html xmlns='{XHTML_IM}'><body xmlns='{XHTML}'>{html}</body></html>");
    let bad = |why: String| bad_request(format!("'html' is not valid XHTML: {why}"));
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
) -> Result<Element, HttpError> {
    let type_ = match fields.type_.as_deref() {
        None | Some("") => "chat",
        Some(t) if MESSAGE_TYPES.contains(&t) => t,
        Some(t) => {
            return Err(bad_request(format!(
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
    use axum::http::HeaderValue;

    const RECIPIENT: Kind = Kind::Unprocessable("improper-addressing");
    const MEDIA_TYPE: Kind = Kind::Rest(RestError::MediaType);

    fn kind<T: std::fmt::Debug>(result: Result<T, HttpError>) -> Kind {
        result.unwrap_err().kind()
    }

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
        assert_eq!(kind(r(None, None)), RECIPIENT);
        assert_eq!(kind(r(Some(""), None)), RECIPIENT);
        assert_eq!(kind(r(Some("a@@b"), None)), RECIPIENT);
        assert_eq!(kind(r(Some("@example.org"), None)), RECIPIENT);
        assert_eq!(kind(r(None, Some("bad user"))), RECIPIENT);
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
        assert_eq!(kind(ct("text/plain; charset=iso-8859-1")), MEDIA_TYPE);
        assert_eq!(kind(ct("text/html")), MEDIA_TYPE);
        assert_eq!(kind(content_type(&HeaderMap::new())), MEDIA_TYPE);
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
        assert_eq!(
            kind(build_message("d", Some("bob"), bad_type, limits())),
            Kind::BadRequest
        );
        let control = Fields {
            body: Some("a\u{1}b".into()),
            ..fields
        };
        assert_eq!(
            kind(build_message("d", Some("bob"), control, limits())),
            Kind::BadRequest
        );
    }
}
