//! Group commit for the archive: messages archived while a write is in flight go together in
//! the next one, so that many concurrent senders cost a few transactions, not one each.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::storage::Store;
use crate::storage::archive::NewArchived;

/// Entries written in one transaction at most.
const BATCH: usize = 256;
/// Entries waiting for a write; beyond, archiving waits (back-pressure, not memory).
const QUEUE: usize = 4096;

struct Pending {
    entry: NewArchived,
    written: oneshot::Sender<bool>,
}

/// Hands entries to the one task that writes them; the task ends with the last `Writer`.
pub struct Writer {
    tx: mpsc::Sender<Pending>,
}

impl Writer {
    pub fn start(store: Arc<dyn Store>) -> Writer {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write(store, rx));
        Writer { tx }
    }

    /// Archives `entry`; true once it is written.
    pub async fn append(&self, entry: NewArchived) -> bool {
        let (written, done) = oneshot::channel();
        if self.tx.send(Pending { entry, written }).await.is_err() {
            return false;
        }
        done.await.unwrap_or(false)
    }
}

async fn write(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let (entries, waiting): (Vec<NewArchived>, Vec<oneshot::Sender<bool>>) =
            batch.drain(..).map(|p| (p.entry, p.written)).unzip();
        let ok = match store.archive_append(&entries).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, messages = entries.len(), "cannot archive messages");
                false
            }
        };
        for w in waiting {
            let _ = w.send(ok);
        }
    }
}
