//! The HTTP edge over real sockets: every bound of `[http]` driven past its limit (headers,
//! keep-alive, body, request time, connections in total and per address, concurrent requests),
//! body framing errors, the gate order, CORS, and mod_rest's edge cases found against Prosody.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// Connects to `server` from the loopback address `from` (127.0.0.1, 127.0.0.2, …).
async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// Reads one response (head, and a body of `Content-Length`), or what came before a close.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(STEP, async {
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&out).into_owned();
            if let Some(head_end) = text.find("\r\n\r\n") {
                let length = text[..head_end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if out.len() >= head_end + 4 + length {
                    return;
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "a response in time");
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the server closes `stream` within [`STEP`] without sending anything more.
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    matches!(
        tokio::time::timeout(STEP, stream.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

async fn health_from(from: &str, server: &TestServer) -> String {
    let mut stream = connect_from(from, server.http).await;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_response(&mut stream).await
}

/// `/health` answers from `from`, retried briefly: a closed connection frees its place once the
/// server has seen the close.
async fn eventually_served_from(from: &str, server: &TestServer) {
    for _ in 0..50 {
        if health_from(from, server).await.starts_with("HTTP/1.1 200") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{from} was never served again");
}

#[tokio::test]
async fn a_client_trickling_headers_is_cut_after_the_header_timeout() {
    let server = TestServer::start_with(|c| c.http.header_read_timeout_secs = 1).await;
    let mut slow = TcpStream::connect(server.http).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One header line every 200 ms would take 8 s; the server hangs up after about 1 s.
    let mut cut = false;
    for i in 0..40 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if slow
            .write_all(format!("X-{i}: y\r\n").as_bytes())
            .await
            .is_err()
        {
            cut = true;
            break;
        }
        let mut buf = [0u8; 64];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), slow.read(&mut buf)).await
        {
            cut = true;
            break;
        }
    }
    assert!(cut, "the trickling client was disconnected");
    assert!(
        health_from("127.0.0.1", &server)
            .await
            .starts_with("HTTP/1.1 200")
    );
    server.stop().await;
}

#[tokio::test]
async fn idle_keep_alive_connections_close_after_their_own_timeout() {
    let server = TestServer::start_with(|c| {
        c.http.header_read_timeout_secs = 1;
        c.http.keepalive_timeout_secs = 3;
    })
    .await;
    let mut conn = TcpStream::connect(server.http).await.unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    conn.write_all(request).await.unwrap();
    assert!(read_response(&mut conn).await.starts_with("HTTP/1.1 200"));
    // Idle longer than the header timeout: the keep-alive timeout is what applies.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    conn.write_all(request).await.unwrap();
    assert!(read_response(&mut conn).await.starts_with("HTTP/1.1 200"));
    // Then silence: closed by the server, which serves new connections as before.
    assert!(closed_by_server(&mut conn).await);
    assert!(
        health_from("127.0.0.1", &server)
            .await
            .starts_with("HTTP/1.1 200")
    );
    server.stop().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_408() {
    let server = TestServer::start_with(|c| c.http.body_timeout_secs = 1).await;
    let mut conn = TcpStream::connect(server.http).await.unwrap();
    let head = format!(
        "POST /rest HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: 100\r\n\r\n{{\"to\":",
        basic("alice", PASSWORD)
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let response = read_response(&mut conn).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("connection-timeout"), "{response}");
    assert!(
        health_from("127.0.0.1", &server)
            .await
            .starts_with("HTTP/1.1 200")
    );
    server.stop().await;
}

#[tokio::test]
async fn body_framing_errors_are_400_and_only_size_is_413() {
    let server = TestServer::start_with(|c| c.rest.max_body_bytes = 1024).await;
    let head = |extra: &str| {
        format!(
            "POST /rest HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\nContent-Type: application/json\r\nAccept: application/json\r\nConnection: close\r\n{extra}\r\n",
            basic("alice", PASSWORD)
        )
    };
    let send = |request: String| async move {
        let mut conn = TcpStream::connect(server.http).await.unwrap();
        conn.write_all(request.as_bytes()).await.unwrap();
        read_response(&mut conn).await
    };
    let malformed = send(head("Transfer-Encoding: chunked\r\n") + "zz\r\n{}\r\n0\r\n\r\n").await;
    assert!(malformed.starts_with("HTTP/1.1 400"), "{malformed}");
    let chunk = "x".repeat(600);
    let oversized = send(
        head("Transfer-Encoding: chunked\r\n")
            + &format!("258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"),
    )
    .await;
    assert!(oversized.starts_with("HTTP/1.1 413"), "{oversized}");
    let declared = send(head("Content-Length: 5000\r\n")).await;
    assert!(declared.starts_with("HTTP/1.1 413"), "{declared}");
    server.stop().await;
}

#[tokio::test]
async fn a_request_over_the_request_timeout_is_503_and_others_are_served() {
    let server = TestServer::start_with(|c| {
        c.http.request_timeout_secs = 1;
        // A wrong password is answered after this pause: longer than the request may take.
        c.auth.failure_delay_ms = 5000;
    })
    .await;
    let response = http()
        .post(server.url("/msg/bob"))
        .basic_auth("alice@localhost", Some("wrong"))
        .header("Content-Type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let response = http()
        .post(server.url("/msg/bob"))
        .basic_auth("alice@localhost", Some(PASSWORD))
        .header("Content-Type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    server.stop().await;
}

#[tokio::test]
async fn a_rest_iq_may_wait_for_its_reply_longer_than_the_request_timeout() {
    let server = TestServer::start_with(|c| c.http.request_timeout_secs = 1).await;
    let mut bob = raw_logged_in(server.c2s, "bob", "desk").await;
    let url = server.url("/rest");
    let request = tokio::spawn(async move {
        http()
            .post(url)
            .basic_auth("alice", Some(PASSWORD))
            .header("Content-Type", "application/json")
            .body(
                r#"{"kind":"iq","type":"get","id":"slow1","to":"bob@localhost/desk","ping":true}"#,
            )
            .send()
            .await
            .unwrap()
    });
    let iq = bob.read_until("</iq>").await;
    assert!(iq.contains("slow1"), "{iq}");
    let from = iq
        .split("from='")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("the iq has a from")
        .to_owned();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    bob.send(&format!("<iq type='result' id='slow1' to='{from}'/>"))
        .await;
    let response = request.await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn beyond_max_concurrent_requests_is_503_with_retry_after() {
    let server = TestServer::start_with(|c| {
        c.http.max_concurrent_requests = 1;
        c.auth.failure_delay_ms = 2000;
    })
    .await;
    let url = server.url("/rest/admin/uptime");
    // A wrong password holds the only request slot for the failure delay.
    let slow = tokio::spawn(async move {
        http()
            .post(url)
            .basic_auth("alice", Some("wrong"))
            .send()
            .await
            .unwrap()
            .status()
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let busy = http().get(server.url("/health")).send().await.unwrap();
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers()["retry-after"], "1");
    assert_eq!(slow.await.unwrap(), StatusCode::FORBIDDEN);
    let again = http().get(server.url("/health")).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_per_address_cap_are_refused_while_others_are_served() {
    let server = TestServer::start_with(|c| c.http.max_connections_per_ip = 2).await;
    let held = [
        connect_from("127.0.0.1", server.http).await,
        connect_from("127.0.0.1", server.http).await,
    ];
    let refused = health_from("127.0.0.1", &server).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: 1"),
        "{refused}"
    );
    assert!(refused.contains("from your address"), "{refused}");
    // Another address is served meanwhile.
    assert!(
        health_from("127.0.0.2", &server)
            .await
            .starts_with("HTTP/1.1 200")
    );
    drop(held);
    eventually_served_from("127.0.0.1", &server).await;
    server.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_total_cap_are_refused() {
    let server = TestServer::start_with(|c| c.http.max_connections = 2).await;
    let held = [
        connect_from("127.0.0.1", server.http).await,
        connect_from("127.0.0.2", server.http).await,
    ];
    let refused = health_from("127.0.0.3", &server).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    drop(held);
    eventually_served_from("127.0.0.3", &server).await;
    server.stop().await;
}

#[tokio::test]
async fn the_ip_rule_comes_before_credentials_on_every_route() {
    let server = TestServer::start_with(|c| {
        c.admins = vec!["alice@localhost".parse().unwrap()];
        c.rest.access.allowed_ips = vec!["10.9.8.7".into()];
        c.http.metrics_allowed_ips = vec!["10.9.8.7".into()];
    })
    .await;
    let ask = |path: &str, password: Option<&str>| {
        let mut request = http()
            .get(server.url(path))
            .header("Accept", "application/json");
        if let Some(password) = password {
            request = request.basic_auth("alice", Some(password));
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.text().await.unwrap())
        }
    };
    // A right and a wrong password (and none) get the same answer: the address is refused.
    let right = ask("/rest/ping/localhost", Some(PASSWORD)).await;
    assert_eq!(right.0, StatusCode::FORBIDDEN);
    assert!(right.1.contains("allowed_ips"), "{}", right.1);
    assert_eq!(ask("/rest/ping/localhost", Some("wrong")).await, right);
    assert_eq!(ask("/rest/ping/localhost", None).await, right);
    // The webhook administration and /metrics obey their IP rules too.
    let (status, body) = ask("/rest/admin/webhooks/users", Some(PASSWORD)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(
        body["error"]["text"]
            .as_str()
            .unwrap()
            .contains("allowed_ips")
    );
    assert_eq!(ask("/metrics", None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(ask("/health", None).await.0, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn metrics_are_served_to_loopback_by_default() {
    let server = TestServer::start().await;
    let response = http().get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn cors_preflights_and_headers_on_rest_and_msg() {
    let server = TestServer::start().await;
    let origin = "https://app.example";
    for (path, methods) in [
        ("/rest", "GET, POST, OPTIONS"),
        ("/msg/bob", "POST, OPTIONS"),
    ] {
        let response = http()
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let h = response.headers();
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(h["access-control-allow-methods"], methods);
        let allowed = h["access-control-allow-headers"].to_str().unwrap();
        for name in ["Authorization", "Content-Type", "Accept"] {
            assert!(allowed.contains(name), "{allowed}");
        }
    }
    // Actual answers, errors included, carry the origin header.
    let response = http()
        .post(server.url("/rest"))
        .header("Origin", origin)
        .basic_auth("alice", Some(PASSWORD))
        .header("Content-Type", "application/json")
        .body(r#"{"to":"bob@localhost","body":"hi"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let response = http()
        .post(server.url("/msg/bob"))
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    // mod_post_msg's own OPTIONS (no preflight headers) still answers Allow and Accept.
    let response = http()
        .request(reqwest::Method::OPTIONS, server.url("/msg"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST, OPTIONS");
    // The admin API is not for browsers of other origins.
    let response = http()
        .get(server.url("/rest/admin/webhooks/users"))
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    server.stop().await;
}

#[tokio::test]
async fn listed_cors_origins_are_echoed_with_vary() {
    let server =
        TestServer::start_with(|c| c.http.cors_origins = vec!["https://app.example".into()]).await;
    let preflight = |origin: &'static str| {
        http()
            .request(reqwest::Method::OPTIONS, server.url("/rest"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
    };
    let response = preflight("https://app.example").await.unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(response.headers()["vary"], "Origin");
    let response = preflight("https://evil.example").await.unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    assert_eq!(response.headers()["vary"], "Origin");
    server.stop().await;
}

#[tokio::test]
async fn an_xml_declaration_is_accepted_and_other_instructions_are_not() {
    let server = TestServer::start().await;
    let post = |body: &'static str| {
        http()
            .post(server.url("/rest"))
            .basic_auth("alice", Some(PASSWORD))
            .header("Content-Type", "application/xmpp+xml")
            .body(body)
            .send()
    };
    let response =
        post("<?xml version='1.0'?>\n<message to='bob@localhost'><body>hi</body></message>")
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = post("<?xml-stylesheet href='x'?><message to='bob@localhost'/>")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    server.stop().await;
}

#[tokio::test]
async fn json_or_xml_sent_without_its_content_type_is_415_with_a_hint() {
    let server = TestServer::start().await;
    // What `curl -d` sends when -H 'Content-Type: …' is forgotten.
    for (content_type, body, named) in [
        (
            Some("application/x-www-form-urlencoded"),
            r#"{"to":"bob@localhost","body":"a=b"}"#,
            "application/json",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            "<message to='bob@localhost'><body>x</body></message>",
            "application/xmpp+xml",
        ),
        (None, r#"{"body":"x"}"#, "application/json"),
    ] {
        let mut request = http()
            .post(server.url("/rest/message/chat/bob@localhost"))
            .basic_auth("alice", Some(PASSWORD))
            .header("Accept", "application/json")
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{body}"
        );
        let error: Value = response.json().await.unwrap();
        let text = error["error"]["text"].as_str().unwrap();
        assert!(
            text.contains("Content-Type") && text.contains(named),
            "{text}"
        );
    }
    // Real form fields still work.
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("to=bob%40localhost&body=hi")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    server.stop().await;
}
