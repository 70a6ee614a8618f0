//! `POST /rest`: one stanza per request in XML or mod_rest JSON, sent as the authenticated
//! account. Messages and presence answer 202; an iq waits for its reply and returns it.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jid::Jid;
use minidom::Element;
use switchboard_xmpp::framing::{Limits, StreamParser};
use switchboard_xmpp::json::{JsonMapError, json_to_stanza, stanza_to_json};
use switchboard_xmpp::ns;
use switchboard_xmpp::rest_error::RestError;
use switchboard_xmpp::stanza::{self, StanzaKind};
use tokio::sync::mpsc;

use super::AppState;
use super::auth::{self, Identity};
use crate::router::{RouteError, SessionMsg, random_id};

const XML: &str = "application/xmpp+xml";
const JSON: &str = "application/json";

/// Per-request override of the iq timeout, as mod_rest names it.
const TIMEOUT_HEADER: &str = "prosody-rest-timeout";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    fn from_mime(mime: &str) -> Option<Format> {
        match mime
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            XML => Some(Format::Xml),
            JSON => Some(Format::Json),
            _ => None,
        }
    }

    fn mime(self) -> &'static str {
        match self {
            Format::Xml => XML,
            Format::Json => JSON,
        }
    }
}

/// Picks the response format from `Accept` by q-value; ties and wildcards keep the request's
/// own format, which is also the default.
pub fn negotiate(accept: Option<&str>, request: Format) -> Format {
    let Some(accept) = accept else {
        return request;
    };
    let mut best: Option<(f32, Format)> = None;
    for entry in accept.split(',') {
        let mut parts = entry.split(';');
        let mime = parts.next().unwrap_or_default().trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let format = match Format::from_mime(mime) {
            Some(f) => f,
            None if mime == "*/*" || mime == "application/*" => request,
            None => continue,
        };
        if q <= 0.0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((bq, bf)) => q > bq || (q == bq && format == request && bf != request),
        };
        if better {
            best = Some((q, format));
        }
    }
    best.map_or(request, |(_, f)| f)
}

fn error_response(err: RestError, format: Format, domain: &str, detail: Option<&str>) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match format {
        Format::Json => err.json_body(detail).to_string(),
        Format::Xml => stanza::to_xml(&err.xml_body(detail)),
    };
    let mut response = (status, [(CONTENT_TYPE, format.mime())], body).into_response();
    if status == StatusCode::UNAUTHORIZED
        && let Ok(value) = HeaderValue::from_str(&auth::challenge(domain))
    {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

fn stanza_response(stanza: &Element, format: Format) -> Result<Response, RestError> {
    let body = match format {
        Format::Xml => stanza::to_xml(stanza),
        Format::Json => stanza_to_json(stanza)
            .map_err(|_| RestError::Internal)?
            .to_string(),
    };
    Ok((StatusCode::OK, [(CONTENT_TYPE, format.mime())], body).into_response())
}

pub async fn post(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let request_format = header(CONTENT_TYPE.as_str()).and_then(Format::from_mime);
    let reply_format = negotiate(
        header(ACCEPT.as_str()),
        request_format.unwrap_or(Format::Xml),
    );
    let domain = app.router.domain().to_owned();
    match handle(&app, &headers, request_format, reply_format, body).await {
        Ok(response) => response,
        Err((err, detail)) => error_response(err, reply_format, &domain, detail.as_deref()),
    }
}

type Failure = (RestError, Option<String>);

fn fail(err: RestError) -> Failure {
    (err, None)
}

async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    request_format: Option<Format>,
    reply_format: Format,
    body: Body,
) -> Result<Response, Failure> {
    // The order is mod_rest's: credentials, size, then parsing.
    let identity = auth::authenticate(app.router.accounts(), app.router.domain(), headers)
        .await
        .map_err(fail)?;
    let bytes = axum::body::to_bytes(body, app.rest.max_body_bytes)
        .await
        .map_err(|_| fail(RestError::Size))?;
    let format = request_format.ok_or(fail(RestError::MediaType))?;
    let limits = Limits {
        max_stanza_bytes: app.rest.max_body_bytes.max(app.c2s.limits.max_stanza_bytes),
        max_depth: app.c2s.limits.max_depth,
    };
    let stanza = match format {
        Format::Xml => parse_xml(&bytes, limits)?,
        Format::Json => parse_json(&bytes)?,
    };
    let (kind, stanza) = normalise(stanza)?;
    if kind != StanzaKind::Iq {
        submit(app, &identity, stanza).await?;
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let timeout = iq_timeout(app, headers);
    let reply = send_iq(app, &identity, stanza, timeout).await?;
    stanza_response(&reply, reply_format).map_err(fail)
}

fn parse_xml(bytes: &[u8], limits: Limits) -> Result<Element, Failure> {
    let mut parser = StreamParser::new_fragments(limits);
    parser
        .feed_message(bytes)
        .map_err(|e| (RestError::Parse, Some(e.to_string())))
}

fn parse_json(bytes: &[u8]) -> Result<Element, Failure> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| (RestError::Parse, Some(e.to_string())))?;
    json_to_stanza(&value).map_err(|e| {
        let err = match &e {
            JsonMapError::NotAnObject => RestError::InvalidJson,
            JsonMapError::UnknownKind(_) => RestError::UnknownKind,
            JsonMapError::InvalidTo => RestError::To,
            JsonMapError::InvalidFrom => RestError::From,
            JsonMapError::InvalidValue { .. } => RestError::Parse,
        };
        (err, Some(e.to_string()))
    })
}

