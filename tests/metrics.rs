//! `/metrics` scraped over HTTP and read with a real Prometheus text parser: the series of
//! connections, sessions, logins, routed stanzas, HTTP requests, offline storage, webhooks and
//! the process exist, and move when a client logs in, fails to, sends and leaves.

mod common;

use std::collections::HashMap;

use common::*;
use prometheus_parse::{Scrape, Value};
use reqwest::StatusCode;
use switchboard_server::config::ComponentConfig;

/// One scrape: every sample by its name and sorted labels.
struct Metrics(HashMap<String, Value>);

impl Metrics {
    async fn scrape(server: &TestServer) -> Metrics {
        let response = http().get(server.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.unwrap();
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        let samples = scrape
            .samples
            .into_iter()
            .map(|s| {
                let mut labels: Vec<String> =
                    s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                labels.sort();
                (format!("{}{{{}}}", s.metric, labels.join(",")), s.value)
            })
            .collect();
        Metrics(samples)
    }

    /// The value of a counter or gauge; panics when the series is missing.
    fn get(&self, series: &str) -> f64 {
        match self.0.get(series) {
            Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
            other => panic!(
                "{series}: {other:?}; series present: {:#?}",
                self.0.keys().collect::<Vec<_>>()
            ),
        }
    }

    /// The number of observations of a histogram series (its `+Inf` bucket).
    fn observations(&self, series: &str) -> f64 {
        match self.0.get(series) {
            Some(Value::Histogram(buckets)) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map_or(0.0, |b| b.count),
            other => panic!("{series}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn series_exist_and_move() {
    let server = TestServer::start_with(|config| {
        config.component = vec![ComponentConfig {
            domain: "rest.localhost".into(),
            rest_credentials: Some("Bearer component-token".into()),
            rest_callback_url: Some("http://127.0.0.1:9/hook".into()),
            ..ComponentConfig::default()
        }];
    })
    .await;
    let before = Metrics::scrape(&server).await;
    for series in [
        "switchboard_c2s_connections{transport=tcp}",
        "switchboard_c2s_connections{transport=websocket}",
        "switchboard_c2s_sessions{transport=tls}",
        "switchboard_c2s_connections_total{transport=tcp}",
        "switchboard_c2s_connections_refused_total{transport=websocket}",
        "switchboard_c2s_detached_sessions{}",
        "switchboard_offline_messages{}",
        "switchboard_offline_bytes{}",
        "switchboard_archive_messages{}",
        "switchboard_config_reloads_total{result=failed}",
        // The component's callback has its series before anything was queued for it.
        "switchboard_webhook_queue_depth{callback=rest.localhost}",
        "switchboard_webhook_dead_letter_depth{callback=rest.localhost}",
        "switchboard_webhook_deliveries_total{callback=rest.localhost}",
    ] {
        before.get(series);
    }
    assert!(before.get("process_resident_memory_bytes{}") > 0.0);
    assert!(before.get("process_open_fds{}") > 0.0);
    assert!(before.get("process_max_fds{}") > 0.0);
    assert!(before.get("process_start_time_seconds{}") > 1.0e9);
    assert_eq!(before.get("switchboard_c2s_sessions{transport=tcp}"), 0.0);

    // A client on the STARTTLS port (plaintext on loopback) logs in with PLAIN and binds;
    // another fails its login.
    let mut alice = raw_logged_in(server.c2s, "alice", "metrics").await;
    let mut wrong = RawTcp::connect(server.c2s).await;
    wrong.send(STREAM_HEADER).await;
    wrong.read_until("</stream:features>").await;
    wrong
        .send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
            plain_auth("nobody")
        ))
        .await;
    wrong.read_until("<failure").await;

    // Over HTTP: a message for bob (offline: stored), and a request with a wrong password.
    let sent = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .header("Content-Type", "application/xmpp+xml")
        .body("<message to='bob@localhost' type='chat'><body>kept</body></message>")
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success(), "{}", sent.status());
    let refused = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some("wrong"))
        .header("Content-Type", "application/xmpp+xml")
        .body("<message to='bob@localhost'><body>x</body></message>")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let during = Metrics::scrape(&server).await;
    assert_eq!(during.get("switchboard_c2s_sessions{transport=tcp}"), 1.0);
    assert_eq!(
        during.get("switchboard_c2s_connections{transport=tcp}"),
        2.0
    );
    assert_eq!(
        during.get("switchboard_c2s_connections_total{transport=tcp}"),
        before.get("switchboard_c2s_connections_total{transport=tcp}") + 2.0
    );
    assert_eq!(
        during.get("switchboard_logins_total{mechanism=PLAIN,surface=c2s}"),
        1.0
    );
    assert_eq!(
        during.get("switchboard_login_failures_total{mechanism=PLAIN,surface=c2s}"),
        1.0
    );
    assert_eq!(
        during.get("switchboard_logins_total{mechanism=Basic,surface=http}"),
        1.0
    );
    assert_eq!(
        during.get("switchboard_login_failures_total{mechanism=Basic,surface=http}"),
        1.0
    );
    assert_eq!(
        during.get("switchboard_stanzas_routed_total{kind=message,origin=http,outcome=stored}"),
        1.0
    );
    assert_eq!(during.get("switchboard_offline_messages{}"), 1.0);
    assert!(during.get("switchboard_offline_bytes{}") > 0.0);
    assert!(during.get("switchboard_c2s_received_bytes_total{transport=tcp}") > 0.0);
    assert!(during.get("switchboard_c2s_sent_bytes_total{transport=tcp}") > 0.0);
    assert_eq!(
        during.get("switchboard_http_requests_total{method=POST,route=/rest,status=202}"),
        1.0
    );
    assert_eq!(
        during.get("switchboard_http_requests_total{method=POST,route=/rest,status=403}"),
        1.0
    );
    // The scrape before this one was answered, and counted under its route.
    assert!(
        during.get("switchboard_http_requests_total{method=GET,route=/metrics,status=200}") >= 1.0
    );
    assert_eq!(
        during.observations("switchboard_http_request_duration_seconds{method=POST,route=/rest}"),
        2.0
    );

