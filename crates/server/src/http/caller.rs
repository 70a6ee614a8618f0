//! The caller as axum extractors: [`Caller`] (admitted by the gate), [`Admin`] (and listed
//! under `admins`), [`Monitor`] (`/metrics`), and [`Visitor`] for credentials read elsewhere.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use switchboard_xmpp::rest_error::RestError;

use super::credentials::Authorization;
use super::error::HttpError;
use super::gate::{Caller, Policy};
use super::state::AppState;
use super::surface::Surface;
use crate::auth::throttle::AuthSurface;

/// A request at the door, before the gate: its credentials (parsed, not verified), the client's
/// address, and the credentials its surface takes.
pub struct Visitor {
    presented: Result<Authorization, RestError>,
    client: IpAddr,
    policy: Policy,
    /// Where a failed login is counted and logged.
    surface: AuthSurface,
}

impl Visitor {
    /// Credentials from somewhere other than the `Authorization` header (ejabberd's `--auth`).
    pub fn presenting(self, credentials: Authorization) -> Visitor {
        Visitor {
            presented: Ok(credentials),
            ..self
        }
    }

    /// Passes the gate: IP rule, credentials, rate limit.
    pub async fn admit(self, app: &AppState) -> Result<Caller, HttpError> {
        app.gate
            .admit(
                app.accounts(),
                self.policy,
                self.presented,
                self.client,
                self.surface,
            )
            .await
    }
}

fn surface(parts: &Parts) -> Surface {
    parts
        .extensions
        .get::<Surface>()
        .copied()
        .unwrap_or_else(|| Surface::of(parts.uri.path()))
}

/// Which surface a login is tried on, for the per-address throttle's log.
fn auth_surface(parts: &Parts) -> AuthSurface {
    match surface(parts) {
        Surface::PostMsg => AuthSurface::PostMsg,
        Surface::AdminJson if parts.uri.path().starts_with("/rest/admin/webhooks/") => {
            AuthSurface::WebhookAdmin
        }
        Surface::AdminJson | Surface::AdminText => AuthSurface::Admin,
        Surface::Rest | Surface::Metrics | Surface::Other => AuthSurface::Rest,
    }
}

fn client(parts: &Parts, app: &AppState) -> Result<IpAddr, HttpError> {
    let ConnectInfo(peer) = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .ok_or_else(|| HttpError::internal().with_detail("no peer address"))?;
    Ok(app.gate.client_ip(peer.ip(), &parts.headers))
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, HttpError> {
        let policy = surface(parts)
            .policy()
            .ok_or_else(|| HttpError::internal().with_detail("this route takes no credentials"))?;
        Ok(Visitor {
            presented: Authorization::from_header(parts.headers.get(AUTHORIZATION)),
            client: client(parts, app)?,
            policy,
            surface: auth_surface(parts),
        })
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, HttpError> {
        Visitor::from_request_parts(parts, app)
            .await?
            .admit(app)
            .await
    }
}

/// A caller listed under `admins`.
pub struct Admin(pub Caller);

impl Admin {
    pub fn check(app: &AppState, caller: Caller) -> Result<Admin, HttpError> {
        if app.is_admin(&caller.jid) {
            Ok(Admin(caller))
        } else {
            Err(HttpError::forbidden(
                "Administration is for the accounts listed under 'admins'",
            ))
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, HttpError> {
        let caller = Caller::from_request_parts(parts, app).await?;
        Admin::check(app, caller)
    }
}

/// A reader of `/metrics`, admitted by `http.metrics_allowed_ips` alone.
pub struct Monitor;

impl FromRequestParts<AppState> for Monitor {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, HttpError> {
        app.gate.admit_monitor(client(parts, app)?)?;
        Ok(Monitor)
    }
}
