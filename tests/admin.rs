//! Admin commands end to end: XEP-0050 ad-hoc commands with tokio-xmpp clients, the same
//! commands over `/rest` (the Prosody seed's `command` example) and the REST admin API
//! (JSON and the ejabberd seed's text command mode).

mod common;

use common::*;
use minidom::Element;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use tokio_xmpp::{IqRequest, IqResponse};

const COMMANDS: &str = "http://jabber.org/protocol/commands";
const DATA: &str = "jabber:x:data";
const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";

async fn admin_server() -> TestServer {
    TestServer::start_with(|c| {
        c.admins = vec![
            "alice@localhost".parse().unwrap(),
            "carol@localhost".parse().unwrap(),
        ]
    })
    .await
}

/// Sends an iq to the server domain and returns its payload or its error.
async fn iq(
    client: &mut tokio_xmpp::Client,
    set: bool,
    payload: &str,
) -> Result<Option<Element>, StanzaError> {
    let payload: Element = payload.parse().unwrap();
    let request = if set {
        IqRequest::Set(payload)
    } else {
        IqRequest::Get(payload)
    };
    let token = client
        .send_iq(Some(Jid::new("localhost").unwrap()), request)
        .await;
    match tokio::time::timeout(STEP, token).await.unwrap().unwrap() {
        IqResponse::Result(el) => Ok(el),
        IqResponse::Error(e) => Err(e),
    }
}

/// Executes a command and returns the `<command/>` of the result.
async fn execute(client: &mut tokio_xmpp::Client, command: &str) -> Element {
    iq(client, true, command)
        .await
        .unwrap_or_else(|e| panic!("command failed: {e:?}"))
        .expect("a <command/> payload")
}

async fn execute_err(client: &mut tokio_xmpp::Client, command: &str) -> StanzaError {
    match iq(client, true, command).await {
        Err(e) => e,
        Ok(el) => panic!("expected an error, got {el:?}"),
    }
}

fn specific(e: &StanzaError) -> Option<String> {
    e.other
        .as_ref()
        .filter(|o| o.ns() == COMMANDS)
        .map(|o| o.name().to_owned())
}

fn note(command: &Element) -> (String, String) {
    let note = command.get_child("note", COMMANDS).expect("a note");
    (note.attr("type").unwrap_or("info").to_owned(), note.text())
}

fn submit(node: &str, sessionid: Option<&str>, fields: &[(&str, &str)]) -> String {
    let session = sessionid
        .map(|s| format!(" sessionid='{s}'"))
        .unwrap_or_default();
    let fields: String = fields
        .iter()
        .map(|(var, value)| format!("<field var='{var}'><value>{value}</value></field>"))
        .collect();
    format!(
        "<command xmlns='{COMMANDS}' node='{node}'{session}><x xmlns='{DATA}' type='submit'>{fields}</x></command>"
    )
}

fn jid_values(command: &Element) -> Vec<String> {
    let form = command.get_child("x", DATA).expect("a result form");
    assert_eq!(form.attr("type"), Some("result"));
    let field = form
        .children()
        .find(|f| f.name() == "field")
        .expect("a field");
    assert_eq!(field.attr("type"), Some("jid-multi"));
    field.children().map(|v| v.text()).collect()
}