    // Alice leaves: her session and connection are no longer counted.
    alice.send("</stream:stream>").await;
    alice.read_to_close().await;
    drop(wrong);
    let mut after = Metrics::scrape(&server).await;
    for _ in 0..50 {
        if after.get("switchboard_c2s_connections{transport=tcp}") == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = Metrics::scrape(&server).await;
    }
    assert_eq!(after.get("switchboard_c2s_sessions{transport=tcp}"), 0.0);
    assert_eq!(after.get("switchboard_c2s_connections{transport=tcp}"), 0.0);
    server.stop().await;
}

/// The metric names an expression or a text refers to.
fn names_in(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = ["switchboard_", "process_"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
    {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.push(name);
    }
    names
}

#[tokio::test]
async fn docs_and_dashboard_name_only_served_series() {
    let server = TestServer::start_with(|config| {
        config.component = vec![ComponentConfig {
            domain: "rest.localhost".into(),
            rest_credentials: Some("Bearer component-token".into()),
            rest_callback_url: Some("http://127.0.0.1:9/hook".into()),
            ..ComponentConfig::default()
        }];
    })
    .await;
    // Something for the HTTP and stanza families to hold.
    let sent = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .header("Content-Type", "application/xmpp+xml")
        .body("<message to='bob@localhost'><body>x</body></message>")
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success(), "{}", sent.status());
    let text = http()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let served: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/operations.md")).unwrap();
    let documented = names_in(&docs);
    for name in &served {
        assert!(
            documented.iter().any(|d| d == name),
            "{name} is served but not in docs/operations.md"
        );
    }
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("contrib/grafana-switchboard.json")).unwrap(),
    )
    .unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(!panels.is_empty());
    for target in panels.iter().flat_map(|p| p["targets"].as_array().unwrap()) {
        for name in names_in(target["expr"].as_str().unwrap()) {
            let family = name.strip_suffix("_bucket").unwrap_or(&name);
            assert!(
                documented.iter().any(|d| d == family),
                "the dashboard uses {name}, which docs/operations.md does not list"
            );
            // Histograms without observations yet have no samples, nor failures without a
            // reason yet; every other family is served from the start.
            let first_event =
                name.ends_with("_bucket") || name == "switchboard_webhook_failures_total";
            assert!(
                served.contains(&family) || first_event,
                "the dashboard uses {name}, which /metrics does not serve"
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn a_dropped_resumable_session_counts_as_detached() {
    let server = TestServer::start_with(|c| c.c2s.resumption_timeout_secs = 60).await;
    let mut raw = raw_logged_in(server.c2s, "alice", "sm").await;
    raw.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
        .await;
    raw.read_until("<enabled").await;
    let live = Metrics::scrape(&server).await;
    assert_eq!(live.get("switchboard_c2s_sessions{transport=tcp}"), 1.0);
    assert_eq!(live.get("switchboard_c2s_detached_sessions{}"), 0.0);
    // The link drops without a close: the session waits to be resumed.
    drop(raw);
    let mut after = Metrics::scrape(&server).await;
    for _ in 0..50 {
        if after.get("switchboard_c2s_detached_sessions{}") == 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = Metrics::scrape(&server).await;
    }
    assert_eq!(after.get("switchboard_c2s_detached_sessions{}"), 1.0);
    assert_eq!(after.get("switchboard_c2s_sessions{transport=tcp}"), 0.0);
    assert_eq!(after.get("switchboard_c2s_connections{transport=tcp}"), 0.0);
    server.stop().await;
}
