//! Retention: with `mam.retention_days` set, messages older than that leave the archives, the
//! rooms' included, in a background task that runs at start and then hourly, a batch at a time.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ctx::Ctx;

const EVERY: Duration = Duration::from_secs(3600);
/// Messages deleted per write: short transactions that never hold up traffic for long.
const BATCH: usize = 1000;
/// Writes per run; what is left waits for the next run.
const BATCHES_PER_RUN: usize = 100;

/// Starts the task, unless archives are kept forever.
pub fn spawn(ctx: Ctx, shutdown: CancellationToken, tasks: &TaskTracker) {
    let days = ctx.config().mam.retention_days;
    if days == 0 {
        return;
    }
    tasks.spawn(async move {
        loop {
            purge(&ctx, days).await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(EVERY) => {}
            }
        }
    });
}

/// One run: deletes messages archived more than `days` ago, from the accounts' archives and
/// from the rooms' (group chat), at most `BATCH * BATCHES_PER_RUN` of each; returns how many.
pub async fn purge(ctx: &Ctx, days: u32) -> u64 {
    let cutoff = ctx.now() - chrono::Duration::days(i64::from(days));
    let mut purged = 0;
    for rooms in [false, true] {
        for _ in 0..BATCHES_PER_RUN {
            let deleted = if rooms {
                ctx.store().muc_archive_purge(cutoff, BATCH).await
            } else {
                ctx.store().archive_purge(cutoff, BATCH).await
            };
            match deleted {
                Ok(n) => {
                    purged += n;
                    if n < BATCH as u64 {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "archive retention failed");
                    break;
                }
            }
            tokio::task::yield_now().await;
        }
    }
    if purged > 0 {
        tracing::info!(purged, days, "archived messages past retention deleted");
    }
    purged
}
