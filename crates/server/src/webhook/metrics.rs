//! Delivery metrics per callback (labelled by its owner JID), kept in a registry of the server's
//! own so that several servers in one process never mix their figures; rendered for `/metrics`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::storage::OutboxDepth;

pub struct Metrics {
    registry: Registry,
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
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
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
            registry,
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

    /// The Prometheus text exposition, with the queue gauges set from `depth` (read from the
    /// store at scrape time, so they are right across restarts and CLI re-drives).
    pub fn render(&self, depth: &[OutboxDepth]) -> String {
        self.queue_depth.reset();
        self.dead_letter_depth.reset();
        for d in depth {
            let as_gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            self.queue_depth
                .with_label_values(&[d.owner.as_str()])
                .set(as_gauge(d.pending));
            self.dead_letter_depth
                .with_label_values(&[d.owner.as_str()])
                .set(as_gauge(d.dead));
        }
        let mut out = Vec::new();
        // Encoding metric families into memory only fails on invalid metric names, which are
        // fixed above.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_depth() {
        let m = Metrics::new().unwrap();
        m.delivered("rest.localhost", 0.02);
        m.failed("rest.localhost", "http_503");
        m.retried("rest.localhost");
        m.buried("rest.localhost");
        m.request_took("rest.localhost", 0.01);
        let text = m.render(&[OutboxDepth {
            owner: "rest.localhost".into(),
            pending: 3,
            dead: 1,
        }]);
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
        // A callback whose queue emptied disappears from the gauges.
        let text = m.render(&[]);
        assert!(!text.contains("switchboard_webhook_queue_depth{"), "{text}");
    }
}
