//! Which API a request is for (`/rest`, `/msg`, the admin APIs, `/metrics`), and the edge
//! middleware that gives each its CORS headers and its style of error bodies.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE, ORIGIN};
use axum::middleware::Next;
use axum::response::Response;
use switchboard_xmpp::rest_codec::{self, MediaType};

use arc_swap::ArcSwap;

use super::cors::Cors;
use super::error::{HttpError, Style};
use super::gate::{Gate, Policy};
use crate::metrics::Metrics;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// mod_rest's `/rest` routes.
    Rest,
    /// mod_post_msg's `/msg`.
    PostMsg,
    /// `POST /rest/admin/{command}` and the webhook administration: JSON.
    AdminJson,
    /// `POST /rest/admin`: ejabberd's command mode, text.
    AdminText,
    /// The client API: `/api/…` and `/api/v1/…` (MongooseIM's shapes).
    ClientApi,
    /// The admin API: `/api/admin/…`.
    AdminApi,
    /// `/metrics`.
    Metrics,
    /// HTTP File Upload's `/upload/…`: the slot URL is the credential.
    Upload,
    /// `/health`, `/xmpp-websocket`, anything unknown.
    Other,
}

impl Surface {
    pub fn of(path: &str) -> Surface {
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if path == "/rest/admin" {
            Surface::AdminText
        } else if under("/rest/admin") {
            Surface::AdminJson
        } else if under("/rest") {
            Surface::Rest
        } else if under("/msg") {
            Surface::PostMsg
        } else if under("/api/admin") {
            Surface::AdminApi
        } else if under("/api") {
            Surface::ClientApi
        } else if path == "/metrics" {
            Surface::Metrics
        } else if under("/upload") {
            Surface::Upload
        } else {
            Surface::Other
        }
    }

    /// The credentials its routes take; `None` where none are asked for.
    pub fn policy(self) -> Option<Policy> {
        match self {
            Surface::Rest | Surface::AdminJson | Surface::AdminText => Some(Policy::Rest),
            Surface::PostMsg => Some(Policy::PostMsg),
            Surface::ClientApi | Surface::AdminApi => Some(Policy::Api),
            Surface::Metrics | Surface::Upload | Surface::Other => None,
        }
    }

    /// The methods browsers may use, for the APIs open to them (CORS).
    fn cors_methods(self) -> Option<&'static str> {
        match self {
            Surface::Rest => Some("GET, POST, OPTIONS"),
            Surface::PostMsg => Some("POST, OPTIONS"),
            Surface::ClientApi => Some("GET, POST, PUT, DELETE, OPTIONS"),
            Surface::Upload => Some("GET, HEAD, PUT, OPTIONS"),
            _ => None,
        }
    }

    fn style(self, headers: &HeaderMap) -> Style {
        match self {
            Surface::Rest => Style::Rest(reply_media(headers)),
            Surface::PostMsg => Style::PostMsg,
            Surface::AdminJson => Style::AdminJson,
            Surface::AdminText => Style::AdminText,
            Surface::ClientApi | Surface::AdminApi => Style::Api,
            Surface::Metrics | Surface::Upload | Surface::Other => Style::Plain,
        }
    }
}

/// The format of a `/rest` answer, from `Accept` and the request's own `Content-Type`.
pub fn reply_media(headers: &HeaderMap) -> MediaType {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let request = header(CONTENT_TYPE).and_then(MediaType::from_content_type);
    rest_codec::negotiate(header(ACCEPT), request)
}

/// What the edge middleware needs: the challenges of the gate and the CORS policy (and, for
/// the access log around it, the gate's view of client addresses and the metrics). The gate and
/// the CORS policy are swapped whole by a reload; each request uses the ones in force when read.
#[derive(Clone)]
pub struct Edge {
    gate: Arc<ArcSwap<Gate>>,
    cors: Arc<ArcSwap<Cors>>,
    pub metrics: Arc<Metrics>,
}

impl Edge {
    pub fn new(gate: Gate, cors: Cors, metrics: Arc<Metrics>) -> Edge {
        Edge {
            gate: Arc::new(ArcSwap::from_pointee(gate)),
            cors: Arc::new(ArcSwap::from_pointee(cors)),
            metrics,
        }
    }

    pub fn gate(&self) -> Arc<Gate> {
        self.gate.load_full()
    }

    pub fn cors(&self) -> Arc<Cors> {
        self.cors.load_full()
    }

    /// Puts reloaded access rules, credentials, rate limits and CORS origins in force for the
    /// requests that come next (the rate limiters start afresh).
    pub fn replace(&self, gate: Gate, cors: Cors) {
        self.gate.store(Arc::new(gate));
        self.cors.store(Arc::new(cors));
    }
}

/// Classifies the request, answers CORS preflights, and on the way out writes any
/// [`HttpError`] in the surface's style and adds the CORS headers.
pub async fn edge(State(app): State<Edge>, mut request: Request, next: Next) -> Response {
    let surface = Surface::of(request.uri().path());
    request.extensions_mut().insert(surface);
    let cors = surface.cors_methods();
    let origin = cors.and_then(|_| request.headers().get(ORIGIN).cloned());
    if let Some(methods) = cors
        && Cors::is_preflight(request.method(), request.headers())
    {
        return app.cors().preflight(origin.as_ref(), methods);
    }
    let style = surface.style(request.headers());
    let mut response = next.run(request).await;
    if let Some(error) = response.extensions_mut().remove::<HttpError>() {
        let gate = app.gate();
        let challenge = surface.policy().and_then(|p| gate.challenge(p));
        error.render(style, challenge, &mut response);
    }
    if cors.is_some() {
        app.cors().decorate(origin.as_ref(), response.headers_mut());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_surfaces() {
        for (path, surface) in [
            ("/rest", Surface::Rest),
            ("/rest/", Surface::Rest),
            ("/rest/echo", Surface::Rest),
            ("/rest/ping/localhost", Surface::Rest),
            ("/rest/openapi.json", Surface::Rest),
            ("/rest/admin", Surface::AdminText),
            ("/rest/admin/uptime", Surface::AdminJson),
            ("/rest/admin/webhooks/users", Surface::AdminJson),
            ("/rest/administration", Surface::Rest),
            ("/msg", Surface::PostMsg),
            ("/msg/bob", Surface::PostMsg),
            ("/msgs", Surface::Other),
            ("/api", Surface::ClientApi),
            ("/api/messages", Surface::ClientApi),
            ("/api/v1/contacts/bob@localhost", Surface::ClientApi),
            ("/api/openapi.json", Surface::ClientApi),
            ("/api/admin/users/localhost", Surface::AdminApi),
            ("/api/administration", Surface::ClientApi),
            ("/apis", Surface::Other),
            ("/metrics", Surface::Metrics),
            ("/upload/abc/a.png", Surface::Upload),
            ("/uploads", Surface::Other),
            ("/health", Surface::Other),
            ("/xmpp-websocket", Surface::Other),
        ] {
            assert_eq!(Surface::of(path), surface, "{path}");
        }
    }

    #[test]
    fn rest_errors_follow_accept_then_content_type() {
        let mut headers = HeaderMap::new();
        assert_eq!(Surface::Rest.style(&headers), Style::Rest(MediaType::Xml));
        headers.insert(CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(Surface::Rest.style(&headers), Style::Rest(MediaType::Json));
        headers.insert(ACCEPT, "application/cbor".parse().unwrap());
        assert_eq!(Surface::Rest.style(&headers), Style::Rest(MediaType::Cbor));
        assert_eq!(Surface::PostMsg.style(&headers), Style::PostMsg);
    }
}
