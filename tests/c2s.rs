//! End-to-end c2s scenarios over TCP with real clients: tokio-xmpp (STARTTLS + SCRAM-*-PLUS)
//! and raw sockets for what a well-behaved client never sends.

mod common;

use common::*;
use minidom::Element;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::{IqRequest, IqResponse};

const NS_ROSTER: &str = "jabber:iq:roster";

async fn available(client: &mut tokio_xmpp::Client) {
    send_xml(client, "<presence xmlns='jabber:client'/>").await;
    // The server echoes available presence to the sender: after that, routing sees us.
    loop {
        if let Stanza::Presence(_) = next_stanza(client).await {
            return;
        }
    }
}

async fn iq_get(
    client: &mut tokio_xmpp::Client,
    to: Option<&str>,
    payload: &str,
) -> Option<Element> {
    let payload: Element = payload.parse().unwrap();
    let token = client
        .send_iq(to.map(|t| Jid::new(t).unwrap()), IqRequest::Get(payload))
        .await;
    match tokio::time::timeout(STEP, token).await.unwrap().unwrap() {
        IqResponse::Result(el) => el,
        IqResponse::Error(e) => panic!("iq error: {e:?}"),
    }
}

#[tokio::test]
async fn two_users_exchange_messages_both_ways() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice@localhost/laptop").await;
    let mut bob = server.client("bob@localhost/phone").await;
    available(&mut alice).await;
    available(&mut bob).await;

    send_xml(
        &mut alice,
        "<message xmlns='jabber:client' to='bob@localhost' type='chat'><body>Hi Bob</body></message>",
    )
    .await;
    let m = next_message(&mut bob).await;
    assert_eq!(body_of(&m), "Hi Bob");
    assert_eq!(m.from.unwrap().to_string(), "alice@localhost/laptop");

    send_xml(
        &mut bob,
        "<message xmlns='jabber:client' to='alice@localhost/laptop' type='chat'><body>Hi Alice ✓</body></message>",
    )
    .await;
    let m = next_message(&mut alice).await;
    assert_eq!(body_of(&m), "Hi Alice ✓");
    assert_eq!(m.from.unwrap().to_string(), "bob@localhost/phone");
    server.stop().await;
}

#[tokio::test]
async fn presence_is_seen_by_other_resources_and_directed_presence_arrives() {
    let server = TestServer::start().await;
    let mut home = server.client("carol@localhost/home").await;
    available(&mut home).await;
    let mut work = server.client("carol@localhost/work").await;
    send_xml(
        &mut work,
        "<presence xmlns='jabber:client'><show>dnd</show><status>busy</status></presence>",
    )
    .await;
    let seen = loop {
        if let Stanza::Presence(p) = next_stanza(&mut home).await {
            break p;
        }
    };
    assert_eq!(seen.from.unwrap().to_string(), "carol@localhost/work");
    assert_eq!(
        seen.statuses.values().next().map(String::as_str),
        Some("busy")
    );

    // The newly available resource is told about the resources already online.
    let mut told = Vec::new();
    while told.len() < 2 {
        if let Stanza::Presence(p) = next_stanza(&mut work).await {
            told.push(p.from.unwrap().to_string());
        }
    }
    assert!(
        told.contains(&"carol@localhost/home".to_string()),
        "{told:?}"
    );

    // Directed presence to another user reaches their available resource.
    let mut dave = server.client("dave@localhost/d").await;
    available(&mut dave).await;
    send_xml(
        &mut home,
        "<presence xmlns='jabber:client' to='dave@localhost'/>",
    )
    .await;
    let p = loop {
        if let Stanza::Presence(p) = next_stanza(&mut dave).await {
            break p;
        }
    };
    assert_eq!(p.from.unwrap().to_string(), "carol@localhost/home");

    // Going away is broadcast as unavailable.
    drop(work);
    let gone = loop {
        if let Stanza::Presence(p) = next_stanza(&mut home).await
            && p.from.as_ref().map(|f| f.to_string()).as_deref() == Some("carol@localhost/work")
        {
            break p;
        }
    };
    assert_eq!(gone.type_, tokio_xmpp::parsers::presence::Type::Unavailable);
    server.stop().await;
}

