//! `POST /msg/{jid}` (mod_post_msg) driven with real HTTP (reqwest), with raw and tokio-xmpp
//! clients on the receiving end.

mod common;

use common::*;
use minidom::Element;
use reqwest::StatusCode;

const FORM: &str = "application/x-www-form-urlencoded";
const XHTML_IM: &str = "http://jabber.org/protocol/xhtml-im";
const XHTML: &str = "http://www.w3.org/1999/xhtml";

/// `POST {path}` as `user` with the right password.
async fn post(
    server: &TestServer,
    path: &str,
    user: &str,
    content_type: &str,
    body: &str,
) -> reqwest::Response {
    http()
        .post(server.url(path))
        .basic_auth(user, Some(PASSWORD))
        .header("Content-Type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn assert_created(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.text().await.unwrap(), "");
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

/// A raw client bound as `user/resource` and available, so it sees the exact XML.
async fn raw_online(server: &TestServer, user: &str, resource: &str) -> RawTcp {
    let mut raw = raw_logged_in(server.c2s, user, resource).await;
    raw.send("<presence/>").await;
    raw.read_until("<presence").await;
    raw
}

/// The next `<message>` a raw client receives, parsed.
async fn raw_message(raw: &mut RawTcp) -> Element {
    let got = raw.read_until("</message>").await;
    let start = got.find("<message").expect("a message arrived");
    got[start..].parse().expect("the message parses")
}

/// The message minus its generated `id`, which is checked to be present.
fn without_id(mut message: Element) -> Element {
    assert!(
        message.attr("id").is_some_and(|id| !id.is_empty()),
        "message has an id"
    );
    switchboard_xmpp::stanza::remove_attr(&mut message, "id");
    message
}

#[tokio::test]
async fn text_plain_arrives_exactly_as_the_readme_example() {
    let server = TestServer::start().await;
    let mut bob = raw_online(&server, "bob", "desk").await;
    // curl http://127.0.0.1:5280/msg/user -u me@localhost:mypassword \
    //      -H "Content-Type: text/plain" -d "Server@host has just crashed!"
    let response = post(
        &server,
        "/msg/bob",
        "alice@localhost",
        "text/plain",
        "Server@host has just crashed!",
    )
    .await;
    assert_created(response).await;
    let expected: Element = "<message xmlns='jabber:client' to='bob@localhost' from='alice@localhost' type='chat'><body>Server@host has just crashed!</body></message>"
        .parse()
        .unwrap();
    assert_eq!(
        without_id(archived(raw_message(&mut bob).await, "bob@localhost")),
        expected
    );

    // Markup-like text and line breaks are text, escaped on the wire; a charset is fine.
    let text = "line 1 <b>&amp;</b>\nline 2 — ünïcödé 🚀";
    let response = post(
        &server,
        "/msg/bob@localhost",
        "alice",
        "text/plain; charset=utf-8",
        text,
    )
    .await;
    assert_created(response).await;
    let message = raw_message(&mut bob).await;
    assert_eq!(message.attr("from"), Some("alice@localhost"));
    assert_eq!(
        message.get_child("body", "jabber:client").unwrap().text(),
        text
    );
    server.stop().await;
}

#[tokio::test]
async fn form_and_json_bodies_arrive_with_their_fields() {
    let server = TestServer::start().await;
    let mut bob = raw_online(&server, "bob", "desk").await;

    // Form: `+` and percent-escapes decode; `type` is honoured; the `to` field is enough.
    let response = post(
        &server,
        "/msg/",
        "carol@localhost",
        FORM,
        "to=bob%40localhost&type=headline&body=disk+full%3A+98%25+%26+rising",
    )
    .await;
    assert_created(response).await;
    let expected: Element = "<message xmlns='jabber:client' to='bob@localhost' from='carol@localhost' type='headline'><body>disk full: 98% &amp; rising</body></message>"
        .parse()
        .unwrap();
    assert_eq!(without_id(raw_message(&mut bob).await), expected);

    // JSON, with the recipient only in the body and no trailing slash.
    let response = post(
        &server,
        "/msg",
        "dave",
        "application/json",
        r#"{"to":"bob@localhost","type":"normal","body":"from JSON \"quoted\""}"#,
    )
    .await;
    assert_created(response).await;
    let expected: Element = "<message xmlns='jabber:client' to='bob@localhost' from='dave@localhost' type='normal'><body>from JSON \"quoted\"</body></message>"
        .parse()
        .unwrap();
    assert_eq!(
        without_id(archived(raw_message(&mut bob).await, "bob@localhost")),
        expected
    );

    // JSON without `type` is chat; a charset parameter is accepted.
    let response = post(
        &server,
        "/msg/bob",
        "alice",
        "application/json; charset=UTF-8",
        r#"{"body":"plain chat"}"#,
    )
    .await;
    assert_created(response).await;
    let expected: Element = "<message xmlns='jabber:client' to='bob@localhost' from='alice@localhost' type='chat'><body>plain chat</body></message>"
        .parse()
        .unwrap();
    assert_eq!(
        without_id(archived(raw_message(&mut bob).await, "bob@localhost")),
        expected
    );
    server.stop().await;
}

#[tokio::test]
async fn recipients_in_every_spelling() {
    let server = TestServer::start().await;
    let mut bob = online(&server, "bob@localhost/phone").await;
    let cases: Vec<(&str, &str, &str)> = vec![
        // A bare localpart is that user on our domain (the README's promise).
        ("/msg/bob", "text/plain", "localpart"),
        ("/msg/bob@localhost", "text/plain", "full"),
        ("/msg/bob%40localhost", "text/plain", "percent-encoded"),
        ("/msg/bob@localhost/phone", "text/plain", "to a resource"),
        ("/msg/bob/phone", "text/plain", "localpart with resource"),
        ("/msg/", FORM, "to=bob&body=form+localpart"),
        ("/msg", FORM, "to=bob%40localhost&body=form+full"),
        // The body's `to` wins over the path.
        ("/msg/carol", FORM, "to=bob&body=form+overrides"),
        ("/msg/", "application/json", r#"{"to":"bob","body":"json"}"#),
        (
            "/msg/carol",
            "application/json",
            r#"{"to":"bob@localhost","body":"json overrides"}"#,
        ),
        // An empty `to` field falls back to the path.
        ("/msg/bob", FORM, "to=&body=empty+to"),
    ];
    for (path, content_type, body) in &cases {
        let response = post(&server, path, "alice", content_type, body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{path} {body}");
        let message = next_message(&mut bob).await;
        let expected = match *content_type {
            "text/plain" => body.to_string(),
            FORM => body.split("body=").nth(1).unwrap().replace('+', " "),
            _ => serde_json::from_str::<serde_json::Value>(body).unwrap()["body"]
                .as_str()
                .unwrap()
                .to_owned(),
        };
        assert_eq!(body_of(&message), expected, "{path}");
        assert_eq!(
            message.from.unwrap().to_string(),
            "alice@localhost",
            "{path}"
        );
        assert_eq!(
            message.type_,
            tokio_xmpp::parsers::message::MessageType::Chat
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn message_to_an_offline_user_is_stored() {
    let server = TestServer::start().await;
    let response = post(
        &server,
        "/msg/dave",
        "alice",
        "text/plain",
        "while you were out",
    )
    .await;
    assert_created(response).await;
    let mut dave = server.client("dave@localhost/d").await;
    send_xml(&mut dave, "<presence xmlns='jabber:client'/>").await;
    let message = next_message(&mut dave).await;
    assert_eq!(body_of(&message), "while you were out");
    assert_eq!(message.from.unwrap().to_string(), "alice@localhost");
    server.stop().await;
}

#[tokio::test]
async fn html_is_delivered_as_xhtml_im() {
    let server = TestServer::start().await;
    let mut bob = raw_online(&server, "bob", "desk").await;
    let html = "<p>Build <b>failed</b> &amp; <a href='https://ci.example/1'>log</a></p>";
    let form = format!("to=bob&body=Build+failed&html={}", percent_encode(html));
    let response = post(&server, "/msg/", "alice", FORM, &form).await;
    assert_created(response).await;
    let expected: Element = format!(
        "<message xmlns='jabber:client' to='bob@localhost' from='alice@localhost' type='chat'>\
         <body>Build failed</body>\
         <html xmlns='{XHTML_IM}'><body xmlns='{XHTML}'>{html}</body></html></message>"
    )
    .parse()
    .unwrap();
    let message = without_id(archived(raw_message(&mut bob).await, "bob@localhost"));
    assert_eq!(message, expected);
    let p = message
        .get_child("html", XHTML_IM)
        .and_then(|h| h.get_child("body", XHTML))
        .and_then(|b| b.get_child("p", XHTML))
        .expect("XHTML paragraph");
    assert_eq!(
        p.get_child("a", XHTML).unwrap().attr("href"),
        Some("https://ci.example/1")
    );

    // JSON may carry html too.
    let json = serde_json::json!({"to": "bob", "body": "hi", "html": "<em>hi</em>"});
    let response = post(
        &server,
        "/msg",
        "alice",
        "application/json",
        &json.to_string(),
    )
    .await;
    assert_created(response).await;
    let message = raw_message(&mut bob).await;
    let em = message
        .get_child("html", XHTML_IM)
        .and_then(|h| h.get_child("body", XHTML))
        .and_then(|b| b.get_child("em", XHTML))
        .expect("XHTML emphasis");
    assert_eq!(em.text(), "hi");

    // A complete XHTML body, as older mod_post_msg took it, is not nested in a second body.
    let whole = format!("<body xmlns='{XHTML}'><p>whole</p></body>");
    let form = format!("to=bob&body=whole&html={}", percent_encode(&whole));
    let response = post(&server, "/msg/", "alice", FORM, &form).await;
    assert_created(response).await;
    let message = raw_message(&mut bob).await;
    let html = message.get_child("html", XHTML_IM).expect("XHTML-IM");
    assert_eq!(html.children().count(), 1);
    let body = html.get_child("body", XHTML).unwrap();
    assert_eq!(body.get_child("p", XHTML).unwrap().text(), "whole");
    server.stop().await;
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn options_advertises_methods_and_formats() {
    let server = TestServer::start().await;
    for path in ["/msg", "/msg/", "/msg/bob"] {
        let response = http()
            .request(reqwest::Method::OPTIONS, server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["allow"], "POST, OPTIONS");
        assert_eq!(
            response.headers()["accept"],
            "application/x-www-form-urlencoded, text/plain, application/json"
        );
    }
    // Other methods are not served.
    let response = http().get(server.url("/msg/bob")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    server.stop().await;
}

#[tokio::test]
async fn credentials_are_required_and_checked() {
    let server = TestServer::start().await;
    let mut bob = online(&server, "bob@localhost/watch").await;
    let attempt = |auth: Option<String>| {
        let request = http()
            .post(server.url("/msg/bob"))
            .header("Content-Type", "text/plain")
            .body("should not arrive");
        let request = match auth {
            Some(value) => request.header("Authorization", value),
            None => request,
        };
        async move { request.send().await.unwrap() }
    };
    let basic = |user: &str, password: &str| {
        use base64::Engine;
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Some(format!("Basic {encoded}"))
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no credentials", None),
        ("wrong password", basic("alice@localhost", "wrong")),
        ("unknown account", basic("nobody@localhost", PASSWORD)),
        ("foreign domain", basic("alice@elsewhere", PASSWORD)),
        ("invalid localpart", basic("al ice", PASSWORD)),
        ("no colon", Some("Basic YWxpY2U=".into())),
        ("not base64", Some("Basic !!!notbase64".into())),
        ("bearer scheme", Some("Bearer abc".into())),
        ("empty", Some("Basic".into())),
    ];
    for (what, auth) in cases {
        let response = attempt(auth).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"localhost/post_msg\"",
            "{what}"
        );
    }
    // The scheme is case-insensitive, and a bare localpart is accepted as the user name.
    let auth = basic("alice", PASSWORD).unwrap().replace("Basic", "bAsIc");
    let response = attempt(Some(auth)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let message = next_message(&mut bob).await;
    assert_eq!(body_of(&message), "should not arrive");
    assert_eq!(message.from.unwrap().to_string(), "alice@localhost");

    // Nothing from the refused requests reached bob.
    let response = post(&server, "/msg/bob", "alice", "text/plain", "marker").await;
    assert_created(response).await;
    assert_eq!(body_of(&next_message(&mut bob).await), "marker");
    server.stop().await;
}

#[tokio::test]
async fn refused_payloads_get_their_status_and_send_nothing() {
    let server = TestServer::start_with(|config| config.rest.max_body_bytes = 4096).await;
    let mut bob = online(&server, "bob@localhost/watch").await;
    let json = "application/json";
    let cases: Vec<(&str, &str, &[u8], StatusCode)> = vec![
        // 400: the body does not parse or a field is invalid.
        ("/msg/bob", json, b"{not json", StatusCode::BAD_REQUEST),
        ("/msg/bob", json, b"[\"x\"]", StatusCode::BAD_REQUEST),
        ("/msg/bob", json, br#"{"body":42}"#, StatusCode::BAD_REQUEST),
        (
            "/msg/bob",
            json,
            br#"{"body":"x","type":"shout"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "/msg/bob",
            json,
            br#"{"body":"x","type":"error"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "/msg/bob",
            FORM,
            b"body=x&type=Chat",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/msg/bob",
            FORM,
            b"body=x&html=%3Cp%3Eunclosed",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/msg/bob",
            FORM,
            b"body=x&html=caf%26eacute%3B",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/msg/bob",
            FORM,
            b"body=x&html=%3C%2Fbody%3E%3Cbody%3Esmuggled",
            StatusCode::BAD_REQUEST,
        ),
        ("/msg/bob", FORM, b"body=%FF", StatusCode::BAD_REQUEST),
        (
            "/msg/bob",
            "text/plain",
            b"\xff\xfe",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/msg/bob",
            "text/plain",
            b"bell \x07 char",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/msg/bob",
            json,
            br#"{"body":"nul \u0000"}"#,
            StatusCode::BAD_REQUEST,
        ),
        // 415: other media types, a missing one, or a charset that is not UTF-8.
        (
            "/msg/bob",
            "text/html",
            b"<p>x</p>",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "/msg/bob",
            "application/xmpp+xml",
            b"<message/>",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "/msg/bob",
            "text/plain; charset=iso-8859-1",
            b"x",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        // 422: no recipient, or one that is not a JID.
        (
            "/msg/",
            "text/plain",
            b"to nobody",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/msg",
            "text/plain",
            b"to nobody",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/msg/", FORM, b"body=x", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "/msg",
            json,
            br#"{"body":"x"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/msg/bob@@localhost",
            "text/plain",
            b"x",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/msg/@localhost",
            "text/plain",
            b"x",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/msg/bob@localhost/",
            "text/plain",
            b"x",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/msg/",
            FORM,
            b"to=b%20ob&body=x",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/msg/%FF",
            "text/plain",
            b"x",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/msg/",
            json,
            br#"{"to":"bob@@localhost","body":"x"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (path, content_type, body, status) in &cases {
        let response = http()
            .post(server.url(path))
            .basic_auth("alice", Some(PASSWORD))
            .header("Content-Type", *content_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            *status,
            "{path} {content_type} {}",
            String::from_utf8_lossy(body)
        );
    }

    // No Content-Type at all.
    let response = http()
        .post(server.url("/msg/bob"))
        .basic_auth("alice", Some(PASSWORD))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // 413 above rest.max_body_bytes, in every format.
    let big = "z".repeat(5000);
    for (content_type, body) in [
        ("text/plain", big.clone()),
        (FORM, format!("body={big}")),
        (json, format!("{{\"body\":\"{big}\"}}")),
    ] {
        let response = post(&server, "/msg/bob", "alice", content_type, &body).await;
        assert_eq!(
            response.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "{content_type}"
        );
    }
    // Just under the limit is fine.
    let fits = "y".repeat(4000);
    let response = post(&server, "/msg/bob", "alice", "text/plain", &fits).await;
    assert_created(response).await;
    assert_eq!(body_of(&next_message(&mut bob).await), fits);

    // None of the refused requests produced a stanza: the next one bob sees is this marker.
    let response = post(&server, "/msg/bob", "alice", "text/plain", "marker").await;
    assert_created(response).await;
    assert_eq!(body_of(&next_message(&mut bob).await), "marker");
    server.stop().await;
}
