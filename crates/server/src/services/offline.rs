//! XEP-0160 offline storage: messages worth keeping are stored within the account's quotas, and
//! the backlog goes, batch by batch, to the one session that claims it first.

use std::time::Duration;

use crate::ctx::{Ctx, Feature, Service};
use crate::ids::random_id;
use crate::routed::{Outcome, Routed};
use crate::storage::{OfflineQuota, StoreError};
use async_trait::async_trait;
use minidom::Element;
use switchboard_xmpp::ns;
use switchboard_xmpp::offline::is_storable;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};

/// Messages read, written to the client and deleted at a time: memory stays the same whatever
/// the backlog's size.
const BATCH: usize = 100;

/// How long a session may take per batch before another may take the backlog over (should the
/// process holding it have died).
const LEASE: Duration = Duration::from_secs(300);

/// Persists messages for accounts with no available resource, or bounces them when the
/// account does not exist, its storage is full or the store fails (so nothing is acknowledged
/// that was not kept).
pub struct Offline;

#[async_trait]
impl Service for Offline {
    async fn handle(&self, ctx: &Ctx, message: Routed) -> Outcome {
        let Some(user) = ctx.local_user(message.to.as_ref().unwrap_or(&message.from)) else {
            return Outcome::Dropped;
        };
        match keep(ctx, &user, &message.el).await {
            Ok(true) => {
                tracing::debug!(user, "stored offline message");
                Outcome::Stored
            }
            Ok(false) => Outcome::Dropped,
            Err(StoreError::NoSuchUser) => {
                ctx.bounce(
                    &message,
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    None,
                )
                .await
            }
            Err(StoreError::QuotaExceeded) => {
                tracing::debug!(user, "offline storage full");
                ctx.bounce(
                    &message,
                    ErrorType::Wait,
                    DefinedCondition::ResourceConstraint,
                    Some("The recipient's offline storage is full"),
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

/// Stores `message` for `user` when offline storage keeps such a message (XEP-0160, with the
/// XEP-0334 hints), within the account's quotas; `Ok(false)` when it does not keep it.
pub async fn keep(ctx: &Ctx, user: &str, message: &Element) -> Result<bool, StoreError> {
    if !is_storable(message) {
        return Ok(false);
    }
    let limits = &ctx.config().limits;
    let quota = OfflineQuota {
        max_messages: limits.offline_max_messages,
        max_bytes: limits.offline_max_bytes,
    };
    let xml = stanza::to_xml(message);
    ctx.store().offline_push(user, &xml, quota).await?;
    Ok(true)
}

fn millis(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_millis()
}

/// An account's stored messages on their way to one session, which claimed them: read in
/// batches, each deleted once written. Released when done (or, if the process dies, when the
/// lease runs out).
pub struct Backlog {
    ctx: Ctx,
    user: String,
    holder: String,
    after: i64,
}

impl Backlog {
    /// Claims `user`'s stored messages; `None` when another session is delivering them, or
    /// the store cannot say.
    pub async fn claim(ctx: &Ctx, user: &str) -> Option<Backlog> {
        let backlog = Backlog {
            ctx: ctx.clone(),
            user: user.to_owned(),
            holder: random_id(),
            after: 0,
        };
        backlog.renew().await.then_some(backlog)
    }

    async fn renew(&self) -> bool {
        let now = millis(self.ctx.now());
        let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let claimed = self
            .ctx
            .store()
            .offline_claim(&self.user, &self.holder, now, now.saturating_add(lease))
            .await;
        claimed.unwrap_or_else(|e| {
            tracing::error!(user = self.user, error = %e, "cannot claim offline messages");
            false
        })
    }

    /// The next batch of at most `max`, oldest first, each with its arrival time as a XEP-0203
    /// delay and its id for [`Backlog::delivered`]; empty at the end (or when the claim was lost).
    pub async fn next(&mut self, max: usize) -> Result<Vec<(i64, Element)>, StoreError> {
        if !self.renew().await {
            return Ok(Vec::new());
        }
        loop {
            let stored = self
                .ctx
                .store()
                .offline_batch(&self.user, self.after, BATCH.min(max))
                .await?;
            if stored.is_empty() {
                return Ok(Vec::new());
            }
            let mut out = Vec::with_capacity(stored.len());
            for msg in stored {
                self.after = msg.id;
                match msg.stanza.parse::<Element>() {
                    Ok(mut el) => {
                        let stamp = msg
                            .stored_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                        el.append_child(stanza::delay(self.ctx.domain(), &stamp));
                        out.push((msg.id, el));
                    }
                    Err(e) => {
                        tracing::error!(id = msg.id, error = %e, "unreadable offline message kept");
                    }
                }
            }
            if !out.is_empty() {
                return Ok(out);
            }
        }
    }

    /// Deletes messages written to the client.
    pub async fn delivered(&self, ids: &[i64]) {
        if let Err(e) = self.ctx.store().offline_delete(&self.user, ids).await {
            tracing::error!(user = self.user, error = %e, "cannot delete delivered offline messages");
        }
    }

    /// Gives the claim up.
    pub async fn release(self) {
        if let Err(e) = self
            .ctx
            .store()
            .offline_release(&self.user, &self.holder)
            .await
        {
            tracing::error!(user = self.user, error = %e, "cannot release offline messages");
        }
    }
}