#[tokio::test]
async fn roster_set_get_remove_with_push() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice@localhost/a").await;
    let empty = iq_get(&mut alice, None, "<query xmlns='jabber:iq:roster'/>")
        .await
        .unwrap();
    assert_eq!(empty.children().count(), 0);

    let set: Element = "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'><group>Friends</group></item></query>"
        .parse()
        .unwrap();
    let token = alice.send_iq(None, IqRequest::Set(set)).await;
    let result = tokio::time::timeout(STEP, token).await.unwrap().unwrap();
    assert!(matches!(result, IqResponse::Result(_)), "{result:?}");

    // The interested resource receives a roster push.
    let query = loop {
        if let Stanza::Iq(Iq::Set { payload, .. }) = next_stanza(&mut alice).await {
            break payload;
        }
    };
    assert_eq!(
        query.get_child("item", NS_ROSTER).unwrap().attr("jid"),
        Some("bob@localhost")
    );

    let roster = iq_get(&mut alice, None, "<query xmlns='jabber:iq:roster'/>")
        .await
        .unwrap();
    let item = roster.get_child("item", NS_ROSTER).expect("item stored");
    assert_eq!(item.attr("name"), Some("Bob"));
    assert_eq!(item.attr("subscription"), Some("none"));
    assert_eq!(
        item.get_child("group", NS_ROSTER).unwrap().text(),
        "Friends"
    );

    let remove: Element =
        "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query>"
            .parse()
            .unwrap();
    let token = alice.send_iq(None, IqRequest::Set(remove)).await;
    assert!(matches!(
        tokio::time::timeout(STEP, token).await.unwrap().unwrap(),
        IqResponse::Result(_)
    ));
    let roster = iq_get(&mut alice, None, "<query xmlns='jabber:iq:roster'/>")
        .await
        .unwrap();
    assert_eq!(roster.children().count(), 0);
    server.stop().await;
}

#[tokio::test]
async fn ping_disco_and_version_answer() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice@localhost/a").await;
    assert!(
        iq_get(
            &mut alice,
            Some("localhost"),
            "<ping xmlns='urn:xmpp:ping'/>"
        )
        .await
        .is_none()
    );
    let info = iq_get(
        &mut alice,
        Some("localhost"),
        "<query xmlns='http://jabber.org/protocol/disco#info'/>",
    )
    .await
    .unwrap();
    let features: Vec<&str> = info
        .children()
        .filter(|c| c.name() == "feature")
        .filter_map(|c| c.attr("var"))
        .collect();
    for f in [
        "urn:xmpp:ping",
        "jabber:iq:version",
        "http://jabber.org/protocol/disco#info",
    ] {
        assert!(features.contains(&f), "{f} in {features:?}");
    }
    let items = iq_get(
        &mut alice,
        Some("localhost"),
        "<query xmlns='http://jabber.org/protocol/disco#items'/>",
    )
    .await
    .unwrap();
    assert!(items.is("query", "http://jabber.org/protocol/disco#items"));
    let version = iq_get(
        &mut alice,
        Some("localhost"),
        "<query xmlns='jabber:iq:version'/>",
    )
    .await
    .unwrap();
    assert_eq!(
        version
            .get_child("name", "jabber:iq:version")
            .unwrap()
            .text(),
        "Switchboard"
    );

    // An unknown payload gets a stanza error, never silence.
    let token = alice
        .send_iq(
            Some(Jid::new("localhost").unwrap()),
            IqRequest::Get("<query xmlns='urn:example:nope'/>".parse().unwrap()),
        )
        .await;
    match tokio::time::timeout(STEP, token).await.unwrap().unwrap() {
        IqResponse::Error(e) => assert_eq!(
            e.defined_condition,
            tokio_xmpp::parsers::stanza_error::DefinedCondition::ServiceUnavailable
        ),
        other => panic!("expected an error, got {other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn message_to_offline_user_arrives_at_next_login() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice@localhost/a").await;
    send_xml(
        &mut alice,
        "<message xmlns='jabber:client' to='dave@localhost' type='chat'><body>while you were out</body></message>",
    )
    .await;
    // Make sure it was processed before dave logs in: a ping round trip on the same stream.
    iq_get(
        &mut alice,
        Some("localhost"),
        "<ping xmlns='urn:xmpp:ping'/>",
    )
    .await;

    let mut dave = server.client("dave@localhost/d").await;
    send_xml(&mut dave, "<presence xmlns='jabber:client'/>").await;
    let m = next_message(&mut dave).await;
    assert_eq!(body_of(&m), "while you were out");
    assert_eq!(m.from.unwrap().to_string(), "alice@localhost/a");
    let delayed = m.payloads.iter().any(|p| p.is("delay", "urn:xmpp:delay"));
    assert!(delayed, "offline delivery carries a XEP-0203 delay");

    // Delivered once: the store is emptied right after the messages are written.
    let store = server.running.as_ref().unwrap().accounts().store().clone();
    let deadline = tokio::time::Instant::now() + STEP;
    while store.offline_usage("dave").await.unwrap().messages > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "offline store not emptied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(dave);
    server.stop().await;
}

