//! Group chat features end to end: private messages, mediated and direct invitations,
//! nickname registration, several devices under one nickname, self-ping, room MAM, service
//! discovery, and leaving by disconnecting.

mod common;
mod muc_support;

use common::{StanzaPeer, TestServer};
use muc_support::*;

#[tokio::test]
async fn private_messages_and_invitations() {
    let server = TestServer::start().await;
    let mut alice = StanzaPeer::available(&server, "alice", "a").await;
    let mut bob = StanzaPeer::available(&server, "bob", "b").await;
    join(&mut alice, ROOM, "alice", "").await;
    join(&mut bob, ROOM, "bob", "").await;

    alice
        .send(&format!(
            "<message to='{ROOM}/bob' type='chat'><body>psst</body></message>"
        ))
        .await;
    let pm = bob.next_named("message").await;
    assert_eq!(pm.attr("from"), Some("lobby@conference.localhost/alice"));
    assert_eq!(pm.attr("type"), Some("chat"));
    assert_eq!(body(&pm), "psst");
    assert!(pm.has_child("x", MUC_USER));
    alice
        .send(&format!(
            "<message to='{ROOM}/nobody' type='chat'><body>?</body></message>"
        ))
        .await;
    assert_eq!(
        condition(&next_error(&mut alice, "message").await),
        "item-not-found"
    );

    // Mediated: the room sends the invitee the invitation, with XEP-0249 alongside.
    let mut carol = StanzaPeer::available(&server, "carol", "c").await;
    alice
        .send(&format!(
            "<message to='{ROOM}'><x xmlns='http://jabber.org/protocol/muc#user'>\
             <invite to='carol@localhost'><reason>join us</reason></invite></x></message>"
        ))
        .await;
    let invitation = carol.next_named("message").await;
    assert_eq!(invitation.attr("from"), Some(ROOM));
    let invite = invitation
        .get_child("x", MUC_USER)
        .and_then(|x| x.get_child("invite", MUC_USER))
        .unwrap();
    assert_eq!(invite.attr("from"), Some("alice@localhost"));
    let direct = invitation.get_child("x", "jabber:x:conference").unwrap();
    assert_eq!(direct.attr("jid"), Some(ROOM));
    // A decline goes back to the inviter.
    carol
        .send(&format!(
            "<message to='{ROOM}'><x xmlns='http://jabber.org/protocol/muc#user'>\
             <decline to='alice@localhost'><reason>busy</reason></decline></x></message>"
        ))
        .await;
    let declined = loop {
        let m = alice.next_named("message").await;
        if String::from(&m).contains("decline") {
            break m;
        }
    };
    assert_eq!(declined.attr("from"), Some(ROOM));

    // XEP-0249 direct invitations travel between the users as they are.
    let mut dave = StanzaPeer::available(&server, "dave", "d").await;
    alice
        .send(&format!(
            "<message to='dave@localhost'><x xmlns='jabber:x:conference' jid='{ROOM}'/></message>"
        ))
        .await;
    let direct = dave.next_named("message").await;
    assert_eq!(
        direct
            .get_child("x", "jabber:x:conference")
            .and_then(|x| x.attr("jid")),
        Some(ROOM)
    );
    server.stop().await;
}

#[tokio::test]
async fn registered_nicknames_are_reserved() {
    let server = TestServer::start().await;
    let mut alice = StanzaPeer::available(&server, "alice", "a").await;
    join(&mut alice, ROOM, "alice", "").await;
    let mut carol = StanzaPeer::available(&server, "carol", "c").await;
    let form = iq(
        &mut carol,
        &format!("<iq type='get' to='{ROOM}' id='r'><query xmlns='jabber:iq:register'/></iq>"),
    )
    .await;
    assert!(String::from(&form).contains("muc#register_roomnick"));
    let done = iq(
        &mut carol,
        &format!(
            "<iq type='set' to='{ROOM}' id='r2'><query xmlns='jabber:iq:register'>\
             <x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#register</value></field>\
             <field var='muc#register_roomnick'><value>cc</value></field></x></query></iq>"
        ),
    )
    .await;
    assert_eq!(done.attr("type"), Some("result"));
    // Reserved for carol: dave may not take it, carol may.
    let mut dave = StanzaPeer::available(&server, "dave", "d").await;
    dave.send(&join_xml(ROOM, "cc", "")).await;
    assert_eq!(
        condition(&next_error(&mut dave, "presence").await),
        "conflict"
    );
    let (presences, _) = join(&mut carol, ROOM, "cc", "").await;
    assert_eq!(
        item(presences.last().unwrap()).attr("affiliation"),
        Some("member")
    );
    let again = iq(
        &mut carol,
        &format!("<iq type='get' to='{ROOM}' id='r3'><query xmlns='jabber:iq:register'/></iq>"),
    )
    .await;
    assert!(String::from(&again).contains("registered"));
    server.stop().await;
}

