//! Live reload in process: admins, limits, listener bounds, component credentials and the
//! certificate apply while a client stays connected and keeps receiving; values that need a
//! restart wait; a configuration that fails its checks changes nothing.

mod common;

use common::*;
use reqwest::StatusCode;
use switchboard_server::config::{ComponentConfig, Config};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

fn component(token: &str) -> ComponentConfig {
    ComponentConfig {
        domain: "rest.localhost".into(),
        rest_credentials: Some(token.into()),
        ..ComponentConfig::default()
    }
}

fn first_config(dir: &std::path::Path) -> Config {
    let mut config = test_config(dir);
    config.component = vec![component("Bearer old-token")];
    config
}

async fn uptime_as(server: &TestServer, user: &str) -> StatusCode {
    http()
        .post(server.url("/rest/admin/uptime"))
        .basic_auth(user, Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .status()
}

async fn send_as_component(server: &TestServer, token: &str, body: &str) -> StatusCode {
    http()
        .post(server.url("/rest"))
        .header("Authorization", token)
        .header("Content-Type", "application/xmpp+xml")
        .body(format!(
            "<message from='bot@rest.localhost' to='alice@localhost' type='chat'><body>{body}</body></message>"
        ))
        .send()
        .await
        .unwrap()
        .status()
}

/// Whether a TLS client trusting only `cert` completes a handshake on the direct TLS port.
async fn trusts(server: &TestServer, cert: &std::path::Path) -> bool {
    let tcp = TcpStream::connect(server.direct_tls.unwrap())
        .await
        .unwrap();
    let connector = TlsConnector::from(client_tls(cert));
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.is_ok()
}

async fn scrape(server: &TestServer) -> String {
    http()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn changes_apply_while_a_session_stays_connected() {
    let server = TestServer::start_with(|c| {
        let dir = c.data_dir.clone();
        *c = first_config(&dir);
    })
    .await;
    let running = server.running.as_ref().unwrap();
    let mut alice = server.client("alice@localhost").await;
    send_xml(&mut alice, "<presence xmlns='jabber:client'/>").await;
    // The server echoes available presence to the sender: after that, routing sees her.
    while !matches!(
        next_stanza(&mut alice).await,
        tokio_xmpp::Stanza::Presence(_)
    ) {}
    let generated = server.dir.path().join("tls/cert.pem");

    assert_eq!(uptime_as(&server, "carol").await, StatusCode::FORBIDDEN);
    assert_eq!(
        send_as_component(&server, "Bearer old-token", "before").await,
        StatusCode::ACCEPTED
    );
    assert_eq!(body_of(&next_message(&mut alice).await), "before");
    assert!(trusts(&server, &generated).await);

    // A new certificate in its own files, new admins, a smaller stanza limit, new component
    // credentials, and a new HTTP address (which needs a restart).
    let other = tempfile::tempdir().unwrap();
    let (cert, key) = (other.path().join("cert.pem"), other.path().join("key.pem"));
    switchboard_server::tls::write_self_signed("localhost", &cert, &key).unwrap();
    let mut next = first_config(server.dir.path());
    next.admins = vec!["carol@localhost".parse().unwrap()];
    next.limits.max_stanza_bytes = 4096;
    next.component = vec![component("Bearer new-token")];
    next.tls.cert = Some(cert.clone());
    next.tls.key = Some(key);
    next.http.addr = "127.0.0.1:1".parse().unwrap();
    let pending = running.reload(next).await.expect("reloaded");
    assert_eq!(pending, ["http.addr"]);

    assert_eq!(uptime_as(&server, "carol").await, StatusCode::OK);
    assert_eq!(
        send_as_component(&server, "Bearer old-token", "refused").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send_as_component(&server, "Bearer new-token", "after").await,
        StatusCode::ACCEPTED
    );
    // Alice's session lived through the reload: the next message she gets is the new one.
    assert_eq!(body_of(&next_message(&mut alice).await), "after");
    assert!(trusts(&server, &cert).await);
    assert!(!trusts(&server, &generated).await);

    // A new stream reads the new stanza limit.
    let mut raw = raw_logged_in(server.c2s, "bob", "limits").await;
    raw.send(&format!(
        "<message to='alice@localhost'><body>{}</body></message>",
        "x".repeat(8192)
    ))
    .await;
    let closed = raw.read_to_close().await;
    assert!(closed.contains("stream:error"), "{closed}");

    // A configuration that fails its checks changes nothing, and is counted.
    let mut broken = first_config(server.dir.path());
    broken.component = vec![component("no-scheme")];
    let err = running.reload(broken).await.unwrap_err();
    assert!(err.to_string().contains("rest_credentials"), "{err}");
    assert_eq!(uptime_as(&server, "carol").await, StatusCode::OK);
    assert_eq!(
        send_as_component(&server, "Bearer new-token", "still").await,
        StatusCode::ACCEPTED
    );
    assert_eq!(body_of(&next_message(&mut alice).await), "still");

    let metrics = scrape(&server).await;
    for line in [
        "switchboard_config_reloads_total{result=\"applied\"} 1",
        "switchboard_config_reloads_total{result=\"failed\"} 1",
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }

    // Listener bounds apply to the next connection: one per address, while one is held open.
    let held = TcpStream::connect(server.http).await.unwrap();
    let mut capped = first_config(server.dir.path());
    capped.http.max_connections_per_ip = 1;
    assert!(running.reload(capped).await.unwrap().is_empty());
    let refused = http().get(server.url("/health")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    drop(held);
    drop(alice);
    server.stop().await;
}
