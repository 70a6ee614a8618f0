//! The client API's rooms (`/api/rooms`) and the admin API's MUC resources on the XEP-0045
//! service, with an XMPP occupant on the other side and event streams of members.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn call(
    server: &TestServer,
    user: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = http()
        .request(method, server.url(path))
        .basic_auth(format!("{user}@localhost"), Some(PASSWORD));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// The `data:` of the next `event: room.message` on a raw event stream.
async fn next_room_event(stream: &mut TcpStream, buf: &mut String) -> Value {
    loop {
        let (event, _, data) = next_message_event(stream, buf).await;
        if event == "room.message" {
            return data;
        }
    }
}

async fn open_stream(server: &TestServer, user: &str) -> (TcpStream, String) {
    resume_stream(server, user, None).await
}

/// An event stream, resumed after `last` when given (`Last-Event-ID`).
async fn resume_stream(server: &TestServer, user: &str, last: Option<&str>) -> (TcpStream, String) {
    use base64::Engine;
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}@localhost:{PASSWORD}"));
    let mut stream = TcpStream::connect(server.http).await.unwrap();
    let resume = last
        .map(|id| format!("Last-Event-ID: {id}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET /api/sse HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {auth}\r\n{resume}\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = String::new();
    while !buf.contains("\r\n\r\n") {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        buf.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    assert!(buf.starts_with("HTTP/1.1 200"), "{buf}");
    let rest = buf.split_once("\r\n\r\n").unwrap().1.to_owned();
    (stream, rest)
}

#[tokio::test]
async fn rooms_with_xmpp_occupants_and_member_streams() {
    let server = TestServer::start().await;
    let r = call(
        &server,
        "alice",
        Method::POST,
        "/api/rooms",
        Some(json!({"name": "Team", "subject": "Plans"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("group-"), "{id}");
    let room = format!("{id}@conference.localhost");

    // Bob's stream is open before he is a member: adding him joins it.
    let (mut bob_stream, mut bob_buf) = open_stream(&server, "bob").await;
    for user in ["bob@localhost", "carol@localhost"] {
        let r = call(
            &server,
            "alice",
            Method::POST,
            &format!("/api/rooms/{id}/users"),
            Some(json!({"user": user})),
        )
        .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    // Dave is no member: refused by the members-only room.
    let r = call(
        &server,
        "dave",
        Method::GET,
        &format!("/api/rooms/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.json::<Value>().await.unwrap().is_string());

    // Carol joins over XMPP and talks; alice posts over the API.
    let mut carol = StanzaPeer::available(&server, "carol", "xmpp").await;
    carol
        .send(&format!(
            "<presence to='{room}/carol'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
        ))
        .await;
    loop {
        let stanza = carol.next().await;
        if stanza.name() == "message" && stanza.get_child("subject", "jabber:client").is_some() {
            break;
        }
    }
    let r = call(
        &server,
        "alice",
        Method::POST,
        &format!("/api/rooms/{room}/messages"),
        Some(json!({"body": "hello room", "markable": true})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let posted = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = carol.next_named("message").await;
    assert_eq!(got.attr("type"), Some("groupchat"));
    assert_eq!(got.attr("from"), Some(format!("{room}/alice").as_str()));
    let event = next_room_event(&mut bob_stream, &mut bob_buf).await;
    assert_eq!(event["body"], "hello room");
    assert_eq!(event["room"], room.as_str());
    assert_eq!(event["id"], posted.as_str());
    assert_eq!(event["markable"], true);

    // A stream opened later joins the member rooms by itself.
    let (mut alice_stream, mut alice_buf) = open_stream(&server, "alice").await;
    carol
        .send(&format!(
            "<message to='{room}' type='groupchat'><body>from xmpp</body></message>"
        ))
        .await;
    let event = next_room_event(&mut alice_stream, &mut alice_buf).await;
    assert_eq!(event["body"], "from xmpp");
    assert_eq!(event["from"], format!("{room}/carol").as_str());
    let event = next_room_event(&mut bob_stream, &mut bob_buf).await;
    assert_eq!(event["body"], "from xmpp");

    // History newest first, senders as bare JIDs.
    let r = call(
        &server,
        "bob",
        Method::GET,
        &format!("/api/rooms/{id}/messages?limit=10"),
        None,
    )
    .await;
    let list: Value = r.json().await.unwrap();
    assert_eq!(list[0]["body"], "from xmpp");
    assert_eq!(list[0]["from"], "carol@localhost");
    assert_eq!(list[1]["body"], "hello room");
    assert_eq!(list[1]["type"], "message");
    let r = call(
        &server,
        "bob",
        Method::GET,
        &format!(
            "/api/rooms/{id}/messages?limit=1&before_id={}",
            list[0]["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()[0]["body"], "hello room");

    // Listing, details, configuration, membership.
    let r = call(&server, "bob", Method::GET, "/api/rooms", None).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!([{"id": id, "name": "Team", "subject": "Plans"}])
    );
    let r = call(
        &server,
        "bob",
        Method::PUT,
        &format!("/api/rooms/{id}/config"),
        Some(json!({"name": "X", "subject": "Y"})),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "members do not configure"
    );
    let r = call(
        &server,
        "alice",
        Method::PUT,
        &format!("/api/rooms/{id}/config"),
        Some(json!({"name": "Team 2", "subject": "New plans"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(
        &server,
        "bob",
        Method::GET,
        &format!("/api/rooms/{id}"),
        None,
    )
    .await;
    let details: Value = r.json().await.unwrap();
    assert_eq!(details["name"], "Team 2");
    assert_eq!(details["subject"], "New plans");
    let mut participants = details["participants"].as_array().unwrap().clone();
    participants.sort_by_key(|p| p["user"].as_str().unwrap().to_owned());
    assert_eq!(
        participants,
        [
            json!({"user": "alice@localhost", "role": "owner"}),
            json!({"user": "bob@localhost", "role": "member"}),
            json!({"user": "carol@localhost", "role": "member"}),
        ]
    );
    let r = call(
        &server,
        "bob",
        Method::DELETE,
        &format!("/api/rooms/{id}/users/bob@localhost"),
        None,
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::NO_CONTENT,
        "a member leaves by itself"
    );
    let r = call(&server, "bob", Method::GET, "/api/rooms", None).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!([]));
    let r = call(
        &server,
        "bob",
        Method::GET,
        "/api/rooms/group-nothing",
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = call(
        &server,
        "alice",
        Method::POST,
        &format!("/api/rooms/{id}/messages"),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    drop(bob_stream);
    drop(alice_stream);
    server.stop().await;
}

#[tokio::test]
async fn admin_muc_create_send_kick_destroy() {
    let server =
        TestServer::start_with(|c| c.admins = vec!["dave@localhost".parse().unwrap()]).await;
    let r = call(
        &server,
        "dave",
        Method::POST,
        "/api/admin/mucs/conference.localhost",
        Some(json!({"name": "lobby", "owner": "alice@localhost", "nick": "alice"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = call(
        &server,
        "dave",
        Method::POST,
        "/api/admin/mucs/conference.localhost",
        Some(json!({"name": "lobby", "owner": "alice@localhost"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = call(
        &server,
        "dave",
        Method::POST,
        "/api/admin/mucs/elsewhere",
        Some(json!({"name": "x", "owner": "alice@localhost"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let mut bob = StanzaPeer::available(&server, "bob", "b").await;
    bob.send("<presence to='lobby@conference.localhost/bobby'/>")
        .await;
    loop {
        let stanza = bob.next().await;
        if stanza.name() == "message" {
            break;
        }
    }
    let r = call(
        &server,
        "dave",
        Method::POST,
        "/api/admin/mucs/conference.localhost/lobby/messages",
        Some(json!({"from": "alice@localhost", "body": "welcome"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let got = bob.next_named("message").await;
    assert_eq!(
        got.get_child("body", "jabber:client").unwrap().text(),
        "welcome"
    );
    let r = call(
        &server,
        "dave",
        Method::POST,
        "/api/admin/mucs/conference.localhost/lobby/participants",
        Some(json!({"sender": "alice@localhost", "recipient": "carol@localhost", "reason": "join us"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(
        &server,
        "dave",
        Method::DELETE,
        "/api/admin/mucs/conference.localhost/lobby/bobby",
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let kicked = bob.next_named("presence").await;
    assert_eq!(kicked.attr("type"), Some("unavailable"));
    let r = call(
        &server,
        "dave",
        Method::DELETE,
        "/api/admin/mucs/conference.localhost/lobby",
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(
        &server,
        "dave",
        Method::DELETE,
        "/api/admin/mucs/conference.localhost/lobby",
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

/// The next message event (`message` or `room.message`) on a raw event stream: its name, its
/// `id:` and its data.
async fn next_message_event(stream: &mut TcpStream, buf: &mut String) -> (String, String, Value) {
    tokio::time::timeout(STEP, async {
        loop {
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(|v| v.trim().to_owned())
                };
                let Some(event) = field("event:") else {
                    continue;
                };
                if event == "message" || event == "room.message" {
                    let data = serde_json::from_str(&field("data:").unwrap()).unwrap();
                    return (event, field("id:").unwrap_or_default(), data);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "stream closed");
            buf.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    })
    .await
    .expect("a message event in time")
}

#[tokio::test]
async fn room_events_carry_archive_ids_and_resume_with_direct_messages() {
    let server = TestServer::start().await;
    let r = call(
        &server,
        "alice",
        Method::POST,
        "/api/rooms",
        Some(json!({"name": "Resume", "subject": ""})),
    )
    .await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = call(
        &server,
        "alice",
        Method::POST,
        &format!("/api/rooms/{id}/users"),
        Some(json!({"user": "bob@localhost"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let post_room = |body: &'static str| {
        let path = format!("/api/rooms/{id}/messages");
        let server = &server;
        async move {
            let r = call(
                server,
                "alice",
                Method::POST,
                &path,
                Some(json!({"body": body})),
            )
            .await;
            assert_eq!(r.status(), StatusCode::OK);
        }
    };

    // Live: a room event's id is the room archive's stanza-id.
    let (mut first, mut buf) = open_stream(&server, "bob").await;
    post_room("one").await;
    let (event, one, data) = next_message_event(&mut first, &mut buf).await;
    assert_eq!(
        (event.as_str(), data["body"].as_str()),
        ("room.message", Some("one"))
    );
    assert_eq!(data["id"], one.as_str());
    drop(first);

    // Missed while away: room and direct messages, interleaved.
    post_room("two").await;
    let r = call(
        &server,
        "alice",
        Method::POST,
        "/api/messages",
        Some(json!({"to": "bob@localhost", "body": "direct"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    post_room("three").await;

    // Resumed from the room event's id: everything after it, once, in order, then live.
    let (mut second, mut buf) = resume_stream(&server, "bob", Some(&one)).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (event, id, data) = next_message_event(&mut second, &mut buf).await;
        assert!(!id.is_empty(), "{event} without an id");
        seen.push((event, data["body"].as_str().unwrap().to_owned()));
    }
    assert_eq!(
        seen,
        [
            ("room.message".to_owned(), "two".to_owned()),
            ("message".to_owned(), "direct".to_owned()),
            ("room.message".to_owned(), "three".to_owned()),
        ]
    );
    post_room("four").await;
    let (event, _, data) = next_message_event(&mut second, &mut buf).await;
    assert_eq!(
        (event.as_str(), data["body"].as_str()),
        ("room.message", Some("four"))
    );

    // An id that is no archive id is refused.
    use base64::Engine;
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("bob@localhost:{PASSWORD}"));
    let r = http()
        .get(server.url("/api/sse"))
        .header("Authorization", format!("Basic {auth}"))
        .header("Last-Event-ID", "not-an-archive-id")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}
