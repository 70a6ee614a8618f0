//! XEP-0227 import and export with the files the real Prosody 0.12 and ejabberd 23.01 wrote
//! (tests/data/xep0227/README.md): imported users log in with their old passwords over c2s
//! and see their old rosters; export → import round trips; the CLI and its errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use common::{RawTcp, STREAM_HEADER, TestStartTls, client_tls, next_stanza, test_config};
use minidom::Element;
use switchboard_server::portable::{self, ImportOptions, PortableError};
use switchboard_server::server::{self, RunningServer};
use switchboard_server::storage::sqlite::SqliteStore;
use switchboard_server::storage::{AccountStore, ScramCoverage, Store};
use switchboard_xmpp::pie::PieError;
use switchboard_xmpp::sasl::ScramHash;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::{Client, Stanza};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const ROSTER: &str = "jabber:iq:roster";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/xep0227")
        .join(name)
}

async fn import(dir: &Path, source: &str) -> portable::ImportSummary {
    portable::import(
        dir,
        "localhost",
        4096,
        &data(source),
        ImportOptions::default(),
    )
    .await
    .expect("import")
}

/// A server on `dir`, which an import filled.
async fn serve(dir: &Path) -> RunningServer {
    server::start(test_config(dir))
        .await
        .expect("server starts")
}

/// tokio-xmpp over STARTTLS with `password`: it picks the strongest mechanism offered.
async fn login(running: &RunningServer, dir: &Path, jid: &str, password: &str) -> Client {
    let connector = TestStartTls {
        addr: running.c2s_addr,
        tls: client_tls(&dir.join("tls/cert.pem")),
    };
    let mut client = Client::new_with_connector(
        Jid::new(jid).unwrap(),
        password,
        connector,
        Timeouts::default(),
    );
    let event = tokio::time::timeout(common::STEP, futures::StreamExt::next(&mut client))
        .await
        .expect("client came online in time")
        .expect("client stream open");
    assert!(event.is_online(), "{jid} logs in: {event:?}");
    client
}

/// The roster a logged-in client gets: (jid, subscription, ask, name, groups) per item.
async fn roster(client: &mut Client) -> Vec<(String, String, bool, String, Vec<String>)> {
    common::send_xml(
        client,
        "<iq xmlns='jabber:client' type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
    )
    .await;
    loop {
        if let Stanza::Iq(iq) = next_stanza(client).await {
            let el = Element::from(iq);
            if el.attr("id") != Some("r1") {
                continue;
            }
            let query = el.get_child("query", ROSTER).expect("roster result");
            return query
                .children()
                .map(|item| {
                    (
                        item.attr("jid").unwrap_or_default().to_owned(),
                        item.attr("subscription").unwrap_or_default().to_owned(),
                        item.attr("ask") == Some("subscribe"),
                        item.attr("name").unwrap_or_default().to_owned(),
                        item.children().map(Element::text).collect(),
                    )
                })
                .collect();
        }
    }
}

/// The result of the iq `xml` (whose id is `id`) a logged-in client sends.
async fn iq_result(client: &mut Client, id: &str, xml: &str) -> Element {
    common::send_xml(client, xml).await;
    loop {
        if let Stanza::Iq(iq) = next_stanza(client).await {
            let el = Element::from(iq);
            if el.attr("id") == Some(id) {
                assert_eq!(el.attr("type"), Some("result"), "{el:?}");
                return el;
            }
        }
    }
}

/// The SASL mechanisms offered on a plaintext loopback stream.
async fn mechanisms(running: &RunningServer) -> String {
    let mut raw = RawTcp::connect(running.c2s_addr).await;
    raw.send(STREAM_HEADER).await;
    raw.read_until("</stream:features>").await
}

/// PLAIN over plaintext loopback: whether `user` got in with `password`.
async fn plain_login(running: &RunningServer, user: &str, password: &str) -> bool {
    let mut raw = RawTcp::connect(running.c2s_addr).await;
    raw.send(STREAM_HEADER).await;
    raw.read_until("</stream:features>").await;
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    raw.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{creds}</auth>"
    ))
    .await;
    let answer = raw.read_until("</").await;
    answer.contains("<success")
}

