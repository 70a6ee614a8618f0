//! The caller as axum extractors: [`Caller`] (admitted by the gate), [`Admin`] (and listed
//! under `admins`), [`Monitor`] (`/metrics`), and [`Visitor`] for credentials read elsewhere.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use switchboard_xmpp::rest_error::RestError;

use super::credentials::Authorization;
use super::error::HttpError;
use super::error::Kind;
use super::gate::{Caller, Policy};
use super::observe::Identity;
use super::state::AppState;
use super::surface::Surface;
use crate::auth::jwt;
use crate::auth::throttle::AuthSurface;
use crate::metrics::{HTTP_SCHEMES, LoginSurface};

/// A request at the door, before the gate: its credentials (parsed, not verified), the client's
/// address, and the credentials its surface takes.
pub struct Visitor {
    presented: Result<Authorization, RestError>,
    /// The app-login cookie of a client-API request that has no `Authorization` header.
    cookie: Option<CookieLogin>,
    client: IpAddr,
    policy: Policy,
    /// Where a failed login is counted and logged.
    surface: AuthSurface,
    /// Where the access log learns who was admitted.
    identity: Option<Identity>,
}

/// A login cookie as presented: the token, and whether the request may use it (a request
/// that changes state must come from a page of an allowed origin, against cross-site forgery).
struct CookieLogin {
    token: String,
    allowed: bool,
}

/// The login cookie of a client-API request without an `Authorization` header, when JWT logins
/// are on.
fn cookie_login(parts: &Parts, app: &AppState) -> Option<CookieLogin> {
    if surface(parts) != Surface::ClientApi || parts.headers.contains_key(AUTHORIZATION) {
        return None;
    }
    let config = app.server().config();
    let jwt = &config.auth.jwt;
    if !jwt.enabled() {
        return None;
    }
    let token = jwt::login_cookie(&parts.headers, &jwt.cookie_name)?.to_owned();
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let allowed = safe || jwt::origin_allowed(&parts.headers, &config.http.websocket_origins);
    Some(CookieLogin { token, allowed })
}

/// The scheme of presented credentials as a metric label (a fixed set).
fn scheme_label(presented: &Result<Authorization, RestError>) -> Option<&'static str> {
    match presented {
        Ok(auth) => Some(
            HTTP_SCHEMES
                .into_iter()
                .find(|known| known.eq_ignore_ascii_case(auth.scheme()))
                .unwrap_or("other"),
        ),
        Err(RestError::MalformAuthz) => Some("other"),
        // No credentials at all: not a login attempt.
        Err(_) => None,
    }
}

impl Visitor {
    /// Credentials from somewhere other than the `Authorization` header (ejabberd's `--auth`).
    pub fn presenting(self, credentials: Authorization) -> Visitor {
        Visitor {
            presented: Ok(credentials),
            ..self
        }
    }

    /// Passes the gate: IP rule, credentials, rate limit. Credentials that were checked count
    /// as a login or a failed one; the admitted caller is named in the access log.
    pub async fn admit(self, app: &AppState) -> Result<Caller, HttpError> {
        if let Some(cookie) = &self.cookie {
            return self.admit_cookie(app, cookie).await;
        }
        let scheme = scheme_label(&self.presented);
        let admitted = app
            .gate()
            .admit(
                app.accounts(),
                self.policy,
                self.presented,
                self.client,
                self.surface,
            )
            .await;
        let verdict = match &admitted {
            Ok(caller) => {
                if let Some(identity) = &self.identity {
                    identity.admitted(&caller.jid);
                }
                Some(true)
            }
            Err(e) => matches!(
                e.kind(),
                Kind::Rest(RestError::Unauthz | RestError::PrepAuthz | RestError::MalformAuthz)
            )
            .then_some(false),
        };
        if let (Some(scheme), Some(ok)) = (scheme, verdict) {
            app.metrics().login(LoginSurface::Http, scheme, ok);
        }
        admitted
    }
}

impl Visitor {
    async fn admit_cookie(
        &self,
        app: &AppState,
        cookie: &CookieLogin,
    ) -> Result<Caller, HttpError> {
        if !cookie.allowed {
            return Err(HttpError::forbidden(
                "A login cookie changes state only from the origins in http.websocket_origins",
            ));
        }
        let verifier = match app.c2s.jwt() {
            Ok(Some(verifier)) => verifier,
            Ok(None) => return Err(RestError::NoAuthz.into()),
            Err(e) => {
                tracing::error!(error = %e, "auth.jwt keys cannot be used");
                return Err(RestError::Internal.into());
            }
        };
        let admitted = app
            .gate()
            .admit_cookie(
                app.accounts(),
                &verifier,
                &cookie.token,
                self.client,
                self.surface,
            )
            .await;
        if let (Ok(caller), Some(identity)) = (&admitted, &self.identity) {
            identity.admitted(&caller.jid);
        }
        admitted
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
        Surface::AdminJson | Surface::AdminText | Surface::AdminApi => AuthSurface::Admin,
        Surface::Rest
        | Surface::ClientApi
        | Surface::Metrics
        | Surface::Upload
        | Surface::Other => AuthSurface::Rest,
    }
}

fn client(parts: &Parts, app: &AppState) -> Result<IpAddr, HttpError> {
    let ConnectInfo(peer) = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .ok_or_else(|| HttpError::internal().with_detail("no peer address"))?;
    Ok(app.gate().client_ip(peer.ip(), &parts.headers))
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, HttpError> {
        let policy = surface(parts)
            .policy()
            .ok_or_else(|| HttpError::internal().with_detail("this route takes no credentials"))?;
        Ok(Visitor {
            presented: Authorization::from_header(parts.headers.get(AUTHORIZATION)),
            cookie: cookie_login(parts, app),
            client: client(parts, app)?,
            policy,
            surface: auth_surface(parts),
            identity: parts.extensions.get::<Identity>().cloned(),
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

/// A caller listed under `admins` with a credential that allows administration; calls of the
/// admin API (`/api/admin`) are logged with it.
pub struct Admin(pub Caller);

impl Admin {
    pub fn check(app: &AppState, caller: Caller) -> Result<Admin, HttpError> {
        if !app.is_admin(&caller.jid) {
            Err(HttpError::forbidden(
                "Administration is for the accounts listed under 'admins'",
            ))
        } else if !caller.may_administer() {
            Err(HttpError::forbidden(
                "This token has the 'user' scope; administration needs an 'admin' token",
            ))
        } else {
            Ok(Admin(caller))
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, HttpError> {
        let caller = Caller::from_request_parts(parts, app).await?;
        let admin = Admin::check(app, caller)?;
        if surface(parts) == Surface::AdminApi {
            tracing::info!(
                admin = %admin.0.jid,
                method = %parts.method,
                path = parts.uri.path(),
                "admin API call"
            );
        }
        Ok(admin)
    }
}

/// A reader of `/metrics`, admitted by `http.metrics_allowed_ips` alone.
pub struct Monitor;

impl FromRequestParts<AppState> for Monitor {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, HttpError> {
        app.gate().admit_monitor(client(parts, app)?)?;
        Ok(Monitor)
    }
}
