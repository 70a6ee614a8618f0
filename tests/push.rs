//! Push notifications (XEP-0357) end to end: a client enables an app server (a REST component
//! whose callback is an HTTP receiver here); a message for the account while none of its streams
//! is connected (closed, or waiting for XEP-0198 resumption) is published to it, and never
//! while a stream is connected.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use common::{PASSWORD, RawTcp, STEP, StanzaPeer, TestServer, http, raw_logged_in};
use minidom::Element;
use switchboard_server::config::{ComponentConfig, Config};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const PUBSUB: &str = "http://jabber.org/protocol/pubsub";
const PUSH: &str = "urn:xmpp:push:0";
const APP_SERVER: &str = "push.localhost";

/// The app server: the iqs its callback receives, answered with a result.
struct AppServer {
    addr: SocketAddr,
    received: mpsc::UnboundedReceiver<Element>,
}

impl AppServer {
    async fn start() -> AppServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, received) = mpsc::unbounded_channel();
        let app = axum::Router::new().fallback(move |method: Method, body: Bytes| {
            let tx = tx.clone();
            async move {
                if method != Method::POST {
                    return StatusCode::OK.into_response();
                }
                // The callback writes the stanza in the stream's default namespace.
                let wrapped = format!(
                    "<s xmlns='jabber:client'>{}</s>",
                    std::str::from_utf8(&body).unwrap()
                );
                let wrapper: Element = wrapped.parse().unwrap();
                let iq = wrapper.children().next().unwrap().clone();
                let reply = format!(
                    "<iq xmlns='jabber:client' type='result' id='{}' from='{}' to='{}'/>",
                    iq.attr("id").unwrap_or_default(),
                    iq.attr("to").unwrap_or_default(),
                    iq.attr("from").unwrap_or_default(),
                );
                let _ = tx.send(iq);
                ([("content-type", "application/xmpp+xml")], reply).into_response()
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        AppServer { addr, received }
    }

    fn configure(&self, config: &mut Config) {
        config.component.push(ComponentConfig {
            domain: APP_SERVER.into(),
            rest_credentials: Some("Bearer app-server-token".into()),
            rest_callback_url: Some(format!("http://{}/", self.addr)),
            ..ComponentConfig::default()
        });
    }

    async fn next(&mut self) -> Element {
        tokio::time::timeout(STEP, self.received.recv())
            .await
            .expect("a push notification in time")
            .unwrap()
    }
}

/// The node and the summary fields of a notification.
fn read(notification: &Element) -> (String, Vec<(String, String)>) {
    assert_eq!(notification.attr("type"), Some("set"));
    assert_eq!(notification.attr("from"), Some("alice@localhost"));
    assert_eq!(notification.attr("to"), Some(APP_SERVER));
    let publish = notification
        .get_child("pubsub", PUBSUB)
        .and_then(|p| p.get_child("publish", PUBSUB))
        .unwrap();
    let form = publish
        .get_child("item", PUBSUB)
        .and_then(|i| i.get_child("notification", PUSH))
        .and_then(|n| n.get_child("x", "jabber:x:data"))
        .unwrap();
    let fields = form
        .children()
        .map(|f| {
            let value = f.children().next().map(Element::text).unwrap_or_default();
            (f.attr("var").unwrap().to_owned(), value)
        })
        .collect();
    (publish.attr("node").unwrap().to_owned(), fields)
}

fn enable(node: &str) -> String {
    format!(
        "<iq type='set' id='e-{node}'><enable xmlns='{PUSH}' jid='{APP_SERVER}' node='{node}'>\
         <x xmlns='jabber:x:data' type='submit'>\
         <field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>\
         <field var='secret'><value>s3cret-{node}</value></field></x></enable></iq>"
    )
}

/// Alice logged in over a raw stream with push enabled for `nodes`.
async fn alice_with_push(server: &TestServer, nodes: &[&str]) -> RawTcp {
    let mut alice = raw_logged_in(server.c2s, "alice", "phone").await;
    for node in nodes {
        alice.send(&enable(node)).await;
        alice.read_until(&format!("id='e-{node}'")).await;
    }
    alice
}

/// Closes a raw stream and waits for the server to end it (and unbind its resource).
async fn close(mut raw: RawTcp) {
    raw.send("</stream:stream>").await;
    raw.read_to_close().await;
}

async fn bob_says(server: &TestServer, body: &str) {
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("bob", Some(PASSWORD))
        .header("Content-Type", "application/xmpp+xml")
        .body(format!(
            "<message to='alice@localhost' type='chat'><body>{body}</body></message>"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn an_offline_account_is_pushed_a_summary_without_content() {
    let mut app = AppServer::start().await;
    let server = TestServer::start_with(|c| app.configure(c)).await;
    close(alice_with_push(&server, &["n1"]).await).await;
    bob_says(&server, "are you there?").await;
    let notification = app.next().await;
    let (node, fields) = read(&notification);
    assert_eq!(node, "n1");
    assert_eq!(
        fields,
        [
            ("FORM_TYPE".to_owned(), "urn:xmpp:push:summary".to_owned()),
            ("message-count".to_owned(), "1".to_owned()),
        ]
    );
    let options = notification
        .get_child("pubsub", PUBSUB)
        .and_then(|p| p.get_child("publish-options", PUBSUB))
        .unwrap();
    assert!(String::from(options).contains("s3cret-n1"));
    // The count is of the messages waiting, this one included.
    bob_says(&server, "hello?").await;
    let (_, fields) = read(&app.next().await);
    assert!(
        fields.contains(&("message-count".to_owned(), "2".to_owned())),
        "{fields:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_connected_account_is_not_pushed() {
    let mut app = AppServer::start().await;
    let server = TestServer::start_with(|c| {
        app.configure(c);
        c.push.include_body = true;
        c.push.include_sender = true;
    })
    .await;
    let alice = alice_with_push(&server, &["n1"]).await;
    // Connected but not available: the message is stored, and still no push.
    bob_says(&server, "while connected").await;
    let mut online = StanzaPeer::available(&server, "alice", "laptop").await;
    bob_says(&server, "while online").await;
    online.next_named("message").await;
    close(alice).await;
    drop(online);
    // The laptop's stream is gone once the server sees it; the message after it is pushed.
    wait_for(&server, |metrics| {
        metrics.contains("switchboard_c2s_sessions{transport=\"tcp\"} 0")
    })
    .await;
    bob_says(&server, "after you left").await;
    let (_, fields) = read(&app.next().await);
    let field = |var: &str| {
        fields
            .iter()
            .find(|(v, _)| v == var)
            .map(|(_, x)| x.as_str())
    };
    // The first notification is for the last message: none was sent while a stream was on.
    assert_eq!(field("last-message-body"), Some("after you left"));
    let sender = field("last-message-sender").unwrap();
    assert!(
        sender == "bob@localhost" || sender.starts_with("bob@localhost/"),
        "{sender}"
    );
    server.stop().await;
}

/// Polls /metrics until `ready` holds for its text.
async fn wait_for(server: &TestServer, ready: impl Fn(&str) -> bool) {
    tokio::time::timeout(STEP, async {
        loop {
            let text = http()
                .get(server.url("/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if ready(&text) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the server reached the awaited state");
}

#[tokio::test]
async fn a_session_waiting_for_resumption_is_pushed() {
    let mut app = AppServer::start().await;
    let server = TestServer::start_with(|c| app.configure(c)).await;
    let mut alice = alice_with_push(&server, &["n1"]).await;
    alice
        .send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
        .await;
    alice.read_until("<enabled").await;
    drop(alice);
    wait_for(&server, |m| {
        m.contains("switchboard_c2s_detached_sessions 1")
    })
    .await;
    bob_says(&server, "wake up").await;
    let (node, _) = read(&app.next().await);
    assert_eq!(node, "n1");
    server.stop().await;
}

#[tokio::test]
async fn registrations_are_disabled_and_bounded() {
    let mut app = AppServer::start().await;
    let server = TestServer::start_with(|c| {
        app.configure(c);
        c.push.max_registrations = 2;
    })
    .await;
    let mut alice = alice_with_push(&server, &["n1", "n2"]).await;
    alice.send(&enable("n3")).await;
    let refused = alice.read_until("</iq>").await;
    assert!(refused.contains("resource-constraint"), "{refused}");
    // Enabling a node again replaces its registration.
    alice.send(&enable("n2")).await;
    alice.read_until("id='e-n2'").await;
    alice
        .send(&format!(
            "<iq type='set' id='d'><disable xmlns='{PUSH}' jid='{APP_SERVER}' node='n1'/></iq>"
        ))
        .await;
    alice.read_until("id='d'").await;
    close(alice).await;
    bob_says(&server, "hello").await;
    // n1 would have come first: registrations are notified in order.
    let (node, _) = read(&app.next().await);
    assert_eq!(node, "n2");
    server.stop().await;
}
