//! vCard-temp (XEP-0054) with avatars both ways (XEP-0398, XEP-0084, XEP-0153), private XML
//! storage (XEP-0049) and bookmarks kept in step between XEP-0048 and XEP-0402 (XEP-0411),
//! over real c2s streams.

mod common;

use common::{StanzaPeer, TestServer};
use minidom::Element;

const PUBSUB: &str = "http://jabber.org/protocol/pubsub";
const VCARD: &str = "vcard-temp";
const PRIVATE: &str = "jabber:iq:private";
/// "hello" in base64, and its SHA-1.
const IMAGE: &str = "aGVsbG8=";
const IMAGE_ID: &str = "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";

async fn iq(peer: &mut StanzaPeer, id: &str, xml: &str) -> Element {
    peer.send(xml).await;
    loop {
        let stanza = peer.next().await;
        if stanza.name() == "iq" && stanza.attr("id") == Some(id) {
            return stanza;
        }
    }
}

fn result(reply: Element) -> Element {
    assert_eq!(
        reply.attr("type"),
        Some("result"),
        "{}",
        String::from(&reply)
    );
    reply
}

fn condition(reply: &Element) -> String {
    assert_eq!(reply.attr("type"), Some("error"), "{}", String::from(reply));
    reply
        .get_child("error", "jabber:client")
        .unwrap()
        .children()
        .find(|c| c.name() != "text")
        .unwrap()
        .name()
        .to_owned()
}

fn items_of(reply: &Element) -> Vec<Element> {
    reply
        .get_child("pubsub", PUBSUB)
        .and_then(|p| p.get_child("items", PUBSUB))
        .map(|items| items.children().cloned().collect())
        .unwrap_or_default()
}

async fn pep_items(peer: &mut StanzaPeer, id: &str, owner: &str, node: &str) -> Vec<Element> {
    let reply = iq(
        peer,
        id,
        &format!(
            "<iq type='get' id='{id}' to='{owner}'><pubsub xmlns='{PUBSUB}'><items node='{node}'/></pubsub></iq>"
        ),
    )
    .await;
    items_of(&result(reply))
}

async fn vcard_of(peer: &mut StanzaPeer, id: &str, owner: &str) -> Element {
    let reply = iq(
        peer,
        id,
        &format!("<iq type='get' id='{id}' to='{owner}'><vCard xmlns='{VCARD}'/></iq>"),
    )
    .await;
    result(reply).get_child("vCard", VCARD).unwrap().clone()
}

#[tokio::test]
async fn vcards_are_read_by_anyone_and_written_by_their_account() {
    let server = TestServer::start_with(|c| c.pep.max_vcard_bytes = 4096).await;
    let mut alice = StanzaPeer::available(&server, "alice", "phone").await;
    let mut bob = StanzaPeer::available(&server, "bob", "phone").await;
    let empty = vcard_of(&mut bob, "g0", "alice@localhost").await;
    assert_eq!(empty.children().count(), 0);
    result(
        iq(
            &mut alice,
            "s1",
            "<iq type='set' id='s1'><vCard xmlns='vcard-temp'><FN>Alice A.</FN><NICKNAME>al</NICKNAME></vCard></iq>",
        )
        .await,
    );
    let read = vcard_of(&mut bob, "g1", "alice@localhost").await;
    assert_eq!(read.get_child("FN", VCARD).unwrap().text(), "Alice A.");
    let refused = iq(
        &mut bob,
        "s2",
        "<iq type='set' id='s2' to='alice@localhost'><vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>",
    )
    .await;
    assert_eq!(condition(&refused), "forbidden");
    let big = format!(
        "<iq type='set' id='s3'><vCard xmlns='vcard-temp'><DESC>{}</DESC></vCard></iq>",
        "x".repeat(5000)
    );
    assert_eq!(
        condition(&iq(&mut alice, "s3", &big).await),
        "not-acceptable"
    );
    let read = vcard_of(&mut alice, "g2", "alice@localhost").await;
    assert_eq!(read.get_child("FN", VCARD).unwrap().text(), "Alice A.");
    let nobody = iq(
        &mut bob,
        "g3",
        "<iq type='get' id='g3' to='nobody@localhost'><vCard xmlns='vcard-temp'/></iq>",
    )
    .await;
    assert_eq!(condition(&nobody), "service-unavailable");
    server.stop().await;
}

