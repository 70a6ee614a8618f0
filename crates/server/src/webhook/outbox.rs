//! The outbox dispatcher: hands the oldest waiting stanza of each destination to a delivery task
//! within the per-host limit, and after each answer decides: done, retry later, or give up.
//!
//! The backlog lives in the store; memory holds only the deliveries in flight (at most
//! `per_host_concurrency` per host) and one batch of heads per pass.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use minidom::Element;
use rand::Rng;
use switchboard_xmpp::rest_codec::{self, MediaType};
use switchboard_xmpp::{callback_error, ns, stanza};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::callback::Callback;
use super::delivery::{self, Request};
use super::hooks::{Webhooks, now_ms, principal};
use super::reply::{self, GaveUp};
use crate::ctx::Ctx;
use crate::routed::{Origin, Routed};
use crate::storage::OutboxEntry;
use crate::throttle::ReportEvery;

/// Replies refused and deliveries given up: one per stanza, which senders cause at will.
static REPLY_REFUSED: ReportEvery = ReportEvery::new(Duration::from_secs(10));
static BURIED: ReportEvery = ReportEvery::new(Duration::from_secs(10));

/// Heads read per pass, beyond those already in flight.
const BATCH: usize = 256;
/// Longest sleep between passes, so that a re-drive by the CLI (another process) is seen soon.
const POLL: Duration = Duration::from_secs(1);
/// A `Retry-After` longer than this is taken as this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Which destinations may not be started in the current pass.
#[derive(Default)]
struct Lanes {
    /// A delivery is in flight: the destination's next entry waits its turn.
    busy: HashSet<String>,
    /// A delivery ended since this pass began reading heads, which may predate the store update
    /// it made (a deleted or rescheduled head would be sent again); the next pass takes them.
    settled: HashSet<String>,
}

struct Dispatcher {
    hooks: Webhooks,
    ctx: Ctx,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    lanes: Arc<Mutex<Lanes>>,
    /// A semaphore per callback host, dropped when no delivery holds a permit.
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

pub(super) async fn run(
    hooks: Webhooks,
    ctx: Ctx,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let dispatcher = Dispatcher {
        hooks,
        ctx,
        shutdown,
        tasks,
        lanes: Arc::default(),
        hosts: Arc::default(),
    };
    loop {
        let wait = dispatcher.pass().await;
        tokio::select! {
            () = dispatcher.shutdown.cancelled() => return,
            () = dispatcher.hooks.inner.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

impl Dispatcher {
    /// Starts every due head it can; returns how long to sleep before the next pass.
    async fn pass(&self) -> Duration {
        let busy = {
            let mut lanes = lock(&self.lanes);
            lanes.settled.clear();
            lanes.busy.len()
        };
        let heads = match self.hooks.inner.store.outbox_heads(BATCH + busy).await {
            Ok(heads) => heads,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the webhook outbox");
                return POLL;
            }
        };
        let now = now_ms();
        for entry in heads {
            if entry.next_attempt_at > now {
                // Heads come soonest first: nothing after this one is due either.
                let wait = u64::try_from(entry.next_attempt_at - now).unwrap_or_default();
                return Duration::from_millis(wait).min(POLL);
            }
            let waiting = {
                let lanes = lock(&self.lanes);
                lanes.busy.contains(&entry.destination)
                    || lanes.settled.contains(&entry.destination)
            };
            if waiting {
                continue;
            }
            self.start(entry).await;
        }
        POLL
    }

    async fn start(&self, row: OutboxEntry) {
        let entry = Entry {
            hooks: self.hooks.clone(),
            ctx: self.ctx.clone(),
            row,
        };
        let stanza: Element = match entry.row.stanza.parse() {
            Ok(stanza) => stanza,
            Err(e) => {
                let detail = format!("stored stanza is unreadable: {e}");
                let why = GaveUp::Unreachable(detail.clone());
                return entry.give_up(None, why, None, &detail).await;
            }
        };
        let Some(callback) = self.hooks.callback(entry.owner()) else {
            let why = GaveUp::Unreachable("The recipient no longer has a callback".into());
            let detail = format!("no callback is configured for {}", entry.owner());
            return entry.give_up(Some(&stanza), why, None, &detail).await;
        };
        let url = callback.url_for(&stanza);
        let Some(host) = reqwest::Url::parse(&url).ok().and_then(|u| host_key(&u)) else {
            let why = GaveUp::Unreachable("The callback URL is invalid".into());
            let detail = "the templated callback URL is invalid";
            return entry.give_up(Some(&stanza), why, None, detail).await;
        };
        let per_host = self.hooks.inner.settings.per_host_concurrency;
        let permit = {
            let mut hosts = lock(&self.hosts);
            let semaphore = hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(per_host)))
                .clone();
            semaphore.try_acquire_owned()
        };
        // A busy host keeps its backlog in the store; a finishing delivery wakes the next pass.
        let Ok(permit) = permit else {
            return;
        };
        let destination = entry.row.destination.clone();
        lock(&self.lanes).busy.insert(destination.clone());
        let job = Job {
            entry,
            stanza,
            callback,
            url,
        };
        let lanes = self.lanes.clone();
        let hosts = self.hosts.clone();
        let hooks = self.hooks.clone();
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                // Abandoning mid-request is safe: the entry is still stored and goes out again.
                () = shutdown.cancelled() => {}
                () = job.deliver() => {}
            }
            drop(permit);
            {
                let mut lanes = lock(&lanes);
                lanes.busy.remove(&destination);
                lanes.settled.insert(destination);
            }
            // A semaphore only the map still holds has no delivery in flight.
            lock(&hosts).retain(|_, s| Arc::strong_count(s) > 1);
            hooks.inner.wake.notify_one();
        });
    }
}