#[tokio::test]
async fn message_to_unknown_user_bounces() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice@localhost/a").await;
    send_xml(
        &mut alice,
        "<message xmlns='jabber:client' to='nobody@localhost' id='m1' type='chat'><body>?</body></message>",
    )
    .await;
    let m = next_message(&mut alice).await;
    assert_eq!(m.type_, tokio_xmpp::parsers::message::MessageType::Error);
    server.stop().await;
}

#[tokio::test]
async fn malformed_xml_closes_with_not_well_formed() {
    let server = TestServer::start().await;
    let mut raw = raw_logged_in(server.c2s, "alice", "raw").await;
    raw.send("<message><body>oops</iq>").await;
    let out = raw.read_to_close().await;
    assert!(out.contains("not-well-formed"), "{out}");
    assert!(out.ends_with("</stream:stream>"), "{out}");
    server.stop().await;
}

#[tokio::test]
async fn oversize_stanza_closes_with_policy_violation() {
    let server = TestServer::start_with(|c| c.limits.max_stanza_bytes = 8192).await;
    let mut raw = raw_logged_in(server.c2s, "alice", "big").await;
    let big = format!(
        "<message to='bob@localhost'><body>{}</body></message>",
        "x".repeat(20_000)
    );
    raw.send(&big).await;
    let out = raw.read_to_close().await;
    assert!(out.contains("policy-violation"), "{out}");
    server.stop().await;
}

#[tokio::test]
async fn deep_nesting_and_doctype_are_refused() {
    let server = TestServer::start().await;
    let mut raw = raw_logged_in(server.c2s, "alice", "deep").await;
    raw.send(&format!("<iq type='get'>{}", "<a>".repeat(100)))
        .await;
    let out = raw.read_to_close().await;
    assert!(out.contains("policy-violation"), "{out}");

    let mut raw = RawTcp::connect(server.c2s).await;
    raw.send("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><stream:stream>")
        .await;
    let out = raw.read_to_close().await;
    assert!(out.contains("restricted-xml"), "{out}");
    server.stop().await;
}

#[tokio::test]
async fn wrong_password_fails_then_retry_succeeds_and_attempts_are_limited() {
    let server = TestServer::start().await;
    let mut raw = RawTcp::connect(server.c2s).await;
    raw.send(STREAM_HEADER).await;
    raw.read_until("</stream:features>").await;
    use base64::Engine;
    let bad = base64::engine::general_purpose::STANDARD.encode("\0alice\0wrong");
    raw.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{bad}</auth>"
    ))
    .await;
    let out = raw.read_until("</failure>").await;
    assert!(out.contains("<not-authorized"), "{out}");
    raw.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
        plain_auth("alice")
    ))
    .await;
    raw.read_until("<success").await;

    let mut raw = RawTcp::connect(server.c2s).await;
    raw.send(STREAM_HEADER).await;
    raw.read_until("</stream:features>").await;
    for _ in 0..5 {
        raw.send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{bad}</auth>"
        ))
        .await;
    }
    let out = raw.read_to_close().await;
    assert!(out.contains("policy-violation"), "{out}");
    server.stop().await;
}

#[tokio::test]
async fn stanzas_before_authentication_are_refused() {
    let server = TestServer::start().await;
    let mut raw = RawTcp::connect(server.c2s).await;
    raw.send(STREAM_HEADER).await;
    raw.read_until("</stream:features>").await;
    raw.send("<message to='bob@localhost'><body>spam</body></message>")
        .await;
    let out = raw.read_to_close().await;
    assert!(out.contains("not-authorized"), "{out}");
    server.stop().await;
}

#[tokio::test]
async fn wrong_host_and_spoofed_from_are_stream_errors() {
    let server = TestServer::start().await;
    let mut raw = RawTcp::connect(server.c2s).await;
    raw.send(&STREAM_HEADER.replace("to='localhost'", "to='elsewhere.example'"))
        .await;
    let out = raw.read_to_close().await;
    assert!(out.contains("host-unknown"), "{out}");

    let mut raw = raw_logged_in(server.c2s, "alice", "spoof").await;
    raw.send("<message from='bob@localhost/x' to='carol@localhost'><body>hi</body></message>")
        .await;
    let out = raw.read_to_close().await;
    assert!(out.contains("invalid-from"), "{out}");
    server.stop().await;
}

