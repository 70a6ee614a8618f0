//! Group chat (XEP-0045) end to end: rooms at conference.localhost created on join, occupants'
//! presence and status codes, groupchat fan-out with stanza-ids and occupant-ids, history on
//! join, persistence across a restart, and the in-process API the HTTP side builds on.

mod common;
mod muc_support;

use common::{PASSWORD, StanzaPeer, TestServer, test_config};
use muc_support::*;
use switchboard_server::server;
use switchboard_server::services::muc::api::{ApiError, ArchiveFrom, NewRoom};
use switchboard_xmpp::muc::{Affiliation, MucError, RoomConfig};

#[tokio::test]
async fn join_chat_nick_change_and_leave() {
    let server = TestServer::start().await;
    let mut alice = StanzaPeer::available(&server, "alice", "phone").await;
    let mut bob = StanzaPeer::available(&server, "bob", "laptop").await;

    // The first occupant creates the room and owns it.
    let (presences, history) = join(&mut alice, ROOM, "alice", "").await;
    assert!(history.is_empty());
    let own = presences.last().unwrap();
    assert_eq!(own.attr("from"), Some("lobby@conference.localhost/alice"));
    let own_codes = codes(own);
    assert!(own_codes.contains(&"110".to_owned()), "{own_codes:?}");
    assert!(own_codes.contains(&"201".to_owned()), "{own_codes:?}");
    assert_eq!(item(own).attr("affiliation"), Some("owner"));
    assert_eq!(item(own).attr("role"), Some("moderator"));
    assert!(own.has_child("occupant-id", "urn:xmpp:occupant-id:0"));

    // The second sees the first, then itself; the first sees the second.
    let (presences, _) = join(&mut bob, ROOM, "bob", "").await;
    assert_eq!(presences.len(), 2);
    assert_eq!(
        presences[0].attr("from"),
        Some("lobby@conference.localhost/alice")
    );
    assert_eq!(codes(&presences[1]), ["110", "170"]);
    assert_eq!(item(&presences[1]).attr("affiliation"), Some("none"));
    assert_eq!(item(&presences[1]).attr("role"), Some("participant"));
    // A semi-anonymous room shows real JIDs to moderators only.
    assert_eq!(item(&presences[0]).attr("jid"), None);
    let seen = alice.next_named("presence").await;
    assert_eq!(seen.attr("from"), Some("lobby@conference.localhost/bob"));
    assert_eq!(item(&seen).attr("jid"), Some("bob@localhost/laptop"));

    // Nickname taken by someone else: 409.
    let mut carol = StanzaPeer::available(&server, "carol", "c").await;
    carol.send(&join_xml(ROOM, "bob", "")).await;
    let refused = carol.next_named("presence").await;
    assert_eq!(refused.attr("type"), Some("error"));
    assert!(
        String::from(&refused).contains("conflict"),
        "{}",
        String::from(&refused)
    );

    // Groupchat fans out from room/nick with the room's stanza-id and the occupant-id.
    groupchat(&mut alice, ROOM, "hello room").await;
    for peer in [&mut alice, &mut bob] {
        let m = next_groupchat(peer).await;
        assert_eq!(m.attr("from"), Some("lobby@conference.localhost/alice"));
        assert_eq!(body(&m), "hello room");
        let sid = m.get_child("stanza-id", "urn:xmpp:sid:0").unwrap();
        assert_eq!(sid.attr("by"), Some(ROOM));
        assert!(m.has_child("occupant-id", "urn:xmpp:occupant-id:0"));
    }

    // A non-occupant may not post.
    groupchat(&mut carol, ROOM, "intruder").await;
    let refused = carol.next_named("message").await;
    assert_eq!(refused.attr("type"), Some("error"));
    assert!(String::from(&refused).contains("not-acceptable"));

    // Nickname change: 303 with the new nick, then the new presence.
    bob.send(&format!("<presence to='{ROOM}/robert'/>")).await;
    let old = alice.next_named("presence").await;
    assert_eq!(old.attr("type"), Some("unavailable"));
    assert_eq!(codes(&old), ["303"]);
    assert_eq!(item(&old).attr("nick"), Some("robert"));
    let new = alice.next_named("presence").await;
    assert_eq!(new.attr("from"), Some("lobby@conference.localhost/robert"));
    let own_old = bob.next_named("presence").await;
    assert_eq!(codes(&own_old), ["110", "303"]);

    // Leave: unavailable to everyone, with 110 to the leaver.
    let _own_new = bob.next_named("presence").await;
    bob.send(&format!(
        "<presence to='{ROOM}/robert' type='unavailable'/>"
    ))
    .await;
    let gone = bob.next_named("presence").await;
    assert_eq!(gone.attr("type"), Some("unavailable"));
    assert!(codes(&gone).contains(&"110".to_owned()));
    let gone = alice.next_named("presence").await;
    assert_eq!(gone.attr("type"), Some("unavailable"));
    assert_eq!(gone.attr("from"), Some("lobby@conference.localhost/robert"));
    server.stop().await;
}

