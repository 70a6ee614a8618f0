//! `GET /rest/openapi.json` and `GET /api/openapi.json`: the OpenAPI 3.1 descriptions of the
//! HTTP APIs, kept next to the routes they describe; end-to-end tests check every route is in
//! them, and schemathesis checks the answers against them.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The client API's and the admin API's document.
pub const API_DOCUMENT: &str = include_str!("api_openapi.json");

pub async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT)
}

pub async fn serve_api() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], API_DOCUMENT)
}
