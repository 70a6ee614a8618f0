//! HTTPS of the server's own: curl over HTTP/1.1 and HTTP/2 trusting the generated certificate,
//! a `wss://` client (tokio-tungstenite over rustls), SNI choosing a hosted domain's own
//! certificate, the extra `http.https_addr` listener, the TLS handshake timeout, and `cert
//! import` installing hosted domains' pairs.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use common::*;
use futures::{SinkExt, StreamExt};
use switchboard_server::config::{ComponentConfig, Secret};
use switchboard_server::http::tls::domain_paths;
use switchboard_server::tls::write_self_signed;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// `curl` of `https://{name}:{port}{path}` with `name` resolved to the listener, trusting only
/// `ca`: its exit status, and the body followed by the HTTP version it spoke. It runs off the
/// test's runtime thread, which also serves.
async fn curl(
    addr: SocketAddr,
    name: &str,
    path: &str,
    ca: &Path,
    version: &str,
) -> (bool, String) {
    let args = (
        name.to_owned(),
        path.to_owned(),
        ca.to_owned(),
        version.to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        let (name, path, ca, version) = args;
        curl_blocking(addr, &name, &path, &ca, &version)
    })
    .await
    .unwrap()
}

fn curl_blocking(
    addr: SocketAddr,
    name: &str,
    path: &str,
    ca: &Path,
    version: &str,
) -> (bool, String) {
    let port = addr.port();
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "30", version])
        .arg("--cacert")
        .arg(ca)
        .arg("--resolve")
        .arg(format!("{name}:{port}:{}", addr.ip()))
        .args(["--write-out", " HTTP/%{http_version}"])
        .arg(format!("https://{name}:{port}{path}"))
        .output()
        .expect("curl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn component(domain: &str) -> ComponentConfig {
    ComponentConfig {
        domain: domain.into(),
        component_secret: Some(Secret::new("s3cret")),
        ..ComponentConfig::default()
    }
}

#[tokio::test]
async fn https_on_http_addr_over_http1_and_http2_with_sni_per_domain() {
    let server = TestServer::start_with(|c| {
        c.http.tls = Some(true);
        c.component.push(component("rest.localhost"));
        let (cert, key) = domain_paths(&c.data_dir, "rest.localhost");
        write_self_signed("rest.localhost", &cert, &key).unwrap();
    })
    .await;
    let running = server.running.as_ref().unwrap();
    assert!(running.http_tls);
    let ca = server.dir.path().join("tls/cert.pem");
    let (addr, ca) = (server.http, ca.as_path());

    let (ok, out) = curl(addr, "localhost", "/health", ca, "--http1.1").await;
    assert!(ok, "{out}");
    assert_eq!(out, "ok HTTP/1.1");
    let (ok, out) = curl(addr, "localhost", "/health", ca, "--http2").await;
    assert!(ok, "{out}");
    assert_eq!(out, "ok HTTP/2");

    // The hosted domain gets its own certificate: trusted alone it verifies, and the server
    // domain's certificate is not what this name is served.
    let own = domain_paths(server.dir.path(), "rest.localhost").0;
    let (ok, out) = curl(addr, "rest.localhost", "/health", &own, "--http2").await;
    assert!(ok, "{out}");
    assert_eq!(out, "ok HTTP/2");
    let (ok, out) = curl(addr, "rest.localhost", "/health", ca, "--http1.1").await;
    assert!(!ok, "{out}");
    // Another name without a pair of its own is presented the server domain's (which, for
    // `localhost`, clients do not accept for a subdomain: wildcards under one label are refused).
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let presented = TlsConnector::from(server.tls.clone())
        .connect(ServerName::try_from("upload.localhost").unwrap(), tcp)
        .await
        .expect_err("no certificate names upload.localhost")
        .to_string();
    assert!(
        presented.contains(r#"DnsName("*.localhost")"#),
        "{presented}"
    );

    // Plain HTTP on the HTTPS port gets no answer but a closed connection.
    let mut raw = RawTcp::connect(addr).await;
    raw.send("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await;
    assert!(!raw.read_to_close().await.contains("200 OK"));
    server.stop().await;
}

/// The next text message (one XMPP element each).
async fn next_text<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let message = tokio::time::timeout(STEP, ws.next())
            .await
            .expect("a WebSocket message in time")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(text) = message {
            return text.to_string();
        }
    }
}