#[tokio::test]
async fn prosody_users_log_in_with_scram_sha1_and_are_upgraded_by_plain() {
    let dir = tempfile::tempdir().unwrap();
    let summary = import(dir.path(), "prosody").await;
    assert_eq!(
        (summary.accounts, summary.contacts, summary.requests),
        (3, 3, 1)
    );
    assert!(summary.warnings().is_empty(), "{:?}", summary.warnings());
    assert_eq!(
        (
            summary.vcards,
            summary.private,
            summary.pep_nodes,
            summary.pep_items
        ),
        (1, 1, 1, 1)
    );
    let running = serve(dir.path()).await;
    let store = running.accounts().store().clone();

    // Prosody kept SCRAM-SHA-1 keys only: SCRAM-SHA-256 is not offered while they are all.
    let offer = mechanisms(&running).await;
    assert!(offer.contains(">SCRAM-SHA-1<"), "{offer}");
    assert!(!offer.contains("SCRAM-SHA-256"), "{offer}");

    let mut alice = login(&running, dir.path(), "alice@localhost", "wonderland-1").await;
    let items = roster(&mut alice).await;
    assert_eq!(
        items,
        [
            (
                "bob@localhost".to_owned(),
                "both".to_owned(),
                false,
                "Bob B.".to_owned(),
                vec!["Friends".to_owned(), "Work".to_owned()]
            ),
            (
                "carol@localhost".to_owned(),
                "none".to_owned(),
                true,
                "Carol".to_owned(),
                vec!["Friends".to_owned()]
            ),
        ]
    );
    // Her vCard, private XML and PEP nickname, as a client asks for them.
    let vcard = iq_result(
        &mut alice,
        "v1",
        "<iq xmlns='jabber:client' type='get' id='v1'><vCard xmlns='vcard-temp'/></iq>",
    )
    .await;
    let vcard = vcard.get_child("vCard", "vcard-temp").expect("vCard");
    assert_eq!(
        vcard.get_child("FN", "vcard-temp").unwrap().text(),
        "Alice Liddell"
    );
    let notes_ns = "http://miranda-im.org/storage#notes";
    let private = iq_result(
        &mut alice,
        "x1",
        &format!(
            "<iq xmlns='jabber:client' type='get' id='x1'><query xmlns='jabber:iq:private'>\
             <notes xmlns='{notes_ns}'/></query></iq>"
        ),
    )
    .await;
    let notes = private
        .get_child("query", "jabber:iq:private")
        .and_then(|q| q.get_child("notes", notes_ns))
        .expect("private XML");
    assert_eq!(
        notes.get_child("note", notes_ns).unwrap().text(),
        "remember the rabbit"
    );
    let nick_ns = "http://jabber.org/protocol/nick";
    let items = iq_result(
        &mut alice,
        "n1",
        &format!(
            "<iq xmlns='jabber:client' type='get' id='n1'>\
             <pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='{nick_ns}'/></pubsub></iq>"
        ),
    )
    .await;
    let item = items
        .get_child("pubsub", "http://jabber.org/protocol/pubsub")
        .and_then(|p| p.get_child("items", "http://jabber.org/protocol/pubsub"))
        .and_then(|i| i.get_child("item", "http://jabber.org/protocol/pubsub"))
        .expect("PEP item");
    assert_eq!(item.attr("id"), Some("current"));
    assert_eq!(item.get_child("nick", nick_ns).unwrap().text(), "Alice L.");
    alice.send_end().await.unwrap();
    let alice_keys = store.credentials("alice").await.unwrap().unwrap();
    assert!(
        alice_keys.needs_upgrade(),
        "SCRAM does not reveal the password"
    );
    assert!(
        store
            .request_exists("carol", "alice@localhost")
            .await
            .unwrap()
    );

    // PLAIN reveals the password: wrong ones are refused, the right one upgrades the account.
    assert!(!plain_login(&running, "bob", "builder-3").await);
    assert!(plain_login(&running, "bob", "builder-2").await);
    let bob_keys = store.credentials("bob").await.unwrap().unwrap();
    assert!(!bob_keys.needs_upgrade());
    assert!(bob_keys.verify_password("builder-2"));
    assert!(plain_login(&running, "alice", "wonderland-1").await);
    // HTTP Basic checks the password the same way, and upgrades too.
    let url = format!("http://{}/rest", running.http_addr);
    let ping = "<iq type='get' to='localhost' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>";
    let post = |password: &'static str| {
        common::http()
            .post(&url)
            .basic_auth("carol", Some(password))
            .header("Content-Type", "application/xmpp+xml")
            .body(ping)
            .send()
    };
    assert!(post("carol-4").await.unwrap().status().is_client_error());
    assert!(
        store
            .credentials("carol")
            .await
            .unwrap()
            .unwrap()
            .needs_upgrade()
    );
    assert_eq!(post("carol-3").await.unwrap().status(), 200);
    assert!(
        !store
            .credentials("carol")
            .await
            .unwrap()
            .unwrap()
            .needs_upgrade()
    );
    assert_eq!(
        store.scram_coverage().await.unwrap(),
        ScramCoverage {
            sha1: true,
            sha256: true
        }
    );
    let offer = mechanisms(&running).await;
    assert!(offer.contains(">SCRAM-SHA-256<"), "{offer}");
    // Now tokio-xmpp picks SCRAM-SHA-256, against the keys the upgrade derived.
    let mut bob = login(&running, dir.path(), "bob@localhost", "builder-2").await;
    assert_eq!(roster(&mut bob).await.len(), 1);
    bob.send_end().await.unwrap();
    running.shutdown().await;
}

