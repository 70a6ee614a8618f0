//! CORS for the browser-facing APIs (`/rest`, `/msg`), from `http.cors_origins`: preflights are
//! answered here, actual responses get `Access-Control-Allow-Origin`.
//!
//! Written here rather than with tower-http's `CorsLayer`, which answers every `OPTIONS` as a
//! preflight and would swallow mod_post_msg's own `OPTIONS /msg` (`Allow`, `Accept`).

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
    VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// Request headers a page may send: credentials, formats, and mod_rest's iq timeout.
const ALLOW_HEADERS: &str = "Authorization, Content-Type, Accept, Prosody-Rest-Timeout";
/// Response headers a page may read besides the simple ones (the ranges and name of an
/// uploaded file among them).
const EXPOSE_HEADERS: &str =
    "Retry-After, WWW-Authenticate, Content-Length, Content-Range, Content-Disposition, ETag";
/// How long a browser may cache a preflight answer (Prosody's default: 2 hours).
const MAX_AGE_SECS: u32 = 7200;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Origins {
    Any,
    /// Lower-case `scheme://host[:port]` values.
    Listed(Vec<HeaderValue>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cors {
    origins: Origins,
}

impl Cors {
    /// From `http.cors_origins`: `"*"` anywhere in the list allows any origin.
    pub fn new(origins: &[String]) -> Result<Cors, String> {
        if origins.iter().any(|o| o == "*") {
            return Ok(Cors {
                origins: Origins::Any,
            });
        }
        let listed = origins
            .iter()
            .map(|origin| {
                let normalised = origin.trim_end_matches('/').to_ascii_lowercase();
                let uri: Uri = normalised
                    .parse()
                    .map_err(|_| format!("http.cors_origins: '{origin}' is not an origin"))?;
                let bare = uri.scheme().is_some()
                    && uri.authority().is_some()
                    && uri.path_and_query().is_none_or(|p| p.as_str() == "/");
                if !bare {
                    return Err(format!(
                        "http.cors_origins: '{origin}' must be scheme://host[:port] or \"*\""
                    ));
                }
                HeaderValue::from_str(&normalised)
                    .map_err(|_| format!("http.cors_origins: '{origin}' is not an origin"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Cors {
            origins: Origins::Listed(listed),
        })
    }

    /// A preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`. A plain
    /// `OPTIONS` goes to the route.
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(ORIGIN)
            && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to a preflight on a route taking `methods`; an origin that is not allowed
    /// gets no `Access-Control-Allow-Origin`, which the browser reads as a refusal.
    pub fn preflight(&self, origin: Option<&HeaderValue>, methods: &'static str) -> Response {
        let mut response = StatusCode::OK.into_response();
        let headers = response.headers_mut();
        self.decorate(origin, headers);
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(methods),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_SECS));
        response
    }

    /// The headers every response of a CORS-enabled route carries.
    pub fn decorate(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        let allowed = match &self.origins {
            Origins::Any => Some(HeaderValue::from_static("*")),
            Origins::Listed(listed) => {
                // The answer depends on the request's Origin: caches must keep them apart.
                headers.append(VARY, HeaderValue::from_static("Origin"));
                origin
                    .filter(|o| {
                        listed
                            .iter()
                            .any(|l| l.as_bytes().eq_ignore_ascii_case(o.as_bytes()))
                    })
                    .cloned()
            }
        };
        if let Some(allowed) = allowed {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
            headers.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(origins: &[&str]) -> Cors {
        Cors::new(&origins.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn origin(value: &'static str) -> HeaderValue {
        HeaderValue::from_static(value)
    }

    #[test]
    fn any_origin_gets_a_star_without_vary() {
        let mut headers = HeaderMap::new();
        cors(&["*"]).decorate(Some(&origin("https://a.example")), &mut headers);
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(!headers.contains_key(VARY));
        let mut headers = HeaderMap::new();
        cors(&["https://a.example", "*"]).decorate(None, &mut headers);
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }

    #[test]
    fn a_list_echoes_the_matching_origin_with_vary() {
        let policy = cors(&["https://App.example/", "http://localhost:3000"]);
        let mut headers = HeaderMap::new();
        policy.decorate(Some(&origin("https://app.example")), &mut headers);
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert_eq!(headers[VARY], "Origin");
        let mut headers = HeaderMap::new();
        policy.decorate(Some(&origin("https://evil.example")), &mut headers);
        assert!(!headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        assert_eq!(headers[VARY], "Origin");
    }

    #[test]
    fn preflights_list_methods_and_headers() {
        let response = cors(&["*"]).preflight(Some(&origin("https://a.example")), "POST, OPTIONS");
        assert_eq!(response.status(), StatusCode::OK);
        let h = response.headers();
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], "POST, OPTIONS");
        let allowed = h[ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap();
        for name in ["Authorization", "Content-Type", "Accept"] {
            assert!(allowed.contains(name), "{allowed}");
        }
        assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "7200");
    }

    #[test]
    fn only_options_with_origin_and_request_method_is_a_preflight() {
        let mut headers = HeaderMap::new();
        assert!(!Cors::is_preflight(&Method::OPTIONS, &headers));
        headers.insert(ORIGIN, origin("https://a.example"));
        assert!(!Cors::is_preflight(&Method::OPTIONS, &headers));
        headers.insert(ACCESS_CONTROL_REQUEST_METHOD, origin("POST"));
        assert!(Cors::is_preflight(&Method::OPTIONS, &headers));
        assert!(!Cors::is_preflight(&Method::POST, &headers));
    }

    #[test]
    fn bad_origins_are_refused() {
        for bad in ["app.example", "https://a.example/path", "not a uri"] {
            assert!(Cors::new(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}
