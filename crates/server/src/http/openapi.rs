//! `GET /rest/openapi.json`: the OpenAPI 3.1 description of the HTTP API, kept next to the
//! routes it describes; an end-to-end test checks that every route is in it.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT)
}
