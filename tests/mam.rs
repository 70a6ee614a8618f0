//! The message archive end to end (XEP-0313 with XEP-0059 paging, XEP-0359 stanza-ids and
//! XEP-0441 preferences): raw c2s clients on a real server, and `/rest` over HTTP.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{PASSWORD, STEP, StanzaPeer as Peer, TestServer, http, test_config};
use minidom::Element;
use serde_json::{Value, json};
use switchboard_server::server;
use switchboard_server::storage::archive::{NewArchived, PageRequest, Position};
use switchboard_server::storage::{AccountStore, ArchiveStore};

const MAM: &str = "urn:xmpp:mam:2";
const RSM: &str = "http://jabber.org/protocol/rsm";
const SID: &str = "urn:xmpp:sid:0";
const FORWARD: &str = "urn:xmpp:forward:0";
const CLIENT: &str = "jabber:client";
const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// What the archive tests ask of a raw peer beyond reading stanzas.
impl Peer {
    /// The next message with a body.
    async fn next_chat(&mut self) -> Element {
        loop {
            let el = self.next_named("message").await;
            if el.has_child("body", CLIENT) {
                return el;
            }
        }
    }

    /// Sends an iq and returns its answer, skipping everything else.
    async fn iq(&mut self, id: &str, xml: &str) -> Element {
        self.send(xml).await;
        loop {
            let el = self.next_named("iq").await;
            if el.attr("id") == Some(id) {
                return el;
            }
        }
    }

    /// Runs a MAM query (`inner` is the query's content) and returns the results in the order
    /// they came, and the iq that ended the query.
    async fn query(&mut self, id: &str, inner: &str) -> (Vec<Element>, Element) {
        self.send(&format!(
            "<iq type='set' id='{id}'><query xmlns='urn:xmpp:mam:2' queryid='{id}'>{inner}</query></iq>"
        ))
        .await;
        let mut results = Vec::new();
        loop {
            let el = self.next().await;
            match el.name() {
                "iq" if el.attr("id") == Some(id) => return (results, el),
                "message" => {
                    if let Some(result) = el.get_child("result", MAM) {
                        assert_eq!(result.attr("queryid"), Some(id), "{}", xml(&el));
                        results.push(el);
                    }
                }
                _ => {}
            }
        }
    }

    /// The bodies of a query's results.
    async fn history(&mut self, id: &str, inner: &str) -> Vec<String> {
        let (results, fin) = self.query(id, inner).await;
        assert_eq!(fin.attr("type"), Some("result"), "{}", xml(&fin));
        results.iter().map(body_of_result).collect()
    }

    async fn chat(&mut self, to: &str, body: &str) {
        self.send(&format!(
            "<message to='{to}' type='chat'><body>{body}</body></message>"
        ))
        .await;
    }
}

fn xml(el: &Element) -> String {
    String::from(el)
}

fn forwarded(result_message: &Element) -> &Element {
    result_message
        .get_child("result", MAM)
        .and_then(|r| r.get_child("forwarded", FORWARD))
        .and_then(|f| f.get_child("message", CLIENT))
        .unwrap_or_else(|| panic!("not a MAM result: {}", xml(result_message)))
}

fn body_of_result(result_message: &Element) -> String {
    forwarded(result_message)
        .get_child("body", CLIENT)
        .map(Element::text)
        .unwrap_or_default()
}

fn result_id(result_message: &Element) -> String {
    result_message
        .get_child("result", MAM)
        .and_then(|r| r.attr("id"))
        .unwrap()
        .to_owned()
}

/// The stanza-id by `by` on a delivered message.
fn stanza_id<'a>(message: &'a Element, by: &str) -> Option<&'a str> {
    message
        .children()
        .find(|c| c.is("stanza-id", SID) && c.attr("by") == Some(by))
        .and_then(|c| c.attr("id"))
}

/// A submitted MAM form with these fields (`var`, values).
fn form(fields: &[(&str, &[&str])]) -> String {
    let mut out = String::from(
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>",
    );
    for (var, values) in fields {
        out.push_str(&format!("<field var='{var}'>"));
        for v in *values {
            out.push_str(&format!("<value>{v}</value>"));
        }
        out.push_str("</field>");
    }
    out.push_str("</x>");
    out
}

fn rsm(inner: &str) -> String {
    format!("<set xmlns='http://jabber.org/protocol/rsm'>{inner}</set>")
}

