//! The door every HTTP route passes, in one order: the IP rule of the claimed caller, then its
//! credentials (an account, or a REST component by its static credential), then its rate limit.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use jid::Jid;
use subtle::ConstantTimeEq;
use switchboard_xmpp::rest_error::RestError;
use switchboard_xmpp::sender::Principal;

use super::access::{AccessRules, client_ip, parse_net};
use super::credentials::{self, Authorization};
use super::error::HttpError;
use crate::auth::jwt::{JwtVerifier, LoginError};
use crate::auth::throttle::{AuthSurface, AuthThrottle, Throttled};
use crate::auth::{AccountError, Accounts};
use crate::config::{AccessConfig, ComponentConfig, Config, Secret};
use crate::storage::TokenScope;

/// An admitted caller.
#[derive(Clone, Debug)]
pub struct Caller {
    /// A bare account JID, or a component's domain: any JID under it may be used as `from`.
    pub jid: Jid,
    pub rules: Arc<AccessRules>,
    pub credential: Credential,
}

/// How a caller proved who it is: the admin APIs look at it besides `admins`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// An account's password (HTTP Basic).
    Password,
    /// A bearer token of this scope.
    Token(TokenScope),
    /// A REST component's credential.
    Component,
    /// The app-login JWT cookie (`auth.jwt.cookie_name`) on the client API.
    LoginCookie,
}

impl Caller {
    /// Whether the credential allows administration: a `user`-scoped token never does, even
    /// when its account is an admin (least privilege).
    pub fn may_administer(&self) -> bool {
        !matches!(
            self.credential,
            Credential::Token(TokenScope::User) | Credential::LoginCookie
        )
    }

    /// Which senders this caller may use: its account, or anything under its domain.
    pub fn principal(&self) -> Principal {
        let bare = self.jid.to_bare();
        if bare.node().is_some() {
            Principal::Account(bare)
        } else {
            Principal::Domain(bare)
        }
    }
}

/// Which credentials a route takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// `/rest` and the admin APIs: `rest.auth_mechanisms`, accounts and REST components.
    Rest,
    /// `/msg`: HTTP Basic with an account's password, as mod_post_msg.
    PostMsg,
    /// `/api` and `/api/admin`: accounts only, by password (Basic) or bearer token.
    Api,
}

struct Component {
    domain: Jid,
    /// `(scheme, credentials)` of the configured Authorization value.
    credentials: Option<(String, String)>,
    secret: Option<Secret>,
    rules: Arc<AccessRules>,
}

/// Who the credentials say the caller is, before they are verified.
enum Claim<'a> {
    /// A component's static `rest_credentials`, which are verified by matching them.
    Component(&'a Component),
    /// HTTP Basic `domain:component_secret`.
    ComponentSecret(&'a Component, String),
    /// HTTP Basic with an account's localpart or JID.
    Password { user: String, password: String },
    /// A bearer token from `switchboard token create`.
    Token(String),
}

impl Claim<'_> {
    /// Who the caller says it is, for the log of a failed login.
    fn account(&self) -> &str {
        match self {
            Claim::Component(c) | Claim::ComponentSecret(c, _) => c.domain.as_str(),
            Claim::Password { user, .. } => user,
            Claim::Token(_) => "(bearer token)",
        }
    }

    fn rules<'g>(&'g self, gate: &'g Gate) -> &'g Arc<AccessRules> {
        match self {
            Claim::Component(c) | Claim::ComponentSecret(c, _) => &c.rules,
            Claim::Password { .. } | Claim::Token(_) => &gate.account_rules,
        }
    }
}

pub struct Gate {
    domain: String,
    /// Lower-case scheme names of `rest.auth_mechanisms`.
    mechanisms: Vec<String>,
    components: Vec<Component>,
    account_rules: Arc<AccessRules>,
    metrics_rules: AccessRules,
    trusted: Vec<IpNet>,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    /// Failed logins per client address, shared with the XMPP listeners.
    throttle: Arc<AuthThrottle>,
    /// The pause before answering a wrong password, as after a failed XMPP login.
    failure_delay: Duration,
    rest_challenge: Option<HeaderValue>,
    post_msg_challenge: Option<HeaderValue>,
    api_challenge: HeaderValue,
}

