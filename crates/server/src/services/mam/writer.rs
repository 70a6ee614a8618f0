//! Archive writes off the delivery path: entries queue for one task that writes each batch in
//! one transaction; a reader first waits until everything queued before it is written.

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::ctx::Ctx;
use crate::storage::Store;
use crate::storage::archive::NewArchived;

/// Entries written in one transaction at most.
const BATCH: usize = 256;
/// Entries waiting for a write; beyond, archiving waits (back-pressure, not memory).
const QUEUE: usize = 4096;

enum Job {
    Append(NewArchived),
    /// Answered once every entry queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// The archive's writer, shared by the filter that archives and the services that read;
/// started with the first write, from the store of the context it is given.
#[derive(Default)]
pub struct ArchiveWriter {
    tx: OnceLock<mpsc::Sender<Job>>,
}

impl ArchiveWriter {
    fn queue(&self, ctx: &Ctx) -> &mpsc::Sender<Job> {
        self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(write(ctx.store().clone(), rx));
            tx
        })
    }

    /// Queues `entry`: it is written with the next batch, in queue order. Delivery does not
    /// wait for the disk; a failed write is logged.
    pub async fn append(&self, ctx: &Ctx, entry: NewArchived) {
        if self.queue(ctx).send(Job::Append(entry)).await.is_err() {
            tracing::error!("archive writer gone; message not archived");
        }
    }

    /// Waits until every entry queued so far is written (or its write failed): a query after
    /// this sees every message archived before it.
    pub async fn flush(&self, ctx: &Ctx) {
        let (done, flushed) = oneshot::channel();
        if self.queue(ctx).send(Job::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }
}

async fn write(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut jobs, BATCH).await > 0 {
        let mut entries = Vec::with_capacity(jobs.len());
        let mut waiting = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Append(entry) => entries.push(entry),
                Job::Flush(done) => waiting.push(done),
            }
        }
        if !entries.is_empty()
            && let Err(e) = store.archive_append(&entries).await
        {
            tracing::error!(error = %e, messages = entries.len(), "cannot archive messages");
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}
