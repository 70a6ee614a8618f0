//! The `/rest` routes of Prosody's mod_rest on our router: a stanza per request (body, path or
//! query string), sent as the caller; messages and presence answer 202, an iq waits for its reply.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jid::Jid;
use minidom::Element;
use switchboard_xmpp::framing::Limits;
use switchboard_xmpp::ns;
use switchboard_xmpp::rest_codec::{self, MediaType, RestPath};
use switchboard_xmpp::rest_error::RestError;
use switchboard_xmpp::stanza::{self, StanzaKind};

use super::body::read_body;
use super::error::HttpError;
use super::gate::Caller;
use super::state::AppState;
use super::surface::reply_media;
use crate::ids::random_id;
use crate::routed::{Outcome, Refused};
use switchboard_xmpp::sender::FromError;

/// Per-request override of the iq timeout, as mod_rest names it.
const TIMEOUT_HEADER: &str = "prosody-rest-timeout";

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/rest", post(post_root))
        .route("/rest/", post(post_root))
        .route("/rest/echo", post(post_echo))
        .route("/rest/{*path}", post(post_path).get(get_path))
}

/// What to do with the stanza once it is built and checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Send,
    /// `POST /rest/echo`: answer with the stanza that would be sent.
    Echo,
}

/// Where the stanza comes from besides the body.
struct Source<'a> {
    path: Option<&'a str>,
    /// `Some` for GET: the query string is the payload map.
    query: Option<&'a str>,
}

/// The stanza is entirely in the body.
const BODY_ONLY: Source<'static> = Source {
    path: None,
    query: None,
};

// The caller passes the gate (an extractor) before the body is read: mod_rest's order is
// credentials, size, then parsing.

async fn post_root(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    respond(&app, &caller, &headers, BODY_ONLY, body, Mode::Send).await
}

async fn post_echo(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    respond(&app, &caller, &headers, BODY_ONLY, body, Mode::Echo).await
}

async fn post_path(
    State(app): State<AppState>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let source = Source {
        path: Some(raw_path(uri.path())),
        query: None,
    };
    respond(&app, &caller, &headers, source, body, Mode::Send).await
}

async fn get_path(
    State(app): State<AppState>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let source = Source {
        path: Some(raw_path(uri.path())),
        query: Some(uri.query().unwrap_or("")),
    };
    respond(&app, &caller, &headers, source, Body::empty(), Mode::Send).await
}

/// The still percent-encoded remainder after `/rest/`: the codec decodes it per segment, so
/// an escaped `/` inside a JID resource does not split it.
fn raw_path(path: &str) -> &str {
    path.strip_prefix("/rest/").unwrap_or_default()
}

async fn respond(
    app: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    source: Source<'_>,
    body: Body,
    mode: Mode,
) -> Result<Response, HttpError> {
    let reply = handle(app, caller, headers, &source, body, mode).await?;
    let media = reply_media(headers);
    Ok(match reply {
        Reply::Accepted => StatusCode::ACCEPTED.into_response(),
        Reply::Stanzas(stanzas) => {
            let body = rest_codec::encode_stanzas(media, &stanzas)?;
            (StatusCode::OK, [(CONTENT_TYPE, media.mime())], body).into_response()
        }
    })
}

/// A successful outcome before encoding.
enum Reply {
    Accepted,
    Stanzas(Vec<Element>),
}

/// A body sent without a usable `Content-Type` (curl's `-d` says form-encoded) that is plainly
/// a JSON or XML stanza: the format it looks like, so that the client is told to say so
/// instead of having the text sent as a chat message to itself.
fn mistyped(media: Option<MediaType>, body: &[u8]) -> Option<MediaType> {
    if !matches!(media, None | Some(MediaType::Form)) {
        return None;
    }
    match body.trim_ascii_start().first() {
        Some(b'{') => Some(MediaType::Json),
        Some(b'<') => Some(MediaType::Xml),
        _ => None,
    }
}

