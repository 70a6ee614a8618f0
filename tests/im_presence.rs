//! RFC 6121 subscriptions and presence, XEP-0237 roster versioning and XEP-0160 offline
//! messages end to end: tokio-xmpp clients over TCP, raw TCP and WebSocket peers, HTTP senders
//! and a bot's webhook, against a server on ephemeral loopback ports.

mod common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use futures::{SinkExt, StreamExt};
use minidom::Element;
use switchboard_server::config::{ComponentConfig, UserCallbackConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_xmpp::{Client, Event};

const CLIENT: &str = "jabber:client";
const ROSTER: &str = "jabber:iq:roster";
const DELAY: &str = "urn:xmpp:delay";
const COMPONENT_TOKEN: &str = "Bearer component-token";

// ------------------------------------------------------------------------------------------
// A client that waits for stanzas by what they are, whatever else arrives in between

/// A tokio-xmpp client over TCP + STARTTLS. What arrives is kept in order; `expect` takes the
/// first stanza that matches and leaves the others for later.
struct Peer {
    client: Client,
    jid: String,
    inbox: VecDeque<Element>,
    pings: u32,
}

fn parse(xml: &str) -> Element {
    xml.parse().expect("test XML parses")
}

/// Adds the client namespace to a stanza written without it.
fn in_client_ns(stanza: &str) -> String {
    let at = stanza.find([' ', '/', '>']).expect("a start tag");
    format!("{} xmlns='{CLIENT}'{}", &stanza[..at], &stanza[at..])
}

fn xml(el: &Element) -> String {
    switchboard_xmpp::stanza::to_xml(el)
}

impl Peer {
    async fn login(server: &TestServer, jid: &str) -> Peer {
        let client = server.client(jid).await;
        Peer {
            client,
            jid: jid.to_owned(),
            inbox: VecDeque::new(),
            pings: 0,
        }
    }

    fn bare(&self) -> &str {
        self.jid.split('/').next().unwrap()
    }

    async fn send(&mut self, stanza: &str) {
        send_xml(&mut self.client, &in_client_ns(stanza)).await;
    }

    async fn receive(&mut self) -> Element {
        loop {
            let event = tokio::time::timeout(STEP, self.client.next())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{}: nothing arrived in time; holding {:?}",
                        self.jid,
                        self.inbox.iter().map(xml).collect::<Vec<_>>()
                    )
                })
                .expect("stream still open");
            match event {
                Event::Stanza(stanza) => return Element::from(stanza),
                Event::Online { .. } => continue,
                Event::Disconnected(e) => panic!("{}: disconnected: {e}", self.jid),
            }
        }
    }

    /// The first stanza (held or arriving) for which `matches` holds.
    async fn expect(&mut self, what: &str, matches: impl Fn(&Element) -> bool) -> Element {
        if let Some(i) = self.inbox.iter().position(&matches) {
            return self.inbox.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: no {what}; got {:?}",
                self.jid,
                self.inbox.iter().map(xml).collect::<Vec<_>>()
            );
            let el = self.receive().await;
            if matches(&el) {
                return el;
            }
            self.inbox.push_back(el);
        }
    }

    /// Waits until everything the server had for this client before now has arrived: a ping
    /// round trip on the same stream (stanzas to one session are written in order).
    async fn sync(&mut self) {
        self.pings += 1;
        let id = format!("sync{}", self.pings);
        self.send(&format!(
            "<iq type='get' id='{id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"
        ))
        .await;
        self.expect("the ping answer", |e| e.attr("id") == Some(id.as_str()))
            .await;
    }

    /// Asserts that nothing matching `matches` has arrived by the time a ping comes back.
    async fn expect_none(&mut self, what: &str, matches: impl Fn(&Element) -> bool) {
        self.sync().await;
        let found: Vec<String> = self.inbox.iter().filter(|e| matches(e)).map(xml).collect();
        assert!(
            found.is_empty(),
            "{}: unexpected {what}: {found:?}",
            self.jid
        );
    }

    /// Sends initial (or updated) presence and waits for its reflection.
    async fn available(&mut self, extra: &str) {
        self.send(&format!("<presence>{extra}</presence>")).await;
        let me = self.jid.clone();
        self.expect("its own presence back", |e| {
            e.name() == "presence"
                && e.attr("from") == Some(me.as_str())
                && e.attr("type").is_none()
        })
        .await;
    }

    /// Gets the roster (marking this resource interested in pushes); `ver` asks for versioning.
    async fn roster(&mut self, ver: Option<&str>) -> Element {
        self.pings += 1;
        let id = format!("roster{}", self.pings);
        let ver = ver.map(|v| format!(" ver='{v}'")).unwrap_or_default();
        self.send(&format!(
            "<iq type='get' id='{id}'><query xmlns='{ROSTER}'{ver}/></iq>"
        ))
        .await;
        let result = self
            .expect("the roster result", |e| e.attr("id") == Some(id.as_str()))
            .await;
        assert_eq!(result.attr("type"), Some("result"), "{}", xml(&result));
        result
    }

    /// The roster item for `jid` in a fresh roster get.
    async fn item(&mut self, jid: &str) -> Option<Element> {
        let roster = self.roster(None).await;
        let query = roster.get_child("query", ROSTER)?;
        query
            .children()
            .find(|i| i.attr("jid") == Some(jid))
            .cloned()
    }

    /// The next roster push about `jid`.
    async fn push(&mut self, jid: &str) -> Element {
        let push = self
            .expect(&format!("a roster push about {jid}"), |e| {
                e.name() == "iq"
                    && e.attr("type") == Some("set")
                    && pushed_item(e).is_some_and(|i| i.attr("jid") == Some(jid))
            })
            .await;
        pushed_item(&push).unwrap().clone()
    }

    /// The next presence of `type_` (empty for available) from `from`.
    async fn presence(&mut self, type_: &str, from: &str) -> Element {
        self.expect(&format!("presence type={type_:?} from {from}"), |e| {
            is_presence(e, type_, from)
        })
        .await
    }
}