#[tokio::test]
async fn command_list_and_info_depend_on_admin_rights() {
    let server = admin_server().await;
    let mut alice = server.client("alice@localhost/a").await;
    let mut bob = server.client("bob@localhost/b").await;

    let info = iq(&mut bob, false, &format!("<query xmlns='{DISCO_INFO}'/>"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        info.children()
            .any(|f| f.name() == "feature" && f.attr("var") == Some(COMMANDS)),
        "the server advertises ad-hoc commands"
    );

    let list = format!("<query xmlns='{DISCO_ITEMS}' node='{COMMANDS}'/>");
    let nodes = |query: &Element| -> Vec<String> {
        assert_eq!(query.attr("node"), Some(COMMANDS));
        query
            .children()
            .map(|item| {
                assert_eq!(item.attr("jid"), Some("localhost"));
                assert!(item.attr("name").is_some());
                item.attr("node").unwrap().to_owned()
            })
            .collect()
    };
    let admin_items = iq(&mut alice, false, &list).await.unwrap().unwrap();
    assert_eq!(
        nodes(&admin_items),
        [
            "uptime",
            "registered_users",
            "register",
            "unregister",
            "change_password",
            "connected_users"
        ]
    );
    let user_items = iq(&mut bob, false, &list).await.unwrap().unwrap();
    assert_eq!(nodes(&user_items), ["uptime"]);

    let node_info = iq(
        &mut alice,
        false,
        &format!("<query xmlns='{DISCO_INFO}' node='register'/>"),
    )
    .await
    .unwrap()
    .unwrap();
    let identity = node_info.get_child("identity", DISCO_INFO).unwrap();
    assert_eq!(identity.attr("category"), Some("automation"));
    assert_eq!(identity.attr("type"), Some("command-node"));
    let features: Vec<_> = node_info.children().filter_map(|f| f.attr("var")).collect();
    assert_eq!(features, [COMMANDS, DATA]);

    let refused = iq(
        &mut bob,
        false,
        &format!("<query xmlns='{DISCO_INFO}' node='register'/>"),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.defined_condition, DefinedCondition::Forbidden);
    let unknown = iq(
        &mut bob,
        false,
        &format!("<query xmlns='{DISCO_ITEMS}' node='nope'/>"),
    )
    .await
    .unwrap_err();
    assert_eq!(unknown.defined_condition, DefinedCondition::ItemNotFound);
    server.stop().await;
}

#[tokio::test]
async fn uptime_completes_at_once_for_anyone() {
    let server = admin_server().await;
    let mut bob = server.client("bob@localhost/b").await;
    let command = execute(
        &mut bob,
        &format!("<command xmlns='{COMMANDS}' node='uptime' action='execute'/>"),
    )
    .await;
    assert_eq!(command.attr("node"), Some("uptime"));
    assert_eq!(command.attr("status"), Some("completed"));
    assert!(!command.attr("sessionid").unwrap_or_default().is_empty());
    let (type_, text) = note(&command);
    assert_eq!(type_, "info");
    assert!(
        text.starts_with("Server has been running for 0 days, 0 hours, "),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn account_lifecycle_through_ad_hoc_forms() {
    let server = admin_server().await;
    let mut alice = server.client("alice@localhost/a").await;

    // Stage 1: the form.
    let stage = execute(
        &mut alice,
        &format!("<command xmlns='{COMMANDS}' node='register' action='execute'/>"),
    )
    .await;
    assert_eq!(stage.attr("status"), Some("executing"));
    let sessionid = stage.attr("sessionid").unwrap().to_owned();
    let actions = stage.get_child("actions", COMMANDS).unwrap();
    assert_eq!(actions.attr("execute"), Some("complete"));
    assert!(actions.has_child("complete", COMMANDS));
    let form = stage.get_child("x", DATA).unwrap();
    assert_eq!(form.attr("type"), Some("form"));
    let fields: Vec<(String, String)> = form
        .children()
        .filter(|f| f.name() == "field")
        .map(|f| {
            assert!(f.has_child("required", DATA));
            (
                f.attr("var").unwrap().to_owned(),
                f.attr("type").unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("accountjid".to_owned(), "jid-single".to_owned()),
            ("password".to_owned(), "text-private".to_owned())
        ]
    );

    // Stage 2: the submitted form completes it.
    let done = execute(
        &mut alice,
        &submit(
            "register",
            Some(&sessionid),
            &[("accountjid", "erin@localhost"), ("password", PASSWORD)],
        ),
    )
    .await;
    assert_eq!(done.attr("status"), Some("completed"));
    assert_eq!(done.attr("sessionid"), Some(sessionid.as_str()));
    assert_eq!(
        note(&done),
        (
            "info".to_owned(),
            "User erin@localhost successfully registered".to_owned()
        )
    );
    // The session is over.
    let again = execute_err(
        &mut alice,
        &submit(
            "register",
            Some(&sessionid),
            &[("accountjid", "frank@localhost"), ("password", "x")],
        ),
    )
    .await;
    assert_eq!(specific(&again).as_deref(), Some("bad-sessionid"));

    // The new account logs in.
    let mut erin = raw_logged_in(server.c2s, "erin", "phone").await;

    // It is listed, with the others.
    let listed = execute(
        &mut alice,
        &format!("<command xmlns='{COMMANDS}' node='registered_users'/>"),
    )
    .await;
    assert_eq!(listed.attr("status"), Some("completed"));
    assert_eq!(
        jid_values(&listed),
        [
            "alice@localhost",
            "bob@localhost",
            "carol@localhost",
            "dave@localhost",
            "erin@localhost"
        ]
    );
    assert_eq!(note(&listed).1, "5 registered users");
    let online = execute(
        &mut alice,
        &format!("<command xmlns='{COMMANDS}' node='connected_users'/>"),
    )
    .await;
    assert_eq!(jid_values(&online), ["alice@localhost", "erin@localhost"]);

    // One step: the form comes with the execute request.
    let changed = execute(
        &mut alice,
        &submit(
            "change_password",
            None,
            &[("accountjid", "erin@localhost"), ("password", "n3w")],
        ),
    )
    .await;
    assert_eq!(changed.attr("status"), Some("completed"));
    assert_eq!(note(&changed).1, "Password of erin@localhost changed");
    let with_new = http()
        .post(server.url("/rest"))
        .basic_auth("erin", Some("n3w"))
        .header("Content-Type", "application/xmpp+xml")
        .body("<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        .send()
        .await
        .unwrap();
    assert_eq!(with_new.status(), StatusCode::OK);

    // Unregistering ends the account's live sessions.
    let removed = execute(
        &mut alice,
        &submit("unregister", None, &[("accountjid", "erin")]),
    )
    .await;
    assert_eq!(
        note(&removed).1,
        "User erin@localhost successfully unregistered"
    );
    let closed = erin.read_to_close().await;
    assert!(closed.contains("not-authorized"), "{closed}");
    let listed = execute(
        &mut alice,
        &format!("<command xmlns='{COMMANDS}' node='registered_users'/>"),
    )
    .await;
    assert!(!jid_values(&listed).contains(&"erin@localhost".to_owned()));

    // A failure of the command itself completes with an error note (XEP-0050 §4.4).
    let exists = execute(
        &mut alice,
        &submit(
            "register",
            None,
            &[("accountjid", "bob@localhost"), ("password", "x")],
        ),
    )
    .await;
    assert_eq!(exists.attr("status"), Some("completed"));
    assert_eq!(
        note(&exists),
        (
            "error".to_owned(),
            "user bob@localhost already exists".to_owned()
        )
    );
    let missing = execute(
        &mut alice,
        &submit("unregister", None, &[("accountjid", "nobody@localhost")]),
    )
    .await;
    assert_eq!(note(&missing).0, "error");
    server.stop().await;
}

#[tokio::test]
async fn ad_hoc_errors_follow_xep_0050() {
    let server = admin_server().await;
    let mut alice = server.client("alice@localhost/a").await;
    let mut bob = server.client("bob@localhost/b").await;
    let mut carol = server.client("carol@localhost/c").await;

    // Non-admins may not run admin commands; unknown nodes are not found.
    let e = execute_err(
        &mut bob,
        &format!("<command xmlns='{COMMANDS}' node='register'/>"),
    )
    .await;
    assert_eq!(e.defined_condition, DefinedCondition::Forbidden);
    assert_eq!(e.type_, ErrorType::Cancel);
    let e = execute_err(
        &mut bob,
        &submit(
            "register",
            None,
            &[("accountjid", "mallory"), ("password", "x")],
        ),
    )
    .await;
    assert_eq!(e.defined_condition, DefinedCondition::Forbidden);
    let e = execute_err(
        &mut alice,
        &format!("<command xmlns='{COMMANDS}' node='shutdown'/>"),
    )
    .await;
    assert_eq!(e.defined_condition, DefinedCondition::ItemNotFound);

    // Actions: unknown is malformed, next/prev do not exist in a one-form command.
    let e = execute_err(
        &mut alice,
        &format!("<command xmlns='{COMMANDS}' node='uptime' action='dance'/>"),
    )
    .await;
    assert_eq!(e.defined_condition, DefinedCondition::BadRequest);
    assert_eq!(e.type_, ErrorType::Modify);
    assert_eq!(specific(&e).as_deref(), Some("malformed-action"));

    let stage = execute(
        &mut alice,
        &format!("<command xmlns='{COMMANDS}' node='unregister'/>"),
    )
    .await;
    let sessionid = stage.attr("sessionid").unwrap().to_owned();
    let e = execute_err(
        &mut alice,
        &format!(
            "<command xmlns='{COMMANDS}' node='unregister' sessionid='{sessionid}' action='next'/>"
        ),
    )
    .await;
    assert_eq!(specific(&e).as_deref(), Some("bad-action"));
    // Completing without the form is refused, and the session survives it.
    let e = execute_err(
        &mut alice,
        &format!(
            "<command xmlns='{COMMANDS}' node='unregister' sessionid='{sessionid}' action='complete'/>"
        ),
    )
    .await;
    assert_eq!(specific(&e).as_deref(), Some("bad-payload"));
    // Another admin cannot continue someone else's session.
    let e = execute_err(
        &mut carol,
        &submit("unregister", Some(&sessionid), &[("accountjid", "dave")]),
    )
    .await;
    assert_eq!(specific(&e).as_deref(), Some("bad-sessionid"));
    // Cancel ends it.
    let canceled = execute(
        &mut alice,
        &format!(
            "<command xmlns='{COMMANDS}' node='unregister' sessionid='{sessionid}' action='cancel'/>"
        ),
    )
    .await;
    assert_eq!(canceled.attr("status"), Some("canceled"));
    let e = execute_err(
        &mut alice,
        &submit("unregister", Some(&sessionid), &[("accountjid", "dave")]),
    )
    .await;
    assert_eq!(specific(&e).as_deref(), Some("bad-sessionid"));
    let e = execute_err(
        &mut alice,
        &format!("<command xmlns='{COMMANDS}' node='register' sessionid='made-up'/>"),
    )
    .await;
    assert_eq!(specific(&e).as_deref(), Some("bad-sessionid"));

    // A form missing a required field.
    let e = execute_err(
        &mut alice,
        &submit("register", None, &[("accountjid", "frank")]),
    )
    .await;
    assert_eq!(specific(&e).as_deref(), Some("bad-payload"));

    // Commands are executed with iq set.
    let e = iq(
        &mut alice,
        false,
        &format!("<command xmlns='{COMMANDS}' node='uptime'/>"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.defined_condition, DefinedCondition::BadRequest);
    server.stop().await;
}

#[tokio::test]
async fn ad_hoc_commands_over_rest_as_in_the_prosody_seed() {
    let server = admin_server().await;
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("bob", Some(PASSWORD))
        .header("Content-Type", "application/xmpp+xml")
        .body(format!(
            "<iq type='set' to='localhost' id='Jv-87nRaP6Mnrp8l'><command xmlns='{COMMANDS}' node='uptime'/></iq>"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let reply = switchboard_xmpp::stanza::parse_in_stream(&response.text().await.unwrap()).unwrap();
    assert_eq!(reply.attr("type"), Some("result"));
    assert_eq!(reply.attr("from"), Some("localhost"));
    let command = reply.get_child("command", COMMANDS).unwrap();
    assert_eq!(command.attr("status"), Some("completed"));
    assert!(note(command).1.starts_with("Server has been running for"));

    // The JSON of the seed's example.
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("bob", Some(PASSWORD))
        .json(&json!({
            "command": {"node": "uptime"},
            "id": "Jv-87nRaP6Mnrp8l",
            "kind": "iq",
            "to": "localhost",
            "type": "set"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "result");
    assert_eq!(body["id"], "Jv-87nRaP6Mnrp8l");
    assert_eq!(body["from"], "localhost");
    assert_eq!(body["command"]["node"], "uptime");
    assert_eq!(body["command"]["status"], "completed");
    assert!(body["command"]["sessionid"].is_string());
    assert_eq!(body["command"]["note"]["type"], "info");
    let text = body["command"]["note"]["text"].as_str().unwrap();
    assert!(text.starts_with("Server has been running for"), "{text}");

    // Two stages in JSON: the form, then its data with the session.
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .json(&json!({"kind": "iq", "type": "set", "to": "localhost", "command": {"node": "register"}}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["command"]["status"], "executing", "{body}");
    assert_eq!(body["command"]["actions"]["execute"], "complete");
    let sessionid = body["command"]["sessionid"].as_str().unwrap().to_owned();
    let response = http()
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .json(
            &json!({"kind": "iq", "type": "set", "to": "localhost", "command": {
                "node": "register",
                "sessionid": sessionid,
                "data": {"accountjid": "erin@localhost", "password": "s3cret"}
            }}),
        )
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["command"]["status"], "completed", "{body}");
    assert_eq!(
        body["command"]["note"]["text"],
        "User erin@localhost successfully registered"
    );
    server.stop().await;
}

async fn admin_post(
    server: &TestServer,
    user: Option<&str>,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = http().post(server.url(path));
    if let Some(user) = user {
        request = request.basic_auth(user, Some(PASSWORD));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn rest_admin_json_endpoints() {
    let server = admin_server().await;
    let _bob = server.client("bob@localhost/b").await;
    let alice = Some("alice");

    let r = admin_post(&server, alice, "/rest/admin/uptime", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert!(body["seconds"].as_u64().is_some(), "{body}");

    let erin = json!({"user": "erin", "host": "localhost", "password": "s3cret"});
    let r = admin_post(&server, alice, "/rest/admin/register", Some(erin.clone())).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"ok": true}));
    let r = admin_post(&server, alice, "/rest/admin/register", Some(erin)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["condition"], "conflict");

    let r = admin_post(
        &server,
        alice,
        "/rest/admin/registered_users",
        Some(json!({"host": "localhost"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let users: Vec<String> = r.json().await.unwrap();
    assert!(users.contains(&"erin@localhost".to_owned()), "{users:?}");

    let r = admin_post(&server, alice, "/rest/admin/connected_users", None).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!(["bob@localhost"]));

    let r = admin_post(
        &server,
        alice,
        "/rest/admin/change_password",
        Some(json!({"user": "erin@localhost", "password": "n3w"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let ping = http()
        .post(server.url("/rest"))
        .basic_auth("erin", Some("n3w"))
        .header("Content-Type", "application/xmpp+xml")
        .body("<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), StatusCode::OK);

    let r = admin_post(
        &server,
        alice,
        "/rest/admin/unregister",
        Some(json!({"user": "erin", "host": "localhost"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = admin_post(
        &server,
        alice,
        "/rest/admin/unregister",
        Some(json!({"user": "erin", "host": "localhost"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Another host, an unknown command, bad arguments.
    let r = admin_post(
        &server,
        alice,
        "/rest/admin/registered_users",
        Some(json!({"host": "elsewhere.example"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = admin_post(&server, alice, "/rest/admin/shutdown", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = admin_post(
        &server,
        alice,
        "/rest/admin/register",
        Some(json!({"user": "frank"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = admin_post(
        &server,
        alice,
        "/rest/admin/register",
        Some(json!({"user": "a b", "password": "x"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A bearer token of an admin works too.
    let token = server
        .running
        .as_ref()
        .unwrap()
        .accounts()
        .create_token("carol", switchboard_server::storage::TokenScope::Admin)
        .await
        .unwrap();
    let r = http()
        .post(server.url("/rest/admin/uptime"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Non-admins and strangers.
    let r = admin_post(&server, Some("bob"), "/rest/admin/uptime", None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = admin_post(
        &server,
        Some("bob"),
        "/rest/admin/register",
        Some(json!({"user": "mallory", "password": "x"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = admin_post(&server, None, "/rest/admin/registered_users", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("Basic")
    );
    let wrong = http()
        .post(server.url("/rest/admin/uptime"))
        .basic_auth("alice", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(
        !server
            .running
            .as_ref()
            .unwrap()
            .accounts()
            .list_users()
            .await
            .unwrap()
            .contains(&"mallory".to_owned())
    );
    server.stop().await;
}

async fn command_line(server: &TestServer, user: Option<&str>, line: &str) -> reqwest::Response {
    let mut request = http()
        .post(server.url("/rest/admin"))
        .header("Content-Type", "text/plain")
        .body(line.to_owned());
    if let Some(user) = user {
        request = request.basic_auth(user, Some(PASSWORD));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn rest_admin_command_mode_as_in_the_ejabberd_seed() {
    let server = admin_server().await;
    let alice = Some("alice");

    let r = command_line(&server, alice, "registered_users localhost").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        r.text().await.unwrap(),
        "alice@localhost\nbob@localhost\ncarol@localhost\ndave@localhost\n"
    );

    let r = command_line(&server, alice, "register user12 localhost somepass").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        r.text().await.unwrap(),
        "User user12@localhost successfully registered\n"
    );
    let r = command_line(&server, alice, "register user12 localhost somepass").await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    let r = command_line(&server, alice, "change_password user12 localhost newpass").await;
    assert_eq!(r.status(), StatusCode::OK);
    let ping = http()
        .post(server.url("/rest"))
        .basic_auth("user12", Some("newpass"))
        .header("Content-Type", "application/xmpp+xml")
        .body("<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), StatusCode::OK);

    let r = command_line(&server, alice, "unregister user12 localhost").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.text().await.unwrap(),
        "User user12@localhost successfully unregistered\n"
    );

    let _dave = server.client("dave@localhost/d").await;
    let r = command_line(&server, alice, "connected_users").await;
    assert_eq!(r.text().await.unwrap(), "dave@localhost\n");
    let r = command_line(&server, alice, "uptime").await;
    assert!(
        r.text()
            .await
            .unwrap()
            .starts_with("Server has been running for")
    );

    // As curl and wget send it by default (form-urlencoded), with a trailing newline.
    let r = http()
        .post(server.url("/rest/admin"))
        .basic_auth("alice", Some(PASSWORD))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("registered_users localhost\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // The seed's in-body credentials (a password without spaces).
    let r = command_line(&server, alice, "change_password alice localhost s3cret").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = command_line(
        &server,
        None,
        "--auth alice localhost s3cret registered_users localhost",
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("bob@localhost\n"));
    let r = command_line(
        &server,
        None,
        "--auth alice localhost wrong registered_users localhost",
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Mistakes, non-admins and strangers.
    let r = command_line(&server, Some("carol"), "register user13 localhost").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("register USER HOST PASSWORD")
    );
    let r = command_line(&server, Some("carol"), "registered_users other.example").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = command_line(&server, Some("carol"), "stop").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = command_line(&server, Some("bob"), "registered_users localhost").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = command_line(&server, None, "registered_users localhost").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
    server.stop().await;
}