#[tokio::test]
async fn avatars_convert_both_ways() {
    let server = TestServer::start().await;
    let mut alice = StanzaPeer::available(&server, "alice", "phone").await;

    // An old client sets a vCard PHOTO: the XEP-0084 nodes get it.
    result(
        iq(
            &mut alice,
            "v1",
            &format!(
                "<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Alice</FN>\
                 <PHOTO><TYPE>image/png</TYPE><BINVAL>{IMAGE}</BINVAL></PHOTO></vCard></iq>"
            ),
        )
        .await,
    );
    let metadata = pep_items(
        &mut alice,
        "m1",
        "alice@localhost",
        "urn:xmpp:avatar:metadata",
    )
    .await;
    assert_eq!(metadata.len(), 1);
    assert_eq!(metadata[0].attr("id"), Some(IMAGE_ID));
    let info = metadata[0]
        .get_child("metadata", "urn:xmpp:avatar:metadata")
        .and_then(|m| m.get_child("info", "urn:xmpp:avatar:metadata"))
        .unwrap();
    assert_eq!(info.attr("bytes"), Some("5"));
    assert_eq!(info.attr("type"), Some("image/png"));
    let data = pep_items(&mut alice, "d1", "alice@localhost", "urn:xmpp:avatar:data").await;
    assert_eq!(
        data[0]
            .get_child("data", "urn:xmpp:avatar:data")
            .unwrap()
            .text(),
        IMAGE
    );

    // Presence without a XEP-0153 element is stamped with the avatar's hash.
    let store = server.running.as_ref().unwrap().accounts().store();
    store
        .roster_set_subscription("alice", "bob@localhost", "from", None)
        .await
        .unwrap();
    store
        .roster_set_subscription("bob", "alice@localhost", "to", None)
        .await
        .unwrap();
    let mut bob = StanzaPeer::available(&server, "bob", "phone").await;
    alice.send("<presence><show>away</show></presence>").await;
    // (Alice's earlier presence, shown to bob as he came online, is skipped.)
    let presence = loop {
        let presence = bob.next_named("presence").await;
        if presence.has_child("show", "jabber:client") {
            break presence;
        }
    };
    let photo = presence
        .get_child("x", "vcard-temp:x:update")
        .and_then(|x| x.get_child("photo", "vcard-temp:x:update"))
        .unwrap_or_else(|| panic!("a photo hash: {}", String::from(&presence)));
    assert_eq!(photo.text(), IMAGE_ID);

    // A new client publishes a XEP-0084 avatar: the vCard's PHOTO follows.
    let other = "d29ybGQ="; // "world"
    let other_id = "7c211433f02071597741e6ff5a8ea34789abbf43";
    for (id, node, payload) in [
        (
            "p1",
            "urn:xmpp:avatar:data",
            format!("<data xmlns='urn:xmpp:avatar:data'>{other}</data>"),
        ),
        (
            "p2",
            "urn:xmpp:avatar:metadata",
            format!(
                "<metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='5' id='{other_id}' \
                 type='image/jpeg'/></metadata>"
            ),
        ),
    ] {
        result(
            iq(
                &mut alice,
                id,
                &format!(
                    "<iq type='set' id='{id}'><pubsub xmlns='{PUBSUB}'><publish node='{node}'>\
                     <item id='{other_id}'>{payload}</item></publish></pubsub></iq>"
                ),
            )
            .await,
        );
    }
    let vcard = vcard_of(&mut bob, "v2", "alice@localhost").await;
    let photo = vcard.get_child("PHOTO", VCARD).unwrap();
    assert_eq!(photo.get_child("BINVAL", VCARD).unwrap().text(), other);
    assert_eq!(photo.get_child("TYPE", VCARD).unwrap().text(), "image/jpeg");
    assert_eq!(vcard.get_child("FN", VCARD).unwrap().text(), "Alice");
    // The next presence carries the new hash.
    alice.send("<presence><show>dnd</show></presence>").await;
    let presence = loop {
        let presence = bob.next_named("presence").await;
        if presence
            .get_child("show", "jabber:client")
            .map(Element::text)
            == Some("dnd".into())
        {
            break presence;
        }
    };
    let photo = presence
        .get_child("x", "vcard-temp:x:update")
        .and_then(|x| x.get_child("photo", "vcard-temp:x:update"))
        .unwrap();
    assert_eq!(photo.text(), other_id);
    server.stop().await;
}

