//! Group chat administration end to end: the owner's configuration form, moderated rooms and
//! voice, kick and ban, members-only and password-protected rooms, non-anonymous rooms,
//! destruction with an alternate venue, and the service's limits.

mod common;
mod muc_support;

use common::{StanzaPeer, TestServer};
use muc_support::*;
use switchboard_server::config::RoomCreation;

const OWNER_NS: &str = "http://jabber.org/protocol/muc#owner";

#[tokio::test]
async fn config_form_voice_kick_and_ban() {
    let server = TestServer::start().await;
    let mut alice = StanzaPeer::available(&server, "alice", "a").await;
    join(&mut alice, ROOM, "alice", "").await;

    // The owner reads the form with the standard fields and submits a moderated room.
    let form = iq(
        &mut alice,
        &format!("<iq type='get' to='{ROOM}' id='f'><query xmlns='{OWNER_NS}'/></iq>"),
    )
    .await;
    let xml = String::from(&form);
    for var in [
        "muc#roomconfig_roomname",
        "muc#roomconfig_persistentroom",
        "muc#roomconfig_membersonly",
        "muc#roomconfig_moderatedroom",
        "muc#roomconfig_whois",
        "muc#roomconfig_roomsecret",
        "muc#roomconfig_maxusers",
    ] {
        assert!(xml.contains(var), "{var} in {xml}");
    }
    let done = configure(&mut alice, ROOM, &[("muc#roomconfig_moderatedroom", "1")]).await;
    assert_eq!(done.attr("type"), Some("result"));
    // Status 104 tells the occupants the configuration changed.
    let notice = alice.next_named("message").await;
    assert!(String::from(&notice).contains("code='104'"));

    // Someone who is not the owner may not configure.
    let mut bob = StanzaPeer::available(&server, "bob", "b").await;
    let (presences, _) = join(&mut bob, ROOM, "bob", "").await;
    assert_eq!(
        item(presences.last().unwrap()).attr("role"),
        Some("visitor")
    );
    let denied = configure(&mut bob, ROOM, &[("muc#roomconfig_moderatedroom", "0")]).await;
    assert_eq!(condition(&denied), "forbidden");

    // A visitor has no voice; the moderator grants it.
    groupchat(&mut bob, ROOM, "may I?").await;
    let refused = bob.next_named("message").await;
    assert_eq!(condition(&refused), "forbidden");
    alice.next_named("presence").await; // bob's join
    let granted = admin(&mut alice, ROOM, "<item nick='bob' role='participant'/>").await;
    assert_eq!(granted.attr("type"), Some("result"));
    let voiced = bob.next_named("presence").await;
    assert_eq!(item(&voiced).attr("role"), Some("participant"));
    groupchat(&mut bob, ROOM, "thanks").await;
    assert_eq!(body(&next_groupchat(&mut alice).await), "thanks");

    // Subject: moderators only, until the room lets occupants change it.
    let subject =
        format!("<message to='{ROOM}' type='groupchat'><subject>bob's</subject></message>");
    bob.send(&subject).await;
    assert_eq!(
        condition(&next_error(&mut bob, "message").await),
        "forbidden"
    );
    let done = configure(&mut alice, ROOM, &[("muc#roomconfig_changesubject", "1")]).await;
    assert_eq!(done.attr("type"), Some("result"));
    bob.send(&subject).await;
    let changed = loop {
        let m = alice.next_named("message").await;
        if m.get_child("subject", "jabber:client").is_some() {
            break m;
        }
    };
    assert_eq!(changed.attr("from"), Some("lobby@conference.localhost/bob"));

    // A participant may not kick.
    let denied = admin(&mut bob, ROOM, "<item nick='alice' role='none'/>").await;
    assert_eq!(condition(&denied), "forbidden");

    // Kick: 307 with the actor and reason; bob may come back.
    let kicked = admin(
        &mut alice,
        ROOM,
        "<item nick='bob' role='none'><reason>calm down</reason></item>",
    )
    .await;
    assert_eq!(kicked.attr("type"), Some("result"));
    let out = bob.next_named("presence").await;
    assert_eq!(out.attr("type"), Some("unavailable"));
    assert_eq!(codes(&out), ["110", "307"]);
    let reason = item(&out).get_child("reason", MUC_USER).unwrap().text();
    assert_eq!(reason, "calm down");
    join(&mut bob, ROOM, "bob", "").await;

    // Ban by JID: 301, and the banned user may not rejoin.
    let banned = admin(
        &mut alice,
        ROOM,
        "<item jid='bob@localhost' affiliation='outcast'/>",
    )
    .await;
    assert_eq!(banned.attr("type"), Some("result"));
    let out = bob.next_named("presence").await;
    assert!(codes(&out).contains(&"301".to_owned()), "{:?}", codes(&out));
    bob.send(&join_xml(ROOM, "bob", "")).await;
    let refused = bob.next_named("presence").await;
    assert_eq!(condition(&refused), "forbidden");

    // The outcast list shows him; the last owner cannot step down.
    let list = iq(
        &mut alice,
        &format!(
            "<iq type='get' to='{ROOM}' id='l'><query xmlns='http://jabber.org/protocol/muc#admin'>\
             <item affiliation='outcast'/></query></iq>"
        ),
    )
    .await;
    assert!(String::from(&list).contains("bob@localhost"));
    let alone = admin(
        &mut alice,
        ROOM,
        "<item jid='alice@localhost' affiliation='member'/>",
    )
    .await;
    assert_eq!(condition(&alone), "conflict");
    server.stop().await;
}

