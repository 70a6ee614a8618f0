//! The session loop driven end to end over `tokio::io::duplex`: negotiation, routing between
//! two sessions, the `from` rule, offline delivery, a full mailbox and shutdown; stream
//! management with resumption, client state indication, keepalive and the stanza rate limit.

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
use crate::auth::throttle::AuthThrottle;
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
    server_with(|config| config.limits.mailbox_size = mailbox_size).await
}

async fn server_with(tweak: impl FnOnce(&mut Config)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.limits.mailbox_size = 16;
    config.auth.failure_delay_ms = 0;
    tweak(&mut config);
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
        Arc::new(AuthThrottle::new(&config.auth)),
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

    /// Authenticates with PLAIN, up to the features offering bind (and resumption).
    async fn authenticated(server: &Server, user: &str, buffer: usize) -> Client {
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
        c
    }

    /// Authenticates with PLAIN and binds `resource`.
    async fn login(server: &Server, user: &str, resource: &str, buffer: usize) -> Client {
        let mut c = Client::authenticated(server, user, buffer).await;
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

    /// Enables stream management; the resumption id when `resume` was granted.
    async fn enable(&mut self, resume: bool) -> Option<String> {
        self.send(&format!(
            "<enable xmlns='urn:xmpp:sm:3' resume='{resume}'/>"
        ))
        .await;
        let enabled = self.element().await;
        assert!(enabled.is("enabled", ns::SM), "{enabled:?}");
        enabled.attr("id").map(str::to_owned)
    }

    /// The next element that is not an ack request.
    async fn stanza(&mut self) -> Element {
        loop {
            let el = self.element().await;
            if !el.is("r", ns::SM) {
                return el;
            }
        }
    }

    /// Reads until the stream closes; the stream error it carried, if any.
    async fn closed(&mut self) -> Option<Element> {
        let mut error = None;
        loop {
            match self.event().await {
                StreamEvent::Close => return error,
                StreamEvent::Element(el) if el.name() == "error" && el.ns() == ns::STREAM => {
                    error = Some(el)
                }
                _ => {}
            }
        }
    }

    /// Waits `quiet` and says whether anything at all arrived meanwhile.
    async fn silent_for(&mut self, quiet: Duration) -> bool {
        let mut buf = [0u8; 64];
        tokio::time::timeout(quiet, self.io.read(&mut buf))
            .await
            .is_err()
    }
}

fn chat(to: &str, id: &str) -> String {
    format!("<message to='{to}' type='chat' id='{id}'><body>{id}</body></message>")
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

#[tokio::test]
async fn stream_management_counts_both_ways() {
    let s = server(16).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    let id = alice.enable(true).await.expect("resumption is offered");
    alice
        .send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    // The roster result is the first stanza since <enable/>; the server asks for an ack.
    let result = alice.element().await;
    assert_eq!(result.attr("id"), Some("r1"));
    assert!(alice.element().await.is("r", ns::SM));
    alice
        .send("<a xmlns='urn:xmpp:sm:3' h='1'/><r xmlns='urn:xmpp:sm:3'/>")
        .await;
    let ack = alice.element().await;
    assert!(ack.is("a", ns::SM));
    assert_eq!(ack.attr("h"), Some("1"), "one stanza handled from alice");
    // A second <enable/> is refused without harm.
    alice.send("<enable xmlns='urn:xmpp:sm:3'/>").await;
    let failed = alice.element().await;
    assert!(failed.is("failed", ns::SM));
    assert!(failed.has_child("unexpected-request", ns::STANZAS));

    // A count ahead of ours (one stanza was sent, five are acknowledged) is followed: the
    // next stanza is the sixth, as the client sees it.
    alice.send("<a xmlns='urn:xmpp:sm:3' h='5'/>").await;
    let mut bob = Client::login(&s, "bob", "desk", 1 << 16).await;
    bob.send(&chat("alice@localhost/phone", "m1")).await;
    assert_eq!(alice.stanza().await.attr("id"), Some("m1"));
    drop(alice);
    let mut back = Client::authenticated(&s, "alice", 1 << 16).await;
    back.send(&format!(
        "<resume xmlns='urn:xmpp:sm:3' previd='{id}' h='5'/>"
    ))
    .await;
    assert!(back.element().await.is("resumed", ns::SM));
    assert_eq!(
        back.stanza().await.attr("id"),
        Some("m1"),
        "stanza six was not acknowledged by h=5"
    );
}

#[tokio::test]
async fn stream_management_is_enabled_after_bind_only() {
    let s = server(16).await;
    let mut alice = Client::authenticated(&s, "alice", 1 << 16).await;
    alice
        .send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
        .await;
    let failed = alice.element().await;
    assert!(failed.is("failed", ns::SM));
    assert!(failed.has_child("unexpected-request", ns::STANZAS));
    alice
        .send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
        .await;
    assert_eq!(alice.element().await.attr("type"), Some("result"));
}

#[tokio::test]
async fn a_resumed_session_gets_what_it_missed_once() {
    let s = server(16).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    alice.available().await;
    let id = alice.enable(true).await.unwrap();
    let mut bob = Client::login(&s, "bob", "desk", 1 << 16).await;
    bob.send(&chat("alice@localhost/phone", "m1")).await;
    assert_eq!(alice.stanza().await.attr("id"), Some("m1"));
    alice.send(&chat("bob@localhost/desk", "a1")).await;
    assert_eq!(bob.element().await.attr("id"), Some("a1"));
    // The link drops before alice acknowledges m1; m2 arrives while she is away.
    drop(alice);
    bob.send(&chat("alice@localhost/phone", "m2")).await;
    bob.send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    assert_eq!(
        bob.element().await.attr("id"),
        Some("r"),
        "m2 was not refused"
    );

    let mut back = Client::authenticated(&s, "alice", 1 << 16).await;
    back.send(&format!(
        "<resume xmlns='urn:xmpp:sm:3' previd='{id}' h='0'/>"
    ))
    .await;
    let resumed = back.element().await;
    assert!(resumed.is("resumed", ns::SM), "{resumed:?}");
    assert_eq!(resumed.attr("previd"), Some(id.as_str()));
    assert_eq!(
        resumed.attr("h"),
        Some("1"),
        "a1 was handled before the drop"
    );
    assert_eq!(back.stanza().await.attr("id"), Some("m1"));
    assert_eq!(back.stanza().await.attr("id"), Some("m2"));
    back.send("<a xmlns='urn:xmpp:sm:3' h='2'/>").await;
    bob.send(&chat("alice@localhost/phone", "m3")).await;
    let m3 = back.stanza().await;
    assert_eq!(m3.attr("id"), Some("m3"), "the live mailbox goes on");
    assert_eq!(m3.attr("to"), Some("alice@localhost/phone"));
}

#[tokio::test]
async fn resuming_needs_a_live_id_of_the_same_account() {
    let s = server(16).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    let id = alice.enable(true).await.unwrap();
    drop(alice);
    for (user, previd) in [("alice", "no-such-id"), ("bob", id.as_str())] {
        let mut c = Client::authenticated(&s, user, 1 << 16).await;
        c.send(&format!(
            "<resume xmlns='urn:xmpp:sm:3' previd='{previd}' h='0'/>"
        ))
        .await;
        let failed = c.element().await;
        assert!(failed.is("failed", ns::SM), "{user}: {failed:?}");
        assert!(failed.has_child("item-not-found", ns::STANZAS));
        // The client binds normally instead.
        c.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
            .await;
        assert_eq!(c.element().await.attr("type"), Some("result"));
    }
    // Bob's attempt did not spend alice's session.
    let mut back = Client::authenticated(&s, "alice", 1 << 16).await;
    back.send(&format!(
        "<resume xmlns='urn:xmpp:sm:3' previd='{id}' h='0'/>"
    ))
    .await;
    assert!(back.element().await.is("resumed", ns::SM));
}

#[tokio::test]
async fn a_second_resumption_takes_the_session_from_the_first() {
    let s = server(16).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    let id = alice.enable(true).await.unwrap();
    // The server has not noticed anything wrong with the first link: it is taken over.
    let resume = format!("<resume xmlns='urn:xmpp:sm:3' previd='{id}' h='0'/>");
    let mut second = Client::authenticated(&s, "alice", 1 << 16).await;
    second.send(&resume).await;
    assert!(second.element().await.is("resumed", ns::SM));
    let error = alice.closed().await.expect("the first stream is closed");
    assert!(error.has_child("conflict", ns::STREAMS_ERRORS));
    let mut third = Client::authenticated(&s, "alice", 1 << 16).await;
    third.send(&resume).await;
    assert!(third.element().await.is("resumed", ns::SM));
    assert!(second.closed().await.is_some());
    let mut bob = Client::login(&s, "bob", "desk", 1 << 16).await;
    bob.send(&chat("alice@localhost/phone", "m1")).await;
    assert_eq!(third.stanza().await.attr("id"), Some("m1"));
}

#[tokio::test]
async fn unacknowledged_messages_go_offline_when_resumption_times_out() {
    let s = server_with(|c| c.c2s.resumption_timeout_secs = 1).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    alice.available().await;
    alice.enable(true).await.unwrap();
    let mut desk = Client::login(&s, "alice", "desk", 1 << 16).await;
    desk.available().await;
    assert_eq!(
        alice.stanza().await.attr("from"),
        Some("alice@localhost/desk")
    );
    let mut bob = Client::login(&s, "bob", "desk", 1 << 16).await;
    bob.send(&chat("alice@localhost/phone", "m1")).await;
    assert_eq!(alice.stanza().await.attr("id"), Some("m1"));
    drop(alice);
    bob.send(&chat("alice@localhost/phone", "m2")).await;
    // The session waits for its client, then gives up: only then do the other resources
    // learn that it left, and the messages it never acknowledged are stored.
    let gone = loop {
        let presence = desk.element().await;
        if presence.attr("type") == Some("unavailable") {
            break presence;
        }
    };
    assert_eq!(gone.attr("from"), Some("alice@localhost/phone"));
    let stored = s
        .ctx
        .server
        .store()
        .offline_batch("alice", 0, 1000)
        .await
        .unwrap();
    let ids: Vec<String> = stored
        .iter()
        .map(|m| {
            m.stanza
                .parse::<Element>()
                .unwrap()
                .attr("id")
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, vec!["m1", "m2"]);
}

#[tokio::test]
async fn an_inactive_client_gets_the_latest_presence_later_and_messages_at_once() {
    let s = server(16).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    alice.available().await;
    let mut bob = Client::login(&s, "bob", "desk", 1 << 16).await;
    alice.send("<inactive xmlns='urn:xmpp:csi:0'/>").await;
    // A round trip: the session has read `<inactive/>` before anything arrives for it.
    alice
        .send("<iq type='get' id='sync'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    assert_eq!(alice.element().await.attr("id"), Some("sync"));
    for show in ["away", "dnd", "xa"] {
        bob.send(&format!(
            "<presence to='alice@localhost'><show>{show}</show></presence>"
        ))
        .await;
    }
    bob.send("<presence to='alice@localhost' type='subscribe'/>")
        .await;
    bob.send(&chat("alice@localhost/phone", "m1")).await;
    let first = alice.element().await;
    assert_eq!(
        first.attr("type"),
        Some("subscribe"),
        "subscription requests are not held"
    );
    assert_eq!(
        alice.element().await.attr("id"),
        Some("m1"),
        "messages are not held"
    );
    alice.send("<active xmlns='urn:xmpp:csi:0'/>").await;
    let presence = alice.element().await;
    assert_eq!(presence.attr("from"), Some("bob@localhost/desk"));
    assert_eq!(
        presence
            .get_child("show", ns::CLIENT)
            .map(|s| s.text())
            .as_deref(),
        Some("xa"),
        "only the latest"
    );
    alice
        .send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    assert_eq!(
        alice.element().await.attr("id"),
        Some("r"),
        "nothing else was held"
    );
}

#[tokio::test]
async fn a_silent_session_is_pinged_then_closed() {
    let s = server_with(|c| c.limits.idle_timeout_secs = 2).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    let ping = alice.element().await;
    assert_eq!(ping.attr("type"), Some("get"));
    assert_eq!(ping.attr("from"), Some("localhost"));
    assert!(ping.has_child("ping", ns::PING));
    alice
        .send(&format!(
            "<iq type='result' id='{}' to='localhost'/>",
            ping.attr("id").unwrap()
        ))
        .await;
    // Answered: another ping follows the next silence, and without an answer the stream ends.
    assert!(alice.element().await.has_child("ping", ns::PING));
    let error = alice.closed().await.expect("a stream error");
    assert!(error.has_child("connection-timeout", ns::STREAMS_ERRORS));
}

#[tokio::test]
async fn whitespace_keeps_a_session_alive() {
    let s = server_with(|c| c.limits.idle_timeout_secs = 2).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    for _ in 0..6 {
        alice.send(" ").await;
        assert!(
            alice.silent_for(Duration::from_millis(500)).await,
            "no ping while whitespace arrives"
        );
    }
    assert!(alice.element().await.has_child("ping", ns::PING));
}

#[tokio::test]
async fn over_the_rate_stanzas_are_refused_then_the_stream_ends() {
    let s = server_with(|c| {
        c.limits.c2s_rate_per_second = 5;
        c.limits.c2s_rate_burst = 5;
    })
    .await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    let roster =
        |id: usize| format!("<iq type='get' id='q{id}'><query xmlns='jabber:iq:roster'/></iq>");
    alice.send(&(0..20).map(roster).collect::<String>()).await;
    let mut results = 0;
    let refusal = loop {
        let reply = alice.element().await;
        match reply.attr("type") {
            Some("result") => results += 1,
            _ => break reply,
        }
    };
    assert!(results >= 5, "the burst is served");
    let error = refusal.get_child("error", ns::CLIENT).unwrap();
    assert_eq!(error.attr("type"), Some("wait"));
    assert!(error.has_child("resource-constraint", ns::STANZAS));
    // Ten times the rate for ten seconds (500 stanzas here, sent at once) ends the stream.
    alice.send(&(20..600).map(roster).collect::<String>()).await;
    let end = alice.closed().await.expect("a stream error");
    assert!(end.has_child("policy-violation", ns::STREAMS_ERRORS));
    let mut bob = Client::login(&s, "bob", "desk", 1 << 16).await;
    bob.send(&roster(0)).await;
    assert_eq!(
        bob.element().await.attr("type"),
        Some("result"),
        "others are served"
    );
}

#[tokio::test]
async fn a_clean_close_counts_what_was_written_as_delivered() {
    let s = server(16).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    alice.available().await;
    alice.enable(true).await.unwrap();
    let mut desk = Client::login(&s, "alice", "desk", 1 << 16).await;
    desk.available().await;
    let mut bob = Client::login(&s, "bob", "desk", 1 << 16).await;
    bob.send(&chat("alice@localhost/phone", "m1")).await;
    while alice.stanza().await.name() != "message" {}
    // No <a/> for m1, then </stream:stream>: the session ends at once, nothing is stored.
    alice.send("</stream:stream>").await;
    assert_eq!(alice.closed().await, None);
    loop {
        let presence = desk.element().await;
        if presence.attr("type") == Some("unavailable") {
            break;
        }
    }
    let stored = s
        .ctx
        .server
        .store()
        .offline_batch("alice", 0, 1000)
        .await
        .unwrap();
    assert!(stored.is_empty(), "{stored:?}");
}

#[tokio::test]
async fn too_many_unacknowledged_stanzas_close_the_stream_and_nothing_is_lost() {
    let s = server(4).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    alice.available().await;
    alice.enable(false).await;
    let mut bob = Client::login(&s, "bob", "desk", 1 << 16).await;
    for i in 0..4 {
        bob.send(&chat("alice@localhost/phone", &format!("m{i}")))
            .await;
        assert_eq!(
            alice.stanza().await.attr("id"),
            Some(format!("m{i}").as_str())
        );
    }
    // Alice never answers <r/>: the fifth unacknowledged stanza is one too many.
    bob.send(&chat("alice@localhost/phone", "m4")).await;
    let error = alice.closed().await.expect("a stream error");
    assert!(error.has_child("resource-constraint", ns::STREAMS_ERRORS));
    // The resource is gone: what follows is stored for the account.
    bob.send(&chat("alice@localhost/phone", "m5")).await;
    let store = s.ctx.server.store().clone();
    let stored = tokio::time::timeout(STEP, async {
        loop {
            let stored = store.offline_batch("alice", 0, 1000).await.unwrap();
            if stored.len() == 6 {
                return stored;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("every message is kept offline");
    let ids: Vec<String> = stored
        .iter()
        .map(|m| {
            m.stanza
                .parse::<Element>()
                .unwrap()
                .attr("id")
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, vec!["m0", "m1", "m2", "m3", "m4", "m5"]);
}

#[tokio::test]
async fn binding_the_resource_again_ends_the_waiting_session() {
    let s = server(16).await;
    let mut alice = Client::login(&s, "alice", "phone", 1 << 16).await;
    let id = alice.enable(true).await.unwrap();
    let mut bob = Client::login(&s, "bob", "desk", 1 << 16).await;
    bob.send(&chat("alice@localhost/phone", "m1")).await;
    assert_eq!(alice.stanza().await.attr("id"), Some("m1"));
    drop(alice);
    // A plain login of the same resource replaces the waiting session, whose unacknowledged
    // message is kept offline for it; the old id no longer resumes anything.
    let mut again = Client::login(&s, "alice", "phone", 1 << 16).await;
    again.available().await;
    let stored = again.stanza().await;
    assert_eq!(stored.attr("id"), Some("m1"));
    assert!(stored.has_child("delay", ns::DELAY));
    let mut late = Client::authenticated(&s, "alice", 1 << 16).await;
    late.send(&format!(
        "<resume xmlns='urn:xmpp:sm:3' previd='{id}' h='0'/>"
    ))
    .await;
    assert!(late.element().await.is("failed", ns::SM));
}
