//! The access log and the HTTP metrics: once a response is ready, one log line per request
//! (method, route, status, latency, peer, client, identity) and its counters.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

use super::surface::Edge;

/// The target of access-log lines, so that they can be filtered apart:
/// `log = "info,switchboard::access=warn"` silences them.
pub const ACCESS_TARGET: &str = "switchboard::access";

/// Who a request's credentials admitted, filled in by the gate's extractors and read by the
/// access log once the response is ready. Requests without credentials leave it empty.
#[derive(Clone, Default)]
pub struct Identity(Arc<OnceLock<String>>);

impl Identity {
    /// Records the admitted caller; the first record wins.
    pub fn admitted(&self, who: &jid::Jid) {
        let _ = self.0.set(who.to_string());
    }

    fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// Methods as metric labels: the known ones, anything else as `other`, so that no client can
/// create series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Counts and logs every request. Routes are the matched patterns (`/msg/{*jid}`), never the
/// path a client sent; requests no route matched are `unmatched`.
pub async fn observe(State(edge): State<Edge>, mut request: Request, next: Next) -> Response {
    let start = Instant::now();
    let identity = Identity::default();
    request.extensions_mut().insert(identity.clone());
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    // The address the access rules saw: the one a trusted proxy forwarded for, if any.
    let client = peer
        .map(|p| edge.gate().client_ip(p.ip(), request.headers()))
        .filter(|ip| peer.is_some_and(|p| p.ip() != *ip));
    let response = next.run(request).await;
    let took = start.elapsed();
    let status = response.status();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    edge.metrics
        .http_request(route, method_label(&method), status, took);
    tracing::info!(
        target: ACCESS_TARGET,
        method = %method,
        route,
        status = status.as_u16(),
        latency_ms = took.as_secs_f64() * 1000.0,
        peer = peer.map(|p| p.to_string()),
        client = client.map(|c| c.to_string()),
        identity = identity.get(),
        "HTTP request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
    }
}