fn split_scheme(value: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = value.trim().split_once(char::is_whitespace)?;
    Some((scheme, rest.trim()))
}

fn secret_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn component(c: &ComponentConfig) -> Result<Component, String> {
    let credentials = match &c.rest_credentials {
        Some(value) => Some(
            split_scheme(value.expose())
                .map(|(s, c)| (s.to_ascii_lowercase(), c.to_owned()))
                .ok_or_else(|| {
                    format!(
                        "component {}: rest_credentials must look like \"Bearer SECRET\"",
                        c.domain
                    )
                })?,
        ),
        None => None,
    };
    Ok(Component {
        domain: Jid::new(&c.domain).map_err(|e| format!("component {}: {e}", c.domain))?,
        credentials,
        secret: c.component_secret.clone(),
        rules: Arc::new(
            AccessRules::compile(&c.access).map_err(|e| format!("component {}: {e}", c.domain))?,
        ),
    })
}

impl Gate {
    pub fn new(config: &Config) -> Result<Gate, String> {
        let components = config
            .component
            .iter()
            .map(component)
            .collect::<Result<_, String>>()?;
        let limiter = match (
            config.rest.rate_per_second > 0.0,
            NonZeroU32::new(config.rest.rate_burst),
        ) {
            (true, Some(burst)) => {
                let period = Duration::from_secs_f64(1.0 / config.rest.rate_per_second);
                let quota = Quota::with_period(period)
                    .ok_or("rest.rate_per_second is too large")?
                    .allow_burst(burst);
                Some(RateLimiter::keyed(quota))
            }
            _ => None,
        };
        let mechanisms: Vec<String> = config
            .rest
            .auth_mechanisms
            .iter()
            .map(|m| m.to_ascii_lowercase())
            .collect();
        let metrics_rules = AccessRules::compile(&AccessConfig {
            allowed_ips: config.http.metrics_allowed_ips.clone(),
            ..AccessConfig::default()
        })
        .map_err(|e| format!("http.metrics_{e}"))?;
        Ok(Gate {
            rest_challenge: credentials::challenge(&mechanisms, &format!("{}/rest", config.domain)),
            post_msg_challenge: credentials::challenge(
                &["basic".to_owned()],
                &format!("{}/post_msg", config.domain),
            ),
            // MongooseIM's challenge, with our realm.
            api_challenge: HeaderValue::from_static("Basic realm=\"switchboard\""),
            domain: config.domain.clone(),
            mechanisms,
            components,
            account_rules: Arc::new(
                AccessRules::compile(&config.rest.access).map_err(|e| format!("rest: {e}"))?,
            ),
            metrics_rules,
            trusted: config
                .rest
                .trusted_proxies
                .iter()
                .map(|p| parse_net(p).map_err(|e| format!("rest.trusted_proxies: {e}")))
                .collect::<Result<_, _>>()?,
            limiter,
            throttle: Arc::new(AuthThrottle::new(&config.auth)),
            failure_delay: Duration::from_millis(config.auth.failure_delay_ms),
        })
    }

    /// `WWW-Authenticate` for a 401 under `policy`.
    pub fn challenge(&self, policy: Policy) -> Option<&HeaderValue> {
        match policy {
            Policy::Rest => self.rest_challenge.as_ref(),
            Policy::PostMsg => self.post_msg_challenge.as_ref(),
            Policy::Api => Some(&self.api_challenge),
        }
    }

