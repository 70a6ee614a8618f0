//! The door of the stanza API: who is calling (an account, or a REST component by its static
//! credential), from where (`allowed_ips`), and how often (a token bucket per credential).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use jid::Jid;
use subtle::ConstantTimeEq;
use switchboard_xmpp::rest_error::RestError;

use super::access::{AccessRules, client_ip, parse_net};
use super::auth;
use crate::auth::Accounts;
use crate::config::{ComponentConfig, Config, Secret};

/// An admitted caller of the stanza API.
#[derive(Clone, Debug)]
pub struct Caller {
    /// A bare account JID, or a component's domain: any JID under it may be used as `from`.
    pub jid: Jid,
    pub rules: Arc<AccessRules>,
}

/// Why a request was turned away.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub error: RestError,
    pub detail: Option<String>,
    pub retry_after: Option<Duration>,
}

impl Refusal {
    /// Adds `Retry-After` for a rate-limited refusal: whole seconds, rounded up, so that a
    /// client never retries before the bucket has refilled.
    pub fn set_retry_after(&self, headers: &mut axum::http::HeaderMap) {
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs.max(1)),
            );
        }
    }
}

impl From<RestError> for Refusal {
    fn from(error: RestError) -> Refusal {
        Refusal {
            error,
            detail: None,
            retry_after: None,
        }
    }
}

struct Component {
    domain: String,
    /// `(scheme, credentials)` of the configured Authorization value.
    credentials: Option<(String, String)>,
    secret: Option<Secret>,
    rules: Arc<AccessRules>,
}