#[tokio::test]
async fn ejabberd_users_log_in_and_get_their_offline_message() {
    for (source, offered, hidden) in [
        ("ejabberd-scram-sha256", ">SCRAM-SHA-256<", ">SCRAM-SHA-1<"),
        ("ejabberd-scram-sha1", ">SCRAM-SHA-1<", ">SCRAM-SHA-256<"),
        ("ejabberd-plain", ">SCRAM-SHA-256<", ">nothing hidden<"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let summary = import(dir.path(), source).await;
        assert_eq!(summary.files, 2, "{source}: the main file and its include");
        assert_eq!(
            (summary.accounts, summary.contacts, summary.offline),
            (3, 4, 1),
            "{source}"
        );
        let running = serve(dir.path()).await;
        let offer = mechanisms(&running).await;
        assert!(offer.contains(offered), "{source}: {offer}");
        assert!(!offer.contains(hidden), "{source}: {offer}");

        let mut bob = login(&running, dir.path(), "bob@localhost", "builder-2").await;
        let items = roster(&mut bob).await;
        assert!(
            items.contains(&(
                "dave@example.org".to_owned(),
                "to".to_owned(),
                false,
                "Dave".to_owned(),
                vec!["Colleagues".to_owned()]
            )),
            "{source}: {items:?}"
        );
        bob.send_end().await.unwrap();

        let mut alice = login(&running, dir.path(), "alice@localhost", "wonderland-1").await;
        common::send_xml(&mut alice, "<presence xmlns='jabber:client'/>").await;
        let message = Element::from(common::next_message(&mut alice).await);
        assert_eq!(message.attr("from"), Some("bob@localhost/gen"), "{source}");
        let delays: Vec<&Element> = message
            .children()
            .filter(|c| c.is("delay", "urn:xmpp:delay"))
            .collect();
        assert_eq!(delays.len(), 1, "{source}: {}", String::from(&message));
        assert!(
            delays[0]
                .attr("stamp")
                .is_some_and(|s| s.starts_with("2026-11-30T15:55")),
            "{source}: the original time: {}",
            String::from(&message)
        );
        alice.send_end().await.unwrap();
        running.shutdown().await;
    }
}

/// Everything an account holds that XEP-0227 carries, in a comparable form.
async fn contents(store: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    for user in store.list_users().await.unwrap() {
        let creds = store.credentials(&user).await.unwrap().unwrap();
        out.push(format!(
            "{user} {:?} {:?}",
            creds.for_hash(ScramHash::Sha1).map(|k| &k.stored_key),
            creds.for_hash(ScramHash::Sha256).map(|k| &k.stored_key)
        ));
        for item in store.roster(&user).await.unwrap() {
            out.push(format!("{user} roster {item:?}"));
        }
        for request in store.requests(&user, None, 100).await.unwrap() {
            out.push(format!("{user} request {}", request.jid));
        }
        for message in store.offline_batch(&user, 0, 100).await.unwrap() {
            out.push(format!(
                "{user} offline {} {}",
                message.stored_at, message.stanza
            ));
        }
        if let Some(vcard) = store.vcard(&user).await.unwrap() {
            out.push(format!("{user} vcard {vcard}"));
        }
        for (namespace, xml) in store.private_documents(&user).await.unwrap() {
            out.push(format!("{user} private {namespace} {xml}"));
        }
        for node in store.pep_nodes(&user).await.unwrap() {
            let items = store.pep_items(&user, &node.node, None).await.unwrap();
            out.push(format!("{user} pep {node:?} {items:?}"));
        }
    }
    out
}

/// What an export wrote and what the store held: accounts, roster items, requests, offline
/// messages, vCards, private XML documents, PEP nodes.
type Counts = (u64, u64, u64, u64, u64, u64, u64);

/// Imports `sources` in turn (each replacing what the one before it brought), exports, imports
/// that export elsewhere and exports again: the stores hold the same and the files are equal.
async fn round_trip(sources: &[&str], expected: Counts) {
    let first = tempfile::tempdir().unwrap();
    for source in sources {
        portable::import(
            first.path(),
            "localhost",
            4096,
            &data(source),
            ImportOptions {
                replace: true,
                ..ImportOptions::default()
            },
        )
        .await
        .unwrap();
    }
    let exports = tempfile::tempdir().unwrap();
    let file = exports.path().join("one.xml");
    let store = SqliteStore::open(first.path()).await.unwrap();
    let exported = portable::export(&store, "localhost", &file).await.unwrap();
    assert_eq!(
        (
            exported.accounts,
            exported.contacts,
            exported.requests,
            exported.offline,
            exported.vcards,
            exported.private,
            exported.pep_nodes
        ),
        expected,
        "{sources:?}"
    );
    assert!(
        !std::fs::read_to_string(&file)
            .unwrap()
            .contains("password="),
        "never a plaintext password"
    );
    assert!(matches!(
        portable::export(&store, "localhost", &file).await,
        Err(PortableError::Exists(_))
    ));

    let second = tempfile::tempdir().unwrap();
    let summary = portable::import(
        second.path(),
        "localhost",
        4096,
        &file,
        ImportOptions::default(),
    )
    .await
    .unwrap();
    assert!(summary.skipped.is_empty(), "{:?}", summary.warnings());
    let again = SqliteStore::open(second.path()).await.unwrap();
    let (before, after) = (contents(&store).await, contents(&again).await);
    let (accounts, contacts, requests, offline, vcards, private, nodes) = expected;
    let lines = accounts + contacts + requests + offline + vcards + private + nodes;
    assert_eq!(before.len() as u64, lines, "{before:#?}");
    assert_eq!(before, after);

    let file_again = exports.path().join("two.xml");
    portable::export(&again, "localhost", &file_again)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        std::fs::read_to_string(&file_again).unwrap()
    );
}

