//! App login for browsers (issue 14): the JWT cookie at the WebSocket upgrade with its Origin
//! rule, SASL EXTERNAL, OAUTHBEARER and PLAIN with a token, provisioning, expiry, the served
//! AsyncAPI document (every example replayed here), static hosting and the development login.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use minidom::Element;
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_server::auth::jwt;
use switchboard_server::config::{Config, JwtConfig, Secret};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const SECRET: &str = "app-login test secret, 32+ bytes long";
const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const OPEN: &str =
    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>";

fn jwt_on(config: &mut Config) {
    config.auth.jwt.secret = Some(Secret::from(SECRET));
    // Tokens go stale at once in the expiry tests.
    config.auth.jwt.leeway_secs = 0;
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn token_for(user: &str) -> String {
    token(json!({ "sub": user, "exp": now() + 600 }))
}

/// The upgrade request, with a cookie and an Origin when given.
fn upgrade_request(
    server: &TestServer,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> tungstenite::handshake::client::Request {
    let mut request = server
        .url("/xmpp-websocket")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
    if let Some(cookie) = cookie {
        let value = format!("theme=dark; auth_token={cookie}");
        headers.insert("Cookie", HeaderValue::from_str(&value).unwrap());
    }
    if let Some(origin) = origin {
        headers.insert("Origin", HeaderValue::from_str(origin).unwrap());
    }
    request
}

fn own_origin(server: &TestServer) -> String {
    format!("http://{}", server.http)
}

async fn upgrade(server: &TestServer, cookie: Option<&str>) -> Ws {
    let origin = own_origin(server);
    let request = upgrade_request(server, cookie, Some(&origin));
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The status and JSON body of a refused upgrade.
async fn refused(
    server: &TestServer,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> (StatusCode, Value) {
    let request = upgrade_request(server, cookie, origin);
    match tokio_tungstenite::connect_async(request).await {
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            (
                StatusCode::from_u16(response.status().as_u16()).unwrap(),
                serde_json::from_slice(&body).unwrap(),
            )
        }
        other => panic!("expected a refused upgrade, got {:?}", other.map(|_| ())),
    }
}

fn mechanisms(features: &Element) -> Vec<String> {
    features
        .get_child("mechanisms", SASL)
        .map(|m| m.children().map(|m| m.text()).collect())
        .unwrap_or_default()
}

/// Opens the stream and returns the SASL mechanisms offered.
async fn open(ws: &mut Ws) -> Vec<String> {
    ws_send(ws, OPEN).await;
    ws_recv_named(ws, "open").await;
    mechanisms(&ws_recv_named(ws, "features").await)
}

async fn auth(ws: &mut Ws, mechanism: &str, data: &[u8]) -> Element {
    let payload = if data.is_empty() {
        "=".to_owned()
    } else {
        STANDARD.encode(data)
    };
    ws_send(
        ws,
        &format!("<auth xmlns='{SASL}' mechanism='{mechanism}'>{payload}</auth>"),
    )
    .await;
    ws_recv(ws).await.expect("an answer to <auth/>")
}

async fn bind(ws: &mut Ws, resource: &str) -> String {
    ws_send(ws, OPEN).await;
    ws_recv_named(ws, "open").await;
    ws_recv_named(ws, "features").await;
    ws_send(ws, &format!("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{resource}</resource></bind></iq>")).await;
    let bound = ws_recv_named(ws, "iq").await;
    bound
        .get_child("bind", "urn:ietf:params:xml:ns:xmpp-bind")
        .and_then(|b| b.get_child("jid", "urn:ietf:params:xml:ns:xmpp-bind"))
        .map(|j| j.text())
        .expect("a bound JID")
}

/// A cookie stream logged in with EXTERNAL and bound to `resource`.
async fn cookie_session(server: &TestServer, user: &str, resource: &str) -> Ws {
    let mut ws = upgrade(server, Some(&token_for(user))).await;
    assert_eq!(open(&mut ws).await, ["EXTERNAL"]);
    assert_eq!(auth(&mut ws, "EXTERNAL", b"").await.name(), "success");
    bind(&mut ws, resource).await;
    ws
}

#[tokio::test]
async fn a_good_cookie_logs_in_with_external_and_provisions_the_account() {
    let server = TestServer::start_with(jwt_on).await;
    let accounts = server.running.as_ref().unwrap().accounts().clone();
    assert!(!accounts.exists("zoe").await.unwrap());
    let mut ws = upgrade(&server, Some(&token_for("zoe"))).await;
    assert_eq!(open(&mut ws).await, ["EXTERNAL"]);
    assert_eq!(auth(&mut ws, "EXTERNAL", b"").await.name(), "success");
    assert_eq!(bind(&mut ws, "web").await, "zoe@localhost/web");
    assert!(accounts.exists("zoe").await.unwrap());
    // The provisioned account has no password: no password checks out against it.
    assert!(!accounts.check_password("zoe", PASSWORD).await.unwrap());
    assert!(!accounts.check_password("zoe", "").await.unwrap());

    // An authorization identity naming the same account is fine; another one is not.
    let mut same = upgrade(&server, Some(&token_for("alice"))).await;
    open(&mut same).await;
    assert_eq!(
        auth(&mut same, "EXTERNAL", b"alice@localhost").await.name(),
        "success"
    );
    let mut other = upgrade(&server, Some(&token_for("alice"))).await;
    open(&mut other).await;
    let failure = auth(&mut other, "EXTERNAL", b"bob@localhost").await;
    assert_eq!(failure.name(), "failure");
    assert!(failure.has_child("invalid-authzid", SASL), "{failure:?}");
    // Password mechanisms are not offered on a cookie stream.
    let mut plain_try = upgrade(&server, Some(&token_for("alice"))).await;
    open(&mut plain_try).await;
    let failure = auth(&mut plain_try, "PLAIN", b"\0alice\0correct horse").await;
    assert!(failure.has_child("invalid-mechanism", SASL), "{failure:?}");
    server.stop().await;
}

#[tokio::test]
async fn bad_expired_and_missing_cookies() {
    let server = TestServer::start_with(jwt_on).await;
    let origin = own_origin(&server);
    let (status, body) = refused(&server, Some("not.a.jwt"), Some(&origin)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": "alice", "exp": now() + 600 }),
        &jsonwebtoken::EncodingKey::from_secret(b"some other secret of enough length").unwrap(),
    )
    .unwrap();
    let (status, body) = refused(&server, Some(&forged), Some(&origin)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");
    let expired = token(json!({ "sub": "alice", "exp": now() - 10 }));
    let (status, body) = refused(&server, Some(&expired), Some(&origin)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "token_expired");
    let elsewhere = token_for("alice@elsewhere.example");
    let (status, body) = refused(&server, Some(&elsewhere), Some(&origin)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "token_names_no_account_here");
    // Without the cookie the stream is an ordinary one: no EXTERNAL, the password mechanisms
    // and OAUTHBEARER.
    let mut ws = upgrade(&server, None).await;
    let offered = open(&mut ws).await;
    assert!(!offered.contains(&"EXTERNAL".to_owned()), "{offered:?}");
    assert!(offered.contains(&"OAUTHBEARER".to_owned()), "{offered:?}");
    assert!(offered.contains(&"PLAIN".to_owned()), "{offered:?}");
    let failure = auth(&mut ws, "EXTERNAL", b"").await;
    assert!(failure.has_child("invalid-mechanism", SASL), "{failure:?}");
    // Refused cookies count as failed logins of the address (auth.max_attempts, 5): the fifth
    // is still answered, then even a good cookie waits for the window to pass.
    let (status, _) = refused(&server, Some("still.not.valid"), Some(&origin)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = refused(&server, Some(&token_for("alice")), Some(&origin)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"], "too_many_failed_logins");
    server.stop().await;
}

#[tokio::test]
async fn cross_origin_cookie_upgrades_are_refused() {
    let server = TestServer::start_with(jwt_on).await;
    let cookie = token_for("alice");
    for origin in [
        Some("https://evil.example"),
        Some("http://localhost.evil.example"),
        None,
    ] {
        let (status, body) = refused(&server, Some(&cookie), origin).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{origin:?}");
        assert_eq!(body["error"], "origin_not_allowed");
    }
    // Without a cookie there is nothing to hijack: any origin opens an ordinary stream.
    let request = upgrade_request(&server, None, Some("https://evil.example"));
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    server.stop().await;

    let server = TestServer::start_with(|config| {
        jwt_on(config);
        config.http.websocket_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let request = upgrade_request(&server, Some(&cookie), Some("https://app.example.com"));
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    // The list replaces the default: the server's own origin is not in it.
    let own = own_origin(&server);
    let (status, _) = refused(&server, Some(&cookie), Some(&own)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test]
async fn oauthbearer_and_plain_with_a_token_on_tcp_and_websocket() {
    let server = TestServer::start_with(jwt_on).await;
    let bearer = |token: &str| format!("n,,\x01auth=Bearer {token}\x01\x01");
    // OAUTHBEARER over WebSocket.
    let mut ws = upgrade(&server, None).await;
    open(&mut ws).await;
    let msg = bearer(&token_for("alice"));
    assert_eq!(
        auth(&mut ws, "OAUTHBEARER", msg.as_bytes()).await.name(),
        "success"
    );
    assert_eq!(bind(&mut ws, "oauth").await, "alice@localhost/oauth");
    // A refused token: the RFC 7628 error challenge, the client's 0x01, then the failure.
    let mut ws = upgrade(&server, None).await;
    open(&mut ws).await;
    let expired = bearer(&token(json!({ "sub": "alice", "exp": now() - 10 })));
    let challenge = auth(&mut ws, "OAUTHBEARER", expired.as_bytes()).await;
    assert_eq!(challenge.name(), "challenge");
    let error: Value = serde_json::from_slice(&STANDARD.decode(challenge.text()).unwrap()).unwrap();
    assert_eq!(error["status"], "invalid_token");
    ws_send(
        &mut ws,
        &format!(
            "<response xmlns='{SASL}'>{}</response>",
            STANDARD.encode("\x01")
        ),
    )
    .await;
    let failure = ws_recv(&mut ws).await.unwrap();
    assert!(failure.has_child("not-authorized", SASL), "{failure:?}");
    // A token for alice with an authorization identity for bob.
    let mut ws = upgrade(&server, None).await;
    open(&mut ws).await;
    let msg = format!(
        "n,a=bob@localhost,\x01auth=Bearer {}\x01\x01",
        token_for("alice")
    );
    let failure = auth(&mut ws, "OAUTHBEARER", msg.as_bytes()).await;
    assert!(failure.has_child("invalid-authzid", SASL), "{failure:?}");

    // PLAIN with the token as password, over TCP; the account's password still works too.
    let mut raw = RawTcp::connect(server.c2s).await;
    raw.send(STREAM_HEADER).await;
    let features = raw.read_until("</stream:features>").await;
    assert!(
        features.contains("<mechanism>OAUTHBEARER</mechanism>"),
        "{features}"
    );
    let plain = STANDARD.encode(format!("\0bob\0{}", token_for("bob")));
    raw.send(&format!(
        "<auth xmlns='{SASL}' mechanism='PLAIN'>{plain}</auth>"
    ))
    .await;
    raw.read_until("<success").await;
    // A token of another account is no password of this one.
    let mut raw = RawTcp::connect(server.c2s).await;
    raw.send(STREAM_HEADER).await;
    raw.read_until("</stream:features>").await;
    let plain = STANDARD.encode(format!("\0bob\0{}", token_for("alice")));
    raw.send(&format!(
        "<auth xmlns='{SASL}' mechanism='PLAIN'>{plain}</auth>"
    ))
    .await;
    raw.read_until("<not-authorized").await;
    // OAUTHBEARER over TCP.
    let mut raw = RawTcp::connect(server.c2s).await;
    raw.send(STREAM_HEADER).await;
    raw.read_until("</stream:features>").await;
    let msg = STANDARD.encode(bearer(&token_for("carol")));
    raw.send(&format!(
        "<auth xmlns='{SASL}' mechanism='OAUTHBEARER'>{msg}</auth>"
    ))
    .await;
    raw.read_until("<success").await;
    server.stop().await;

    // accept_as_password = false: the token is only a (wrong) password.
    let server = TestServer::start_with(|config| {
        jwt_on(config);
        config.auth.jwt.accept_as_password = false;
    })
    .await;
    let mut raw = RawTcp::connect(server.c2s).await;
    raw.send(STREAM_HEADER).await;
    raw.read_until("</stream:features>").await;
    let plain = STANDARD.encode(format!("\0bob\0{}", token_for("bob")));
    raw.send(&format!(
        "<auth xmlns='{SASL}' mechanism='PLAIN'>{plain}</auth>"
    ))
    .await;
    raw.read_until("<not-authorized").await;
    server.stop().await;
}

#[tokio::test]
async fn provision_off_requires_the_account() {
    let server = TestServer::start_with(|config| {
        jwt_on(config);
        config.auth.jwt.provision = false;
    })
    .await;
    let origin = own_origin(&server);
    let (status, body) = refused(&server, Some(&token_for("zoe")), Some(&origin)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "no_such_account");
    cookie_session(&server, "alice", "web").await;
    server.stop().await;
}

#[tokio::test]
async fn sessions_end_at_token_expiry_only_when_asked() {
    let server = TestServer::start_with(|config| {
        jwt_on(config);
        config.auth.jwt.end_session_at_expiry = true;
    })
    .await;
    let mut ws = upgrade(
        &server,
        Some(&token(json!({ "sub": "alice", "exp": now() + 2 }))),
    )
    .await;
    open(&mut ws).await;
    auth(&mut ws, "EXTERNAL", b"").await;
    bind(&mut ws, "web").await;
    let error = ws_recv_named(&mut ws, "error").await;
    assert!(
        error.has_child("not-authorized", "urn:ietf:params:xml:ns:xmpp-streams"),
        "{error:?}"
    );
    server.stop().await;

    let server = TestServer::start_with(jwt_on).await;
    let mut ws = upgrade(
        &server,
        Some(&token(json!({ "sub": "alice", "exp": now() + 1 }))),
    )
    .await;
    open(&mut ws).await;
    auth(&mut ws, "EXTERNAL", b"").await;
    bind(&mut ws, "web").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    ws_send(
        &mut ws,
        "<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>",
    )
    .await;
    let pong = ws_recv_named(&mut ws, "iq").await;
    assert_eq!(pong.attr("type"), Some("result"));
    server.stop().await;
}

#[tokio::test]
async fn jwt_off_ignores_cookies_and_offers_no_token_mechanism() {
    let server = TestServer::start().await;
    let mut ws = upgrade(&server, Some(&token_for("alice"))).await;
    let offered = open(&mut ws).await;
    assert!(!offered.contains(&"EXTERNAL".to_owned()), "{offered:?}");
    assert!(!offered.contains(&"OAUTHBEARER".to_owned()), "{offered:?}");
    server.stop().await;
}

/// `example ⊆ received`: same name and namespace, every attribute of the example with its
/// value (the server's random stream `id` aside, which examples leave out), and each child of
/// the example matched, in order, by a child of the received element; text compared where the
/// example has some.
fn matches(example: &Element, received: &Element) -> bool {
    if example.name() != received.name() || example.ns() != received.ns() {
        return false;
    }
    let attrs = |el: &Element| -> Vec<(String, String, String)> {
        el.attrs()
            .iter()
            .map(|((ns, name), value)| (ns.to_string(), name.to_string(), value.clone()))
            .collect()
    };
    let received_attrs = attrs(received);
    if !attrs(example).iter().all(|a| received_attrs.contains(a)) {
        return false;
    }
    let text = example.text();
    if !text.trim().is_empty() && text != received.text() {
        return false;
    }
    let mut candidates = received.children();
    example
        .children()
        .all(|wanted| candidates.any(|child| matches(wanted, child)))
}

/// The AsyncAPI document's examples, by message and example name.
struct Examples {
    document: Value,
    used: Vec<(String, String)>,
}

impl Examples {
    fn payload(&mut self, message: &str, example: &str) -> String {
        let examples = self.document["components"]["messages"][message]["examples"]
            .as_array()
            .unwrap_or_else(|| panic!("message {message} has examples"));
        let found = examples
            .iter()
            .find(|e| e["name"] == example)
            .unwrap_or_else(|| panic!("{message} has an example {example}"));
        self.used.push((message.to_owned(), example.to_owned()));
        found["payload"].as_str().unwrap().to_owned()
    }

    fn element(&mut self, message: &str, example: &str) -> Element {
        let xml = self.payload(message, example);
        let wrapped = format!("<w xmlns='jabber:client'>{xml}</w>");
        let wrapper: Element = wrapped.parse().unwrap_or_else(|e| panic!("{xml}: {e}"));
        wrapper.children().next().unwrap().clone()
    }

    /// Sends an example as it is written.
    async fn send(&mut self, ws: &mut Ws, message: &str, example: &str) {
        let xml = self.payload(message, example);
        ws_send(ws, &xml).await;
    }

    /// Reads until an element the example matches arrives.
    async fn expect(&mut self, ws: &mut Ws, message: &str, example: &str) {
        let wanted = self.element(message, example);
        loop {
            let el = ws_recv(ws)
                .await
                .unwrap_or_else(|| panic!("closed before {message}/{example}"));
            if matches(&wanted, &el) {
                return;
            }
            // The stanza the example stands for (same kind and id) must match it.
            if wanted.attr("id").is_some() {
                assert_ne!(
                    (el.name(), el.attr("id")),
                    (wanted.name(), wanted.attr("id")),
                    "{message}/{example} differs from what the server sent: {}",
                    String::from(&el)
                );
            }
        }
    }

    fn all(&self) -> Vec<(String, String)> {
        let mut all = Vec::new();
        for (message, body) in self.document["components"]["messages"].as_object().unwrap() {
            for example in body["examples"].as_array().into_iter().flatten() {
                all.push((
                    message.clone(),
                    example["name"].as_str().unwrap().to_owned(),
                ));
            }
        }
        all.sort();
        all
    }
}

#[tokio::test]
async fn the_asyncapi_document_is_served_and_every_example_replays() {
    let server = TestServer::start_with(jwt_on).await;
    install_crypto();
    let json = http()
        .get(server.url("/asyncapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::OK);
    assert_eq!(json.headers()["content-type"], "application/json");
    let document: Value = json.json().await.unwrap();
    assert_eq!(document["asyncapi"], "3.0.0");
    let yaml = http()
        .get(server.url("/asyncapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(yaml.status(), StatusCode::OK);
    assert_eq!(yaml.headers()["content-type"], "application/yaml");
    let yaml = yaml.text().await.unwrap();
    assert!(yaml.starts_with("\"asyncapi\": \"3.0.0\"\n"), "{yaml}");
    let security = &document["components"]["securitySchemes"]["authCookie"];
    assert_eq!(security["in"], "cookie");
    assert_eq!(security["name"], "auth_token");

    // Bob and Alice share presence, as the examples assume.
    let store = server.running.as_ref().unwrap().accounts().store().clone();
    for (user, contact) in [("alice", "bob@localhost"), ("bob", "alice@localhost")] {
        let mut item = switchboard_server::storage::RosterItem::new(contact);
        item.subscription = "both".into();
        store.roster_set(user, &item).await.unwrap();
    }

    let mut ex = Examples {
        document,
        used: Vec::new(),
    };
    // Alice logs in with the examples themselves.
    let mut alice = upgrade(&server, Some(&token_for("alice"))).await;
    ex.send(&mut alice, "streamOpen", "client-opens").await;
    ex.expect(&mut alice, "streamOpen", "server-opens").await;
    ex.expect(&mut alice, "streamFeatures", "cookie-stream-features")
        .await;
    ex.send(&mut alice, "saslExternal", "client-authenticates")
        .await;
    ex.expect(&mut alice, "saslExternal", "server-accepts")
        .await;
    ex.send(&mut alice, "streamOpen", "client-opens").await;
    ws_recv_named(&mut alice, "open").await;
    ws_recv_named(&mut alice, "features").await;
    ex.send(&mut alice, "resourceBinding", "client-binds").await;
    ex.expect(&mut alice, "resourceBinding", "server-binds")
        .await;
    let mut bob = cookie_session(&server, "bob", "web-def456").await;
    ws_send(&mut bob, "<presence/>").await;
    ws_recv_named(&mut bob, "presence").await;
    ws_send(&mut alice, "<presence/>").await;
    ws_recv_named(&mut bob, "presence").await;

    ex.send(&mut alice, "presence", "alice-sends-presence")
        .await;
    ex.expect(&mut bob, "presence", "bob-receives-presence")
        .await;
    ex.send(&mut alice, "directMessage", "alice-sends-message")
        .await;
    ex.expect(&mut bob, "directMessage", "bob-receives-message")
        .await;
    ex.send(&mut alice, "receiptRequest", "alice-requests-receipt")
        .await;
    ex.expect(&mut bob, "receiptRequest", "bob-receives-request")
        .await;
    ex.send(&mut bob, "receipt", "bob-sends-receipt").await;
    ex.expect(&mut alice, "receipt", "alice-receives-receipt")
        .await;

    // Group chat: alice creates the example's group-<uuid> room, bob joins and sees her.
    ex.send(&mut alice, "roomPresence", "alice-joins-room")
        .await;
    ex.expect(&mut alice, "roomPresence", "alice-joined-room")
        .await;
    let join = ex.element("roomPresence", "alice-joins-room");
    let room = join
        .attr("to")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    ws_send(
        &mut bob,
        &format!(
            "<presence to='{room}/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
        ),
    )
    .await;
    ex.expect(&mut bob, "roomPresence", "bob-sees-alice-in-room")
        .await;
    ex.send(&mut alice, "groupMessage", "alice-sends-group-message")
        .await;
    ex.expect(&mut bob, "groupMessage", "bob-receives-group-message")
        .await;
    ex.send(&mut alice, "streamClose", "client-closes").await;
    ws_recv_named(&mut alice, "close").await;

    let mut used = ex.used.clone();
    used.sort();
    used.dedup();
    assert_eq!(used, ex.all(), "every example of the document is replayed");
    server.stop().await;
}

#[tokio::test]
async fn static_dir_serves_an_app_without_listings_or_escapes() {
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("index.html"), "<!doctype html><p>chat</p>").unwrap();
    std::fs::write(app.path().join("app.js"), "console.log('hi')").unwrap();
    std::fs::create_dir(app.path().join("assets")).unwrap();
    std::fs::write(app.path().join("assets/style.css"), "p{}").unwrap();
    let dir = app.path().to_owned();
    let server = TestServer::start_with(move |config| config.http.static_dir = Some(dir)).await;
    install_crypto();
    let get = |path: &str| http().get(server.url(path)).send();
    let index = get("/").await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    assert_eq!(index.headers()["content-type"], "text/html");
    assert_eq!(index.text().await.unwrap(), "<!doctype html><p>chat</p>");
    let js = get("/app.js").await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let css = get("/assets/style.css").await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css");
    // A directory without index.html is not listed.
    assert_eq!(
        get("/assets/").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    for escape in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/assets/..%2f..%2fCargo.toml",
    ] {
        let status = get(escape).await.unwrap().status();
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST,
            "{escape}: {status}"
        );
    }
    // The server's own routes keep working beside it.
    assert_eq!(get("/health").await.unwrap().status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn dev_login_issues_a_cookie_only_when_enabled() {
    let server = TestServer::start_with(jwt_on).await;
    install_crypto();
    let login = http()
        .post(server.url("/dev/login"))
        .json(&json!({ "user": "alice" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
    server.stop().await;

    let server = TestServer::start_with(|config| {
        jwt_on(config);
        config.auth.jwt.dev_login = true;
    })
    .await;
    let login = http()
        .post(server.url("/dev/login"))
        .json(&json!({ "user": "Erin" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("auth_token=ey"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let body: Value = login.json().await.unwrap();
    assert_eq!(body["jid"], "erin@localhost");
    let token = body["token"].as_str().unwrap();
    let mut ws = upgrade(&server, Some(token)).await;
    assert_eq!(open(&mut ws).await, ["EXTERNAL"]);
    auth(&mut ws, "EXTERNAL", b"").await;
    assert_eq!(bind(&mut ws, "dev").await, "erin@localhost/dev");
    server.stop().await;

    // Refused by the configuration off loopback.
    let mut config = test_config(std::path::Path::new("/nonexistent"));
    jwt_on(&mut config);
    config.auth.jwt.dev_login = true;
    config.http.addr = "0.0.0.0:5280".parse().unwrap();
    let problems = config.check().unwrap_err();
    assert!(problems.contains("auth.jwt.dev_login"), "{problems}");
}

#[test]
fn jwt_configuration_rules() {
    let mut config = test_config(std::path::Path::new("/nonexistent"));
    config.auth.jwt.secret = Some(Secret::from("short"));
    config.auth.jwt.algorithms = vec!["HS256".into(), "none".into()];
    config.auth.jwt.cookie_name = "auth token".into();
    config.http.websocket_origins = vec![
        "https://app.example.com".into(),
        "https://app.example.com/chat".into(),
        "app.example.com".into(),
    ];
    let problems = config.check().unwrap_err();
    for key in [
        "auth.jwt.secret",
        "auth.jwt.algorithms[1]",
        "auth.jwt.cookie_name",
        "http.websocket_origins[1]",
        "http.websocket_origins[2]",
    ] {
        assert!(problems.contains(key), "{key} in {problems}");
    }
    assert!(
        !problems.contains("http.websocket_origins[0]"),
        "{problems}"
    );
    jwt_on(&mut config);
    config.auth.jwt.algorithms = vec!["HS256".into(), "EdDSA".into()];
    config.auth.jwt.cookie_name = "auth_token".into();
    config.http.websocket_origins = vec!["http://127.0.0.1:5280".into()];
    assert_eq!(config.check(), Ok(()));
}

#[test]
fn jwt_create_signs_with_the_configured_secret() {
    let dir = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["jwt", "create", "alice@localhost", "--ttl", "120"])
            .current_dir(dir.path())
            .env("SWITCHBOARD_DATA_DIR", dir.path())
            .envs(envs.iter().copied())
            .output()
            .unwrap()
    };
    let out = run(&[("SWITCHBOARD_AUTH_JWT_SECRET", SECRET)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let config = JwtConfig {
        secret: Some(Secret::from(SECRET)),
        ..JwtConfig::default()
    };
    let verified = jwt::JwtVerifier::new(&config, "localhost")
        .unwrap()
        .verify(printed.trim())
        .unwrap();
    assert_eq!(verified.user, "alice");
    let left = verified.expires.duration_since(SystemTime::now()).unwrap();
    assert!(left <= Duration::from_secs(120) && left > Duration::from_secs(60));

    // Only a public key configured: nothing to sign with.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let pem = dir.path().join("public.pem");
    std::fs::write(&pem, key.public_key_pem()).unwrap();
    let out = run(&[
        (
            "SWITCHBOARD_AUTH_JWT_PUBLIC_KEY_FILE",
            pem.to_str().unwrap(),
        ),
        ("SWITCHBOARD_AUTH_JWT_ALGORITHMS", "[\"EdDSA\"]"),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no HMAC secret"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_login_cookie_opens_the_client_api_but_never_administration() {
    install_crypto();
    let server = TestServer::start_with(jwt_on).await;
    let http = reqwest::Client::new();
    let cookie = format!("auth_token={}", token_for("alice"));

    // Reading needs no Origin.
    let r = http
        .get(server.url("/api/messages"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Changing state does: missing or foreign → 403; the page's own origin → accepted.
    let body = json!({"to": "bob@localhost", "body": "from the app"});
    for origin in [None, Some("http://evil.example")] {
        let mut request = http
            .post(server.url("/api/messages"))
            .header("Cookie", &cookie)
            .json(&body);
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "origin {origin:?}");
    }
    let r = http
        .post(server.url("/api/messages"))
        .header("Cookie", &cookie)
        .header("Origin", own_origin(&server))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let sent: Value = r.json().await.unwrap();
    assert!(sent["id"].is_string(), "{sent}");

    // A cookie that does not verify is refused as wrong credentials are.
    let r = http
        .get(server.url("/api/messages"))
        .header("Cookie", "auth_token=not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers()["www-authenticate"].to_str().unwrap(),
        "Basic realm=\"switchboard\""
    );

    // The cookie is no credential for the admin API (alice being no admin is beside the point:
    // the cookie is not even read there).
    let r = http
        .get(server.url("/api/admin/users/localhost"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}
