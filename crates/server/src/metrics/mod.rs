//! The server's Prometheus metrics: one registry for everything a server counts (connections,
//! sessions, logins, routed stanzas, HTTP requests, webhooks, stores, the process).

mod process;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::StatusCode;
use switchboard_xmpp::sasl::Mechanism;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// A c2s transport, as metrics label it and logs name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// The STARTTLS port (`c2s.addr`): TCP, TLS after STARTTLS (or plain on loopback).
    Tcp,
    /// The direct TLS port (`c2s.direct_tls_addr`, XEP-0368).
    Tls,
    /// RFC 7395 over the HTTP listener.
    WebSocket,
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::Tcp, Transport::Tls, Transport::WebSocket];

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::WebSocket => "websocket",
        }
    }
}

/// Where a login was tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginSurface {
    /// SASL on a c2s stream (TCP or WebSocket).
    C2s,
    /// Credentials on an HTTP request (`/rest`, `/msg`, the admin APIs).
    Http,
}

impl LoginSurface {
    fn as_str(self) -> &'static str {
        match self {
            LoginSurface::C2s => "c2s",
            LoginSurface::Http => "http",
        }
    }
}

/// How often the archives may be counted for [`Metrics::archive_count_due`].
pub const ARCHIVE_COUNT_EVERY: Duration = Duration::from_secs(300);

/// The HTTP authentication schemes as login labels (others count as `other`).
pub const HTTP_SCHEMES: [&str; 2] = ["Basic", "Bearer"];

/// HTTP request durations, from a health check to an iq that waits minutes for its reply.
const HTTP_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Every series of one server. Counters move as things happen; the store gauges are set by
/// [`Metrics::set_offline`] just before a scrape.
pub struct Metrics {
    registry: Registry,
    c2s_connections: IntGaugeVec,
    c2s_accepted: IntCounterVec,
    c2s_refused: IntCounterVec,
    c2s_sessions: IntGaugeVec,
    c2s_detached: IntGauge,
    c2s_received: IntCounterVec,
    c2s_sent: IntCounterVec,
    logins: IntCounterVec,
    login_failures: IntCounterVec,
    stanzas: IntCounterVec,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    offline_messages: IntGauge,
    offline_bytes: IntGauge,
    archive_messages: IntGauge,
    /// When the archives were last counted.
    archive_counted: Mutex<Option<Instant>>,
    reloads: IntCounterVec,
    tls_expiry: IntGauge,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry.register(Box::new(c.clone())).expect("a new name");
    c
}

