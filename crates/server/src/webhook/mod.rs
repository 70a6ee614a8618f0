//! Webhooks (mod_rest §5 and beyond): stanzas for a REST component with a callback URL, or for a bot
//! account with a callback and no session, pass through a durable outbox to a signed HTTP POST.
//!
//! A stanza is written to the store before the router returns (so whoever acknowledged it upstream
//! acknowledged something durable), delivered by [`outbox`] in order per destination JID, and
//! deleted only once the callback's answer was turned into the reply ([`reply`]). Failures are
//! retried with backoff, then reported to the sender and kept as dead letters.

mod callback;
mod delivery;
mod error;
mod hooks;
mod metrics;
mod outbox;
mod reply;
pub mod sign;
pub mod spec;

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use callback::Callback;
pub use error::WebhookError;
pub use hooks::{Registration, UserCallbackRequest, Webhooks, redrive, rfc3339, secret_of};
pub use spec::{Event, Spec};

use crate::ctx::Ctx;

/// Starts the startup probes and the outbox dispatcher; both stop with `shutdown`.
pub fn spawn(hooks: &Webhooks, ctx: Ctx, shutdown: CancellationToken, tasks: &TaskTracker) {
    let probe_timeout = Duration::from_secs(hooks.inner.settings.timeout_secs);
    for callback in hooks.callbacks_snapshot() {
        let client = hooks.inner.client.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                _ = callback.media(&client, probe_timeout) => {}
            }
        });
    }
    tasks.spawn(outbox::run(hooks.clone(), ctx, shutdown, tasks.clone()));
}
