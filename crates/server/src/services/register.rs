//! XEP-0077 in-band registration: new accounts on a stream before login (when
//! `auth.allow_registration`), and for logged-in users their registration, a new password and
//! the removal of their account.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::register::{self, RegisterRequest};
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StreamCondition};

use crate::auth::AccountError;
use crate::auth::registrations::RegistrationThrottle;
use crate::ctx::{Ctx, Feature, Service};
use crate::routed::{Outcome, Routed};
use crate::sessions::SessionMsg;

/// The answer to a registration iq on a stream that is not logged in. Only a new account may
/// be made there; registrations from one address are spaced by
/// `auth.registration_interval_secs`.
pub async fn before_login(
    ctx: &Ctx,
    throttle: &RegistrationThrottle,
    client: IpAddr,
    iq: &Element,
) -> Element {
    let error = |type_, condition, text: &str| {
        stanza::error_reply(iq, type_, condition, Some(text))
            .unwrap_or_else(|| stanza::iq_result(iq, None))
    };
    let (username, password) = match RegisterRequest::parse(iq) {
        Ok(RegisterRequest::Form) => {
            let text = format!(
                "Choose a username and a password for your account on {}",
                ctx.domain()
            );
            return stanza::iq_result(iq, Some(register::form(&text)));
        }
        Ok(RegisterRequest::Remove) => {
            return error(
                ErrorType::Auth,
                DefinedCondition::NotAuthorized,
                "Log in to remove your account",
            );
        }
        Ok(RegisterRequest::Submit { username, password }) => (username, password),
        Err(e) => {
            return stanza::error_reply_with(iq, e.error())
                .unwrap_or_else(|| stanza::iq_result(iq, None));
        }
    };
    let accounts = ctx.accounts();
    let user = match accounts.username(&username) {
        Ok(user) => user,
        Err(e) => {
            return error(
                ErrorType::Modify,
                DefinedCondition::NotAcceptable,
                &e.to_string(),
            );
        }
    };
    let interval = Duration::from_secs(ctx.config().auth.registration_interval_secs);
    if let Err(wait) = throttle.admit(client, interval) {
        let text = format!(
            "Too many registrations from your address: try again in {} s",
            wait.as_secs().max(1)
        );
        return error(ErrorType::Wait, DefinedCondition::ResourceConstraint, &text);
    }
    match accounts.add_user(&user, &password).await {
        Ok(user) => {
            tracing::info!(%user, %client, "account registered in-band");
            stanza::iq_result(iq, None)
        }
        Err(e) => {
            throttle.release(client);
            let (type_, condition) = account_error(&e);
            error(type_, condition, &e.to_string())
        }
    }
}

fn account_error(e: &AccountError) -> (ErrorType, DefinedCondition) {
    match e {
        AccountError::Exists => (ErrorType::Cancel, DefinedCondition::Conflict),
        AccountError::InvalidUsername(_)
        | AccountError::WrongDomain(_)
        | AccountError::BadPassword(_) => (ErrorType::Modify, DefinedCondition::NotAcceptable),
        AccountError::NoSuchUser => (ErrorType::Cancel, DefinedCondition::ItemNotFound),
        AccountError::Store(_) => (ErrorType::Wait, DefinedCondition::InternalServerError),
    }
}

/// `jabber:iq:register` from a logged-in user, to the server or to their own account.
pub struct Register;

impl Register {
    const FEATURES: &[Feature] = &[Feature::server(ns::REGISTER)];

    /// The account the request is about: always the sender's own.
    fn account(ctx: &Ctx, iq: &Routed) -> Option<String> {
        match &iq.to {
            Some(to) if to == ctx.domain_jid() => ctx.local_user(&iq.from),
            _ => ctx.own_account(iq),
        }
    }

    async fn refuse(
        ctx: &Ctx,
        iq: &Routed,
        type_: ErrorType,
        condition: DefinedCondition,
        text: &str,
    ) -> Outcome {
        ctx.bounce(iq, type_, condition, Some(text)).await
    }
}

#[async_trait]
impl Service for Register {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let Some(user) = Self::account(ctx, &iq) else {
            return ctx
                .bounce(
                    &iq,
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    None,
                )
                .await;
        };
        let config = ctx.config();
        let request = match RegisterRequest::parse(&iq.el) {
            Ok(request) => request,
            Err(e) => return ctx.bounce_with(&iq, e.error()).await,
        };
        match request {
            RegisterRequest::Form => {
                let answer = register::registered(&user);
                ctx.reply(&iq, stanza::iq_result(&iq.el, Some(answer)))
                    .await
            }
            RegisterRequest::Submit { username, password } => {
                if !config.auth.allow_password_change {
                    return Self::refuse(
                        ctx,
                        &iq,
                        ErrorType::Cancel,
                        DefinedCondition::NotAllowed,
                        "Password changes are disabled on this server",
                    )
                    .await;
                }
                if ctx.accounts().username(&username).ok().as_deref() != Some(user.as_str()) {
                    return Self::refuse(
                        ctx,
                        &iq,
                        ErrorType::Modify,
                        DefinedCondition::NotAuthorized,
                        "The username must be your own",
                    )
                    .await;
                }
                match ctx.accounts().set_password(&user, &password).await {
                    Ok(()) => {
                        tracing::info!(%user, "password changed in-band");
                        ctx.reply(&iq, stanza::iq_result(&iq.el, None)).await
                    }
                    Err(e) => {
                        let (type_, condition) = account_error(&e);
                        Self::refuse(ctx, &iq, type_, condition, &e.to_string()).await
                    }
                }
            }
            RegisterRequest::Remove => {
                if !config.auth.allow_account_removal {
                    return Self::refuse(
                        ctx,
                        &iq,
                        ErrorType::Cancel,
                        DefinedCondition::NotAllowed,
                        "Account removal is disabled on this server",
                    )
                    .await;
                }
                if let Err(e) = ctx.accounts().delete_user(&user).await {
                    let (type_, condition) = account_error(&e);
                    return Self::refuse(ctx, &iq, type_, condition, &e.to_string()).await;
                }
                tracing::info!(%user, "account removed in-band");
                let outcome = ctx.reply(&iq, stanza::iq_result(&iq.el, None)).await;
                // XEP-0077 §3.2: the account's streams end; the result goes out first (the
                // same mailbox keeps the order).
                for entry in ctx.sessions().resources(&user) {
                    let _ = entry.tx.try_send(SessionMsg::Kick(
                        StreamCondition::NotAuthorized,
                        "Account removed",
                    ));
                }
                outcome
            }
        }
    }

    fn features(&self) -> &'static [Feature] {
        Self::FEATURES
    }
}