#[tokio::test]
async fn wss_carries_an_xmpp_session() {
    let server = TestServer::start_with(|c| c.http.tls = Some(true)).await;
    let tcp = tokio::net::TcpStream::connect(server.http).await.unwrap();
    let tls = TlsConnector::from(server.tls.clone())
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with the generated certificate");
    let mut request = format!("wss://localhost:{}/xmpp-websocket", server.http.port())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
    let (mut ws, response) = tokio_tungstenite::client_async(request, tls).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "xmpp");

    let open = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>";
    ws.send(Message::text(open)).await.unwrap();
    let mut texts = Vec::new();
    while !texts
        .iter()
        .any(|t: &String| t.contains("<stream:features"))
    {
        texts.push(next_text(&mut ws).await);
    }
    assert!(texts[0].starts_with("<open"), "{texts:?}");
    ws.send(Message::text(format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
        plain_auth("alice")
    )))
    .await
    .unwrap();
    let reply = next_text(&mut ws).await;
    assert!(reply.starts_with("<success"), "{reply}");
    ws.close(None).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn an_extra_https_listener_beside_plain_http_and_a_bounded_handshake() {
    let server = TestServer::start_with(|c| {
        c.http.https_addr = Some("127.0.0.1:0".parse().unwrap());
        c.http.header_read_timeout_secs = 1;
    })
    .await;
    let running = server.running.as_ref().unwrap();
    assert!(!running.http_tls, "loopback stays plain HTTP by default");
    let https = running.https_addr.expect("the HTTPS listener");
    let plain = http().get(server.url("/health")).send().await.unwrap();
    assert_eq!(plain.text().await.unwrap(), "ok");
    let ca = server.dir.path().join("tls/cert.pem");
    let (ok, out) = curl(https, "localhost", "/health", &ca, "--http2").await;
    assert!(ok, "{out}");
    assert_eq!(out, "ok HTTP/2");

    // A client that connects and never starts its handshake is disconnected.
    let mut silent = RawTcp::connect(https).await;
    assert_eq!(silent.read_to_close().await, "");
    server.stop().await;
}

#[tokio::test]
async fn off_loopback_http_is_https_unless_plaintext_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.http.addr = "0.0.0.0:0".parse().unwrap();
    let running = switchboard_server::server::start(config.clone())
        .await
        .expect("starts with HTTPS");
    assert!(running.http_tls);
    running.shutdown().await;

    config.http.tls = Some(false);
    let refused = switchboard_server::server::start(config.clone())
        .await
        .err()
        .expect("plain HTTP off loopback is refused")
        .to_string();
    assert!(refused.contains("set http.tls = true"), "{refused}");

    config.http.tls = None;
    config.http.allow_plaintext = true;
    let running = switchboard_server::server::start(config)
        .await
        .expect("starts behind a proxy");
    assert!(!running.http_tls);
    running.shutdown().await;
}

/// A certbot-style pair for `domain` in `dir`.
fn certbot_pair(dir: &Path, domain: &str) {
    let params = rcgen::CertificateParams::new(vec![domain.to_owned()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("fullchain.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("privkey.pem"), key.serialize_pem()).unwrap();
}

#[test]
fn cert_import_installs_the_pairs_of_hosted_domains_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let letsencrypt = d.join("letsencrypt");
    certbot_pair(&letsencrypt.join("live/localhost"), "localhost");
    certbot_pair(&letsencrypt.join("live/rest.localhost"), "rest.localhost");
    let config = d.join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[[component]]\ndomain = \"rest.localhost\"\n\
             component_secret = \"s3cret\"\n[[component]]\ndomain = \"bot.localhost\"\n\
             component_secret = \"s3cret\"\n",
            d.join("data")
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    for (var, _) in std::env::vars() {
        if var.starts_with("SWITCHBOARD_") {
            cmd.env_remove(var);
        }
    }
    let out = cmd
        .arg("--config")
        .arg(&config)
        .args(["cert", "import"])
        .arg(&letsencrypt)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("the certificate for localhost"), "{stdout}");
    assert!(
        stdout.contains("the HTTPS certificate for rest.localhost"),
        "{stdout}"
    );
    assert!(!stdout.contains("bot.localhost"), "{stdout}");
    let (cert, _) = domain_paths(&d.join("data"), "rest.localhost");
    assert_eq!(
        std::fs::read(cert).unwrap(),
        std::fs::read(letsencrypt.join("live/rest.localhost/fullchain.pem")).unwrap()
    );
}

#[tokio::test]
async fn a_reload_serves_a_renewed_hosted_certificate() {
    let tweak = |c: &mut switchboard_server::config::Config| {
        c.http.tls = Some(true);
        c.component.push(component("rest.localhost"));
    };
    let server = TestServer::start_with(|c| {
        tweak(c);
        let (cert, key) = domain_paths(&c.data_dir, "rest.localhost");
        write_self_signed("rest.localhost", &cert, &key).unwrap();
    })
    .await;
    let (own, key) = domain_paths(server.dir.path(), "rest.localhost");
    let old = server.dir.path().join("old-rest.pem");
    std::fs::copy(&own, &old).unwrap();
    write_self_signed("rest.localhost", &own, &key).unwrap();

    let (ok, out) = curl(server.http, "rest.localhost", "/health", &old, "--http1.1").await;
    assert!(ok, "before the reload, the old pair: {out}");
    let mut config = test_config(server.dir.path());
    tweak(&mut config);
    let running = server.running.as_ref().unwrap();
    running.reload(config).await.expect("reloaded");
    let (ok, out) = curl(server.http, "rest.localhost", "/health", &own, "--http1.1").await;
    assert!(ok, "after it, the renewed pair: {out}");
    let (ok, _) = curl(server.http, "rest.localhost", "/health", &old, "--http1.1").await;
    assert!(!ok);
    server.stop().await;
}