#[tokio::test]
async fn private_storage_is_the_accounts_own() {
    let server = TestServer::start_with(|c| c.pep.max_private_bytes = 2048).await;
    let mut alice = StanzaPeer::available(&server, "alice", "phone").await;
    let mut bob = StanzaPeer::available(&server, "bob", "phone").await;
    let get = |id: &str| {
        format!(
            "<iq type='get' id='{id}'><query xmlns='{PRIVATE}'><prefs xmlns='urn:example:prefs'/></query></iq>"
        )
    };
    let empty = result(iq(&mut alice, "g1", &get("g1")).await);
    let prefs = empty
        .get_child("query", PRIVATE)
        .and_then(|q| q.get_child("prefs", "urn:example:prefs"))
        .unwrap();
    assert_eq!(prefs.children().count(), 0);
    result(
        iq(
            &mut alice,
            "s1",
            &format!(
                "<iq type='set' id='s1'><query xmlns='{PRIVATE}'><prefs xmlns='urn:example:prefs'><theme>dark</theme></prefs></query></iq>"
            ),
        )
        .await,
    );
    let stored = result(iq(&mut alice, "g2", &get("g2")).await);
    assert!(String::from(&stored).contains("dark"));
    // Bob neither reads nor writes alice's.
    let refused = iq(
        &mut bob,
        "b1",
        &format!(
            "<iq type='get' id='b1' to='alice@localhost'><query xmlns='{PRIVATE}'><prefs xmlns='urn:example:prefs'/></query></iq>"
        ),
    )
    .await;
    assert_eq!(condition(&refused), "forbidden");
    let bobs = result(iq(&mut bob, "b2", &get("b2")).await);
    assert!(!String::from(&bobs).contains("dark"));
    // Reserved namespaces and oversized documents are refused.
    let reserved = iq(
        &mut alice,
        "s2",
        &format!("<iq type='set' id='s2'><query xmlns='{PRIVATE}'><x xmlns='jabber:client'/></query></iq>"),
    )
    .await;
    assert_eq!(condition(&reserved), "not-acceptable");
    let big = format!(
        "<iq type='set' id='s3'><query xmlns='{PRIVATE}'><prefs xmlns='urn:example:prefs'>{}</prefs></query></iq>",
        "x".repeat(3000)
    );
    assert_eq!(
        condition(&iq(&mut alice, "s3", &big).await),
        "not-acceptable"
    );
    server.stop().await;
}