fn pushed_item(iq: &Element) -> Option<&Element> {
    iq.get_child("query", ROSTER)?.get_child("item", ROSTER)
}

fn is_presence(e: &Element, type_: &str, from: &str) -> bool {
    e.name() == "presence"
        && e.attr("type").unwrap_or_default() == type_
        && e.attr("from") == Some(from)
}

fn subscription_of(item: &Element) -> (&str, Option<&str>) {
    (item.attr("subscription").unwrap(), item.attr("ask"))
}

/// `asker` subscribes to `giver`, who approves.
async fn subscribe(asker: &mut Peer, giver: &mut Peer) {
    let (asker_bare, giver_bare) = (asker.bare().to_owned(), giver.bare().to_owned());
    asker
        .send(&format!("<presence to='{giver_bare}' type='subscribe'/>"))
        .await;
    giver.presence("subscribe", &asker_bare).await;
    giver
        .send(&format!("<presence to='{asker_bare}' type='subscribed'/>"))
        .await;
    asker.presence("subscribed", &giver_bare).await;
}

/// Mutual subscription between two online, roster-interested peers, checked on the way.
async fn befriend(a: &mut Peer, b: &mut Peer) {
    subscribe(a, b).await;
    subscribe(b, a).await;
    // The last approval was a's: once a's stream answers, all it caused has been delivered.
    a.sync().await;
    b.sync().await;
    let (a_bare, b_bare) = (a.bare().to_owned(), b.bare().to_owned());
    assert_eq!(
        subscription_of(&a.item(&b_bare).await.unwrap()),
        ("both", None)
    );
    assert_eq!(
        subscription_of(&b.item(&a_bare).await.unwrap()),
        ("both", None)
    );
    a.inbox.clear();
    b.inbox.clear();
}

/// A peer logged in, interested in roster pushes, and available.
async fn online(server: &TestServer, jid: &str) -> Peer {
    let mut peer = Peer::login(server, jid).await;
    peer.roster(None).await;
    peer.available("").await;
    peer
}

// ------------------------------------------------------------------------------------------
// Subscriptions

#[tokio::test]
async fn subscribing_online_both_sides_with_pushes_and_presence() {
    let server = TestServer::start().await;
    let mut alice = online(&server, "alice@localhost/phone").await;
    let mut bob = online(&server, "bob@localhost/desk").await;

    // A request to a full JID means the bare JID; it leaves stamped with alice's bare JID.
    alice
        .send("<presence to='bob@localhost/desk' type='subscribe' id='s1'><status>hi!</status></presence>")
        .await;
    let pending = alice.push("bob@localhost").await;
    assert_eq!(subscription_of(&pending), ("none", Some("subscribe")));
    let request = bob.presence("subscribe", "alice@localhost").await;
    assert_eq!(request.attr("to"), Some("bob@localhost"));
    assert_eq!(
        request
            .get_child("status", CLIENT)
            .map(|s| s.text())
            .as_deref(),
        Some("hi!"),
        "extensions travel with the request"
    );
    // No item appears in bob's roster for a request he has not answered.
    bob.expect_none("a roster push", |e| pushed_item(e).is_some())
        .await;
    assert!(bob.item("alice@localhost").await.is_none());

    bob.send("<presence to='alice@localhost' type='subscribed'/>")
        .await;
    assert_eq!(
        subscription_of(&bob.push("alice@localhost").await),
        ("from", None)
    );
    alice.presence("subscribed", "bob@localhost").await;
    assert_eq!(
        subscription_of(&alice.push("bob@localhost").await),
        ("to", None)
    );
    // The approval is followed by bob's current presence, from his full JID.
    alice.presence("", "bob@localhost/desk").await;

    // bob sees nothing of alice yet: his subscription is none.
    alice.available("<show>away</show>").await;
    alice.sync().await;
    bob.expect_none("alice's presence", |e| {
        is_presence(e, "", "alice@localhost/phone")
    })
    .await;
    // alice sees bob's changes.
    bob.available("<show>dnd</show>").await;
    let dnd = alice.presence("", "bob@localhost/desk").await;
    assert_eq!(dnd.get_child("show", CLIENT).unwrap().text(), "dnd");

    // An approval nobody asked for changes nothing and goes nowhere.
    alice
        .send("<presence to='bob@localhost' type='subscribed'/>")
        .await;
    alice.sync().await;
    bob.expect_none("an unsolicited approval", |e| {
        is_presence(e, "subscribed", "alice@localhost")
    })
    .await;
    alice
        .expect_none("a roster push", |e| pushed_item(e).is_some())
        .await;

    // The other way round: both.
    bob.send("<presence to='alice@localhost' type='subscribe'/>")
        .await;
    assert_eq!(
        subscription_of(&bob.push("alice@localhost").await),
        ("from", Some("subscribe"))
    );
    alice.presence("subscribe", "bob@localhost").await;
    alice
        .send("<presence to='bob@localhost' type='subscribed'/>")
        .await;
    assert_eq!(
        subscription_of(&alice.push("bob@localhost").await),
        ("both", None)
    );
    assert_eq!(
        subscription_of(&bob.push("alice@localhost").await),
        ("both", None)
    );
    bob.presence("subscribed", "alice@localhost").await;
    let away = bob.presence("", "alice@localhost/phone").await;
    assert_eq!(away.get_child("show", CLIENT).unwrap().text(), "away");

    // A request from a contact already subscribed is answered by the server and changes
    // nothing (the answer is for bob's server, which has nothing to do with it).
    bob.send("<presence to='alice@localhost' type='subscribe'/>")
        .await;
    bob.sync().await;
    alice
        .expect_none("a repeated request", |e| {
            is_presence(e, "subscribe", "bob@localhost")
        })
        .await;
    bob.expect_none("a roster push", |e| pushed_item(e).is_some())
        .await;
    server.stop().await;
}

