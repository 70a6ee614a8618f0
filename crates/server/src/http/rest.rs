//! The `/rest` routes of Prosody's mod_rest on our router: a stanza per request (body, path or
//! query string), sent as the caller; messages and presence answer 202, an iq waits for its reply.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, OriginalUri, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jid::Jid;
use minidom::Element;
use switchboard_xmpp::framing::Limits;
use switchboard_xmpp::ns;
use switchboard_xmpp::rest_codec::{self, MediaType, RequestError, RestPath};
use switchboard_xmpp::rest_error::RestError;
use switchboard_xmpp::stanza::{self, StanzaKind};

use super::AppState;
use super::gate::{Caller, Refusal};
use crate::ids::random_id;
use crate::routed::{Origin, Outcome, Refused, Routed};
use switchboard_xmpp::sender::FromError;

/// Per-request override of the iq timeout, as mod_rest names it.
const TIMEOUT_HEADER: &str = "prosody-rest-timeout";

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

pub async fn post_root(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(&app, peer.ip(), &headers, BODY_ONLY, body, Mode::Send).await
}

pub async fn post_echo(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(&app, peer.ip(), &headers, BODY_ONLY, body, Mode::Echo).await
}

pub async fn post_path(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let source = Source {
        path: Some(raw_path(uri.path())),
        query: None,
    };
    respond(&app, peer.ip(), &headers, source, body, Mode::Send).await
}

pub async fn get_path(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let source = Source {
        path: Some(raw_path(uri.path())),
        query: Some(uri.query().unwrap_or("")),
    };
    respond(&app, peer.ip(), &headers, source, Body::empty(), Mode::Send).await
}

/// The still percent-encoded remainder after `/rest/`: the codec decodes it per segment, so
/// an escaped `/` inside a JID resource does not split it.
fn raw_path(path: &str) -> &str {
    path.strip_prefix("/rest/").unwrap_or_default()
}

async fn respond(
    app: &AppState,
    peer: IpAddr,
    headers: &HeaderMap,
    source: Source<'_>,
    body: Body,
    mode: Mode,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let content_type = header(CONTENT_TYPE.as_str());
    let request_type = content_type.and_then(MediaType::from_content_type);
    let reply_type = rest_codec::negotiate(header(ACCEPT.as_str()), request_type);
    let result = handle(
        app,
        peer,
        headers,
        &source,
        content_type,
        request_type,
        body,
        mode,
    )
    .await;
    match result.and_then(|reply| reply.into_response(reply_type)) {
        Ok(response) => response,
        Err(refusal) => error_response(app, refusal, reply_type),
    }
}

/// A successful outcome before encoding.
enum Reply {
    Accepted,
    Stanzas(Vec<Element>),
}

impl Reply {
    fn into_response(self, media: MediaType) -> Result<Response, Refusal> {
        match self {
            Reply::Accepted => Ok(StatusCode::ACCEPTED.into_response()),
            Reply::Stanzas(stanzas) => {
                let body = rest_codec::encode_stanzas(media, &stanzas)?;
                Ok((StatusCode::OK, [(CONTENT_TYPE, media.mime())], body).into_response())
            }
        }
    }
}

fn error_response(app: &AppState, refusal: Refusal, media: MediaType) -> Response {
    let error = refusal.error;
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = rest_codec::encode_error(media, error, refusal.detail.as_deref());
    let mut response = (status, [(CONTENT_TYPE, media.mime())], body).into_response();
    let headers = response.headers_mut();
    if status == StatusCode::UNAUTHORIZED
        && let Ok(value) = HeaderValue::from_str(&app.gate.challenge(app.server.domain()))
    {
        headers.insert(WWW_AUTHENTICATE, value);
    }
    refusal.set_retry_after(headers);
    response
}

fn fail(error: RestError) -> Refusal {
    Refusal::from(error)
}

fn fail_with(error: RestError, detail: String) -> Refusal {
    Refusal {
        error,
        detail: Some(detail),
        retry_after: None,
    }
}