/// `<fin/>` of a query result: (complete, first, first index, last, count).
fn fin(
    iq: &Element,
) -> (
    bool,
    Option<String>,
    Option<u64>,
    Option<String>,
    Option<u64>,
) {
    let fin = iq
        .get_child("fin", MAM)
        .unwrap_or_else(|| panic!("no fin: {}", xml(iq)));
    let set = fin.get_child("set", RSM).unwrap();
    let first = set.get_child("first", RSM);
    (
        fin.attr("complete") == Some("true"),
        first.map(Element::text),
        first
            .and_then(|f| f.attr("index"))
            .map(|i| i.parse().unwrap()),
        set.get_child("last", RSM).map(Element::text),
        set.get_child("count", RSM)
            .map(|c| c.text().parse().unwrap()),
    )
}

/// The defined condition of an error iq.
fn condition(iq: &Element) -> String {
    assert_eq!(iq.attr("type"), Some("error"), "{}", xml(iq));
    iq.get_child("error", CLIENT)
        .and_then(|e| {
            e.children()
                .find(|c| c.ns() == STANZAS && c.name() != "text")
        })
        .map(|c| c.name().to_owned())
        .unwrap_or_else(|| panic!("no condition: {}", xml(iq)))
}

#[tokio::test]
async fn both_parties_archive_and_the_recipient_learns_the_id() {
    let server = TestServer::start().await;
    let mut alice = Peer::available(&server, "alice", "phone").await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    // A stanza-id claiming to be bob's archive is the sender's forgery: it never arrives.
    alice
        .send(
            "<message to='bob@localhost' type='chat' id='m1'><body>hello bob</body>\
             <stanza-id xmlns='urn:xmpp:sid:0' by='bob@localhost' id='forged'/></message>",
        )
        .await;
    let got = bob.next_chat().await;
    let ids: Vec<&str> = got
        .children()
        .filter(|c| c.is("stanza-id", SID))
        .filter_map(|c| c.attr("id"))
        .collect();
    assert_eq!(ids.len(), 1, "{}", xml(&got));
    let bobs_id = stanza_id(&got, "bob@localhost").expect("a stanza-id by bob's archive");
    assert_ne!(bobs_id, "forged");
    assert!(
        bobs_id.len() >= 22
            && bobs_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "unguessable and URL-safe: {bobs_id}"
    );

    let (results, done) = bob.query("b1", "").await;
    assert_eq!(results.len(), 1);
    assert_eq!(result_id(&results[0]), bobs_id);
    let archived = forwarded(&results[0]);
    assert_eq!(archived.attr("from"), Some("alice@localhost/phone"));
    assert_eq!(archived.attr("id"), Some("m1"));
    assert!(
        !archived.has_child("stanza-id", SID),
        "the archived copy is the message as sent, without the forged id: {}",
        xml(archived)
    );
    assert_eq!(results[0].attr("from"), Some("bob@localhost"));
    assert_eq!(results[0].attr("to"), Some("bob@localhost/desk"));
    let delay = results[0]
        .get_child("result", MAM)
        .and_then(|r| r.get_child("forwarded", FORWARD))
        .and_then(|f| f.get_child("delay", "urn:xmpp:delay"))
        .expect("a delay stamp");
    let stamp: DateTime<Utc> = delay.attr("stamp").unwrap().parse().unwrap();
    assert!((Utc::now() - stamp).num_seconds().abs() < 60);
    assert_eq!(
        fin(&done),
        (
            true,
            Some(bobs_id.to_owned()),
            Some(0),
            Some(bobs_id.to_owned()),
            Some(1)
        )
    );

    // Alice's own archive holds the same message, under an id of its own.
    let (results, _) = alice.query("a1", "").await;
    assert_eq!(results.len(), 1);
    assert_ne!(result_id(&results[0]), bobs_id);
    assert_eq!(body_of_result(&results[0]), "hello bob");
    assert_eq!(forwarded(&results[0]).attr("to"), Some("bob@localhost"));
    server.stop().await;
}

