//! `POST /api/admin/stanzas` `{"stanza": "<message from=… to=…>…</message>"}`: routes raw XML
//! as its `from`, which must be on the served domain.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use jid::Jid;
use serde::Deserialize;
use switchboard_xmpp::framing::Limits;
use switchboard_xmpp::rest_codec::{self, MediaType};
use switchboard_xmpp::sender::Principal;

use crate::http::api_input::ApiJson;
use crate::http::caller::Admin;
use crate::http::error::HttpError;
use crate::http::state::AppState;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/stanzas", post(send))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStanza {
    pub stanza: String,
}

async fn send(
    State(app): State<AppState>,
    _: Admin,
    ApiJson(request): ApiJson<RawStanza>,
) -> Result<StatusCode, HttpError> {
    let limits = Limits {
        max_stanza_bytes: app.rest.max_body_bytes,
        max_depth: app.c2s.settings().limits.max_depth,
    };
    let el = rest_codec::decode_request(
        Some(MediaType::Xml),
        request.stanza.as_bytes(),
        None,
        None,
        limits,
    )
    .map_err(|e| {
        HttpError::bad_request(format!("Invalid stanza: {}", HttpError::from(e).text()))
    })?;
    let jid = |attr| -> Result<Jid, HttpError> {
        let value = el
            .attr(attr)
            .ok_or_else(|| HttpError::bad_request(format!("The stanza needs '{attr}'")))?;
        Jid::new(value).map_err(|_| HttpError::bad_request(format!("Invalid '{attr}'")))
    };
    let from = jid("from")?;
    let to = jid("to")?;
    if from.domain().as_str() != app.domain() {
        return Err(HttpError::bad_request(
            "'from' must be on the served domain",
        ));
    }
    let domain = Jid::new(app.domain()).map_err(|_| HttpError::internal())?;
    app.submit(&Principal::Domain(domain.to_bare()), Some(to), el)
        .await
        .map_err(|e| HttpError::bad_request(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}
