//! XEP-0163 PEP end to end over real c2s streams: OMEMO's publish pattern (device list with
//! publish-options, bundles, another account fetching both), notifications filtered by XEP-0115
//! capabilities the server asks for and verifies, last items on presence, access models, and
//! node management.

mod common;

use common::{StanzaPeer, TestServer};
use minidom::Element;
use switchboard_xmpp::caps::{Algo, ver_of};

const PUBSUB: &str = "http://jabber.org/protocol/pubsub";
const EVENT: &str = "http://jabber.org/protocol/pubsub#event";
const ERRORS: &str = "http://jabber.org/protocol/pubsub#errors";
const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
const DEVICES: &str = "urn:xmpp:omemo:2:devices";
const BUNDLES: &str = "urn:xmpp:omemo:2:bundles";
const LEGACY_DEVICES: &str = "eu.siacs.conversations.axolotl.devicelist";

/// A client's disco#info answer asking for the notifications of `nodes`.
fn disco_answer(nodes: &[&str]) -> String {
    let mut features: Vec<String> = vec![
        "http://jabber.org/protocol/caps".into(),
        "http://jabber.org/protocol/disco#info".into(),
    ];
    features.extend(nodes.iter().map(|n| format!("{n}+notify")));
    features.extend(nodes.iter().map(|n| (*n).to_owned()));
    let features: String = features
        .iter()
        .map(|f| format!("<feature var='{f}'/>"))
        .collect();
    format!(
        "<query xmlns='http://jabber.org/protocol/disco#info'>\
         <identity category='client' type='pc' name='Test'/>{features}</query>"
    )
}

fn ver(answer: &str) -> String {
    ver_of(&answer.parse::<Element>().unwrap(), Algo::Sha1).unwrap()
}

fn caps_presence(ver: &str) -> String {
    format!(
        "<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
         node='https://example.org/test' ver='{ver}'/></presence>"
    )
}

/// Makes `contact` a presence subscriber of `owner` (and `owner` of `contact` when `mutual`),
/// as the roster service would leave them.
async fn subscribe(server: &TestServer, contact: &str, owner: &str, mutual: bool) {
    let store = server.running.as_ref().unwrap().accounts().store();
    let (to_owner, to_contact) = if mutual {
        ("both", "both")
    } else {
        ("from", "to")
    };
    store
        .roster_set_subscription(owner, &format!("{contact}@localhost"), to_owner, None)
        .await
        .unwrap();
    store
        .roster_set_subscription(contact, &format!("{owner}@localhost"), to_contact, None)
        .await
        .unwrap();
}

/// Comes online with capabilities asking for `nodes`, answering the server's disco#info query
/// about them unless `known` (already cached). Presence stanzas that arrive are skipped.
async fn online_with_caps(
    server: &TestServer,
    user: &str,
    resource: &str,
    nodes: &[&str],
    known: bool,
) -> StanzaPeer {
    let mut peer = StanzaPeer::bound(server, user, resource).await;
    let answer = disco_answer(nodes);
    peer.send(&caps_presence(&ver(&answer))).await;
    if !known {
        let query = peer.next_named("iq").await;
        assert_eq!(query.attr("type"), Some("get"));
        assert_eq!(query.attr("from"), Some("localhost/caps"));
        let node = query
            .get_child("query", "http://jabber.org/protocol/disco#info")
            .and_then(|q| q.attr("node"))
            .unwrap()
            .to_owned();
        assert_eq!(node, format!("https://example.org/test#{}", ver(&answer)));
        let reply = answer.replacen("<query ", &format!("<query node='{node}' "), 1);
        peer.send(&format!(
            "<iq type='result' id='{}' to='localhost/caps'>{reply}</iq>",
            query.attr("id").unwrap()
        ))
        .await;
    }
    peer
}

/// Sends an iq and returns the reply with the same id, skipping other stanzas.
async fn iq(peer: &mut StanzaPeer, id: &str, xml: &str) -> Element {
    iq_and_messages(peer, id, xml).await.0
}

