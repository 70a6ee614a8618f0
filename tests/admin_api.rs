//! The admin REST API (`/api/admin`, MongooseIM's admin paths) against a running server: who
//! may call it (admins, `admin`-scoped tokens only), and each resource doing its real work.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_server::storage::TokenScope;

async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = http()
        .request(method, server.url(&format!("/api/admin{path}")))
        .basic_auth("carol@localhost", Some(PASSWORD));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn admin_server() -> TestServer {
    TestServer::start_with(|c| c.admins = vec!["carol@localhost".parse().unwrap()]).await
}

#[tokio::test]
async fn only_admins_and_admin_tokens_get_in() {
    let server = admin_server().await;
    let accounts = server.running.as_ref().unwrap().accounts();
    let user_token = accounts
        .create_token("carol", TokenScope::User)
        .await
        .unwrap();
    let admin_token = accounts
        .create_token("carol", TokenScope::Admin)
        .await
        .unwrap();
    let bob_token = accounts
        .create_token("bob", TokenScope::Admin)
        .await
        .unwrap();
    let url = server.url("/api/admin/users/localhost");
    let status = |r: reqwest::Response| r.status();
    assert_eq!(status(http().get(&url).send().await.unwrap()), 401);
    let r = http()
        .get(&url)
        .basic_auth("bob", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.json::<Value>().await.unwrap().is_string());
    for (token, expected) in [(&user_token, 403), (&bob_token, 403), (&admin_token, 200)] {
        let r = http().get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), expected);
    }
    // The least privilege holds on the older admin API too.
    let r = http()
        .post(server.url("/rest/admin/uptime"))
        .bearer_auth(&user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A user token still acts for its account on the client API.
    let r = http()
        .get(server.url("/api/contacts"))
        .bearer_auth(&user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Tokens issued over the API, revoked over the API.
    let r = call(
        &server,
        Method::POST,
        "/tokens/dave@localhost",
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let issued: Value = r.json().await.unwrap();
    assert_eq!(issued["scope"], "user");
    let token = issued["token"].as_str().unwrap().to_owned();
    let r = http()
        .get(server.url("/api/messages"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = call(
        &server,
        Method::DELETE,
        "/tokens",
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(
        &server,
        Method::DELETE,
        "/tokens",
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = http()
        .get(server.url("/api/messages"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = call(
        &server,
        Method::POST,
        "/tokens/dave",
        Some(json!({"scope": "root"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    server.stop().await;
}

#[tokio::test]
async fn users_sessions_messages_stanzas() {
    let server = admin_server().await;
    let r = call(&server, Method::GET, "/users/localhost", None).await;
    let users: Vec<String> = r.json().await.unwrap();
    assert!(users.contains(&"alice@localhost".to_owned()));
    let r = call(&server, Method::GET, "/users/elsewhere", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = call(
        &server,
        Method::POST,
        "/users/localhost",
        Some(json!({"username": "erin", "password": "pw-erin"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = call(
        &server,
        Method::POST,
        "/users/localhost",
        Some(json!({"username": "erin", "password": "pw-erin"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = call(
        &server,
        Method::PUT,
        "/users/localhost/erin",
        Some(json!({"newpass": "pw-2"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = http()
        .get(server.url("/api/contacts"))
        .basic_auth("erin", Some("pw-2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = call(&server, Method::DELETE, "/users/localhost/erin", None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(&server, Method::DELETE, "/users/localhost/erin", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Messages as a user, read from the archive; raw stanzas.
    let mut bob = StanzaPeer::available(&server, "bob", "desk").await;
    let r = call(
        &server,
        Method::POST,
        "/messages",
        Some(json!({"caller": "alice@localhost", "to": "bob@localhost", "body": "from admin"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let got = bob.next_named("message").await;
    assert_eq!(got.attr("from"), Some("alice@localhost"));
    let r = call(
        &server,
        Method::POST,
        "/stanzas",
        Some(json!({"stanza": "<message from='dave@localhost/x' to='bob@localhost' type='chat'><body>raw</body></message>"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let got = bob.next_named("message").await;
    assert_eq!(got.attr("from"), Some("dave@localhost/x"));
    for bad in [
        "<message to='bob@localhost'/>",
        "<message from='x@elsewhere' to='bob@localhost'/>",
        "<message",
    ] {
        let r = call(
            &server,
            Method::POST,
            "/stanzas",
            Some(json!({"stanza": bad})),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = call(
        &server,
        Method::GET,
        "/messages/bob@localhost?limit=10",
        None,
    )
    .await;
    let list: Value = r.json().await.unwrap();
    assert_eq!(list[0]["body"], "raw");
    assert_eq!(list[0]["sender"], "dave@localhost");
    assert_eq!(list[1]["sender"], "alice@localhost");
    let r = call(&server, Method::GET, "/messages/bob/alice@localhost", None).await;
    let list: Value = r.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Sessions: listed, kicked.
    let r = call(&server, Method::GET, "/sessions/localhost", None).await;
    let sessions: Vec<String> = r.json().await.unwrap();
    assert_eq!(sessions, ["bob@localhost/desk"]);
    let r = call(
        &server,
        Method::DELETE,
        "/sessions/localhost/bob/desk",
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(
        &server,
        Method::DELETE,
        "/sessions/localhost/bob/desk",
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = call(&server, Method::GET, "/metrics", None).await;
    let summary: Value = r.json().await.unwrap();
    assert!(summary["archived_messages"].as_u64().unwrap() >= 4);
    drop(bob);
    server.stop().await;
}

#[tokio::test]
async fn contacts_manage_connects_both_ways() {
    let server = admin_server().await;
    let mut alice = StanzaPeer::available(&server, "alice", "a").await;
    alice
        .send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    alice.next_named("iq").await;
    let r = call(
        &server,
        Method::PUT,
        "/contacts/alice@localhost/bob@localhost/manage",
        Some(json!({"action": "connect"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for (user, other) in [("alice", "bob@localhost"), ("bob", "alice@localhost")] {
        let r = call(&server, Method::GET, &format!("/contacts/{user}"), None).await;
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!([{"jid": other, "subscription": "both", "ask": "none"}])
        );
    }
    // Alice's client saw the roster pushes.
    let push = alice.next_named("iq").await;
    assert_eq!(push.attr("type"), Some("set"));
    let r = call(
        &server,
        Method::PUT,
        "/contacts/alice/bob/manage",
        Some(json!({"action": "disconnect"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(&server, Method::GET, "/contacts/bob", None).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!([]));
    let r = call(
        &server,
        Method::POST,
        "/contacts/alice",
        Some(json!({"jid": "dave@localhost"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(
        &server,
        Method::DELETE,
        "/contacts/alice/dave@localhost",
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = call(&server, Method::GET, "/webhooks/users", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    server.stop().await;
}
