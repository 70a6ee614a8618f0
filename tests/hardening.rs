//! Hardening over real sockets: failed logins throttled per client address across c2s SASL and
//! HTTP while other addresses keep being served; webhook targets held to public addresses.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use reqwest::StatusCode;
use serde_json::json;
use switchboard_server::server::{self, RunningServer};
use tokio::net::TcpSocket;

/// A plaintext c2s stream on loopback from the address `from` (127.0.0.1, 127.0.0.2, …).
async fn stream_from(from: &str, server: SocketAddr) -> RawTcp {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut raw = RawTcp {
        stream: socket.connect(server).await.unwrap(),
    };
    raw.send(STREAM_HEADER).await;
    raw.read_until("</stream:features>").await;
    raw
}

fn plain(user: &str, password: &str) -> String {
    use base64::Engine;
    let response =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{response}</auth>")
}

/// The SASL answer to PLAIN credentials sent from `from` on a fresh stream.
async fn sasl_from(from: &str, server: SocketAddr, user: &str, password: &str) -> String {
    let mut raw = stream_from(from, server).await;
    raw.send(&plain(user, password)).await;
    // One element at a time until the answer (`<success…/>` or `<failure>…</failure>`) is in.
    let mut out = String::new();
    while !out.contains("<success") && !out.contains("</failure>") {
        out.push_str(&raw.read_until(">").await);
    }
    ["success", "not-authorized", "temporary-auth-failure"]
        .into_iter()
        .find(|c| out.contains(&format!("<{c}")))
        .unwrap_or(&out)
        .to_owned()
}

fn http_from(from: &str) -> reqwest::Client {
    install_crypto();
    reqwest::Client::builder()
        .local_address(Some(from.parse().unwrap()))
        .timeout(STEP)
        .build()
        .unwrap()
}

#[tokio::test]
async fn failed_logins_are_throttled_per_address_across_surfaces() {
    let server = TestServer::start_with(|c| {
        c.auth.max_attempts = 3;
        c.auth.failure_window_secs = 600;
    })
    .await;
    let attacker = "127.0.0.1";
    // Guesses spread over separate streams and HTTP: the count is the address's.
    assert_eq!(
        sasl_from(attacker, server.c2s, "alice", "guess1").await,
        "not-authorized"
    );
    assert_eq!(
        sasl_from(attacker, server.c2s, "bob", "guess2").await,
        "not-authorized"
    );
    let body = json!({"to": "bob@localhost", "body": "x"});
    let guessed = http_from(attacker)
        .post(server.url("/rest"))
        .basic_auth("carol", Some("guess3"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(guessed.status(), StatusCode::FORBIDDEN);

    // Over the limit: even the right password is refused, on every surface, without a check.
    assert_eq!(
        sasl_from(attacker, server.c2s, "alice", PASSWORD).await,
        "temporary-auth-failure"
    );
    for path in ["/rest", "/msg/bob@localhost"] {
        let refused = http_from(attacker)
            .post(server.url(path))
            .basic_auth("alice", Some(PASSWORD))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        let retry_after: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=600).contains(&retry_after), "{retry_after}");
    }
    let admin = http_from(attacker)
        .post(server.url("/rest/admin/list-users"))
        .basic_auth("alice", Some(PASSWORD))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), StatusCode::TOO_MANY_REQUESTS);

    // Another address is served at once, on both surfaces.
    let other = "127.0.0.2";
    assert_eq!(
        sasl_from(other, server.c2s, "alice", PASSWORD).await,
        "success"
    );
    let sent = http_from(other)
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    server.stop().await;
}

/// A listener on loopback that counts the connections made to it.
async fn counting_listener() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (addr, count)
}

async fn start_in(dir: &Path, allow_private: bool) -> RunningServer {
    let mut config = test_config(dir);
    config.webhook.allow_private_targets = allow_private;
    config.admins = vec!["carol@localhost".parse().unwrap()];
    config.webhook.max_attempts = 1;
    config.webhook.connect_timeout_secs = 2;
    config.webhook.backoff_base_ms = 20;
    config.webhook.backoff_max_ms = 100;
    server::start(config).await.expect("server starts")
}

fn admin(running: &RunningServer, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    http()
        .request(method, format!("http://{}{path}", running.http_addr))
        .basic_auth("carol", Some(PASSWORD))
}

/// A callback on a private address is refused by the admin API and, if it got into the store
/// while allowed, at connect time: nothing reaches the address, the stanza becomes a dead
/// letter that says why, and the server keeps serving.
#[tokio::test]
async fn private_webhook_targets_are_refused_when_registered_and_when_connecting() {
    let (target, connections) = counting_listener().await;
    let url = format!("http://{target}/hook");
    let dir = tempfile::tempdir().unwrap();

    // Registered while allowed (development), then the server is restarted with the default.
    let running = start_in(dir.path(), true).await;
    for user in ["alice", "carol", "dave"] {
        running.accounts().add_user(user, PASSWORD).await.unwrap();
    }
    let registered = admin(
        &running,
        reqwest::Method::PUT,
        "/rest/admin/webhooks/users/dave",
    )
    .json(&json!({ "url": url }))
    .send()
    .await
    .unwrap();
    assert_eq!(registered.status(), StatusCode::OK);
    running.shutdown().await;
    // Registering probed the callback (OPTIONS); from now on nothing may reach it.
    let probed = connections.load(Ordering::SeqCst);
    let running = start_in(dir.path(), false).await;

    for refused_url in [
        url.as_str(),
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00::1]/",
        "http://localhost:8080/",
    ] {
        let refused = admin(
            &running,
            reqwest::Method::PUT,
            "/rest/admin/webhooks/users/dave",
        )
        .json(&json!({ "url": refused_url }))
        .send()
        .await
        .unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{refused_url}");
        let text = refused.text().await.unwrap();
        assert!(text.contains("allow_private_targets"), "{text}");
    }

    let sent = http()
        .post(format!("http://{}/rest", running.http_addr))
        .basic_auth("alice", Some(PASSWORD))
        .json(&json!({"to": "dave@localhost", "body": "to the metadata service"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let letter = tokio::time::timeout(STEP, async {
        loop {
            let letters: serde_json::Value = admin(
                &running,
                reqwest::Method::GET,
                "/rest/admin/webhooks/dead-letters",
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
            if let Some(letter) = letters["dead_letters"].get(0) {
                return letter.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the stanza becomes a dead letter");
    let why = letter["last_error"].as_str().unwrap();
    assert!(why.contains("not a public address"), "{why}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        probed,
        "nothing reached the target"
    );

    let still_served = http()
        .post(format!("http://{}/rest", running.http_addr))
        .basic_auth("alice", Some(PASSWORD))
        .json(&json!({"to": "carol@localhost", "body": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(still_served.status(), StatusCode::ACCEPTED);
    running.shutdown().await;
}
