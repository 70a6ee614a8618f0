//! Rooms on the server's own domain (`muc.domain` = `domain`, the WebSocket seed's
//! `group-{uuid}@{domain}`): rooms and accounts side by side, accounts keeping their JIDs, and
//! stored rooms routable from the first stanza after a restart.

mod common;
mod muc_support;

use common::{StanzaPeer, TestServer, test_config};
use muc_support::*;
use switchboard_server::server;
use switchboard_server::services::muc::api::{ApiError, NewRoom};
use switchboard_xmpp::muc::RoomConfig;

const SHARED_ROOM: &str = "group-6f1c2a4e-0b7d-4e52-9a43-2f7c1d3b8e90@localhost";

async fn shared_server() -> TestServer {
    TestServer::start_with(|c| c.muc.domain = Some("localhost".into())).await
}

#[tokio::test]
async fn rooms_live_beside_the_accounts_on_the_server_domain() {
    let server = shared_server().await;
    let mut alice = StanzaPeer::available(&server, "alice", "web").await;
    let mut bob = StanzaPeer::available(&server, "bob", "web").await;

    let (presences, _) = join(&mut alice, SHARED_ROOM, "alice", "").await;
    let own = presences.last().unwrap();
    assert_eq!(own.attr("from"), Some(&*format!("{SHARED_ROOM}/alice")));
    assert!(codes(own).contains(&"201".to_owned()));
    let (presences, _) = join(&mut bob, SHARED_ROOM, "bob", "").await;
    assert_eq!(
        presences[0].attr("from"),
        Some(&*format!("{SHARED_ROOM}/alice"))
    );
    let seen = alice.next_named("presence").await;
    assert_eq!(seen.attr("from"), Some(&*format!("{SHARED_ROOM}/bob")));

    groupchat(&mut alice, SHARED_ROOM, "hello from the seed's room").await;
    let got = next_groupchat(&mut bob).await;
    assert_eq!(got.attr("from"), Some(&*format!("{SHARED_ROOM}/alice")));
    assert_eq!(body(&got), "hello from the seed's room");

    // Accounts keep their JIDs: a chat message still reaches bob, and a join presence to an
    // account's JID creates no room.
    alice
        .send("<message to='bob@localhost' type='chat'><body>direct</body></message>")
        .await;
    loop {
        let m = bob.next_named("message").await;
        if m.attr("type") == Some("chat") {
            assert_eq!(m.attr("from"), Some("alice@localhost/web"));
            assert_eq!(body(&m), "direct");
            break;
        }
    }
    alice.send(&join_xml("carol@localhost", "alice", "")).await;
    let muc = server.running.as_ref().unwrap().muc().unwrap().clone();
    assert!(matches!(
        muc.room(&bare("carol@localhost")).await,
        Err(ApiError::NoSuchRoom)
    ));
    let taken = muc
        .create_room(NewRoom {
            name: Some("dave".into()),
            owner: bare("alice@localhost"),
            config: RoomConfig::default(),
            subject: String::new(),
            affiliations: Vec::new(),
        })
        .await;
    assert!(matches!(taken, Err(ApiError::RoomExists)), "{taken:?}");
}

#[tokio::test]
async fn stored_rooms_on_the_server_domain_answer_after_a_restart() {
    let mut server = shared_server().await;
    let muc = server.running.as_ref().unwrap().muc().unwrap().clone();
    let room = muc
        .create_room(NewRoom {
            name: Some("standup".into()),
            owner: bare("alice@localhost"),
            config: RoomConfig {
                persistent: true,
                ..RoomConfig::default()
            },
            subject: "daily".into(),
            affiliations: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(room.to_string(), "standup@localhost");
    drop(muc);
    server.running.take().unwrap().shutdown().await;

    let mut config = test_config(server.dir.path());
    config.muc.domain = Some("localhost".into());
    let running = server::start(config).await.unwrap();
    server.c2s = running.c2s_addr;
    server.http = running.http_addr;
    server.running = Some(running);

    // The first stanza after the restart is a disco#info to the room: the room answers it.
    let mut alice = StanzaPeer::available(&server, "alice", "web").await;
    let info = iq(
        &mut alice,
        "<iq type='get' id='d1' to='standup@localhost'>\
         <query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    )
    .await;
    assert_eq!(info.attr("type"), Some("result"), "{}", String::from(&info));
    let identity = info
        .get_child("query", "http://jabber.org/protocol/disco#info")
        .and_then(|q| q.get_child("identity", "http://jabber.org/protocol/disco#info"))
        .expect("an identity");
    assert_eq!(identity.attr("category"), Some("conference"));
}
