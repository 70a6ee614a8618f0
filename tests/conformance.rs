//! Conformance suite for Prosody mod_rest's checklist (spec `mod_rest.md` §11) as Switchboard
//! implements it: a server started in-process, driven with real HTTP (reqwest), with real XMPP
//! peers on the receiving end (raw TCP streams where exact XML is compared, tokio-xmpp clients
//! elsewhere). One test per checklist item or small group, named `item_NN_…`.
//!
//! Items 40–54 (webhooks) are tested in `tests/webhooks.rs`; 80 (demo mode) is only checked to
//! be absent, 81 (CORS) is tested with the rest of the HTTP edge in `tests/http_edge.rs`. Where Switchboard deliberately differs from the
//! reference (docs/rest.md, docs/compatibility.md), the test asserts our behaviour and says so in
//! a comment starting with "Divergence".

mod common;

use std::time::{Duration, Instant};

use common::StanzaPeer as Peer;
use common::*;
use minidom::Element;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};
use switchboard_server::config::{ComponentConfig, Config};

const XML: &str = "application/xmpp+xml";
const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";
const TEXT: &str = "text/plain";
const CBOR: &str = "application/cbor";

const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
const STREAMS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
const MAM: &str = "urn:xmpp:mam:2";

// ---------------------------------------------------------------------------------------------
// HTTP helpers

fn http() -> reqwest::Client {
    install_crypto();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// `POST path` as alice with the given Content-Type and body.
fn post(
    server: &TestServer,
    path: &str,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> RequestBuilder {
    http()
        .post(server.url(path))
        .basic_auth("alice", Some(PASSWORD))
        .header("Content-Type", content_type)
        .body(body.into())
}

/// `GET path` as alice.
fn get(server: &TestServer, path: &str) -> RequestBuilder {
    http()
        .get(server.url(path))
        .basic_auth("alice", Some(PASSWORD))
}

/// A response read to the end.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or_default()
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("JSON body ({e}): {}", self.text()))
    }

    /// The XML body, read in the `jabber:client` default namespace: replies are written as
    /// mod_rest writes them, without a namespace declaration (error bodies declare their own).
    fn xml(&self) -> Element {
        in_stream(&self.text())
    }

    fn cbor(&self) -> Value {
        ciborium::from_reader(self.body.as_slice()).expect("CBOR body")
    }

    /// Asserts the status and the Content-Type (without parameters), with the body on failure.
    fn expect(&self, status: StatusCode, content_type: &str) -> &Self {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let essence = self
            .content_type()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        assert_eq!(essence, content_type, "Content-Type of {self:?}");
        self
    }

    /// 202 with an empty body, as for a routed message or presence.
    fn expect_accepted(&self) {
        assert_eq!(
            self.status,
            StatusCode::ACCEPTED,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert!(self.body.is_empty(), "202 has no body: {self:?}");
    }

    /// A JSON error body: status, `{"type":"error","code":N,"error":{type,condition,…}}`.
    fn expect_json_error(&self, status: StatusCode, type_: &str, condition: &str) -> Value {
        self.expect(status, JSON);
        let body = self.json();
        assert_eq!(body["type"], "error", "{body}");
        assert_eq!(body["code"], status.as_u16(), "{body}");
        assert_eq!(body["error"]["type"], type_, "{body}");
        assert_eq!(body["error"]["condition"], condition, "{body}");
        assert_eq!(body["error"]["source"], "switchboard", "{body}");
        body
    }
}

async fn send(request: RequestBuilder) -> Reply {
    let response = request.send().await.expect("HTTP request completes");
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

/// Sends in the background, for requests that wait on a peer's answer.
fn spawn(request: RequestBuilder) -> tokio::task::JoinHandle<Reply> {
    tokio::spawn(send(request))
}

// ---------------------------------------------------------------------------------------------
// XML helpers

fn xml(text: &str) -> Element {
    text.parse()
        .unwrap_or_else(|e| panic!("XML parses ({e}): {text}"))
}

/// One element as it reads inside a client stream: without a declaration it is `jabber:client`.
fn in_stream(text: &str) -> Element {
    let wrapped = xml(&format!(
        "<w xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>{text}</w>"
    ));
    let mut children = wrapped.children();
    match (children.next(), children.next()) {
        (Some(element), None) => element.clone(),
        _ => panic!("exactly one element: {text}"),
    }
}

/// The element without the given top-level attributes.
fn without(mut element: Element, attrs: &[&'static str]) -> Element {
    for attr in attrs {
        switchboard_xmpp::stanza::remove_attr(&mut element, attr);
    }
    element
}

/// The single child (payload) of an iq.
fn payload(iq: &Element) -> Element {
    let children: Vec<&Element> = iq.children().collect();
    assert_eq!(children.len(), 1, "one payload in {}", to_string(iq));
    children[0].clone()
}

fn to_string(element: &Element) -> String {
    switchboard_xmpp::stanza::to_xml(element)
}

fn cbor(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

// ---------------------------------------------------------------------------------------------
// What these tests ask of a raw peer beyond reading stanzas.

impl Peer {
    /// Panics if a message arrives within `wait` (presence traffic between the account's own
    /// resources is ignored).
    async fn no_message_within(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.within(left).await {
                Some(stanza) if stanza.name() == "message" => {
                    panic!("unexpected message: {}", to_string(&stanza))
                }
                Some(_) => continue,
                None => return,
            }
        }
    }

    /// Reads the next iq, answers it with a result carrying `inner`, and returns the iq.
    async fn answer_iq(&mut self, inner: &str) -> Element {
        let iq = self.next_named("iq").await;
        let id = iq.attr("id").expect("iq has an id").to_owned();
        let from = iq.attr("from").expect("iq has a from").to_owned();
        self.send(&format!(
            "<iq type='result' id='{id}' to='{from}'>{inner}</iq>"
        ))
        .await;
        iq
    }
}

/// A tokio-xmpp client that has sent its initial presence.
async fn online(server: &TestServer, jid: &str) -> tokio_xmpp::Client {
    let mut client = server.client(jid).await;
    send_xml(&mut client, "<presence xmlns='jabber:client'/>").await;
    loop {
        if let tokio_xmpp::Stanza::Presence(_) = next_stanza(&mut client).await {
            return client;
        }
    }
}

/// Sends JSON `request` as alice (reply in JSON) to `bob@localhost/raw`, played by `peer`,
/// which answers with a result carrying `answer`. Returns what the peer received and the reply.
async fn iq_exchange(
    server: &TestServer,
    peer: &mut Peer,
    mut request: Value,
    answer: &str,
) -> (Element, Reply) {
    request["to"] = json!("bob@localhost/raw");
    let pending = spawn(post(server, "/rest", JSON, request.to_string()).header("Accept", JSON));
    let iq = peer.answer_iq(answer).await;
    let reply = pending.await.unwrap();
    reply.expect(StatusCode::OK, JSON);
    (iq, reply)
}

/// `POST /rest/echo` with `body`, replying in `accept`.
async fn echo(
    server: &TestServer,
    content_type: &str,
    body: impl Into<Vec<u8>>,
    accept: &str,
) -> Reply {
    let reply = send(post(server, "/rest/echo", content_type, body).header("Accept", accept)).await;
    reply.expect(StatusCode::OK, accept);
    reply
}

/// What `/rest/echo` builds from JSON, as XML, minus the stamped `from` (checked to be alice)
/// and the `id` (checked to be present).
async fn json_to_xml(server: &TestServer, input: Value) -> Element {
    let element = echo(server, JSON, input.to_string(), XML).await.xml();
    if input.get("from").is_none() {
        assert_eq!(element.attr("from"), Some("alice@localhost"));
    }
    let mut strip = vec!["from"];
    if input.get("id").is_none() {
        assert!(element.attr("id").is_some_and(|id| !id.is_empty()));
        strip.push("id");
    }
    if input.get("from").is_some() {
        strip.retain(|a| *a != "from");
    }
    without(element, &strip)
}

/// What `/rest/echo` renders for an XML stanza, as JSON, minus a stamped `from` and a generated `id`.
async fn xml_to_json(server: &TestServer, input: &str) -> Value {
    let mut value = echo(server, XML, input, JSON).await.json();
    let parsed = xml(&format!("<w xmlns='jabber:client'>{input}</w>"));
    let stanza = parsed.children().next().unwrap();
    let object = value.as_object_mut().unwrap();
    if stanza.attr("from").is_none() {
        assert_eq!(object.remove("from"), Some(json!("alice@localhost")));
    }
    if stanza.attr("id").is_none() {
        assert!(object.remove("id").is_some_and(|id| id.is_string()));
    }
    value
}

/// JSON → stanza → JSON through `/rest/echo`, minus the stamped `from` and a generated `id`.
async fn json_roundtrip(server: &TestServer, input: Value) -> Value {
    let mut value = echo(server, JSON, input.to_string(), JSON).await.json();
    let object = value.as_object_mut().unwrap();
    if input.get("from").is_none() {
        assert_eq!(object.remove("from"), Some(json!("alice@localhost")));
    }
    if input.get("id").is_none() {
        assert!(object.remove("id").is_some_and(|id| id.is_string()));
    }
    value
}

/// The delivered stanza minus its `id`, which is checked to be present.
fn without_id(stanza: Element) -> Element {
    assert!(
        stanza.attr("id").is_some_and(|id| !id.is_empty()),
        "stanza has an id: {}",
        to_string(&stanza)
    );
    without(stanza, &["id"])
}

// =============================================================================================
// §1 Routes and paths (items 1–8)

#[tokio::test]
async fn item_01_post_rest_accepts_one_stanza() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;

    let reply = send(post(
        &server,
        "/rest",
        XML,
        "<message type='chat' to='bob@localhost' id='i01'><body>one</body></message>",
    ))
    .await;
    reply.expect_accepted();
    assert_eq!(
        archived(bob.next_named("message").await, "bob@localhost"),
        xml(
            "<message xmlns='jabber:client' type='chat' to='bob@localhost' id='i01' from='alice@localhost'><body>one</body></message>"
        )
    );

    // Divergence: `POST /rest/` is the same resource as `POST /rest` (mod_rest answered 400
    // invalid-path for non-XML bodies there).
    let reply = send(post(
        &server,
        "/rest/",
        JSON,
        r#"{"to":"bob@localhost","type":"chat","id":"i01b","body":"slash"}"#,
    ))
    .await;
    reply.expect_accepted();
    assert_eq!(
        archived(bob.next_named("message").await, "bob@localhost"),
        xml(
            "<message xmlns='jabber:client' type='chat' to='bob@localhost' id='i01b' from='alice@localhost'><body>slash</body></message>"
        )
    );

    // Exactly one stanza: two in a body is not a stanza.
    let reply = send(
        post(
            &server,
            "/rest",
            XML,
            "<message to='bob@localhost'><body>a</body></message><message to='bob@localhost'><body>b</body></message>",
        )
        .header("Accept", JSON),
    )
    .await;
    reply.expect_json_error(StatusCode::BAD_REQUEST, "modify", "not-well-formed");
    bob.no_message_within(Duration::from_millis(300)).await;
    server.stop().await;
}

#[tokio::test]
async fn item_02_kind_type_to_from_path() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;

    // kind/type/to from the path are merged into the body map, and win over the body's.
    let reply = send(post(
        &server,
        "/rest/message/chat/bob@localhost",
        JSON,
        r#"{"body":"merged","id":"i02","type":"headline","to":"carol@localhost"}"#,
    ))
    .await;
    reply.expect_accepted();
    assert_eq!(
        archived(bob.next_named("message").await, "bob@localhost"),
        xml(
            "<message xmlns='jabber:client' type='chat' to='bob@localhost' id='i02' from='alice@localhost'><body>merged</body></message>"
        )
    );

    // A form body merges the same way.
    let reply = send(post(
        &server,
        "/rest/message/normal/bob@localhost",
        FORM,
        "body=from+a+form&id=i02f",
    ))
    .await;
    reply.expect_accepted();
    assert_eq!(
        archived(bob.next_named("message").await, "bob@localhost"),
        xml(
            "<message xmlns='jabber:client' type='normal' to='bob@localhost' id='i02f' from='alice@localhost'><body>from a form</body></message>"
        )
    );

    // presence, from the path alone (no Content-Type, no body).
    let reply = send(
        http()
            .post(server.url("/rest/presence/unavailable/bob@localhost"))
            .basic_auth("alice", Some(PASSWORD)),
    )
    .await;
    reply.expect_accepted();
    let presence = bob.next_named("presence").await;
    assert_eq!(
        without_id(presence),
        xml(
            "<presence xmlns='jabber:client' type='unavailable' to='bob@localhost' from='alice@localhost'/>"
        )
    );

    // iq with type get/set in the path: the body is the payload map.
    let reply = send(
        post(
            &server,
            "/rest/iq/get/localhost",
            JSON,
            r#"{"ping":true,"id":"i02i"}"#,
        )
        .header("Accept", JSON),
    )
    .await;
    reply.expect(StatusCode::OK, JSON);
    let body = reply.json();
    assert_eq!(body["kind"], "iq");
    assert_eq!(body["type"], "result");
    assert_eq!(body["id"], "i02i");
    assert_eq!(body["from"], "localhost");

    // Not a kind (pizza), or too few segments: 400.
    for path in ["/rest/pizza/chat/bob@localhost", "/rest/message/chat"] {
        let reply = send(post(&server, path, JSON, r#"{"body":"x"}"#)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.text()
        );
    }
    bob.no_message_within(Duration::from_millis(300)).await;
    server.stop().await;
}

#[tokio::test]
async fn item_03_iq_payload_key_in_path() {
    let server = TestServer::start().await;
    let mut bob = Peer::bound(&server, "bob", "raw").await;

    // POST /rest/iq/items/{to}: the JSON body is the value of `items`.
    let pending = spawn(
        post(
            &server,
            "/rest/iq/items/bob@localhost/raw",
            JSON,
            r#"{"node":"urn:example:node"}"#,
        )
        .header("Accept", JSON),
    );
    let iq = bob
        .answer_iq(
            "<query xmlns='http://jabber.org/protocol/disco#items' node='urn:example:node'><item jid='carol@localhost' name='Carol'/></query>",
        )
        .await;
    assert_eq!(iq.attr("type"), Some("get"));
    assert_eq!(iq.attr("to"), Some("bob@localhost/raw"));
    assert_eq!(
        payload(&iq),
        xml("<query xmlns='http://jabber.org/protocol/disco#items' node='urn:example:node'/>")
    );
    let reply = pending.await.unwrap();
    reply.expect(StatusCode::OK, JSON);
    assert_eq!(
        reply.json()["items"],
        json!([{"jid": "carol@localhost", "name": "Carol"}])
    );

    // A string body is the value too: disco with a node.
    let pending = spawn(post(
        &server,
        "/rest/iq/disco/bob@localhost/raw",
        JSON,
        r#""urn:example:info""#,
    ));
    let iq = bob.answer_iq("").await;
    assert_eq!(
        payload(&iq),
        xml("<query xmlns='http://jabber.org/protocol/disco#info' node='urn:example:info'/>")
    );
    pending.await.unwrap().expect(StatusCode::OK, JSON);

    // No body: the payload is `{}` (`ping` is `true`), answered by the server itself.
    let reply = send(
        http()
            .post(server.url("/rest/iq/version/localhost"))
            .basic_auth("alice", Some(PASSWORD))
            .header("Accept", JSON),
    )
    .await;
    reply.expect(StatusCode::OK, JSON);
    assert_eq!(reply.json()["version"]["name"], "Switchboard");
    let reply = send(
        http()
            .post(server.url("/rest/iq/ping/localhost"))
            .basic_auth("alice", Some(PASSWORD)),
    )
    .await;
    reply.expect(StatusCode::OK, XML);
    let result = reply.xml();
    assert_eq!(result.attr("type"), Some("result"));
    assert_eq!(result.attr("from"), Some("localhost"));
    server.stop().await;
}

#[tokio::test]
async fn item_04_get_payload_with_query_string() {
    let server =
        TestServer::start_with(|c| c.admins = vec!["alice@localhost".parse().unwrap()]).await;

    // GET /rest/version/localhost → iq get jabber:iq:version.
    let reply = send(get(&server, "/rest/version/localhost").header("Accept", JSON)).await;
    reply.expect(StatusCode::OK, JSON);
    let body = reply.json();
    assert_eq!(body["kind"], "iq");
    assert_eq!(body["type"], "result");
    assert_eq!(body["from"], "localhost");
    assert!(
        body["to"]
            .as_str()
            .unwrap()
            .starts_with("alice@localhost/rest-"),
        "{body}"
    );
    assert_eq!(body["version"]["name"], "Switchboard");

    // archive implies type set; the query string is the payload map.
    let mut bob = Peer::bound(&server, "bob", "archive").await;
    let pending = spawn(get(
        &server,
        "/rest/archive/bob@localhost/archive?queryid=q4&with=carol%40localhost&max=10",
    ));
    let iq = bob.next_named("iq").await;
    assert_eq!(iq.attr("type"), Some("set"));
    let query = payload(&iq);
    assert!(query.is("query", MAM), "{}", to_string(&query));
    assert_eq!(query.attr("queryid"), Some("q4"));
    let form = query.get_child("x", "jabber:x:data").expect("a MAM form");
    assert_eq!(form.attr("type"), Some("submit"));
    let with = form
        .children()
        .find(|f| f.attr("var") == Some("with"))
        .expect("a with field");
    assert_eq!(
        with.get_child("value", "jabber:x:data").unwrap().text(),
        "carol@localhost"
    );
    let set = query
        .get_child("set", "http://jabber.org/protocol/rsm")
        .expect("an RSM set");
    assert_eq!(
        set.get_child("max", "http://jabber.org/protocol/rsm")
            .unwrap()
            .text(),
        "10"
    );
    let rest_jid = iq.attr("from").unwrap().to_owned();
    bob.send(&format!(
        "<message to='{rest_jid}' id='m1'><result xmlns='urn:xmpp:mam:2' queryid='q4' id='a1'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='carol@localhost' to='bob@localhost' type='chat'><body>hi</body></message></forwarded></result></message><iq type='result' id='{}' to='{rest_jid}'/>",
        iq.attr("id").unwrap()
    ))
    .await;
    let reply = pending.await.unwrap();
    reply.expect(StatusCode::OK, XML);
    let container = reply.xml();
    assert_eq!(container.name(), "xmpp");
    assert_eq!(container.children().count(), 2);

    // command implies type set too: an ad-hoc command executed by a GET.
    let reply =
        send(get(&server, "/rest/command/localhost?node=uptime").header("Accept", JSON)).await;
    reply.expect(StatusCode::OK, JSON);
    let body = reply.json();
    assert_eq!(body["type"], "result", "{body}");
    assert_eq!(body["command"]["node"], "uptime");
    assert_eq!(body["command"]["status"], "completed");
    assert_eq!(body["command"]["note"]["type"], "info");

    // A query string that is not key=value pairs is refused (400). Divergence: condition
    // bad-request (mod_rest reported invalid-query as not-well-formed).
    let reply = send(get(&server, "/rest/version/localhost?novalue").header("Accept", JSON)).await;
    reply.expect_json_error(StatusCode::BAD_REQUEST, "modify", "bad-request");
    server.stop().await;
}

#[tokio::test]
async fn item_05_get_ping() {
    let server = TestServer::start().await;

    // The server answers; no Accept and no body: XML.
    let reply = send(get(&server, "/rest/ping/localhost")).await;
    reply.expect(StatusCode::OK, XML);
    let result = reply.xml();
    assert_eq!(result.name(), "iq");
    assert_eq!(result.attr("type"), Some("result"));
    assert_eq!(result.attr("from"), Some("localhost"));
    assert_eq!(result.children().count(), 0);

    let reply = send(get(&server, "/rest/ping/localhost").header("Accept", JSON)).await;
    reply.expect(StatusCode::OK, JSON);
    let mut body = reply.json();
    let object = body.as_object_mut().unwrap();
    assert!(object.remove("id").is_some());
    assert!(
        object
            .remove("to")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("alice@localhost/rest-")
    );
    assert_eq!(
        body,
        json!({"kind": "iq", "type": "result", "from": "localhost"})
    );

    // What a peer receives is exactly a ping.
    let mut bob = Peer::bound(&server, "bob", "raw").await;
    let pending = spawn(get(&server, "/rest/ping/bob@localhost/raw"));
    let iq = bob.answer_iq("").await;
    assert_eq!(iq.attr("type"), Some("get"));
    assert_eq!(payload(&iq), xml("<ping xmlns='urn:xmpp:ping'/>"));
    let reply = pending.await.unwrap();
    reply.expect(StatusCode::OK, XML);
    assert_eq!(reply.xml().attr("from"), Some("bob@localhost/raw"));
    server.stop().await;
}

#[tokio::test]
async fn item_06_empty_to_is_own_account() {
    let server = TestServer::start().await;
    let mut alice = Peer::available(&server, "alice", "phone").await;

    // An iq without `to` is answered on behalf of the account itself.
    let reply = send(get(&server, "/rest/ping/").header("Accept", JSON)).await;
    reply.expect(StatusCode::OK, JSON);
    assert_eq!(reply.json()["type"], "result", "{}", reply.text());
    let reply = send(get(&server, "/rest/disco/").header("Accept", JSON)).await;
    reply.expect(StatusCode::OK, JSON);
    let body = reply.json();
    assert_eq!(body["type"], "result", "{body}");
    assert!(
        body["disco"]["identities"]
            .as_array()
            .unwrap()
            .contains(&json!({"category": "account", "type": "registered"})),
        "{body}"
    );

    // A message without `to` reaches the account's own resources.
    let reply = send(post(&server, "/rest/message/chat/", TEXT, "note to self")).await;
    reply.expect_accepted();
    let message = alice.next_named("message").await;
    assert_eq!(message.attr("from"), Some("alice@localhost"));
    assert_eq!(
        message.get_child("body", "jabber:client").unwrap().text(),
        "note to self"
    );
    server.stop().await;
}

#[tokio::test]
async fn item_07_to_with_resource_and_url_decoding() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk 2/b").await;
    let mut other = Peer::available(&server, "bob", "other").await;

    // Percent-encoded `@`, space and `/` (divergence: decoded per segment, so `%2F` stays
    // inside the resource).
    let reply = send(post(
        &server,
        "/rest/message/chat/bob%40localhost/desk%202%2Fb",
        TEXT,
        "encoded",
    ))
    .await;
    reply.expect_accepted();
    let message = bob.next_named("message").await;
    assert_eq!(message.attr("to"), Some("bob@localhost/desk 2/b"));
    assert_eq!(
        message.get_child("body", "jabber:client").unwrap().text(),
        "encoded"
    );

    // Everything after the type segment is the `to`, slashes included.
    let reply = send(post(
        &server,
        "/rest/message/chat/bob@localhost/desk%202/b",
        TEXT,
        "plain",
    ))
    .await;
    reply.expect_accepted();
    let message = bob.next_named("message").await;
    assert_eq!(message.attr("to"), Some("bob@localhost/desk 2/b"));
    assert_eq!(
        message.get_child("body", "jabber:client").unwrap().text(),
        "plain"
    );

    // Only that resource got them.
    other.no_message_within(Duration::from_millis(300)).await;
    server.stop().await;
}

