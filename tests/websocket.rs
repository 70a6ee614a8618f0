//! RFC 7395 XMPP over WebSocket, driven by a tokio-tungstenite client, talking to a
//! tokio-xmpp user on TCP through the same router.

mod common;

use common::*;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_xmpp::Stanza;

const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
const OPEN: &str =
    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>";

async fn connect(server: &TestServer) -> Ws {
    let mut request = server
        .url("/xmpp-websocket")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
    let (ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers().get("sec-websocket-protocol").unwrap(),
        "xmpp"
    );
    ws
}

/// Logs in over WebSocket with SASL PLAIN and binds `resource`.
async fn login(server: &TestServer, user: &str, resource: &str) -> Ws {
    let mut ws = connect(server).await;
    ws_send(&mut ws, OPEN).await;
    let open = ws_recv(&mut ws).await.unwrap();
    assert!(open.is("open", FRAMING), "{open:?}");
    assert_eq!(open.attr("from"), Some("localhost"));
    let features = ws_recv(&mut ws).await.unwrap();
    let mechanisms: Vec<String> = features
        .get_child("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")
        .expect("SASL offered on loopback WebSocket")
        .children()
        .map(|m| m.text())
        .collect();
    assert!(
        mechanisms.contains(&"SCRAM-SHA-256".to_string()),
        "{mechanisms:?}"
    );
    ws_send(
        &mut ws,
        &format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
            plain_auth(user)
        ),
    )
    .await;
    let success = ws_recv(&mut ws).await.unwrap();
    assert_eq!(success.name(), "success", "{success:?}");
    ws_send(&mut ws, OPEN).await;
    ws_recv_named(&mut ws, "open").await;
    let features = ws_recv(&mut ws).await.unwrap();
    assert!(features.has_child("bind", "urn:ietf:params:xml:ns:xmpp-bind"));
    ws_send(
        &mut ws,
        &format!(
            "<iq xmlns='jabber:client' type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{resource}</resource></bind></iq>"
        ),
    )
    .await;
    let bound = ws_recv_named(&mut ws, "iq").await;
    let jid = bound
        .get_child("bind", "urn:ietf:params:xml:ns:xmpp-bind")
        .and_then(|b| b.get_child("jid", "urn:ietf:params:xml:ns:xmpp-bind"))
        .map(|j| j.text());
    assert_eq!(jid, Some(format!("{user}@localhost/{resource}")));
    ws
}

#[tokio::test]
async fn websocket_and_tcp_users_exchange_messages() {
    let server = TestServer::start().await;
    let mut ws = login(&server, "alice", "browser").await;
    // Stanzas without an explicit namespace are jabber:client, as on a TCP stream.
    ws_send(&mut ws, "<presence/>").await;
    ws_recv_named(&mut ws, "presence").await;

    let mut bob = server.client("bob@localhost/desk").await;
    send_xml(
        &mut bob,
        "<message xmlns='jabber:client' to='alice@localhost' type='chat'><body>to the browser</body></message>",
    )
    .await;
    let m = ws_recv_named(&mut ws, "message").await;
    assert_eq!(m.attr("from"), Some("bob@localhost/desk"));
    assert_eq!(
        m.get_child("body", "jabber:client").unwrap().text(),
        "to the browser"
    );

    send_xml(&mut bob, "<presence xmlns='jabber:client'/>").await;
    loop {
        if let Stanza::Presence(_) = next_stanza(&mut bob).await {
            break;
        }
    }
    ws_send(
        &mut ws,
        "<message xmlns='jabber:client' to='bob@localhost' type='chat'><body>from the browser</body></message>",
    )
    .await;
    let m = next_message(&mut bob).await;
    assert_eq!(body_of(&m), "from the browser");
    assert_eq!(m.from.unwrap().to_string(), "alice@localhost/browser");
    server.stop().await;
}

