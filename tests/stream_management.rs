//! Stream management (XEP-0198), client state indication (XEP-0352), keepalive, the per-stream
//! stanza rate limit and the connection cap, against the real listeners: tokio-xmpp's resilient
//! stanza stream through an in-process TCP proxy that cuts the link, and raw TCP and WebSocket
//! peers for the exact wire behaviour.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use futures::{SinkExt, StreamExt};
use minidom::Element;
use switchboard_xmpp::framing::{Limits, StreamEvent, StreamParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::message::{Id, Message};
use tokio_xmpp::stanzastream::{Event as StreamItem, StanzaStream, StreamEvent as Status};
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::{Event, Stanza};

const SM: &str = "urn:xmpp:sm:3";
const STREAM: &str = "http://etherx.jabber.org/streams";
const CLIENT: &str = "jabber:client";
const STREAMS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
const PING: &str = "urn:xmpp:ping";

/// A TCP proxy in front of the c2s listener whose links can all be cut at once.
struct Proxy {
    addr: SocketAddr,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accept = tokio::spawn({
            let links = links.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let link = tokio::spawn(async move {
                        let mut server = TcpStream::connect(upstream).await.unwrap();
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    });
                    links.lock().unwrap().push(link.abort_handle());
                }
            }
        })
        .abort_handle();
        Proxy {
            addr,
            links,
            accept,
        }
    }

    /// Drops every open link, both ends at once, as a network failure would.
    fn cut(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

fn chat(to: &str, id: &str) -> Stanza {
    let mut message = Message::chat(Jid::new(to).unwrap())
        .with_body(tokio_xmpp::parsers::message::Lang::default(), id.to_owned());
    message.id = Some(Id(id.to_owned()));
    Stanza::Message(message)
}

/// The id of a chat message with a body, if `stanza` is one.
fn chat_id(stanza: &Stanza) -> Option<String> {
    match stanza {
        Stanza::Message(m) if !m.bodies.is_empty() => m.id.as_ref().map(|id| id.0.clone()),
        _ => None,
    }
}

const FLOW: usize = 150;

/// The issue's loss test: messages flow both ways, the link between alice and the server is
/// cut mid-stream, tokio-xmpp reconnects and resumes; each side receives every message of the
/// other exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_cut_mid_stream_loses_and_duplicates_nothing() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.c2s).await;
    let connector = TestStartTls {
        addr: proxy.addr,
        tls: server.tls.clone(),
    };
    let mut alice = StanzaStream::new_c2s(
        connector,
        Jid::new("alice@localhost/phone").unwrap(),
        PASSWORD.to_owned(),
        Timeouts::tight(),
        FLOW * 2,
    );
    match tokio::time::timeout(STEP, alice.next()).await.unwrap() {
        Some(StreamItem::Stream(Status::Reset { .. })) => {}
        other => panic!("expected the stream to come up, got {other:?}"),
    }
    let mut bob = server.client("bob@localhost/desk").await;

    let bob_side = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut sent = 0;
        let mut tick = tokio::time::interval(Duration::from_millis(3));
        while got.len() < FLOW || sent < FLOW {
            tokio::select! {
                event = bob.next() => match event.expect("bob's stream stays up") {
                    Event::Stanza(stanza) => got.extend(chat_id(&stanza)),
                    Event::Online { .. } => {}
                    Event::Disconnected(e) => panic!("bob disconnected: {e}"),
                },
                _ = tick.tick(), if sent < FLOW => {
                    let id = format!("b{sent}");
                    bob.send_stanza(chat("alice@localhost/phone", &id)).await.unwrap();
                    sent += 1;
                }
            }
        }
        got
    });

    let mut got = Vec::new();
    let mut statuses = Vec::new();
    let mut sent = 0;
    let mut cut = false;
    let mut tick = tokio::time::interval(Duration::from_millis(3));
    let flow = async {
        while got.len() < FLOW || sent < FLOW {
            tokio::select! {
                item = alice.next() => match item.expect("alice's stream goes on") {
                    StreamItem::Stanza(stanza) => {
                        got.extend(chat_id(&stanza));
                        if !cut && got.len() >= FLOW / 3 {
                            // Mid-stream: both directions have messages in flight.
                            proxy.cut();
                            cut = true;
                        }
                    }
                    StreamItem::Stream(status) => statuses.push(format!("{status:?}")),
                },
                _ = tick.tick(), if sent < FLOW => {
                    let id = format!("a{sent}");
                    alice.send(Box::new(chat("bob@localhost/desk", &id))).await;
                    sent += 1;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), flow)
        .await
        .expect("every message arrives");
    let bob_got = tokio::time::timeout(Duration::from_secs(60), bob_side)
        .await
        .expect("bob receives every message")
        .unwrap();

    assert!(cut, "the link was cut");
    assert!(
        statuses.iter().any(|s| s.starts_with("Resumed")),
        "{statuses:?}"
    );
    assert!(
        !statuses.iter().any(|s| s.starts_with("Reset")),
        "the session was resumed, not started afresh: {statuses:?}"
    );
    for (name, received, prefix) in [("alice", &got, "b"), ("bob", &bob_got, "a")] {
        let unique: BTreeSet<&String> = received.iter().collect();
        let expected: BTreeSet<String> = (0..FLOW).map(|i| format!("{prefix}{i}")).collect();
        assert_eq!(received.len(), FLOW, "{name} got duplicates: {received:?}");
        assert_eq!(
            unique,
            expected.iter().collect::<BTreeSet<_>>(),
            "{name} lost messages"
        );
    }
    alice.close().await;
    server.stop().await;
}

/// A raw c2s stream on loopback (plaintext SASL PLAIN), read element by element.
struct Raw {
    stream: TcpStream,
    parser: StreamParser,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        Raw {
            stream: TcpStream::connect(addr).await.unwrap(),
            parser: StreamParser::new(Limits::default()),
        }
    }

    async fn send(&mut self, xml: &str) {
        self.stream.write_all(xml.as_bytes()).await.unwrap();
    }

    /// The next stream event; `None` once the server closed the connection.
    async fn event(&mut self) -> Option<StreamEvent> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(event) = self.parser.next_event() {
                return Some(event);
            }
            let n = tokio::time::timeout(STEP, self.stream.read(&mut buf))
                .await
                .expect("the server answers in time")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.parser.feed(&buf[..n]).unwrap();
        }
    }

    async fn element(&mut self) -> Element {
        loop {
            match self.event().await {
                Some(StreamEvent::Element(el)) => return el,
                Some(StreamEvent::Open(_)) => continue,
                other => panic!("expected an element, got {other:?}"),
            }
        }
    }

    /// The next element that is not an ack request.
    async fn stanza(&mut self) -> Element {
        loop {
            let el = self.element().await;
            if !el.is("r", SM) {
                return el;
            }
        }
    }

    /// Reads until the stream ends; the stream error it carried, if any.
    async fn closed(&mut self) -> Option<Element> {
        let mut error = None;
        while let Some(event) = self.event().await {
            match event {
                StreamEvent::Element(el) if el.name() == "error" && el.ns() == STREAM => {
                    error = Some(el)
                }
                StreamEvent::Close => break,
                _ => {}
            }
        }
        error
    }

    /// Authenticated, at the features that offer bind and resumption.
    async fn authenticated(addr: SocketAddr, user: &str) -> Raw {
        let mut raw = Raw::connect(addr).await;
        raw.send(STREAM_HEADER).await;
        assert_eq!(raw.element().await.name(), "features");
        raw.send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
            plain_auth(user)
        ))
        .await;
        assert_eq!(raw.element().await.name(), "success");
        raw.parser = StreamParser::new(Limits::default());
        raw.send(STREAM_HEADER).await;
        let features = raw.element().await;
        assert!(features.has_child("sm", SM), "{features:?}");
        assert!(features.has_child("csi", "urn:xmpp:csi:0"), "{features:?}");
        raw
    }

    async fn login(addr: SocketAddr, user: &str, resource: &str) -> Raw {
        let mut raw = Raw::authenticated(addr, user).await;
        raw.send(&format!(
            "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{resource}</resource></bind></iq>"
        ))
        .await;
        assert_eq!(raw.element().await.attr("type"), Some("result"));
        raw
    }

    async fn available(&mut self) {
        self.send("<presence/>").await;
        assert_eq!(self.element().await.name(), "presence");
    }

    /// Enables resumable stream management; its id.
    async fn enable(&mut self) -> String {
        self.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
            .await;
        let enabled = self.element().await;
        assert!(enabled.is("enabled", SM), "{enabled:?}");
        assert_eq!(enabled.attr("resume"), Some("true"));
        enabled.attr("id").unwrap().to_owned()
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The next XMPP element received over WebSocket.
async fn ws_element(ws: &mut Ws) -> Element {
    loop {
        let msg = tokio::time::timeout(STEP, ws.next()).await.unwrap();
        if let Some(Ok(WsMessage::Text(text))) = msg {
            return text.as_str().parse().unwrap();
        }
        assert!(matches!(msg, Some(Ok(_))), "closed: {msg:?}");
    }
}

fn chat_xml(to: &str, id: &str) -> String {
    format!("<message to='{to}' type='chat' id='{id}'><body>{id}</body></message>")
}

#[tokio::test]
async fn unknown_or_foreign_resumption_ids_fail_and_the_client_binds() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.c2s, "alice", "phone").await;
    let id = alice.enable().await;
    for (user, previd) in [("alice", "bogus"), ("bob", id.as_str())] {
        let mut raw = Raw::authenticated(server.c2s, user).await;
        raw.send(&format!("<resume xmlns='{SM}' previd='{previd}' h='0'/>"))
            .await;
        let failed = raw.element().await;
        assert!(failed.is("failed", SM), "{user}: {failed:?}");
        assert!(failed.has_child("item-not-found", STANZAS));
        raw.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
            .await;
        assert_eq!(raw.element().await.attr("type"), Some("result"));
    }
    // Alice's own session was not disturbed by bob's attempt.
    alice
        .send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    assert_eq!(alice.stanza().await.attr("id"), Some("r"));
    server.stop().await;
}