impl From<RequestError> for Refusal {
    fn from(e: RequestError) -> Refusal {
        Refusal {
            error: e.error,
            detail: e.detail,
            retry_after: None,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    app: &AppState,
    peer: IpAddr,
    headers: &HeaderMap,
    source: &Source<'_>,
    content_type: Option<&str>,
    request_type: Option<MediaType>,
    body: Body,
    mode: Mode,
) -> Result<Reply, Refusal> {
    // mod_rest's order: credentials, size, then parsing.
    let caller = app
        .gate
        .admit(app.server.accounts(), app.server.domain(), headers, peer)
        .await?;
    let bytes = axum::body::to_bytes(body, app.rest.max_body_bytes)
        .await
        .map_err(|_| fail(RestError::Size))?;
    // A Content-Type we do not know is refused even where a path alone could build a stanza.
    if content_type.is_some() && request_type.is_none() {
        return Err(fail(RestError::MediaType));
    }
    let path = source.path.map(RestPath::parse).transpose().map_err(fail)?;
    let limits = Limits {
        max_stanza_bytes: app.rest.max_body_bytes,
        max_depth: app.c2s.limits.max_depth,
    };
    let stanza =
        rest_codec::decode_request(request_type, &bytes, path.as_ref(), source.query, limits)?;
    let (kind, to, mut stanza) = normalise(stanza)?;
    caller
        .rules
        .check_stanza(kind, to.as_ref(), &caller.jid)
        .map_err(|denied| fail_with(RestError::Forbidden, format!("refused by {}", denied.0)))?;
    // The one `from` rule, before anything is sent (or echoed).
    caller
        .principal()
        .stamp(&mut stanza)
        .map_err(from_refusal)?;
    if mode == Mode::Echo {
        return Ok(Reply::Stanzas(vec![stanza]));
    }
    if kind != StanzaKind::Iq {
        return send_with_bounce(app, &caller, to, stanza).await;
    }
    let timeout = iq_timeout(app, headers);
    send_iq(app, &caller, to, stanza, timeout)
        .await
        .map(Reply::Stanzas)
}

/// Validates the stanza and keeps only the attributes a sender may set (mod_rest §3); `to` is
/// parsed here, once.
fn normalise(stanza: Element) -> Result<(StanzaKind, Option<Jid>, Element), Refusal> {
    if stanza.ns() != ns::CLIENT {
        return Err(fail(RestError::Xmlns));
    }
    let kind = StanzaKind::from_name(stanza.name()).ok_or(fail(RestError::Name))?;
    let mut clean = Element::bare(stanza.name(), ns::CLIENT);
    let to = match stanza.attr("to") {
        Some(to) => {
            let to = Jid::new(to).map_err(|_| fail(RestError::To))?;
            stanza::set_attr(&mut clean, "to", to.as_str());
            Some(to)
        }
        None => None,
    };
    if let Some(from) = stanza.attr("from") {
        let from = Jid::new(from).map_err(|_| fail(RestError::From))?;
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
            return Err(fail(RestError::IqType));
        }
        if clean.children().count() != 1 {
            return Err(fail(RestError::IqTags));
        }
    }
    Ok((kind, to, clean))
}

/// Sends a message or presence: 202, or 200 with the error the server answered it with at
/// once (mod_rest §4.2: e.g. a groupchat message to an account with nobody online).
async fn send_with_bounce(
    app: &AppState,
    caller: &Caller,
    to: Option<Jid>,
    stanza: Element,
) -> Result<Reply, Refusal> {
    match submit(app, caller, to, stanza).await? {
        Outcome::Bounced(Some(bounce)) => Ok(Reply::Stanzas(vec![*bounce])),
        _ => Ok(Reply::Accepted),
    }
}

/// Routes the stanza as the caller (the one `from` rule) and reports what became of it.
fn from_refusal(e: FromError) -> Refusal {
    match e {
        FromError::Spoofed => fail(RestError::FromAuth),
        FromError::Malformed => fail(RestError::From),
    }
}

/// Routes the stanza as the caller (the one `from` rule) and reports what became of it.
async fn submit(
    app: &AppState,
    caller: &Caller,
    to: Option<Jid>,
    stanza: Element,
) -> Result<Outcome, Refusal> {
    let stanza =
        Routed::addressed(&caller.principal(), stanza, to, Origin::Http).map_err(|e| match e {
            Refused::From(e) => from_refusal(e),
            Refused::To(_) => fail(RestError::To),
            Refused::NotAStanza(_) => fail(RestError::Name),
        })?;
    Ok(app.server.deliver(stanza).await)
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
) -> Result<Vec<Element>, Refusal> {
    let from = match iq.attr("from").map(Jid::new) {
        Some(Ok(from)) if from.resource().is_some() => from,
        Some(Ok(from)) => with_rest_resource(&from)?,
        Some(Err(_)) => return Err(fail(RestError::From)),
        None => with_rest_resource(&caller.jid)?,
    };
    stanza::set_attr(&mut iq, "from", &from.to_string());
    let id = iq.attr("id").unwrap_or_default().to_owned();
    let queryid = iq
        .get_child("query", ns::MAM)
        .and_then(|q| q.attr("queryid"))
        .map(str::to_owned);
    let (guard, mut rx) = app
        .server
        .waiters()
        .wait_for_reply(&from, &id, queryid.as_deref())
        .ok_or(fail(RestError::ResourceInUse))?;
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
        Ok(false) => Err(fail(RestError::Internal)),
        Err(_) => Err(fail(RestError::Timeout)),
    }
}

fn with_rest_resource(jid: &Jid) -> Result<Jid, Refusal> {
    let full = format!("{}/rest-{}", jid.to_bare(), random_id());
    Jid::new(&full).map_err(|_| fail(RestError::Internal))
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
        let error = |xml: &str| normalise(xml.parse().unwrap()).unwrap_err().error;
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
    fn raw_path_keeps_escapes() {
        assert_eq!(
            raw_path("/rest/message/chat/a%2Fb@x"),
            "message/chat/a%2Fb@x"
        );
        assert_eq!(raw_path("/rest/"), "");
    }
}
