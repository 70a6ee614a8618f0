//! `POST /rest` driven with real HTTP (reqwest), with tokio-xmpp clients on the receiving end.

mod common;

use common::*;
use minidom::Element;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn post_json(server: &TestServer, user: &str, body: &Value) -> reqwest::Response {
    http()
        .post(server.url("/rest"))
        .basic_auth(user, Some(PASSWORD))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn post_xml(server: &TestServer, user: &str, body: &str) -> reqwest::Response {
    http()
        .post(server.url("/rest"))
        .basic_auth(user, Some(PASSWORD))
        .header("Content-Type", "application/xmpp+xml")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn online(server: &TestServer, jid: &str) -> tokio_xmpp::Client {
    let mut client = server.client(jid).await;
    send_xml(&mut client, "<presence xmlns='jabber:client'/>").await;
    loop {
        if let tokio_xmpp::Stanza::Presence(_) = next_stanza(&mut client).await {
            return client;
        }
    }
}

#[tokio::test]
async fn json_message_reaches_a_live_client_exactly() {
    let server = TestServer::start().await;
    // A raw peer sees the exact XML, where a typed client would normalise it.
    let mut bob = raw_logged_in(server.c2s, "bob", "phone").await;
    bob.send("<presence/>").await;
    bob.read_until("<presence").await;
    let response = post_json(
        &server,
        "alice",
        &json!({"kind": "message", "type": "chat", "to": "bob@localhost", "body": "Hello from HTTP <&>", "id": "rest-1"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.text().await.unwrap(), "");
    let got = bob.read_until("</message>").await;
    let received: Element = got[got.find("<message").unwrap()..].parse().unwrap();
    let expected: Element = "<message xmlns='jabber:client' type='chat' to='bob@localhost' from='alice@localhost' id='rest-1'><body>Hello from HTTP &lt;&amp;&gt;</body></message>"
        .parse()
        .unwrap();
    assert_eq!(archived(received, "bob@localhost"), expected);
    server.stop().await;
}

#[tokio::test]
async fn xml_message_with_bearer_token_and_own_resource() {
    let server = TestServer::start().await;
    let mut carol = online(&server, "carol@localhost/c").await;
    let token = server
        .running
        .as_ref()
        .unwrap()
        .accounts()
        .create_token("dave", switchboard_server::storage::TokenScope::User)
        .await
        .unwrap();
    let response = http()
        .post(server.url("/rest"))
        .bearer_auth(&token)
        .header("Content-Type", "application/xmpp+xml")
        .body("<message to='carol@localhost' from='dave@localhost/bot' type='chat'><body>beep</body></message>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let m = next_message(&mut carol).await;
    assert_eq!(body_of(&m), "beep");
    assert_eq!(m.from.unwrap().to_string(), "dave@localhost/bot");
    server.stop().await;
}

#[tokio::test]
async fn iq_waits_for_its_reply_in_the_request_format() {
    let server = TestServer::start().await;
    let response = post_json(
        &server,
        "alice",
        &json!({"kind": "iq", "type": "get", "to": "localhost", "version": {}}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "result");
    assert_eq!(body["version"]["name"], "Switchboard");

    let response = post_xml(
        &server,
        "alice",
        "<iq type='get' to='localhost' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/xmpp+xml");
    let reply = switchboard_xmpp::stanza::parse_in_stream(&response.text().await.unwrap()).unwrap();
    assert_eq!(reply.attr("type"), Some("result"));
    assert_eq!(reply.attr("id"), Some("d1"));
    assert!(
        reply
            .get_child("query", "http://jabber.org/protocol/disco#info")
            .is_some()
    );

    // Accept picks the reply format.
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .header("Content-Type", "application/xmpp+xml")
        .header("Accept", "application/json")
        .body("<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["kind"], "iq");
    assert_eq!(body["type"], "result");

    // An iq error comes back as the error stanza with 200, as mod_rest does.
    let response = post_json(
        &server,
        "alice",
        &json!({"kind": "iq", "type": "get", "to": "nobody@localhost", "ping": true}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["condition"], "service-unavailable");
    server.stop().await;
}

#[tokio::test]
async fn iq_reaches_a_client_and_its_answer_comes_back() {
    let server = TestServer::start().await;
    // tokio-xmpp answers unknown iqs with an error, which must travel back over HTTP.
    let mut raw = raw_logged_in(server.c2s, "bob", "raw").await;
    let request = tokio::spawn({
        let url = server.url("/rest");
        async move {
            http()
                .post(url)
                .basic_auth("alice", Some(PASSWORD))
                .header("Content-Type", "application/xmpp+xml")
                .body("<iq type='get' to='bob@localhost/raw' id='q1'><query xmlns='jabber:iq:version'/></iq>")
                .send()
                .await
                .unwrap()
        }
    });
    let got = raw.read_until("</iq>").await;
    let iq_start = got.rfind("<iq").unwrap();
    let iq: Element = got[iq_start..].parse().unwrap();
    let from = iq.attr("from").unwrap().to_owned();
    assert!(from.starts_with("alice@localhost/rest-"), "{from}");
    raw.send(&format!(
        "<iq type='result' id='q1' to='{from}'><query xmlns='jabber:iq:version'><name>raw</name><version>1</version></query></iq>"
    ))
    .await;
    let response = request.await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let reply = switchboard_xmpp::stanza::parse_in_stream(&response.text().await.unwrap()).unwrap();
    assert_eq!(reply.attr("from"), Some("bob@localhost/raw"));
    assert_eq!(
        reply
            .get_child("query", "jabber:iq:version")
            .and_then(|q| q.get_child("name", "jabber:iq:version"))
            .map(|n| n.text()),
        Some("raw".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn unanswered_iq_times_out_with_504() {
    let server = TestServer::start().await;
    let _raw = raw_logged_in(server.c2s, "bob", "silent").await;
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .header("Content-Type", "application/json")
        .header("Prosody-Rest-Timeout", "1")
        .body(r#"{"kind":"iq","type":"get","to":"bob@localhost/silent","ping":true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["condition"], "remote-server-timeout");
    server.stop().await;
}

#[tokio::test]
async fn message_to_offline_user_is_accepted_and_stored() {
    let server = TestServer::start().await;
    let response = post_json(
        &server,
        "alice",
        &json!({"to": "dave@localhost", "body": "later"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let mut dave = server.client("dave@localhost/d").await;
    send_xml(&mut dave, "<presence xmlns='jabber:client'/>").await;
    assert_eq!(body_of(&next_message(&mut dave).await), "later");
    server.stop().await;
}

#[tokio::test]
async fn authentication_errors() {
    let server = TestServer::start().await;
    let body = json!({"to": "bob@localhost", "body": "x"});
    let response = http()
        .post(server.url("/rest"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("Basic realm=\"localhost/rest\""),
        "{challenge}"
    );
    assert!(challenge.contains("Bearer"), "{challenge}");

    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some("wrong"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let err: Value = response.json().await.unwrap();
    assert_eq!(err["error"]["condition"], "not-authorized");

    // A full JID works as the Basic user name; a foreign domain does not.
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice@localhost", Some(PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice@elsewhere", Some(PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = http()
        .post(server.url("/rest"))
        .header("Authorization", "Basic !!!notbase64")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = http()
        .post(server.url("/rest"))
        .bearer_auth("sb_not-a-real-token")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = http()
        .post(server.url("/rest"))
        .header("Authorization", "Digest abc")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_the_documented_status_and_nothing_is_sent() {
    let server = TestServer::start().await;
    let mut bob = online(&server, "bob@localhost/watch").await;
    let cases: Vec<(&str, &str, StatusCode)> = vec![
        ("application/json", "{not json", StatusCode::BAD_REQUEST),
        ("application/json", "[1,2]", StatusCode::BAD_REQUEST),
        (
            "application/json",
            r#"{"kind":"pizza","to":"bob@localhost"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "application/json",
            r#"{"to":"bob@@localhost","body":"x"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "application/xmpp+xml",
            "<message to='bob@localhost'><body>x</body>",
            StatusCode::BAD_REQUEST,
        ),
        (
            "application/xmpp+xml",
            "<?xml version='1.0'?><!DOCTYPE m [<!ENTITY a 'b'>]><message/>",
            StatusCode::BAD_REQUEST,
        ),
        (
            "application/xmpp+xml",
            "<message to='bob@localhost'><!-- c --><body>x</body></message>",
            StatusCode::BAD_REQUEST,
        ),
        (
            "application/xmpp+xml",
            "<foo to='bob@localhost'/>",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "application/xmpp+xml",
            "<message xmlns='urn:other' to='bob@localhost'/>",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "application/xmpp+xml",
            "<iq type='result' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "application/xmpp+xml",
            "<iq type='get' to='localhost'/>",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "application/xmpp+xml",
            "<message to='bob@localhost' from='carol@localhost'><body>spoof</body></message>",
            StatusCode::FORBIDDEN,
        ),
        (
            "application/xmpp+xml",
            "<message to='bob@localhost' from='@@'><body>x</body></message>",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("text/csv", "a,b", StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ];
    for (content_type, body, status) in &cases {
        let response = http()
            .post(server.url("/rest"))
            .basic_auth("alice", Some(PASSWORD))
            .header("Content-Type", *content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), *status, "{content_type} {body}");
    }
    let deep = format!(
        "<message to='bob@localhost'>{}{}</message>",
        "<a>".repeat(64),
        "</a>".repeat(64)
    );
    let response = post_xml(&server, "alice", &deep).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let huge = json!({"to": "bob@localhost", "body": "z".repeat(300 * 1024)});
    let response = post_json(&server, "alice", &huge).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // None of the refused requests produced a stanza: the next one bob sees is this marker.
    let response = post_json(
        &server,
        "alice",
        &json!({"to": "bob@localhost", "body": "marker"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(body_of(&next_message(&mut bob).await), "marker");
    server.stop().await;
}

#[tokio::test]
async fn error_bodies_follow_the_negotiated_format() {
    let server = TestServer::start().await;
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .header("Content-Type", "application/json")
        .body(r#"{"to":"bad@@jid","body":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["code"], 422);
    assert_eq!(body["error"]["condition"], "improper-addressing");

    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .header("Content-Type", "application/xmpp+xml")
        .body("<message to='bad@@jid'/>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/xmpp+xml");
    let body: Element = response.text().await.unwrap().parse().unwrap();
    assert!(body.has_child("improper-addressing", "urn:ietf:params:xml:ns:xmpp-streams"));
    server.stop().await;
}