#[tokio::test]
async fn mutual_subscribers_see_each_other_on_every_resource() {
    let server = TestServer::start().await;
    let mut alice = online(&server, "alice@localhost/phone").await;
    let mut bob = online(&server, "bob@localhost/desk").await;
    befriend(&mut alice, &mut bob).await;

    // A second resource of each: probes at login bring the contact's presence.
    let mut laptop = Peer::login(&server, "alice@localhost/laptop").await;
    laptop.available("<status>on the laptop</status>").await;
    laptop.presence("", "bob@localhost/desk").await;
    laptop.presence("", "alice@localhost/phone").await;
    bob.presence("", "alice@localhost/laptop").await;
    let mut tablet = Peer::login(&server, "bob@localhost/tablet").await;
    tablet.available("").await;
    for from in ["alice@localhost/phone", "alice@localhost/laptop"] {
        tablet.presence("", from).await;
    }
    for peer in [&mut alice, &mut laptop] {
        peer.presence("", "bob@localhost/tablet").await;
    }

    // A change on one resource reaches every resource of the contact.
    bob.available("<show>xa</show>").await;
    for peer in [&mut alice, &mut laptop] {
        let seen = peer.presence("", "bob@localhost/desk").await;
        assert_eq!(seen.get_child("show", CLIENT).unwrap().text(), "xa");
        assert_eq!(seen.attr("to"), Some("alice@localhost"));
    }
    // Going away reaches them all too.
    drop(laptop);
    for peer in [&mut bob, &mut tablet] {
        peer.presence("unavailable", "alice@localhost/laptop").await;
    }
    alice
        .presence("unavailable", "alice@localhost/laptop")
        .await;

    // Someone without a subscription sees none of it.
    let mut carol = online(&server, "carol@localhost/c").await;
    alice.available("<show>chat</show>").await;
    bob.presence("", "alice@localhost/phone").await;
    alice.sync().await;
    carol
        .expect_none("presence of others", |e| {
            e.name() == "presence" && !e.attr("from").unwrap_or_default().starts_with("carol@")
        })
        .await;
    server.stop().await;
}

