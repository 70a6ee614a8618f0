//! XEP-0280 message carbons: resources enable or disable copies for themselves, and the filter
//! gives each carbons-enabled resource of an account both sides of its conversations.

use async_trait::async_trait;
use switchboard_xmpp::carbons::{self, Direction, Toggle};
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StanzaKind};

use crate::ctx::{Ctx, Feature, Filter, Flow, Service};
use crate::routed::{Origin, Outcome, Routed};
use crate::sessions::SessionEntry;

/// The carbons service and filter; one instance is registered as both.
pub struct Carbons;

#[async_trait]
impl Service for Carbons {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let toggle = stanza::iq_payload(&iq.el)
            .and_then(Toggle::parse)
            .filter(|_| iq.type_() == "set");
        let Some(toggle) = toggle else {
            return ctx
                .bounce(
                    &iq,
                    ErrorType::Modify,
                    DefinedCondition::BadRequest,
                    Some("Expected <enable/> or <disable/> in an iq set"),
                )
                .await;
        };
        let own = iq
            .to
            .as_ref()
            .is_none_or(|to| to.to_bare() == iq.from.to_bare());
        let user = ctx.local_user(&iq.from);
        // §3, §4: only a session of this server, for itself.
        let (Some(user), true, Origin::Session(id)) = (user, own, iq.origin) else {
            return ctx
                .bounce(
                    &iq,
                    ErrorType::Cancel,
                    DefinedCondition::NotAllowed,
                    Some("Carbons are enabled by a client session for itself"),
                )
                .await;
        };
        let enabled = toggle == Toggle::Enable;
        ctx.sessions()
            .update(&user, id, &mut |e| e.carbons = enabled);
        ctx.reply(&iq, stanza::iq_result(&iq.el, None)).await
    }

    fn features(&self) -> &'static [Feature] {
        const FEATURES: &[Feature] = &[Feature::server(ns::CARBONS)];
        FEATURES
    }
}

#[async_trait]
impl Filter for Carbons {
    /// §5: a copy of what one resource sends to the account's other carbons-enabled resources.
    async fn outbound(&self, ctx: &Ctx, user: &str, stanza: &mut Routed) -> Flow {
        // A message to the account itself is copied on its receiving side instead.
        let to_other = stanza
            .to
            .as_ref()
            .is_some_and(|to| ctx.local_user(to).as_deref() != Some(user));
        if stanza.kind == StanzaKind::Message
            && to_other
            && carbons::eligible(&stanza.el, Direction::Sent)
        {
            copy(ctx, user, stanza, Direction::Sent, &[]);
        }
        Flow::Continue
    }

    /// §4: a copy of what the account receives to its carbons-enabled resources the routing did
    /// not deliver it to; §7: `<private/>` is removed before delivery.
    async fn inbound(
        &self,
        ctx: &Ctx,
        user: &str,
        stanza: &mut Routed,
        targets: &[SessionEntry],
    ) -> Flow {
        if stanza.kind != StanzaKind::Message || carbons::strip_private(&mut stanza.el) {
            return Flow::Continue;
        }
        if carbons::eligible(&stanza.el, Direction::Received) {
            copy(ctx, user, stanza, Direction::Received, targets);
        }
        Flow::Continue
    }
}

/// Pushes the wrapped copy straight to each carbons-enabled resource of `user` other than the
/// sender and `targets`, so that copies never pass the filters again.
fn copy(ctx: &Ctx, user: &str, stanza: &Routed, direction: Direction, targets: &[SessionEntry]) {
    let mut enabled = ctx.sessions().resources(user);
    enabled.retain(|entry| entry.carbons && !targets.iter().any(|t| t.id == entry.id));
    // Most messages go to accounts without carbons: nothing more to build for them.
    if enabled.is_empty() {
        return;
    }
    let Some(account) = ctx.account_jid(user) else {
        return;
    };
    let sender = match stanza.origin {
        Origin::Session(id) => Some(id),
        _ => None,
    };
    let sending_resource = (stanza.from.to_bare() == account)
        .then(|| stanza.from.resource().map(|r| r.as_str()))
        .flatten();
    for entry in enabled {
        let skip = Some(entry.id) == sender || Some(entry.resource.as_str()) == sending_resource;
        if skip {
            continue;
        }
        let to = format!("{account}/{}", entry.resource);
        entry.push(carbons::wrap(direction, &stanza.el, account.as_str(), &to));
    }
}