#[tokio::test]
async fn roster_and_ping_over_websocket() {
    let server = TestServer::start().await;
    let mut ws = login(&server, "carol", "tab").await;
    ws_send(
        &mut ws,
        "<iq xmlns='jabber:client' type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='dave@localhost' name='Dave'/></query></iq>",
    )
    .await;
    let result = ws_recv_named(&mut ws, "iq").await;
    assert_eq!(result.attr("type"), Some("result"), "{result:?}");
    ws_send(
        &mut ws,
        "<iq xmlns='jabber:client' type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>",
    )
    .await;
    let roster = loop {
        let iq = ws_recv_named(&mut ws, "iq").await;
        if iq.attr("id") == Some("r2") {
            break iq;
        }
    };
    let item = roster
        .get_child("query", "jabber:iq:roster")
        .and_then(|q| q.get_child("item", "jabber:iq:roster"))
        .expect("stored item");
    assert_eq!(item.attr("name"), Some("Dave"));
    ws_send(
        &mut ws,
        "<iq xmlns='jabber:client' type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>",
    )
    .await;
    let pong = ws_recv_named(&mut ws, "iq").await;
    assert_eq!(pong.attr("id"), Some("p1"));
    assert_eq!(pong.attr("type"), Some("result"));
    server.stop().await;
}

#[tokio::test]
async fn close_is_answered_with_close() {
    let server = TestServer::start().await;
    let mut ws = login(&server, "dave", "x").await;
    ws_send(
        &mut ws,
        "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
    )
    .await;
    let close = ws_recv(&mut ws).await.expect("a <close/> answer");
    assert!(close.is("close", FRAMING), "{close:?}");
    assert!(ws_recv(&mut ws).await.is_none());
    server.stop().await;
}

#[tokio::test]
async fn bad_xml_and_oversize_messages_are_stream_errors() {
    let server = TestServer::start_with(|c| c.limits.max_stanza_bytes = 8192).await;
    let mut ws = login(&server, "alice", "bad").await;
    ws_send(&mut ws, "<message><body>unclosed</message>").await;
    let error = ws_recv(&mut ws).await.unwrap();
    assert!(
        error.is("error", "http://etherx.jabber.org/streams"),
        "{error:?}"
    );
    assert!(error.has_child("not-well-formed", "urn:ietf:params:xml:ns:xmpp-streams"));
    assert!(ws_recv(&mut ws).await.unwrap().is("close", FRAMING));

    let mut ws = login(&server, "alice", "big").await;
    let big = format!("<message><body>{}</body></message>", "y".repeat(8300));
    ws_send(&mut ws, &big).await;
    let error = ws_recv(&mut ws).await.unwrap();
    assert!(
        error.has_child("policy-violation", "urn:ietf:params:xml:ns:xmpp-streams"),
        "{error:?}"
    );

    let mut ws = login(&server, "alice", "two").await;
    ws_send(&mut ws, "<presence/><presence/>").await;
    let error = ws_recv(&mut ws).await.unwrap();
    assert!(error.has_child("not-well-formed", "urn:ietf:params:xml:ns:xmpp-streams"));
    server.stop().await;
}

#[tokio::test]
async fn upgrade_without_xmpp_subprotocol_is_refused() {
    let server = TestServer::start().await;
    let url = server.url("/xmpp-websocket").replace("http://", "ws://");
    let err = tokio_tungstenite::connect_async(url).await.unwrap_err();
    match err {
        tungstenite::Error::Http(response) => assert_eq!(response.status(), 400),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn shutdown_sends_close_over_websocket() {
    let server = TestServer::start().await;
    let mut ws = login(&server, "bob", "bye").await;
    let TestServer { running, dir, .. } = server;
    let stop = tokio::spawn(async move { running.unwrap().shutdown().await });
    let error = ws_recv(&mut ws).await.unwrap();
    assert!(error.has_child("system-shutdown", "urn:ietf:params:xml:ns:xmpp-streams"));
    assert!(ws_recv(&mut ws).await.unwrap().is("close", FRAMING));
    stop.await.unwrap();
    drop(dir);
}

#[tokio::test]
async fn a_websocket_session_outlives_the_http_timeouts_and_caps() {
    let server = TestServer::start_with(|c| {
        c.http.request_timeout_secs = 1;
        c.http.header_read_timeout_secs = 1;
        c.http.keepalive_timeout_secs = 1;
        c.http.max_connections_per_ip = 1;
    })
    .await;
    let mut ws = login(&server, "alice", "browser").await;
    // Longer than every HTTP timeout: the upgraded connection is a session, not a request.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    ws_send(
        &mut ws,
        "<iq xmlns='jabber:client' type='get' id='late' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>",
    )
    .await;
    let pong = ws_recv_named(&mut ws, "iq").await;
    assert_eq!(pong.attr("id"), Some("late"));
    assert_eq!(pong.attr("type"), Some("result"));
    // It no longer holds the address's only HTTP connection.
    let health = http().get(server.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    server.stop().await;
}