/// A session resumed over the other transport: enabled over TCP, resumed over WebSocket.
#[tokio::test]
async fn a_tcp_session_resumes_over_websocket() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.c2s, "alice", "phone").await;
    let id = alice.enable().await;
    let mut bob = Raw::login(server.c2s, "bob", "desk").await;
    bob.send(&chat_xml("alice@localhost/phone", "m1")).await;
    assert_eq!(alice.stanza().await.attr("id"), Some("m1"));
    drop(alice);
    bob.send(&chat_xml("alice@localhost/phone", "m2")).await;

    let mut request = server
        .url("/xmpp-websocket")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let open = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>";
    for step in [
        open.to_owned(),
        format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
            plain_auth("alice")
        ),
        open.to_owned(),
    ] {
        ws.send(WsMessage::text(step)).await.unwrap();
        loop {
            let el = ws_element(&mut ws).await;
            if matches!(el.name(), "features" | "success") {
                break;
            }
        }
    }
    ws.send(WsMessage::text(format!(
        "<resume xmlns='{SM}' previd='{id}' h='0'/>"
    )))
    .await
    .unwrap();
    let resumed = ws_element(&mut ws).await;
    assert!(resumed.is("resumed", SM), "{resumed:?}");
    let mut ids = Vec::new();
    while ids.len() < 2 {
        let el = ws_element(&mut ws).await;
        if el.is("message", CLIENT) {
            ids.push(el.attr("id").unwrap().to_owned());
        }
    }
    assert_eq!(ids, vec!["m1", "m2"]);
    server.stop().await;
}

