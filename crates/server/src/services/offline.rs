//! Offline storage: chat and normal messages for an account with no available resource are
//! persisted and handed to the next session that becomes available, with a XEP-0203 delay.

use async_trait::async_trait;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};

use crate::ctx::{Ctx, Feature, Service};
use crate::routed::{Outcome, Routed};
use crate::storage::StoreError;

/// Persists messages for accounts with no available resource, or bounces them when the
/// account does not exist or the store fails (so nothing is acknowledged that was not kept).
pub struct Offline;

#[async_trait]
impl Service for Offline {
    async fn handle(&self, ctx: &Ctx, message: Routed) -> Outcome {
        let Some(user) = ctx.local_user(message.to.as_ref().unwrap_or(&message.from)) else {
            return Outcome::Dropped;
        };
        let xml = stanza::to_xml(&message.el);
        match ctx.store().offline_push(&user, &xml).await {
            Ok(()) => {
                tracing::debug!(user, "stored offline message");
                Outcome::Stored
            }
            Err(StoreError::NoSuchUser) => {
                ctx.bounce(
                    &message,
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    None,
                )
                .await
            }
            Err(e) => {
                tracing::error!(user, error = %e, "cannot store offline message");
                ctx.bounce(
                    &message,
                    ErrorType::Wait,
                    DefinedCondition::InternalServerError,
                    Some("Message could not be stored"),
                )
                .await
            }
        }
    }

    fn features(&self) -> &'static [Feature] {
        const FEATURES: &[Feature] = &[Feature::server(ns::MSGOFFLINE), Feature::server(ns::DELAY)];
        FEATURES
    }
}

/// The stored messages of `user`, oldest first, each stamped with its arrival time.
/// The caller deletes them by id once they are written to the client.
pub async fn pending(ctx: &Ctx, user: &str) -> Result<Vec<(i64, Element)>, StoreError> {
    let stored = ctx.store().offline_list(user).await?;
    let mut out = Vec::with_capacity(stored.len());
    for msg in stored {
        match msg.stanza.parse::<Element>() {
            Ok(mut el) => {
                let stamp = msg
                    .stored_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                el.append_child(stanza::delay(ctx.domain(), &stamp));
                out.push((msg.id, el));
            }
            Err(e) => tracing::error!(id = msg.id, error = %e, "unreadable offline message kept"),
        }
    }
    Ok(out)
}