async fn handle(
    app: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    source: &Source<'_>,
    body: Body,
    mode: Mode,
) -> Result<Reply, HttpError> {
    let bytes = read_body(body, app.rest.max_body_bytes, app.body_timeout).await?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let request_type = content_type.and_then(MediaType::from_content_type);
    // A Content-Type we do not know is refused even where a path alone could build a stanza.
    if content_type.is_some() && request_type.is_none() {
        return Err(RestError::MediaType.into());
    }
    if let Some(looks_like) = mistyped(request_type, &bytes) {
        return Err(HttpError::from(RestError::MediaType).with_detail(format!(
            "the body looks like {}: send it with 'Content-Type: {}'",
            if looks_like == MediaType::Json {
                "JSON"
            } else {
                "XML"
            },
            looks_like.mime()
        )));
    }
    let path = source.path.map(RestPath::parse).transpose()?;
    let limits = Limits {
        max_stanza_bytes: app.rest.max_body_bytes,
        max_depth: app.c2s.settings().limits.max_depth,
    };
    let stanza =
        rest_codec::decode_request(request_type, &bytes, path.as_ref(), source.query, limits)?;
    let (kind, to, mut stanza) = normalise(stanza)?;
    caller
        .rules
        .check_stanza(kind, to.as_ref(), &caller.jid)
        .map_err(|denied| {
            HttpError::from(RestError::Forbidden).with_detail(format!("refused by {}", denied.0))
        })?;
    // The one `from` rule, before anything is sent (or echoed).
    caller
        .principal()
        .stamp(&mut stanza)
        .map_err(from_refusal)?;
    if mode == Mode::Echo {
        return Ok(Reply::Stanzas(vec![stanza]));
    }
    if kind != StanzaKind::Iq {
        return send_with_bounce(app, caller, to, stanza).await;
    }
    let timeout = iq_timeout(app, headers);
    send_iq(app, caller, to, stanza, timeout)
        .await
        .map(Reply::Stanzas)
}

/// Validates the stanza and keeps only the attributes a sender may set (mod_rest §3); `to` is
/// parsed here, once.
fn normalise(stanza: Element) -> Result<(StanzaKind, Option<Jid>, Element), RestError> {
    if stanza.ns() != ns::CLIENT {
        return Err(RestError::Xmlns);
    }
    let kind = StanzaKind::from_name(stanza.name()).ok_or(RestError::Name)?;
    let mut clean = Element::bare(stanza.name(), ns::CLIENT);
    let to = match stanza.attr("to") {
        Some(to) => {
            let to = Jid::new(to).map_err(|_| RestError::To)?;
            stanza::set_attr(&mut clean, "to", to.as_str());
            Some(to)
        }
        None => None,
    };
    if let Some(from) = stanza.attr("from") {
        let from = Jid::new(from).map_err(|_| RestError::From)?;
        stanza::set_attr(&mut clean, "from", &from.to_string());
    }
    let id = stanza.attr("id").map_or_else(random_id, str::to_owned);
    stanza::set_attr(&mut clean, "id", &id);
    if let Some(type_) = stanza.attr("type") {
        stanza::set_attr(&mut clean, "type", type_);
    }
    if let Some(lang) = stanza.attr_ns(ns::XML, "lang") {
        stanza::set_lang(&mut clean, lang);
    }
    let mut original = stanza;
    for node in original.take_nodes() {
        clean.append_node(node);
    }
    if kind == StanzaKind::Iq {
        if !matches!(clean.attr("type"), Some("get" | "set")) {
            return Err(RestError::IqType);
        }
        if clean.children().count() != 1 {
            return Err(RestError::IqTags);
        }
    }
    Ok((kind, to, clean))
}

fn from_refusal(e: FromError) -> RestError {
    match e {
        FromError::Spoofed => RestError::FromAuth,
        FromError::Malformed => RestError::From,
    }
}

/// Sends a message or presence: 202, or 200 with the error the server answered it with at
/// once (mod_rest §4.2: e.g. a groupchat message to an account with nobody online).
async fn send_with_bounce(
    app: &AppState,
    caller: &Caller,
    to: Option<Jid>,
    stanza: Element,
) -> Result<Reply, HttpError> {
    match submit(app, caller, to, stanza).await? {
        Outcome::Bounced(Some(bounce)) => Ok(Reply::Stanzas(vec![*bounce])),
        _ => Ok(Reply::Accepted),
    }
}

/// Routes the stanza as the caller and reports what became of it.
async fn submit(
    app: &AppState,
    caller: &Caller,
    to: Option<Jid>,
    stanza: Element,
) -> Result<Outcome, RestError> {
    app.submit(&caller.principal(), to, stanza)
        .await
        .map_err(|e| match e {
            Refused::From(e) => from_refusal(e),
            Refused::To(_) => RestError::To,
            Refused::NotAStanza(_) => RestError::Name,
        })
}

fn iq_timeout(app: &AppState, headers: &HeaderMap) -> Duration {
    let requested = headers
        .get(TIMEOUT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0);
    let secs = requested
        .unwrap_or(app.rest.iq_timeout_secs as f64)
        .min(app.rest.iq_max_timeout_secs as f64);
    Duration::from_secs_f64(secs)
}