#[tokio::test]
async fn item_08_echo_returns_built_stanza_without_sending() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;

    let reply = echo(
        &server,
        XML,
        "<message to='bob@localhost' type='chat' id='e1' foo='dropped'><body>echo</body></message>",
        XML,
    )
    .await;
    assert_eq!(
        reply.xml(),
        xml(
            "<message xmlns='jabber:client' to='bob@localhost' type='chat' id='e1' from='alice@localhost'><body>echo</body></message>"
        )
    );
    let reply = echo(
        &server,
        JSON,
        r#"{"to":"bob@localhost","body":"x","id":"e2"}"#,
        JSON,
    )
    .await;
    assert_eq!(
        reply.json(),
        json!({"kind": "message", "to": "bob@localhost", "from": "alice@localhost", "id": "e2", "body": "x"})
    );
    // An iq is echoed, not sent (so no waiting).
    let reply = echo(
        &server,
        JSON,
        r#"{"kind":"iq","to":"bob@localhost/desk","ping":true,"id":"e3"}"#,
        JSON,
    )
    .await;
    assert_eq!(reply.json()["type"], "get");

    // Echo authenticates and validates like a real send.
    let reply = send(
        http()
            .post(server.url("/rest/echo"))
            .header("Content-Type", JSON)
            .body(r#"{"to":"bob@localhost","body":"x"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = send(post(
        &server,
        "/rest/echo",
        JSON,
        r#"{"to":"bob@localhost","from":"carol@localhost","body":"x"}"#,
    ))
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    // Nothing was sent: the next stanza bob sees is this marker.
    send(post(
        &server,
        "/rest",
        JSON,
        r#"{"to":"bob@localhost","body":"marker"}"#,
    ))
    .await
    .expect_accepted();
    let message = bob.next().await;
    assert_eq!(message.name(), "message", "{}", to_string(&message));
    assert_eq!(
        message.get_child("body", "jabber:client").unwrap().text(),
        "marker"
    );
    server.stop().await;
}

// =============================================================================================
// §2 Content types and negotiation (items 9–16)

#[tokio::test]
async fn item_09_xml_body() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;

    let reply = send(post(
        &server,
        "/rest",
        XML,
        "<message type='chat' to='bob@localhost' id='x9'><body>xml &amp; more</body><thread>t9</thread><custom xmlns='urn:example:x' a='1'><deep>kept</deep></custom></message>",
    ))
    .await;
    reply.expect_accepted();
    assert_eq!(
        archived(bob.next_named("message").await, "bob@localhost"),
        xml(
            "<message xmlns='jabber:client' type='chat' to='bob@localhost' id='x9' from='alice@localhost'><body>xml &amp; more</body><thread>t9</thread><custom xmlns='urn:example:x' a='1'><deep>kept</deep></custom></message>"
        )
    );

    // A charset parameter is fine.
    let reply = send(post(
        &server,
        "/rest",
        "application/xmpp+xml; charset=utf-8",
        "<message to='bob@localhost' id='x9b'><body>charset</body></message>",
    ))
    .await;
    reply.expect_accepted();
    assert_eq!(bob.next_named("message").await.attr("id"), Some("x9b"));

    // DOCTYPE, comments and processing instructions are refused.
    for body in [
        "<!DOCTYPE message [<!ENTITY a 'b'>]><message to='bob@localhost'><body>&a;</body></message>",
        "<message to='bob@localhost'><!-- comment --><body>x</body></message>",
        "<message to='bob@localhost'><?pi data?><body>x</body></message>",
    ] {
        let reply = send(post(&server, "/rest", XML, body).header("Accept", JSON)).await;
        reply.expect_json_error(StatusCode::BAD_REQUEST, "modify", "not-well-formed");
    }
    bob.no_message_within(Duration::from_millis(300)).await;
    server.stop().await;
}

#[tokio::test]
async fn item_10_json_body() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    let reply = send(post(
        &server,
        "/rest",
        JSON,
        json!({
            "kind": "message", "type": "chat", "to": "bob@localhost", "id": "j10", "lang": "en",
            "body": "Hello!", "subject": "Greeting", "thread": {"id": "t10"}
        })
        .to_string(),
    ))
    .await;
    reply.expect_accepted();
    assert_eq!(
        archived(bob.next_named("message").await, "bob@localhost"),
        xml(
            "<message xmlns='jabber:client' type='chat' to='bob@localhost' id='j10' xml:lang='en' from='alice@localhost'><body>Hello!</body><subject>Greeting</subject><thread>t10</thread></message>"
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn item_11_form_urlencoded_body() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;

    // Flat string fields.
    let reply = send(post(
        &server,
        "/rest",
        FORM,
        "to=bob%40localhost&type=chat&id=f11&body=hello+world+%26+more",
    ))
    .await;
    reply.expect_accepted();
    assert_eq!(
        archived(bob.next_named("message").await, "bob@localhost"),
        xml(
            "<message xmlns='jabber:client' type='chat' to='bob@localhost' id='f11' from='alice@localhost'><body>hello world &amp; more</body></message>"
        )
    );

    // Without any `=`, the body is text: a chat message without `to`.
    let reply = echo(&server, FORM, "just%20text", XML).await;
    assert_eq!(
        without_id(reply.xml()),
        xml(
            "<message xmlns='jabber:client' type='chat' from='alice@localhost'><body>just text</body></message>"
        )
    );

    // …but with a path it is an invalid query (400; divergence: bad-request, not
    // not-well-formed).
    let reply = send(
        post(&server, "/rest/message/chat/bob@localhost", FORM, "oops").header("Accept", JSON),
    )
    .await;
    reply.expect_json_error(StatusCode::BAD_REQUEST, "modify", "bad-request");
    bob.no_message_within(Duration::from_millis(300)).await;
    server.stop().await;
}

#[tokio::test]
async fn item_12_text_plain_body() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;

    // Without a path: a chat message without `to`.
    let reply = echo(&server, TEXT, "plain hello", XML).await;
    assert_eq!(
        without_id(reply.xml()),
        xml(
            "<message xmlns='jabber:client' type='chat' from='alice@localhost'><body>plain hello</body></message>"
        )
    );

    // message path: the text is the body.
    let reply = send(post(
        &server,
        "/rest/message/normal/bob@localhost",
        TEXT,
        "Hello John!",
    ))
    .await;
    reply.expect_accepted();
    assert_eq!(
        without_id(archived(bob.next_named("message").await, "bob@localhost")),
        xml(
            "<message xmlns='jabber:client' type='normal' to='bob@localhost' from='alice@localhost'><body>Hello John!</body></message>"
        )
    );

    // presence path: the text is the show (available is no type attribute).
    let reply = send(post(
        &server,
        "/rest/presence/available/bob@localhost",
        TEXT,
        "away",
    ))
    .await;
    reply.expect_accepted();
    assert_eq!(
        without_id(bob.next_named("presence").await),
        xml(
            "<presence xmlns='jabber:client' to='bob@localhost' from='alice@localhost'><show>away</show></presence>"
        )
    );

    // iq path: 400 invalid-path (divergence: bad-request, not not-well-formed).
    let reply =
        send(post(&server, "/rest/iq/get/localhost", TEXT, "ping").header("Accept", JSON)).await;
    reply.expect_json_error(StatusCode::BAD_REQUEST, "modify", "bad-request");
    server.stop().await;
}

