//! Sessions that may be resumed (XEP-0198): an unguessable id per session, bound to its account,
//! through which a new stream asks whoever holds the session now to hand it over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::ids::unguessable_id;

/// Where the holder of a session sends it to the stream that resumes it.
pub type Takeover<T> = oneshot::Sender<T>;

/// Resumable sessions by id. `T` is the session state handed over.
pub struct Registry<T> {
    slots: Mutex<HashMap<String, Slot<T>>>,
}

struct Slot<T> {
    user: String,
    requests: mpsc::Sender<Takeover<T>>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> Registry<T> {
    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot<T>>> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new resumable session of `user`; it stays listed while the handle lives, whichever
    /// task holds it.
    pub fn register(self: &Arc<Self>, user: &str) -> Handle<T> {
        // One pending request at a time: a second simultaneous resumption of one id fails.
        let (requests, rx) = mpsc::channel(1);
        let id = unguessable_id();
        self.slots().insert(
            id.clone(),
            Slot {
                user: user.to_owned(),
                requests,
            },
        );
        Handle {
            id,
            requests: rx,
            registry: self.clone(),
        }
    }

    /// The session `id` of `user`, from whoever holds it, if it answers within `wait`. An
    /// unknown id, another account's, or a holder that does not answer give `None`.
    pub async fn claim(&self, id: &str, user: &str, wait: Duration) -> Option<T> {
        let requests = {
            let slots = self.slots();
            let slot = slots.get(id).filter(|slot| slot.user == user)?;
            slot.requests.clone()
        };
        let (reply, answer) = oneshot::channel();
        requests.try_send(reply).ok()?;
        tokio::time::timeout(wait, answer).await.ok()?.ok()
    }
}

/// Held with the session: receives the requests to hand it over. Dropping it (when the
/// session ends) makes the id unknown.
pub struct Handle<T> {
    id: String,
    requests: mpsc::Receiver<Takeover<T>>,
    registry: Arc<Registry<T>>,
}

impl<T> Handle<T> {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The next request to hand the session over.
    pub async fn requested(&mut self) -> Takeover<T> {
        match self.requests.recv().await {
            Some(reply) => reply,
            // The slot holds a sender for as long as this handle lives.
            None => std::future::pending().await,
        }
    }
}

impl<T> Drop for Handle<T> {
    fn drop(&mut self) {
        self.registry.slots().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn the_holder_hands_over_to_the_same_account_only() {
        let registry: Arc<Registry<String>> = Arc::default();
        let mut handle = registry.register("alice");
        let id = handle.id().to_owned();
        assert_eq!(id.len(), 25);
        let holder = tokio::spawn(async move {
            let reply = handle.requested().await;
            reply.send("state".to_owned()).unwrap();
            handle
        });
        assert_eq!(registry.claim(&id, "bob", WAIT).await, None);
        assert_eq!(registry.claim("unknown", "alice", WAIT).await, None);
        assert_eq!(
            registry.claim(&id, "alice", WAIT).await.as_deref(),
            Some("state")
        );
        let handle = holder.await.unwrap();
        drop(handle);
        assert!(registry.slots().is_empty(), "forgotten with its handle");
        assert_eq!(registry.claim(&id, "alice", WAIT).await, None);
    }

    #[tokio::test]
    async fn a_holder_that_does_not_answer_fails_the_claim() {
        let registry: Arc<Registry<String>> = Arc::default();
        let handle = registry.register("alice");
        let claim = registry.claim(handle.id(), "alice", Duration::from_millis(50));
        assert_eq!(claim.await, None);
    }

    #[tokio::test]
    async fn a_refused_handover_keeps_the_state_with_its_holder() {
        let registry: Arc<Registry<String>> = Arc::default();
        let mut handle = registry.register("alice");
        let id = handle.id().to_owned();
        let claim = tokio::spawn({
            let registry = registry.clone();
            async move {
                registry
                    .claim(&id, "alice", Duration::from_millis(10))
                    .await
            }
        });
        let reply = handle.requested().await;
        assert_eq!(claim.await.unwrap(), None);
        // The claimant gave up: the holder gets its state back.
        assert_eq!(reply.send("state".to_owned()), Err("state".to_owned()));
    }
}