/// Validates the stanza and keeps only the attributes a sender may set (mod_rest §3).
fn normalise(stanza: Element) -> Result<(StanzaKind, Element), Failure> {
    if stanza.ns() != ns::CLIENT {
        return Err(fail(RestError::Xmlns));
    }
    let kind = StanzaKind::from_name(stanza.name()).ok_or(fail(RestError::Name))?;
    let mut clean = Element::bare(stanza.name(), ns::CLIENT);
    if let Some(to) = stanza.attr("to") {
        let to = Jid::new(to).map_err(|_| fail(RestError::To))?;
        stanza::set_attr(&mut clean, "to", &to.to_string());
    }
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
    Ok((kind, clean))
}

async fn submit(app: &AppState, identity: &Identity, stanza: Element) -> Result<(), Failure> {
    app.router
        .submit(&identity.jid, stanza)
        .await
        .map_err(|e| match e {
            RouteError::SpoofedFrom => fail(RestError::FromAuth),
            RouteError::InvalidFrom => fail(RestError::From),
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

/// Sends an iq from a temporary resource of the account and waits for the matching reply.
async fn send_iq(
    app: &AppState,
    identity: &Identity,
    mut iq: Element,
    timeout: Duration,
) -> Result<Element, Failure> {
    let requested = iq.attr("from").and_then(|f| Jid::new(f).ok());
    if let Some(from) = &requested
        && from.to_bare() != identity.jid.to_bare()
    {
        return Err(fail(RestError::FromAuth));
    }
    let resource = requested
        .as_ref()
        .and_then(|f| f.resource().map(|r| r.to_string()))
        .unwrap_or_else(|| app.router.fresh_resource("rest-"));
    let (tx, mut rx) = mpsc::channel(16);
    let registration = app
        .router
        .try_register(&identity.user, &resource, tx)
        .ok_or(fail(RestError::ResourceInUse))?;
    stanza::set_attr(&mut iq, "from", &registration.full_jid());
    let id = iq.attr("id").unwrap_or_default().to_owned();
    submit(app, identity, iq).await?;
    let wait = async {
        while let Some(msg) = rx.recv().await {
            if let SessionMsg::Stanza(reply) = msg
                && reply.name() == "iq"
                && reply.attr("id") == Some(id.as_str())
                && matches!(reply.attr("type"), Some("result" | "error"))
            {
                return Some(reply);
            }
        }
        None
    };
    let reply = tokio::time::timeout(timeout, wait).await;
    drop(registration);
    match reply {
        Ok(Some(reply)) => Ok(reply),
        Ok(None) => Err(fail(RestError::Internal)),
        Err(_) => Err(fail(RestError::Timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        assert_eq!(negotiate(None, Format::Json), Format::Json);
        assert_eq!(negotiate(Some("*/*"), Format::Xml), Format::Xml);
        assert_eq!(
            negotiate(Some("application/json"), Format::Xml),
            Format::Json
        );
        assert_eq!(
            negotiate(
                Some("application/xmpp+xml;q=0.5, application/json"),
                Format::Xml
            ),
            Format::Json
        );
        assert_eq!(
            negotiate(
                Some("application/json;q=0.2, application/xmpp+xml;q=0.9"),
                Format::Json
            ),
            Format::Xml
        );
        assert_eq!(negotiate(Some("text/html"), Format::Json), Format::Json);
        assert_eq!(
            negotiate(Some("application/json;q=0"), Format::Xml),
            Format::Xml
        );
    }

    #[test]
    fn normalise_drops_foreign_attributes() {
        let el: Element =
            "<message xmlns='jabber:client' to='a@localhost' foo='bar'><body>x</body></message>"
                .parse()
                .unwrap();
        let (kind, clean) = normalise(el).unwrap();
        assert_eq!(kind, StanzaKind::Message);
        assert_eq!(clean.attr("foo"), None);
        assert!(clean.attr("id").is_some());
        assert_eq!(clean.get_child("body", ns::CLIENT).unwrap().text(), "x");
    }

    #[test]
    fn normalise_checks_iq_shape() {
        let two: Element = "<iq xmlns='jabber:client' type='get'><a xmlns='x'/><b xmlns='x'/></iq>"
            .parse()
            .unwrap();
        assert_eq!(normalise(two).unwrap_err().0, RestError::IqTags);
        let result: Element = "<iq xmlns='jabber:client' type='result'><a xmlns='x'/></iq>"
            .parse()
            .unwrap();
        assert_eq!(normalise(result).unwrap_err().0, RestError::IqType);
        let other: Element = "<foo xmlns='jabber:client'/>".parse().unwrap();
        assert_eq!(normalise(other).unwrap_err().0, RestError::Name);
        let bad_ns: Element = "<message xmlns='urn:other'/>".parse().unwrap();
        assert_eq!(normalise(bad_ns).unwrap_err().0, RestError::Xmlns);
        let bad_to: Element = "<message xmlns='jabber:client' to='@@'/>".parse().unwrap();
        assert_eq!(normalise(bad_to).unwrap_err().0, RestError::To);
    }
}