#[tokio::test]
async fn members_only_password_and_non_anonymous_rooms() {
    let server = TestServer::start().await;
    let mut alice = StanzaPeer::available(&server, "alice", "a").await;
    join(&mut alice, ROOM, "alice", "").await;
    let done = configure(
        &mut alice,
        ROOM,
        &[
            ("muc#roomconfig_passwordprotectedroom", "1"),
            ("muc#roomconfig_roomsecret", "s3cret"),
            ("muc#roomconfig_whois", "anyone"),
        ],
    )
    .await;
    assert_eq!(done.attr("type"), Some("result"));

    let mut bob = StanzaPeer::available(&server, "bob", "b").await;
    bob.send(&join_xml(ROOM, "bob", "")).await;
    assert_eq!(
        condition(&next_error(&mut bob, "presence").await),
        "not-authorized"
    );
    bob.send(&join_xml(ROOM, "bob", "<password>wrong</password>"))
        .await;
    assert_eq!(
        condition(&next_error(&mut bob, "presence").await),
        "not-authorized"
    );
    let (presences, _) = join(&mut bob, ROOM, "bob", "<password>s3cret</password>").await;
    // Non-anonymous: 100, and everyone sees real JIDs.
    let own = presences.last().unwrap();
    assert!(codes(own).contains(&"100".to_owned()));
    assert_eq!(item(&presences[0]).attr("jid"), Some("alice@localhost/a"));

    // Members-only: bob, not a member, is removed (322); carol needs membership to join.
    let done = configure(&mut alice, ROOM, &[("muc#roomconfig_membersonly", "1")]).await;
    assert_eq!(done.attr("type"), Some("result"));
    let out = bob.next_named("presence").await;
    assert_eq!(out.attr("type"), Some("unavailable"));
    assert!(codes(&out).contains(&"322".to_owned()), "{:?}", codes(&out));
    let mut carol = StanzaPeer::available(&server, "carol", "c").await;
    carol
        .send(&join_xml(ROOM, "carol", "<password>s3cret</password>"))
        .await;
    assert_eq!(
        condition(&next_error(&mut carol, "presence").await),
        "registration-required"
    );
    let made = admin(
        &mut alice,
        ROOM,
        "<item jid='carol@localhost' affiliation='member'/>",
    )
    .await;
    assert_eq!(made.attr("type"), Some("result"));
    join(&mut carol, ROOM, "carol", "<password>s3cret</password>").await;
    server.stop().await;
}

