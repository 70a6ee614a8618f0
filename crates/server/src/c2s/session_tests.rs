//! The session loop driven end to end over `tokio::io::duplex`: negotiation, routing between
//! two sessions, the `from` rule, offline delivery, a full mailbox and shutdown.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use minidom::Element;
use switchboard_xmpp::framing::{Limits, StreamEvent, StreamParser};
use switchboard_xmpp::ns;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Accounts;
use crate::c2s::C2sContext;
use crate::c2s::session::run;
use crate::c2s::tcp::TcpTransport;
use crate::config::Config;
use crate::ctx::Ctx;
use crate::router::{Handlers, Router};
use crate::services::offline::Offline;
use crate::services::presence::{OutboundPresence, Presence};
use crate::services::roster::Roster;
use crate::sessions::LocalSessions;
use crate::storage::sqlite::SqliteStore;
use crate::tls;

const STEP: Duration = Duration::from_secs(5);

struct Server {
    ctx: Arc<C2sContext>,
    shutdown: CancellationToken,
    _router: Router,
    _dir: tempfile::TempDir,
}

async fn server(mailbox_size: usize) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.limits.mailbox_size = mailbox_size;
    config.auth.failure_delay_ms = 0;
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let accounts = Accounts::new(store, "localhost", 4096);
    for user in ["alice", "bob"] {
        accounts.add_user(user, "pw").await.unwrap();
    }
    let server = Ctx::new(
        Arc::new(config.clone()),
        accounts,
        Arc::new(LocalSessions::default()),
    );
    let handlers = Handlers::default()
        .presence(Arc::new(Presence::default()))
        .filter(Arc::new(OutboundPresence))
        .offline(Arc::new(Offline))
        .account_iq(ns::ROSTER, Arc::new(Roster));
    let router = Router::new(server.clone(), handlers);
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    tls::write_self_signed("localhost", &cert, &key).unwrap();
    let shutdown = CancellationToken::new();
    let ctx = Arc::new(C2sContext::new(
        &config,
        server,
        tls::server_config(&cert, &key).unwrap(),
        vec![7; 32],
        shutdown.clone(),
        TaskTracker::new(),
    ));
    Server {
        ctx,
        shutdown,
        _router: router,
        _dir: dir,
    }
}

/// The client end of one stream, reading the server's output with the server's own framer.
struct Client {
    io: DuplexStream,
    parser: StreamParser,
}

impl Client {
    /// Opens a stream to `server` over a duplex pipe of `buffer` bytes.
    fn connect(server: &Server, buffer: usize) -> Client {
        let (io, remote) = tokio::io::duplex(buffer);
        let transport = TcpTransport::plain(remote, &server.ctx, true);
        tokio::spawn(run(
            transport,
            server.ctx.clone(),
            "127.0.0.1:1".parse().unwrap(),
        ));
        Client {
            io,
            parser: StreamParser::new(Limits::default()),
        }
    }

    async fn send(&mut self, xml: &str) {
        self.io.write_all(xml.as_bytes()).await.unwrap();
    }

    async fn event(&mut self) -> StreamEvent {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(event) = self.parser.next_event() {
                return event;
            }
            let n = tokio::time::timeout(STEP, self.io.read(&mut buf))
                .await
                .expect("the server answers in time")
                .unwrap();
            assert!(n > 0, "the server closed the connection");
            self.parser.feed(&buf[..n]).unwrap();
        }
    }

    async fn element(&mut self) -> Element {
        loop {
            match self.event().await {
                StreamEvent::Element(el) => return el,
                StreamEvent::Open(_) => continue,
                StreamEvent::Close => panic!("stream closed"),
            }
        }
    }

    async fn open(&mut self) {
        self.send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>").await;
        let features = self.element().await;
        assert_eq!(features.name(), "features");
    }

    /// Authenticates with PLAIN and binds `resource`.
    async fn login(server: &Server, user: &str, resource: &str, buffer: usize) -> Client {
        let mut c = Client::connect(server, buffer);
        c.open().await;
        let creds = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0pw"));
        c.send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{creds}</auth>"
        ))
        .await;
        assert_eq!(c.element().await.name(), "success");
        c.parser = StreamParser::new(Limits::default());
        c.open().await;
        c.send(&format!(
            "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{resource}</resource></bind></iq>"
        ))
        .await;
        let bound = c.element().await;
        assert_eq!(bound.attr("type"), Some("result"));
        c
    }

    /// Sends initial presence and reads its reflection.
    async fn available(&mut self) {
        self.send("<presence/>").await;
        let own = self.element().await;
        assert_eq!(own.name(), "presence");
    }
}