    /// The client's address: the peer, or the one a trusted proxy forwarded for.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        client_ip(peer, headers, &self.trusted)
    }

    /// This gate counting failed logins in `throttle` (the one its predecessor used, on a
    /// reload) instead of a fresh one.
    pub fn sharing_throttle(mut self, throttle: Arc<AuthThrottle>) -> Gate {
        self.throttle = throttle;
        self
    }

    /// The per-address count of failed logins, for every surface that checks credentials.
    pub fn auth_throttle(&self) -> &Arc<AuthThrottle> {
        &self.throttle
    }

    /// Proxies in `rest.trusted_proxies`, which speak for many clients.
    pub fn trusted_proxies(&self) -> &[IpNet] {
        &self.trusted
    }

    /// The door: the IP rule of whoever the credentials claim to be (checked before anything
    /// secret, so that a refused address learns nothing about them), then the address's count
    /// of failed logins, then the credentials, then the caller's rate limit.
    pub async fn admit(
        &self,
        accounts: &Accounts,
        policy: Policy,
        presented: Result<Authorization, RestError>,
        client: IpAddr,
        surface: AuthSurface,
    ) -> Result<Caller, HttpError> {
        let claim = presented.and_then(|auth| self.claim(policy, auth));
        let rules = match &claim {
            Ok(claim) => claim.rules(self),
            Err(_) => &self.account_rules,
        };
        check_ip(rules, client)?;
        let rules = rules.clone();
        let claim = claim?;
        let attempt = self.throttle.begin(client, surface).map_err(throttled)?;
        let account = claim.account().to_owned();
        let (jid, credential) = match self.verify(accounts, claim).await {
            Ok(verified) => {
                attempt.succeeded();
                verified
            }
            Err(RestError::Unauthz) => {
                attempt.failed(&account);
                return Err(self.refuse().await.into());
            }
            Err(e) => return Err(e.into()),
        };
        self.limit(&jid)?;
        Ok(Caller {
            jid,
            rules,
            credential,
        })
    }

    /// The door for a browser app's login cookie (client API only): the accounts' IP rule, the
    /// address's count of failed logins, the token (an account provisioned by it as at a
    /// WebSocket login), then the caller's rate limit. It never grants administration.
    pub async fn admit_cookie(
        &self,
        accounts: &Accounts,
        verifier: &JwtVerifier,
        token: &str,
        client: IpAddr,
        surface: AuthSurface,
    ) -> Result<Caller, HttpError> {
        check_ip(&self.account_rules, client)?;
        let attempt = self.throttle.begin(client, surface).map_err(throttled)?;
        let user = match verifier.admit(accounts, token).await {
            Ok(verified) => {
                attempt.succeeded();
                verified.user
            }
            Err(LoginError::Keys(_) | LoginError::Accounts(_)) => {
                return Err(RestError::Internal.into());
            }
            Err(e) => {
                tracing::info!(reason = %e, "login cookie refused on the client API");
                attempt.failed("a login cookie");
                return Err(self.refuse().await.into());
            }
        };
        let jid = self.account_jid(&user)?;
        self.limit(&jid)?;
        Ok(Caller {
            jid,
            rules: self.account_rules.clone(),
            credential: Credential::LoginCookie,
        })
    }

    /// The door of `/metrics`: its IP rule only (a scraper has no credentials).
    pub fn admit_monitor(&self, client: IpAddr) -> Result<(), HttpError> {
        check_ip(&self.metrics_rules, client)
    }

    /// Reads who the credentials claim to be. Only a static component credential is compared
    /// here (in constant time): it is a long random secret that names the component itself.
    fn claim(&self, policy: Policy, auth: Authorization) -> Result<Claim<'_>, RestError> {
        let allowed = match policy {
            Policy::Rest => self.mechanisms.iter().any(|m| m == auth.scheme()),
            Policy::PostMsg => auth.scheme() == "basic",
            Policy::Api => matches!(auth.scheme(), "basic" | "bearer"),
        };
        if !allowed {
            return Err(RestError::NoAuthz);
        }
        if policy == Policy::Rest
            && let Some(component) = self.components.iter().find(|c| {
                c.credentials.as_ref().is_some_and(|(scheme, secret)| {
                    scheme == auth.scheme() && secret_eq(secret, auth.value())
                })
            })
        {
            return Ok(Claim::Component(component));
        }
        match auth.scheme() {
            "basic" => {
                let (user, password) = auth.decode_basic()?;
                let component = self
                    .components
                    .iter()
                    .find(|c| policy == Policy::Rest && c.domain.as_str() == user);
                Ok(match component {
                    Some(component) => Claim::ComponentSecret(component, password),
                    None => Claim::Password { user, password },
                })
            }
            "bearer" if policy != Policy::PostMsg => Ok(Claim::Token(auth.value().to_owned())),
            _ => Err(RestError::NoAuthz),
        }
    }

    /// Verifies claimed credentials: the one place that does, where a credential cache fits.
    async fn verify(
        &self,
        accounts: &Accounts,
        claim: Claim<'_>,
    ) -> Result<(Jid, Credential), RestError> {
        match claim {
            Claim::Component(component) => Ok((component.domain.clone(), Credential::Component)),
            Claim::ComponentSecret(component, password) => {
                let matches = component
                    .secret
                    .as_ref()
                    .is_some_and(|secret| secret_eq(secret.expose(), &password));
                if matches {
                    Ok((component.domain.clone(), Credential::Component))
                } else {
                    Err(RestError::Unauthz)
                }
            }
            Claim::Password { user, password } => {
                let user = accounts.username(&user).map_err(|e| match e {
                    AccountError::WrongDomain(_) => RestError::Unauthz,
                    _ => RestError::PrepAuthz,
                })?;
                match accounts.check_password(&user, &password).await {
                    Ok(true) => Ok((self.account_jid(&user)?, Credential::Password)),
                    Ok(false) => Err(RestError::Unauthz),
                    Err(_) => Err(RestError::Internal),
                }
            }
            Claim::Token(token) => match accounts.token_owner(&token).await {
                Ok(Some(grant)) => Ok((
                    self.account_jid(&grant.user)?,
                    Credential::Token(grant.scope),
                )),
                Ok(None) => Err(RestError::Unauthz),
                Err(_) => Err(RestError::Internal),
            },
        }
    }

    /// Wrong credentials, answered after the pause a failed XMPP login gets
    /// (`auth.failure_delay_ms`), to slow guessing down.
    async fn refuse(&self) -> RestError {
        tokio::time::sleep(self.failure_delay).await;
        RestError::Unauthz
    }

    fn account_jid(&self, user: &str) -> Result<Jid, RestError> {
        Jid::new(&format!("{user}@{}", self.domain)).map_err(|_| RestError::PrepAuthz)
    }

    /// The token bucket of a verified caller.
    fn limit(&self, jid: &Jid) -> Result<(), HttpError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&jid.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            HttpError::from(RestError::RateLimited)
                .with_detail(format!("retry in {} ms", wait.as_millis()))
                .retry_after(wait)
        })
    }
}

