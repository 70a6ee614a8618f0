//! Delivery metrics per callback (labelled by its owner JID), in the server's registry: every
//! known callback has its series, at zero while nothing happened to it.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::metrics::as_gauge;
use crate::storage::OutboxDepth;

pub struct Metrics {
    deliveries: IntCounterVec,
    failures: IntCounterVec,
    retries: IntCounterVec,
    dead_letters: IntCounterVec,
    queue_depth: IntGaugeVec,
    dead_letter_depth: IntGaugeVec,
    request_seconds: HistogramVec,
    latency_seconds: HistogramVec,
}

/// Request durations and end-to-end latencies, from a loopback callback to one held up for hours.
const BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 600.0, 3600.0,
];

impl Metrics {
    /// The webhook families, registered in `registry`.
    pub fn register(registry: &Registry) -> Result<Metrics, prometheus::Error> {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGaugeVec::new(Opts::new(name, help), &["callback"])?;
            registry.register(Box::new(g.clone()))?;
            Ok::<_, prometheus::Error>(g)
        };
        let histogram = |name: &str, help: &str| {
            let opts = HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
            let h = HistogramVec::new(opts, &["callback"])?;
            registry.register(Box::new(h.clone()))?;
            Ok::<_, prometheus::Error>(h)
        };
        Ok(Metrics {
            deliveries: counter(
                "switchboard_webhook_deliveries_total",
                "Stanzas whose callback answered and whose answer was handled",
                &["callback"],
            )?,
            failures: counter(
                "switchboard_webhook_failures_total",
                "Callback requests that failed, by reason (connect, timeout, transport, http_NNN)",
                &["callback", "reason"],
            )?,
            retries: counter(
                "switchboard_webhook_retries_total",
                "Deliveries scheduled for another attempt",
                &["callback"],
            )?,
            dead_letters: counter(
                "switchboard_webhook_dead_letters_total",
                "Stanzas given up on and kept as dead letters",
                &["callback"],
            )?,
            queue_depth: gauge(
                "switchboard_webhook_queue_depth",
                "Stanzas waiting in the outbox",
            )?,
            dead_letter_depth: gauge(
                "switchboard_webhook_dead_letter_depth",
                "Dead letters waiting to be re-driven",
            )?,
            request_seconds: histogram(
                "switchboard_webhook_request_duration_seconds",
                "Duration of one callback request",
            )?,
            latency_seconds: histogram(
                "switchboard_webhook_delivery_latency_seconds",
                "Time from a stanza entering the outbox to its answer being handled",
            )?,
        })
    }

    pub fn delivered(&self, callback: &str, latency_secs: f64) {
        self.deliveries.with_label_values(&[callback]).inc();
        self.latency_seconds
            .with_label_values(&[callback])
            .observe(latency_secs.max(0.0));
    }

    pub fn failed(&self, callback: &str, reason: &str) {
        self.failures.with_label_values(&[callback, reason]).inc();
    }

    pub fn retried(&self, callback: &str) {
        self.retries.with_label_values(&[callback]).inc();
    }

    pub fn buried(&self, callback: &str) {
        self.dead_letters.with_label_values(&[callback]).inc();
    }

    pub fn request_took(&self, callback: &str, secs: f64) {
        self.request_seconds
            .with_label_values(&[callback])
            .observe(secs);
    }

    /// Sets the queue gauges from `depth` (read from the store at scrape time, so they are
    /// right across restarts and CLI re-drives). Every callback of `known` has its series,
    /// at zero when its queue is empty.
    pub fn observe(&self, known: &[String], depth: &[OutboxDepth]) {
        self.queue_depth.reset();
        self.dead_letter_depth.reset();
        for owner in known {
            let owner = [owner.as_str()];
            self.queue_depth.with_label_values(&owner).set(0);
            self.dead_letter_depth.with_label_values(&owner).set(0);
            self.deliveries.with_label_values(&owner);
            self.retries.with_label_values(&owner);
            self.dead_letters.with_label_values(&owner);
        }
        for d in depth {
            let owner = [d.owner.as_str()];
            self.queue_depth
                .with_label_values(&owner)
                .set(as_gauge(d.pending));
            self.dead_letter_depth
                .with_label_values(&owner)
                .set(as_gauge(d.dead));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(registry: &Registry) -> String {
        use prometheus::Encoder;
        let mut out = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&registry.gather(), &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn renders_counters_and_depth() {
        let registry = Registry::new();
        let m = Metrics::register(&registry).unwrap();
        m.delivered("rest.localhost", 0.02);
        m.failed("rest.localhost", "http_503");
        m.retried("rest.localhost");
        m.buried("rest.localhost");
        m.request_took("rest.localhost", 0.01);
        m.observe(
            &[],
            &[OutboxDepth {
                owner: "rest.localhost".into(),
                pending: 3,
                dead: 1,
            }],
        );
        let text = render(&registry);
        for line in [
            "switchboard_webhook_deliveries_total{callback=\"rest.localhost\"} 1",
            "switchboard_webhook_failures_total{callback=\"rest.localhost\",reason=\"http_503\"} 1",
            "switchboard_webhook_retries_total{callback=\"rest.localhost\"} 1",
            "switchboard_webhook_dead_letters_total{callback=\"rest.localhost\"} 1",
            "switchboard_webhook_queue_depth{callback=\"rest.localhost\"} 3",
            "switchboard_webhook_dead_letter_depth{callback=\"rest.localhost\"} 1",
            "switchboard_webhook_delivery_latency_seconds_count{callback=\"rest.localhost\"} 1",
            "switchboard_webhook_request_duration_seconds_count{callback=\"rest.localhost\"} 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        // A known callback whose queue emptied stays, at zero; others have no series.
        m.observe(&["bot@localhost".to_owned()], &[]);
        let text = render(&registry);
        for line in [
            "switchboard_webhook_queue_depth{callback=\"bot@localhost\"} 0",
            "switchboard_webhook_dead_letter_depth{callback=\"bot@localhost\"} 0",
            "switchboard_webhook_deliveries_total{callback=\"bot@localhost\"} 0",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(
            !text.contains("switchboard_webhook_queue_depth{callback=\"rest.localhost\"}"),
            "{text}"
        );
    }
}