#[tokio::test]
async fn unacknowledged_messages_are_stored_when_the_session_is_not_resumed() {
    let server = TestServer::start_with(|c| c.c2s.resumption_timeout_secs = 1).await;
    let mut alice = Raw::login(server.c2s, "alice", "phone").await;
    alice.available().await;
    alice.enable().await;
    let mut bob = Raw::login(server.c2s, "bob", "desk").await;
    bob.send(&chat_xml("alice@localhost", "m1")).await;
    assert_eq!(alice.stanza().await.attr("id"), Some("m1"));
    alice.send("<a xmlns='urn:xmpp:sm:3' h='1'/>").await;
    bob.send(&chat_xml("alice@localhost", "m2")).await;
    assert_eq!(alice.stanza().await.attr("id"), Some("m2"));
    // m2 is never acknowledged; m3 arrives while the link is down.
    drop(alice);
    bob.send(&chat_xml("alice@localhost", "m3")).await;
    // Nobody resumes: once the session gives up, both are in offline storage.
    let store = server.running.as_ref().unwrap().accounts().store().clone();
    tokio::time::timeout(STEP, async {
        while store.offline_batch("alice", 0, 1000).await.unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the waiting session ends and stores what was not acknowledged");

    let mut back = server.client("alice@localhost/laptop").await;
    send_xml(&mut back, "<presence xmlns='jabber:client'/>").await;
    let first = next_message(&mut back).await;
    let second = next_message(&mut back).await;
    let ids: Vec<String> = [&first, &second]
        .iter()
        .map(|m| m.id.as_ref().unwrap().0.clone())
        .collect();
    assert_eq!(
        ids,
        vec!["m2", "m3"],
        "acknowledged m1 is not delivered again"
    );
    assert!(
        first
            .payloads
            .iter()
            .any(|p| p.is("delay", "urn:xmpp:delay"))
    );
    server.stop().await;
}

#[tokio::test]
async fn an_inactive_client_gets_messages_at_once_and_the_latest_presence_later() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.c2s, "alice", "phone").await;
    alice.available().await;
    alice.send("<inactive xmlns='urn:xmpp:csi:0'/>").await;
    let mut bob = Raw::login(server.c2s, "bob", "desk").await;
    for status in ["one", "two", "three"] {
        bob.send(&format!(
            "<presence to='alice@localhost'><status>{status}</status></presence>"
        ))
        .await;
    }
    bob.send(&chat_xml("alice@localhost/phone", "m1")).await;
    assert_eq!(alice.element().await.attr("id"), Some("m1"));
    alice.send("<active xmlns='urn:xmpp:csi:0'/>").await;
    let presence = alice.element().await;
    assert_eq!(presence.name(), "presence");
    let status = presence.get_child("status", CLIENT).unwrap().text();
    assert_eq!(status, "three", "collapsed to the latest");
    alice
        .send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    assert_eq!(alice.element().await.attr("id"), Some("r"));
    server.stop().await;
}