/// Sends an iq and waits for its reply, collecting MAM results for its `queryid` on the way
/// (mod_rest §4.3). Without a resource in `from`, the iq leaves from a fresh resource of the
/// caller (`alice@localhost/rest-…`, `rest.localhost/rest-…`).
async fn send_iq(
    app: &AppState,
    caller: &Caller,
    to: Option<Jid>,
    mut iq: Element,
    timeout: Duration,
) -> Result<Vec<Element>, HttpError> {
    let from = match iq.attr("from").map(Jid::new) {
        Some(Ok(from)) if from.resource().is_some() => from,
        Some(Ok(from)) => with_rest_resource(&from)?,
        Some(Err(_)) => return Err(RestError::From.into()),
        None => with_rest_resource(&caller.jid)?,
    };
    stanza::set_attr(&mut iq, "from", &from.to_string());
    let id = iq.attr("id").unwrap_or_default().to_owned();
    // Results are collected by queryid: a query without one gets one, or its results could
    // not be told from those of another query.
    let queryid = iq.get_child_mut("query", ns::MAM).map(|query| {
        let id = query.attr("queryid").map_or_else(random_id, str::to_owned);
        stanza::set_attr(query, "queryid", &id);
        id
    });
    let (guard, mut rx) = app
        .wait_for_reply(&from, &id, queryid.as_deref())
        .ok_or(RestError::ResourceInUse)?;
    if let Outcome::Bounced(Some(bounce)) = submit(app, caller, to, iq).await? {
        return Ok(vec![*bounce]);
    }
    let mut collected = Vec::new();
    let outcome = tokio::time::timeout(timeout, async {
        while let Some(stanza) = rx.recv().await {
            let done = stanza.name() == "iq";
            collected.push(stanza);
            if done {
                return true;
            }
        }
        false
    })
    .await;
    drop(guard);
    match outcome {
        Ok(true) => Ok(collected),
        Ok(false) => Err(RestError::Internal.into()),
        Err(_) => Err(RestError::Timeout.into()),
    }
}

fn with_rest_resource(jid: &Jid) -> Result<Jid, RestError> {
    let full = format!("{}/rest-{}", jid.to_bare(), random_id());
    Jid::new(&full).map_err(|_| RestError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_drops_foreign_attributes() {
        let el: Element =
            "<message xmlns='jabber:client' to='a@localhost' foo='bar'><body>x</body></message>"
                .parse()
                .unwrap();
        let (kind, _, clean) = normalise(el).unwrap();
        assert_eq!(kind, StanzaKind::Message);
        assert_eq!(clean.attr("foo"), None);
        assert!(clean.attr("id").is_some());
        assert_eq!(clean.get_child("body", ns::CLIENT).unwrap().text(), "x");
    }

    #[test]
    fn normalise_checks_iq_shape() {
        let error = |xml: &str| normalise(xml.parse().unwrap()).unwrap_err();
        assert_eq!(
            error("<iq xmlns='jabber:client' type='get'><a xmlns='x'/><b xmlns='x'/></iq>"),
            RestError::IqTags
        );
        assert_eq!(
            error("<iq xmlns='jabber:client' type='result'><a xmlns='x'/></iq>"),
            RestError::IqType
        );
        assert_eq!(error("<foo xmlns='jabber:client'/>"), RestError::Name);
        assert_eq!(error("<message xmlns='urn:other'/>"), RestError::Xmlns);
        assert_eq!(
            error("<message xmlns='jabber:client' to='@@'/>"),
            RestError::To
        );
    }

    #[test]
    fn json_or_xml_without_their_content_type_is_spotted() {
        let form = Some(MediaType::Form);
        assert_eq!(
            mistyped(form, br#"{"to":"bob@localhost"}"#),
            Some(MediaType::Json)
        );
        assert_eq!(
            mistyped(None, b" \n<message to='b@l'/>"),
            Some(MediaType::Xml)
        );
        assert_eq!(mistyped(form, b"to=bob%40localhost&body=hi"), None);
        assert_eq!(mistyped(form, b"just text"), None);
        assert_eq!(mistyped(None, b""), None);
        // A declared format is taken at its word.
        assert_eq!(mistyped(Some(MediaType::Text), b"{not json}"), None);
        assert_eq!(mistyped(Some(MediaType::Json), b"{}"), None);
    }

    #[test]
    fn raw_path_keeps_escapes() {
        assert_eq!(
            raw_path("/rest/message/chat/a%2Fb@x"),
            "message/chat/a%2Fb@x"
        );
        assert_eq!(raw_path("/rest/"), "");
    }
}
