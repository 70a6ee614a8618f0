//! In-band registration (XEP-0077) end to end: accounts made on a stream before login (when
//! allowed, spaced per address), then used with a real client; password change and account
//! removal for logged-in users.

mod common;

use common::{PASSWORD, RawTcp, STREAM_HEADER, StanzaPeer, TestServer, raw_logged_in};

const FEATURE: &str = "<register xmlns='http://jabber.org/features/iq-register'/>";
/// The end of an iq result without payload, as the server writes it.
const RESULT: &str = "type='result'/>";

fn register_iq(id: &str, user: &str, password: &str) -> String {
    format!(
        "<iq type='set' id='{id}'><query xmlns='jabber:iq:register'>\
         <username>{user}</username><password>{password}</password></query></iq>"
    )
}

/// A plaintext loopback stream before login, with its features read.
async fn fresh_stream(server: &TestServer) -> (RawTcp, String) {
    let mut raw = RawTcp::connect(server.c2s).await;
    raw.send(STREAM_HEADER).await;
    let features = raw.read_until("</stream:features>").await;
    (raw, features)
}

/// Whether `user` can log in with `password` over SASL PLAIN.
async fn can_log_in(server: &TestServer, user: &str, password: &str) -> bool {
    use base64::Engine;
    let (mut raw, _) = fresh_stream(server).await;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    raw.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
    ))
    .await;
    let answer = raw.read_until("</").await;
    let answer = if answer.contains("<success") || answer.contains("<failure") {
        answer
    } else {
        raw.read_until("ure").await
    };
    answer.contains("<success")
}

#[tokio::test]
async fn registration_is_off_by_default() {
    let server = TestServer::start().await;
    let (mut raw, features) = fresh_stream(&server).await;
    assert!(!features.contains(FEATURE), "{features}");
    raw.send(&register_iq("r1", "zoe", "secret")).await;
    let reply = raw.read_until("</iq>").await;
    assert!(reply.contains("service-unavailable"), "{reply}");
    assert!(!can_log_in(&server, "zoe", "secret").await);
    server.stop().await;
}

#[tokio::test]
async fn a_new_account_registers_then_logs_in() {
    let server = TestServer::start_with(|c| c.auth.allow_registration = true).await;
    let (mut raw, features) = fresh_stream(&server).await;
    assert!(features.contains(FEATURE), "{features}");
    raw.send("<iq type='get' id='f'><query xmlns='jabber:iq:register'/></iq>")
        .await;
    let form = raw.read_until("</iq>").await;
    assert!(form.contains("type='result'"), "{form}");
    assert!(
        form.contains("<username>") && form.contains("<password>"),
        "{form}"
    );
    // The CLI's username rules: an invalid localpart, then an existing account, are refused.
    raw.send(&register_iq("bad", "no@pe@x", PASSWORD)).await;
    let bad = raw.read_until("</iq>").await;
    assert!(bad.contains("not-acceptable"), "{bad}");
    raw.send(&register_iq("taken", "alice", PASSWORD)).await;
    let taken = raw.read_until("</iq>").await;
    assert!(taken.contains("<conflict"), "{taken}");
    raw.send(&register_iq("ok", "Zoe", "fresh password")).await;
    let done = raw.read_until(RESULT).await;
    assert!(done.contains("id='ok'"), "{done}");
    // The name was nodeprep'd, as `switchboard user add` does.
    assert!(can_log_in(&server, "zoe", "fresh password").await);
    // One registration per address per interval (default 300 s): the next is refused.
    let (mut again, _) = fresh_stream(&server).await;
    again.send(&register_iq("r2", "yan", "another one")).await;
    let refused = again.read_until("</iq>").await;
    assert!(refused.contains("resource-constraint"), "{refused}");
    assert!(!can_log_in(&server, "yan", "another one").await);
    server.stop().await;
}

#[tokio::test]
async fn without_an_interval_an_address_may_register_again() {
    let server = TestServer::start_with(|c| {
        c.auth.allow_registration = true;
        c.auth.registration_interval_secs = 0;
    })
    .await;
    for user in ["u1", "u2"] {
        let (mut raw, _) = fresh_stream(&server).await;
        raw.send(&register_iq(user, user, "pw")).await;
        let done = raw.read_until(RESULT).await;
        assert!(done.contains(&format!("id='{user}'")), "{done}");
    }
    assert!(can_log_in(&server, "u2", "pw").await);
    server.stop().await;
}

#[tokio::test]
async fn logged_in_users_see_their_registration_and_change_their_password() {
    let server = TestServer::start().await;
    let mut alice = StanzaPeer::bound(&server, "alice", "r").await;
    alice
        .send("<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>")
        .await;
    let info = alice.next_named("iq").await;
    let query = info.get_child("query", "jabber:iq:register").unwrap();
    assert!(query.has_child("registered", "jabber:iq:register"));
    assert_eq!(
        query
            .get_child("username", "jabber:iq:register")
            .unwrap()
            .text(),
        "alice"
    );
    // Someone else's name is not alice's to change.
    alice.send(&register_iq("o", "bob", "hijack")).await;
    let other = alice.next_named("iq").await;
    assert_eq!(other.attr("type"), Some("error"));
    alice.send(&register_iq("p", "alice", "new secret")).await;
    let changed = alice.next_named("iq").await;
    assert_eq!(
        changed.attr("type"),
        Some("result"),
        "{}",
        String::from(&changed)
    );
    assert!(can_log_in(&server, "alice", "new secret").await);
    assert!(!can_log_in(&server, "alice", PASSWORD).await);
    assert!(can_log_in(&server, "bob", PASSWORD).await);
    server.stop().await;
}

#[tokio::test]
async fn password_changes_and_removal_can_be_turned_off() {
    let server = TestServer::start_with(|c| {
        c.auth.allow_password_change = false;
        c.auth.allow_account_removal = false;
    })
    .await;
    let mut alice = StanzaPeer::bound(&server, "alice", "r").await;
    alice.send(&register_iq("p", "alice", "new secret")).await;
    let refused = alice.next_named("iq").await;
    assert!(String::from(&refused).contains("not-allowed"));
    alice
        .send("<iq type='set' id='x'><query xmlns='jabber:iq:register'><remove/></query></iq>")
        .await;
    let refused = alice.next_named("iq").await;
    assert!(String::from(&refused).contains("not-allowed"));
    assert!(can_log_in(&server, "alice", PASSWORD).await);
    server.stop().await;
}

#[tokio::test]
async fn a_removed_account_is_gone_and_its_streams_end() {
    let server = TestServer::start().await;
    let mut other = raw_logged_in(server.c2s, "bob", "other").await;
    let mut bob = StanzaPeer::bound(&server, "bob", "r").await;
    bob.send("<iq type='set' id='x'><query xmlns='jabber:iq:register'><remove/></query></iq>")
        .await;
    let done = bob.next_named("iq").await;
    assert_eq!(done.attr("type"), Some("result"));
    let closed = other.read_to_close().await;
    assert!(closed.contains("not-authorized"), "{closed}");
    assert!(!can_log_in(&server, "bob", PASSWORD).await);
    let users = server
        .running
        .as_ref()
        .unwrap()
        .accounts()
        .list_users()
        .await
        .unwrap();
    assert!(!users.contains(&"bob".to_owned()), "{users:?}");
    server.stop().await;
}