#[tokio::test]
async fn offline_copies_carry_the_stanza_id_and_each_message_is_archived_once() {
    let server = TestServer::start().await;
    let mut alice = Peer::available(&server, "alice", "phone").await;
    alice.chat("bob@localhost", "while you were away").await;
    // A message to oneself is in the archive once, with the account on both sides.
    alice.chat("alice@localhost", "note to self").await;
    let note = alice.next_chat().await;
    let note_id = stanza_id(&note, "alice@localhost").unwrap().to_owned();
    assert_eq!(
        alice
            .history("a1", &form(&[("with", &["alice@localhost"])]))
            .await,
        ["note to self"]
    );

    let mut bob = Peer::bound(&server, "bob", "desk").await;
    bob.send("<presence/>").await;
    let stored = bob.next_chat().await;
    assert!(
        stored.has_child("delay", "urn:xmpp:delay"),
        "{}",
        xml(&stored)
    );
    let id = stanza_id(&stored, "bob@localhost").expect("the stored copy has its stanza-id");
    let (results, _) = bob.query("b1", "").await;
    assert_eq!(results.len(), 1);
    assert_eq!(result_id(&results[0]), id);

    // Two resources of bob get one archived copy of a message to his bare JID.
    let _phone = Peer::available(&server, "bob", "phone").await;
    alice.chat("bob@localhost", "to both").await;
    bob.next_chat().await;
    assert_eq!(
        bob.history("b2", "").await,
        ["while you were away", "to both"]
    );
    let (results, _) = alice.query("a2", "").await;
    assert_eq!(results.len(), 3);
    assert!(results.iter().any(|r| result_id(r) == note_id));
    server.stop().await;
}

#[tokio::test]
async fn only_conversation_is_archived() {
    let server = TestServer::start_with(|c| c.mam.archive_receipts = false).await;
    let mut alice = Peer::available(&server, "alice", "phone").await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    for stanza in [
        "<message to='bob@localhost' type='headline'><body>news</body></message>",
        "<message to='bob@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
        "<message to='bob@localhost' type='chat'><received xmlns='urn:xmpp:receipts' id='m0'/></message>",
        "<message to='bob@localhost' type='chat'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>",
        "<message to='bob@localhost' type='normal'><body>kept</body></message>",
    ] {
        alice.send(stanza).await;
    }
    let headline = bob.next_chat().await;
    assert_eq!(headline.get_child("body", CLIENT).unwrap().text(), "news");
    assert!(stanza_id(&headline, "bob@localhost").is_none());
    let secret = bob.next_chat().await;
    assert!(
        stanza_id(&secret, "bob@localhost").is_none(),
        "not archived: no id"
    );
    let kept = bob.next_chat().await;
    assert!(stanza_id(&kept, "bob@localhost").is_some());
    assert_eq!(bob.history("b1", "").await, ["kept"]);
    assert_eq!(alice.history("a1", "").await, ["kept"]);
    server.stop().await;

    // With mam.archive_receipts (the default), receipts and markers are archived too.
    let server = TestServer::start().await;
    let mut alice = Peer::available(&server, "alice", "phone").await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    alice
        .send("<message to='bob@localhost' type='chat'><received xmlns='urn:xmpp:receipts' id='m0'/></message>")
        .await;
    alice
        .send("<message to='bob@localhost'><displayed xmlns='urn:xmpp:chat-markers:0' id='m0'/></message>")
        .await;
    alice.chat("bob@localhost", "end").await;
    bob.next_chat().await;
    let (results, _) = bob.query("b1", "").await;
    assert_eq!(results.len(), 3);
    assert!(forwarded(&results[0]).has_child("received", "urn:xmpp:receipts"));
    assert!(forwarded(&results[1]).has_child("displayed", "urn:xmpp:chat-markers:0"));
    server.stop().await;
}

/// Seven messages between alice and bob or carol, in this order.
async fn conversation(server: &TestServer) -> (Peer, Vec<String>) {
    let mut alice = Peer::available(server, "alice", "phone").await;
    let mut bob = Peer::available(server, "bob", "desk").await;
    let mut carol = Peer::available(server, "carol", "tablet").await;
    alice.chat("bob@localhost", "a1").await;
    bob.next_chat().await;
    bob.chat("alice@localhost", "b1").await;
    alice.next_chat().await;
    alice.chat("carol@localhost/tablet", "a2").await;
    carol.next_chat().await;
    carol.chat("alice@localhost", "c1").await;
    alice.next_chat().await;
    alice.chat("bob@localhost", "a3").await;
    bob.next_chat().await;
    bob.chat("alice@localhost/phone", "b2").await;
    alice.next_chat().await;
    alice.chat("bob@localhost", "a4").await;
    bob.next_chat().await;
    let (results, _) = alice.query("all", "").await;
    let ids = results.iter().map(result_id).collect();
    (alice, ids)
}

