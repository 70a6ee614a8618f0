//! The SASL exchange of RFC 6120 §6 over a transport: which mechanisms a channel offers, the
//! account lookups and token checks an exchange asks for, and carrying its messages.

use std::net::IpAddr;
use std::time::SystemTime;

use switchboard_xmpp::framing::StreamEvent;
use switchboard_xmpp::sasl::{
    self, ChannelBinding, ClientNonza, Decoy, Mechanism, PlainCredentials, SaslCondition,
    ScramHash, ServerExchange, Step, StoredCredentials,
};

use super::end::End;
use super::{C2sContext, Security, Transport};
use crate::auth::jwt::{LoginError, Verified};

/// A successful login.
pub struct Authenticated {
    pub user: String,
    /// What goes into `<success/>`.
    pub additional: Option<Vec<u8>>,
    /// When the token it logged in with expires (token logins only).
    pub expires: Option<SystemTime>,
}

/// Mechanisms offered on a channel. A stream whose transport established the account (the
/// WebSocket login cookie) is offered EXTERNAL only. Otherwise the password mechanisms:
/// SCRAM-*-PLUS only with a known channel binding, a SCRAM family only while every account
/// has keys for it (accounts imported with one family log in with the other, or with PLAIN,
/// which gives them both); and OAUTHBEARER while JWT logins are on.
pub async fn offered(
    security: &Security,
    preauthenticated: bool,
    ctx: &C2sContext,
) -> Vec<Mechanism> {
    if preauthenticated {
        return vec![Mechanism::External];
    }
    let mut offered = Mechanism::offered(matches!(
        security,
        Security::Tls {
            channel_binding: Some(_)
        }
    ));
    match ctx.server.accounts().scram_coverage().await {
        Ok(coverage) => offered.retain(|m| match m.hash() {
            Some(ScramHash::Sha1) => coverage.sha1,
            Some(ScramHash::Sha256) => coverage.sha256,
            None => true,
        }),
        Err(e) => tracing::error!(error = %e, "cannot tell which SCRAM families to offer"),
    }
    if ctx.settings().auth.jwt.enabled() {
        let plain = offered.iter().position(|m| *m == Mechanism::Plain);
        offered.insert(plain.unwrap_or(offered.len()), Mechanism::OAuthBearer);
    }
    offered
}

/// A JWT login: the token checked and its account provisioned as `[auth.jwt]` says. Inner
/// `Err` is a refusal (logged with its reason); outer `Err` is the server's failure.
async fn admit(
    ctx: &C2sContext,
    token: &str,
) -> Result<Result<Verified, LoginError>, SaslCondition> {
    let verifier = match ctx.jwt() {
        Ok(Some(verifier)) => verifier,
        Ok(None) => return Err(SaslCondition::NotAuthorized),
        Err(e) => {
            tracing::error!(error = %e, "auth.jwt keys cannot be used");
            return Err(SaslCondition::TemporaryAuthFailure);
        }
    };
    match verifier.admit(ctx.server.accounts(), token).await {
        Ok(verified) => Ok(Ok(verified)),
        Err(e @ (LoginError::Keys(_) | LoginError::Accounts(_))) => {
            tracing::error!(error = %e, "cannot complete a JWT login");
            Err(SaslCondition::TemporaryAuthFailure)
        }
        Err(refused) => {
            tracing::info!(reason = %refused, "JWT login refused");
            Ok(Err(refused))
        }
    }
}

/// PLAIN with a JWT as password (`auth.jwt.accept_as_password`): the login when the password
/// is a valid token naming the authentication identity; `None` to check it as a password
/// (it may be a password shaped like a token).
async fn token_as_password(
    ctx: &C2sContext,
    plain: &PlainCredentials,
) -> Result<Option<Verified>, SaslCondition> {
    let settings = ctx.settings();
    let jwt = &settings.auth.jwt;
    if !(jwt.enabled() && jwt.accept_as_password && looks_like_jwt(&plain.password)) {
        return Ok(None);
    }
    Ok(admit(ctx, &plain.password)
        .await?
        .ok()
        .filter(|verified| authzid_names(ctx, Some(&plain.authcid), &verified.user)))
}

