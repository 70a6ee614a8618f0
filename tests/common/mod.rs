//! Test harness: a server started in-process on ephemeral loopback ports with a temporary data
//! directory, a tokio-xmpp client whose STARTTLS trusts the generated certificate, and raw
//! TCP/WebSocket peers for malformed input.
#![allow(dead_code)]

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use minidom::Element;
use switchboard_server::config::Config;
use switchboard_server::server::{self, RunningServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_xmpp::connect::ServerConnector;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::starttls;
use tokio_xmpp::xmlstream::{
    PendingFeaturesRecv, ReadError, StreamHeader, Timeouts, XmppStreamElement, initiate_stream,
};
use tokio_xmpp::{Client, Event, Stanza};

pub const PASSWORD: &str = "correct horse";
pub const STEP: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub running: Option<RunningServer>,
    pub http: SocketAddr,
    pub c2s: SocketAddr,
    pub direct_tls: Option<SocketAddr>,
    pub dir: tempfile::TempDir,
    pub tls: Arc<ClientConfig>,
}

pub fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    config.http.addr = "127.0.0.1:0".parse().unwrap();
    config.c2s.addr = "127.0.0.1:0".parse().unwrap();
    config.c2s.direct_tls_addr = Some("127.0.0.1:0".parse().unwrap());
    config.auth.failure_delay_ms = 10;
    // Tests play callbacks on loopback.
    config.webhook.allow_private_targets = true;
    config
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        tweak(&mut config);
        let running = server::start(config).await.expect("server starts");
        for user in ["alice", "bob", "carol", "dave"] {
            running.accounts().add_user(user, PASSWORD).await.unwrap();
        }
        let tls = client_tls(&dir.path().join("tls/cert.pem"));
        TestServer {
            http: running.http_addr,
            c2s: running.c2s_addr,
            direct_tls: running.direct_tls_addr,
            running: Some(running),
            dir,
            tls,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    /// A tokio-xmpp client over TCP + STARTTLS, waited for until it is online.
    pub async fn client(&self, jid: &str) -> Client {
        let connector = TestStartTls {
            addr: self.c2s,
            tls: self.tls.clone(),
        };
        let mut client = Client::new_with_connector(
            Jid::new(jid).unwrap(),
            PASSWORD,
            connector,
            Timeouts::default(),
        );
        let event = tokio::time::timeout(STEP, client.next())
            .await
            .expect("client came online in time")
            .expect("client stream open");
        assert!(event.is_online(), "expected Online, got {event:?}");
        client
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

/// reqwest is built without a crypto provider of its own; the process-wide one is ring.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An HTTP client for tests: bounded timeouts, the process crypto provider installed.
pub fn http() -> reqwest::Client {
    install_crypto();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

/// Kills a spawned server when the test ends, passed or panicked, so none is left behind.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// rustls client configuration trusting only the server's generated certificate.
pub fn client_tls(cert: &std::path::Path) -> Arc<ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// STARTTLS connector for tokio-xmpp that verifies against the test certificate and reports
/// the RFC 9266 channel binding, so SCRAM-*-PLUS is exercised.
#[derive(Clone, Debug)]
pub struct TestStartTls {
    pub addr: SocketAddr,
    pub tls: Arc<ClientConfig>,
}

impl ServerConnector for TestStartTls {
    type Stream = BufStream<tokio_rustls::client::TlsStream<TcpStream>>;

    async fn connect(
        &self,
        jid: &Jid,
        ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<
        (
            PendingFeaturesRecv<Self::Stream>,
            sasl::common::ChannelBinding,
        ),
        tokio_xmpp::Error,
    > {
        let header = || StreamHeader {
            to: Some(Cow::Owned(jid.domain().to_string())),
            from: None,
            id: None,
        };
        let tcp = TcpStream::connect(self.addr).await?;
        let stream = initiate_stream(BufStream::new(tcp), ns, header(), timeouts).await?;
        let (features, mut stream) = stream
            .recv_features::<XmppStreamElement>()
            .await
            .map_err(std::io::Error::other)?;
        assert!(features.can_starttls(), "server offers STARTTLS");
        futures::SinkExt::send(
            &mut stream,
            &XmppStreamElement::Starttls(starttls::Nonza::Request(starttls::Request)),
        )
        .await?;
        loop {
            match stream.next().await {
                Some(Ok(XmppStreamElement::Starttls(starttls::Nonza::Proceed(_)))) => break,
                Some(Ok(_)) | Some(Err(ReadError::SoftTimeout)) => {}
                _ => return Err(tokio_xmpp::Error::Disconnected),
            }
        }
        let tcp = stream.into_inner().into_inner();
        let name = rustls::pki_types::ServerName::try_from(jid.domain().to_string())
            .map_err(std::io::Error::other)?;
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await?;
        let binding = {
            let (_, conn) = tls.get_ref();
            let data = conn
                .export_keying_material(vec![0u8; 32], b"EXPORTER-Channel-Binding", None)
                .map_err(std::io::Error::other)?;
            sasl::common::ChannelBinding::TlsExporter(data)
        };
        let stream = initiate_stream(BufStream::new(tls), ns, header(), timeouts).await?;
        Ok((stream, binding))
    }
}

/// The next stanza a client receives, skipping nothing; panics after [`STEP`].
pub async fn next_stanza(client: &mut Client) -> Stanza {
    loop {
        let event = tokio::time::timeout(STEP, client.next())
            .await
            .expect("a stanza arrived in time")
            .expect("stream still open");
        match event {
            Event::Stanza(stanza) => return stanza,
            Event::Online { .. } => continue,
            Event::Disconnected(e) => panic!("disconnected: {e}"),
        }
    }
}

/// The next message stanza, skipping presence and iq traffic.
pub async fn next_message(client: &mut Client) -> tokio_xmpp::parsers::message::Message {
    loop {
        if let Stanza::Message(m) = next_stanza(client).await {
            return m;
        }
    }
}

pub async fn send_xml(client: &mut Client, xml: &str) {
    let el: Element = xml.parse().expect("test XML parses");
    let stanza = Stanza::try_from(el).expect("a stanza");
    client.send_stanza(stanza).await.expect("sent");
}

pub fn body_of(message: &tokio_xmpp::parsers::message::Message) -> String {
    message
        .bodies
        .values()
        .next()
        .map(|b| b.to_string())
        .unwrap_or_default()
}

/// A raw TCP peer for tests that must send what no well-behaved client would.
pub struct RawTcp {
    pub stream: TcpStream,
}

impl RawTcp {
    pub async fn connect(addr: SocketAddr) -> RawTcp {
        RawTcp {
            stream: TcpStream::connect(addr).await.unwrap(),
        }
    }

    pub async fn send(&mut self, data: &str) {
        self.stream.write_all(data.as_bytes()).await.unwrap();
    }

    /// Everything the server writes until it closes the connection (bounded by [`STEP`]).
    pub async fn read_to_close(&mut self) -> String {
        let mut out = Vec::new();
        let read = tokio::time::timeout(STEP, async {
            let mut buf = [0u8; 4096];
            loop {
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        assert!(read.is_ok(), "server closed the connection in time");
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Reads until `needle` has been received.
    pub async fn read_until(&mut self, needle: &str) -> String {
        let mut out = Vec::new();
        tokio::time::timeout(STEP, async {
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&out).contains(needle) {
                let n = self.stream.read(&mut buf).await.unwrap();
                assert!(
                    n > 0,
                    "closed before {needle:?}: {}",
                    String::from_utf8_lossy(&out)
                );
                out.extend_from_slice(&buf[..n]);
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {needle:?}"));
        String::from_utf8_lossy(&out).into_owned()
    }
}

pub const STREAM_HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

/// base64 of SASL PLAIN credentials for `user`.
pub fn plain_auth(user: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{PASSWORD}"))
}

/// Opens a plaintext stream on loopback and authenticates with PLAIN and binds `resource`.
pub async fn raw_logged_in(addr: SocketAddr, user: &str, resource: &str) -> RawTcp {
    let mut raw = RawTcp::connect(addr).await;
    raw.send(STREAM_HEADER).await;
    raw.read_until("</stream:features>").await;
    raw.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
        plain_auth(user)
    ))
    .await;
    raw.read_until("<success").await;
    raw.send(STREAM_HEADER).await;
    raw.read_until("</stream:features>").await;
    raw.send(&format!(
        "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{resource}</resource></bind></iq>"
    ))
    .await;
    raw.read_until("</iq>").await;
    raw
}

/// A delivered message minus the XEP-0359 `<stanza-id/>` its recipient's archive added, which
/// is checked to be there once, by `archive` (the recipient's bare JID).
pub fn archived(mut message: Element, archive: &str) -> Element {
    let ids: Vec<&Element> = message
        .children()
        .filter(|c| c.is("stanza-id", "urn:xmpp:sid:0"))
        .collect();
    assert!(
        ids.len() == 1 && ids[0].attr("by") == Some(archive),
        "one stanza-id by {archive}: {}",
        String::from(&message)
    );
    for node in message.take_nodes() {
        match node {
            minidom::Node::Element(child) if child.is("stanza-id", "urn:xmpp:sid:0") => {}
            node => {
                message.append_node(node);
            }
        }
    }
    message
}

/// A raw c2s client that reads whole stanzas and keeps what it has not consumed yet: for tests
/// that must see the exact XML the server writes.
pub struct StanzaPeer {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl StanzaPeer {
    /// Logged in and bound as `user@localhost/resource`, but not available.
    pub async fn bound(server: &TestServer, user: &str, resource: &str) -> StanzaPeer {
        let raw = raw_logged_in(server.c2s, user, resource).await;
        StanzaPeer {
            stream: raw.stream,
            buf: Vec::new(),
        }
    }

    /// Bound and available (initial presence sent and reflected).
    pub async fn available(server: &TestServer, user: &str, resource: &str) -> StanzaPeer {
        let mut peer = StanzaPeer::bound(server, user, resource).await;
        peer.send("<presence/>").await;
        peer.next_named("presence").await;
        peer
    }

    pub async fn send(&mut self, data: &str) {
        self.stream.write_all(data.as_bytes()).await.unwrap();
    }

    /// The first complete element in the buffer, parsed in the stream's default namespace.
    fn take(&mut self) -> Option<Element> {
        let start = self.buf.iter().position(|b| !b.is_ascii_whitespace())?;
        self.buf.drain(..start);
        for end in 0..self.buf.len() {
            if self.buf[end] != b'>' {
                continue;
            }
            let Ok(text) = std::str::from_utf8(&self.buf[..=end]) else {
                continue;
            };
            let wrapped = format!(
                "<w xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>{text}</w>"
            );
            if let Ok(wrapper) = wrapped.parse::<Element>() {
                let mut children = wrapper.children();
                if let (Some(element), None) = (children.next(), children.next()) {
                    let element = element.clone();
                    self.buf.drain(..=end);
                    return Some(element);
                }
            }
        }
        None
    }

    async fn read_more(&mut self) {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "peer stream closed; unread: {}",
            String::from_utf8_lossy(&self.buf)
        );
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// The next stanza; panics after [`STEP`].
    pub async fn next(&mut self) -> Element {
        tokio::time::timeout(STEP, async {
            loop {
                if let Some(element) = self.take() {
                    return element;
                }
                self.read_more().await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no stanza in time; unread: {}",
                String::from_utf8_lossy(&self.buf)
            )
        })
    }

    /// The next stanza called `name`, skipping others.
    pub async fn next_named(&mut self, name: &str) -> Element {
        loop {
            let element = self.next().await;
            if element.name() == name {
                return element;
            }
        }
    }

    /// Whatever stanza arrives within `wait`, if any.
    pub async fn within(&mut self, wait: Duration) -> Option<Element> {
        tokio::time::timeout(wait, async {
            loop {
                if let Some(element) = self.take() {
                    return element;
                }
                self.read_more().await;
            }
        })
        .await
        .ok()
    }
}

/// An XMPP-over-WebSocket (RFC 7395) client connection as the tests open it.
pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Sends one XMPP element (or framing element) as a text message.
pub async fn ws_send(ws: &mut Ws, xml: &str) {
    use futures::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::text(xml))
        .await
        .unwrap();
}

/// The next XMPP element (one per text message), or `None` once the socket closed.
pub async fn ws_recv(ws: &mut Ws) -> Option<Element> {
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let msg = tokio::time::timeout(STEP, ws.next())
            .await
            .expect("a WebSocket message in time");
        match msg {
            Some(Ok(Message::Text(text))) => {
                let el: Element = text.as_str().parse().unwrap_or_else(|e| {
                    panic!("every message is one complete element: {e}: {text}")
                });
                return Some(el);
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// The next element named `name`, skipping others.
pub async fn ws_recv_named(ws: &mut Ws, name: &str) -> Element {
    loop {
        let el = ws_recv(ws)
            .await
            .unwrap_or_else(|| panic!("closed before <{name}>"));
        if el.name() == name {
            return el;
        }
    }
}