#[tokio::test]
async fn two_sessions_exchange_a_message() {
    let s = server(16).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    let mut bob = Client::login(&s, "bob", "desk", 1 << 16).await;
    alice.available().await;
    bob.available().await;
    alice
        .send("<message to='bob@localhost' type='chat' id='m1'><body>hi</body></message>")
        .await;
    let got = bob.element().await;
    assert_eq!(got.attr("from"), Some("alice@localhost/phone"));
    assert_eq!(got.attr("id"), Some("m1"));
    assert_eq!(got.get_child("body", ns::CLIENT).unwrap().text(), "hi");
}

#[tokio::test]
async fn a_foreign_from_ends_the_stream() {
    let s = server(16).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    alice
        .send("<message from='bob@localhost/desk' to='bob@localhost'><body>x</body></message>")
        .await;
    let error = alice.element().await;
    assert_eq!(error.name(), "error");
    assert!(error.has_child("invalid-from", ns::STREAMS_ERRORS));
    assert_eq!(alice.event().await, StreamEvent::Close);
}

#[tokio::test]
async fn a_malformed_to_gets_jid_malformed_and_the_stream_goes_on() {
    let s = server(16).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    alice
        .send("<iq type='get' id='q' to='a@b@c'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    let error = alice.element().await;
    assert_eq!(error.attr("type"), Some("error"));
    let condition = error.get_child("error", ns::CLIENT).unwrap();
    assert!(condition.has_child("jid-malformed", ns::STANZAS));
    alice
        .send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    let roster = alice.element().await;
    assert_eq!(roster.attr("id"), Some("r"));
    assert_eq!(roster.attr("type"), Some("result"));
}

#[tokio::test]
async fn stored_messages_follow_the_initial_presence() {
    let s = server(16).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    alice
        .send("<message to='bob@localhost' type='chat' id='m1'><body>later</body></message>")
        .await;
    // The same stream answers a ping once the message is stored: routing is in order.
    alice
        .send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    assert_eq!(alice.element().await.attr("id"), Some("p"));
    let mut bob = Client::login(&s, "bob", "desk", 1 << 16).await;
    bob.send("<presence/>").await;
    assert_eq!(bob.element().await.name(), "presence");
    let stored = bob.element().await;
    assert_eq!(stored.attr("id"), Some("m1"));
    assert!(stored.has_child("delay", ns::DELAY));
}

#[tokio::test]
async fn stored_messages_wait_for_a_non_negative_priority() {
    let s = server(16).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    alice
        .send("<message to='bob@localhost' type='chat' id='m1'><body>later</body></message>")
        .await;
    alice
        .send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    assert_eq!(alice.element().await.attr("id"), Some("p"));
    let mut bob = Client::login(&s, "bob", "desk", 1 << 16).await;
    bob.send("<presence><priority>-1</priority></presence>")
        .await;
    assert_eq!(bob.element().await.name(), "presence");
    // Negative priority: no bare-JID messages, so none of the stored ones either.
    bob.send("<iq type='get' id='q'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    assert_eq!(bob.element().await.attr("id"), Some("q"));
    bob.send("<presence><priority>1</priority></presence>")
        .await;
    assert_eq!(bob.element().await.name(), "presence");
    let stored = bob.element().await;
    assert_eq!(stored.attr("id"), Some("m1"));
    assert!(stored.has_child("delay", ns::DELAY));
}

#[tokio::test]
async fn a_full_mailbox_bounces_resource_constraint() {
    let s = server(1).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    // Bob never reads: a pipe of a few hundred bytes fills, then his mailbox of one.
    let mut bob = Client::login(&s, "bob", "desk", 512).await;
    bob.available().await;
    let body = "x".repeat(200);
    for i in 0..20 {
        alice
            .send(&format!(
                "<message to='bob@localhost/desk' type='chat' id='m{i}'><body>{body}</body></message>"
            ))
            .await;
    }
    let bounce = alice.element().await;
    assert_eq!(bounce.attr("type"), Some("error"));
    let error = bounce.get_child("error", ns::CLIENT).unwrap();
    assert_eq!(error.attr("type"), Some("wait"));
    assert!(error.has_child("resource-constraint", ns::STANZAS));
}

#[tokio::test]
async fn shutdown_closes_streams_with_system_shutdown() {
    let s = server(16).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    s.shutdown.cancel();
    let error = alice.element().await;
    assert!(error.has_child("system-shutdown", ns::STREAMS_ERRORS));
    assert_eq!(alice.event().await, StreamEvent::Close);
}
