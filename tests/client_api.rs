//! The client REST API (`/api`, MongooseIM's shapes) against a running server: messages and
//! history with cursors and Smack properties, contacts driving the real subscription state
//! machine, and the event stream with its replay from `Last-Event-ID`.

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn api(server: &TestServer, path: &str) -> String {
    server.url(&format!("/api{path}"))
}

async fn send(server: &TestServer, from: &str, to: &str, body: &str) -> String {
    let r = http()
        .post(api(server, "/messages"))
        .basic_auth(format!("{from}@localhost"), Some(PASSWORD))
        .json(&json!({"to": format!("{to}@localhost"), "body": body}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let id: Value = r.json().await.unwrap();
    id["id"].as_str().unwrap().to_owned()
}

async fn get_json(server: &TestServer, user: &str, path: &str) -> (StatusCode, Value) {
    let r = http()
        .get(api(server, path))
        .basic_auth(user, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(r.headers()["content-type"], "application/json");
    (status, r.json().await.unwrap())
}

fn bodies(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn messages_are_sent_as_the_caller_and_read_back_newest_first() {
    let server = TestServer::start().await;
    let mut bob = StanzaPeer::available(&server, "bob", "phone").await;
    let r = http()
        .post(api(&server, "/messages"))
        .basic_auth("alice@localhost", Some(PASSWORD))
        .json(
            &json!({"to": "bob@localhost", "body": "hello", "thread": "t1", "markable": true,
                      "properties": {"n": 7, "s": "x", "b": false}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let sent: Value = r.json().await.unwrap();
    let got = bob.next_named("message").await;
    assert_eq!(got.attr("from"), Some("alice@localhost"));
    assert_eq!(got.attr("id"), sent["id"].as_str());
    assert!(got.has_child("markable", "urn:xmpp:chat-markers:0"));
    for body in ["two", "three", "four"] {
        send(&server, "alice", "bob", body).await;
    }

    // Bob's archive: newest first, MongooseIM's fields, properties as strings or typed.
    let (status, list) = get_json(&server, "bob", "/messages").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bodies(&list), ["four", "three", "two", "hello"]);
    let first = &list[3];
    assert_eq!(first["from"], "alice@localhost");
    assert_eq!(first["to"], "bob@localhost");
    assert_eq!(first["thread"], "t1");
    assert_eq!(
        first["properties"],
        json!({"n": "7", "s": "x", "b": "false"})
    );
    assert!(first["timestamp"].as_i64().unwrap() > 1_700_000_000_000);
    let (_, typed) = get_json(&server, "bob", "/messages/alice@localhost?typed=true").await;
    assert_eq!(
        typed[3]["properties"],
        json!({"n": 7, "s": "x", "b": false})
    );

    // Cursors by stanza-id skip nothing; /api/v1 is the same API.
    let newest = list[0]["id"].as_str().unwrap();
    let oldest = list[3]["id"].as_str().unwrap();
    let (_, older) = get_json(
        &server,
        "bob",
        &format!("/messages?limit=2&before_id={newest}"),
    )
    .await;
    assert_eq!(bodies(&older), ["three", "two"]);
    let (_, newer) = get_json(
        &server,
        "bob",
        &format!("/messages?limit=2&after_id={oldest}"),
    )
    .await;
    assert_eq!(bodies(&newer), ["three", "two"]);
    let r = http()
        .get(server.url("/api/v1/messages/alice@localhost?limit=1"))
        .basic_auth("bob", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(bodies(&r.json::<Value>().await.unwrap()), ["four"]);
    let (_, none) = get_json(&server, "bob", "/messages/carol@localhost").await;
    assert_eq!(none, json!([]));

    // Bad input: a JSON string body, as MongooseIM.
    for path in [
        "/messages?limit=100000",
        "/messages?limit=x",
        "/messages?bogus=1",
    ] {
        let (status, body) = get_json(&server, "bob", path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(body.is_string(), "{path}: {body}");
    }
    let (status, _) = get_json(&server, "bob", "/messages?after_id=unknown").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let between = format!("/messages?after_id={oldest}&before_id={newest}");
    let (_, list) = get_json(&server, "bob", &between).await;
    assert_eq!(bodies(&list), ["three", "two"]);
    for body in [
        json!({"to": "bob@localhost"}),
        json!({"to": "bob@@localhost", "body": "x"}),
        json!({"to": "bob@localhost", "body": "x", "extra": 1}),
    ] {
        let r = http()
            .post(api(&server, "/messages"))
            .basic_auth("alice", Some(PASSWORD))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        assert!(r.json::<Value>().await.unwrap().is_string());
    }

    // Credentials: 401 with MongooseIM's challenge; preflights need none.
    let r = http().get(api(&server, "/messages")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Basic realm=\"switchboard\""
    );
    let r = http()
        .get(api(&server, "/messages"))
        .basic_auth("alice", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let token = server
        .running
        .as_ref()
        .unwrap()
        .accounts()
        .create_token("bob", switchboard_server::storage::TokenScope::User)
        .await
        .unwrap();
    let r = http()
        .get(api(&server, "/messages?limit=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn contacts_drive_the_subscription_state_machine() {
    let server = TestServer::start().await;
    let mut bob = StanzaPeer::available(&server, "bob", "phone").await;
    bob.send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    bob.next_named("iq").await;

    let call = |method: reqwest::Method, user: &'static str, path: &str, body: Option<Value>| {
        let mut request = http()
            .request(method, api(&server, path))
            .basic_auth(user, Some(PASSWORD));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    use reqwest::Method;
    let r = call(
        Method::POST,
        "alice",
        "/contacts",
        Some(json!({"jid": "bob@localhost"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(
        Method::POST,
        "alice",
        "/contacts",
        Some(json!({"jid": "ghost@localhost"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = call(
        Method::PUT,
        "alice",
        "/contacts/bob@localhost",
        Some(json!({"action": "invite"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let request = bob.next_named("presence").await;
    assert_eq!(request.attr("type"), Some("subscribe"));
    assert_eq!(request.attr("from"), Some("alice@localhost"));
    let (_, list) = get_json(&server, "alice", "/contacts").await;
    assert_eq!(
        list,
        json!([{"jid": "bob@localhost", "subscription": "none", "ask": "out"}])
    );
    let (_, list) = get_json(&server, "bob", "/contacts").await;
    assert_eq!(list, json!([]), "a pending request alone is no roster item");

    // Bob accepts over the API: his connected client sees the roster push.
    let r = call(
        Method::POST,
        "bob",
        "/contacts",
        Some(json!({"jid": "alice@localhost"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let push = bob.next_named("iq").await;
    assert_eq!(push.attr("type"), Some("set"));
    let r = call(
        Method::PUT,
        "bob",
        "/contacts/alice@localhost",
        Some(json!({"action": "accept"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, list) = get_json(&server, "alice", "/contacts").await;
    assert_eq!(list[0]["subscription"], "to");
    assert_eq!(list[0]["ask"], "none");
    let (_, list) = get_json(&server, "bob", "/contacts").await;
    assert_eq!(list[0]["subscription"], "from");

    let r = call(
        Method::PUT,
        "alice",
        "/contacts/carol@localhost",
        Some(json!({"action": "invite"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "not in the roster");
    let r = call(
        Method::PUT,
        "alice",
        "/contacts/bob@localhost",
        Some(json!({"action": "befriend"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let r = call(Method::DELETE, "alice", "/contacts/bob@localhost", None)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, list) = get_json(&server, "bob", "/contacts").await;
    assert_eq!(
        list[0]["subscription"], "none",
        "the removal unsubscribed bob"
    );
    let r = call(
        Method::DELETE,
        "bob",
        "/contacts",
        Some(json!({"to_delete": ["alice@localhost", "carol@localhost"]})),
    )
    .await
    .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"not_deleted": ["carol@localhost"]})
    );
    let r = call(Method::DELETE, "alice", "/contacts/bob@localhost", None)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

/// An event stream read over a raw connection, so that the test can drop it at will.
struct EventStream {
    stream: TcpStream,
    buf: String,
}

#[derive(Debug)]
struct SseEvent {
    event: String,
    id: Option<String>,
    data: Value,
}

impl EventStream {
    async fn open(server: &TestServer, user: &str, query: &str, last: Option<&str>) -> EventStream {
        let mut stream = TcpStream::connect(server.http).await.unwrap();
        let auth = base64_basic(user);
        let last = last
            .map(|id| format!("Last-Event-ID: {id}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET /api/sse{query} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {auth}\r\n\
             Accept: text/event-stream\r\n{last}\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut events = EventStream {
            stream,
            buf: String::new(),
        };
        let head = events.block().await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("text/event-stream"),
            "{head}"
        );
        events
    }

    /// The next blank-line-terminated block (headers, or one event), chunk framing removed.
    async fn block(&mut self) -> String {
        tokio::time::timeout(STEP, async {
            loop {
                let lf = self.buf.find("\n\n").map(|at| (at, 2));
                let crlf = self.buf.find("\r\n\r\n").map(|at| (at, 4));
                if let Some((end, sep)) = [lf, crlf].into_iter().flatten().min() {
                    return self.buf.drain(..end + sep).collect();
                }
                let mut chunk = [0u8; 4096];
                let n = self.stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "stream closed: {}", self.buf);
                self.buf.push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        })
        .await
        .expect("an event in time")
    }

    /// The next event, skipping heartbeats (comments) and chunk-size lines.
    async fn next(&mut self) -> SseEvent {
        loop {
            let block = self.block().await;
            let mut event = None;
            let mut id = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(serde_json::from_str(v.trim()).unwrap());
                }
            }
            if let (Some(event), Some(data)) = (event, data) {
                return SseEvent { event, id, data };
            }
        }
    }
}

fn base64_basic(user: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}@localhost:{PASSWORD}"))
}

async fn sse_sessions(server: &TestServer, user: &str) -> usize {
    let r = http()
        .get(server.url("/api/admin/sessions/localhost"))
        .basic_auth("carol", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let list: Vec<String> = r.json().await.unwrap();
    list.iter()
        .filter(|j| j.starts_with(&format!("{user}@localhost/sse-")))
        .count()
}

#[tokio::test]
async fn event_stream_goes_live_and_resumes_from_the_archive_without_gap_or_duplicate() {
    let server = TestServer::start_with(|c| {
        c.admins = vec!["carol@localhost".parse().unwrap()];
        c.api.sse_heartbeat_secs = 30;
    })
    .await;
    let mut stream = EventStream::open(&server, "alice", "?events=receipt", None).await;
    assert_eq!(sse_sessions(&server, "alice").await, 1, "a real session");
    send(&server, "bob", "alice", "one").await;
    let one = stream.next().await;
    assert_eq!(one.event, "message");
    assert_eq!(one.data["body"], "one");
    assert_eq!(one.data["from"], "bob@localhost");
    let one_id = one.id.clone().expect("an id to resume from");
    assert_eq!(one.data["id"], one_id.as_str());
    let mut bob = StanzaPeer::available(&server, "bob", "pc").await;
    bob.send(
        "<message to='alice@localhost'><received xmlns='urn:xmpp:receipts' id='m1'/></message>",
    )
    .await;
    let receipt = stream.next().await;
    assert_eq!(receipt.event, "receipt");
    assert_eq!(receipt.data["id"], "m1");

    // The client goes away: its session goes at once, no ghost.
    drop(stream);
    let mut gone = false;
    for _ in 0..50 {
        if sse_sessions(&server, "alice").await == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the SSE session outlived its client");

    // Missed while away, then resumed: the archive replays, then live, in order, once each.
    send(&server, "bob", "alice", "two").await;
    send(&server, "bob", "alice", "three").await;
    send(&server, "alice", "bob", "own message, not an event").await;
    let mut stream = EventStream::open(&server, "alice", "", Some(&one_id)).await;
    send(&server, "bob", "alice", "four").await;
    let mut seen = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let event = stream.next().await;
        assert_eq!(event.event, "message");
        ids.push(event.id.clone().unwrap_or_else(|| panic!("{event:?}")));
        seen.push(event.data["body"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ["two", "three", "four"]);
    ids.dedup();
    assert_eq!(ids.len(), 3);

    // An unknown Last-Event-ID is refused before any stream starts.
    let r = http()
        .get(api(&server, "/sse"))
        .basic_auth("alice", Some(PASSWORD))
        .header("Last-Event-ID", "nonexistent")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = http()
        .get(api(&server, "/sse?events=bogus"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Shutting down ends the open stream rather than waiting for its client.
    tokio::time::timeout(STEP, server.stop()).await.unwrap();
    drop(stream);
}

#[tokio::test]
async fn a_slow_event_stream_reader_gets_its_senders_refused_not_memory() {
    let server = TestServer::start_with(|c| {
        c.api.sse_mailbox_size = 2;
        c.limits.mailbox_wait_ms = 50;
    })
    .await;
    // Alice opens a stream and never reads it: the socket buffers fill, then the mailbox.
    let stream = EventStream::open(&server, "alice", "", None).await;
    let body = "x".repeat(60_000);
    let mut refused = None;
    for sent in 0..2000 {
        let r = http()
            .post(api(&server, "/messages"))
            .basic_auth("bob", Some(PASSWORD))
            .json(&json!({"to": "alice@localhost", "body": body}))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert!(r.headers().contains_key("retry-after"));
            refused = Some(sent);
            break;
        }
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert!(refused.is_some(), "the stream kept taking messages");
    drop(stream);
    server.stop().await;
}

#[tokio::test]
async fn an_idle_event_stream_ends_after_its_limit() {
    let server = TestServer::start_with(|c| c.api.sse_idle_timeout_secs = 1).await;
    let mut stream = EventStream::open(&server, "alice", "", None).await;
    // The server ends the response: the final chunk arrives and the connection stays usable
    // or closes; either way no further event comes.
    let mut rest = String::new();
    let ended = tokio::time::timeout(STEP, async {
        loop {
            let mut chunk = [0u8; 1024];
            match stream.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    rest.push_str(&String::from_utf8_lossy(&chunk[..n]));
                    if rest.contains("0\r\n\r\n") {
                        return;
                    }
                }
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the idle stream was not ended: {rest}");
    server.stop().await;
}