#[tokio::test]
async fn keepalive_pings_a_silent_session_and_whitespace_counts() {
    let server = TestServer::start_with(|c| c.limits.idle_timeout_secs = 2).await;
    let mut alice = Raw::login(server.c2s, "alice", "phone").await;
    // Whitespace for longer than the idle timeout: no ping, no close.
    for _ in 0..6 {
        alice.send("\n").await;
        let mut buf = [0u8; 64];
        let quiet =
            tokio::time::timeout(Duration::from_millis(500), alice.stream.read(&mut buf)).await;
        assert!(quiet.is_err(), "nothing arrives while whitespace flows");
    }
    let ping = alice.element().await;
    assert!(ping.has_child("ping", PING), "{ping:?}");
    assert_eq!(ping.attr("to"), Some("alice@localhost/phone"));
    alice
        .send(&format!(
            "<iq type='result' id='{}' to='localhost'/>",
            ping.attr("id").unwrap()
        ))
        .await;
    assert!(alice.element().await.has_child("ping", PING));
    let error = alice.closed().await.expect("a stream error");
    assert!(error.has_child("connection-timeout", STREAMS));
    server.stop().await;
}

#[tokio::test]
async fn a_stream_over_the_rate_gets_errors_then_is_closed_and_others_are_served() {
    let server = TestServer::start_with(|c| {
        c.limits.c2s_rate_per_second = 5;
        c.limits.c2s_rate_burst = 5;
    })
    .await;
    let mut alice = Raw::login(server.c2s, "alice", "phone").await;
    let ping =
        |i: usize| format!("<iq type='get' id='p{i}' to='localhost'><ping xmlns='{PING}'/></iq>");
    alice.send(&(0..20).map(ping).collect::<String>()).await;
    let refusal = loop {
        let reply = alice.element().await;
        if reply.attr("type") == Some("error") {
            break reply;
        }
    };
    let error = refusal.get_child("error", CLIENT).unwrap();
    assert_eq!(error.attr("type"), Some("wait"));
    assert!(error.has_child("resource-constraint", STANZAS));
    alice.send(&(20..700).map(ping).collect::<String>()).await;
    let end = alice.closed().await.expect("a stream error");
    assert!(end.has_child("policy-violation", STREAMS));

    let mut bob = server.client("bob@localhost/desk").await;
    send_xml(
        &mut bob,
        &format!("<iq xmlns='jabber:client' type='get' id='bp' to='localhost'><ping xmlns='{PING}'/></iq>"),
    )
    .await;
    match next_stanza(&mut bob).await {
        Stanza::Iq(iq) => assert_eq!(iq.id(), "bp"),
        other => panic!("expected the ping result, got {other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn at_the_connection_cap_new_streams_get_a_policy_violation() {
    let server = TestServer::start_with(|c| c.limits.max_connections = 1).await;
    let _held = Raw::login(server.c2s, "alice", "phone").await;

    let mut tcp = RawTcp::connect(server.c2s).await;
    tcp.send(STREAM_HEADER).await;
    let said = tcp.read_to_close().await;
    assert!(said.contains("<stream:stream"), "{said}");
    assert!(said.contains("policy-violation"), "{said}");
    assert!(said.contains("Too many connections"), "{said}");
    assert!(said.ends_with("</stream:stream>"), "{said}");

    let mut request = server
        .url("/xmpp-websocket")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut texts = Vec::new();
    while let Some(Ok(msg)) = tokio::time::timeout(STEP, ws.next()).await.unwrap() {
        match msg {
            WsMessage::Text(text) => texts.push(text.as_str().to_owned()),
            WsMessage::Close(_) => break,
            _ => {}
        }
    }
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[0].starts_with("<open"), "{texts:?}");
    assert!(texts[1].contains("policy-violation"), "{texts:?}");
    assert!(texts[2].starts_with("<close"), "{texts:?}");
    server.stop().await;
}
