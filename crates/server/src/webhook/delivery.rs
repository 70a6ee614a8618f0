//! One HTTP request to a callback: the signed POST of a stanza (or the startup probe), with
//! connect and total timeouts and a bounded response body; nothing here retries or decides.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{
    ACCEPT, CONTENT_LANGUAGE, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use switchboard_xmpp::rest_codec::MediaType;

use super::error::WebhookError;
use super::sign;
use crate::egress::{self as target, PublicResolver};

/// What Switchboard reads in a callback's answer, as mod_rest lists it (§5.3).
const ACCEPT_LIST: &str = "application/xmpp+xml, application/json, \
    application/x-www-form-urlencoded, text/plain, application/cbor";

const USER_AGENT: &str = concat!("Switchboard/", env!("CARGO_PKG_VERSION"));

/// Why a request got no HTTP answer. The texts are shown to senders, so they carry no URL.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("Connection to the callback failed")]
    Connect(String),
    #[error("The callback did not answer in time")]
    Timeout,
    #[error("The callback's answer could not be read")]
    Other(String),
}

impl TransportError {
    fn from_reqwest(e: reqwest::Error) -> TransportError {
        let (timeout, connect) = (e.is_timeout(), e.is_connect());
        let detail = error_chain(&e.without_url());
        if timeout {
            TransportError::Timeout
        } else if connect {
            TransportError::Connect(detail)
        } else {
            TransportError::Other(detail)
        }
    }

    /// The full description for logs and the dead-letter list.
    pub fn detail(&self) -> String {
        match self {
            TransportError::Connect(d) | TransportError::Other(d) => format!("{self}: {d}"),
            TransportError::Timeout => self.to_string(),
        }
    }

    /// A short, stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            TransportError::Connect(_) => "connect",
            TransportError::Timeout => "timeout",
            TransportError::Other(_) => "transport",
        }
    }
}

/// reqwest's own message is generic; the cause ("Connection refused") is in the source chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The HTTP client for all callbacks, and whether they may be private addresses.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    allow_private: bool,
}

impl Client {
    /// `webhook.allow_private_targets`.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// The connection a request to `url` may use: none to a non-public address unless
    /// allowed. IP literals are checked here, names by the resolver once they are resolved.
    fn to(&self, url: &str) -> Result<&reqwest::Client, TransportError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| TransportError::Other(e.to_string()))?;
        target::check_url(&parsed, self.allow_private)
            .map_err(|e| TransportError::Connect(e.to_string()))?;
        Ok(&self.http)
    }
}

/// The HTTP client for all callbacks: rustls on the ring provider, the system's trust anchors
/// plus `ca_file`, no redirects (a callback answers for itself), no proxy from the environment,
/// and unless `allow_private`, connections to public addresses only (see [`target`]).
pub fn client(
    connect_timeout: Duration,
    ca_file: Option<&Path>,
    allow_private: bool,
) -> Result<Client, WebhookError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let extra: Vec<CertificateDer<'static>> = match ca_file {
        Some(path) => CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|e| WebhookError::CaFile {
                path: path.to_owned(),
                reason: e.to_string(),
            })?,
        None => Vec::new(),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| WebhookError::Client(e.to_string()))?;
    let tls = match rustls_platform_verifier::Verifier::new_with_extra_roots(
        extra.clone(),
        provider,
    ) {
        Ok(verifier) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth(),
        Err(e) => {
            // A machine without a CA bundle can still reach http:// and ca_file callbacks.
            tracing::warn!(error = %e, "no system trust anchors; https callbacks need webhook.ca_file");
            let mut roots = rustls::RootCertStore::empty();
            roots.add_parsable_certificates(extra);
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(USER_AGENT);
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(PublicResolver));
    }
    let http = builder
        .build()
        .map_err(|e| WebhookError::Client(error_chain(&e)))?;
    Ok(Client {
        http,
        allow_private,
    })
}

/// A stanza's POST.
pub struct Request<'a> {
    pub url: &'a str,
    pub media: MediaType,
    pub body: Vec<u8>,
    pub lang: Option<&'a str>,
    pub delivery_id: &'a str,
    pub secret: &'a str,
    pub timeout: Duration,
    /// Bytes of response body read at most; a longer body is treated as no body.
    pub max_body: usize,
}

/// A callback's answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    /// Empty when the callback sent none, or more than `max_body`.
    pub body: Vec<u8>,
    pub retry_after: Option<Duration>,
}

fn signed_headers(secret: &str, body: &[u8]) -> HeaderMap {
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let mut headers = HeaderMap::new();
    let signature = sign::signature(secret, &timestamp, body);
    // Both values are ASCII digits and hex, always valid header values.
    if let (Ok(ts), Ok(sig)) = (
        HeaderValue::from_str(&timestamp),
        HeaderValue::from_str(&signature),
    ) {
        headers.insert(sign::TIMESTAMP_HEADER, ts);
        headers.insert(sign::SIGNATURE_HEADER, sig);
    }
    headers
}

/// POSTs one stanza and reads the answer.
pub async fn post(client: &Client, request: Request<'_>) -> Result<Answer, TransportError> {
    let mut headers = signed_headers(request.secret, &request.body);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(request.media.mime()));
    headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_LIST));
    if let Some(lang) = request.lang.and_then(|l| HeaderValue::from_str(l).ok()) {
        headers.insert(CONTENT_LANGUAGE, lang);
    }
    if let Ok(id) = HeaderValue::from_str(request.delivery_id) {
        headers.insert(sign::DELIVERY_HEADER, id);
    }
    let response = client
        .to(request.url)?
        .post(request.url)
        .headers(headers)
        .timeout(request.timeout)
        .body(request.body)
        .send()
        .await
        .map_err(TransportError::from_reqwest)?;
    let status = response.status().as_u16();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(CONTENT_TYPE);
    let retry_after = header(RETRY_AFTER).and_then(|v| parse_retry_after(&v));
    let body = read_bounded(response, request.max_body).await?;
    Ok(Answer {
        status,
        content_type,
        body,
        retry_after,
    })
}

/// Reads at most `max` bytes; beyond that the body is dropped rather than buffered.
async fn read_bounded(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, TransportError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(TransportError::from_reqwest)?
    {
        if body.len() + chunk.len() > max {
            return Ok(Vec::new());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or_default())
}

/// The startup probe: `OPTIONS url`, signed over an empty body. Returns the status and the
/// answer's `Accept` header.
pub async fn probe(
    client: &Client,
    url: &str,
    secret: &str,
    timeout: Duration,
) -> Result<(u16, Option<String>), TransportError> {
    let response = client
        .to(url)?
        .request(reqwest::Method::OPTIONS, url)
        .headers(signed_headers(secret, b""))
        .header(ACCEPT, ACCEPT_LIST)
        .timeout(timeout)
        .send()
        .await
        .map_err(TransportError::from_reqwest)?;
    let accept = response
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((response.status().as_u16(), accept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        let later = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let wait = parse_retry_after(&later).unwrap();
        assert!(
            wait > Duration::from_secs(80) && wait <= Duration::from_secs(90),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn client_builds_with_ring_only() {
        assert!(client(Duration::from_secs(5), None, false).is_ok());
        let missing = client(
            Duration::from_secs(5),
            Some(Path::new("/nonexistent/ca.pem")),
            true,
        );
        assert!(matches!(missing, Err(WebhookError::CaFile { .. })));
    }
}