#[tokio::test]
async fn history_on_join_follows_the_limits() {
    let server = TestServer::start().await;
    let mut alice = StanzaPeer::available(&server, "alice", "a").await;
    join(&mut alice, ROOM, "alice", "").await;
    for i in 1..=4 {
        groupchat(&mut alice, ROOM, &format!("m{i}")).await;
        next_groupchat(&mut alice).await;
    }
    let mut bob = StanzaPeer::available(&server, "bob", "b").await;
    let (_, history) = join(&mut bob, ROOM, "bob", "<history maxstanzas='2'/>").await;
    let bodies: Vec<String> = history.iter().map(body).collect();
    assert_eq!(bodies, ["m3", "m4"]);
    let delay = history[0].get_child("delay", "urn:xmpp:delay").unwrap();
    assert_eq!(delay.attr("from"), Some(ROOM));
    assert_eq!(
        history[0].attr("from"),
        Some("lobby@conference.localhost/alice")
    );
    assert_eq!(history[0].attr("to"), Some("bob@localhost/b"));

    let mut carol = StanzaPeer::available(&server, "carol", "c").await;
    let (_, none) = join(&mut carol, ROOM, "carol", "<history maxchars='0'/>").await;
    assert!(none.is_empty());
    let mut dave = StanzaPeer::available(&server, "dave", "d").await;
    let (_, all) = join(&mut dave, ROOM, "dave", "").await;
    assert_eq!(
        all.len(),
        4,
        "the default (muc.history_default) covers all four"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_in_process_api_creates_lists_posts_and_reads() {
    let server = TestServer::start().await;
    let muc = server.running.as_ref().unwrap().muc().unwrap().clone();
    let config = RoomConfig {
        name: "Team".into(),
        persistent: true,
        members_only: true,
        ..RoomConfig::default()
    };
    let room = muc
        .create_room(NewRoom {
            name: None,
            owner: bare("alice@localhost"),
            config,
            subject: "plans".into(),
            affiliations: vec![(bare("bob@localhost"), Affiliation::Member)],
        })
        .await
        .unwrap();
    let name = room.node().unwrap().as_str().to_owned();
    assert!(name.starts_with("group-") && name.len() == 6 + 36, "{name}");
    assert_eq!(muc.room_jid(&name).unwrap(), room);
    assert_eq!(muc.room_jid(room.as_str()).unwrap(), room);

    let listed = muc.rooms_of(&bare("bob@localhost")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].jid, room);
    assert_eq!(listed[0].affiliation, Affiliation::Member);
    assert_eq!(listed[0].subject, "plans");
    assert!(
        muc.rooms_of(&bare("carol@localhost"))
            .await
            .unwrap()
            .is_empty()
    );

    // Members-only: carol may not join until she is a member.
    let mut carol = StanzaPeer::available(&server, "carol", "c").await;
    carol.send(&join_xml(room.as_str(), "carol", "")).await;
    let refused = carol.next_named("presence").await;
    assert!(String::from(&refused).contains("registration-required"));
    muc.set_affiliation(
        &room,
        Some(&bare("alice@localhost")),
        &bare("carol@localhost"),
        Affiliation::Member,
    )
    .await
    .unwrap();
    let (_, _) = join(&mut carol, room.as_str(), "carol", "").await;
    // A member may not make members: only admins and owners.
    let denied = muc
        .set_affiliation(
            &room,
            Some(&bare("bob@localhost")),
            &bare("dave@localhost"),
            Affiliation::Member,
        )
        .await;
    assert!(
        matches!(denied, Err(ApiError::Refused(MucError::Forbidden(_)))),
        "{denied:?}"
    );

    // Posting as a user who is not joined: the occupants get it from the localpart's nick.
    let id = muc
        .send(&room, &bare("bob@localhost"), text_message("from the API"))
        .await
        .unwrap();
    let got = next_groupchat(&mut carol).await;
    assert_eq!(got.attr("from"), Some(format!("{room}/bob").as_str()));
    let sid = got.get_child("stanza-id", "urn:xmpp:sid:0").unwrap();
    assert_eq!(sid.attr("id"), Some(id.as_str()));
    // Not a member: refused.
    let outsider = muc
        .send(&room, &bare("dave@localhost"), text_message("no"))
        .await;
    assert!(matches!(
        outsider,
        Err(ApiError::Refused(MucError::Forbidden(_)))
    ));

    groupchat(&mut carol, room.as_str(), "from xmpp").await;
    next_groupchat(&mut carol).await;
    let page = muc
        .messages(&room, Some(&bare("bob@localhost")), ArchiveFrom::Newest, 10)
        .await
        .unwrap();
    let bodies: Vec<_> = page
        .messages
        .iter()
        .map(|m| m.body.clone().unwrap())
        .collect();
    assert_eq!(bodies, ["from the API", "from xmpp"]);
    assert_eq!(page.messages[0].id, id);
    assert_eq!(page.messages[0].nick, "bob");
    assert_eq!(page.messages[1].sender, Some(bare("carol@localhost")));
    assert!(page.complete);
    let denied = muc
        .messages(
            &room,
            Some(&bare("dave@localhost")),
            ArchiveFrom::Newest,
            10,
        )
        .await;
    assert!(matches!(
        denied,
        Err(ApiError::Refused(MucError::Forbidden(_)))
    ));

    let details = muc.room(&room).await.unwrap();
    assert_eq!(details.config.name, "Team");
    assert_eq!(details.occupants.len(), 1);
    assert_eq!(details.occupants[0].nick, "carol");
    assert!(
        details
            .affiliations
            .contains(&(bare("alice@localhost"), Affiliation::Owner))
    );

    // A session that sends no presence (an SSE stream: bound, never available) joins and
    // leaves through the API, and gets what an occupant gets.
    let mut stream = StanzaPeer::bound(&server, "bob", "sse-1").await;
    let sse = jid::Jid::new("bob@localhost/sse-1").unwrap();
    muc.join_as(&room, &sse, "bob-sse", None, Some(0))
        .await
        .unwrap();
    let seen = carol.next_named("presence").await;
    assert_eq!(seen.attr("from"), Some(format!("{room}/bob-sse").as_str()));
    assert_eq!(muc.room(&room).await.unwrap().occupants.len(), 2);
    let others = stream.next_named("presence").await;
    assert_eq!(others.attr("from"), Some(format!("{room}/carol").as_str()));
    let own = stream.next_named("presence").await;
    assert_eq!(own.attr("from"), Some(format!("{room}/bob-sse").as_str()));
    assert!(codes(&own).contains(&"110".to_owned()));
    let subject = stream.next_named("message").await;
    assert!(subject.get_child("subject", "jabber:client").is_some());
    let taken = muc
        .join_as(
            &room,
            &jid::Jid::new("dave@localhost/x").unwrap(),
            "carol",
            None,
            None,
        )
        .await;
    assert!(
        matches!(
            taken,
            Err(ApiError::Refused(MucError::RegistrationRequired(_)))
        ),
        "{taken:?}"
    );
    muc.leave_as(&room, &sse).await.unwrap();
    let left = carol.next_named("presence").await;
    assert_eq!(left.attr("type"), Some("unavailable"));
    assert_eq!(muc.room(&room).await.unwrap().occupants.len(), 1);

    // Removing carol's membership of a members-only room removes her (321).
    muc.set_affiliation(&room, None, &bare("carol@localhost"), Affiliation::None)
        .await
        .unwrap();
    let out = carol.next_named("presence").await;
    assert_eq!(out.attr("type"), Some("unavailable"));
    assert!(codes(&out).contains(&"321".to_owned()), "{:?}", codes(&out));

    muc.destroy(&room, Some(&bare("alice@localhost")), Some("done"), None)
        .await
        .unwrap();
    assert!(matches!(muc.room(&room).await, Err(ApiError::NoSuchRoom)));
    assert!(
        muc.rooms_of(&bare("bob@localhost"))
            .await
            .unwrap()
            .is_empty()
    );
    server.stop().await;
}

#[tokio::test]
async fn persistent_rooms_and_their_archives_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let running = server::start(test_config(dir.path())).await.unwrap();
    for user in ["alice", "bob"] {
        running.accounts().add_user(user, PASSWORD).await.unwrap();
    }
    let muc = running.muc().unwrap().clone();
    let room = muc
        .create_room(NewRoom {
            name: Some("keep".into()),
            owner: bare("alice@localhost"),
            config: RoomConfig {
                persistent: true,
                ..RoomConfig::default()
            },
            subject: "kept".into(),
            affiliations: vec![(bare("bob@localhost"), Affiliation::Admin)],
        })
        .await
        .unwrap();
    muc.send(&room, &bare("alice@localhost"), text_message("before"))
        .await
        .unwrap();
    // A temporary room vanishes with the restart.
    muc.create_room(NewRoom {
        name: Some("brief".into()),
        owner: bare("alice@localhost"),
        config: RoomConfig::default(),
        subject: String::new(),
        affiliations: Vec::new(),
    })
    .await
    .unwrap();
    drop(muc);
    running.shutdown().await;

    let running = server::start(test_config(dir.path())).await.unwrap();
    let muc = running.muc().unwrap().clone();
    let details = muc.room(&room).await.unwrap();
    assert!(details.config.persistent);
    assert_eq!(details.subject, "kept");
    assert!(
        details
            .affiliations
            .contains(&(bare("bob@localhost"), Affiliation::Admin))
    );
    let brief = muc.room_jid("brief").unwrap();
    assert!(matches!(muc.room(&brief).await, Err(ApiError::NoSuchRoom)));
    let page = muc
        .messages(&room, None, ArchiveFrom::Newest, 10)
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].body.as_deref(), Some("before"));
    drop(muc);
    running.shutdown().await;
}