/// Whether a PLAIN password is shaped as a JWT (three base64url parts, a JSON header): only
/// then is it tried as one.
fn looks_like_jwt(password: &str) -> bool {
    let parts: Vec<&str> = password.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Whether an authorization identity names `user`: empty, its localpart or its bare JID.
fn authzid_names(ctx: &C2sContext, authzid: Option<&str>, user: &str) -> bool {
    authzid.is_none_or(|a| {
        ctx.server.accounts().username(a).is_ok_and(|u| u == user) && !a.contains('/')
    })
}

/// Sends a challenge and reads the client's answer: its response, or the condition that ends
/// the attempt (an abort, or anything but a response).
async fn challenge<T: Transport>(
    t: &mut T,
    data: Vec<u8>,
) -> Result<Result<Vec<u8>, SaslCondition>, End> {
    t.send(&sasl::challenge(data)).await?;
    let answer = match t.next_event().await? {
        Some(StreamEvent::Element(el)) => el,
        Some(StreamEvent::Close) => return Err(End::PeerClosed),
        _ => return Err(End::Gone),
    };
    Ok(match ClientNonza::parse(&answer) {
        Some(Ok(ClientNonza::Response(data))) => Ok(data),
        Some(Ok(ClientNonza::Abort)) => Err(SaslCondition::Aborted),
        Some(Err(e)) => Err(e.condition()),
        Some(Ok(ClientNonza::Auth { .. })) | None => Err(SaslCondition::MalformedRequest),
    })
}

/// The account behind an authentication identity and its credentials; `None` for either
/// when there is no such account (the exchange then fakes its answers).
async fn lookup(
    ctx: &C2sContext,
    authcid: &str,
) -> Result<(Option<String>, Option<StoredCredentials>), SaslCondition> {
    let accounts = ctx.server.accounts();
    let Ok(user) = accounts.username(authcid) else {
        return Ok((None, None));
    };
    match accounts.store().credentials(&user).await {
        Ok(credentials) => Ok((Some(user), credentials)),
        Err(e) => {
            tracing::error!(error = %e, "cannot read credentials");
            Err(SaslCondition::TemporaryAuthFailure)
        }
    }
}

/// PLAIN's password, checked as HTTP Basic's is (verified passwords are remembered for a
/// while, the derivation runs off the async workers): the account and whether it matched.
async fn check_password(
    ctx: &C2sContext,
    plain: &PlainCredentials,
) -> Result<(Option<String>, bool), SaslCondition> {
    let accounts = ctx.server.accounts();
    let Ok(user) = accounts.username(&plain.authcid) else {
        return Ok((None, false));
    };
    match accounts.check_password(&user, &plain.password).await {
        Ok(matches) => Ok((Some(user), matches)),
        Err(e) => {
            tracing::error!(error = %e, "cannot check a password");
            Err(SaslCondition::TemporaryAuthFailure)
        }
    }
}

/// Runs one authentication attempt started by `<auth/>`. Inner `Ok` is the login; inner `Err`
/// the failure condition for the caller to report. An address over its count of failed logins
/// gets `<temporary-auth-failure/>` at once.
pub async fn authenticate<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    client: IpAddr,
    mechanism: Mechanism,
    initial_response: Option<Vec<u8>>,
    offered: &[Mechanism],
) -> Result<Result<Authenticated, SaslCondition>, End> {
    if !offered.contains(&mechanism) {
        return Ok(Err(SaslCondition::InvalidMechanism));
    }
    let channel = ChannelBinding {
        tls_exporter: match t.security() {
            Security::Tls { channel_binding } => channel_binding,
            Security::Plain { .. } => None,
        },
        plus_offered: offered.iter().any(Mechanism::is_plus),
    };
    let Ok(attempt) = ctx.auth_throttle.begin(client, T::AUTH_SURFACE) else {
        return Ok(Err(SaslCondition::TemporaryAuthFailure));
    };
    let decoy = Decoy::new(&ctx.decoy_secret, ctx.settings().auth.scram_iterations);
    let mut exchange = ServerExchange::new(mechanism, channel, decoy);
    let mut user = None;
    let mut expires = None;
    // The identity whose credentials were looked up: from then on a refusal is a failed login.
    let mut claimed = None;
    let mut step = exchange.start(initial_response.as_deref());
    loop {
        step = match step {
            Ok(Step::Challenge(data)) => match challenge(t, data).await? {
                Ok(response) => exchange.respond(&response),
                Err(condition) => return Ok(Err(condition)),
            },
            Ok(Step::Lookup(authcid)) => match lookup(ctx, &authcid).await {
                Ok((account, credentials)) => {
                    user = account;
                    let step = exchange.credentials(credentials.as_ref());
                    claimed = Some(authcid);
                    step
                }
                Err(condition) => return Ok(Err(condition)),
            },
            Ok(Step::CheckPassword(plain)) => {
                let token = match token_as_password(ctx, &plain).await {
                    Ok(token) => token,
                    Err(condition) => return Ok(Err(condition)),
                };
                if let Some(verified) = token {
                    claimed = Some(plain.authcid);
                    user = Some(verified.user);
                    expires = Some(verified.expires);
                    exchange.password_checked(true)
                } else {
                    match check_password(ctx, &plain).await {
                        Ok((account, matches)) => {
                            user = account;
                            claimed = Some(plain.authcid);
                            exchange.password_checked(matches)
                        }
                        Err(condition) => return Ok(Err(condition)),
                    }
                }
            }
            Ok(Step::External(authzid)) => match t.preauthenticated().cloned() {
                Some(verified) if authzid_names(ctx, authzid.as_deref(), &verified.user) => {
                    user = Some(verified.user);
                    expires = Some(verified.expires);
                    exchange.identity_checked(true)
                }
                Some(_) => return Ok(Err(SaslCondition::InvalidAuthzid)),
                None => exchange.identity_checked(false),
            },
            Ok(Step::VerifyToken(bearer)) => match admit(ctx, &bearer.token).await {
                Ok(Ok(verified)) => {
                    if !authzid_names(ctx, bearer.authzid.as_deref(), &verified.user) {
                        return Ok(Err(SaslCondition::InvalidAuthzid));
                    }
                    claimed = Some(verified.user.clone());
                    user = Some(verified.user);
                    expires = Some(verified.expires);
                    exchange.token_checked(true)
                }
                Ok(Err(refused)) => {
                    claimed = Some(format!("a token ({})", refused.reason()));
                    exchange.token_checked(false)
                }
                Err(condition) => return Ok(Err(condition)),
            },
            Ok(Step::Success { additional }) => {
                let Some(user) = user else {
                    attempt.failed(claimed.as_deref().unwrap_or_default());
                    return Ok(Err(SaslCondition::NotAuthorized));
                };
                attempt.succeeded();
                tracing::info!(%user, mechanism = mechanism.name(), "authenticated");
                return Ok(Ok(Authenticated {
                    user,
                    additional,
                    expires,
                }));
            }
            Err(e) => {
                let condition = e.condition();
                if let Some(authcid) = &claimed
                    && condition == SaslCondition::NotAuthorized
                {
                    attempt.failed(authcid);
                }
                return Ok(Err(condition));
            }
        };
    }
}
