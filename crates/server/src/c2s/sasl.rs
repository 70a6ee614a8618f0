//! The SASL exchange of RFC 6120 §6 over a transport: which mechanisms a channel offers, the
//! account lookups an exchange asks for, and carrying its challenges and responses.

use std::net::IpAddr;

use switchboard_xmpp::framing::StreamEvent;
use switchboard_xmpp::sasl::{
    self, ChannelBinding, ClientNonza, Decoy, Mechanism, PlainCredentials, SaslCondition,
    ScramHash, ServerExchange, Step, StoredCredentials,
};

use super::end::End;
use super::{C2sContext, Security, Transport};

/// Mechanisms offered on a channel: SCRAM-*-PLUS only with a known channel binding, and a
/// SCRAM family only while every account has keys for it (accounts imported with one family
/// log in with the other, or with PLAIN, which gives them both).
pub async fn offered(security: &Security, ctx: &C2sContext) -> Vec<Mechanism> {
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
    offered
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

/// Runs one authentication attempt started by `<auth/>`. Inner `Ok` carries the username and
/// the `<success/>` payload; inner `Err` the failure condition for the caller to report. An
/// address over its count of failed logins gets `<temporary-auth-failure/>` at once.
pub async fn authenticate<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    client: IpAddr,
    mechanism: Mechanism,
    initial_response: Option<Vec<u8>>,
    offered: &[Mechanism],
) -> Result<Result<(String, Option<Vec<u8>>), SaslCondition>, End> {
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
            Ok(Step::CheckPassword(plain)) => match check_password(ctx, &plain).await {
                Ok((account, matches)) => {
                    user = account;
                    claimed = Some(plain.authcid);
                    exchange.password_checked(matches)
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
                return Ok(Ok((user, additional)));
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