#[tokio::test]
async fn destruction_tells_occupants_the_alternate_venue() {
    let server = TestServer::start().await;
    let mut alice = StanzaPeer::available(&server, "alice", "a").await;
    let mut bob = StanzaPeer::available(&server, "bob", "b").await;
    join(&mut alice, ROOM, "alice", "").await;
    join(&mut bob, ROOM, "bob", "").await;
    let denied = iq(
        &mut bob,
        &format!(
            "<iq type='set' to='{ROOM}' id='d'><query xmlns='{OWNER_NS}'><destroy/></query></iq>"
        ),
    )
    .await;
    assert_eq!(condition(&denied), "forbidden");
    let done = iq(
        &mut alice,
        &format!(
            "<iq type='set' to='{ROOM}' id='d'><query xmlns='{OWNER_NS}'>\
             <destroy jid='newlobby@conference.localhost'><reason>moved</reason></destroy></query></iq>"
        ),
    )
    .await;
    assert_eq!(done.attr("type"), Some("result"));
    let out = bob.next_named("presence").await;
    assert_eq!(out.attr("type"), Some("unavailable"));
    let destroy = out
        .get_child("x", MUC_USER)
        .and_then(|x| x.get_child("destroy", MUC_USER))
        .expect("destroy element");
    assert_eq!(destroy.attr("jid"), Some("newlobby@conference.localhost"));
    assert_eq!(
        destroy.get_child("reason", MUC_USER).unwrap().text(),
        "moved"
    );
    // The room is gone: a message to it is refused.
    groupchat(&mut bob, ROOM, "anyone?").await;
    assert_eq!(
        condition(&next_error(&mut bob, "message").await),
        "item-not-found"
    );
    server.stop().await;
}

#[tokio::test]
async fn limits_on_occupants_messages_and_creation() {
    let server = TestServer::start_with(|c| {
        c.muc.max_occupants = 2;
        c.muc.message_burst = 2;
        c.muc.messages_per_second = 1;
        c.muc.max_rooms_per_user = 1;
    })
    .await;
    let mut alice = StanzaPeer::available(&server, "alice", "a").await;
    let mut bob = StanzaPeer::available(&server, "bob", "b").await;
    let mut carol = StanzaPeer::available(&server, "carol", "c").await;
    join(&mut alice, ROOM, "alice", "").await;
    join(&mut bob, ROOM, "bob", "").await;
    carol.send(&join_xml(ROOM, "carol", "")).await;
    assert_eq!(
        condition(&next_error(&mut carol, "presence").await),
        "service-unavailable"
    );

    // A burst of two, then resource-constraint.
    for text in ["one", "two"] {
        groupchat(&mut bob, ROOM, text).await;
        assert_eq!(body(&next_groupchat(&mut bob).await), text);
    }
    groupchat(&mut bob, ROOM, "three").await;
    assert_eq!(
        condition(&next_error(&mut bob, "message").await),
        "resource-constraint"
    );

    // alice owns one room already: a second is not allowed.
    alice
        .send(&join_xml("second@conference.localhost", "alice", ""))
        .await;
    assert_eq!(
        condition(&next_error(&mut alice, "presence").await),
        "not-allowed"
    );
    server.stop().await;

    let admins_only = TestServer::start_with(|c| {
        c.muc.restrict_room_creation = RoomCreation::Admins;
    })
    .await;
    let mut dave = StanzaPeer::available(&admins_only, "dave", "d").await;
    dave.send(&join_xml(ROOM, "dave", "")).await;
    assert_eq!(
        condition(&next_error(&mut dave, "presence").await),
        "not-allowed"
    );
    admins_only.stop().await;
}