fn gauges(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry.register(Box::new(g.clone())).expect("a new name");
    g
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::with_opts(Opts::new(name, help)).expect("a valid metric");
    registry.register(Box::new(g.clone())).expect("a new name");
    g
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every series of the server. The names are fixed here, so a
    /// failure to register one is a bug caught by the first test that starts a server.
    pub fn new() -> Metrics {
        let r = Registry::new();
        let transport = &["transport"];
        let login = &["surface", "mechanism"];
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "switchboard_http_request_duration_seconds",
                "Time from a request's arrival to its response headers, by route and method",
            )
            .buckets(HTTP_BUCKETS.to_vec()),
            &["route", "method"],
        )
        .expect("a valid metric");
        r.register(Box::new(http_duration.clone()))
            .expect("a new name");
        r.register(Box::new(process::Process::new()))
            .expect("new names");
        let build = gauges(
            &r,
            "switchboard_build_info",
            "Always 1, labelled with the version of the running binary",
            &["version"],
        );
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let metrics = Metrics {
            c2s_connections: gauges(
                &r,
                "switchboard_c2s_connections",
                "Open client connections, by transport (tcp: the STARTTLS port, tls: the direct \
                 TLS port, websocket)",
                transport,
            ),
            c2s_accepted: counter(
                &r,
                "switchboard_c2s_connections_total",
                "Client connections accepted, by transport",
                transport,
            ),
            c2s_refused: counter(
                &r,
                "switchboard_c2s_connections_refused_total",
                "Client connections refused at limits.max_connections, by transport",
                transport,
            ),
            c2s_sessions: gauges(
                &r,
                "switchboard_c2s_sessions",
                "Bound resources on a live connection, by transport",
                transport,
            ),
            c2s_detached: gauge(
                &r,
                "switchboard_c2s_detached_sessions",
                "Bound resources whose connection dropped, waiting to be resumed (XEP-0198)",
            ),
            c2s_received: counter(
                &r,
                "switchboard_c2s_received_bytes_total",
                "Bytes of XML received from clients (after TLS), by transport",
                transport,
            ),
            c2s_sent: counter(
                &r,
                "switchboard_c2s_sent_bytes_total",
                "Bytes of XML sent to clients (before TLS), by transport",
                transport,
            ),
            logins: counter(
                &r,
                "switchboard_logins_total",
                "Successful authentications, by surface (c2s, http) and mechanism (SASL \
                 mechanism or HTTP scheme)",
                login,
            ),
            login_failures: counter(
                &r,
                "switchboard_login_failures_total",
                "Failed authentications, by surface and mechanism",
                login,
            ),
            stanzas: counter(
                &r,
                "switchboard_stanzas_routed_total",
                "Stanzas through the router, by kind, outcome (delivered, stored, queued, \
                 handled, bounced, dropped) and origin (c2s, http, webhook, server)",
                &["kind", "outcome", "origin"],
            ),
            http_requests: counter(
                &r,
                "switchboard_http_requests_total",
                "HTTP requests answered, by route, method and status",
                &["route", "method", "status"],
            ),
            http_duration,
            offline_messages: gauge(
                &r,
                "switchboard_offline_messages",
                "Messages in offline storage, all accounts together",
            ),
            offline_bytes: gauge(
                &r,
                "switchboard_offline_bytes",
                "Bytes of XML in offline storage, all accounts together",
            ),
            archive_messages: gauge(
                &r,
                "switchboard_archive_messages",
                "Messages in the message archives (XEP-0313), all accounts together; counted at \
                 most every 5 minutes",
            ),
            archive_counted: Mutex::new(None),
            reloads: counter(
                &r,
                "switchboard_config_reloads_total",
                "Configuration reloads, by result (applied, failed)",
                &["result"],
            ),
            tls_expiry: gauge(
                &r,
                "switchboard_tls_certificate_expiry_timestamp_seconds",
                "End of validity of the served certificate, in seconds since the Unix epoch",
            ),
            registry: r,
        };
        // Series that are known up front are shown at zero rather than missing.
        for t in Transport::ALL {
            for vec in [&metrics.c2s_accepted, &metrics.c2s_refused] {
                vec.with_label_values(&[t.as_str()]);
            }
            for vec in [&metrics.c2s_connections, &metrics.c2s_sessions] {
                vec.with_label_values(&[t.as_str()]);
            }
            for vec in [&metrics.c2s_received, &metrics.c2s_sent] {
                vec.with_label_values(&[t.as_str()]);
            }
        }
        let mechanisms = Mechanism::ALL
            .iter()
            .map(|m| (LoginSurface::C2s, m.name()))
            .chain(HTTP_SCHEMES.map(|scheme| (LoginSurface::Http, scheme)));
        for (surface, mechanism) in mechanisms {
            for vec in [&metrics.logins, &metrics.login_failures] {
                vec.with_label_values(&[surface.as_str(), mechanism]);
            }
        }
        for result in ["applied", "failed"] {
            metrics.reloads.with_label_values(&[result]);
        }
        metrics
    }

    /// The registry, for subsystems that keep their own families in it (webhooks).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into memory only fails on invalid names, which are fixed in code.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// A client connection accepted on `transport`: counted, open until the returned counters
    /// drop (with the transport that owns them), and its bytes counted as they pass.
    pub fn c2s_connection(&self, transport: Transport) -> Traffic {
        self.c2s_accepted
            .with_label_values(&[transport.as_str()])
            .inc();
        let label = [transport.as_str()];
        Traffic {
            transport,
            _open: Open::new(self.c2s_connections.with_label_values(&label)),
            received: self.c2s_received.with_label_values(&label),
            sent: self.c2s_sent.with_label_values(&label),
            totals: (0, 0),
        }
    }

    pub fn c2s_refused(&self, transport: Transport) {
        self.c2s_refused
            .with_label_values(&[transport.as_str()])
            .inc();
    }

    /// A bound resource served on a connection of `transport`, until the guard drops.
    pub fn c2s_session(&self, transport: Transport) -> Open {
        Open::new(self.c2s_sessions.with_label_values(&[transport.as_str()]))
    }

    /// A bound resource waiting without a connection, until the guard drops.
    pub fn c2s_detached(&self) -> Open {
        Open::new(self.c2s_detached.clone())
    }

    /// An authentication attempt's result. `mechanism` comes from a fixed set (the SASL
    /// mechanisms offered, the HTTP schemes known), never from what a client wrote.
    pub fn login(&self, surface: LoginSurface, mechanism: &'static str, ok: bool) {
        let family = if ok {
            &self.logins
        } else {
            &self.login_failures
        };
        family
            .with_label_values(&[surface.as_str(), mechanism])
            .inc();
    }

    pub fn stanza_routed(&self, kind: &'static str, outcome: &'static str, origin: &'static str) {
        self.stanzas
            .with_label_values(&[kind, outcome, origin])
            .inc();
    }

    /// An HTTP request answered. `route` is the matched route pattern (or `unmatched`) and
    /// `method` one of the known methods (or `other`), so that no client can add series.
    pub fn http_request(
        &self,
        route: &str,
        method: &'static str,
        status: StatusCode,
        took: Duration,
    ) {
        self.http_requests
            .with_label_values(&[route, method, status.as_str()])
            .inc();
        self.http_duration
            .with_label_values(&[route, method])
            .observe(took.as_secs_f64());
    }

    /// The offline store's size, read at scrape time.
    pub fn set_offline(&self, messages: u64, bytes: u64) {
        self.offline_messages.set(as_gauge(messages));
        self.offline_bytes.set(as_gauge(bytes));
    }

    /// Whether the archives are due to be counted again (a scan of an index, so at most every
    /// [`ARCHIVE_COUNT_EVERY`]; scrapes in between show the last count). Saying yes books it.
    pub fn archive_count_due(&self, now: Instant) -> bool {
        let mut last = self
            .archive_counted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let due = last.is_none_or(|at| now.duration_since(at) >= ARCHIVE_COUNT_EVERY);
        if due {
            *last = Some(now);
        }
        due
    }

    pub fn set_archive(&self, messages: u64) {
        self.archive_messages.set(as_gauge(messages));
    }

    pub fn reloaded(&self, applied: bool) {
        let result = if applied { "applied" } else { "failed" };
        self.reloads.with_label_values(&[result]).inc();
    }

    /// The end of validity of the certificate now served (Unix seconds).
    pub fn set_certificate_expiry(&self, not_after: i64) {
        self.tls_expiry.set(not_after);
    }
}