#[tokio::test]
async fn item_13_cbor_body() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;

    let body = cbor(
        &json!({"kind": "message", "type": "chat", "to": "bob@localhost", "id": "c13", "body": "from CBOR"}),
    );
    send(post(&server, "/rest", CBOR, body))
        .await
        .expect_accepted();
    assert_eq!(
        archived(bob.next_named("message").await, "bob@localhost"),
        xml(
            "<message xmlns='jabber:client' type='chat' to='bob@localhost' id='c13' from='alice@localhost'><body>from CBOR</body></message>"
        )
    );

    // Divergence: the path is honoured for CBOR bodies (mod_rest ignored it).
    let body = cbor(&json!({"body": "CBOR with a path", "id": "c13b"}));
    send(post(
        &server,
        "/rest/message/headline/bob@localhost",
        CBOR,
        body,
    ))
    .await
    .expect_accepted();
    assert_eq!(
        bob.next_named("message").await,
        xml(
            "<message xmlns='jabber:client' type='headline' to='bob@localhost' id='c13b' from='alice@localhost'><body>CBOR with a path</body></message>"
        )
    );

    // A CBOR request is answered in CBOR.
    let body =
        cbor(&json!({"kind": "iq", "type": "get", "to": "localhost", "ping": true, "id": "c13i"}));
    let reply = send(post(&server, "/rest", CBOR, body)).await;
    reply.expect(StatusCode::OK, CBOR);
    let value = reply.cbor();
    assert_eq!(value["kind"], "iq");
    assert_eq!(value["type"], "result");
    assert_eq!(value["id"], "c13i");
    server.stop().await;
}

#[tokio::test]
async fn item_14_unknown_or_missing_content_type() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;

    for content_type in [
        "text/csv",
        "application/xml",
        "multipart/form-data; boundary=x",
    ] {
        let reply = send(
            post(
                &server,
                "/rest",
                content_type,
                "<message to='bob@localhost'/>",
            )
            .header("Accept", JSON),
        )
        .await;
        let body =
            reply.expect_json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "cancel", "bad-format");
        assert!(
            body["error"]["text"]
                .as_str()
                .unwrap()
                .starts_with("Unsupported media type"),
            "{body}"
        );
    }
    // An unknown Content-Type is refused even where the path alone would do, as in mod_rest.
    let reply =
        send(post(&server, "/rest/iq/ping/localhost", "text/csv", "").header("Accept", JSON)).await;
    reply.expect_json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "cancel", "bad-format");

    // No Content-Type and no path: 415.
    let reply = send(
        http()
            .post(server.url("/rest"))
            .basic_auth("alice", Some(PASSWORD))
            .header("Accept", JSON)
            .body("<message to='bob@localhost'><body>x</body></message>"),
    )
    .await;
    reply.expect_json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "cancel", "bad-format");

    // No Content-Type with a path: the stanza comes from the path alone.
    let reply = send(
        http()
            .post(server.url("/rest/iq/ping/localhost"))
            .basic_auth("alice", Some(PASSWORD))
            .header("Accept", JSON),
    )
    .await;
    reply.expect(StatusCode::OK, JSON);
    assert_eq!(reply.json()["type"], "result");
    bob.no_message_within(Duration::from_millis(300)).await;
    server.stop().await;
}