/// `host:port`, the unit of concurrency.
fn host_key(url: &reqwest::Url) -> Option<String> {
    Some(format!(
        "{}:{}",
        url.host_str()?,
        url.port_or_known_default()?
    ))
}

/// Exponential backoff with jitter: `base·2^(n-1)` capped at `max`, then a random point in its
/// upper half, so that many stanzas failing together do not retry together.
fn backoff(attempts: u32, base_ms: u64, max_ms: u64) -> Duration {
    let exp = base_ms.saturating_mul(1u64 << attempts.saturating_sub(1).min(32));
    let capped = exp.min(max_ms);
    let half = capped / 2;
    Duration::from_millis(half + rand::rng().random_range(0..=capped - half))
}

/// 429 and 5xx are a callback saying "not now", unless it answered with a stanza. 501 Not
/// Implemented and 505 HTTP Version Not Supported say "never" (RFC 9110 §15.6.2, §15.6.6): the
/// seed's Flask bot answers 501 to everything it does not handle, and expects the error at once.
fn is_transient(status: u16) -> bool {
    status == 429 || ((500..600).contains(&status) && !matches!(status, 501 | 505))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// An outbox entry and what can become of it: handled, rescheduled, or given up on.
struct Entry {
    hooks: Webhooks,
    ctx: Ctx,
    row: OutboxEntry,
}

/// One attempt at delivering an entry.
struct Job {
    entry: Entry,
    stanza: Element,
    callback: Arc<Callback>,
    url: String,
}

impl Job {
    /// One attempt, and what follows from its outcome.
    async fn deliver(self) {
        let Job {
            entry,
            stanza,
            callback,
            url,
        } = self;
        let shared = &entry.hooks.inner;
        let now = now_ms();
        let total = Duration::from_secs(shared.settings.timeout_secs);
        let timeout = match entry.row.deadline {
            Some(deadline) if now >= deadline => {
                let why = entry.last_failure();
                let detail = entry.row.last_error.clone().unwrap_or_default();
                let status = entry.row.last_status;
                return entry.give_up(Some(&stanza), why, status, &detail).await;
            }
            Some(deadline) => total.min(Duration::from_millis(
                u64::try_from(deadline - now).unwrap_or_default(),
            )),
            None => total,
        };
        let media = callback.media(&shared.client, total).await;
        let encoded = match media {
            // mod_rest's XML body declares no namespace (see stanza::to_xml_in_stream).
            MediaType::Xml => Ok(stanza::to_xml_in_stream(&stanza).into_bytes()),
            other => rest_codec::encode_stanzas(other, std::slice::from_ref(&stanza)),
        };
        let Ok(body) = encoded else {
            let text = format!("The stanza cannot be written as {}", media.mime());
            let why = GaveUp::Unreachable(text.clone());
            return entry.give_up(Some(&stanza), why, None, &text).await;
        };
        let started = Instant::now();
        let result = delivery::post(
            &shared.client,
            Request {
                url: &url,
                media,
                body,
                lang: stanza.attr_ns(ns::XML, "lang"),
                delivery_id: &entry.row.delivery_id,
                secret: callback.secret(),
                timeout,
                max_body: shared.limits.max_stanza_bytes,
            },
        )
        .await;
        let owner = entry.row.owner.as_str();
        shared
            .metrics
            .request_took(owner, started.elapsed().as_secs_f64());
        match result {
            Ok(answer) => {
                let status = answer.status;
                if !(200..300).contains(&status) {
                    shared.metrics.failed(owner, &format!("http_{status}"));
                }
                let parsed = reply::parse_body(
                    &stanza,
                    answer.content_type.as_deref(),
                    &answer.body,
                    shared.limits,
                );
                if is_transient(status) && parsed.is_none() {
                    let reason = callback_error::reason_phrase(status).unwrap_or_default();
                    let detail = format!("HTTP {status} {reason}");
                    let why = GaveUp::Status(status);
                    entry
                        .retry(&stanza, why, Some(status), answer.retry_after, &detail)
                        .await;
                } else {
                    entry.done(reply::for_answer(&stanza, status, parsed)).await;
                }
            }
            Err(e) => {
                shared.metrics.failed(owner, e.label());
                let why = GaveUp::Unreachable(e.to_string());
                entry.retry(&stanza, why, None, None, &e.detail()).await;
            }
        }
    }
}

impl Entry {
    fn owner(&self) -> &str {
        &self.row.owner
    }

    /// Routes what the callback answered (or the error about it) as the callback's owner:
    /// the same `from` rule as every other surface.
    async fn send(&self, reply: Element) {
        let Some(principal) = principal(self.owner()) else {
            tracing::error!(callback = %self.owner(), "callback owner is not a JID");
            return;
        };
        match Routed::accept(&principal, reply, Origin::Webhook) {
            Ok(reply) => {
                self.ctx.deliver(reply).await;
            }
            Err(e) => {
                if let Some(refused) = REPLY_REFUSED.note(tokio::time::Instant::now()) {
                    tracing::warn!(callback = %self.owner(), error = %e, refused, "callback replies refused");
                }
            }
        }
    }

    /// What to tell an iq's sender at its deadline: the last failure, if there was one.
    fn last_failure(&self) -> GaveUp {
        match (self.row.last_status, &self.row.last_error) {
            (Some(status), _) => GaveUp::Status(status),
            (None, Some(error)) if !error.is_empty() => {
                // A stored transport error starts with the sender-facing sentence.
                let text = error.split(": ").next().unwrap_or(error);
                GaveUp::Unreachable(text.to_owned())
            }
            _ => GaveUp::Unreachable("The callback did not answer in time".into()),
        }
    }

    /// The callback's answer was handled: send the reply, then forget the entry.
    async fn done(self, reply: Option<Element>) {
        if let Some(reply) = reply {
            self.send(reply).await;
        }
        let shared = &self.hooks.inner;
        if let Err(e) = shared.store.outbox_delete(self.row.id).await {
            // It stays in the outbox and is delivered again: at least once, never lost.
            tracing::error!(delivery = %self.row.delivery_id, error = %e, "cannot delete a delivered stanza");
        }
        let latency = (now_ms() - self.row.created_at) as f64 / 1000.0;
        shared.metrics.delivered(self.owner(), latency);
    }

    /// Schedules another attempt, unless the entry is out of time or attempts.
    async fn retry(
        self,
        stanza: &Element,
        why: GaveUp,
        status: Option<u16>,
        retry_after: Option<Duration>,
        detail: &str,
    ) {
        let shared = &self.hooks.inner;
        let settings = &shared.settings;
        let now = now_ms();
        let attempts = self.row.attempts.saturating_add(1);
        let max_age_ms = millis(Duration::from_secs(settings.max_age_secs));
        let out_of_time = match self.row.deadline {
            // An iq keeps trying until its deadline, however many attempts that takes.
            Some(deadline) => now >= deadline,
            None => attempts >= settings.max_attempts || now - self.row.created_at >= max_age_ms,
        };
        if out_of_time {
            return self.give_up(Some(stanza), why, status, detail).await;
        }
        let mut delay = backoff(attempts, settings.backoff_base_ms, settings.backoff_max_ms);
        if let Some(asked) = retry_after {
            delay = delay.max(asked.min(MAX_RETRY_AFTER));
        }
        let mut next = now.saturating_add(millis(delay));
        if let Some(deadline) = self.row.deadline {
            next = next.min(deadline);
        }
        tracing::debug!(
            callback = %self.owner(),
            delivery = %self.row.delivery_id,
            attempts,
            retry_in_ms = next - now,
            error = detail,
            "callback delivery failed; will retry"
        );
        if let Err(e) = shared
            .store
            .outbox_retry(self.row.id, next, status, detail)
            .await
        {
            tracing::error!(error = %e, "cannot record a failed callback attempt");
        }
        shared.metrics.retried(self.owner());
    }

    /// No more attempts. An iq's sender gets its error and the entry goes; a message or presence
    /// becomes a dead letter (stored first, so a crash cannot lose it) and its sender is told.
    /// `stanza` is `None` only when the stored stanza could not be read, so nobody can be told.
    async fn give_up(
        self,
        stanza: Option<&Element>,
        why: GaveUp,
        status: Option<u16>,
        detail: &str,
    ) {
        let is_request = self.row.deadline.is_some();
        if !is_request {
            self.bury(status, detail).await;
        }
        if let Some(reply) = stanza.and_then(|s| reply::for_give_up(s, &why)) {
            self.send(reply).await;
        }
        if is_request && let Err(e) = self.hooks.inner.store.outbox_delete(self.row.id).await {
            tracing::error!(delivery = %self.row.delivery_id, error = %e, "cannot delete an expired iq");
        }
    }

    async fn bury(&self, status: Option<u16>, detail: &str) {
        let shared = &self.hooks.inner;
        if let Some(buried) = BURIED.note(tokio::time::Instant::now()) {
            tracing::warn!(
                callback = %self.owner(),
                delivery = %self.row.delivery_id,
                error = detail,
                buried,
                "callback deliveries given up; kept as dead letters"
            );
        }
        if let Err(e) = shared
            .store
            .outbox_bury(self.row.id, now_ms(), status, detail)
            .await
        {
            tracing::error!(error = %e, "cannot record a dead letter");
        }
        shared.metrics.buried(self.owner());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        for _ in 0..100 {
            let first = backoff(1, 1000, 300_000);
            assert!((500..=1000).contains(&first.as_millis()), "{first:?}");
            let fourth = backoff(4, 1000, 300_000);
            assert!((4000..=8000).contains(&fourth.as_millis()), "{fourth:?}");
            let late = backoff(40, 1000, 300_000);
            assert!((150_000..=300_000).contains(&late.as_millis()), "{late:?}");
        }
    }

    #[test]
    fn transient_statuses() {
        for status in [429, 500, 502, 503, 504, 507, 599] {
            assert!(is_transient(status), "{status}");
        }
        for status in [200, 202, 400, 404, 408, 422, 501, 505] {
            assert!(!is_transient(status), "{status}");
        }
    }

    #[test]
    fn hosts_include_the_port() {
        let url = reqwest::Url::parse("https://example.org/hook").unwrap();
        assert_eq!(host_key(&url).as_deref(), Some("example.org:443"));
        let url = reqwest::Url::parse("http://127.0.0.1:8080/x").unwrap();
        assert_eq!(host_key(&url).as_deref(), Some("127.0.0.1:8080"));
    }
}
