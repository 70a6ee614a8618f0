//! Group chat over HTTP: a bot joins a room with a directed presence over `POST /rest` and posts
//! to it, its webhook receives the room's messages, and a configured service account posts
//! without joining.

mod common;
mod muc_support;

use axum::body::Bytes;
use axum::http::Method;
use common::{PASSWORD, StanzaPeer, TestServer, http};
use minidom::Element;
use muc_support::*;
use switchboard_server::config::{AccountJid, UserCallbackConfig};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// `POST /rest` as `user`: the status and the body (mod_rest answers 202 when the stanza was
/// taken, 200 with the error stanza when it was refused at once).
async fn rest(server: &TestServer, user: &str, xml: &str) -> (reqwest::StatusCode, String) {
    let response = http()
        .post(server.url("/rest"))
        .basic_auth(user, Some(PASSWORD))
        .header("Content-Type", "application/xmpp+xml")
        .body(xml.to_owned())
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// A webhook receiver on loopback: every POSTed body, parsed.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Element>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(move |method: Method, body: Bytes| {
        let tx = tx.clone();
        async move {
            if method == Method::POST {
                let text = String::from_utf8_lossy(&body);
                let wrapped: Element = format!("<s xmlns='jabber:client'>{text}</s>")
                    .parse()
                    .expect("an XML body");
                let _ = tx.send(wrapped.children().next().unwrap().clone());
            }
            // No body: a body would be the bot's reply (mod_rest), posted back to the room.
            axum::http::StatusCode::NO_CONTENT
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), rx)
}

#[tokio::test]
async fn a_bot_joins_posts_and_hears_the_room_over_http() {
    let (url, mut hooks) = receiver().await;
    let server = TestServer::start_with(|c| {
        c.webhook.user = vec![UserCallbackConfig {
            jid: "dave@localhost".into(),
            url,
            stanzas: Some(vec!["message".into()]),
            ..UserCallbackConfig::default()
        }];
        c.muc.service_accounts = vec!["carol@localhost".parse::<AccountJid>().unwrap()];
    })
    .await;
    let mut alice = StanzaPeer::available(&server, "alice", "a").await;
    join(&mut alice, ROOM, "alice", "").await;

    // The bot (dave, no session) joins by directed presence over REST.
    let (status, _) = rest(&server, "dave", &format!("<presence to='{ROOM}/bot'/>")).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED);
    let joined = alice.next_named("presence").await;
    assert_eq!(joined.attr("from"), Some("lobby@conference.localhost/bot"));

    // It posts over REST; occupants get it from its nickname.
    let (status, _) = rest(
        &server,
        "dave",
        &format!("<message to='{ROOM}' type='groupchat'><body>beep</body></message>"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED);
    let m = next_groupchat(&mut alice).await;
    assert_eq!(m.attr("from"), Some("lobby@conference.localhost/bot"));
    assert_eq!(body(&m), "beep");

    // The room's messages reach the bot's webhook, addressed to its occupant JID.
    groupchat(&mut alice, ROOM, "hello bot").await;
    let hooked = loop {
        let el = tokio::time::timeout(common::STEP, hooks.recv())
            .await
            .expect("webhook in time")
            .unwrap();
        if body(&el) == "hello bot" {
            break el;
        }
    };
    assert_eq!(
        hooked.attr("from"),
        Some("lobby@conference.localhost/alice")
    );
    assert_eq!(hooked.attr("to"), Some("dave@localhost"));
    assert_eq!(hooked.attr("type"), Some("groupchat"));

    // A service account posts without joining, under its localpart.
    let (status, _) = rest(
        &server,
        "carol",
        &format!("<message to='{ROOM}' type='groupchat'><body>announcement</body></message>"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED);
    loop {
        let m = next_groupchat(&mut alice).await;
        if body(&m) == "announcement" {
            assert_eq!(m.attr("from"), Some("lobby@conference.localhost/carol"));
            break;
        }
    }
    // Anyone else who is not in the room is refused, and the HTTP response says so.
    let (status, text) = rest(
        &server,
        "bob",
        &format!("<message to='{ROOM}' type='groupchat'><body>no</body></message>"),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(text.contains("not-acceptable"), "{text}");
    server.stop().await;
}
