//! The tower stack around every route, outermost first: sensitive headers masked, the access
//! log and HTTP metrics, a request span (method, route), the surface edge, catch-panic, a global
//! concurrency limit; and the request timeout, set per group of routes.

use std::any::Any;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::MatchedPath;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{Request, Response};
use axum::response::IntoResponse;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::timeout::TimeoutLayer;
use tower::{BoxError, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use super::error::HttpError;
use super::observe;
use super::surface::{self, Edge};

/// How long a client is told to wait when the server is at its concurrency limit.
const BUSY_RETRY: Duration = Duration::from_secs(1);

/// Wraps every route of `router` in the stack. `max_concurrent` requests are handled at once;
/// beyond, a request is answered 503 with `Retry-After` at once rather than queued.
pub fn around<S>(router: Router<S>, edge: Edge, max_concurrent: usize) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(
        ServiceBuilder::new()
            .layer(SetSensitiveRequestHeadersLayer::new([
                AUTHORIZATION,
                COOKIE,
            ]))
            .layer(axum::middleware::from_fn_with_state(
                edge.clone(),
                observe::observe,
            ))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(span)
                    .on_request(on_request)
                    .on_response(())
                    .on_failure(()),
            )
            .layer(axum::middleware::from_fn_with_state(edge, surface::edge))
            .layer(CatchPanicLayer::custom(on_panic))
            .layer(HandleErrorLayer::new(|_: BoxError| async {
                HttpError::unavailable("too many requests in progress", BUSY_RETRY)
            }))
            .layer(LoadShedLayer::new())
            .layer(GlobalConcurrencyLimitLayer::new(max_concurrent)),
    )
}

/// Answers 503 for a request of `router` not answered within `limit`.
pub fn timeout<S>(router: Router<S>, limit: Duration) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(move |_: BoxError| async move {
                HttpError::unavailable(
                    format!("the request took longer than {} s", limit.as_secs_f64()),
                    BUSY_RETRY,
                )
            }))
            .layer(TimeoutLayer::new(limit)),
    )
}

fn span(request: &Request<Body>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("-", MatchedPath::as_str);
    tracing::info_span!("http", method = %request.method(), route)
}

fn on_request(request: &Request<Body>, _: &Span) {
    // Authorization and Cookie print as "Sensitive" (SetSensitiveRequestHeaders).
    tracing::debug!(uri = %request.uri(), headers = ?request.headers(), "request");
}