#[tokio::test]
async fn bookmarks_are_one_list_in_both_forms() {
    let server = TestServer::start().await;
    let mut alice = StanzaPeer::available(&server, "alice", "phone").await;
    // A XEP-0048 client writes two rooms and a URL.
    result(
        iq(
            &mut alice,
            "s1",
            &format!(
                "<iq type='set' id='s1'><query xmlns='{PRIVATE}'><storage xmlns='storage:bookmarks'>\
                 <conference jid='tea@muc.example' name='Tea' autojoin='true'><nick>al</nick></conference>\
                 <conference jid='work@muc.example' autojoin='false'/>\
                 <url name='Site' url='https://example.org'/></storage></query></iq>"
            ),
        )
        .await,
    );
    // A XEP-0402 client reads them as items of the PEP node.
    let items = pep_items(&mut alice, "p1", "alice@localhost", "urn:xmpp:bookmarks:1").await;
    let ids: Vec<&str> = items.iter().filter_map(|i| i.attr("id")).collect();
    assert_eq!(ids, ["tea@muc.example", "work@muc.example"]);
    let tea = items[0]
        .get_child("conference", "urn:xmpp:bookmarks:1")
        .unwrap();
    assert_eq!(tea.attr("autojoin"), Some("true"));
    assert_eq!(
        tea.get_child("nick", "urn:xmpp:bookmarks:1")
            .unwrap()
            .text(),
        "al"
    );
    // The node is private to the account.
    let mut bob = StanzaPeer::available(&server, "bob", "phone").await;
    let closed = iq(
        &mut bob,
        "b1",
        &format!(
            "<iq type='get' id='b1' to='alice@localhost'><pubsub xmlns='{PUBSUB}'><items node='urn:xmpp:bookmarks:1'/></pubsub></iq>"
        ),
    )
    .await;
    assert_eq!(condition(&closed), "not-allowed");

    // The XEP-0402 client adds a room with the XEP's publish-options; the old client sees it.
    result(
        iq(
            &mut alice,
            "p2",
            &format!(
                "<iq type='set' id='p2'><pubsub xmlns='{PUBSUB}'><publish node='urn:xmpp:bookmarks:1'>\
                 <item id='play@muc.example'><conference xmlns='urn:xmpp:bookmarks:1' name='Play'/></item>\
                 </publish><publish-options><x xmlns='jabber:x:data' type='submit'>\
                 <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>\
                 <field var='pubsub#persist_items'><value>true</value></field>\
                 <field var='pubsub#max_items'><value>max</value></field>\
                 <field var='pubsub#send_last_published_item'><value>never</value></field>\
                 <field var='pubsub#access_model'><value>whitelist</value></field>\
                 </x></publish-options></pubsub></iq>"
            ),
        )
        .await,
    );
    let get = format!(
        "<iq type='get' id='g1'><query xmlns='{PRIVATE}'><storage xmlns='storage:bookmarks'/></query></iq>"
    );
    let storage = result(iq(&mut alice, "g1", &get).await);
    let storage = storage
        .get_child("query", PRIVATE)
        .and_then(|q| q.get_child("storage", "storage:bookmarks"))
        .unwrap();
    let rooms: Vec<&str> = storage
        .children()
        .filter(|c| c.name() == "conference")
        .filter_map(|c| c.attr("jid"))
        .collect();
    assert_eq!(
        rooms,
        ["tea@muc.example", "work@muc.example", "play@muc.example"]
    );
    assert!(
        storage.children().any(|c| c.name() == "url"),
        "URLs are kept"
    );

    // The old client removes a room: it is retracted from the node.
    result(
        iq(
            &mut alice,
            "s2",
            &format!(
                "<iq type='set' id='s2'><query xmlns='{PRIVATE}'><storage xmlns='storage:bookmarks'>\
                 <conference jid='tea@muc.example' name='Tea' autojoin='true'><nick>al</nick></conference>\
                 <conference jid='play@muc.example' name='Play' autojoin='false'/></storage></query></iq>"
            ),
        )
        .await,
    );
    let items = pep_items(&mut alice, "p3", "alice@localhost", "urn:xmpp:bookmarks:1").await;
    let ids: Vec<&str> = items.iter().filter_map(|i| i.attr("id")).collect();
    assert_eq!(ids, ["tea@muc.example", "play@muc.example"]);
    server.stop().await;
}