#[tokio::test]
async fn export_then_import_gives_the_same_accounts() {
    round_trip(&["prosody", "ejabberd-scram-sha1"], (3, 4, 1, 1, 1, 1, 0)).await;
    round_trip(&["prosody"], (3, 3, 1, 0, 1, 1, 1)).await;
}

#[tokio::test]
async fn data_over_the_pep_limits_is_skipped_and_the_account_imported() {
    let dir = tempfile::tempdir().unwrap();
    let pep = switchboard_server::config::PepConfig {
        max_vcard_bytes: 16,
        max_private_bytes: 16,
        max_nodes: 0,
        ..Default::default()
    };
    let summary = portable::import(
        dir.path(),
        "localhost",
        4096,
        &data("prosody"),
        ImportOptions {
            pep,
            ..ImportOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(summary.accounts, 3);
    assert!(summary.refused.is_empty(), "{:?}", summary.refused);
    assert_eq!(
        (summary.vcards, summary.private, summary.pep_nodes),
        (0, 0, 0)
    );
    let warnings = summary.warnings();
    for kind in ["vCards", "private XML", "PEP nodes"] {
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("skipped 1 ") && w.contains(kind)),
            "{warnings:?}"
        );
    }
    let opened = SqliteStore::open(dir.path()).await.unwrap();
    let store: &dyn Store = &opened;
    assert!(store.credentials("alice").await.unwrap().is_some());
    assert_eq!(store.roster("alice").await.unwrap().len(), 2);
    assert_eq!(store.vcard("alice").await.unwrap(), None);
    assert!(store.pep_nodes("alice").await.unwrap().is_empty());
}