#[tokio::test]
async fn same_resource_login_replaces_the_old_session() {
    let server = TestServer::start().await;
    let mut first = raw_logged_in(server.c2s, "bob", "same").await;
    let _second = raw_logged_in(server.c2s, "bob", "same").await;
    let out = first.read_to_close().await;
    assert!(out.contains("<conflict"), "{out}");
    server.stop().await;
}

#[tokio::test]
async fn direct_tls_offers_channel_bound_scram() {
    let server = TestServer::start().await;
    let tcp = tokio::net::TcpStream::connect(server.direct_tls.unwrap())
        .await
        .unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(server.tls.clone())
        .connect(name, tcp)
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tls.write_all(STREAM_HEADER.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).contains("</stream:features>") {
        let n = tokio::time::timeout(STEP, tls.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        out.extend_from_slice(&buf[..n]);
    }
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("SCRAM-SHA-256-PLUS"), "{out}");
    assert!(!out.contains("starttls"), "{out}");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_streams_cleanly() {
    let server = TestServer::start().await;
    let mut raw = raw_logged_in(server.c2s, "alice", "bye").await;
    let TestServer { running, dir, .. } = server;
    let stop = tokio::spawn(async move { running.unwrap().shutdown().await });
    let out = raw.read_to_close().await;
    assert!(out.contains("system-shutdown"), "{out}");
    assert!(out.ends_with("</stream:stream>"), "{out}");
    stop.await.unwrap();
    drop(dir);
}

#[tokio::test]
async fn stream_header_echoes_the_initiator_jid() {
    let server = TestServer::start().await;
    let mut raw = RawTcp::connect(server.c2s).await;
    raw.send(&STREAM_HEADER.replace("to='localhost'", "to='localhost' from='alice@localhost'"))
        .await;
    let header = raw.read_until("</stream:features>").await;
    assert!(header.contains("to='alice@localhost'"), "{header}");
    assert!(header.contains("from='localhost'"), "{header}");
    server.stop().await;
}

#[tokio::test]
async fn tls_is_required_on_a_non_loopback_listener() {
    // Bound to every interface, reached over loopback: the listener is not loopback-only.
    let server = TestServer::start_with(|c| c.c2s.addr = "0.0.0.0:0".parse().unwrap()).await;
    let port = server.c2s.port();
    let mut raw = RawTcp::connect(format!("127.0.0.1:{port}").parse().unwrap()).await;
    raw.send(STREAM_HEADER).await;
    let features = raw.read_until("</stream:features>").await;
    assert!(features.contains("<required"), "{features}");
    assert!(!features.contains("<mechanisms"), "{features}");
    raw.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
        plain_auth("alice")
    ))
    .await;
    let out = raw.read_until("</failure>").await;
    assert!(out.contains("encryption-required"), "{out}");
    server.stop().await;
}

#[tokio::test]
async fn plaintext_http_on_a_non_loopback_address_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.http.addr = "0.0.0.0:0".parse().unwrap();
    // Unset, http.tls means HTTPS off loopback (tests/https.rs); plain HTTP is asked for here.
    config.http.tls = Some(false);
    let err = switchboard_server::server::start(config)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("allow_plaintext"), "{err}");
}

#[tokio::test]
async fn legacy_session_request_is_answered() {
    let server = TestServer::start().await;
    let mut raw = raw_logged_in(server.c2s, "carol", "old").await;
    raw.send(
        "<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
    )
    .await;
    let out = raw.read_until("type='result'").await;
    assert!(out.contains("id='sess1'"), "{out}");
    server.stop().await;
}

#[tokio::test]
async fn sasl_unknown_mechanism_abort_and_missing_initial_response() {
    let server = TestServer::start().await;
    let mut raw = RawTcp::connect(server.c2s).await;
    raw.send(STREAM_HEADER).await;
    raw.read_until("</stream:features>").await;
    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>")
        .await;
    let out = raw.read_until("</failure>").await;
    assert!(out.contains("<invalid-mechanism"), "{out}");
    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%%%</auth>")
        .await;
    let out = raw.read_until("</failure>").await;
    assert!(out.contains("<incorrect-encoding"), "{out}");

    // RFC 6120 §6.4.2: without an initial response the server asks with an empty challenge.
    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'/>")
        .await;
    let out = raw.read_until("</challenge>").await;
    assert!(out.contains("<challenge"), "{out}");
    raw.send("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
        .await;
    let out = raw.read_until("</failure>").await;
    assert!(out.contains("<aborted"), "{out}");

    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>")
        .await;
    raw.read_until("</challenge>").await;
    raw.send(&format!(
        "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</response>",
        plain_auth("alice")
    ))
    .await;
    raw.read_until("<success").await;
    server.stop().await;
}