fn on_panic(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %message, "HTTP handler panicked");
    HttpError::internal().into_response()
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use axum::extract::ConnectInfo;
    use axum::http::header::{ACCEPT, RETRY_AFTER, WWW_AUTHENTICATE};
    use axum::http::{HeaderMap, Method, StatusCode};
    use axum::routing::{get, post};
    use switchboard_xmpp::rest_error::RestError;
    use tokio::sync::Notify;
    use tower::ServiceExt;

    use super::*;
    use crate::config::Config;
    use crate::http::cors::Cors;
    use crate::http::gate::Gate;

    // Test routes, named apart so that the OpenAPI test (which reads route literals) skips them.
    const BOOM: &str = "/rest/boom";
    const WAIT: &str = "/msg/wait";
    const SLOW: &str = "/rest/slow";
    const HEALTH: &str = "/health";
    const MSG: &str = "/msg/{*jid}";
    const REST: &str = "/rest";

    fn edge() -> Edge {
        let config = Config::default();
        Edge::new(
            Gate::new(&config).unwrap(),
            Cors::new(&config.http.cors_origins).unwrap(),
            Arc::default(),
        )
    }

    fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request<Body> {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(Body::empty()).unwrap();
        let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    }

    async fn text(response: Response<Body>) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    async fn boom() -> &'static str {
        panic!("boom")
    }

    #[tokio::test]
    async fn a_panic_is_a_500_in_the_surface_style() {
        let app = around(Router::new().route(BOOM, post(boom)), edge(), 8);
        let response = app
            .oneshot(request(
                Method::POST,
                "/rest/boom",
                &[(ACCEPT.as_str(), "application/json")],
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
        assert_eq!(body["error"]["condition"], "internal-server-error");
    }

    #[tokio::test]
    async fn beyond_the_concurrency_limit_requests_get_503_then_are_served_again() {
        let release = Arc::new(Notify::new());
        let entered = Arc::new(Notify::new());
        let (r, e) = (release.clone(), entered.clone());
        let app = around(
            Router::new().route(
                WAIT,
                post(move || {
                    let (r, e) = (r.clone(), e.clone());
                    async move {
                        e.notify_one();
                        r.notified().await;
                        "done"
                    }
                }),
            ),
            edge(),
            1,
        );
        let first = tokio::spawn(app.clone().oneshot(request(Method::POST, "/msg/wait", &[])));
        entered.notified().await;
        let refused = app
            .clone()
            .oneshot(request(Method::POST, "/msg/wait", &[]))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[RETRY_AFTER], "1");
        assert!(text(refused).await.contains("too many requests"));
        release.notify_one();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        release.notify_one();
        let again = app
            .oneshot(request(Method::POST, "/msg/wait", &[]))
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_slow_handler_is_cut_by_the_request_timeout() {
        let slow = Router::new().route(
            SLOW,
            post(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
        let app = around(timeout(slow, Duration::from_millis(50)), edge(), 8);
        let response = app
            .oneshot(request(
                Method::POST,
                "/rest/slow",
                &[(ACCEPT.as_str(), "application/json")],
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
        assert_eq!(body["error"]["condition"], "resource-constraint");
        assert!(
            body["error"]["text"]
                .as_str()
                .unwrap()
                .contains("took longer")
        );
    }

    #[tokio::test]
    async fn authorization_and_cookies_reach_handlers_marked_sensitive() {
        let app = around(
            Router::new().route(
                HEALTH,
                get(|headers: HeaderMap| async move {
                    format!(
                        "{} {} {}",
                        headers[AUTHORIZATION].is_sensitive(),
                        headers[COOKIE].is_sensitive(),
                        headers[ACCEPT].is_sensitive()
                    )
                }),
            ),
            edge(),
            8,
        );
        let response = app
            .oneshot(request(
                Method::GET,
                "/health",
                &[
                    ("authorization", "Basic eDp5"),
                    ("cookie", "auth_token=x"),
                    ("accept", "*/*"),
                ],
            ))
            .await
            .unwrap();
        assert_eq!(text(response).await, "true true false");
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, "Basic eDp5".parse().unwrap());
        headers.get_mut(AUTHORIZATION).unwrap().set_sensitive(true);
        assert!(!format!("{headers:?}").contains("eDp5"));
    }

    #[tokio::test]
    async fn errors_get_the_surface_challenge_and_cors() {
        let app = around(
            Router::new()
                .route(MSG, post(|| async { HttpError::from(RestError::Unauthz) }))
                .route(REST, post(|| async { HttpError::from(RestError::NoAuthz) })),
            edge(),
            8,
        );
        let origin = ("origin", "https://app.example");
        let response = app
            .clone()
            .oneshot(request(Method::POST, "/msg/bob", &[origin]))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            "Basic realm=\"localhost/post_msg\""
        );
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let response = app
            .clone()
            .oneshot(request(Method::POST, "/rest", &[]))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            "Basic realm=\"localhost/rest\", Bearer realm=\"localhost/rest\""
        );
        assert!(text(response).await.contains("<not-authorized"));
        // A preflight is answered by the edge, even on a route without OPTIONS.
        let response = app
            .oneshot(request(
                Method::OPTIONS,
                "/rest",
                &[origin, ("access-control-request-method", "POST")],
            ))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["access-control-allow-methods"],
            "GET, POST, OPTIONS"
        );
    }
}