#[tokio::test]
async fn malformed_files_are_refused_with_their_line_and_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.xml");
    std::fs::write(
        &file,
        "<?xml version='1.0'?>\n<server-data xmlns='urn:xmpp:pie:0'>\n<host jid='localhost'>\n\
         <user name='ok' password='fine-1'/>\n<user name='bad'><query xmlns='jabber:iq:roster'>\n\
         </user>\n</host>\n</server-data>\n",
    )
    .unwrap();
    let data_dir = dir.path().join("data");
    let err = portable::import(
        &data_dir,
        "localhost",
        4096,
        &file,
        ImportOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, PortableError::Xml { source: PieError::NotWellFormed { at, .. }, .. } if at.line == 6),
        "{err}"
    );
    assert!(
        err.to_string().contains("broken.xml: line 6, column"),
        "{err}"
    );
    // The accounts before the error are complete; the broken one is not there at all.
    let store = SqliteStore::open(&data_dir).await.unwrap();
    assert_eq!(store.list_users().await.unwrap(), ["ok"]);
}

#[tokio::test]
async fn import_is_refused_while_a_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let running = serve(dir.path()).await;
    let err = portable::import(
        dir.path(),
        "localhost",
        4096,
        &data("prosody"),
        ImportOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("stop it first"), "{err}");
    running.shutdown().await;
}

fn cli(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    for (var, _) in std::env::vars() {
        if var.starts_with("SWITCHBOARD_") || var == "RUST_BACKTRACE" {
            c.env_remove(var);
        }
    }
    c.current_dir(dir)
        .env("SWITCHBOARD_DATA_DIR", dir.join("data"))
        .env("SWITCHBOARD_LOG", "warn");
    c
}

#[test]
fn the_cli_imports_refuses_existing_accounts_replaces_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path())
        .args(["import", "xep227"])
        .arg(data("prosody"))
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("imported 3 account(s) (0 replaced) from 3 file(s): 3 roster item(s), 1 pending subscription request(s), 0 offline message(s), 1 vCard(s), 1 private XML document(s), 1 PEP node(s) with 1 item(s)"),
        "{stdout}"
    );
    assert!(!stderr.contains("WARN"), "{stderr}");

    let out = cli(dir.path())
        .args(["import", "xep227"])
        .arg(data("ejabberd-plain"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("account alice@localhost exists already; run again with --replace"),
        "{stderr}"
    );
    assert!(
        stderr.contains("3 account(s) were not imported"),
        "{stderr}"
    );

    let out = cli(dir.path())
        .args(["import", "xep227", "--replace"])
        .arg(data("ejabberd-plain"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("imported 3 account(s) (3 replaced)"),
        "{stdout}"
    );

    let export = dir.path().join("export.xml");
    let out = cli(dir.path())
        .args(["export", "xep227"])
        .arg(&export)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("exported 3 account(s)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        std::fs::read_to_string(&export)
            .unwrap()
            .contains("SCRAM-SHA-256")
    );

    // The form: a directory (created), read back by `import xep227 DIR` elsewhere.
    let export_dir = dir.path().join("exported");
    let out = cli(dir.path())
        .args(["export", "xep227"])
        .arg(&export_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(export_dir.join("localhost.xml")).unwrap(),
        std::fs::read(&export).unwrap()
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let out = cli(elsewhere.path())
        .args(["import", "xep227"])
        .arg(&export_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("imported 3 account(s) (0 replaced) from 1 file(s)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let broken = dir.path().join("broken.xml");
    std::fs::write(&broken, "<server-data xmlns='urn:xmpp:pie:0'>\n<host jid='localhost'>\n<user name='x' password='y'>\n").unwrap();
    let out = cli(dir.path())
        .args(["import", "xep227"])
        .arg(&broken)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "broken.xml: line 4, column 1: the file ends before its root element is closed"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("stack backtrace"), "{stderr}");
}