#[tokio::test]
async fn several_devices_share_a_nickname_and_self_ping() {
    let server = TestServer::start().await;
    let mut alice = StanzaPeer::available(&server, "alice", "a").await;
    join(&mut alice, ROOM, "alice", "").await;
    let mut phone = StanzaPeer::available(&server, "bob", "phone").await;
    let mut laptop = StanzaPeer::available(&server, "bob", "laptop").await;
    join(&mut phone, ROOM, "bob", "").await;
    alice.next_named("presence").await;
    let (presences, _) = join(&mut laptop, ROOM, "bob", "").await;
    assert!(codes(presences.last().unwrap()).contains(&"110".to_owned()));
    groupchat(&mut alice, ROOM, "both of you").await;
    assert_eq!(body(&next_groupchat(&mut phone).await), "both of you");
    assert_eq!(body(&next_groupchat(&mut laptop).await), "both of you");

    // XEP-0410: joined devices are answered, others told they are not joined.
    let pong = iq(
        &mut laptop,
        &format!("<iq type='get' to='{ROOM}/bob' id='p'><ping xmlns='urn:xmpp:ping'/></iq>"),
    )
    .await;
    assert_eq!(pong.attr("type"), Some("result"));
    let mut carol = StanzaPeer::available(&server, "carol", "c").await;
    let not_joined = iq(
        &mut carol,
        &format!("<iq type='get' to='{ROOM}/bob' id='p'><ping xmlns='urn:xmpp:ping'/></iq>"),
    )
    .await;
    assert_eq!(condition(&not_joined), "not-acceptable");

    // One device leaves: the others see nothing, bob is still there.
    phone
        .send(&format!("<presence to='{ROOM}/bob' type='unavailable'/>"))
        .await;
    let left = phone.next_named("presence").await;
    assert_eq!(left.attr("type"), Some("unavailable"));
    groupchat(&mut alice, ROOM, "still here?").await;
    let next = alice.next().await;
    assert_eq!(
        next.name(),
        "message",
        "no presence for bob's phone leaving"
    );
    assert_eq!(body(&next_groupchat(&mut laptop).await), "still here?");

    // A message to the room that bounces from an occupant's real JID removes that ghost.
    let mut carol_room = StanzaPeer::available(&server, "carol", "ghost").await;
    join(&mut carol_room, ROOM, "carol", "").await;
    alice.next_named("presence").await;
    carol_room
        .send(&format!(
            "<message from='carol@localhost/ghost' to='{ROOM}/alice' type='error'>\
             <error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
        ))
        .await;
    let ghost = alice.next_named("presence").await;
    assert_eq!(ghost.attr("type"), Some("unavailable"));
    assert_eq!(ghost.attr("from"), Some("lobby@conference.localhost/carol"));

    // Disconnecting without leaving leaves too (directed presence is remembered).
    drop(laptop);
    let gone = alice.next_named("presence").await;
    assert_eq!(gone.attr("type"), Some("unavailable"));
    assert_eq!(gone.attr("from"), Some("lobby@conference.localhost/bob"));
    server.stop().await;
}

#[tokio::test]
async fn room_archive_and_discovery() {
    let server = TestServer::start().await;
    let mut alice = StanzaPeer::available(&server, "alice", "a").await;
    join(&mut alice, ROOM, "alice", "").await;
    for text in ["one", "two", "three"] {
        groupchat(&mut alice, ROOM, text).await;
        next_groupchat(&mut alice).await;
    }
    alice
        .send(&format!(
            "<iq type='set' to='{ROOM}' id='q'><query xmlns='urn:xmpp:mam:2' queryid='x'>\
             <set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before/></set></query></iq>"
        ))
        .await;
    let mut results = Vec::new();
    let fin = loop {
        let el = alice.next().await;
        match el.name() {
            "message" if el.has_child("result", "urn:xmpp:mam:2") => results.push(el),
            "iq" => break el,
            _ => {}
        }
    };
    assert_eq!(fin.attr("type"), Some("result"));
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].attr("from"), Some(ROOM));
    let forwarded = String::from(&results[1]);
    assert!(forwarded.contains("three") && forwarded.contains("lobby@conference.localhost/alice"));

    // The server lists the service; the service and the room describe themselves.
    let items = iq(
        &mut alice,
        "<iq type='get' to='localhost' id='i'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
    )
    .await;
    assert!(String::from(&items).contains("conference.localhost"));
    let info = iq(
        &mut alice,
        "<iq type='get' to='conference.localhost' id='i'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    )
    .await;
    let xml = String::from(&info);
    assert!(
        xml.contains("category='conference'") && xml.contains("http://jabber.org/protocol/muc"),
        "{xml}"
    );
    let rooms = iq(
        &mut alice,
        "<iq type='get' to='conference.localhost' id='i'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
    )
    .await;
    assert!(String::from(&rooms).contains(ROOM));
    let info = iq(
        &mut alice,
        &format!("<iq type='get' to='{ROOM}' id='i'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"),
    )
    .await;
    let xml = String::from(&info);
    for feature in [
        "muc_temporary",
        "muc_open",
        "muc_semianonymous",
        "urn:xmpp:mam:2",
        "urn:xmpp:occupant-id:0",
        "muc#roominfo",
    ] {
        assert!(xml.contains(feature), "{feature} in {xml}");
    }
    server.stop().await;
}