#[tokio::test]
async fn item_15_response_format_negotiation() {
    let server = TestServer::start().await;
    let message = r#"{"to":"bob@localhost","body":"n","id":"n15"}"#;
    let xml_message = "<message to='bob@localhost' id='n15'><body>n</body></message>";
    let cases: Vec<(&str, &str, Option<&str>, &str)> = vec![
        // No Accept: the request's own format…
        (JSON, message, None, JSON),
        (XML, xml_message, None, XML),
        // …and XML for text/plain, which is never an output.
        (TEXT, "t", None, XML),
        // Accept decides.
        (XML, xml_message, Some(JSON), JSON),
        (JSON, message, Some(XML), XML),
        (JSON, message, Some(FORM), FORM),
        // `*/*` (which matches nothing in mod_rest) keeps the request's format.
        (XML, xml_message, Some("*/*"), XML),
        (JSON, message, Some("*/*"), JSON),
        // Divergence: among types of equal quality the request's own wins (mod_rest took the
        // one named first in Accept, JSON here).
        (
            XML,
            xml_message,
            Some("application/json, application/xmpp+xml"),
            XML,
        ),
        // A type named alone in Accept wins over the request's format.
        (XML, xml_message, Some("application/json"), JSON),
        // Divergence: q-values are honoured (mod_rest took the first type named in Accept).
        (
            JSON,
            message,
            Some("application/json;q=0.1, application/xmpp+xml"),
            XML,
        ),
        (
            XML,
            xml_message,
            Some("application/xmpp+xml;q=0.2, application/cbor;q=0.9"),
            CBOR,
        ),
        // Divergence: `q=0` excludes a type, even the request's own.
        (JSON, message, Some("application/json;q=0"), XML),
        // An Accept naming nothing we produce keeps the request's format (no 406).
        (JSON, message, Some("text/html"), JSON),
    ];
    for (content_type, body, accept, expected) in cases {
        let mut request = post(&server, "/rest/echo", content_type, body);
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        let reply = send(request).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{content_type} {accept:?}: {}",
            reply.text()
        );
        assert_eq!(reply.content_type(), expected, "{content_type} {accept:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn item_16_output_formats() {
    let server = TestServer::start().await;
    let input = json!({
        "kind": "message", "type": "chat", "to": "bob@localhost", "id": "o16",
        "body": "a & b=c é", "thread": {"id": "t16"}, "markable": true
    });
    let expected_json = json!({
        "kind": "message", "type": "chat", "to": "bob@localhost", "from": "alice@localhost", "id": "o16",
        "body": "a & b=c é", "thread": {"id": "t16"}, "markable": true
    });

    let reply = echo(&server, JSON, input.to_string(), XML).await;
    // Written as mod_rest writes stanzas (`tostring(stanza)`): no namespace declaration on the
    // stanza, which is `jabber:client` as in a client stream.
    let text = reply.text();
    assert!(text.starts_with("<message "), "{text}");
    assert!(
        !text.contains("xmlns='jabber:client'") && !text.contains("xmlns=\"jabber:client\""),
        "{text}"
    );
    assert_eq!(
        reply.xml(),
        xml(
            "<message xmlns='jabber:client' type='chat' to='bob@localhost' id='o16' from='alice@localhost'><body>a &amp; b=c é</body><thread>t16</thread><markable xmlns='urn:xmpp:chat-markers:0'/></message>"
        )
    );
    let reply = echo(&server, JSON, input.to_string(), JSON).await;
    assert_eq!(reply.json(), expected_json);
    let reply = echo(&server, JSON, input.to_string(), CBOR).await;
    assert_eq!(reply.cbor(), expected_json);
    // Form: flattened top-level strings, numbers and `true` (as ""), `kind` first; objects
    // (thread) have no form.
    let reply = echo(&server, JSON, input.to_string(), FORM).await;
    assert_eq!(
        reply.text(),
        "kind=message&body=a+%26+b%3Dc+%C3%A9&from=alice%40localhost&id=o16&markable=&to=bob%40localhost&type=chat"
    );
    server.stop().await;
}

// =============================================================================================
// §3 Authentication and authorization (items 17–24)

#[tokio::test]
async fn item_17_missing_authorization() {
    let server = TestServer::start().await;
    let request = |accept: &str| {
        http()
            .post(server.url("/rest"))
            .header("Content-Type", JSON)
            .header("Accept", accept)
            .body(r#"{"to":"bob@localhost","body":"x"}"#)
    };
    // Divergence: scheme names capitalised (mod_rest lower-cased them).
    let challenge = r#"Basic realm="localhost/rest", Bearer realm="localhost/rest""#;

    let reply = send(request(JSON)).await;
    reply.expect(StatusCode::UNAUTHORIZED, JSON);
    assert_eq!(reply.header("www-authenticate"), Some(challenge));
    assert_eq!(
        reply.json(),
        json!({"type": "error", "code": 401, "error": {
            "type": "auth", "condition": "not-authorized", "text": "No credentials provided", "source": "switchboard"
        }})
    );

    let reply = send(request(XML)).await;
    reply.expect(StatusCode::UNAUTHORIZED, XML);
    assert_eq!(reply.header("www-authenticate"), Some(challenge));
    assert_eq!(
        reply.xml(),
        xml(
            "<error xmlns='http://etherx.jabber.org/streams'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>No credentials provided</text></error>"
        )
    );

    // GET routes too.
    let reply = send(http().get(server.url("/rest/ping/localhost"))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.header("www-authenticate"), Some(challenge));
    server.stop().await;
}

#[tokio::test]
async fn item_18_unsupported_scheme_and_case_insensitivity() {
    let server = TestServer::start().await;
    let with_auth = |value: &str| {
        http()
            .post(server.url("/rest"))
            .header("Authorization", value)
            .header("Content-Type", JSON)
            .body(r#"{"to":"bob@localhost","body":"x"}"#)
    };
    for value in [
        "Digest username=\"alice\"",
        "Basic",
        "NoSpaceAtAll",
        "Negotiate abc",
    ] {
        let reply = send(with_auth(value)).await;
        let body = reply.expect_json_error(StatusCode::UNAUTHORIZED, "auth", "not-authorized");
        assert_eq!(body["error"]["text"], "No credentials provided", "{value}");
        // Divergence: WWW-Authenticate on every 401 (RFC 9110 §11.6.1).
        assert!(reply.header("www-authenticate").is_some(), "{value}");
    }
    let encoded = basic("alice", PASSWORD);
    let credentials = encoded.strip_prefix("Basic ").unwrap();
    for scheme in ["basic", "BASIC", "bAsIc"] {
        send(with_auth(&format!("{scheme} {credentials}")))
            .await
            .expect_accepted();
    }
    server.stop().await;
}

#[tokio::test]
async fn item_19_basic_on_the_virtual_host() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    let with_auth = |value: String| {
        http()
            .post(server.url("/rest"))
            .header("Authorization", value)
            .header("Content-Type", JSON)
            .body(r#"{"to":"bob@localhost","body":"basic"}"#)
    };

    // The localpart; nodeprep folds case.
    for user in ["alice", "ALICE"] {
        send(with_auth(basic(user, PASSWORD)))
            .await
            .expect_accepted();
        let message = bob.next_named("message").await;
        assert_eq!(message.attr("from"), Some("alice@localhost"), "{user}");
    }
    // Divergence: a JID of the domain works as the user name too.
    send(with_auth(basic("alice@localhost", PASSWORD)))
        .await
        .expect_accepted();
    assert_eq!(
        bob.next_named("message").await.attr("from"),
        Some("alice@localhost")
    );

    let failures = [
        (basic("alice", "wrong"), "Credentials not accepted"),
        (basic("nobody", PASSWORD), "Credentials not accepted"),
        // Divergence: a JID of another domain is "not accepted" (mod_rest: the `@` fails
        // nodeprep, "Credentials failed stringprep").
        (
            basic("alice@elsewhere.example", PASSWORD),
            "Credentials not accepted",
        ),
        ("Basic !!!not-base64".to_owned(), "Credentials malformed"),
        (
            format!("Basic {}", {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode("no-colon")
            }),
            "Credentials malformed",
        ),
        (basic("al ice", PASSWORD), "Credentials failed stringprep"),
    ];
    for (value, text) in failures {
        let reply = send(with_auth(value.clone())).await;
        let body = reply.expect_json_error(StatusCode::FORBIDDEN, "auth", "not-authorized");
        assert_eq!(body["error"]["text"], text, "{value}");
    }
    bob.no_message_within(Duration::from_millis(300)).await;
    server.stop().await;
}

fn with_rest_component(config: &mut Config) {
    config.component = vec![ComponentConfig {
        domain: "rest.localhost".into(),
        component_secret: Some("s3cret".into()),
        ..ComponentConfig::default()
    }];
}

#[tokio::test]
async fn item_20_basic_on_a_component() {
    let server = TestServer::start_with(with_rest_component).await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    let post_as = |auth: String, body: &str| {
        http()
            .post(server.url("/rest"))
            .header("Authorization", auth)
            .header("Content-Type", XML)
            .header("Accept", JSON)
            .body(body.to_owned())
    };

    // `host:component_secret`: the component may send as anything@host/anything…
    send(post_as(
        basic("rest.localhost", "s3cret"),
        "<message to='bob@localhost' from='bot@rest.localhost/x' id='c20'><body>component</body></message>",
    ))
    .await
    .expect_accepted();
    assert_eq!(
        archived(bob.next_named("message").await, "bob@localhost"),
        xml(
            "<message xmlns='jabber:client' to='bob@localhost' from='bot@rest.localhost/x' id='c20'><body>component</body></message>"
        )
    );
    // …and without `from` it is the component's domain.
    send(post_as(
        basic("rest.localhost", "s3cret"),
        "<message to='bob@localhost' id='c20b'><body>domain</body></message>",
    ))
    .await
    .expect_accepted();
    assert_eq!(
        bob.next_named("message").await.attr("from"),
        Some("rest.localhost")
    );

    // A wrong secret is refused; so is speaking for the main domain.
    let reply = send(post_as(
        basic("rest.localhost", "wrong"),
        "<message to='bob@localhost'><body>x</body></message>",
    ))
    .await;
    reply.expect_json_error(StatusCode::FORBIDDEN, "auth", "not-authorized");
    let reply = send(post_as(
        basic("rest.localhost", "s3cret"),
        "<message to='bob@localhost' from='alice@localhost'><body>x</body></message>",
    ))
    .await;
    reply.expect_json_error(StatusCode::FORBIDDEN, "auth", "not-authorized");
    bob.no_message_within(Duration::from_millis(300)).await;
    server.stop().await;
}

#[tokio::test]
async fn item_21_bearer_tokens() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    let token = server
        .running
        .as_ref()
        .unwrap()
        .accounts()
        .create_token("dave", switchboard_server::storage::TokenScope::User)
        .await
        .unwrap();

    let reply = send(
        http()
            .post(server.url("/rest"))
            .bearer_auth(&token)
            .header("Content-Type", JSON)
            .body(r#"{"to":"bob@localhost","body":"token","id":"b21"}"#),
    )
    .await;
    reply.expect_accepted();
    assert_eq!(
        bob.next_named("message").await.attr("from"),
        Some("dave@localhost")
    );

    // Divergence: a token identifies the account, not one full JID: any resource may be used.
    let reply = send(
        http()
            .post(server.url("/rest"))
            .bearer_auth(&token)
            .header("Content-Type", JSON)
            .body(r#"{"to":"bob@localhost","from":"dave@localhost/bot","body":"resource"}"#),
    )
    .await;
    reply.expect_accepted();
    assert_eq!(
        bob.next_named("message").await.attr("from"),
        Some("dave@localhost/bot")
    );

    // iqs work the same with a token.
    let reply = send(
        http()
            .get(server.url("/rest/ping/localhost"))
            .bearer_auth(&token)
            .header("Accept", JSON),
    )
    .await;
    reply.expect(StatusCode::OK, JSON);
    assert!(
        reply.json()["to"]
            .as_str()
            .unwrap()
            .starts_with("dave@localhost/rest-")
    );

    // A bad token: 403.
    let reply = send(
        http()
            .post(server.url("/rest"))
            .bearer_auth("sb_not-a-real-token")
            .header("Content-Type", JSON)
            .body(r#"{"to":"bob@localhost","body":"x"}"#),
    )
    .await;
    let body = reply.expect_json_error(StatusCode::FORBIDDEN, "auth", "not-authorized");
    assert_eq!(body["error"]["text"], "Credentials not accepted");
    bob.no_message_within(Duration::from_millis(300)).await;
    server.stop().await;
}

#[tokio::test]
async fn item_22_auth_mechanisms_option() {
    let server = TestServer::start_with(|c| c.rest.auth_mechanisms = vec!["Bearer".into()]).await;
    let token = server
        .running
        .as_ref()
        .unwrap()
        .accounts()
        .create_token("alice", switchboard_server::storage::TokenScope::User)
        .await
        .unwrap();
    let message = r#"{"to":"bob@localhost","body":"x"}"#;

    let reply = send(post(&server, "/rest", JSON, message)).await;
    let body = reply.expect_json_error(StatusCode::UNAUTHORIZED, "auth", "not-authorized");
    assert_eq!(body["error"]["text"], "No credentials provided");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Bearer realm="localhost/rest""#)
    );

    let reply = send(
        http()
            .post(server.url("/rest"))
            .header("Authorization", format!("bearer {token}"))
            .header("Content-Type", JSON)
            .body(message),
    )
    .await;
    reply.expect_accepted();
    server.stop().await;

    let server = TestServer::start_with(|c| c.rest.auth_mechanisms = vec!["basic".into()]).await;
    let token = server
        .running
        .as_ref()
        .unwrap()
        .accounts()
        .create_token("alice", switchboard_server::storage::TokenScope::User)
        .await
        .unwrap();
    let reply = send(
        http()
            .post(server.url("/rest"))
            .bearer_auth(&token)
            .header("Content-Type", JSON)
            .body(message),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Basic realm="localhost/rest""#)
    );
    send(post(&server, "/rest", JSON, message))
        .await
        .expect_accepted();
    server.stop().await;
}

/// Item 23: anonymous mode (`authentication = "anonymous"` + `anonymous_rest`) is not
/// implemented (docs/compatibility.md: "not supported; requests need credentials"), so every
/// request without credentials is refused with 401.
#[tokio::test]
async fn item_23_anonymous_mode_is_not_supported() {
    let server = TestServer::start().await;
    let requests = [
        http()
            .post(server.url("/rest"))
            .header("Content-Type", JSON)
            .body(r#"{"to":"bob@localhost","body":"x"}"#),
        http()
            .post(server.url("/rest/echo"))
            .header("Content-Type", JSON)
            .body(r#"{"to":"bob@localhost","body":"x"}"#),
        http()
            .post(server.url("/rest/message/chat/bob@localhost"))
            .header("Content-Type", TEXT)
            .body("x"),
        http().get(server.url("/rest/version/localhost")),
    ];
    for request in requests {
        let reply = send(request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
        assert!(reply.header("www-authenticate").is_some());
    }
    server.stop().await;
}

#[tokio::test]
async fn item_24_from_override() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;

    // Any resource of the caller's own account.
    send(post(
        &server,
        "/rest",
        XML,
        "<message to='bob@localhost' from='alice@localhost/bot' id='f24'><body>own resource</body></message>",
    ))
    .await
    .expect_accepted();
    assert_eq!(
        archived(bob.next_named("message").await, "bob@localhost"),
        xml(
            "<message xmlns='jabber:client' to='bob@localhost' from='alice@localhost/bot' id='f24'><body>own resource</body></message>"
        )
    );
    // Divergence: JSON `from` is honoured without `to` too (mod_rest dropped it).
    let reply = echo(
        &server,
        JSON,
        r#"{"from":"alice@localhost/x","body":"no to"}"#,
        JSON,
    )
    .await;
    assert_eq!(reply.json()["from"], "alice@localhost/x");

    // Someone else: 403; malformed: 422.
    for (body, status, type_, condition) in [
        (
            "<message to='bob@localhost' from='carol@localhost'><body>x</body></message>",
            StatusCode::FORBIDDEN,
            "auth",
            "not-authorized",
        ),
        (
            "<message to='bob@localhost' from='localhost'><body>x</body></message>",
            StatusCode::FORBIDDEN,
            "auth",
            "not-authorized",
        ),
        (
            "<message to='bob@localhost' from='alice@localhost/'><body>x</body></message>",
            StatusCode::UNPROCESSABLE_ENTITY,
            "modify",
            "invalid-from",
        ),
        (
            "<message to='bob@localhost' from='@@'><body>x</body></message>",
            StatusCode::UNPROCESSABLE_ENTITY,
            "modify",
            "invalid-from",
        ),
    ] {
        let reply = send(post(&server, "/rest", XML, body).header("Accept", JSON)).await;
        reply.expect_json_error(status, type_, condition);
    }
    let reply = send(post(
        &server,
        "/rest",
        JSON,
        r#"{"to":"bob@localhost","from":"carol@localhost","body":"x"}"#,
    ))
    .await;
    reply.expect_json_error(StatusCode::FORBIDDEN, "auth", "not-authorized");
    let reply = send(post(
        &server,
        "/rest",
        JSON,
        r#"{"to":"bob@localhost","from":"a@b@c","body":"x"}"#,
    ))
    .await;
    reply.expect_json_error(StatusCode::UNPROCESSABLE_ENTITY, "modify", "invalid-from");
    bob.no_message_within(Duration::from_millis(300)).await;
    server.stop().await;
}

// =============================================================================================
// §4 Validation, sending and waiting (items 25–39)

#[tokio::test]
async fn item_25_invalid_to() {
    let server = TestServer::start().await;
    for (path, content_type, body) in [
        (
            "/rest",
            XML,
            "<message to='bob@@localhost'><body>x</body></message>",
        ),
        (
            "/rest",
            XML,
            "<message to='bob@localhost/'><body>x</body></message>",
        ),
        ("/rest", JSON, r#"{"to":"@localhost","body":"x"}"#),
        ("/rest/message/chat/bob%40%40localhost", TEXT, "x"),
    ] {
        let reply = send(post(&server, path, content_type, body).header("Accept", JSON)).await;
        let json = reply.expect_json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "modify",
            "improper-addressing",
        );
        assert!(
            json["error"]["text"]
                .as_str()
                .unwrap()
                .starts_with("Invalid destination JID"),
            "{json}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn item_26_top_level_namespace() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    let reply = send(
        post(
            &server,
            "/rest",
            XML,
            "<message xmlns='urn:example:other' to='bob@localhost'><body>x</body></message>",
        )
        .header("Accept", JSON),
    )
    .await;
    let body = reply.expect_json_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "modify",
        "invalid-namespace",
    );
    assert_eq!(body["error"]["text"], "'xmlns' attribute must be empty");
    let reply = send(
        post(
            &server,
            "/rest",
            XML,
            "<message xmlns='jabber:server' to='bob@localhost'><body>x</body></message>",
        )
        .header("Accept", JSON),
    )
    .await;
    reply.expect_json_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "modify",
        "invalid-namespace",
    );

    // `jabber:client` is accepted.
    send(post(
        &server,
        "/rest",
        XML,
        "<message xmlns='jabber:client' to='bob@localhost' id='n26'><body>explicit</body></message>",
    ))
    .await
    .expect_accepted();
    assert_eq!(bob.next_named("message").await.attr("id"), Some("n26"));
    server.stop().await;
}

#[tokio::test]
async fn item_27_element_must_be_a_stanza() {
    let server = TestServer::start().await;
    for body in [
        "<foo to='bob@localhost'/>",
        "<stream to='localhost'/>",
        "<body>x</body>",
    ] {
        let reply = send(post(&server, "/rest", XML, body).header("Accept", JSON)).await;
        let json = reply.expect_json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "modify",
            "unsupported-stanza-type",
        );
        assert_eq!(
            json["error"]["text"],
            "Invalid stanza, must be 'message', 'presence' or 'iq'."
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn item_28_id_generated_and_attributes_filtered() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    let body = "<message to='bob@localhost' type='chat' xml:lang='en' foo='bar' ok='no'><body>attrs</body></message>";

    let echoed = echo(&server, XML, body, XML).await.xml();
    assert_eq!(
        without_id(echoed),
        xml(
            "<message xmlns='jabber:client' to='bob@localhost' type='chat' xml:lang='en' from='alice@localhost'><body>attrs</body></message>"
        )
    );

    send(post(&server, "/rest", XML, body))
        .await
        .expect_accepted();
    let delivered = archived(bob.next_named("message").await, "bob@localhost");
    assert_eq!(
        without_id(delivered),
        xml(
            "<message xmlns='jabber:client' to='bob@localhost' type='chat' xml:lang='en' from='alice@localhost'><body>attrs</body></message>"
        )
    );
    // Two stanzas without ids get different ones.
    let a = echo(&server, JSON, r#"{"body":"a"}"#, JSON).await.json();
    let b = echo(&server, JSON, r#"{"body":"b"}"#, JSON).await.json();
    assert_ne!(a["id"], b["id"]);
    server.stop().await;
}

#[tokio::test]
async fn item_29_size_limit() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    let limit = 192 * 1024;

    let big = json!({"to": "bob@localhost", "body": "z".repeat(limit)}).to_string();
    assert!(big.len() > limit);
    let reply = send(post(&server, "/rest", JSON, big.clone()).header("Accept", JSON)).await;
    let body = reply.expect_json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "modify",
        "resource-constraint",
    );
    assert_eq!(body["error"]["text"], "Payload too large");
    let reply = send(
        post(
            &server,
            "/rest",
            XML,
            format!(
                "<message to='bob@localhost'><body>{}</body></message>",
                "z".repeat(limit)
            ),
        )
        .header("Accept", JSON),
    )
    .await;
    reply.expect_json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "modify",
        "resource-constraint",
    );

    // Credentials are checked first.
    let reply = send(
        http()
            .post(server.url("/rest"))
            .header("Content-Type", JSON)
            .body(big),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // Just under the limit is fine.
    let fits =
        json!({"to": "bob@localhost", "body": "y".repeat(limit - 100), "id": "s29"}).to_string();
    assert!(fits.len() <= limit);
    send(post(&server, "/rest", JSON, fits))
        .await
        .expect_accepted();
    let message = bob.next_named("message").await;
    assert_eq!(message.attr("id"), Some("s29"));
    assert_eq!(
        message
            .get_child("body", "jabber:client")
            .unwrap()
            .text()
            .len(),
        limit - 100
    );
    server.stop().await;
}

#[tokio::test]
async fn item_30_parse_failure() {
    let server = TestServer::start().await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (XML, b"<message to='bob@localhost'><body>x</body>".to_vec()),
        (XML, b"not xml at all".to_vec()),
        (JSON, b"{\"to\": \"bob@localhost\",".to_vec()),
        (CBOR, vec![0xff, 0x00, 0x13]),
    ];
    for (content_type, body) in cases {
        let reply = send(post(&server, "/rest", content_type, body).header("Accept", JSON)).await;
        let json = reply.expect_json_error(StatusCode::BAD_REQUEST, "modify", "not-well-formed");
        assert!(
            json["error"]["text"]
                .as_str()
                .unwrap()
                .starts_with("Failed to parse payload"),
            "{json}"
        );
    }
    // In XML too.
    let reply = send(post(&server, "/rest", XML, "<message").header("Accept", XML)).await;
    reply.expect(StatusCode::BAD_REQUEST, XML);
    assert!(reply.xml().has_child("not-well-formed", STREAMS));
    server.stop().await;
}

/// Item 31: mod_rest fires c2s pre-events (`pre-message/bare`, … with `to_self` detection) and
/// answers 202 when a module consumes the stanza. Switchboard has no plugin hooks
/// (docs/compatibility.md), so nothing can consume it: a stanza to the sender's own bare JID is
/// routed like any other, which delivers it to the account's own available resources — the
/// observable outcome of mod_rest's `to_self` handling.
#[tokio::test]
async fn item_31_no_pre_events_message_to_self_is_delivered() {
    let server = TestServer::start().await;
    let mut alice = online(&server, "alice@localhost/phone").await;
    let reply = send(post(
        &server,
        "/rest",
        JSON,
        r#"{"to":"alice@localhost","type":"chat","body":"to myself"}"#,
    ))
    .await;
    reply.expect_accepted();
    let message = next_message(&mut alice).await;
    assert_eq!(body_of(&message), "to myself");
    assert_eq!(message.from.unwrap().to_string(), "alice@localhost");
    server.stop().await;
}

#[tokio::test]
async fn item_32_message_and_presence_answer_202() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;

    let reply = send(post(
        &server,
        "/rest",
        JSON,
        r#"{"to":"bob@localhost","body":"routed"}"#,
    ))
    .await;
    reply.expect_accepted();
    bob.next_named("message").await;
    let reply = send(post(
        &server,
        "/rest",
        JSON,
        r#"{"kind":"presence","to":"bob@localhost","show":"dnd"}"#,
    ))
    .await;
    reply.expect_accepted();
    bob.next_named("presence").await;

    // A reply the local server sends back synchronously (here the bounce of a groupchat
    // message to an account without available resources, RFC 6121 §8.5.2.1.1) is the HTTP
    // response: 200 with the error stanza, in the negotiated format (spec §4.2).
    let reply = send(
        post(
            &server,
            "/rest",
            JSON,
            r#"{"to":"dave@localhost","type":"groupchat","body":"anyone?","id":"g32"}"#,
        )
        .header("Accept", JSON),
    )
    .await;
    reply.expect(StatusCode::OK, JSON);
    let body = reply.json();
    assert_eq!(body["kind"], "message", "{body}");
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["id"], "g32", "{body}");
    assert_eq!(body["error"]["condition"], "service-unavailable", "{body}");
    server.stop().await;
}

#[tokio::test]
async fn item_33_iq_type_and_children() {
    let server = TestServer::start().await;
    for (body, condition, text) in [
        (
            "<iq type='result' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>",
            "invalid-xml",
            "'iq' stanza must be of type 'get' or 'set'",
        ),
        (
            "<iq to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>",
            "invalid-xml",
            "'iq' stanza must be of type 'get' or 'set'",
        ),
        (
            "<iq type='get' to='localhost'/>",
            "bad-format",
            "'iq' stanza must have exactly one child tag",
        ),
        (
            "<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/><query xmlns='jabber:iq:version'/></iq>",
            "bad-format",
            "'iq' stanza must have exactly one child tag",
        ),
    ] {
        let reply = send(post(&server, "/rest", XML, body).header("Accept", JSON)).await;
        let json = reply.expect_json_error(StatusCode::UNPROCESSABLE_ENTITY, "modify", condition);
        assert_eq!(json["error"]["text"], text, "{body}");
    }
    let reply = send(post(
        &server,
        "/rest",
        JSON,
        r#"{"kind":"iq","type":"result","to":"localhost","ping":true}"#,
    ))
    .await;
    reply.expect_json_error(StatusCode::UNPROCESSABLE_ENTITY, "modify", "invalid-xml");
    let reply = send(post(
        &server,
        "/rest",
        JSON,
        r#"{"kind":"iq","to":"localhost"}"#,
    ))
    .await;
    reply.expect_json_error(StatusCode::UNPROCESSABLE_ENTITY, "modify", "bad-format");
    server.stop().await;
}

#[tokio::test]
async fn item_34_iq_waits_for_its_reply() {
    let server = TestServer::start().await;
    let mut bob = Peer::bound(&server, "bob", "raw").await;
    let pending = spawn(post(
        &server,
        "/rest",
        XML,
        "<iq type='get' to='bob@localhost/raw' id='v34'><query xmlns='jabber:iq:version'/></iq>",
    ));
    let iq = bob.next_named("iq").await;
    let rest_jid = iq.attr("from").unwrap().to_owned();
    assert!(rest_jid.starts_with("alice@localhost/rest-"), "{rest_jid}");
    assert_eq!(
        iq,
        xml(&format!(
            "<iq xmlns='jabber:client' type='get' to='bob@localhost/raw' id='v34' from='{rest_jid}'><query xmlns='jabber:iq:version'/></iq>"
        ))
    );
    // Not answered yet.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!pending.is_finished());
    bob.send(&format!(
        "<iq type='result' id='v34' to='{rest_jid}'><query xmlns='jabber:iq:version'><name>raw</name><version>1.0</version></query></iq>"
    ))
    .await;
    let reply = pending.await.unwrap();
    reply.expect(StatusCode::OK, XML);
    assert_eq!(
        reply.xml(),
        xml(&format!(
            "<iq xmlns='jabber:client' type='result' id='v34' to='{rest_jid}' from='bob@localhost/raw'><query xmlns='jabber:iq:version'><name>raw</name><version>1.0</version></query></iq>"
        ))
    );

    // With `from` naming a resource, the iq leaves from exactly that resource.
    let pending = spawn(
        post(
            &server,
            "/rest",
            JSON,
            r#"{"kind":"iq","type":"get","to":"bob@localhost/raw","from":"alice@localhost/fixed","id":"v34b","ping":true}"#,
        )
        .header("Accept", JSON),
    );
    let iq = bob.answer_iq("").await;
    assert_eq!(iq.attr("from"), Some("alice@localhost/fixed"));
    let reply = pending.await.unwrap();
    reply.expect(StatusCode::OK, JSON);
    assert_eq!(
        reply.json(),
        json!({"kind": "iq", "type": "result", "id": "v34b", "from": "bob@localhost/raw", "to": "alice@localhost/fixed"})
    );
    server.stop().await;
}

#[tokio::test]
async fn item_35_iq_error_reply_is_200() {
    let server = TestServer::start().await;
    let mut bob = Peer::bound(&server, "bob", "raw").await;
    let pending = spawn(
        post(
            &server,
            "/rest",
            JSON,
            r#"{"kind":"iq","type":"get","to":"bob@localhost/raw","id":"e35","version":{}}"#,
        )
        .header("Accept", JSON),
    );
    let iq = bob.next_named("iq").await;
    let rest_jid = iq.attr("from").unwrap().to_owned();
    bob.send(&format!(
        "<iq type='error' id='e35' to='{rest_jid}'><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Not here</text></error></iq>"
    ))
    .await;
    let reply = pending.await.unwrap();
    reply.expect(StatusCode::OK, JSON);
    assert_eq!(
        reply.json(),
        json!({"kind": "iq", "type": "error", "id": "e35", "from": "bob@localhost/raw", "to": rest_jid,
            "error": {"type": "cancel", "condition": "feature-not-implemented", "text": "Not here"}})
    );

    // An error from the server (no such resource) is a 200 too, in XML here.
    let reply = send(post(
        &server,
        "/rest",
        XML,
        "<iq type='get' to='bob@localhost/gone' id='e35b'><ping xmlns='urn:xmpp:ping'/></iq>",
    ))
    .await;
    reply.expect(StatusCode::OK, XML);
    let error = reply.xml();
    assert_eq!(error.attr("type"), Some("error"));
    assert_eq!(error.attr("id"), Some("e35b"));
    let condition = error
        .get_child("error", "jabber:client")
        .expect("an error child");
    assert!(
        condition.has_child("service-unavailable", STANZAS),
        "{}",
        to_string(&error)
    );
    server.stop().await;
}

#[tokio::test]
async fn item_36_iq_timeouts() {
    // Divergence: a timeout is 504 wait/remote-server-timeout (mod_rest answered 500).
    async fn expect_timeout(reply: Reply, started: Instant, within: Duration) {
        let body =
            reply.expect_json_error(StatusCode::GATEWAY_TIMEOUT, "wait", "remote-server-timeout");
        assert_eq!(body["error"]["text"], "IQ stanza timed out");
        assert!(started.elapsed() < within, "took {:?}", started.elapsed());
    }
    let ping = r#"{"kind":"iq","type":"get","to":"bob@localhost/silent","ping":true}"#;

    // The request header.
    let server = TestServer::start().await;
    let _bob = Peer::bound(&server, "bob", "silent").await;
    let started = Instant::now();
    let reply = send(post(&server, "/rest", JSON, ping).header("Prosody-Rest-Timeout", "1")).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    expect_timeout(reply, started, Duration::from_secs(5)).await;

    // Divergence: a second iq with the same id from the same JID while the first waits is
    // 409 conflict (mod_rest: 500).
    let same = r#"{"kind":"iq","type":"get","to":"bob@localhost/silent","from":"alice@localhost/fixed","id":"dup","ping":true}"#;
    let first = spawn(post(&server, "/rest", JSON, same).header("Prosody-Rest-Timeout", "2"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = send(post(&server, "/rest", JSON, same).header("Prosody-Rest-Timeout", "2")).await;
    reply.expect_json_error(StatusCode::CONFLICT, "cancel", "conflict");
    assert_eq!(first.await.unwrap().status, StatusCode::GATEWAY_TIMEOUT);
    server.stop().await;

    // rest.iq_timeout_secs without a header.
    let server = TestServer::start_with(|c| c.rest.iq_timeout_secs = 1).await;
    let _bob = Peer::bound(&server, "bob", "silent").await;
    let started = Instant::now();
    let reply = send(post(&server, "/rest", JSON, ping)).await;
    expect_timeout(reply, started, Duration::from_secs(5)).await;
    server.stop().await;

    // rest.iq_max_timeout_secs caps the header.
    let server = TestServer::start_with(|c| c.rest.iq_max_timeout_secs = 1).await;
    let _bob = Peer::bound(&server, "bob", "silent").await;
    let started = Instant::now();
    let reply = send(post(&server, "/rest", JSON, ping).header("Prosody-Rest-Timeout", "25")).await;
    expect_timeout(reply, started, Duration::from_secs(5)).await;
    server.stop().await;
}

/// Sends the archive's answer to a MAM query: result messages for `queryid` to the querying
/// JID, then the iq result with `<fin/>`.
async fn answer_mam(peer: &mut Peer, query_iq: &Element, queryid: &str, bodies: &[(&str, &str)]) {
    let rest_jid = query_iq.attr("from").unwrap();
    for (i, (id, body)) in bodies.iter().enumerate() {
        peer.send(&format!(
            "<message to='{rest_jid}' id='r{i}'><result xmlns='urn:xmpp:mam:2' queryid='{queryid}' id='{id}'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2024-01-0{}T10:00:00Z'/><message xmlns='jabber:client' from='carol@localhost/c' to='bob@localhost' type='chat'><body>{body}</body></message></forwarded></result></message>",
            i + 1
        ))
        .await;
    }
    let first = bodies.first().map(|b| b.0).unwrap_or_default();
    let last = bodies.last().map(|b| b.0).unwrap_or_default();
    peer.send(&format!(
        "<iq type='result' id='{}' to='{rest_jid}'><fin xmlns='urn:xmpp:mam:2' complete='true'><set xmlns='http://jabber.org/protocol/rsm'><first>{first}</first><last>{last}</last><count>{}</count></set></fin></iq>",
        query_iq.attr("id").unwrap(),
        bodies.len()
    ))
    .await;
}

#[tokio::test]
async fn item_37_multiple_responses_in_an_xml_container() {
    let server = TestServer::start().await;
    let mut bob = Peer::bound(&server, "bob", "archive").await;
    let pending = spawn(post(
        &server,
        "/rest",
        XML,
        "<iq type='set' to='bob@localhost/archive' id='mam37'><query xmlns='urn:xmpp:mam:2' queryid='q37'/></iq>",
    ));
    let query = bob.next_named("iq").await;
    assert_eq!(
        payload(&query),
        xml("<query xmlns='urn:xmpp:mam:2' queryid='q37'/>")
    );
    let rest_jid = query.attr("from").unwrap().to_owned();
    answer_mam(&mut bob, &query, "q37", &[("a1", "one"), ("a2", "two")]).await;

    let reply = pending.await.unwrap();
    reply.expect(StatusCode::OK, XML);
    let result = |i: usize, id: &str, body: &str| {
        format!(
            "<message xmlns='jabber:client' to='{rest_jid}' id='r{i}' from='bob@localhost/archive'><result xmlns='urn:xmpp:mam:2' queryid='q37' id='{id}'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2024-01-0{}T10:00:00Z'/><message xmlns='jabber:client' from='carol@localhost/c' to='bob@localhost' type='chat'><body>{body}</body></message></forwarded></result></message>",
            i + 1
        )
    };
    // As mod_rest writes it: `<xmpp>` and the stanzas in it without a namespace declaration
    // (read here in the stream's default namespace, jabber:client).
    assert!(
        reply.text().starts_with("<xmpp><message "),
        "{}",
        reply.text()
    );
    assert_eq!(
        reply.xml(),
        xml(&format!(
            "<xmpp xmlns='jabber:client'>{}{}<iq type='result' id='mam37' to='{rest_jid}' from='bob@localhost/archive'><fin xmlns='urn:xmpp:mam:2' complete='true'><set xmlns='http://jabber.org/protocol/rsm'><first>a1</first><last>a2</last><count>2</count></set></fin></iq></xmpp>",
            result(0, "a1", "one"),
            result(1, "a2", "two"),
        ))
    );
    server.stop().await;
}

#[tokio::test]
async fn item_38_mam_results_captured_by_queryid() {
    let server = TestServer::start().await;
    let mut bob = Peer::bound(&server, "bob", "archive").await;
    let pending = spawn(
        post(
            &server,
            "/rest",
            JSON,
            r#"{"kind":"iq","type":"set","to":"bob@localhost/archive","id":"mam38","archive":{"queryid":"q38","with":"carol@localhost","max":2}}"#,
        )
        .header("Accept", JSON),
    );
    let query = bob.next_named("iq").await;
    let rest_jid = query.attr("from").unwrap().to_owned();
    assert_eq!(payload(&query).attr("queryid"), Some("q38"));
    // A result for another query to the same JID is not part of this response.
    bob.send(&format!(
        "<message to='{rest_jid}' id='stray'><result xmlns='urn:xmpp:mam:2' queryid='other' id='zz'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='carol@localhost' to='bob@localhost'><body>stray</body></message></forwarded></result></message>"
    ))
    .await;
    answer_mam(&mut bob, &query, "q38", &[("a1", "one"), ("a2", "two")]).await;

    let reply = pending.await.unwrap();
    reply.expect(StatusCode::OK, JSON);
    let result = |i: usize, id: &str, body: &str| {
        json!({
            "kind": "message", "id": format!("r{i}"), "from": "bob@localhost/archive", "to": rest_jid,
            "archive": {"queryid": "q38", "id": id, "forward": {
                "delay": format!("2024-01-0{}T10:00:00Z", i + 1),
                "message": {"from": "carol@localhost/c", "to": "bob@localhost", "type": "chat", "body": body}
            }}
        })
    };
    assert_eq!(
        reply.json(),
        json!({"xmpp": [
            result(0, "a1", "one"),
            result(1, "a2", "two"),
            {"kind": "iq", "type": "result", "id": "mam38", "from": "bob@localhost/archive", "to": rest_jid,
             "result": {"complete": true, "page": {"first": "a1", "last": "a2", "count": 2}}}
        ]})
    );
    server.stop().await;
}

#[tokio::test]
async fn item_39_error_bodies() {
    let server = TestServer::start().await;
    let bad_to = r#"{"to":"bad@@jid","body":"x"}"#;

    // JSON: {"type":"error","error":{…},"code":N}.
    let reply = send(post(&server, "/rest", JSON, bad_to)).await;
    reply.expect(StatusCode::UNPROCESSABLE_ENTITY, JSON);
    let body = reply.json();
    assert_eq!(
        body,
        json!({"type": "error", "code": 422, "error": {
            "type": "modify", "condition": "improper-addressing",
            "text": body["error"]["text"].clone(), "source": "switchboard"
        }})
    );
    assert!(
        body["error"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Invalid destination JID")
    );

    // XML: a stream-error-shaped <error/>.
    let reply = send(post(&server, "/rest", JSON, bad_to).header("Accept", XML)).await;
    reply.expect(StatusCode::UNPROCESSABLE_ENTITY, XML);
    let error = reply.xml();
    assert!(error.is("error", "http://etherx.jabber.org/streams"));
    assert!(error.has_child("improper-addressing", STREAMS));
    assert!(
        error
            .get_child("text", STREAMS)
            .unwrap()
            .text()
            .starts_with("Invalid destination JID")
    );

    // Divergence: without Accept and Content-Type the error is XML, not Prosody's HTML page,
    // and `Accept: text/html` does not produce HTML either.
    for accept in [None, Some("text/html")] {
        let mut request = http()
            .post(server.url("/rest"))
            .basic_auth("alice", Some(PASSWORD))
            .body("x");
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        let reply = send(request).await;
        reply.expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, XML);
        assert!(reply.xml().has_child("bad-format", STREAMS));
    }

    // The error follows negotiation like any other body: CBOR and form here.
    let reply = send(post(&server, "/rest", JSON, bad_to).header("Accept", CBOR)).await;
    reply.expect(StatusCode::UNPROCESSABLE_ENTITY, CBOR);
    assert_eq!(reply.cbor()["code"], 422);
    let reply = send(post(&server, "/rest", JSON, bad_to).header("Accept", FORM)).await;
    reply.expect(StatusCode::UNPROCESSABLE_ENTITY, FORM);
    assert!(
        reply.text().contains("error.condition=improper-addressing"),
        "{}",
        reply.text()
    );
    server.stop().await;

    // Our access layer's rate limit (no mod_rest equivalent): 429 policy-violation with
    // Retry-After in whole seconds.
    let server = TestServer::start_with(|c| {
        c.rest.rate_per_second = 0.5;
        c.rest.rate_burst = 1;
    })
    .await;
    send(post(&server, "/rest/echo", JSON, r#"{"body":"first"}"#))
        .await
        .expect(StatusCode::OK, JSON);
    let reply = send(post(&server, "/rest/echo", JSON, r#"{"body":"second"}"#)).await;
    reply.expect_json_error(StatusCode::TOO_MANY_REQUESTS, "wait", "policy-violation");
    let retry: u64 = reply
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After: {retry}");
    server.stop().await;
}

// =============================================================================================
// §6 JSON mapping (items 55–79), through `/rest/echo` and real iq exchanges

#[tokio::test]
async fn item_55_common_keys() {
    let server = TestServer::start().await;
    let input = json!({
        "kind": "message", "type": "chat", "to": "bob@localhost", "from": "alice@localhost/r",
        "id": "c55", "lang": "en", "body": "x"
    });
    assert_eq!(
        json_to_xml(&server, input.clone()).await,
        xml(
            "<message xmlns='jabber:client' type='chat' to='bob@localhost' from='alice@localhost/r' id='c55' xml:lang='en'><body>x</body></message>"
        )
    );
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    assert_eq!(
        xml_to_json(
            &server,
            "<message type='chat' to='bob@localhost' from='alice@localhost/r' id='c55' xml:lang='en'><body>x</body></message>"
        )
        .await,
        input
    );
    // JIDs are normalised.
    let out = json_roundtrip(&server, json!({"to": "Bob@LOCALHOST/Desk", "body": "x"})).await;
    assert_eq!(out["to"], "bob@localhost/Desk");
    server.stop().await;
}

#[tokio::test]
async fn item_56_implied_kind_and_type() {
    let server = TestServer::start().await;
    let cases = [
        // kind from type
        (
            json!({"type": "headline", "to": "bob@localhost"}),
            "message",
            Some("headline"),
        ),
        (
            json!({"type": "subscribe", "to": "bob@localhost"}),
            "presence",
            Some("subscribe"),
        ),
        (
            json!({"type": "set", "to": "localhost", "ping": true}),
            "iq",
            Some("set"),
        ),
        // kind from keys
        (json!({"ping": true, "to": "localhost"}), "iq", Some("get")),
        (json!({"version": {}, "to": "localhost"}), "iq", Some("get")),
        (json!({"show": "away"}), "presence", None),
        (json!({"status": "busy"}), "presence", None),
        (json!({"body": "x"}), "message", None),
        (json!({"subject": "x"}), "message", None),
        // implied types: command and archive are sets
        (
            json!({"command": "uptime", "to": "localhost"}),
            "iq",
            Some("set"),
        ),
        (json!({"archive": {}}), "iq", Some("set")),
        // default: message; iq without type: get
        (json!({"to": "bob@localhost"}), "message", None),
        (json!({"kind": "iq", "disco": true}), "iq", Some("get")),
    ];
    for (input, name, type_) in cases {
        let element = json_to_xml(&server, input.clone()).await;
        assert_eq!(element.name(), name, "{input}");
        assert_eq!(element.attr("type"), type_, "{input}");
    }
    // An unknown kind is 400.
    let reply = send(post(&server, "/rest/echo", JSON, r#"{"kind":"pizza"}"#)).await;
    reply.expect_json_error(StatusCode::BAD_REQUEST, "modify", "bad-request");
    server.stop().await;
}

#[tokio::test]
async fn item_57_presence_available_is_no_type() {
    let server = TestServer::start().await;
    assert_eq!(
        json_to_xml(
            &server,
            json!({"kind": "presence", "type": "available", "show": "dnd"})
        )
        .await,
        xml("<presence xmlns='jabber:client'><show>dnd</show></presence>")
    );
    assert_eq!(
        xml_to_json(&server, "<presence/>").await,
        json!({"kind": "presence", "type": "available"})
    );
    assert_eq!(
        xml_to_json(&server, "<presence type='unavailable'/>").await,
        json!({"kind": "presence", "type": "unavailable"})
    );
    server.stop().await;
}

#[tokio::test]
async fn item_58_error_object() {
    let server = TestServer::start().await;
    let input = json!({
        "kind": "message", "type": "error", "to": "bob@localhost", "id": "e58",
        "error": {"type": "modify", "condition": "bad-request", "text": "Nope", "by": "localhost"}
    });
    assert_eq!(
        json_to_xml(&server, input.clone()).await,
        xml(
            "<message xmlns='jabber:client' type='error' to='bob@localhost' id='e58'><error type='modify' by='localhost'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Nope</text></error></message>"
        )
    );
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    // The error object makes an error stanza and drops the payload.
    assert_eq!(
        json_to_xml(&server, json!({"kind": "presence", "body": "x", "error": {"type": "auth", "condition": "forbidden"}})).await,
        xml(
            "<presence xmlns='jabber:client' type='error'><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn item_59_body_subject_thread() {
    let server = TestServer::start().await;
    let input = json!({
        "kind": "message", "type": "groupchat", "body": "Wherefore art thou? <&>", "subject": "Balcony",
        "thread": {"id": "t-1", "parent": "t-0"}
    });
    assert_eq!(
        json_to_xml(&server, input.clone()).await,
        xml(
            "<message xmlns='jabber:client' type='groupchat'><body>Wherefore art thou? &lt;&amp;&gt;</body><subject>Balcony</subject><thread parent='t-0'>t-1</thread></message>"
        )
    );
    assert_eq!(
        json_roundtrip(&server, input).await,
        json!({
            "kind": "message", "type": "groupchat", "body": "Wherefore art thou? <&>", "subject": "Balcony",
            "thread": {"id": "t-1", "parent": "t-0"}
        })
    );
    server.stop().await;
}

#[tokio::test]
async fn item_60_chat_states() {
    let server = TestServer::start().await;
    for state in ["active", "inactive", "gone", "composing", "paused"] {
        let input = json!({"kind": "message", "type": "chat", "state": state});
        assert_eq!(
            json_to_xml(&server, input.clone()).await,
            xml(&format!(
                "<message xmlns='jabber:client' type='chat'><{state} xmlns='http://jabber.org/protocol/chatstates'/></message>"
            ))
        );
        assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    }
    let reply = send(post(&server, "/rest/echo", JSON, r#"{"state":"typing"}"#)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    server.stop().await;
}

#[tokio::test]
async fn item_61_html() {
    let server = TestServer::start().await;
    let input =
        json!({"kind": "message", "body": "Hi", "html": "<body><p>Hi <em>there</em></p></body>"});
    assert_eq!(
        json_to_xml(&server, input.clone()).await,
        xml(
            "<message xmlns='jabber:client'><body>Hi</body><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>Hi <em>there</em></p></body></html></message>"
        )
    );
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    assert_eq!(
        xml_to_json(
            &server,
            "<message><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>x</p></body></html></message>"
        )
        .await["html"],
        "<body><p>x</p></body>"
    );
    // Divergence: unparsable markup is 400 (mod_rest: an assertion, 500).
    let reply = send(post(
        &server,
        "/rest/echo",
        JSON,
        r#"{"html":"<body><p></body>"}"#,
    ))
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    server.stop().await;
}

#[tokio::test]
async fn item_62_oob_url_and_oob() {
    let server = TestServer::start().await;
    assert_eq!(
        json_to_xml(
            &server,
            json!({"body": "pic", "oob_url": "https://example.com/a.png"})
        )
        .await,
        xml(
            "<message xmlns='jabber:client'><body>pic</body><x xmlns='jabber:x:oob'><url>https://example.com/a.png</url></x></message>"
        )
    );
    // Divergence: oob and oob_url merge into one <x/>; output carries both keys.
    let input = json!({
        "kind": "message", "oob": {"url": "https://example.com/a.png", "desc": "A picture"},
        "oob_url": "https://example.com/a.png"
    });
    let element = json_to_xml(&server, input.clone()).await;
    assert_eq!(
        element
            .children()
            .filter(|c| c.is("x", "jabber:x:oob"))
            .count(),
        1
    );
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    server.stop().await;
}

#[tokio::test]
async fn item_63_replace() {
    let server = TestServer::start().await;
    let input = json!({"kind": "message", "body": "fixed", "replace": "m-1"});
    assert_eq!(
        json_to_xml(&server, input.clone()).await,
        xml(
            "<message xmlns='jabber:client'><body>fixed</body><replace xmlns='urn:xmpp:message-correct:0' id='m-1'/></message>"
        )
    );
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    server.stop().await;
}

#[tokio::test]
async fn item_64_reactions() {
    let server = TestServer::start().await;
    let input = json!({"kind": "message", "reactions": {"id": "m-1", "reactions": ["👍", "🐢"]}});
    assert_eq!(
        json_to_xml(&server, input.clone()).await,
        xml(
            "<message xmlns='jabber:client'><reactions xmlns='urn:xmpp:reactions:0' id='m-1'><reaction>👍</reaction><reaction>🐢</reaction></reactions></message>"
        )
    );
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    server.stop().await;
}

#[tokio::test]
async fn item_65_reply() {
    let server = TestServer::start().await;
    let input = json!({"kind": "message", "body": "yes", "reply": {"id": "m-1", "to": "juliet@capulet.lit/balcony"}});
    assert_eq!(
        json_to_xml(&server, input.clone()).await,
        xml(
            "<message xmlns='jabber:client'><body>yes</body><reply xmlns='urn:xmpp:reply:0' id='m-1' to='juliet@capulet.lit/balcony'/></message>"
        )
    );
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    server.stop().await;
}

#[tokio::test]
async fn item_66_stanza_ids() {
    let server = TestServer::start().await;
    let input = json!({"kind": "message", "stanza_ids": [
        {"id": "s-1", "by": "romeo@montague.lit"}, {"id": "s-2", "by": "room@muc.montague.lit"}
    ]});
    assert_eq!(
        json_to_xml(&server, input.clone()).await,
        xml(
            "<message xmlns='jabber:client'><stanza-id xmlns='urn:xmpp:sid:0' id='s-1' by='romeo@montague.lit'/><stanza-id xmlns='urn:xmpp:sid:0' id='s-2' by='room@muc.montague.lit'/></message>"
        )
    );
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    server.stop().await;
}

#[tokio::test]
async fn item_67_message_extensions() {
    let server = TestServer::start().await;
    let input = json!({
        "kind": "message", "type": "groupchat", "body": "hi @juliet",
        "occupant_id": "dd72603d", "attach_to": "m-0", "fallback": true,
        "reference": {"type": "mention", "uri": "xmpp:juliet@capulet.lit", "begin": 3, "end": 10},
        "markable": true, "displayed": "m-9", "encryption": "eu.siacs.conversations.axolotl",
        "invite": {"jid": "darkcave@macbeth.shakespeare.lit", "reason": "Hey", "password": "cauldron",
                   "thread": "e0ffe42b", "continue": true}
    });
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    let element = json_to_xml(&server, input).await;
    for (name, ns, attr, value) in [
        ("occupant-id", "urn:xmpp:occupant-id:0", "id", "dd72603d"),
        ("attach-to", "urn:xmpp:message-attaching:1", "id", "m-0"),
        ("reference", "urn:xmpp:reference:0", "begin", "3"),
        ("displayed", "urn:xmpp:chat-markers:0", "id", "m-9"),
        (
            "encryption",
            "urn:xmpp:eme:0",
            "namespace",
            "eu.siacs.conversations.axolotl",
        ),
        (
            "x",
            "jabber:x:conference",
            "jid",
            "darkcave@macbeth.shakespeare.lit",
        ),
    ] {
        let child = element
            .get_child(name, ns)
            .unwrap_or_else(|| panic!("{name} in {}", to_string(&element)));
        assert_eq!(child.attr(attr), Some(value), "{name}");
    }
    assert!(element.has_child("fallback", "urn:xmpp:fallback:0"));
    assert!(element.has_child("markable", "urn:xmpp:chat-markers:0"));
    server.stop().await;
}

#[tokio::test]
async fn item_68_delay_nick_payload_rsm() {
    let server = TestServer::start().await;
    let input = json!({
        "kind": "message", "type": "chat", "body": "late", "delay": "2002-09-10T23:08:25Z", "nick": "Ishmael",
        "payload": {"datatype": "urn:example:score", "data": {"home": 3, "away": [1, "x"], "ok": true}}
    });
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    let element = json_to_xml(&server, input).await;
    assert_eq!(
        element
            .get_child("delay", "urn:xmpp:delay")
            .unwrap()
            .attr("stamp"),
        Some("2002-09-10T23:08:25Z")
    );
    assert_eq!(
        element
            .get_child("nick", "http://jabber.org/protocol/nick")
            .unwrap()
            .text(),
        "Ishmael"
    );
    let payload = element.get_child("payload", "urn:xmpp:json-msg:0").unwrap();
    assert_eq!(payload.attr("datatype"), Some("urn:example:score"));
    let data: Value = serde_json::from_str(&payload.text()).unwrap();
    assert_eq!(data, json!({"home": 3, "away": [1, "x"], "ok": true}));

    let presence = json!({"kind": "presence", "type": "subscribe", "nick": "CallMeIshmael", "to": "bob@localhost"});
    assert_eq!(json_roundtrip(&server, presence.clone()).await, presence);

    // RSM: on any stanza in requests, and read back from results.
    let input = json!({"kind": "message", "rsm": {"max": 10, "after": "m", "before": ""}});
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    let mut bob = Peer::bound(&server, "bob", "raw").await;
    let (_, reply) = iq_exchange(
        &server,
        &mut bob,
        json!({"kind": "iq", "type": "get", "items": true}),
        "<query xmlns='http://jabber.org/protocol/disco#items'/><set xmlns='http://jabber.org/protocol/rsm'><first>a</first><last>z</last><count>800</count></set>",
    )
    .await;
    assert_eq!(
        reply.json()["rsm"],
        json!({"first": "a", "last": "z", "count": 800})
    );
    server.stop().await;
}

#[tokio::test]
async fn item_69_forwarded_and_archive_result() {
    let server = TestServer::start().await;
    let input = json!({"kind": "message", "forwarded": {
        "delay": "2010-07-10T23:08:25Z",
        "message": {"type": "chat", "from": "romeo@montague.lit/orchard", "to": "juliet@capulet.lit",
                    "id": "0202197", "body": "Yet I should kill thee", "forwarded": {
                        "message": {"body": "inner", "state": "active"}
                    }}
    }});
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    assert_eq!(
        json_to_xml(
            &server,
            json!({"forwarded": {"message": {"body": "inner"}}})
        )
        .await,
        xml(
            "<message xmlns='jabber:client'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'><body>inner</body></message></forwarded></message>"
        )
    );
    // A MAM result message.
    assert_eq!(
        xml_to_json(
            &server,
            "<message id='aeb213' to='juliet@capulet.lit/chamber'><result xmlns='urn:xmpp:mam:2' queryid='f27' id='28482-98726-73623'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2010-07-10T23:08:25Z'/><message xmlns='jabber:client' to='juliet@capulet.lit/balcony' from='romeo@montague.lit/orchard' type='chat'><body>Call me but love</body></message></forwarded></result></message>"
        )
        .await,
        json!({
            "kind": "message", "id": "aeb213", "to": "juliet@capulet.lit/chamber",
            "archive": {"queryid": "f27", "id": "28482-98726-73623", "forward": {
                "delay": "2010-07-10T23:08:25Z",
                "message": {"to": "juliet@capulet.lit/balcony", "from": "romeo@montague.lit/orchard",
                            "type": "chat", "body": "Call me but love"}
            }}
        })
    );
    server.stop().await;
}

#[tokio::test]
async fn item_70_presence_keys() {
    let server = TestServer::start().await;
    let input = json!({
        "kind": "presence", "type": "available", "to": "room@muc.localhost/nick",
        "show": "away", "status": "Out for lunch", "priority": -5,
        "caps": {"hash": "sha-1", "node": "https://example.com", "ver": "QgayPKawpkPSDYmwT/WM94uAlu0="},
        "muc": {"history": {"maxchars": 65000, "maxstanzas": 20, "seconds": 180, "since": "1970-01-01T00:00:00Z"}},
        "vcard_update": {"photo": "sha1-hash-of-image"},
        "idle_since": "1969-07-21T02:56:15Z"
    });
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    let element = json_to_xml(&server, input).await;
    assert_eq!(element.attr("type"), None);
    assert_eq!(
        element.get_child("show", "jabber:client").unwrap().text(),
        "away"
    );
    assert_eq!(
        element.get_child("status", "jabber:client").unwrap().text(),
        "Out for lunch"
    );
    assert_eq!(
        element
            .get_child("priority", "jabber:client")
            .unwrap()
            .text(),
        "-5"
    );
    assert_eq!(
        element
            .get_child("c", "http://jabber.org/protocol/caps")
            .unwrap()
            .attr("ver"),
        Some("QgayPKawpkPSDYmwT/WM94uAlu0=")
    );
    let history = element
        .get_child("x", "http://jabber.org/protocol/muc")
        .and_then(|x| x.get_child("history", "http://jabber.org/protocol/muc"))
        .expect("muc history");
    assert_eq!(history.attr("maxstanzas"), Some("20"));
    assert_eq!(
        element
            .get_child("x", "vcard-temp:x:update")
            .and_then(|x| x.get_child("photo", "vcard-temp:x:update"))
            .map(|p| p.text()),
        Some("sha1-hash-of-image".into())
    );
    assert_eq!(
        element
            .get_child("idle", "urn:xmpp:idle:1")
            .unwrap()
            .attr("since"),
        Some("1969-07-21T02:56:15Z")
    );
    // `join: true` (COMPAT) is an empty MUC element.
    assert_eq!(
        json_to_xml(
            &server,
            json!({"join": true, "to": "room@muc.localhost/nick"})
        )
        .await,
        xml(
            "<presence xmlns='jabber:client' to='room@muc.localhost/nick'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn item_71_simple_iq_payloads() {
    let server = TestServer::start().await;
    let mut bob = Peer::bound(&server, "bob", "raw").await;
    // (request JSON, what the peer must receive, its answer, the answer's JSON key and value)
    let cases: Vec<(Value, &str, &str, &str, Value)> = vec![
        (
            json!({"ping": true}),
            "<ping xmlns='urn:xmpp:ping'/>",
            "",
            "ping",
            Value::Null,
        ),
        (
            json!({"version": {}}),
            "<query xmlns='jabber:iq:version'/>",
            "<query xmlns='jabber:iq:version'><name>raw</name><version>1.0</version><os>Plan 9</os></query>",
            "version",
            json!({"name": "raw", "version": "1.0", "os": "Plan 9"}),
        ),
        (
            json!({"lastactivity": true}),
            "<query xmlns='jabber:iq:last'/>",
            "<query xmlns='jabber:iq:last' seconds='903'>Heading Home</query>",
            "lastactivity",
            json!({"seconds": 903, "status": "Heading Home"}),
        ),
        (
            json!({"stats": true}),
            "<query xmlns='http://jabber.org/protocol/stats'/>",
            "<query xmlns='http://jabber.org/protocol/stats'><stat name='users/online' unit='users' value='12'/><stat name='time/uptime'/></query>",
            "stats",
            json!([{"name": "users/online", "unit": "users", "value": 12}, {"name": "time/uptime"}]),
        ),
        (
            json!({"extdisco": {"type": "stun"}}),
            "<services xmlns='urn:xmpp:extdisco:2' type='stun'/>",
            "<services xmlns='urn:xmpp:extdisco:2' type='stun'><service type='stun' host='stun.example.com' port='3478' transport='udp' restricted='false'/></services>",
            "extdisco",
            json!({"type": "stun", "services": [
                {"type": "stun", "host": "stun.example.com", "port": 3478, "transport": "udp", "restricted": false}
            ]}),
        ),
        (
            json!({"type": "set", "oob": {"url": "https://example.com/file", "desc": "A file"}}),
            "<query xmlns='jabber:iq:oob'><url>https://example.com/file</url><desc>A file</desc></query>",
            "",
            "oob",
            Value::Null,
        ),
        (
            json!({"gateway": true}),
            "<query xmlns='jabber:iq:gateway'/>",
            "<query xmlns='jabber:iq:gateway'><desc>Enter the phone number</desc><prompt>Phone Number</prompt></query>",
            "gateway",
            json!({"desc": "Enter the phone number", "prompt": "Phone Number"}),
        ),
        (
            json!({"register": true}),
            "<query xmlns='jabber:iq:register'/>",
            "<query xmlns='jabber:iq:register'><instructions>Choose a username</instructions><username/><password/></query>",
            "register",
            json!({"instructions": "Choose a username", "username": "", "password": ""}),
        ),
    ];
    for (request, expected, answer, key, value) in cases {
        let (iq, reply) = iq_exchange(&server, &mut bob, request.clone(), answer).await;
        assert_eq!(payload(&iq), xml(expected), "{request}");
        let body = reply.json();
        assert_eq!(body["type"], "result", "{body}");
        assert_eq!(body["from"], "bob@localhost/raw", "{body}");
        assert_eq!(body[key], value, "{request} → {body}");
    }

    // A `register` set with `remove`.
    let (iq, _) = iq_exchange(
        &server,
        &mut bob,
        json!({"type": "set", "register": {"remove": true}}),
        "",
    )
    .await;
    assert_eq!(iq.attr("type"), Some("set"));
    assert_eq!(
        payload(&iq),
        xml("<query xmlns='jabber:iq:register'><remove/></query>")
    );
    server.stop().await;
}

#[tokio::test]
async fn item_72_disco_info() {
    let server = TestServer::start().await;
    // The server's own disco#info.
    let reply = send(get(&server, "/rest/disco/localhost").header("Accept", JSON)).await;
    reply.expect(StatusCode::OK, JSON);
    let body = reply.json();
    let disco = &body["disco"];
    assert!(
        disco["identities"]
            .as_array()
            .unwrap()
            .contains(&json!({"category": "server", "type": "im", "name": "Switchboard"})),
        "{body}"
    );
    let features = disco["features"].as_array().unwrap();
    for feature in [
        "http://jabber.org/protocol/disco#info",
        "urn:xmpp:ping",
        "jabber:iq:version",
    ] {
        assert!(features.contains(&json!(feature)), "{feature} in {body}");
    }

    // A node request and a full response with extensions, through a peer.
    let mut bob = Peer::bound(&server, "bob", "raw").await;
    let (iq, reply) = iq_exchange(
        &server,
        &mut bob,
        json!({"disco": "urn:example:node"}),
        "<query xmlns='http://jabber.org/protocol/disco#info' node='urn:example:node'><identity category='client' type='bot' name='Raw'/><feature var='urn:xmpp:ping'/><x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field><field var='os' type='text-single'><value>Plan 9</value></field></x></query>",
    )
    .await;
    assert_eq!(
        payload(&iq),
        xml("<query xmlns='http://jabber.org/protocol/disco#info' node='urn:example:node'/>")
    );
    assert_eq!(
        reply.json()["disco"],
        json!({
            "node": "urn:example:node",
            "identities": [{"category": "client", "type": "bot", "name": "Raw"}],
            "features": ["urn:xmpp:ping"],
            "extensions": {"urn:xmpp:dataforms:softwareinfo": {"os": "Plan 9"}}
        })
    );
    let (iq, _) = iq_exchange(&server, &mut bob, json!({"disco": true}), "").await;
    assert_eq!(
        payload(&iq),
        xml("<query xmlns='http://jabber.org/protocol/disco#info'/>")
    );
    server.stop().await;
}

#[tokio::test]
async fn item_73_disco_items() {
    let server =
        TestServer::start_with(|c| c.admins = vec!["alice@localhost".parse().unwrap()]).await;
    // The server's command list (the README's discovery example).
    let reply = send(
        get(
            &server,
            "/rest/items/localhost?node=http%3A%2F%2Fjabber.org%2Fprotocol%2Fcommands",
        )
        .header("Accept", JSON),
    )
    .await;
    reply.expect(StatusCode::OK, JSON);
    let body = reply.json();
    let items = body["items"].as_array().expect("items array");
    assert!(
        items
            .iter()
            .any(|i| i["jid"] == "localhost" && i["node"] == "uptime" && i["name"].is_string()),
        "{body}"
    );

    let mut bob = Peer::bound(&server, "bob", "raw").await;
    for (request, expected) in [
        (
            json!({"items": true}),
            "<query xmlns='http://jabber.org/protocol/disco#items'/>",
        ),
        (
            json!({"items": "urn:example:n"}),
            "<query xmlns='http://jabber.org/protocol/disco#items' node='urn:example:n'/>",
        ),
        (
            json!({"items": {"node": "urn:example:n"}}),
            "<query xmlns='http://jabber.org/protocol/disco#items' node='urn:example:n'/>",
        ),
    ] {
        let (iq, reply) = iq_exchange(
            &server,
            &mut bob,
            request.clone(),
            "<query xmlns='http://jabber.org/protocol/disco#items'><item jid='conference.example.com' name='Chatrooms'/><item jid='example.com' node='uptime' name='Get uptime'/></query>",
        )
        .await;
        assert_eq!(payload(&iq), xml(expected), "{request}");
        assert_eq!(
            reply.json()["items"],
            json!([
                {"jid": "conference.example.com", "name": "Chatrooms"},
                {"jid": "example.com", "node": "uptime", "name": "Get uptime"}
            ])
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn item_74_ad_hoc_commands() {
    let server =
        TestServer::start_with(|c| c.admins = vec!["alice@localhost".parse().unwrap()]).await;
    // The README's execute example, against the server.
    let reply = send(
        post(
            &server,
            "/rest",
            JSON,
            r#"{"command":{"node":"uptime"},"id":"Jv-87nRaP6Mnrp8l","kind":"iq","to":"localhost","type":"set"}"#,
        ),
    )
    .await;
    reply.expect(StatusCode::OK, JSON);
    let body = reply.json();
    assert_eq!(body["id"], "Jv-87nRaP6Mnrp8l");
    assert_eq!(body["type"], "result");
    let command = &body["command"];
    assert_eq!(command["node"], "uptime");
    assert_eq!(command["status"], "completed");
    assert!(command["sessionid"].is_string());
    assert_eq!(command["note"]["type"], "info");
    assert!(command["note"]["text"].is_string());

    // The string form and the full object with actions, note, form and data, through a peer.
    let mut bob = Peer::bound(&server, "bob", "raw").await;
    let (iq, _) = iq_exchange(&server, &mut bob, json!({"command": "config"}), "").await;
    assert_eq!(iq.attr("type"), Some("set"));
    assert_eq!(
        payload(&iq),
        xml("<command xmlns='http://jabber.org/protocol/commands' node='config'/>")
    );
    let (iq, reply) = iq_exchange(
        &server,
        &mut bob,
        json!({"command": {"node": "config", "action": "next", "sessionid": "s1", "data": {"name": "x"}}}),
        "<command xmlns='http://jabber.org/protocol/commands' node='config' sessionid='s1' status='executing'><actions execute='complete'><prev/><complete/></actions><note type='warn'>Careful</note><x xmlns='jabber:x:data' type='form'><title>Step 2</title><field var='ok' type='boolean' label='OK?'/></x></command>",
    )
    .await;
    assert_eq!(
        payload(&iq),
        xml(
            "<command xmlns='http://jabber.org/protocol/commands' node='config' action='next' sessionid='s1'><x xmlns='jabber:x:data' type='submit'><field var='name'><value>x</value></field></x></command>"
        )
    );
    assert_eq!(
        reply.json()["command"],
        json!({
            "node": "config", "sessionid": "s1", "status": "executing",
            "actions": {"execute": "complete", "prev": true, "complete": true},
            "note": {"type": "warn", "text": "Careful"},
            "form": {"type": "form", "title": "Step 2", "fields": [{"var": "ok", "type": "boolean", "label": "OK?"}]}
        })
    );
    server.stop().await;
}

#[tokio::test]
async fn item_75_dataform_and_formdata() {
    let server = TestServer::start().await;
    let input = json!({
        "kind": "message",
        "dataform": {"type": "form", "title": "Configure", "instructions": "Fill in", "fields": [
            {"var": "FORM_TYPE", "type": "hidden", "value": "urn:example"},
            {"var": "name", "type": "text-single", "label": "Name", "desc": "Your name", "required": true, "value": "Romeo"},
            {"var": "bio", "type": "text-multi", "value": "line one\nline two"},
            {"var": "jids", "type": "jid-multi", "value": ["a@example.com", "b@example.com"]},
            {"var": "colour", "type": "list-single", "value": "red", "options": [
                {"label": "Red", "value": "red"}, {"value": "blue"}
            ]}
        ]}
    });
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    let element = json_to_xml(&server, input).await;
    let form = element.get_child("x", "jabber:x:data").expect("a form");
    let bio = form
        .children()
        .find(|f| f.attr("var") == Some("bio"))
        .unwrap();
    // Divergence: text-multi is one <value> per line.
    assert_eq!(bio.children().filter(|v| v.name() == "value").count(), 2);
    // Divergence: options come from `options` (mod_rest read them from `value`).
    let colour = form
        .children()
        .find(|f| f.attr("var") == Some("colour"))
        .unwrap();
    assert_eq!(
        colour.children().filter(|o| o.name() == "option").count(),
        2
    );

    // formdata: a simple map submitted as a form (divergence: typed `submit` with FORM_TYPE
    // first).
    assert_eq!(
        json_to_xml(
            &server,
            json!({"kind": "message", "formdata": {"FORM_TYPE": "urn:example", "x": ["1", "2"]}})
        )
        .await,
        xml(
            "<message xmlns='jabber:client'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:example</value></field><field var='x'><value>1</value><value>2</value></field></x></message>"
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn item_76_archive_query_and_page() {
    let server = TestServer::start().await;
    let mut bob = Peer::bound(&server, "bob", "raw").await;
    let (iq, reply) = iq_exchange(
        &server,
        &mut bob,
        json!({"archive": {"queryid": "q76", "with": "carol@localhost", "start": "2024-01-01T00:00:00Z", "ids": "a,b", "max": 5, "after": "x"}}),
        "<fin xmlns='urn:xmpp:mam:2' complete='true'><set xmlns='http://jabber.org/protocol/rsm'><first>a</first><last>b</last><count>2</count></set></fin>",
    )
    .await;
    assert_eq!(iq.attr("type"), Some("set"));
    // Divergence: unset form fields are omitted (mod_rest emitted empty ones).
    assert_eq!(
        payload(&iq),
        xml(
            "<query xmlns='urn:xmpp:mam:2' queryid='q76'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='with'><value>carol@localhost</value></field><field var='start'><value>2024-01-01T00:00:00Z</value></field><field var='ids'><value>a</value><value>b</value></field></x><set xmlns='http://jabber.org/protocol/rsm'><max>5</max><after>x</after></set></query>"
        )
    );
    // fin → result.page (divergence: complete/stable mapped too).
    assert_eq!(
        reply.json()["result"],
        json!({"complete": true, "page": {"first": "a", "last": "b", "count": 2}})
    );

    // The explicit form: archive.form / archive.page as mod_rest's schema has them.
    let input = json!({"kind": "iq", "type": "set", "to": "bob@localhost", "archive": {
        "queryid": "f27",
        "form": {"type": "submit", "fields": [
            {"var": "FORM_TYPE", "type": "hidden", "values": ["urn:xmpp:mam:2"]},
            {"var": "with", "values": ["juliet@capulet.lit"]}
        ]},
        "page": {"max": 10, "after": "09af3-cc343-b409f"}
    }});
    assert_eq!(json_roundtrip(&server, input.clone()).await, input);
    server.stop().await;
}

#[tokio::test]
async fn item_77_http_upload() {
    let server = TestServer::start().await;
    let mut bob = Peer::bound(&server, "bob", "raw").await;
    let slot = "<slot xmlns='urn:xmpp:http:upload:0'><put url='https://upload.example.com/put/x.jpg'><header name='Authorization'>Basic Base64String==</header></put><get url='https://download.example.com/x.jpg'/></slot>";
    let (iq, reply) = iq_exchange(
        &server,
        &mut bob,
        json!({"upload_request": {"filename": "très cool.jpg", "size": 23456, "content-type": "image/jpeg"}}),
        slot,
    )
    .await;
    assert_eq!(iq.attr("type"), Some("get"));
    assert_eq!(
        payload(&iq),
        xml(
            "<request xmlns='urn:xmpp:http:upload:0' filename='très cool.jpg' size='23456' content-type='image/jpeg'/>"
        )
    );
    assert_eq!(
        reply.json()["upload_slot"],
        json!({
            "put": {"url": "https://upload.example.com/put/x.jpg", "headers": [{"name": "Authorization", "value": "Basic Base64String=="}]},
            "get": {"url": "https://download.example.com/x.jpg"}
        })
    );

    // The OpenAPI GET form: query strings are text, `size` becomes a number.
    let pending = spawn(get(
        &server,
        "/rest/upload_request/bob@localhost/raw?filename=a.png&size=123&content-type=image%2Fpng",
    ));
    let iq = bob.answer_iq(slot).await;
    assert_eq!(
        payload(&iq),
        xml(
            "<request xmlns='urn:xmpp:http:upload:0' filename='a.png' size='123' content-type='image/png'/>"
        )
    );
    pending.await.unwrap().expect(StatusCode::OK, XML);
    server.stop().await;
}

#[tokio::test]
async fn item_78_blocking() {
    let server = TestServer::start().await;
    let mut bob = Peer::bound(&server, "bob", "raw").await;
    let (iq, reply) = iq_exchange(
        &server,
        &mut bob,
        json!({"block": [
            {"jid": "spammer@example.com", "report": {"reason": "urn:xmpp:reporting:spam",
                "stanza_ids": [{"id": "s1", "by": "alice@localhost"}]}},
            {"jid": "example.net"}
        ]}),
        "",
    )
    .await;
    // Divergence: `block` implies type set.
    assert_eq!(iq.attr("type"), Some("set"));
    assert_eq!(
        payload(&iq),
        xml(
            "<block xmlns='urn:xmpp:blocking'><item jid='spammer@example.com'><report xmlns='urn:xmpp:reporting:1' reason='urn:xmpp:reporting:spam'><stanza-id xmlns='urn:xmpp:sid:0' id='s1' by='alice@localhost'/></report></item><item jid='example.net'/></block>"
        )
    );
    assert_eq!(reply.json()["type"], "result");

    let (iq, reply) = iq_exchange(
        &server,
        &mut bob,
        json!({"blocklist": true}),
        "<blocklist xmlns='urn:xmpp:blocking'><item jid='a@example.com'/><item jid='example.net'/></blocklist>",
    )
    .await;
    assert_eq!(iq.attr("type"), Some("get"));
    assert_eq!(payload(&iq), xml("<blocklist xmlns='urn:xmpp:blocking'/>"));
    assert_eq!(
        reply.json()["blocklist"],
        json!([{"jid": "a@example.com"}, {"jid": "example.net"}])
    );
    server.stop().await;
}

#[tokio::test]
async fn item_79_unknown_keys_and_children() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    // Unknown JSON keys are ignored.
    assert_eq!(
        json_to_xml(
            &server,
            json!({"body": "hi", "frobnicate": [1, 2], "unblock": ["a@b"]})
        )
        .await,
        xml("<message xmlns='jabber:client'><body>hi</body></message>")
    );
    // Unknown XML children are dropped from JSON…
    assert_eq!(
        xml_to_json(
            &server,
            "<message type='chat'><body>hi</body><request xmlns='urn:xmpp:receipts'/><custom xmlns='urn:example:x'/></message>"
        )
        .await,
        json!({"kind": "message", "type": "chat", "body": "hi"})
    );
    // …but an XML request keeps them all the way to the recipient.
    send(post(
        &server,
        "/rest",
        XML,
        "<message to='bob@localhost' id='u79'><body>hi</body><request xmlns='urn:xmpp:receipts'/></message>",
    ))
    .await
    .expect_accepted();
    assert_eq!(
        archived(bob.next_named("message").await, "bob@localhost"),
        xml(
            "<message xmlns='jabber:client' to='bob@localhost' id='u79' from='alice@localhost'><body>hi</body><request xmlns='urn:xmpp:receipts'/></message>"
        )
    );
    server.stop().await;
}

// =============================================================================================
// Item 80: demo mode (Swagger UI, `/rest/demo/openapi.yaml`) is not provided; our OpenAPI
// document is `/rest/openapi.json` (docs/compatibility.md). Item 81 (CORS): tests/http_edge.rs.

#[tokio::test]
async fn item_80_no_demo_mode() {
    // There is no demo mode (the description is always at /rest/openapi.json): `demo` is read
    // as a GET payload key like any other, which names no payload, so the iq has no child —
    // what Prosody without demo mode answers too.
    let server = TestServer::start().await;
    let reply = send(get(&server, "/rest/demo/")).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    let openapi = send(http().get(server.url("/rest/openapi.json"))).await;
    assert_eq!(openapi.status, StatusCode::OK);
    server.stop().await;
}

// =============================================================================================
// §9 mod_post_msg (items 82–84)

#[tokio::test]
async fn item_82_post_msg_basic_auth_with_full_jid() {
    let server = TestServer::start().await;
    let mut bob = online(&server, "bob@localhost/phone").await;
    let reply = send(
        http()
            .post(server.url("/msg/bob@localhost"))
            .basic_auth("alice@localhost", Some(PASSWORD))
            .header("Content-Type", TEXT)
            .body("Server@host has just crashed!"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert!(reply.body.is_empty());
    let message = next_message(&mut bob).await;
    assert_eq!(body_of(&message), "Server@host has just crashed!");
    assert_eq!(message.from.unwrap().to_string(), "alice@localhost");

    // Divergence: the localpart alone works too, and `/msg/user` is user@domain.
    let reply = send(
        http()
            .post(server.url("/msg/bob"))
            .basic_auth("alice", Some(PASSWORD))
            .header("Content-Type", TEXT)
            .body("localpart"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(body_of(&next_message(&mut bob).await), "localpart");
    server.stop().await;
}

#[tokio::test]
async fn item_83_post_msg_payloads() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    let post_msg = |path: &str, content_type: &str, body: &str| {
        http()
            .post(server.url(path))
            .basic_auth("alice@localhost", Some(PASSWORD))
            .header("Content-Type", content_type)
            .body(body.to_owned())
    };

    // text/plain: the body, chat.
    let reply = send(post_msg("/msg/bob@localhost", TEXT, "plain text")).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(
        without_id(archived(bob.next_named("message").await, "bob@localhost")),
        xml(
            "<message xmlns='jabber:client' to='bob@localhost' from='alice@localhost' type='chat'><body>plain text</body></message>"
        )
    );

    // Form: to, type, body, html.
    let reply = send(post_msg(
        "/msg/",
        FORM,
        "to=bob%40localhost&type=headline&body=Build+failed&html=%3Cp%3EBuild+%3Cb%3Efailed%3C%2Fb%3E%3C%2Fp%3E",
    ))
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(
        without_id(bob.next_named("message").await),
        xml(
            "<message xmlns='jabber:client' to='bob@localhost' from='alice@localhost' type='headline'><body>Build failed</body><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>Build <b>failed</b></p></body></html></message>"
        )
    );

    // JSON: to, type, body.
    let reply = send(post_msg(
        "/msg",
        JSON,
        r#"{"to":"bob@localhost","type":"normal","body":"Disk 98% full"}"#,
    ))
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(
        without_id(archived(bob.next_named("message").await, "bob@localhost")),
        xml(
            "<message xmlns='jabber:client' to='bob@localhost' from='alice@localhost' type='normal'><body>Disk 98% full</body></message>"
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn item_84_post_msg_statuses_and_options() {
    let server = TestServer::start().await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    let post_msg = |path: &str, content_type: &str, body: &str| {
        http()
            .post(server.url(path))
            .basic_auth("alice@localhost", Some(PASSWORD))
            .header("Content-Type", content_type)
            .body(body.to_owned())
    };

    // 400: JSON that does not parse; html that is not XML.
    let reply = send(post_msg("/msg/bob@localhost", JSON, "{not json")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = send(post_msg(
        "/msg/bob@localhost",
        FORM,
        "body=x&html=%3Cp%3Eunclosed",
    ))
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    // 401 with the post_msg realm: no credentials, wrong password.
    let reply = send(
        http()
            .post(server.url("/msg/bob@localhost"))
            .header("Content-Type", TEXT)
            .body("x"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Basic realm="localhost/post_msg""#)
    );
    let reply = send(
        http()
            .post(server.url("/msg/bob@localhost"))
            .basic_auth("alice@localhost", Some("wrong"))
            .header("Content-Type", TEXT)
            .body("x"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // Divergence: WWW-Authenticate on every 401.
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Basic realm="localhost/post_msg""#)
    );

    // 415: another media type.
    let reply = send(post_msg("/msg/bob@localhost", "application/xml", "<x/>")).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // 422: no recipient.
    let reply = send(post_msg("/msg/", TEXT, "to nobody")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = send(post_msg("/msg", FORM, "body=to+nobody")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);

    // OPTIONS advertises Allow and Accept, without credentials. Divergence: OPTIONS is listed
    // in Allow and JSON in Accept.
    let reply = send(http().request(reqwest::Method::OPTIONS, server.url("/msg"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("allow"), Some("POST, OPTIONS"));
    assert_eq!(
        reply.header("accept"),
        Some("application/x-www-form-urlencoded, text/plain, application/json")
    );

    // None of the refused requests sent anything.
    bob.no_message_within(Duration::from_millis(300)).await;
    server.stop().await;
}
