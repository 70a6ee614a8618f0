//! REST components (the seed's static `rest_credentials`), ejabberd-style access rules and the
//! per-credential rate limit, over real HTTP with a live XMPP peer receiving.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_server::config::{AccessConfig, ComponentConfig, Config};

const SEED_TOKEN: &str = "dmVyeSBzZWNyZXQgdG9rZW4K";

fn component(access: AccessConfig) -> ComponentConfig {
    ComponentConfig {
        domain: "rest.localhost".into(),
        rest_credentials: Some(format!("Bearer {SEED_TOKEN}").into()),
        component_secret: Some("hunter2".into()),
        access,
        ..ComponentConfig::default()
    }
}

fn with_component(access: AccessConfig) -> impl FnOnce(&mut Config) {
    move |c| c.component = vec![component(access)]
}

async fn post(
    server: &TestServer,
    auth: &str,
    content_type: &str,
    body: &str,
) -> reqwest::Response {
    http()
        .post(server.url("/rest"))
        .header("Authorization", auth)
        .header("Content-Type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[tokio::test]
async fn component_sends_as_any_jid_of_its_domain() {
    let server = TestServer::start_with(with_component(AccessConfig::default())).await;
    let mut bob = raw_logged_in(server.c2s, "bob", "desk").await;
    bob.send("<presence/>").await;
    bob.read_until("<presence").await;

    // The seed's curl example: --oauth2-bearer sends "Authorization: Bearer …".
    let response = post(
        &server,
        &format!("Bearer {SEED_TOKEN}"),
        "application/xmpp+xml",
        "<message type='chat' to='bob@localhost' from='weatherbot@rest.localhost/station'><body>Hello!</body></message>",
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let got = bob.read_until("</message>").await;
    assert!(
        got.contains("from='weatherbot@rest.localhost/station'"),
        "{got}"
    );
    assert!(got.contains("<body>Hello!</body>"), "{got}");

    // Without a from, the component's domain is the sender; Basic domain:secret works too.
    let response = post(
        &server,
        &basic("rest.localhost", "hunter2"),
        "application/json",
        r#"{"kind":"message","type":"chat","to":"bob@localhost","body":"via basic"}"#,
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let got = bob.read_until("</message>").await;
    assert!(got.contains("from='rest.localhost'"), "{got}");

    // An iq from the component gets its reply back.
    let response = post(
        &server,
        &format!("bearer {SEED_TOKEN}"),
        "application/json",
        r#"{"kind":"iq","type":"get","to":"localhost","ping":true,"from":"pinger@rest.localhost"}"#,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "result");
    assert!(
        body["to"]
            .as_str()
            .unwrap()
            .starts_with("pinger@rest.localhost/rest-"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn component_credentials_are_checked() {
    let server = TestServer::start_with(with_component(AccessConfig::default())).await;
    let msg = "<message to='bob@localhost'><body>x</body></message>";
    let response = post(
        &server,
        "Bearer not-the-secret",
        "application/xmpp+xml",
        msg,
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = post(
        &server,
        &basic("rest.localhost", "wrong"),
        "application/xmpp+xml",
        msg,
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A component may not speak for accounts of the main domain.
    let spoof = "<message to='bob@localhost' from='alice@localhost'><body>x</body></message>";
    let response = post(
        &server,
        &format!("Bearer {SEED_TOKEN}"),
        "application/xmpp+xml",
        spoof,
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test]
async fn stanzas_to_a_component_without_callback_bounce() {
    let server = TestServer::start_with(with_component(AccessConfig::default())).await;
    let mut alice = raw_logged_in(server.c2s, "alice", "a").await;
    alice
        .send("<message to='bot@rest.localhost' id='c1' type='chat'><body>hi bot</body></message>")
        .await;
    let got = alice.read_until("</message>").await;
    assert!(got.contains("type='error'"), "{got}");
    assert!(got.contains("service-unavailable"), "{got}");
    server.stop().await;
}

#[tokio::test]
async fn allowed_stanza_types_and_destinations_refuse_with_the_rule_name() {
    let access = AccessConfig {
        allowed_stanza_types: vec!["message".into()],
        allowed_destinations: vec!["bob@localhost".into()],
        ..AccessConfig::default()
    };
    let server = TestServer::start_with(with_component(access)).await;
    let auth = format!("Bearer {SEED_TOKEN}");
    let response = post(
        &server,
        &auth,
        "application/json",
        r#"{"kind":"iq","type":"get","to":"bob@localhost","ping":true}"#,
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["condition"], "forbidden");
    assert!(
        body["error"]["text"]
            .as_str()
            .unwrap()
            .contains("allowed_stanza_types"),
        "{body}"
    );

    let response = post(
        &server,
        &auth,
        "application/json",
        r#"{"to":"carol@localhost","body":"x"}"#,
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["text"]
            .as_str()
            .unwrap()
            .contains("allowed_destinations"),
        "{body}"
    );

    let response = post(
        &server,
        &auth,
        "application/json",
        r#"{"to":"bob@localhost","body":"x"}"#,
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    server.stop().await;
}

#[tokio::test]
async fn allowed_ips_honour_trusted_proxies_only() {
    let server = TestServer::start_with(|c| {
        c.rest.access.allowed_ips = vec!["10.9.8.7".into()];
        c.rest.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let body = json!({"to": "bob@localhost", "body": "x"});
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let err: Value = response.json().await.unwrap();
    assert!(
        err["error"]["text"]
            .as_str()
            .unwrap()
            .contains("allowed_ips"),
        "{err}"
    );

    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .header("X-Forwarded-For", "10.9.8.7")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    server.stop().await;

    // Without trusting the proxy, the same header is ignored.
    let server =
        TestServer::start_with(|c| c.rest.access.allowed_ips = vec!["10.9.8.7".into()]).await;
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .header("X-Forwarded-For", "10.9.8.7")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let server = TestServer::start_with(|c| {
        c.rest.rate_per_second = 0.5;
        c.rest.rate_burst = 2;
    })
    .await;
    let body = json!({"to": "bob@localhost", "body": "x"});
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..3 {
        let response = http()
            .post(server.url("/rest"))
            .basic_auth("alice", Some(PASSWORD))
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
        if let Some(value) = response.headers().get("retry-after") {
            retry_after = Some(value.to_str().unwrap().parse::<u64>().unwrap());
        }
    }
    assert_eq!(
        statuses,
        vec![
            StatusCode::ACCEPTED,
            StatusCode::ACCEPTED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let wait = retry_after.expect("Retry-After on 429");
    assert!((1..=2).contains(&wait), "{wait}");
    // Another credential has its own bucket.
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("bob", Some(PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    server.stop().await;
}

#[tokio::test]
async fn auth_mechanisms_restrict_schemes() {
    let server = TestServer::start_with(|c| c.rest.auth_mechanisms = vec!["Bearer".into()]).await;
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .json(&json!({"to": "bob@localhost", "body": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"localhost/rest\""
    );
    server.stop().await;
}

#[tokio::test]
async fn msg_and_admin_routes_obey_the_same_account_rules() {
    let server = TestServer::start_with(|c| {
        c.admins = vec!["alice@localhost".parse().unwrap()];
        c.rest.access.allowed_ips = vec!["10.9.8.7".into()];
    })
    .await;
    let response = http()
        .post(server.url("/msg/bob"))
        .basic_auth("alice@localhost", Some(PASSWORD))
        .header("Content-Type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = http()
        .post(server.url("/rest/admin/uptime"))
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["text"]
            .as_str()
            .unwrap()
            .contains("allowed_ips"),
        "{body}"
    );
    server.stop().await;

    let server = TestServer::start_with(|c| {
        c.rest.access.allowed_destinations = vec!["carol@localhost".into()];
    })
    .await;
    let response = http()
        .post(server.url("/msg/bob"))
        .basic_auth("alice@localhost", Some(PASSWORD))
        .header("Content-Type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}