#[tokio::test]
async fn a_request_to_an_offline_contact_waits_until_answered() {
    let server = TestServer::start().await;
    let mut alice = online(&server, "alice@localhost/phone").await;
    alice
        .send("<presence to='carol@localhost' type='subscribe'/>")
        .await;
    alice.push("carol@localhost").await;
    alice.sync().await;

    // Shown at carol's next available presence, and again at the one after while unanswered.
    for round in 0..2 {
        let mut carol = Peer::login(&server, &format!("carol@localhost/r{round}")).await;
        carol.available("").await;
        let request = carol.presence("subscribe", "alice@localhost").await;
        assert_eq!(request.attr("to"), Some("carol@localhost"));
        if round == 1 {
            carol
                .send("<presence to='alice@localhost' type='subscribed'/>")
                .await;
            carol.sync().await;
        }
    }
    alice.presence("subscribed", "carol@localhost").await;
    assert_eq!(
        subscription_of(&alice.push("carol@localhost").await),
        ("to", None)
    );

    // Answered, it is not shown again; the approval is kept in carol's roster.
    let mut carol = Peer::login(&server, "carol@localhost/r2").await;
    carol.available("").await;
    carol
        .expect_none("the answered request", |e| {
            is_presence(e, "subscribe", "alice@localhost")
        })
        .await;
    assert_eq!(
        subscription_of(&carol.item("alice@localhost").await.unwrap()),
        ("from", None)
    );
    // And alice, subscribed now, sees carol come and go.
    alice.presence("", "carol@localhost/r2").await;
    drop(carol);
    alice.presence("unavailable", "carol@localhost/r2").await;

    // A denial of a request made while the contact was away.
    alice
        .send("<presence to='dave@localhost' type='subscribe'/>")
        .await;
    alice.push("dave@localhost").await;
    let mut dave = Peer::login(&server, "dave@localhost/d").await;
    dave.available("").await;
    dave.presence("subscribe", "alice@localhost").await;
    dave.send("<presence to='alice@localhost' type='unsubscribed'/>")
        .await;
    alice.presence("unsubscribed", "dave@localhost").await;
    assert_eq!(
        subscription_of(&alice.push("dave@localhost").await),
        ("none", None)
    );
    drop(dave);
    let mut dave = Peer::login(&server, "dave@localhost/d2").await;
    dave.available("").await;
    dave.expect_none("the denied request", |e| {
        is_presence(e, "subscribe", "alice@localhost")
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn unsubscribe_and_unsubscribed_end_what_they_name() {
    let server = TestServer::start().await;
    let mut alice = online(&server, "alice@localhost/phone").await;
    let mut bob = online(&server, "bob@localhost/desk").await;
    befriend(&mut alice, &mut bob).await;

    // alice no longer wants bob's presence: both sides move, and bob shows unavailable to her.
    alice
        .send("<presence to='bob@localhost' type='unsubscribe'/>")
        .await;
    assert_eq!(
        subscription_of(&alice.push("bob@localhost").await),
        ("from", None)
    );
    bob.presence("unsubscribe", "alice@localhost").await;
    assert_eq!(
        subscription_of(&bob.push("alice@localhost").await),
        ("to", None)
    );
    alice.presence("unavailable", "bob@localhost/desk").await;
    // bob still sees alice; alice no longer sees bob.
    alice.available("<show>away</show>").await;
    bob.presence("", "alice@localhost/phone").await;
    bob.available("<show>dnd</show>").await;
    bob.sync().await;
    alice
        .expect_none("bob's presence", |e| {
            is_presence(e, "", "bob@localhost/desk")
        })
        .await;

    // alice cancels bob's subscription: none both ways, and alice shows unavailable to bob.
    alice
        .send("<presence to='bob@localhost' type='unsubscribed'/>")
        .await;
    assert_eq!(
        subscription_of(&alice.push("bob@localhost").await),
        ("none", None)
    );
    bob.presence("unsubscribed", "alice@localhost").await;
    assert_eq!(
        subscription_of(&bob.push("alice@localhost").await),
        ("none", None)
    );
    bob.presence("unavailable", "alice@localhost/phone").await;
    alice.available("<show>chat</show>").await;
    alice.sync().await;
    bob.expect_none("alice's presence", |e| {
        is_presence(e, "", "alice@localhost/phone")
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn removing_a_contact_ends_both_subscriptions() {
    let server = TestServer::start().await;
    let mut alice = online(&server, "alice@localhost/phone").await;
    let mut bob = online(&server, "bob@localhost/desk").await;
    befriend(&mut alice, &mut bob).await;
    alice
        .send("<iq type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query></iq>")
        .await;
    alice
        .expect("the removal result", |e| e.attr("id") == Some("rm"))
        .await;
    assert_eq!(
        alice.push("bob@localhost").await.attr("subscription"),
        Some("remove")
    );
    bob.presence("unsubscribe", "alice@localhost").await;
    bob.presence("unsubscribed", "alice@localhost").await;
    bob.presence("unavailable", "alice@localhost/phone").await;
    assert_eq!(
        subscription_of(&bob.item("alice@localhost").await.unwrap()),
        ("none", None)
    );
    assert!(alice.item("bob@localhost").await.is_none());
    server.stop().await;
}

#[tokio::test]
async fn probes_are_answered_for_subscribers_only() {
    let server = TestServer::start().await;
    let mut alice = online(&server, "alice@localhost/phone").await;
    let mut bob = online(&server, "bob@localhost/desk").await;
    befriend(&mut alice, &mut bob).await;
    let mut carol = online(&server, "carol@localhost/c").await;

    // A non-subscriber learns nothing (the `unsubscribed` answer changes nothing on its side).
    carol
        .send("<presence to='alice@localhost' type='probe'/>")
        .await;
    carol
        .expect_none("anything from alice", |e| {
            e.attr("from").is_some_and(|f| f.starts_with("alice@"))
        })
        .await;

    bob.send("<presence to='alice@localhost' type='probe'/>")
        .await;
    let answer = bob.presence("", "alice@localhost/phone").await;
    assert_eq!(answer.attr("to"), Some("bob@localhost/desk"));

    // A fresh login of bob is told about alice without asking.
    let mut again = Peer::login(&server, "bob@localhost/again").await;
    again.available("").await;
    again.presence("", "alice@localhost/phone").await;
    again
        .expect_none("carol's presence", |e| {
            is_presence(e, "", "carol@localhost/c")
        })
        .await;
    server.stop().await;
}

#[tokio::test]
async fn directed_presence_ends_with_an_unavailable_at_logout() {
    let server = TestServer::start().await;
    let mut alice = online(&server, "alice@localhost/phone").await;
    let mut dave = online(&server, "dave@localhost/d").await;
    let mut carol = online(&server, "carol@localhost/c").await;
    alice
        .send("<presence to='dave@localhost'><status>just for you</status></presence>")
        .await;
    dave.presence("", "alice@localhost/phone").await;
    alice.send("<presence to='carol@localhost/c'/>").await;
    carol.presence("", "alice@localhost/phone").await;
    // Directed unavailable ends it early for carol.
    alice
        .send("<presence to='carol@localhost/c' type='unavailable'/>")
        .await;
    carol.presence("unavailable", "alice@localhost/phone").await;
    // A broadcast does not reach entities that only had directed presence.
    alice.available("<show>away</show>").await;
    alice.sync().await;
    dave.expect_none("alice's broadcast", |e| {
        is_presence(e, "", "alice@localhost/phone")
    })
    .await;

    drop(alice);
    let gone = dave.presence("unavailable", "alice@localhost/phone").await;
    assert_eq!(gone.attr("to"), Some("dave@localhost"));
    // alice's stream is gone: nothing to wait on but a while.
    tokio::time::sleep(Duration::from_millis(300)).await;
    carol
        .expect_none("a second unavailable", |e| {
            is_presence(e, "unavailable", "alice@localhost/phone")
        })
        .await;
    server.stop().await;
}

#[tokio::test]
async fn directed_presence_is_remembered_up_to_its_limit() {
    let server = TestServer::start_with(|c| c.limits.max_directed_presence = 1).await;
    let mut alice = online(&server, "alice@localhost/phone").await;
    let mut dave = online(&server, "dave@localhost/d").await;
    let mut carol = online(&server, "carol@localhost/c").await;
    alice.send("<presence to='dave@localhost'/>").await;
    dave.presence("", "alice@localhost/phone").await;
    // Past the limit directed presence is still delivered, only not remembered.
    alice.send("<presence to='carol@localhost'/>").await;
    carol.presence("", "alice@localhost/phone").await;
    alice.send("<presence type='unavailable'/>").await;
    dave.presence("unavailable", "alice@localhost/phone").await;
    alice.sync().await;
    carol
        .expect_none("an unavailable", |e| {
            is_presence(e, "unavailable", "alice@localhost/phone")
        })
        .await;
    // The server goes on: the limit is per session, and a new round starts after unavailable.
    alice.available("").await;
    alice.send("<presence to='carol@localhost'/>").await;
    drop(alice);
    carol.presence("unavailable", "alice@localhost/phone").await;
    server.stop().await;
}

// ------------------------------------------------------------------------------------------
// Roster versioning (XEP-0237)

#[tokio::test]
async fn roster_versions_spare_unchanged_rosters() {
    let server = TestServer::start().await;
    // Offered as a stream feature with resource binding.
    let mut raw = RawTcp::connect(server.c2s).await;
    raw.send(STREAM_HEADER).await;
    raw.read_until("</stream:features>").await;
    raw.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
        plain_auth("alice")
    ))
    .await;
    raw.read_until("<success").await;
    raw.send(STREAM_HEADER).await;
    let features = raw.read_until("</stream:features>").await;
    assert!(
        features.contains("urn:xmpp:features:rosterver"),
        "{features}"
    );

    let mut alice = Peer::login(&server, "alice@localhost/phone").await;
    let first = alice.roster(Some("")).await;
    let ver = first
        .get_child("query", ROSTER)
        .and_then(|q| q.attr("ver"))
        .expect("a version when asked for")
        .to_owned();
    // Unchanged: an empty result.
    let same = alice.roster(Some(&ver)).await;
    assert_eq!(same.children().count(), 0, "{}", xml(&same));
    // Without `ver`, the client gets no version.
    let plain = alice.roster(None).await;
    assert_eq!(plain.get_child("query", ROSTER).unwrap().attr("ver"), None);

    // A change is pushed with the new version.
    alice
        .send("<iq type='set' id='set1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'/></query></iq>")
        .await;
    let push = alice
        .expect("the push", |e| {
            e.attr("type") == Some("set") && pushed_item(e).is_some()
        })
        .await;
    let pushed_ver = push
        .get_child("query", ROSTER)
        .and_then(|q| q.attr("ver"))
        .expect("pushes carry the version")
        .to_owned();
    assert_ne!(pushed_ver, ver);
    // The old version now gets the full roster, at the pushed version.
    let full = alice.roster(Some(&ver)).await;
    let query = full.get_child("query", ROSTER).unwrap();
    assert_eq!(query.attr("ver"), Some(pushed_ver.as_str()));
    assert_eq!(query.children().count(), 1);
    assert_eq!(alice.roster(Some(&pushed_ver)).await.children().count(), 0);
    // Subscription changes count as changes.
    alice
        .send("<presence to='bob@localhost' type='subscribe'/>")
        .await;
    let push = alice.expect("the push", |e| pushed_item(e).is_some()).await;
    let after = push
        .get_child("query", ROSTER)
        .unwrap()
        .attr("ver")
        .unwrap();
    assert_ne!(after, pushed_ver);
    server.stop().await;
}

// ------------------------------------------------------------------------------------------
// Offline messages (XEP-0160)

async fn post_xml(server: &TestServer, user: &str, body: &str) -> (u16, String) {
    let response = http()
        .post(server.url("/rest"))
        .basic_auth(user, Some(PASSWORD))
        .header("Content-Type", "application/xmpp+xml")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn offline_messages_are_delivered_once_to_one_of_two_racing_resources() {
    let server = TestServer::start().await;
    let total = 250;
    for i in 0..total {
        let (status, body) = post_xml(
            &server,
            "alice",
            &format!("<message to='bob@localhost' type='chat'><body>offline-{i}</body></message>"),
        )
        .await;
        assert_eq!(status, 202, "{body}");
    }
    // Not kept: chat states, headlines, errors.
    for skipped in [
        "<message to='bob@localhost' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
        "<message to='bob@localhost' type='headline'><body>news</body></message>",
    ] {
        assert_eq!(post_xml(&server, "alice", skipped).await.0, 202);
    }
    let mut one = raw_logged_in(server.c2s, "bob", "one").await;
    let mut two = raw_logged_in(server.c2s, "bob", "two").await;
    let done = "<iq type='get' id='done' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>";
    let (a, b) = tokio::join!(
        async {
            one.send(&format!("<presence/>{done}")).await;
            one.read_until("id='done'").await
        },
        async {
            two.send(&format!("<presence/>{done}")).await;
            two.read_until("id='done'").await
        }
    );
    let mut seen = Vec::new();
    for text in [&a, &b] {
        for i in 0..total {
            seen.extend(std::iter::repeat_n(
                i,
                text.matches(&format!(">offline-{i}<")).count(),
            ));
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        (0..total).collect::<Vec<_>>(),
        "each message exactly once"
    );
    let (with, without) = if a.contains(">offline-0<") {
        (&a, &b)
    } else {
        (&b, &a)
    };
    assert!(
        !without.contains(">offline-"),
        "one resource took the whole backlog"
    );
    assert_eq!(with.matches("urn:xmpp:delay").count(), total);
    assert!(!with.contains("news") && !with.contains("chatstates"));
    // In order.
    let positions: Vec<usize> = (0..total)
        .map(|i| with.find(&format!(">offline-{i}<")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
    let store = server.running.as_ref().unwrap().accounts().store().clone();
    assert_eq!(store.offline_usage("bob").await.unwrap().messages, 0);
    server.stop().await;
}

fn is_resource_constraint(body: &str) -> bool {
    body.contains("type='error'") && body.contains("resource-constraint")
}

#[tokio::test]
async fn offline_quotas_bounce_past_their_bound_and_the_server_goes_on() {
    let server = TestServer::start_with(|c| {
        c.limits.offline_max_messages = 3;
        c.limits.offline_max_bytes = 2000;
    })
    .await;
    let message = |to: &str, body: &str| {
        format!("<message to='{to}' type='chat'><body>{body}</body></message>")
    };
    // By count.
    for i in 0..3 {
        assert_eq!(
            post_xml(
                &server,
                "alice",
                &message("bob@localhost", &format!("m{i}"))
            )
            .await
            .0,
            202
        );
    }
    let (status, body) = post_xml(&server, "alice", &message("bob@localhost", "m3")).await;
    assert_eq!(status, 200, "{body}");
    assert!(is_resource_constraint(&body), "{body}");
    // A client sender gets the error as a stanza.
    let mut carol = online(&server, "carol@localhost/c").await;
    carol
        .send("<message to='bob@localhost' type='chat' id='full'><body>one more</body></message>")
        .await;
    let bounce = carol
        .expect("the bounce", |e| e.attr("id") == Some("full"))
        .await;
    assert_eq!(bounce.attr("type"), Some("error"));
    let error = bounce.get_child("error", CLIENT).unwrap();
    assert_eq!(error.attr("type"), Some("wait"));
    assert!(error.has_child("resource-constraint", "urn:ietf:params:xml:ns:xmpp-stanzas"));

    // By bytes: two messages of ~750 bytes (with the archive's stanza-id) fit in 2000, a third
    // does not.
    let big = "x".repeat(600);
    for _ in 0..2 {
        assert_eq!(
            post_xml(&server, "alice", &message("dave@localhost", &big))
                .await
                .0,
            202
        );
    }
    let (status, body) = post_xml(&server, "alice", &message("dave@localhost", &big)).await;
    assert_eq!(status, 200);
    assert!(is_resource_constraint(&body), "{body}");
    // Something smaller still fits.
    assert_eq!(
        post_xml(&server, "alice", &message("dave@localhost", "small"))
            .await
            .0,
        202
    );

    // Others are served as before: live delivery, and offline storage for other accounts.
    assert_eq!(
        post_xml(&server, "alice", &message("carol@localhost", "live"))
            .await
            .0,
        202
    );
    carol
        .expect("the live message", |e| {
            e.get_child("body", CLIENT)
                .is_some_and(|b| b.text() == "live")
        })
        .await;
    // Delivery frees bob's room.
    let mut bob = Peer::login(&server, "bob@localhost/desk").await;
    bob.available("").await;
    for i in 0..3 {
        let body = format!("m{i}");
        let got = bob
            .expect("a stored message", |e| {
                e.get_child("body", CLIENT)
                    .is_some_and(|b| b.text() == body)
            })
            .await;
        assert!(got.has_child("delay", DELAY));
    }
    bob.expect_none("a message past the quota", |e| {
        e.get_child("body", CLIENT)
            .is_some_and(|b| b.text() == "m3" || b.text() == "one more")
    })
    .await;
    drop(bob);
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let (status, _) = post_xml(&server, "alice", &message("bob@localhost", "room again")).await;
        if status == 202 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bob's room was not freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn encrypted_messages_without_a_body_are_kept() {
    let server = TestServer::start().await;
    let omemo = "<message to='bob@localhost' type='chat' id='e1'>\
        <encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'><iv>aXY=</iv></header>\
        <payload>cGF5bG9hZA==</payload></encrypted></message>";
    assert_eq!(post_xml(&server, "alice", omemo).await.0, 202);
    let receipt = "<message to='bob@localhost' type='chat' id='r1'><received xmlns='urn:xmpp:receipts' id='x'/></message>";
    assert_eq!(post_xml(&server, "alice", receipt).await.0, 202);
    let mut bob = Peer::login(&server, "bob@localhost/desk").await;
    bob.available("").await;
    let kept = bob
        .expect("the OMEMO message", |e| e.attr("id") == Some("e1"))
        .await;
    assert!(kept.has_child("encrypted", "eu.siacs.conversations.axolotl"));
    assert!(kept.has_child("delay", DELAY));
    bob.expect_none("the bodiless receipt", |e| e.attr("id") == Some("r1"))
        .await;
    server.stop().await;
}

// ------------------------------------------------------------------------------------------
// Other surfaces: a bot's webhook, WebSocket

/// Records the stanzas POSTed to it and answers 204.
struct Hook {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Element>>>,
}

impl Hook {
    async fn start() -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got: Arc<Mutex<Vec<Element>>> = Arc::default();
        let sink = got.clone();
        let app = axum::Router::new().fallback(move |body: String| {
            let sink = sink.clone();
            async move {
                if !body.is_empty() {
                    let wrapped: Element =
                        format!("<s xmlns='{CLIENT}'>{body}</s>").parse().unwrap();
                    sink.lock().unwrap().extend(wrapped.children().cloned());
                }
                axum::http::StatusCode::NO_CONTENT
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Hook { addr, got }
    }

    async fn expect(&self, what: &str, matches: impl Fn(&Element) -> bool) -> Element {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            if let Some(el) = self.got.lock().unwrap().iter().find(|e| matches(e)) {
                return el.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the webhook got no {what}: {:?}",
                self.got.lock().unwrap().iter().map(xml).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_bots_webhook_gets_its_subscriptions_and_contacts_presence() {
    let hook = Hook::start().await;
    let url = format!("http://{}/bot", hook.addr);
    let server = TestServer::start_with(move |c| {
        c.webhook.user = vec![UserCallbackConfig {
            jid: "dave@localhost".into(),
            url,
            ..UserCallbackConfig::default()
        }];
    })
    .await;
    let mut alice = online(&server, "alice@localhost/phone").await;

    // The bot (no session) asks over HTTP; alice approves and asks back; the bot approves.
    let (status, body) = post_xml(
        &server,
        "dave",
        "<presence to='alice@localhost' type='subscribe'/>",
    )
    .await;
    assert_eq!(status, 202, "{body}");
    alice.presence("subscribe", "dave@localhost").await;
    alice
        .send("<presence to='dave@localhost' type='subscribed'/>")
        .await;
    hook.expect("the approval", |e| {
        is_presence(e, "subscribed", "alice@localhost")
    })
    .await;
    // alice's current presence follows the approval, to the bot's webhook.
    hook.expect("alice's presence", |e| {
        is_presence(e, "", "alice@localhost/phone")
    })
    .await;
    alice
        .send("<presence to='dave@localhost' type='subscribe'/>")
        .await;
    hook.expect("alice's request", |e| {
        is_presence(e, "subscribe", "alice@localhost")
    })
    .await;
    let (status, _) = post_xml(
        &server,
        "dave",
        "<presence to='alice@localhost' type='subscribed'/>",
    )
    .await;
    assert_eq!(status, 202);
    alice.presence("subscribed", "dave@localhost").await;
    assert_eq!(
        subscription_of(&alice.item("dave@localhost").await.unwrap()),
        ("both", None)
    );

    // alice's changes and her going away reach the bot.
    alice.available("<show>away</show>").await;
    let away = hook
        .expect("alice's away", |e| {
            is_presence(e, "", "alice@localhost/phone") && e.get_child("show", CLIENT).is_some()
        })
        .await;
    assert_eq!(away.attr("to"), Some("dave@localhost"));
    drop(alice);
    hook.expect("alice's unavailable", |e| {
        is_presence(e, "unavailable", "alice@localhost/phone")
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn a_component_contact_is_answered_by_the_server_and_probed() {
    let hook = Hook::start().await;
    let url = format!("http://{}/component", hook.addr);
    let server = TestServer::start_with(move |c| {
        c.component = vec![ComponentConfig {
            domain: "comp.localhost".into(),
            rest_credentials: Some(COMPONENT_TOKEN.into()),
            rest_callback_url: Some(url),
            ..ComponentConfig::default()
        }];
    })
    .await;
    let as_component = |body: &'static str| {
        http()
            .post(server.url("/rest"))
            .header("Authorization", COMPONENT_TOKEN)
            .header("Content-Type", "application/xmpp+xml")
            .body(body)
            .send()
    };
    let mut alice = online(&server, "alice@localhost/phone").await;
    let request = "<presence from='bot@comp.localhost/x' to='alice@localhost' type='subscribe'/>";
    assert_eq!(as_component(request).await.unwrap().status(), 202);
    alice.presence("subscribe", "bot@comp.localhost").await;
    alice
        .send("<presence to='bot@comp.localhost' type='subscribed'/>")
        .await;
    assert_eq!(
        subscription_of(&alice.push("bot@comp.localhost").await),
        ("from", None)
    );
    hook.expect("the approval", |e| {
        is_presence(e, "subscribed", "alice@localhost")
    })
    .await;
    hook.expect("alice's presence", |e| {
        is_presence(e, "", "alice@localhost/phone")
    })
    .await;
    // Asked again, the server answers by itself and alice is not bothered.
    assert_eq!(as_component(request).await.unwrap().status(), 202);
    let answers = || {
        hook.got
            .lock()
            .unwrap()
            .iter()
            .filter(|e| is_presence(e, "subscribed", "alice@localhost"))
            .count()
    };
    let deadline = tokio::time::Instant::now() + STEP;
    while answers() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no second approval");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    alice
        .expect_none("a repeated request", |e| {
            is_presence(e, "subscribe", "bot@comp.localhost")
        })
        .await;

    // alice subscribes to the bot; once approved, her next login probes it.
    alice
        .send("<presence to='bot@comp.localhost' type='subscribe'/>")
        .await;
    hook.expect("alice's request", |e| {
        is_presence(e, "subscribe", "alice@localhost")
    })
    .await;
    let approval = "<presence from='bot@comp.localhost' to='alice@localhost' type='subscribed'/>";
    assert_eq!(as_component(approval).await.unwrap().status(), 202);
    alice.presence("subscribed", "bot@comp.localhost").await;
    assert_eq!(
        subscription_of(&alice.item("bot@comp.localhost").await.unwrap()),
        ("both", None)
    );
    let mut again = Peer::login(&server, "alice@localhost/again").await;
    again.available("").await;
    let probe = hook
        .expect("a probe", |e| is_presence(e, "probe", "alice@localhost"))
        .await;
    assert_eq!(probe.attr("to"), Some("bot@comp.localhost"));
    server.stop().await;
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WS_OPEN: &str =
    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>";

async fn ws_send(ws: &mut Ws, xml: &str) {
    ws.send(Message::text(xml)).await.unwrap();
}

async fn ws_expect(ws: &mut Ws, what: &str, matches: impl Fn(&Element) -> bool) -> Element {
    loop {
        let msg = tokio::time::timeout(STEP, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} over WebSocket in time"));
        match msg {
            Some(Ok(Message::Text(text))) => {
                let el = parse(text.as_str());
                if matches(&el) {
                    return el;
                }
            }
            Some(Ok(_)) => continue,
            other => panic!("WebSocket closed before {what}: {other:?}"),
        }
    }
}

async fn ws_login(server: &TestServer, user: &str, resource: &str) -> Ws {
    let mut request = server
        .url("/xmpp-websocket")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws_send(&mut ws, WS_OPEN).await;
    ws_expect(&mut ws, "features", |e| e.name() == "features").await;
    ws_send(
        &mut ws,
        &format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
            plain_auth(user)
        ),
    )
    .await;
    ws_expect(&mut ws, "success", |e| e.name() == "success").await;
    ws_send(&mut ws, WS_OPEN).await;
    let features = ws_expect(&mut ws, "features", |e| e.name() == "features").await;
    assert!(features.has_child("ver", "urn:xmpp:features:rosterver"));
    ws_send(
        &mut ws,
        &format!(
            "<iq xmlns='jabber:client' type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{resource}</resource></bind></iq>"
        ),
    )
    .await;
    ws_expect(&mut ws, "the bind result", |e| e.attr("id") == Some("bind")).await;
    ws
}

#[tokio::test]
async fn a_websocket_client_subscribes_and_sees_presence() {
    let server = TestServer::start().await;
    let mut bob = online(&server, "bob@localhost/desk").await;
    let mut ws = ws_login(&server, "alice", "browser").await;
    ws_send(
        &mut ws,
        "<iq xmlns='jabber:client' type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>",
    )
    .await;
    ws_expect(&mut ws, "the roster", |e| e.attr("id") == Some("r")).await;
    ws_send(&mut ws, "<presence xmlns='jabber:client'/>").await;
    ws_expect(&mut ws, "its own presence", |e| {
        is_presence(e, "", "alice@localhost/browser")
    })
    .await;

    ws_send(
        &mut ws,
        "<presence xmlns='jabber:client' to='bob@localhost' type='subscribe'/>",
    )
    .await;
    let push = ws_expect(&mut ws, "the pending push", |e| pushed_item(e).is_some()).await;
    assert_eq!(pushed_item(&push).unwrap().attr("ask"), Some("subscribe"));
    bob.presence("subscribe", "alice@localhost").await;
    bob.send("<presence to='alice@localhost' type='subscribed'/>")
        .await;
    ws_expect(&mut ws, "the approval", |e| {
        is_presence(e, "subscribed", "bob@localhost")
    })
    .await;
    ws_expect(&mut ws, "bob's presence", |e| {
        is_presence(e, "", "bob@localhost/desk")
    })
    .await;
    bob.available("<status>over TCP</status>").await;
    let seen = ws_expect(&mut ws, "bob's new status", |e| {
        is_presence(e, "", "bob@localhost/desk") && e.get_child("status", CLIENT).is_some()
    })
    .await;
    assert_eq!(seen.get_child("status", CLIENT).unwrap().text(), "over TCP");
    drop(bob);
    ws_expect(&mut ws, "bob's unavailable", |e| {
        is_presence(e, "unavailable", "bob@localhost/desk")
    })
    .await;
    server.stop().await;
}
