//! XEP-0357 push notifications: clients enable and disable app servers for their account, and a
//! message that reaches an account none of whose resources is connected (all offline, or every
//! stream waiting for XEP-0198 resumption) is announced to each enabled app server.

use async_trait::async_trait;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::push::{self, PushCommand, Summary};
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StanzaKind};

use crate::ctx::{Ctx, Feature, Filter, Flow, Service};
use crate::ids::random_id;
use crate::routed::{Outcome, Routed};
use crate::sessions::SessionEntry;
use crate::storage::{PushRegistration, StoreError};

/// `<enable/>` and `<disable/>` from a client, for its own account.
pub struct PushRegistrations;

impl PushRegistrations {
    const FEATURES: &[Feature] = &[Feature::account(ns::PUSH)];
}

#[async_trait]
impl Service for PushRegistrations {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let Some(user) = ctx.own_account(&iq) else {
            return ctx
                .bounce(&iq, ErrorType::Cancel, DefinedCondition::Forbidden, None)
                .await;
        };
        let payload = stanza::iq_payload(&iq.el).filter(|_| iq.type_() == "set");
        let command = match payload.map(PushCommand::parse) {
            Some(Ok(command)) => command,
            Some(Err(e)) => return ctx.bounce_with(&iq, e.error()).await,
            None => {
                return ctx
                    .bounce(
                        &iq,
                        ErrorType::Cancel,
                        DefinedCondition::FeatureNotImplemented,
                        None,
                    )
                    .await;
            }
        };
        let done = match command {
            PushCommand::Enable {
                service,
                node,
                options,
            } => enable(ctx, &user, service.as_str(), node, options).await,
            PushCommand::Disable { service, node } => ctx
                .store()
                .push_disable(&user, service.as_str(), node.as_deref())
                .await
                .map(|()| true),
        };
        match done {
            Ok(true) => ctx.reply(&iq, stanza::iq_result(&iq.el, None)).await,
            Ok(false) => {
                let text = format!(
                    "At most {} push registrations per account",
                    ctx.config().push.max_registrations
                );
                ctx.bounce(
                    &iq,
                    ErrorType::Wait,
                    DefinedCondition::ResourceConstraint,
                    Some(&text),
                )
                .await
            }
            Err(e) => {
                tracing::error!(error = %e, %user, "cannot store a push registration");
                ctx.bounce(
                    &iq,
                    ErrorType::Wait,
                    DefinedCondition::InternalServerError,
                    None,
                )
                .await
            }
        }
    }

    fn features(&self) -> &'static [Feature] {
        Self::FEATURES
    }
}

/// Stores a registration unless the account already has `push.max_registrations` others.
async fn enable(
    ctx: &Ctx,
    user: &str,
    service: &str,
    node: String,
    options: Option<Element>,
) -> Result<bool, StoreError> {
    let existing = ctx.store().push_registrations(user).await?;
    let replaces = existing
        .iter()
        .any(|r| r.service == service && r.node == node);
    if !replaces && existing.len() >= ctx.config().push.max_registrations {
        return Ok(false);
    }
    let registration = PushRegistration {
        service: service.to_owned(),
        node,
        options: options.as_ref().map(String::from),
    };
    ctx.store().push_enable(user, &registration).await?;
    tracing::debug!(%user, service, "push enabled");
    Ok(true)
}

/// Announces messages for accounts with no connected resource to their app servers.
pub struct PushNotifier;

impl PushNotifier {
    /// A message a person would want to hear about: a chat or normal message with a body or
    /// an end-to-end encrypted payload (carbons, receipts, chat states and errors carry none).
    fn worth_a_push(el: &Element) -> bool {
        let type_ = el.attr("type").unwrap_or("normal");
        matches!(type_, "chat" | "normal")
            && (el.has_child("body", ns::CLIENT)
                || [ns::OMEMO, ns::OMEMO_LEGACY, ns::OPENPGP]
                    .iter()
                    .any(|&ns| el.has_child("encrypted", ns) || el.has_child("openpgp", ns)))
    }
}

#[async_trait]
impl Filter for PushNotifier {
    async fn inbound(
        &self,
        ctx: &Ctx,
        user: &str,
        stanza: &mut Routed,
        targets: &[SessionEntry],
    ) -> Flow {
        if stanza.kind != StanzaKind::Message || !Self::worth_a_push(&stanza.el) {
            return Flow::Continue;
        }
        let config = ctx.config();
        // A connected client hears of it itself: never wake a device that is online.
        let connected = targets.iter().any(|t| !t.detached)
            || ctx.sessions().resources(user).iter().any(|t| !t.detached);
        if connected {
            return Flow::Continue;
        }
        let registrations = match ctx.store().push_registrations(user).await {
            Ok(registrations) => registrations,
            Err(e) => {
                tracing::error!(error = %e, %user, "cannot read push registrations");
                return Flow::Continue;
            }
        };
        if registrations.is_empty() {
            return Flow::Continue;
        }
        let body = stanza
            .el
            .get_child("body", ns::CLIENT)
            .map(Element::text)
            .filter(|_| config.push.include_body);
        // With no stream at all the message joins the offline store: the count is what waits
        // there. A stream waiting for resumption queues it instead, out of sight: one.
        let waiting = if targets.is_empty() {
            match ctx.store().offline_usage(user).await {
                Ok(usage) => usage.messages,
                Err(e) => {
                    tracing::warn!(error = %e, %user, "cannot count offline messages for a push");
                    0
                }
            }
        } else {
            0
        };
        let summary = Summary {
            message_count: u32::try_from(waiting.saturating_add(1)).unwrap_or(u32::MAX),
            last_sender: config.push.include_sender.then(|| stanza.from.to_string()),
            last_body: body,
        };
        let Some(account) = ctx.account_jid(user) else {
            return Flow::Continue;
        };
        for registration in registrations {
            let options = registration
                .options
                .as_deref()
                .and_then(|xml| xml.parse::<Element>().ok());
            let notification = push::notification(
                &random_id(),
                account.as_str(),
                &registration.service,
                &registration.node,
                &summary,
                options.as_ref(),
            );
            tracing::debug!(%user, service = %registration.service, "push notification");
            ctx.send(notification).await;
        }
        Flow::Continue
    }
}