pub struct Gate {
    mechanisms: Vec<String>,
    components: Vec<Component>,
    account_rules: Arc<AccessRules>,
    trusted: Vec<IpNet>,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

fn split_scheme(value: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = value.trim().split_once(char::is_whitespace)?;
    Some((scheme, rest.trim()))
}

fn secret_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

impl Gate {
    pub fn new(config: &Config) -> Result<Gate, String> {
        let components = config
            .component
            .iter()
            .map(|c: &ComponentConfig| {
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
                    domain: c.domain.clone(),
                    credentials,
                    secret: c.component_secret.clone(),
                    rules: Arc::new(
                        AccessRules::compile(&c.access)
                            .map_err(|e| format!("component {}: {e}", c.domain))?,
                    ),
                })
            })
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
        Ok(Gate {
            mechanisms: config
                .rest
                .auth_mechanisms
                .iter()
                .map(|m| m.to_ascii_lowercase())
                .collect(),
            components,
            account_rules: Arc::new(
                AccessRules::compile(&config.rest.access).map_err(|e| format!("rest: {e}"))?,
            ),
            trusted: config
                .rest
                .trusted_proxies
                .iter()
                .map(|p| parse_net(p).map_err(|e| format!("rest.trusted_proxies: {e}")))
                .collect::<Result<_, _>>()?,
            limiter,
        })
    }

    /// `WWW-Authenticate` for 401 answers, listing the accepted schemes.
    pub fn challenge(&self, domain: &str) -> String {
        self.mechanisms
            .iter()
            .map(|m| {
                let mut name = m.clone();
                if let Some(first) = name.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                format!("{name} realm=\"{domain}/rest\"")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Authenticates the request, then applies `allowed_ips` and the rate limit.
    pub async fn admit(
        &self,
        accounts: &Accounts,
        domain: &str,
        headers: &HeaderMap,
        peer: IpAddr,
    ) -> Result<Caller, Refusal> {
        let caller = self.authenticate(accounts, domain, headers).await?;
        self.screen(caller, headers, peer)
    }

    /// An account authenticated by another route (`/msg`), under the account rules.
    pub fn account(&self, jid: Jid) -> Caller {
        Caller {
            jid,
            rules: self.account_rules.clone(),
        }
    }

    /// `allowed_ips` and the rate limit for an authenticated caller.
    pub fn screen(
        &self,
        caller: Caller,
        headers: &HeaderMap,
        peer: IpAddr,
    ) -> Result<Caller, Refusal> {
        let ip = client_ip(peer, headers, &self.trusted);
        caller.rules.check_ip(ip).map_err(|denied| Refusal {
            error: RestError::Forbidden,
            detail: Some(format!("{} does not include {ip}", denied.0)),
            retry_after: None,
        })?;
        if let Some(limiter) = &self.limiter
            && let Err(not_until) = limiter.check_key(&caller.jid.to_string())
        {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(Refusal {
                error: RestError::RateLimited,
                detail: Some(format!("retry in {} ms", wait.as_millis())),
                retry_after: Some(wait),
            });
        }
        Ok(caller)
    }

    async fn authenticate(
        &self,
        accounts: &Accounts,
        domain: &str,
        headers: &HeaderMap,
    ) -> Result<Caller, RestError> {
        let value = headers
            .get(AUTHORIZATION)
            .ok_or(RestError::NoAuthz)?
            .to_str()
            .map_err(|_| RestError::MalformAuthz)?;
        let (scheme, credentials) = split_scheme(value).ok_or(RestError::NoAuthz)?;
        let scheme = scheme.to_ascii_lowercase();
        if !self.mechanisms.contains(&scheme) {
            return Err(RestError::NoAuthz);
        }
        if let Some(component) = self.component_for(&scheme, credentials)? {
            let jid = Jid::new(&component.domain).map_err(|_| RestError::Internal)?;
            return Ok(Caller {
                jid,
                rules: component.rules.clone(),
            });
        }
        let identity = auth::authenticate(accounts, domain, headers).await?;
        Ok(self.account(identity.jid))
    }

    /// The component a credential belongs to: its static `rest_credentials`, or HTTP Basic
    /// `domain:component_secret`. Secrets are compared in constant time.
    fn component_for(
        &self,
        scheme: &str,
        credentials: &str,
    ) -> Result<Option<&Component>, RestError> {
        let by_static = self.components.iter().find(|c| {
            c.credentials
                .as_ref()
                .is_some_and(|(s, secret)| s == scheme && secret_eq(secret, credentials))
        });
        if by_static.is_some() || scheme != "basic" {
            return Ok(by_static);
        }
        let Some(decoded) = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
        else {
            return Ok(None);
        };
        let Some((user, secret)) = decoded.split_once(':') else {
            return Ok(None);
        };
        match self.components.iter().find(|c| c.domain == user) {
            Some(component) => match &component.secret {
                Some(expected) if secret_eq(expected.expose(), secret) => Ok(Some(component)),
                _ => Err(RestError::Unauthz),
            },
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(extra: &str) -> Gate {
        let config = Config::from_sources(
            &format!(
                "[rest]\nrate_per_second = 1.0\nrate_burst = 2\n{extra}\n[[component]]\ndomain = 'rest.localhost'\nrest_credentials = 'Bearer dmVyeSBzZWNyZXQgdG9rZW4K'\ncomponent_secret = 'pw'\n"
            ),
            Vec::new(),
        )
        .unwrap();
        Gate::new(&config).unwrap()
    }

    #[test]
    fn static_and_basic_component_credentials() {
        let g = gate("");
        assert_eq!(
            g.component_for("bearer", "dmVyeSBzZWNyZXQgdG9rZW4K")
                .unwrap()
                .unwrap()
                .domain,
            "rest.localhost"
        );
        assert!(g.component_for("bearer", "wrong").unwrap().is_none());
        let basic = base64::engine::general_purpose::STANDARD.encode("rest.localhost:pw");
        assert!(g.component_for("basic", &basic).unwrap().is_some());
        let bad = base64::engine::general_purpose::STANDARD.encode("rest.localhost:nope");
        assert_eq!(
            g.component_for("basic", &bad).err(),
            Some(RestError::Unauthz)
        );
        let user = base64::engine::general_purpose::STANDARD.encode("alice:pw");
        assert!(g.component_for("basic", &user).unwrap().is_none());
    }

    #[test]
    fn challenge_lists_mechanisms() {
        let g = gate("auth_mechanisms = ['bearer']");
        assert_eq!(g.challenge("localhost"), "Bearer realm=\"localhost/rest\"");
    }
}