/// Sends an iq and returns the reply with the same id and the messages that came first.
async fn iq_and_messages(peer: &mut StanzaPeer, id: &str, xml: &str) -> (Element, Vec<Element>) {
    peer.send(xml).await;
    let mut messages = Vec::new();
    loop {
        let stanza = peer.next().await;
        if stanza.name() == "iq" && stanza.attr("id") == Some(id) {
            return (stanza, messages);
        }
        if stanza.name() == "message" {
            messages.push(stanza);
        }
    }
}

fn publish(id: &str, to: Option<&str>, node: &str, item: &str, options: &[(&str, &str)]) -> String {
    let to = to.map(|t| format!(" to='{t}'")).unwrap_or_default();
    let options = if options.is_empty() {
        String::new()
    } else {
        let fields: String = options
            .iter()
            .map(|(var, value)| format!("<field var='{var}'><value>{value}</value></field>"))
            .collect();
        format!(
            "<publish-options><x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE' type='hidden'>\
             <value>http://jabber.org/protocol/pubsub#publish-options</value></field>\
             {fields}</x></publish-options>"
        )
    };
    format!(
        "<iq type='set' id='{id}'{to}><pubsub xmlns='{PUBSUB}'><publish node='{node}'>{item}</publish>{options}</pubsub></iq>"
    )
}

fn items(id: &str, to: &str, node: &str, extra: &str) -> String {
    format!(
        "<iq type='get' id='{id}' to='{to}'><pubsub xmlns='{PUBSUB}'><items node='{node}'{extra}/></pubsub></iq>"
    )
}