#[tokio::test]
async fn every_filter_of_the_query_form() {
    let server = TestServer::start().await;
    let (mut alice, ids) = conversation(&server).await;
    let alice = &mut alice;
    async fn run(alice: &mut Peer, fields: &[(&str, &[&str])]) -> String {
        static QUERIES: AtomicUsize = AtomicUsize::new(0);
        let id = format!("q{}", QUERIES.fetch_add(1, Ordering::Relaxed));
        alice.history(&id, &form(fields)).await.join(" ")
    }
    assert_eq!(run(alice, &[]).await, "a1 b1 a2 c1 a3 b2 a4");
    assert_eq!(
        run(alice, &[("with", &["bob@localhost"])]).await,
        "a1 b1 a3 b2 a4"
    );
    assert_eq!(run(alice, &[("with", &["carol@localhost"])]).await, "a2 c1");
    assert_eq!(
        run(alice, &[("with", &["carol@localhost/tablet"])]).await,
        "a2 c1"
    );
    assert_eq!(
        run(alice, &[("with", &["bob@localhost/desk"])]).await,
        "b1 b2"
    );
    assert_eq!(run(alice, &[("with", &["dave@localhost"])]).await, "");
    assert_eq!(
        run(
            alice,
            &[("after-id", &[&ids[1]]), ("before-id", &[&ids[5]])]
        )
        .await,
        "a2 c1 a3"
    );
    assert_eq!(
        run(
            alice,
            &[("with", &["bob@localhost"]), ("after-id", &[&ids[1]])]
        )
        .await,
        "a3 b2 a4"
    );
    assert_eq!(run(alice, &[("ids", &[&ids[6], &ids[0]])]).await, "a1 a4");
    // Fields sent without a value (mod_rest's convenience form does so) are no filter.
    assert_eq!(
        run(alice, &[("start", &[]), ("with", &[])]).await,
        "a1 b1 a2 c1 a3 b2 a4"
    );

    // start and end, inclusive, with sub-second precision.
    let (results, _) = alice.query("stamps", "").await;
    let stamps: Vec<String> = results
        .iter()
        .map(|r| {
            r.get_child("result", MAM)
                .and_then(|r| r.get_child("forwarded", FORWARD))
                .and_then(|f| f.get_child("delay", "urn:xmpp:delay"))
                .and_then(|d| d.attr("stamp"))
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        stamps
            .iter()
            .all(|s| s.len() == "2024-01-01T00:00:00.000000Z".len()),
        "{stamps:?}"
    );
    assert_eq!(
        run(alice, &[("start", &[&stamps[2]])]).await,
        "a2 c1 a3 b2 a4"
    );
    assert_eq!(run(alice, &[("end", &[&stamps[2]])]).await, "a1 b1 a2");
    assert_eq!(
        run(alice, &[("start", &[&stamps[1]]), ("end", &[&stamps[3]])]).await,
        "b1 a2 c1"
    );
    assert_eq!(
        run(alice, &[("start", &["2999-01-01T00:00:00Z"])]).await,
        ""
    );
    server.stop().await;
}

#[tokio::test]
async fn paging_forward_and_backward() {
    let server = TestServer::start().await;
    let (mut alice, ids) = conversation(&server).await;
    let bodies = |results: &[Element]| results.iter().map(body_of_result).collect::<Vec<_>>();

    // Forward from the start, three at a time, with RSM after.
    let (page, done) = alice.query("f1", &rsm("<max>3</max>")).await;
    assert_eq!(bodies(&page), ["a1", "b1", "a2"]);
    assert_eq!(
        fin(&done),
        (
            false,
            Some(ids[0].clone()),
            Some(0),
            Some(ids[2].clone()),
            Some(7)
        )
    );
    let (page, done) = alice
        .query(
            "f2",
            &rsm(&format!("<max>3</max><after>{}</after>", ids[2])),
        )
        .await;
    assert_eq!(bodies(&page), ["c1", "a3", "b2"]);
    assert!(!fin(&done).0);
    assert_eq!(fin(&done).2, Some(3));
    let (page, done) = alice
        .query(
            "f3",
            &rsm(&format!("<max>3</max><after>{}</after>", ids[5])),
        )
        .await;
    assert_eq!(bodies(&page), ["a4"]);
    assert_eq!(
        fin(&done),
        (
            true,
            Some(ids[6].clone()),
            Some(6),
            Some(ids[6].clone()),
            Some(7)
        )
    );

    // Backward from the end: an empty <before/> is the last page, in chronological order.
    let (page, done) = alice.query("b1", &rsm("<max>3</max><before/>")).await;
    assert_eq!(bodies(&page), ["a3", "b2", "a4"]);
    assert_eq!(
        fin(&done),
        (
            false,
            Some(ids[4].clone()),
            Some(4),
            Some(ids[6].clone()),
            Some(7)
        )
    );
    let (page, _) = alice
        .query(
            "b2",
            &rsm(&format!("<max>3</max><before>{}</before>", ids[4])),
        )
        .await;
    assert_eq!(bodies(&page), ["b1", "a2", "c1"]);
    let (page, done) = alice
        .query(
            "b3",
            &rsm(&format!("<max>3</max><before>{}</before>", ids[1])),
        )
        .await;
    assert_eq!(bodies(&page), ["a1"]);
    assert!(fin(&done).0, "the first message reached: complete");

    // flip-page sends the same page newest first; <first/> and <last/> stay as they were.
    let (page, done) = alice
        .query(
            "flip",
            &format!("{}<flip-page/>", rsm("<max>3</max><before/>")),
        )
        .await;
    assert_eq!(bodies(&page), ["a4", "b2", "a3"]);
    assert_eq!(fin(&done).1, Some(ids[4].clone()));

    // Filters and paging together; max 0 counts only.
    let (page, done) = alice
        .query(
            "w",
            &format!(
                "{}{}",
                form(&[("with", &["bob@localhost"])]),
                rsm("<max>2</max><before/>")
            ),
        )
        .await;
    assert_eq!(bodies(&page), ["b2", "a4"]);
    assert_eq!(
        fin(&done),
        (
            false,
            Some(ids[5].clone()),
            Some(3),
            Some(ids[6].clone()),
            Some(5)
        )
    );
    let (page, done) = alice.query("count", &rsm("<max>0</max>")).await;
    assert!(page.is_empty());
    assert_eq!(fin(&done), (false, None, None, None, Some(7)));
    server.stop().await;
}

#[tokio::test]
async fn the_server_caps_the_page() {
    let server = TestServer::start_with(|c| c.mam.max_page_size = 2).await;
    let mut alice = Peer::available(&server, "alice", "phone").await;
    for i in 0..5 {
        alice.chat("bob@localhost", &format!("m{i}")).await;
    }
    let (page, done) = alice.query("big", &rsm("<max>50</max>")).await;
    assert_eq!(page.len(), 2);
    assert!(!fin(&done).0);
    let (page, done) = alice.query("default", "").await;
    assert_eq!(page.len(), 2, "a query without max gets the capped page");
    assert_eq!(fin(&done).4, Some(5));
    server.stop().await;

    // Past mam.count_limit matching messages, <count/> is left out, and so is the index of a
    // page that more than that many messages precede.
    let server = TestServer::start_with(|c| c.mam.count_limit = 3).await;
    let mut alice = Peer::available(&server, "alice", "phone").await;
    for i in 0..5 {
        alice.chat("bob@localhost", &format!("m{i}")).await;
    }
    let (_, done) = alice.query("first", &rsm("<max>2</max>")).await;
    assert_eq!((fin(&done).2, fin(&done).4), (Some(0), None));
    let (_, done) = alice.query("last", &rsm("<max>2</max><before/>")).await;
    assert_eq!((fin(&done).2, fin(&done).4), (Some(3), None));
    let (_, done) = alice.query("one", &rsm("<max>1</max><before/>")).await;
    assert_eq!((fin(&done).2, fin(&done).4), (None, None));
    server.stop().await;
}

#[tokio::test]
async fn messages_archived_in_the_same_microsecond_page_in_arrival_order() {
    let server = TestServer::start().await;
    let store = server.running.as_ref().unwrap().accounts().store().clone();
    let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
    let entries: Vec<NewArchived> = (0..6)
        .map(|i| NewArchived {
            owner: "alice".into(),
            id: format!("tie{i}"),
            at,
            with_bare: "bob@localhost".into(),
            with_full: "bob@localhost".into(),
            stanza: format!(
                "<message xmlns='jabber:client' from='bob@localhost/x' to='alice@localhost' type='chat'><body>t{i}</body></message>"
            ),
        })
        .collect();
    store.archive_append(&entries).await.unwrap();
    let mut alice = Peer::bound(&server, "alice", "phone").await;
    let mut seen = Vec::new();
    let mut after = String::new();
    for page in 0.. {
        let (results, done) = alice
            .query(&format!("p{page}"), &rsm(&format!("<max>4</max>{after}")))
            .await;
        seen.extend(results.iter().map(body_of_result));
        if fin(&done).0 {
            break;
        }
        after = format!("<after>{}</after>", fin(&done).3.unwrap());
    }
    assert_eq!(seen, ["t0", "t1", "t2", "t3", "t4", "t5"]);
    // Backward too, and by time: start and end at the shared instant take all six.
    let (page, _) = alice
        .query("back", &rsm("<max>4</max><before>tie4</before>"))
        .await;
    assert_eq!(
        page.iter().map(body_of_result).collect::<Vec<_>>(),
        ["t0", "t1", "t2", "t3"]
    );
    let stamp = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let all = alice
        .history("at", &form(&[("start", &[&stamp]), ("end", &[&stamp])]))
        .await;
    assert_eq!(all.len(), 6);
    server.stop().await;
}

#[tokio::test]
async fn preferences_and_policies() {
    let server = TestServer::start().await;
    let mut alice = Peer::available(&server, "alice", "phone").await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    let mut carol = Peer::available(&server, "carol", "tablet").await;
    let prefs = alice
        .iq(
            "p1",
            "<iq type='get' id='p1'><prefs xmlns='urn:xmpp:mam:2'/></iq>",
        )
        .await;
    assert_eq!(
        prefs.get_child("prefs", MAM).unwrap(),
        &"<prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never/></prefs>"
            .parse::<Element>()
            .unwrap()
    );
    let set = alice
        .iq(
            "p2",
            "<iq type='set' id='p2'><prefs xmlns='urn:xmpp:mam:2' default='always'>\
             <always/><never><jid>carol@localhost</jid></never></prefs></iq>",
        )
        .await;
    assert_eq!(set.attr("type"), Some("result"), "{}", xml(&set));
    assert!(set.get_child("prefs", MAM).is_some());
    carol.chat("alice@localhost", "not kept by alice").await;
    let got = alice.next_chat().await;
    assert!(stanza_id(&got, "alice@localhost").is_none());
    alice.chat("carol@localhost", "nor this").await;
    bob.chat("alice@localhost", "kept").await;
    alice.next_chat().await;
    assert_eq!(alice.history("a1", "").await, ["kept"]);
    // Carol's own archive follows her own preferences.
    assert_eq!(
        carol.history("c1", "").await,
        ["not kept by alice", "nor this"]
    );

    // default='never' with bob always archived.
    alice
        .iq(
            "p3",
            "<iq type='set' id='p3'><prefs xmlns='urn:xmpp:mam:2' default='never'>\
             <always><jid>bob@localhost</jid></always><never/></prefs></iq>",
        )
        .await;
    let stored = alice
        .iq(
            "p4",
            "<iq type='get' id='p4'><prefs xmlns='urn:xmpp:mam:2'/></iq>",
        )
        .await;
    assert_eq!(
        stored.get_child("prefs", MAM).unwrap().attr("default"),
        Some("never")
    );
    alice.chat("dave@localhost", "to dave, not kept").await;
    alice.chat("bob@localhost", "to bob, kept").await;
    bob.next_chat().await;
    assert_eq!(alice.history("a2", "").await, ["kept", "to bob, kept"]);

    // default='roster': only contacts in the roster.
    alice
        .iq(
            "p5",
            "<iq type='set' id='p5'><prefs xmlns='urn:xmpp:mam:2' default='roster'><always/><never/></prefs></iq>",
        )
        .await;
    alice
        .iq(
            "r1",
            "<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='dave@localhost'/></query></iq>",
        )
        .await;
    alice.chat("dave@localhost", "dave is a contact now").await;
    alice.chat("carol@localhost", "carol is not").await;
    assert_eq!(
        alice.history("a3", "").await,
        ["kept", "to bob, kept", "dave is a contact now"]
    );

    let bad = alice
        .iq(
            "p6",
            "<iq type='set' id='p6'><prefs xmlns='urn:xmpp:mam:2' default='sometimes'/></iq>",
        )
        .await;
    assert_eq!(condition(&bad), "bad-request");
    server.stop().await;
}

#[tokio::test]
async fn the_configured_default_policy_applies_until_an_account_sets_its_own() {
    let server = TestServer::start_with(|c| {
        c.mam.default_policy = switchboard_xmpp::mam::Policy::Roster;
    })
    .await;
    let mut alice = Peer::available(&server, "alice", "phone").await;
    alice
        .iq(
            "r1",
            "<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost'/></query></iq>",
        )
        .await;
    alice.chat("bob@localhost", "contact").await;
    alice.chat("carol@localhost", "stranger").await;
    assert_eq!(alice.history("a1", "").await, ["contact"]);
    let prefs = alice
        .iq(
            "p1",
            "<iq type='get' id='p1'><prefs xmlns='urn:xmpp:mam:2'/></iq>",
        )
        .await;
    assert_eq!(
        prefs.get_child("prefs", MAM).unwrap().attr("default"),
        Some("roster")
    );
    server.stop().await;

    let server = TestServer::start_with(|c| {
        c.mam.default_policy = switchboard_xmpp::mam::Policy::Never;
    })
    .await;
    let mut alice = Peer::available(&server, "alice", "phone").await;
    let mut bob = Peer::available(&server, "bob", "desk").await;
    alice.chat("bob@localhost", "nobody keeps this").await;
    let got = bob.next_chat().await;
    assert!(stanza_id(&got, "bob@localhost").is_none());
    assert!(bob.history("b1", "").await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn retention_purges_old_messages_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let old = chrono::Utc::now() - chrono::Duration::days(3);
    {
        let store = server::open_store(dir.path()).await.unwrap();
        let creds = switchboard_xmpp::sasl::StoredCredentials::derive(PASSWORD, 4096).unwrap();
        store.create_user("alice", &creds).await.unwrap();
        let entry = |id: &str, at| NewArchived {
            owner: "alice".into(),
            id: id.into(),
            at,
            with_bare: "bob@localhost".into(),
            with_full: "bob@localhost".into(),
            stanza: format!(
                "<message xmlns='jabber:client' to='bob@localhost'><body>{id}</body></message>"
            ),
        };
        store
            .archive_append(&[
                entry("ancient", old - chrono::Duration::days(30)),
                entry("old", old),
                entry("recent", chrono::Utc::now() - chrono::Duration::hours(1)),
            ])
            .await
            .unwrap();
    }
    let mut config = test_config(dir.path());
    config.mam.retention_days = 2;
    let running = server::start(config).await.unwrap();
    let store = running.accounts().store().clone();
    let remaining = async || {
        let criteria = Default::default();
        let request = PageRequest {
            from: Position::Oldest,
            max: 10,
            count_limit: 0,
        };
        let page = store
            .archive_page("alice", &criteria, &request)
            .await
            .unwrap();
        page.messages.into_iter().map(|m| m.id).collect::<Vec<_>>()
    };
    let deadline = tokio::time::Instant::now() + STEP;
    while remaining().await.len() > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not purged: {:?}",
            remaining().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(remaining().await, ["recent"]);
    running.shutdown().await;
}

#[tokio::test]
async fn deleting_an_account_deletes_its_archive() {
    let server = TestServer::start().await;
    let mut alice = Peer::available(&server, "alice", "phone").await;
    alice.chat("bob@localhost", "before").await;
    assert_eq!(alice.history("a1", "").await, ["before"]);
    drop(alice);
    let accounts = server.running.as_ref().unwrap().accounts();
    accounts.delete_user("alice").await.unwrap();
    accounts.add_user("alice", PASSWORD).await.unwrap();
    let mut alice = Peer::bound(&server, "alice", "phone").await;
    assert!(alice.history("a2", "").await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn refused_queries_say_why() {
    let server = TestServer::start().await;
    let (mut alice, ids) = conversation(&server).await;
    let mut failing = async |id: &str, inner: &str| {
        let (results, done) = alice.query(id, inner).await;
        assert!(results.is_empty());
        condition(&done)
    };
    assert_eq!(
        failing("e1", &rsm("<after>nope</after>")).await,
        "item-not-found"
    );
    assert_eq!(
        failing("e2", &rsm("<before>nope</before>")).await,
        "item-not-found"
    );
    assert_eq!(
        failing("e3", &form(&[("after-id", &["nope"])])).await,
        "item-not-found"
    );
    assert_eq!(
        failing("e4", &form(&[("ids", &[&ids[0], "nope"])])).await,
        "item-not-found"
    );
    assert_eq!(
        failing("e5", &form(&[("full-text-search", &["x"])])).await,
        "feature-not-implemented"
    );
    assert_eq!(
        failing("e6", &form(&[("start", &["last tuesday"])])).await,
        "bad-request"
    );
    assert_eq!(
        failing("e7", &form(&[("with", &["a@b@c"])])).await,
        "jid-malformed"
    );
    assert_eq!(
        failing("e8", &rsm("<index>2</index>")).await,
        "feature-not-implemented"
    );
    assert_eq!(
        failing("e9", &rsm("<after>a</after><before>b</before>")).await,
        "bad-request"
    );
    // Another account's archive is not readable.
    let other = alice
        .iq(
            "e10",
            "<iq type='set' id='e10' to='bob@localhost'><query xmlns='urn:xmpp:mam:2'/></iq>",
        )
        .await;
    assert_eq!(condition(&other), "forbidden");
    let other = alice
        .iq(
            "e11",
            "<iq type='get' id='e11' to='bob@localhost'><prefs xmlns='urn:xmpp:mam:2'/></iq>",
        )
        .await;
    assert_eq!(condition(&other), "forbidden");
    let unknown = alice
        .iq(
            "e12",
            "<iq type='get' id='e12'><other xmlns='urn:xmpp:mam:2'/></iq>",
        )
        .await;
    assert_eq!(condition(&unknown), "feature-not-implemented");
    server.stop().await;
}

#[tokio::test]
async fn form_metadata_and_disco() {
    let server = TestServer::start().await;
    let mut alice = Peer::available(&server, "alice", "phone").await;
    let empty = alice
        .iq(
            "m0",
            "<iq type='get' id='m0'><metadata xmlns='urn:xmpp:mam:2'/></iq>",
        )
        .await;
    assert_eq!(
        empty.get_child("metadata", MAM).unwrap().children().count(),
        0
    );
    for body in ["one", "two", "three"] {
        alice.chat("bob@localhost", body).await;
    }
    let (results, _) = alice.query("all", "").await;
    let meta = alice
        .iq(
            "m1",
            "<iq type='get' id='m1' to='alice@localhost'><metadata xmlns='urn:xmpp:mam:2'/></iq>",
        )
        .await;
    let meta = meta.get_child("metadata", MAM).unwrap();
    assert_eq!(
        meta.get_child("start", MAM).unwrap().attr("id"),
        Some(result_id(&results[0]).as_str())
    );
    assert_eq!(
        meta.get_child("end", MAM).unwrap().attr("id"),
        Some(result_id(&results[2]).as_str())
    );

    let form = alice
        .iq(
            "f1",
            "<iq type='get' id='f1'><query xmlns='urn:xmpp:mam:2'/></iq>",
        )
        .await;
    let x = form
        .get_child("query", MAM)
        .and_then(|q| q.get_child("x", "jabber:x:data"))
        .unwrap();
    assert_eq!(x.attr("type"), Some("form"));
    let vars: Vec<&str> = x.children().filter_map(|f| f.attr("var")).collect();
    for var in [
        "FORM_TYPE",
        "with",
        "start",
        "end",
        "before-id",
        "after-id",
        "ids",
    ] {
        assert!(vars.contains(&var), "{var} missing from {}", xml(x));
    }

    let disco = alice
        .iq(
            "d1",
            "<iq type='get' id='d1' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
        )
        .await;
    let features: Vec<&str> = disco
        .get_child("query", "http://jabber.org/protocol/disco#info")
        .unwrap()
        .children()
        .filter_map(|f| f.attr("var"))
        .collect();
    for feature in [MAM, "urn:xmpp:mam:2#extended", SID] {
        assert!(features.contains(&feature), "{feature} not in {features:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn rest_reads_the_real_archive() {
    let server = TestServer::start().await;
    let (_alice, ids) = conversation(&server).await;
    let client = http();
    // mod_rest's JSON convenience keys, the own archive addressed by leaving out `to`.
    let reply = client
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(
            json!({"kind": "iq", "type": "set", "id": "h1",
                   "archive": {"queryid": "q1", "with": "bob@localhost", "max": 2, "before": ""}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    let items = body["xmpp"].as_array().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(items.len(), 3, "{body}");
    assert_eq!(items[0]["archive"]["queryid"], "q1");
    assert_eq!(items[0]["archive"]["id"], ids[5].as_str());
    assert_eq!(items[0]["archive"]["forward"]["message"]["body"], "b2");
    assert_eq!(items[1]["archive"]["forward"]["message"]["body"], "a4");
    assert_eq!(items[2]["kind"], "iq");
    assert_eq!(items[2]["type"], "result");
    assert_eq!(items[2]["from"], "alice@localhost");
    assert_eq!(
        items[2]["result"]["page"],
        json!({"first": ids[5], "last": ids[6], "count": 5})
    );

    // The path form (`GET /rest/archive/...`) names no queryid: the results are still
    // collected, tagged with the one the server chose.
    let reply = client
        .get(server.url("/rest/archive/alice@localhost?with=carol%40localhost&max=10"))
        .basic_auth("alice", Some(PASSWORD))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    let items = body["xmpp"].as_array().unwrap_or_else(|| panic!("{body}"));
    let bodies: Vec<&str> = items
        .iter()
        .filter_map(|i| i["archive"]["forward"]["message"]["body"].as_str())
        .collect();
    assert_eq!(bodies, ["a2", "c1"]);
    assert!(items[0]["archive"]["queryid"].is_string());

    // An unknown id is item-not-found in the iq error.
    let reply = client
        .post(server.url("/rest"))
        .basic_auth("alice", Some(PASSWORD))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(
            json!({"kind": "iq", "type": "set", "id": "h2", "archive": {"after": "nope"}})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["condition"], "item-not-found");
    server.stop().await;
}