/// An address past `auth.max_attempts`: 429 until its window ends.
fn throttled(throttled: Throttled) -> HttpError {
    let wait = throttled.retry_after;
    HttpError::from(RestError::RateLimited)
        .with_detail(format!(
            "too many failed logins from your address; retry in {} s",
            wait.as_secs().max(1)
        ))
        .retry_after(wait)
}

fn check_ip(rules: &AccessRules, client: IpAddr) -> Result<(), HttpError> {
    rules.check_ip(client).map_err(|denied| {
        HttpError::from(RestError::Forbidden)
            .with_detail(format!("{} does not include {client}", denied.0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::SqliteStore;

    const SEED: &str = "dmVyeSBzZWNyZXQgdG9rZW4K";

    fn gate(extra: &str) -> Gate {
        let config = Config::from_sources(
            &format!(
                "[auth]\nfailure_delay_ms = 1\n[rest]\n{extra}\n[[component]]\ndomain = 'rest.localhost'\nrest_credentials = 'Bearer {SEED}'\ncomponent_secret = 'pw'\n"
            ),
            Vec::new(),
        )
        .unwrap();
        Gate::new(&config).unwrap()
    }

    async fn accounts() -> Accounts {
        let store = Arc::new(SqliteStore::in_memory().await.unwrap());
        let accounts = Accounts::new(store, "localhost", 4096);
        accounts.add_user("alice", "wonderland").await.unwrap();
        accounts
    }

    fn header(value: &str) -> Result<Authorization, RestError> {
        Authorization::from_header(Some(&HeaderValue::from_str(value).unwrap()))
    }

    fn basic(user: &str, password: &str) -> Result<Authorization, RestError> {
        Ok(Authorization::basic(user, password))
    }

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    async fn admit(
        gate: &Gate,
        accounts: &Accounts,
        policy: Policy,
        presented: Result<Authorization, RestError>,
    ) -> Result<String, HttpError> {
        gate.admit(accounts, policy, presented, HOME, AuthSurface::Rest)
            .await
            .map(|caller| caller.jid.to_string())
    }

    fn rest(error: RestError) -> HttpError {
        HttpError::from(error)
    }

    #[tokio::test]
    async fn every_scheme_and_its_failures() {
        let g = gate("");
        let a = accounts().await;
        let token = a.create_token("alice", TokenScope::Admin).await.unwrap();
        let ok = |s: &str| Ok::<String, HttpError>(s.to_owned());
        // Accounts: Basic with localpart or JID, Bearer with a token.
        assert_eq!(
            admit(&g, &a, Policy::Rest, basic("alice", "wonderland")).await,
            ok("alice@localhost")
        );
        assert_eq!(
            admit(&g, &a, Policy::Rest, basic("alice@localhost", "wonderland")).await,
            ok("alice@localhost")
        );
        assert_eq!(
            admit(&g, &a, Policy::Rest, header(&format!("bearer {token}"))).await,
            ok("alice@localhost")
        );
        assert_eq!(
            admit(&g, &a, Policy::Rest, basic("alice", "wrong")).await,
            Err(rest(RestError::Unauthz))
        );
        assert_eq!(
            admit(&g, &a, Policy::Rest, basic("ghost", "wonderland")).await,
            Err(rest(RestError::Unauthz))
        );
        assert_eq!(
            admit(&g, &a, Policy::Rest, basic("alice@elsewhere", "wonderland")).await,
            Err(rest(RestError::Unauthz))
        );
        assert_eq!(
            admit(&g, &a, Policy::Rest, basic("a b", "x")).await,
            Err(rest(RestError::PrepAuthz))
        );
        assert_eq!(
            admit(&g, &a, Policy::Rest, header("Bearer sb_unknown")).await,
            Err(rest(RestError::Unauthz))
        );
        assert_eq!(
            admit(&g, &a, Policy::Rest, header("Basic !!")).await,
            Err(rest(RestError::MalformAuthz))
        );
        assert_eq!(
            admit(&g, &a, Policy::Rest, header("Digest x")).await,
            Err(rest(RestError::NoAuthz))
        );
        assert_eq!(
            admit(&g, &a, Policy::Rest, Err(RestError::NoAuthz)).await,
            Err(rest(RestError::NoAuthz))
        );
        // Components: the static credential (any case of scheme) or Basic domain:secret.
        assert_eq!(
            admit(&g, &a, Policy::Rest, header(&format!("BEARER {SEED}"))).await,
            ok("rest.localhost")
        );
        assert_eq!(
            admit(&g, &a, Policy::Rest, basic("rest.localhost", "pw")).await,
            ok("rest.localhost")
        );
        assert_eq!(
            admit(&g, &a, Policy::Rest, basic("rest.localhost", "nope")).await,
            Err(rest(RestError::Unauthz))
        );
    }

    #[tokio::test]
    async fn post_msg_takes_account_passwords_only() {
        let g = gate("");
        let a = accounts().await;
        let token = a.create_token("alice", TokenScope::Admin).await.unwrap();
        assert!(
            admit(
                &g,
                &a,
                Policy::PostMsg,
                basic("alice@localhost", "wonderland")
            )
            .await
            .is_ok()
        );
        assert_eq!(
            admit(&g, &a, Policy::PostMsg, header(&format!("Bearer {token}"))).await,
            Err(rest(RestError::NoAuthz))
        );
        assert_eq!(
            admit(&g, &a, Policy::PostMsg, header(&format!("Bearer {SEED}"))).await,
            Err(rest(RestError::NoAuthz))
        );
        // A component's domain is not an account.
        assert_eq!(
            admit(&g, &a, Policy::PostMsg, basic("rest.localhost", "pw")).await,
            Err(rest(RestError::Unauthz))
        );
    }

    #[tokio::test]
    async fn mechanisms_restrict_schemes() {
        let g = gate("auth_mechanisms = ['Bearer']");
        let a = accounts().await;
        assert_eq!(
            admit(&g, &a, Policy::Rest, basic("alice", "wonderland")).await,
            Err(rest(RestError::NoAuthz))
        );
        assert_eq!(
            g.challenge(Policy::Rest).unwrap(),
            "Bearer realm=\"localhost/rest\""
        );
        assert_eq!(
            g.challenge(Policy::PostMsg).unwrap(),
            "Basic realm=\"localhost/post_msg\""
        );
    }

    /// The IP rule comes first: from a refused address, right and wrong (or missing)
    /// credentials get the same answer, and no password is checked.
    #[tokio::test]
    async fn ip_rule_is_checked_before_credentials() {
        let g = gate("allowed_ips = ['10.0.0.0/8']");
        let a = accounts().await;
        let blocked: IpAddr = "192.0.2.7".parse().unwrap();
        let answer = |presented| g.admit(&a, Policy::Rest, presented, blocked, AuthSurface::Rest);
        let right = answer(basic("alice", "wonderland")).await.unwrap_err();
        let wrong = answer(basic("alice", "wrong")).await.unwrap_err();
        let missing = answer(Err(RestError::NoAuthz)).await.unwrap_err();
        let malformed = answer(header("Basic !!")).await.unwrap_err();
        assert_eq!(
            right.kind(),
            crate::http::error::Kind::Rest(RestError::Forbidden)
        );
        assert_eq!(right, wrong);
        assert_eq!(right, missing);
        assert_eq!(right, malformed);
        // The component has its own (empty) rules: its credential is let in from there.
        assert!(
            g.admit(
                &a,
                Policy::Rest,
                header(&format!("Bearer {SEED}")),
                blocked,
                AuthSurface::Rest
            )
            .await
            .is_ok()
        );
        let inside: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(
            g.admit(
                &a,
                Policy::Rest,
                basic("alice", "wonderland"),
                inside,
                AuthSurface::Rest
            )
            .await
            .is_ok()
        );
    }

    #[tokio::test]
    async fn rate_limit_comes_last_per_caller() {
        let g = gate("rate_per_second = 1.0\nrate_burst = 2");
        let a = accounts().await;
        for _ in 0..2 {
            assert!(
                admit(&g, &a, Policy::Rest, basic("alice", "wonderland"))
                    .await
                    .is_ok()
            );
        }
        let limited = admit(&g, &a, Policy::Rest, basic("alice", "wonderland"))
            .await
            .unwrap_err();
        assert_eq!(
            limited.kind(),
            crate::http::error::Kind::Rest(RestError::RateLimited)
        );
        // Wrong credentials do not spend the account's tokens, and others have their own bucket.
        assert_eq!(
            admit(&g, &a, Policy::Rest, basic("alice", "wrong")).await,
            Err(rest(RestError::Unauthz))
        );
        assert!(
            admit(&g, &a, Policy::Rest, basic("rest.localhost", "pw"))
                .await
                .is_ok()
        );
    }

    /// Past `auth.max_attempts` failures an address is refused (429, nothing checked, right
    /// password or not) on every surface, while other addresses are let in at once.
    #[tokio::test]
    async fn failed_logins_are_throttled_per_address() {
        let g = gate("");
        let a = accounts().await;
        let guesser: IpAddr = "192.0.2.7".parse().unwrap();
        let try_from =
            |client, surface, presented| g.admit(&a, Policy::Rest, presented, client, surface);
        for (i, surface) in [
            AuthSurface::Rest,
            AuthSurface::Admin,
            AuthSurface::WebhookAdmin,
            AuthSurface::Rest,
            AuthSurface::Rest,
        ]
        .into_iter()
        .enumerate()
        {
            let wrong = try_from(guesser, surface, basic("alice", &format!("guess{i}")));
            assert_eq!(wrong.await.unwrap_err(), rest(RestError::Unauthz));
        }
        for presented in [
            basic("alice", "wonderland"),
            basic("rest.localhost", "pw"),
            header(&format!("Bearer {SEED}")),
        ] {
            let refused = try_from(guesser, AuthSurface::Rest, presented)
                .await
                .unwrap_err();
            assert_eq!(
                refused.kind(),
                crate::http::error::Kind::Rest(RestError::RateLimited)
            );
        }
        let post_msg = g
            .admit(
                &a,
                Policy::PostMsg,
                basic("alice", "wonderland"),
                guesser,
                AuthSurface::PostMsg,
            )
            .await
            .unwrap_err();
        assert_eq!(
            post_msg.kind(),
            crate::http::error::Kind::Rest(RestError::RateLimited)
        );
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let admitted = try_from(other, AuthSurface::Rest, basic("alice", "wonderland"));
        assert_eq!(admitted.await.unwrap().jid.to_string(), "alice@localhost");
        // Malformed credentials are not a guess: they do not count.
        let third: IpAddr = "192.0.2.9".parse().unwrap();
        for _ in 0..10 {
            let malformed = try_from(third, AuthSurface::Rest, header("Basic !!"));
            assert_eq!(malformed.await.unwrap_err(), rest(RestError::MalformAuthz));
        }
        assert!(
            try_from(third, AuthSurface::Rest, basic("alice", "wonderland"))
                .await
                .is_ok()
        );
    }

    #[test]
    fn metrics_has_its_own_ip_rule() {
        let g = gate("");
        assert!(g.admit_monitor(HOME).is_ok());
        assert!(g.admit_monitor("::1".parse().unwrap()).is_ok());
        let far: IpAddr = "203.0.113.5".parse().unwrap();
        assert_eq!(
            g.admit_monitor(far).unwrap_err().kind(),
            crate::http::error::Kind::Rest(RestError::Forbidden)
        );
    }

    #[tokio::test]
    async fn the_api_takes_accounts_and_tells_the_credential() {
        let g = gate("");
        let a = accounts().await;
        let user = a.create_token("alice", TokenScope::User).await.unwrap();
        let admin = a.create_token("alice", TokenScope::Admin).await.unwrap();
        let admit = |presented| g.admit(&a, Policy::Api, presented, HOME, AuthSurface::Rest);
        let by_password = admit(basic("alice@localhost", "wonderland")).await.unwrap();
        assert_eq!(by_password.credential, Credential::Password);
        assert!(by_password.may_administer());
        let by_user_token = admit(header(&format!("Bearer {user}"))).await.unwrap();
        assert_eq!(
            by_user_token.credential,
            Credential::Token(TokenScope::User)
        );
        assert!(!by_user_token.may_administer(), "least privilege");
        let by_admin_token = admit(header(&format!("Bearer {admin}"))).await.unwrap();
        assert!(by_admin_token.may_administer());
        // A component's static credential or secret names no account here.
        assert_eq!(
            admit(header(&format!("Bearer {SEED}"))).await.unwrap_err(),
            rest(RestError::Unauthz)
        );
        assert_eq!(
            admit(basic("rest.localhost", "pw")).await.unwrap_err(),
            rest(RestError::Unauthz)
        );
        assert_eq!(
            g.challenge(Policy::Api).unwrap(),
            "Basic realm=\"switchboard\""
        );
    }
}