fn item_ids(result: &Element) -> Vec<String> {
    result
        .get_child("pubsub", PUBSUB)
        .and_then(|p| p.get_child("items", PUBSUB))
        .map(|items| {
            items
                .children()
                .filter_map(|i| i.attr("id").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn error_of(reply: &Element) -> (String, Option<String>) {
    assert_eq!(reply.attr("type"), Some("error"), "{}", String::from(reply));
    let error = reply.get_child("error", "jabber:client").unwrap();
    let defined = error
        .children()
        .find(|c| c.ns() == STANZAS && c.name() != "text")
        .map(|c| c.name().to_owned())
        .unwrap();
    let app = error
        .children()
        .find(|c| c.ns() == ERRORS)
        .map(|c| c.name().to_owned());
    (defined, app)
}

/// The node and first item of a PEP notification.
fn event_of(message: &Element) -> (String, Element) {
    assert_eq!(message.attr("type"), Some("headline"));
    let items = message
        .get_child("event", EVENT)
        .and_then(|e| e.get_child("items", EVENT))
        .unwrap_or_else(|| panic!("an event: {}", String::from(message)));
    let first = items.children().next().unwrap().clone();
    (items.attr("node").unwrap().to_owned(), first)
}

async fn next_event(peer: &mut StanzaPeer) -> (String, Element) {
    let message = peer.next_named("message").await;
    event_of(&message)
}

/// Asserts that nothing reaches `peer` before the reply to a ping it sends now: stanzas are
/// delivered in order, so anything sent to it earlier would come first.
async fn nothing_pending(peer: &mut StanzaPeer) {
    peer.send("<iq type='get' id='sentinel' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    loop {
        let stanza = peer.next().await;
        match stanza.name() {
            "presence" => continue,
            "iq" if stanza.attr("id") == Some("sentinel") => return,
            _ => panic!("unexpected: {}", String::from(&stanza)),
        }
    }
}

const DEVICE_LIST: &str = "<item id='current'><devices xmlns='urn:xmpp:omemo:2'>\
     <device id='1001' label='phone'/></devices></item>";

#[tokio::test]
async fn omemo_devicelist_and_bundles() {
    let server = TestServer::start().await;
    subscribe(&server, "bob", "alice", true).await;
    let nodes = [DEVICES, LEGACY_DEVICES];
    let mut bob = online_with_caps(&server, "bob", "phone", &nodes, false).await;
    let mut alice = online_with_caps(&server, "alice", "phone", &nodes, true).await;

    // Conversations' pattern: the device list with access_model=open as a precondition.
    let open = [("pubsub#access_model", "open")];
    let (reply, own) = iq_and_messages(
        &mut alice,
        "d1",
        &publish("d1", None, DEVICES, DEVICE_LIST, &open),
    )
    .await;
    assert_eq!(
        reply.attr("type"),
        Some("result"),
        "{}",
        String::from(&reply)
    );
    let (node, item) = next_event(&mut bob).await;
    assert_eq!(node, DEVICES);
    assert_eq!(item.attr("id"), Some("current"));
    assert!(item.has_child("devices", "urn:xmpp:omemo:2"));
    // The owner's own resources are told too.
    assert_eq!(own.len(), 1);
    assert_eq!(event_of(&own[0]).0, DEVICES);

    // The legacy (axolotl) device list, as Conversations still publishes it beside.
    let legacy = "<item id='current'><list xmlns='eu.siacs.conversations.axolotl'>\
                  <device id='1001'/></list></item>";
    let reply = iq(
        &mut alice,
        "l1",
        &publish("l1", None, LEGACY_DEVICES, legacy, &open),
    )
    .await;
    assert_eq!(reply.attr("type"), Some("result"));
    let (node, item) = next_event(&mut bob).await;
    assert_eq!(node, LEGACY_DEVICES);
    assert!(item.has_child("list", "eu.siacs.conversations.axolotl"));

    // Bundles: one item per device, as many as allowed.
    let bundle = "<item id='1001'><bundle xmlns='urn:xmpp:omemo:2'><spk id='1'>AAAA</spk>\
                  <ik>BBBB</ik><prekeys><pk id='1'>CCCC</pk></prekeys></bundle></item>";
    let bundle_options = [("pubsub#access_model", "open"), ("pubsub#max_items", "max")];
    let reply = iq(
        &mut alice,
        "b1",
        &publish("b1", None, BUNDLES, bundle, &bundle_options),
    )
    .await;
    assert_eq!(reply.attr("type"), Some("result"));

    // Carol, no contact of alice's, fetches both: the nodes are open.
    let mut carol = StanzaPeer::available(&server, "carol", "laptop").await;
    let list = iq(
        &mut carol,
        "c1",
        &items("c1", "alice@localhost", DEVICES, ""),
    )
    .await;
    assert_eq!(item_ids(&list), ["current"]);
    assert_eq!(list.attr("from"), Some("alice@localhost"));
    let bundles = iq(
        &mut carol,
        "c2",
        &items("c2", "alice@localhost", BUNDLES, ""),
    )
    .await;
    assert_eq!(item_ids(&bundles), ["1001"]);
    let by_id = iq(
        &mut carol,
        "c3",
        &format!(
            "<iq type='get' id='c3' to='alice@localhost'><pubsub xmlns='{PUBSUB}'>\
             <items node='{BUNDLES}'><item id='1001'/></items></pubsub></iq>"
        ),
    )
    .await;
    assert!(
        by_id
            .get_child("pubsub", PUBSUB)
            .unwrap()
            .get_child("items", PUBSUB)
            .unwrap()
            .get_child("item", PUBSUB)
            .unwrap()
            .has_child("bundle", "urn:xmpp:omemo:2")
    );

    // A precondition the node does not meet is refused, and nothing is published.
    let reply = iq(
        &mut alice,
        "d2",
        &publish(
            "d2",
            None,
            DEVICES,
            DEVICE_LIST,
            &[("pubsub#access_model", "presence")],
        ),
    )
    .await;
    assert_eq!(
        error_of(&reply),
        ("conflict".into(), Some("precondition-not-met".into()))
    );

    // A change of device list reaches bob; a second resource of his, with capabilities the
    // server already verified, gets the last item when it comes online, with no query.
    let two = DEVICE_LIST.replace("</devices>", "<device id='2002'/></devices>");
    let reply = iq(&mut alice, "d3", &publish("d3", None, DEVICES, &two, &open)).await;
    assert_eq!(reply.attr("type"), Some("result"));
    let (_, item) = next_event(&mut bob).await;
    let devices = item.get_child("devices", "urn:xmpp:omemo:2").unwrap();
    assert_eq!(devices.children().count(), 2);
    let mut tablet = online_with_caps(&server, "bob", "tablet", &nodes, true).await;
    // The last item of each node it asks for: both device lists.
    let mut last = [next_event(&mut tablet).await, next_event(&mut tablet).await];
    last.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(last[0].0, LEGACY_DEVICES);
    let (node, item) = &last[1];
    assert_eq!(node, DEVICES);
    assert_eq!(
        item.get_child("devices", "urn:xmpp:omemo:2")
            .unwrap()
            .children()
            .count(),
        2
    );
    server.stop().await;
}

#[tokio::test]
async fn notifications_follow_verified_capabilities_and_subscriptions() {
    let server = TestServer::start().await;
    subscribe(&server, "bob", "alice", false).await;
    let nick = "http://jabber.org/protocol/nick";
    let mut bob = online_with_caps(&server, "bob", "phone", &[nick], false).await;
    // Carol asks for the node but has no subscription to alice.
    let mut carol = online_with_caps(&server, "carol", "phone", &[nick], true).await;
    // Dave's client lies about its capabilities: the answer does not hash to its ver.
    let mut dave = StanzaPeer::bound(&server, "dave", "phone").await;
    subscribe(&server, "dave", "alice", false).await;
    dave.send(&caps_presence("bm90IHRoZSBoYXNo")).await;
    let query = dave.next_named("iq").await;
    dave.send(&format!(
        "<iq type='result' id='{}' to='localhost/caps'>{}</iq>",
        query.attr("id").unwrap(),
        disco_answer(&[nick])
    ))
    .await;
    let mut alice = StanzaPeer::available(&server, "alice", "phone").await;
    nothing_pending(&mut dave).await;

    let nick_item = "<item><nick xmlns='http://jabber.org/protocol/nick'>Alice</nick></item>";
    let reply = iq(&mut alice, "n1", &publish("n1", None, nick, nick_item, &[])).await;
    assert_eq!(reply.attr("type"), Some("result"));
    // The server chose an id and says which.
    let published = reply
        .get_child("pubsub", PUBSUB)
        .and_then(|p| p.get_child("publish", PUBSUB))
        .and_then(|p| p.get_child("item", PUBSUB))
        .and_then(|i| i.attr("id"))
        .unwrap()
        .to_owned();
    let (node, item) = next_event(&mut bob).await;
    assert_eq!(node, nick);
    assert_eq!(item.attr("id"), Some(published.as_str()));
    nothing_pending(&mut carol).await;
    nothing_pending(&mut dave).await;
    nothing_pending(&mut alice).await;

    // The default access model is presence: carol may not read, bob may.
    let reply = iq(&mut carol, "r1", &items("r1", "alice@localhost", nick, "")).await;
    assert_eq!(
        error_of(&reply),
        (
            "not-authorized".into(),
            Some("presence-subscription-required".into())
        )
    );
    let reply = iq(&mut bob, "r2", &items("r2", "alice@localhost", nick, "")).await;
    assert_eq!(item_ids(&reply), [published.as_str()]);
    // Nobody but the owner publishes.
    let reply = iq(
        &mut bob,
        "r3",
        &publish("r3", Some("alice@localhost"), nick, nick_item, &[]),
    )
    .await;
    assert_eq!(error_of(&reply).0, "forbidden");
    // Whom alice blocks gets nothing of her nodes (XEP-0191).
    let reply = iq(
        &mut alice,
        "b1",
        "<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='bob@localhost'/></block></iq>",
    )
    .await;
    assert_eq!(reply.attr("type"), Some("result"));
    let reply = iq(&mut alice, "n2", &publish("n2", None, nick, nick_item, &[])).await;
    assert_eq!(reply.attr("type"), Some("result"));
    nothing_pending(&mut bob).await;
    server.stop().await;
}

#[tokio::test]
async fn node_management_and_limits() {
    let server = TestServer::start_with(|c| c.pep.max_items = 3).await;
    subscribe(&server, "bob", "alice", false).await;
    let mut alice = StanzaPeer::available(&server, "alice", "phone").await;
    let mut bob = StanzaPeer::available(&server, "bob", "phone").await;
    let node = "urn:example:log";
    for (n, id) in ["a", "b", "c", "d"].iter().enumerate() {
        let item = format!("<item id='{id}'><entry xmlns='urn:example'>{n}</entry></item>");
        let reply = iq(
            &mut alice,
            id,
            &publish(id, None, node, &item, &[("pubsub#max_items", "max")]),
        )
        .await;
        assert_eq!(
            reply.attr("type"),
            Some("result"),
            "{}",
            String::from(&reply)
        );
    }
    let all = iq(&mut alice, "i1", &items("i1", "alice@localhost", node, "")).await;
    assert_eq!(
        item_ids(&all),
        ["b", "c", "d"],
        "max means the service's limit"
    );
    let newest = iq(
        &mut bob,
        "i2",
        &items("i2", "alice@localhost", node, " max_items='1'"),
    )
    .await;
    assert_eq!(item_ids(&newest), ["d"]);
    let too_many = iq(
        &mut alice,
        "e1",
        &publish(
            "e1",
            None,
            "urn:example:other",
            "<item><x xmlns='urn:example'/></item>",
            &[("pubsub#max_items", "4")],
        ),
    )
    .await;
    assert_eq!(
        error_of(&too_many),
        ("conflict".into(), Some("precondition-not-met".into()))
    );

    // Configuration: read the form, make the node a whitelist.
    let form = iq(
        &mut alice,
        "cf1",
        &format!(
            "<iq type='get' id='cf1'><pubsub xmlns='{PUBSUB}#owner'><configure node='{node}'/></pubsub></iq>"
        ),
    )
    .await;
    let text = String::from(&form);
    assert!(text.contains("pubsub#access_model"), "{text}");
    let reply = iq(
        &mut alice,
        "cf2",
        &format!(
            "<iq type='set' id='cf2'><pubsub xmlns='{PUBSUB}#owner'><configure node='{node}'>\
             <x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>\
             <value>http://jabber.org/protocol/pubsub#node_config</value></field>\
             <field var='pubsub#access_model'><value>whitelist</value></field>\
             </x></configure></pubsub></iq>"
        ),
    )
    .await;
    assert_eq!(
        reply.attr("type"),
        Some("result"),
        "{}",
        String::from(&reply)
    );
    let closed = iq(&mut bob, "i3", &items("i3", "alice@localhost", node, "")).await;
    assert_eq!(
        error_of(&closed),
        ("not-allowed".into(), Some("closed-node".into()))
    );

    // Retract, purge, delete.
    let reply = iq(
        &mut alice,
        "x1",
        &format!(
            "<iq type='set' id='x1'><pubsub xmlns='{PUBSUB}'><retract node='{node}' notify='true'>\
             <item id='d'/></retract></pubsub></iq>"
        ),
    )
    .await;
    assert_eq!(reply.attr("type"), Some("result"));
    let left = iq(&mut alice, "i4", &items("i4", "alice@localhost", node, "")).await;
    assert_eq!(item_ids(&left), ["b", "c"]);
    let reply = iq(
        &mut alice,
        "x2",
        &format!(
            "<iq type='set' id='x2'><pubsub xmlns='{PUBSUB}#owner'><purge node='{node}'/></pubsub></iq>"
        ),
    )
    .await;
    assert_eq!(reply.attr("type"), Some("result"));
    let none = iq(&mut alice, "i5", &items("i5", "alice@localhost", node, "")).await;
    assert!(item_ids(&none).is_empty());
    let reply = iq(
        &mut alice,
        "x3",
        &format!(
            "<iq type='set' id='x3'><pubsub xmlns='{PUBSUB}#owner'><delete node='{node}'/></pubsub></iq>"
        ),
    )
    .await;
    assert_eq!(reply.attr("type"), Some("result"));
    let gone = iq(&mut alice, "i6", &items("i6", "alice@localhost", node, "")).await;
    assert_eq!(error_of(&gone).0, "item-not-found");

    // Item size limit.
    let big = format!(
        "<item><blob xmlns='urn:example'>{}</blob></item>",
        "x".repeat(200 * 1024)
    );
    let reply = iq(&mut alice, "big", &publish("big", None, node, &big, &[])).await;
    assert_eq!(
        error_of(&reply),
        ("not-acceptable".into(), Some("payload-too-big".into()))
    );
    // Explicit subscriptions are not how PEP works: refused with the feature named.
    let reply = iq(
        &mut bob,
        "s1",
        &format!(
            "<iq type='set' id='s1' to='alice@localhost'><pubsub xmlns='{PUBSUB}'>\
             <subscribe node='{node}' jid='bob@localhost'/></pubsub></iq>"
        ),
    )
    .await;
    assert_eq!(
        error_of(&reply),
        ("feature-not-implemented".into(), Some("unsupported".into()))
    );
    server.stop().await;
}

#[tokio::test]
async fn the_account_advertises_pep() {
    let server = TestServer::start().await;
    let mut alice = StanzaPeer::available(&server, "alice", "phone").await;
    let info = iq(
        &mut alice,
        "d",
        "<iq type='get' id='d' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    )
    .await;
    let query = info
        .get_child("query", "http://jabber.org/protocol/disco#info")
        .unwrap();
    assert!(query.children().any(|c| c.name() == "identity"
        && c.attr("category") == Some("pubsub")
        && c.attr("type") == Some("pep")));
    for feature in [
        "http://jabber.org/protocol/pubsub#publish-options",
        "http://jabber.org/protocol/pubsub#access-whitelist",
        "urn:xmpp:bookmarks:1#compat",
        "vcard-temp",
    ] {
        assert!(
            query
                .children()
                .any(|c| c.name() == "feature" && c.attr("var") == Some(feature)),
            "{feature}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_ver_is_asked_about_once() {
    let server = TestServer::start().await;
    subscribe(&server, "bob", "alice", true).await;
    let nick = "http://jabber.org/protocol/nick";
    let mut alice = StanzaPeer::available(&server, "alice", "phone").await;
    let nick_item =
        "<item id='n'><nick xmlns='http://jabber.org/protocol/nick'>Alice</nick></item>";
    let reply = iq(&mut alice, "n1", &publish("n1", None, nick, nick_item, &[])).await;
    assert_eq!(reply.attr("type"), Some("result"));

    let answer = disco_answer(&[nick]);
    let mut phone = StanzaPeer::bound(&server, "bob", "phone").await;
    let mut tablet = StanzaPeer::bound(&server, "bob", "tablet").await;
    phone.send(&caps_presence(&ver(&answer))).await;
    let query = phone.next_named("iq").await;
    // The tablet shows the same ver while the phone's answer is awaited: it is not asked.
    tablet.send(&caps_presence(&ver(&answer))).await;
    nothing_pending(&mut tablet).await;
    let node = query
        .get_child("query", "http://jabber.org/protocol/disco#info")
        .and_then(|q| q.attr("node"))
        .unwrap();
    let reply = answer.replacen("<query ", &format!("<query node='{node}' "), 1);
    phone
        .send(&format!(
            "<iq type='result' id='{}' to='localhost/caps'>{reply}</iq>",
            query.attr("id").unwrap()
        ))
        .await;
    // Both get the last item of alice's node.
    for peer in [&mut phone, &mut tablet] {
        let message = loop {
            let stanza = peer.next().await;
            assert_ne!(stanza.name(), "iq", "{}", String::from(&stanza));
            if stanza.name() == "message" {
                break stanza;
            }
        };
        let (node, item) = event_of(&message);
        assert_eq!(node, nick);
        assert_eq!(item.attr("id"), Some("n"));
        assert_eq!(message.attr("from"), Some("alice@localhost"));
    }
    server.stop().await;
}

#[tokio::test]
async fn an_approved_subscription_brings_the_last_items() {
    let server = TestServer::start().await;
    let nick = "http://jabber.org/protocol/nick";
    let mut alice = StanzaPeer::available(&server, "alice", "phone").await;
    let nick_item =
        "<item id='n'><nick xmlns='http://jabber.org/protocol/nick'>Alice</nick></item>";
    let reply = iq(&mut alice, "n1", &publish("n1", None, nick, nick_item, &[])).await;
    assert_eq!(reply.attr("type"), Some("result"));
    let mut bob = online_with_caps(&server, "bob", "phone", &[nick], false).await;
    nothing_pending(&mut bob).await;
    bob.send("<presence to='alice@localhost' type='subscribe'/>")
        .await;
    let request = alice.next_named("presence").await;
    assert_eq!(request.attr("type"), Some("subscribe"));
    alice
        .send("<presence to='bob@localhost' type='subscribed'/>")
        .await;
    let (node, item) = next_event(&mut bob).await;
    assert_eq!(node, nick);
    assert_eq!(item.attr("id"), Some("n"));
    server.stop().await;
}