pub fn as_gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A gauge raised while something is open and lowered when it closes, whatever closes it.
pub struct Open(IntGauge);

impl Open {
    fn new(gauge: IntGauge) -> Open {
        gauge.inc();
        Open(gauge)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// One open client connection: counted as open while this lives, its bytes added to the
/// server's counters as they pass and kept for the connection's own log line.
pub struct Traffic {
    transport: Transport,
    _open: Open,
    received: IntCounter,
    sent: IntCounter,
    totals: (u64, u64),
}

impl Traffic {
    pub fn received(&mut self, bytes: usize) {
        self.received.inc_by(bytes as u64);
        self.totals.0 += bytes as u64;
    }

    pub fn sent(&mut self, bytes: usize) {
        self.sent.inc_by(bytes as u64);
        self.totals.1 += bytes as u64;
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Bytes received and sent so far.
    pub fn totals(&self) -> (u64, u64) {
        self.totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_follow_what_is_open() {
        let m = Metrics::new();
        let a = m.c2s_connection(Transport::Tcp);
        let b = m.c2s_connection(Transport::Tcp);
        drop(a);
        m.c2s_refused(Transport::WebSocket);
        let mut traffic = m.c2s_connection(Transport::Tls);
        traffic.received(10);
        traffic.sent(25);
        assert_eq!(traffic.totals(), (10, 25));
        let text = m.render();
        for line in [
            "switchboard_c2s_connections{transport=\"tcp\"} 1",
            "switchboard_c2s_connections_total{transport=\"tcp\"} 2",
            "switchboard_c2s_connections_refused_total{transport=\"websocket\"} 1",
            "switchboard_c2s_sessions{transport=\"websocket\"} 0",
            "switchboard_c2s_received_bytes_total{transport=\"tls\"} 10",
            "switchboard_c2s_sent_bytes_total{transport=\"tls\"} 25",
            "switchboard_config_reloads_total{result=\"failed\"} 0",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(m.archive_count_due(Instant::now()));
        assert!(!m.archive_count_due(Instant::now()));
        assert!(m.archive_count_due(Instant::now() + ARCHIVE_COUNT_EVERY));
        drop(b);
        assert!(
            m.render()
                .contains("switchboard_c2s_connections{transport=\"tcp\"} 0")
        );
    }
}
