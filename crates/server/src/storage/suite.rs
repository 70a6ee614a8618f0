//! The storage test suite, written against the [`Store`] trait so that every backend runs the
//! same tests: a backend instantiates [`store_suite!`] with an expression that opens a store.

use chrono::{DateTime, Utc};

use crate::storage::archive::{
    Criteria, NewArchived, Page, PageRequest, Position, QueryError, StoredPrefs, With,
};
use crate::storage::{
    Created, NewOutboxEntry, OfflineQuota, OfflineUsage, OutboxDepth, PushRegistration, RosterItem,
    Store, StoreError, StoredItem, TokenGrant, TokenScope, Upload, UserCallbackRow,
};
use switchboard_xmpp::pep::NodeConfig;
use switchboard_xmpp::sasl::StoredCredentials;

pub fn creds() -> StoredCredentials {
    StoredCredentials::derive("secret", 4096).unwrap()
}

pub async fn users_lifecycle(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    assert!(matches!(
        s.create_user("alice", &creds()).await,
        Err(StoreError::Conflict)
    ));
    s.create_user("bob", &creds()).await.unwrap();
    assert_eq!(s.list_users().await.unwrap(), vec!["alice", "bob"]);
    let c = s.credentials("alice").await.unwrap().unwrap();
    assert!(c.verify_password("secret"));
    assert!(!c.verify_password("wrong"));
    let new = StoredCredentials::derive("other", 4096).unwrap();
    assert!(s.set_credentials("alice", &new).await.unwrap());
    assert!(
        s.credentials("alice")
            .await
            .unwrap()
            .unwrap()
            .verify_password("other")
    );
    assert!(s.delete_user("alice").await.unwrap());
    assert!(!s.delete_user("alice").await.unwrap());
    assert!(s.credentials("alice").await.unwrap().is_none());
}

pub async fn passwordless_accounts_exist_without_keys(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    s.create_user("jay", &StoredCredentials::passwordless())
        .await
        .unwrap();
    let jay = s.credentials("jay").await.unwrap().unwrap();
    assert!(jay.is_passwordless());
    assert!(!jay.verify_password(""));
    // Accounts without a password take no SCRAM family off the offer.
    let coverage = s.scram_coverage().await.unwrap();
    assert!(coverage.sha1 && coverage.sha256);
    assert!(s.set_credentials("jay", &creds()).await.unwrap());
    let jay = s.credentials("jay").await.unwrap().unwrap();
    assert!(!jay.is_passwordless());
    assert!(jay.verify_password("secret"));
}

pub async fn imported_accounts_are_whole_or_absent(s: &dyn Store) {
    use crate::storage::PortableAccount;
    use switchboard_xmpp::sasl::ScramHash;
    let sha1 = ScramHash::Sha1.keys("old", b"salt".to_vec(), 4096);
    let mut item = RosterItem::new("bob@example.org");
    item.subscription = "both".into();
    item.groups = vec!["Friends".into()];
    let stored_at: DateTime<Utc> = "2026-01-02T03:04:05Z".parse().unwrap();
    let account = PortableAccount {
        user: "alice".into(),
        credentials: StoredCredentials::from_keys(Some(sha1), None).unwrap(),
        roster: vec![item.clone()],
        requests: vec![(
            "carol@example.org".into(),
            "<presence type='subscribe'/>".into(),
        )],
        offline: vec![("<message><body>hi</body></message>".into(), stored_at)],
        vcard: Some("<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>".into()),
        private: vec![
            ("urn:b".into(), "<b xmlns='urn:b'/>".into()),
            ("urn:a".into(), "<a xmlns='urn:a'/>".into()),
        ],
        pep: vec![(
            crate::storage::StoredNode {
                node: "urn:nick".into(),
                config: NodeConfig {
                    max_items: 5,
                    ..NodeConfig::DEFAULT
                },
            },
            vec![
                crate::storage::StoredItem {
                    id: "old".into(),
                    payload: "<nick xmlns='urn:nick'>A</nick>".into(),
                },
                crate::storage::StoredItem {
                    id: "new".into(),
                    payload: "<nick xmlns='urn:nick'>B</nick>".into(),
                },
            ],
        )],
    };
    let full = crate::storage::ScramCoverage {
        sha1: true,
        sha256: true,
    };
    s.create_user("zed", &creds()).await.unwrap();
    assert_eq!(s.scram_coverage().await.unwrap(), full);
    s.import_account(&account, false).await.unwrap();
    assert_eq!(
        s.scram_coverage().await.unwrap(),
        crate::storage::ScramCoverage {
            sha1: true,
            sha256: false
        }
    );
    let imported = s.credentials("alice").await.unwrap().unwrap();
    assert!(imported.for_hash(ScramHash::Sha256).is_none());
    assert!(imported.verify_password("old"));
    assert_eq!(s.roster("alice").await.unwrap(), [item]);
    assert!(
        s.request_exists("alice", "carol@example.org")
            .await
            .unwrap()
    );
    let offline = s.offline_batch("alice", 0, 10).await.unwrap();
    assert_eq!(offline.len(), 1);
    assert_eq!(offline[0].stored_at, stored_at);
    assert_eq!(s.offline_usage("alice").await.unwrap().messages, 1);
    assert_eq!(s.vcard("alice").await.unwrap(), account.vcard);
    let mut private = account.private.clone();
    private.sort();
    assert_eq!(s.private_documents("alice").await.unwrap(), private);
    assert_eq!(
        s.pep_nodes("alice").await.unwrap(),
        [account.pep[0].0.clone()]
    );
    assert_eq!(
        s.pep_items("alice", "urn:nick", None).await.unwrap(),
        account.pep[0].1
    );
    // Items published after the import come after the imported ones.
    let newest = crate::storage::StoredItem {
        id: "newest".into(),
        payload: "<nick xmlns='urn:nick'>C</nick>".into(),
    };
    assert!(
        s.pep_publish("alice", "urn:nick", &newest, 5)
            .await
            .unwrap()
    );
    let ids: Vec<String> = s
        .pep_items("alice", "urn:nick", Some(2))
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, ["new", "newest"]);
    assert!(matches!(
        s.import_account(&account, false).await,
        Err(StoreError::Conflict)
    ));
    // A failing write leaves nothing behind: the same roster item twice violates the key.
    let mut broken = account.clone();
    broken.user = "dave".into();
    broken.roster.push(broken.roster[0].clone());
    assert!(s.import_account(&broken, false).await.is_err());
    assert!(s.credentials("dave").await.unwrap().is_none());
    let mut replacement = account.clone();
    replacement.roster.clear();
    replacement.offline.clear();
    replacement.vcard = None;
    replacement.private.clear();
    replacement.pep.clear();
    s.import_account(&replacement, true).await.unwrap();
    assert_eq!(s.vcard("alice").await.unwrap(), None);
    assert!(s.private_documents("alice").await.unwrap().is_empty());
    assert!(s.pep_nodes("alice").await.unwrap().is_empty());
    assert!(s.roster("alice").await.unwrap().is_empty());
    assert!(s.offline_batch("alice", 0, 10).await.unwrap().is_empty());
    assert_eq!(s.offline_usage("alice").await.unwrap().messages, 0);
    s.set_credentials("alice", &creds()).await.unwrap();
    assert_eq!(s.scram_coverage().await.unwrap(), full);
}

pub async fn tokens_follow_their_user(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    s.create_token("alice", b"hash1", TokenScope::User)
        .await
        .unwrap();
    s.create_token("alice", b"hash4", TokenScope::Admin)
        .await
        .unwrap();
    let grant = |scope| {
        Some(TokenGrant {
            user: "alice".into(),
            scope,
        })
    };
    assert_eq!(
        s.token_owner(b"hash1").await.unwrap(),
        grant(TokenScope::User)
    );
    assert_eq!(
        s.token_owner(b"hash4").await.unwrap(),
        grant(TokenScope::Admin)
    );
    assert!(matches!(
        s.create_token("nobody", b"hash2", TokenScope::User).await,
        Err(StoreError::NoSuchUser)
    ));
    assert!(s.revoke_token(b"hash1").await.unwrap());
    assert_eq!(s.token_owner(b"hash1").await.unwrap(), None);
    s.create_token("alice", b"hash3", TokenScope::User)
        .await
        .unwrap();
    s.delete_user("alice").await.unwrap();
    assert_eq!(s.token_owner(b"hash3").await.unwrap(), None);
}

pub async fn credential_changes_move_the_version(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    s.create_token("alice", b"hash1", TokenScope::User)
        .await
        .unwrap();
    let mut seen = s.credential_version().await.unwrap();
    let mut moved = |now: i64| {
        let changed = now != seen;
        seen = now;
        changed
    };
    s.create_token("alice", b"hash2", TokenScope::User)
        .await
        .unwrap();
    assert!(!moved(s.credential_version().await.unwrap()), "a new token");
    assert!(s.revoke_token(b"hash1").await.unwrap());
    assert!(moved(s.credential_version().await.unwrap()), "revoked");
    let new = StoredCredentials::derive("other", 4096).unwrap();
    assert!(s.set_credentials("alice", &new).await.unwrap());
    assert!(moved(s.credential_version().await.unwrap()), "password");
    assert!(s.delete_user("alice").await.unwrap());
    assert!(moved(s.credential_version().await.unwrap()), "deleted");
}

pub async fn roster_set_update_remove(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    let mut item = RosterItem {
        jid: "bob@localhost".into(),
        name: Some("Bob".into()),
        subscription: "none".into(),
        ask: None,
        groups: vec!["Friends".into()],
    };
    s.roster_set("alice", &item).await.unwrap();
    item.name = None;
    item.groups = vec![];
    s.roster_set("alice", &item).await.unwrap();
    assert_eq!(s.roster("alice").await.unwrap(), vec![item.clone()]);
    assert_eq!(
        s.roster_item("alice", "bob@localhost").await.unwrap(),
        Some(item)
    );
    assert!(
        s.roster_remove("alice", "bob@localhost")
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.roster("alice").await.unwrap().is_empty());
    assert_eq!(s.roster_item("alice", "bob@localhost").await.unwrap(), None);
    assert_eq!(
        s.roster_remove("alice", "bob@localhost").await.unwrap(),
        None
    );
}

/// Every change raises the version; a change of what the client owns keeps what the server
/// owns, and the other way round.
pub async fn roster_versions_and_split_ownership(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    assert_eq!(s.roster_version("alice").await.unwrap(), 0);
    let first = s
        .roster_set_subscription("alice", "bob@localhost", "none", Some("subscribe"))
        .await
        .unwrap();
    assert_eq!(first.item.ask.as_deref(), Some("subscribe"));
    assert!(first.version > 0);
    let groups = vec!["Friends".to_owned()];
    let named = s
        .roster_set_details("alice", "bob@localhost", Some("Bob"), &groups)
        .await
        .unwrap();
    assert!(named.version > first.version);
    assert_eq!(named.item.ask.as_deref(), Some("subscribe"), "kept");
    let subscribed = s
        .roster_set_subscription("alice", "bob@localhost", "to", None)
        .await
        .unwrap();
    assert!(subscribed.version > named.version);
    assert_eq!(
        subscribed.item,
        RosterItem {
            jid: "bob@localhost".into(),
            name: Some("Bob".into()),
            subscription: "to".into(),
            ask: None,
            groups,
        },
        "name and groups kept"
    );
    assert_eq!(s.roster_version("alice").await.unwrap(), subscribed.version);
    let removed = s
        .roster_remove("alice", "bob@localhost")
        .await
        .unwrap()
        .unwrap();
    assert!(removed > subscribed.version);
    // Reading or removing nothing changes nothing.
    s.roster("alice").await.unwrap();
    s.roster_remove("alice", "carol@localhost").await.unwrap();
    assert_eq!(s.roster_version("alice").await.unwrap(), removed);
    assert!(matches!(
        s.roster_set_details("ghost", "bob@localhost", None, &[])
            .await,
        Err(StoreError::NoSuchUser)
    ));
}

pub async fn subscription_requests_are_kept_until_answered(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    for jid in ["carol@localhost", "bob@localhost", "dave@localhost"] {
        s.request_set("alice", jid, &format!("<presence from='{jid}'/>"))
            .await
            .unwrap();
    }
    let again = "<presence from='bob@localhost'><status>again</status></presence>";
    s.request_set("alice", "bob@localhost", again)
        .await
        .unwrap();
    assert!(s.request_exists("alice", "bob@localhost").await.unwrap());
    let page = s.requests("alice", None, 2).await.unwrap();
    let jids: Vec<&str> = page.iter().map(|r| r.jid.as_str()).collect();
    assert_eq!(jids, vec!["bob@localhost", "carol@localhost"]);
    assert_eq!(page[0].stanza, again, "replaced, not doubled");
    let rest = s
        .requests("alice", Some("carol@localhost"), 2)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].jid, "dave@localhost");
    assert!(s.request_remove("alice", "bob@localhost").await.unwrap());
    assert!(!s.request_remove("alice", "bob@localhost").await.unwrap());
    assert!(!s.request_exists("alice", "bob@localhost").await.unwrap());
    assert!(matches!(
        s.request_set("ghost", "bob@localhost", "<presence/>").await,
        Err(StoreError::NoSuchUser)
    ));
}

const ROOMY: OfflineQuota = OfflineQuota {
    max_messages: 1000,
    max_bytes: 1 << 20,
};

pub async fn offline_messages_keep_order(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    for n in 1..=3 {
        s.offline_push("alice", &format!("<message>{n}</message>"), ROOMY)
            .await
            .unwrap();
    }
    let list = s.offline_batch("alice", 0, 2).await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(list[0].id < list[1].id);
    assert_eq!(list[0].stanza, "<message>1</message>");
    let rest = s.offline_batch("alice", list[1].id, 2).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].stanza, "<message>3</message>");
    s.offline_delete("alice", &[list[0].id]).await.unwrap();
    assert_eq!(s.offline_batch("alice", 0, 10).await.unwrap().len(), 2);
    assert!(matches!(
        s.offline_push("ghost", "<message/>", ROOMY).await,
        Err(StoreError::NoSuchUser)
    ));
}

pub async fn blocklist_block_unblock(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    assert!(s.blocklist("alice").await.unwrap().is_empty());
    let jids = |list: &[&str]| list.iter().map(|j| j.to_string()).collect::<Vec<_>>();
    s.block("alice", &jids(&["romeo@montague.net", "capulet.net"]))
        .await
        .unwrap();
    // Blocking again keeps one entry.
    s.block("alice", &jids(&["romeo@montague.net", "iago@venice.lit/x"]))
        .await
        .unwrap();
    assert_eq!(
        s.blocklist("alice").await.unwrap(),
        jids(&["capulet.net", "iago@venice.lit/x", "romeo@montague.net"])
    );
    s.unblock("alice", &jids(&["capulet.net", "never@blocked.net"]))
        .await
        .unwrap();
    assert_eq!(
        s.blocklist("alice").await.unwrap(),
        jids(&["iago@venice.lit/x", "romeo@montague.net"])
    );
    s.unblock_all("alice").await.unwrap();
    assert!(s.blocklist("alice").await.unwrap().is_empty());
    assert!(matches!(
        s.block("ghost", &jids(&["a@b"])).await,
        Err(StoreError::NoSuchUser)
    ));
    s.block("alice", &jids(&["a@b"])).await.unwrap();
    s.delete_user("alice").await.unwrap();
    s.create_user("alice", &creds()).await.unwrap();
    assert!(
        s.blocklist("alice").await.unwrap().is_empty(),
        "a deleted account's blocklist goes with it"
    );
}

pub async fn offline_quotas_count_messages_and_bytes(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    s.create_user("bob", &creds()).await.unwrap();
    let two = OfflineQuota {
        max_messages: 2,
        max_bytes: 1000,
    };
    let message = "<message>x</message>";
    s.offline_push("alice", message, two).await.unwrap();
    s.offline_push("alice", message, two).await.unwrap();
    assert!(matches!(
        s.offline_push("alice", message, two).await,
        Err(StoreError::QuotaExceeded)
    ));
    assert_eq!(
        s.offline_usage("alice").await.unwrap(),
        OfflineUsage {
            messages: 2,
            bytes: 2 * message.len() as u64
        }
    );
    // Delivered messages free their room.
    let first = s.offline_batch("alice", 0, 1).await.unwrap();
    s.offline_delete("alice", &[first[0].id]).await.unwrap();
    s.offline_push("alice", message, two).await.unwrap();

    // Bytes: a message that does not fit is refused, a smaller one still fits.
    let small = OfflineQuota {
        max_messages: 100,
        max_bytes: 50,
    };
    let thirty = format!("<message>{}</message>", "y".repeat(11));
    assert_eq!(thirty.len(), 30);
    s.offline_push("bob", &thirty, small).await.unwrap();
    assert!(matches!(
        s.offline_push("bob", &thirty, small).await,
        Err(StoreError::QuotaExceeded)
    ));
    s.offline_push("bob", "<message>z</message>", small)
        .await
        .unwrap();
    assert_eq!(s.offline_usage("bob").await.unwrap().bytes, 50);
    let too_big = "x".repeat(51);
    assert!(matches!(
        s.offline_push("alice", &too_big, small).await,
        Err(StoreError::QuotaExceeded)
    ));
    let none = OfflineQuota {
        max_messages: 0,
        max_bytes: 1000,
    };
    assert!(matches!(
        s.offline_push("bob", message, none).await,
        Err(StoreError::QuotaExceeded)
    ));
    assert_eq!(
        s.offline_totals().await.unwrap(),
        OfflineUsage {
            messages: 4,
            bytes: 2 * message.len() as u64 + 50
        }
    );
}

pub async fn offline_claims_admit_one_holder(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    assert!(s.offline_claim("alice", "a", 1000, 2000).await.unwrap());
    assert!(!s.offline_claim("alice", "b", 1500, 2500).await.unwrap());
    assert!(
        s.offline_claim("alice", "a", 1500, 2500).await.unwrap(),
        "renewed"
    );
    assert!(!s.offline_claim("alice", "b", 2400, 3400).await.unwrap());
    // An expired claim can be taken over.
    assert!(s.offline_claim("alice", "b", 2500, 3500).await.unwrap());
    s.offline_release("alice", "a").await.unwrap();
    assert!(
        !s.offline_claim("alice", "c", 2600, 3600).await.unwrap(),
        "b still holds it"
    );
    s.offline_release("alice", "b").await.unwrap();
    assert!(s.offline_claim("alice", "c", 2600, 3600).await.unwrap());
}

/// Deleting an account deletes its roster, version, requests, stored messages and claims.
pub async fn account_deletion_removes_im_state(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    s.roster_set_subscription("alice", "bob@localhost", "both", None)
        .await
        .unwrap();
    s.request_set("alice", "carol@localhost", "<presence/>")
        .await
        .unwrap();
    s.offline_push("alice", "<message>1</message>", ROOMY)
        .await
        .unwrap();
    assert!(s.offline_claim("alice", "a", 0, 10).await.unwrap());
    s.delete_user("alice").await.unwrap();
    s.create_user("alice", &creds()).await.unwrap();
    assert!(s.roster("alice").await.unwrap().is_empty());
    assert_eq!(s.roster_version("alice").await.unwrap(), 0);
    assert!(s.requests("alice", None, 10).await.unwrap().is_empty());
    assert!(s.offline_batch("alice", 0, 10).await.unwrap().is_empty());
    assert_eq!(
        s.offline_usage("alice").await.unwrap(),
        OfflineUsage::default()
    );
    assert!(s.offline_claim("alice", "b", 0, 10).await.unwrap());
}

fn pep_item(id: &str, payload: &str) -> StoredItem {
    StoredItem {
        id: id.into(),
        payload: payload.into(),
    }
}

/// Nodes are created once, keep their newest items in publication order (a republished id
/// becomes the newest) and trim to what their configuration keeps.
pub async fn pep_nodes_and_items(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    let mut config = NodeConfig::DEFAULT;
    config.max_items = 3;
    assert_eq!(
        s.pep_create("alice", "n", &config, 2).await.unwrap(),
        Created::Created
    );
    assert_eq!(
        s.pep_create("alice", "n", &config, 2).await.unwrap(),
        Created::Exists
    );
    assert_eq!(
        s.pep_create("alice", "m", &NodeConfig::DEFAULT, 2)
            .await
            .unwrap(),
        Created::Created
    );
    assert_eq!(
        s.pep_create("alice", "o", &config, 2).await.unwrap(),
        Created::TooMany
    );
    assert!(matches!(
        s.pep_create("nobody", "n", &config, 2).await,
        Err(StoreError::NoSuchUser)
    ));
    assert_eq!(s.pep_node("alice", "n").await.unwrap(), Some(config));
    assert_eq!(s.pep_nodes("alice").await.unwrap().len(), 2);
    for id in ["a", "b", "c", "a", "d"] {
        assert!(
            s.pep_publish("alice", "n", &pep_item(id, &format!("<p>{id}</p>")), 3)
                .await
                .unwrap()
        );
    }
    assert!(
        !s.pep_publish("alice", "x", &pep_item("a", "<p/>"), 3)
            .await
            .unwrap()
    );
    let ids = |items: Vec<StoredItem>| items.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.pep_items("alice", "n", None).await.unwrap()),
        ["c", "a", "d"]
    );
    assert_eq!(
        ids(s.pep_items("alice", "n", Some(1)).await.unwrap()),
        ["d"]
    );
    assert_eq!(
        ids(s
            .pep_items_by_id("alice", "n", &["d".into(), "zz".into(), "c".into()])
            .await
            .unwrap()),
        ["c", "d"]
    );
    assert_eq!(
        s.pep_retract("alice", "n", &["c".into(), "zz".into()])
            .await
            .unwrap(),
        ["c"]
    );
    config.max_items = 1;
    assert!(s.pep_configure("alice", "n", &config).await.unwrap());
    assert_eq!(ids(s.pep_items("alice", "n", None).await.unwrap()), ["d"]);
    assert!(s.pep_purge("alice", "n").await.unwrap());
    assert!(s.pep_items("alice", "n", None).await.unwrap().is_empty());
    assert!(s.pep_delete("alice", "n").await.unwrap());
    assert!(!s.pep_delete("alice", "n").await.unwrap());
    assert!(!s.pep_purge("alice", "n").await.unwrap());
    assert_eq!(s.pep_node("alice", "n").await.unwrap(), None);
}

/// vCards and private XML are replaced whole, and go with their account.
pub async fn personal_data_follows_its_account(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    assert_eq!(s.vcard("alice").await.unwrap(), None);
    s.set_vcard("alice", "<vCard/>").await.unwrap();
    s.set_vcard("alice", "<vCard><FN>A</FN></vCard>")
        .await
        .unwrap();
    assert_eq!(
        s.vcard("alice").await.unwrap().as_deref(),
        Some("<vCard><FN>A</FN></vCard>")
    );
    s.set_private_xml("alice", "urn:x", "<x/>").await.unwrap();
    assert_eq!(
        s.private_xml("alice", "urn:x").await.unwrap().as_deref(),
        Some("<x/>")
    );
    assert_eq!(s.private_xml("alice", "urn:y").await.unwrap(), None);
    assert!(matches!(
        s.set_vcard("nobody", "<vCard/>").await,
        Err(StoreError::NoSuchUser)
    ));
    s.pep_create("alice", "n", &NodeConfig::DEFAULT, 10)
        .await
        .unwrap();
    s.pep_publish("alice", "n", &pep_item("a", "<p/>"), 1)
        .await
        .unwrap();
    s.delete_user("alice").await.unwrap();
    s.create_user("alice", &creds()).await.unwrap();
    assert_eq!(s.vcard("alice").await.unwrap(), None);
    assert_eq!(s.private_xml("alice", "urn:x").await.unwrap(), None);
    assert!(s.pep_nodes("alice").await.unwrap().is_empty());
}

pub fn outbox_entry(n: u32, destination: &str) -> NewOutboxEntry {
    NewOutboxEntry {
        delivery_id: format!("d{n}"),
        owner: "rest.localhost".into(),
        destination: destination.into(),
        kind: "message".into(),
        stanza: format!("<message>{n}</message>"),
        created_at: 1000 + i64::from(n),
        deadline: None,
    }
}

pub async fn outbox_heads_are_per_destination_in_order(s: &dyn Store) {
    let a1 = s
        .outbox_push(&outbox_entry(1, "a@rest.localhost"))
        .await
        .unwrap();
    s.outbox_push(&outbox_entry(2, "a@rest.localhost"))
        .await
        .unwrap();
    let b1 = s
        .outbox_push(&outbox_entry(3, "b@rest.localhost"))
        .await
        .unwrap();
    assert!(matches!(
        s.outbox_push(&outbox_entry(1, "c@rest.localhost")).await,
        Err(StoreError::Conflict)
    ));
    let heads = s.outbox_heads(10).await.unwrap();
    let ids: Vec<i64> = heads.iter().map(|h| h.id).collect();
    assert_eq!(ids, vec![a1, b1]);
    assert_eq!(heads[0].next_attempt_at, 1001);
    assert_eq!(heads[0].attempts, 0);

    // A retry moves a head later without letting the next entry of its destination pass.
    s.outbox_retry(a1, 5000, Some(503), "HTTP 503")
        .await
        .unwrap();
    let heads = s.outbox_heads(10).await.unwrap();
    assert_eq!(heads.iter().map(|h| h.id).collect::<Vec<_>>(), vec![b1, a1]);
    assert_eq!(heads[1].attempts, 1);
    assert_eq!(heads[1].last_status, Some(503));
    assert_eq!(heads[1].last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(s.outbox_heads(1).await.unwrap().len(), 1);

    s.outbox_delete(b1).await.unwrap();
    assert_eq!(s.outbox_heads(10).await.unwrap().len(), 1);
}

pub async fn outbox_dead_letters_and_redrive(s: &dyn Store) {
    let first = s
        .outbox_push(&outbox_entry(1, "a@rest.localhost"))
        .await
        .unwrap();
    let second = s
        .outbox_push(&outbox_entry(2, "a@rest.localhost"))
        .await
        .unwrap();
    s.outbox_bury(first, 9000, None, "connection refused")
        .await
        .unwrap();
    // The dead letter no longer holds up its destination.
    let heads = s.outbox_heads(10).await.unwrap();
    assert_eq!(heads.iter().map(|h| h.id).collect::<Vec<_>>(), vec![second]);
    let dead = s.outbox_dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].delivery_id, "d1");
    assert_eq!(dead[0].dead_at, Some(9000));
    assert_eq!(dead[0].attempts, 1);
    let depth = s.outbox_depth().await.unwrap();
    assert_eq!(
        depth,
        vec![OutboxDepth {
            owner: "rest.localhost".into(),
            pending: 1,
            dead: 1
        }]
    );

    assert!(!s.outbox_redrive("d2", 10_000).await.unwrap(), "not dead");
    assert!(!s.outbox_redrive("nope", 10_000).await.unwrap());
    assert!(s.outbox_redrive("d1", 10_000).await.unwrap());
    assert!(s.outbox_dead_letters(10).await.unwrap().is_empty());
    let heads = s.outbox_heads(10).await.unwrap();
    assert_eq!(
        heads[0].id, first,
        "a redriven letter is first in its line again"
    );
    assert_eq!(heads[0].attempts, 0);
    assert_eq!(heads[0].created_at, 10_000);
}

pub async fn webhook_secrets_are_created_once(s: &dyn Store) {
    assert_eq!(
        s.webhook_secret("rest.localhost", "one").await.unwrap(),
        "one"
    );
    assert_eq!(
        s.webhook_secret("rest.localhost", "two").await.unwrap(),
        "one"
    );
    assert_eq!(
        s.webhook_secret("bot@localhost", "three").await.unwrap(),
        "three"
    );
}

pub async fn webhook_users_follow_their_account(s: &dyn Store) {
    let mut row = UserCallbackRow {
        username: "bot".into(),
        url: "http://127.0.0.1:1/hook".into(),
        content_type: None,
        stanzas: Some(vec!["message".into()]),
        events: None,
        secret: Some("k".into()),
    };
    assert!(matches!(
        s.webhook_user_set(&row).await,
        Err(StoreError::NoSuchUser)
    ));
    s.create_user("bot", &creds()).await.unwrap();
    s.webhook_user_set(&row).await.unwrap();
    row.url = "http://127.0.0.1:2/hook".into();
    row.content_type = Some("application/json".into());
    s.webhook_user_set(&row).await.unwrap();
    assert_eq!(s.webhook_users().await.unwrap(), vec![row]);
    assert!(s.webhook_user_delete("bot").await.unwrap());
    assert!(!s.webhook_user_delete("bot").await.unwrap());
    s.webhook_user_set(&UserCallbackRow {
        username: "bot".into(),
        url: "http://127.0.0.1:3/".into(),
        content_type: None,
        stanzas: None,
        events: None,
        secret: None,
    })
    .await
    .unwrap();
    s.delete_user("bot").await.unwrap();
    assert!(s.webhook_users().await.unwrap().is_empty());
}

fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(1_700_000_000_000_000 + micros).unwrap()
}

/// Message `id` archived for `owner` at `micros` (past a fixed epoch), exchanged with `with`.
pub fn archived(owner: &str, id: &str, micros: i64, with: &str) -> NewArchived {
    let bare = with.split('/').next().unwrap().to_owned();
    NewArchived {
        owner: owner.into(),
        id: id.into(),
        at: at(micros),
        with_bare: bare,
        with_full: with.into(),
        stanza: format!("<message xmlns='jabber:client'><body>{id}</body></message>"),
    }
}

fn ids(page: &Page) -> Vec<&str> {
    page.messages.iter().map(|m| m.id.as_str()).collect()
}

fn request(from: Position, max: usize) -> PageRequest {
    PageRequest {
        from,
        max,
        count_limit: 100,
    }
}

async fn page(s: &dyn Store, criteria: &Criteria, from: Position, max: usize) -> Page {
    s.archive_page("alice", criteria, &request(from, max))
        .await
        .unwrap()
}

/// Ten messages, m3 and m4 and m5 at the same microsecond: archive order is arrival order.
async fn ten_messages(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    let times = [0, 10, 20, 30, 30, 30, 40, 50, 60, 70];
    let entries: Vec<NewArchived> = times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let with = if i % 2 == 0 {
                "bob@localhost/phone"
            } else {
                "carol@localhost"
            };
            archived("alice", &format!("m{i}"), *t, with)
        })
        .collect();
    s.archive_append(&entries[..5]).await.unwrap();
    s.archive_append(&entries[5..]).await.unwrap();
}

pub async fn archive_pages_forward_and_backward(s: &dyn Store) {
    ten_messages(s).await;
    let all = Criteria::default();
    let first = page(s, &all, Position::Oldest, 4).await;
    assert_eq!(ids(&first), ["m0", "m1", "m2", "m3"]);
    assert_eq!(
        (first.complete, first.count, first.first_index),
        (false, Some(10), Some(0))
    );
    assert_eq!(first.messages[1].at, at(10));
    assert_eq!(first.messages[0].with_full, "bob@localhost/phone");
    assert_eq!(
        first.messages[0].stanza,
        "<message xmlns='jabber:client'><body>m0</body></message>"
    );
    // Paging on from the last id of a page crosses the tie without skipping or repeating.
    let second = page(s, &all, Position::After("m3".into()), 4).await;
    assert_eq!(ids(&second), ["m4", "m5", "m6", "m7"]);
    assert_eq!((second.complete, second.first_index), (false, Some(4)));
    let third = page(s, &all, Position::After("m7".into()), 4).await;
    assert_eq!(ids(&third), ["m8", "m9"]);
    assert!(third.complete);

    let last = page(s, &all, Position::Newest, 4).await;
    assert_eq!(ids(&last), ["m6", "m7", "m8", "m9"]);
    assert_eq!((last.complete, last.first_index), (false, Some(6)));
    let before = page(s, &all, Position::Before("m6".into()), 4).await;
    assert_eq!(ids(&before), ["m2", "m3", "m4", "m5"]);
    assert_eq!((before.complete, before.first_index), (false, Some(2)));
    let oldest = page(s, &all, Position::Before("m2".into()), 4).await;
    assert_eq!(ids(&oldest), ["m0", "m1"]);
    assert!(oldest.complete);

    let whole = page(s, &all, Position::Oldest, 10).await;
    assert!(whole.complete, "a page holding the rest is complete");
    let none = page(s, &all, Position::Oldest, 0).await;
    assert!(none.messages.is_empty() && !none.complete);
    assert_eq!((none.count, none.first_index), (Some(10), None));
    // Counting stops at the limit: beyond it the count, and positions past it, are unknown.
    let all = &all;
    let limited = |from: Position, count_limit: u64| {
        let request = PageRequest {
            from,
            max: 2,
            count_limit,
        };
        async move { s.archive_page("alice", all, &request).await.unwrap() }
    };
    let p = limited(Position::Newest, 0).await;
    assert_eq!(
        (ids(&p), p.count, p.first_index),
        (vec!["m8", "m9"], None, None)
    );
    let p = limited(Position::Oldest, 0).await;
    assert_eq!(
        (p.count, p.first_index),
        (None, Some(0)),
        "the start is index 0"
    );
    let p = limited(Position::Newest, 9).await;
    assert_eq!(
        (p.count, p.first_index),
        (None, Some(8)),
        "8 precede: counted"
    );
    let p = limited(Position::Newest, 7).await;
    assert_eq!((p.count, p.first_index), (None, None));
    let p = limited(Position::Newest, 10).await;
    assert_eq!((p.count, p.first_index), (Some(10), Some(8)));
    let p = limited(Position::After("m3".into()), 4).await;
    assert_eq!((p.count, p.first_index), (None, Some(4)));
    let p = limited(Position::After("m3".into()), 3).await;
    assert_eq!((ids(&p), p.first_index), (vec!["m4", "m5"], None));
    let empty = s
        .archive_page("nobody", all, &request(Position::Newest, 5))
        .await
        .unwrap();
    assert_eq!(
        (empty.messages.len(), empty.complete, empty.count),
        (0, true, Some(0))
    );
}

pub async fn archive_filters(s: &dyn Store) {
    ten_messages(s).await;
    let filtered = |criteria: Criteria| async move {
        ids(&page(s, &criteria, Position::Oldest, 20).await).join(",")
    };
    let bob = Criteria {
        with: Some(With::Bare("bob@localhost".into())),
        ..Criteria::default()
    };
    assert_eq!(filtered(bob.clone()).await, "m0,m2,m4,m6,m8");
    let full = Criteria {
        with: Some(With::Full {
            bare: "bob@localhost".into(),
            full: "bob@localhost/phone".into(),
        }),
        ..Criteria::default()
    };
    assert_eq!(filtered(full).await, "m0,m2,m4,m6,m8");
    let other_resource = Criteria {
        with: Some(With::Full {
            bare: "bob@localhost".into(),
            full: "bob@localhost/desk".into(),
        }),
        ..Criteria::default()
    };
    assert_eq!(filtered(other_resource).await, "");
    let window = Criteria {
        start: Some(at(20)),
        end: Some(at(40)),
        ..Criteria::default()
    };
    assert_eq!(filtered(window).await, "m2,m3,m4,m5,m6");
    let between = Criteria {
        after_id: Some("m3".into()),
        before_id: Some("m8".into()),
        ..bob.clone()
    };
    assert_eq!(filtered(between.clone()).await, "m4,m6");
    // The counts and positions are those of the filtered set.
    let p = page(s, &between, Position::After("m4".into()), 5).await;
    assert_eq!(
        (ids(&p), p.count, p.first_index),
        (vec!["m6"], Some(2), Some(1))
    );
    let chosen = Criteria {
        ids: vec!["m9".into(), "m1".into()],
        ..Criteria::default()
    };
    assert_eq!(filtered(chosen).await, "m1,m9");

    let unknown = |criteria: Criteria, from: Position| async move {
        match s.archive_page("alice", &criteria, &request(from, 5)).await {
            Err(QueryError::UnknownId(id)) => id,
            other => panic!("expected an unknown id, got {other:?}"),
        }
    };
    let missing = Criteria {
        ids: vec!["m1".into(), "zz".into()],
        ..Criteria::default()
    };
    assert_eq!(unknown(missing, Position::Oldest).await, "zz");
    let after = Criteria {
        after_id: Some("nope".into()),
        ..Criteria::default()
    };
    assert_eq!(unknown(after, Position::Oldest).await, "nope");
    assert_eq!(
        unknown(Criteria::default(), Position::Before("gone".into())).await,
        "gone"
    );
    // Ids are per archive: bob's archive does not know alice's.
    s.create_user("bob", &creds()).await.unwrap();
    let foreign = s
        .archive_page(
            "bob",
            &Criteria::default(),
            &request(Position::After("m1".into()), 5),
        )
        .await;
    assert!(matches!(foreign, Err(QueryError::UnknownId(_))));
}

pub async fn archive_follows_its_account(s: &dyn Store) {
    ten_messages(s).await;
    // Entries of an account that does not exist are skipped, not an error for the batch.
    s.archive_append(&[
        archived("ghost", "g1", 0, "bob@localhost"),
        archived("alice", "m10", 80, "bob@localhost"),
    ])
    .await
    .unwrap();
    assert_eq!(
        page(s, &Criteria::default(), Position::Newest, 1)
            .await
            .count,
        Some(11)
    );
    assert_eq!(s.archive_total().await.unwrap(), 11);
    s.set_archive_prefs(
        "alice",
        &StoredPrefs {
            default: "never".into(),
            always: vec![],
            never: vec![],
        },
    )
    .await
    .unwrap();
    assert!(s.delete_user("alice").await.unwrap());
    s.create_user("alice", &creds()).await.unwrap();
    assert_eq!(
        page(s, &Criteria::default(), Position::Newest, 5)
            .await
            .count,
        Some(0)
    );
    assert_eq!(s.archive_prefs("alice").await.unwrap(), None);
    assert_eq!(s.archive_total().await.unwrap(), 0);
}

pub async fn archive_purge_takes_the_oldest(s: &dyn Store) {
    ten_messages(s).await;
    assert_eq!(s.archive_purge(at(35), 2).await.unwrap(), 2);
    let rest = page(s, &Criteria::default(), Position::Oldest, 20).await;
    assert_eq!(ids(&rest), ["m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"]);
    assert_eq!(s.archive_purge(at(35), 100).await.unwrap(), 4);
    assert_eq!(s.archive_purge(at(35), 100).await.unwrap(), 0);
    let rest = page(s, &Criteria::default(), Position::Oldest, 20).await;
    assert_eq!(ids(&rest), ["m6", "m7", "m8", "m9"]);
}

pub async fn archive_prefs_round_trip(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    assert_eq!(s.archive_prefs("alice").await.unwrap(), None);
    let mut prefs = StoredPrefs {
        default: "roster".into(),
        always: vec!["bob@localhost".into()],
        never: vec!["carol@localhost/phone".into(), "dave@localhost".into()],
    };
    s.set_archive_prefs("alice", &prefs).await.unwrap();
    prefs.always.clear();
    prefs.default = "never".into();
    s.set_archive_prefs("alice", &prefs).await.unwrap();
    assert_eq!(s.archive_prefs("alice").await.unwrap(), Some(prefs.clone()));
    assert!(matches!(
        s.set_archive_prefs("ghost", &prefs).await,
        Err(StoreError::NoSuchUser)
    ));
}

pub fn upload(id: &str, user: &str, size: u64, at: i64) -> Upload {
    Upload {
        id: id.into(),
        user: user.into(),
        filename: format!("{id}.bin"),
        size,
        content_type: "application/octet-stream".into(),
        created_at: at,
        slot_expires_at: at + 100,
        completed_at: None,
    }
}

pub async fn upload_slots_count_against_the_quota(s: &dyn Store) {
    assert!(
        s.reserve_upload(&upload("a", "alice", 60, 1000), 100)
            .await
            .unwrap()
    );
    // The open slot counts: 60 + 50 is over 100; another user has a quota of their own.
    assert!(
        !s.reserve_upload(&upload("b", "alice", 50, 1010), 100)
            .await
            .unwrap()
    );
    assert!(
        s.reserve_upload(&upload("c", "bob", 50, 1010), 100)
            .await
            .unwrap()
    );
    assert!(s.upload("b").await.unwrap().is_none());
    assert!(s.complete_upload("a", 1050).await.unwrap());
    assert!(!s.complete_upload("a", 1060).await.unwrap());
    assert!(!s.complete_upload("nope", 1060).await.unwrap());
    let stored = s.upload("a").await.unwrap().unwrap();
    assert_eq!(stored.completed_at, Some(1050));
    assert_eq!((stored.size, stored.user.as_str()), (60, "alice"));
    // Bob's slot closes unused at 1110: from then on it no longer counts, and it is stale.
    assert!(
        !s.reserve_upload(&upload("d", "bob", 60, 1100), 100)
            .await
            .unwrap()
    );
    assert!(
        s.reserve_upload(&upload("d", "bob", 60, 1110), 100)
            .await
            .unwrap()
    );
    assert_eq!(s.stale_uploads(None, 1110, 10).await.unwrap(), vec!["c"]);
    // Completed files go by age only when asked.
    assert_eq!(
        s.stale_uploads(Some(1051), 1110, 10).await.unwrap(),
        vec!["a", "c"]
    );
    assert_eq!(
        s.stale_uploads(Some(1051), 1110, 1).await.unwrap(),
        vec!["a"]
    );
    s.delete_upload("a").await.unwrap();
    s.delete_upload("c").await.unwrap();
    assert!(s.upload("a").await.unwrap().is_none());
    assert!(
        s.reserve_upload(&upload("e", "alice", 100, 1200), 100)
            .await
            .unwrap()
    );
}

pub async fn push_registrations_per_service_and_node(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    let reg = |service: &str, node: &str, options: Option<&str>| PushRegistration {
        service: service.into(),
        node: node.into(),
        options: options.map(str::to_owned),
    };
    s.push_enable("alice", &reg("push.example", "n1", None))
        .await
        .unwrap();
    s.push_enable("alice", &reg("push.example", "n1", Some("<x/>")))
        .await
        .unwrap();
    s.push_enable("alice", &reg("push.example", "n2", None))
        .await
        .unwrap();
    s.push_enable("alice", &reg("other.example", "n", None))
        .await
        .unwrap();
    assert_eq!(
        s.push_registrations("alice").await.unwrap(),
        vec![
            reg("other.example", "n", None),
            reg("push.example", "n1", Some("<x/>")),
            reg("push.example", "n2", None),
        ]
    );
    s.push_disable("alice", "push.example", Some("n1"))
        .await
        .unwrap();
    assert_eq!(s.push_registrations("alice").await.unwrap().len(), 2);
    s.push_disable("alice", "push.example", None).await.unwrap();
    assert_eq!(
        s.push_registrations("alice").await.unwrap(),
        vec![reg("other.example", "n", None)]
    );
    assert!(matches!(
        s.push_enable("ghost", &reg("p", "n", None)).await,
        Err(StoreError::NoSuchUser)
    ));
    s.delete_user("alice").await.unwrap();
    assert!(s.push_registrations("alice").await.unwrap().is_empty());
}

/// Persistent rooms are stored whole and replaced; a room's archive pages like an account's,
/// keeps to its room, and goes with it.
pub async fn muc_rooms_and_archives(s: &dyn Store) {
    use crate::storage::muc::StoredRoom;
    let room = |name: &str, state: &str| StoredRoom {
        name: name.into(),
        state: state.into(),
    };
    s.muc_save_room(&room("lobby", "{}")).await.unwrap();
    s.muc_save_room(&room("attic", "{}")).await.unwrap();
    s.muc_save_room(&room("lobby", "{\"v\":2}")).await.unwrap();
    assert_eq!(
        s.muc_rooms().await.unwrap(),
        [room("attic", "{}"), room("lobby", "{\"v\":2}")]
    );
    // No account needed: rooms own their archives.
    let entries: Vec<NewArchived> = (0..5)
        .map(|i| archived("lobby", &format!("r{i}"), i * 10, "alice@localhost"))
        .chain([archived("attic", "a0", 5, "bob@localhost")])
        .collect();
    s.muc_archive_append(&entries).await.unwrap();
    let all = Criteria::default();
    let newest = s
        .muc_archive_page("lobby", &all, &request(Position::Newest, 2))
        .await
        .unwrap();
    assert_eq!(ids(&newest), ["r3", "r4"]);
    assert!(!newest.complete);
    let after = s
        .muc_archive_page("lobby", &all, &request(Position::After("r3".into()), 10))
        .await
        .unwrap();
    assert_eq!(ids(&after), ["r4"]);
    assert!(matches!(
        s.muc_archive_page("lobby", &all, &request(Position::After("a0".into()), 10))
            .await,
        Err(QueryError::UnknownId(_))
    ));
    s.muc_delete_room("lobby").await.unwrap();
    assert_eq!(s.muc_rooms().await.unwrap(), [room("attic", "{}")]);
    let gone = s
        .muc_archive_page("lobby", &all, &request(Position::Oldest, 10))
        .await
        .unwrap();
    assert!(gone.messages.is_empty());
    let kept = s
        .muc_archive_page("attic", &all, &request(Position::Oldest, 10))
        .await
        .unwrap();
    assert_eq!(ids(&kept), ["a0"]);
    assert_eq!(
        s.archive_total().await.unwrap(),
        0,
        "account archives untouched"
    );
    // Retention across rooms' archives: the oldest first, within the limit.
    s.muc_archive_append(&[
        archived("attic", "a1", 10, "bob@localhost"),
        archived("attic", "a2", 50, "bob@localhost"),
    ])
    .await
    .unwrap();
    assert_eq!(s.muc_archive_purge(at(20), 1).await.unwrap(), 1);
    assert_eq!(s.muc_archive_purge(at(20), 10).await.unwrap(), 1);
    let left = s
        .muc_archive_page("attic", &all, &request(Position::Oldest, 10))
        .await
        .unwrap();
    assert_eq!(ids(&left), ["a2"]);
}

/// One `#[tokio::test]` per suite function, each on a fresh store from `$open`.
#[macro_export]
macro_rules! store_suite {
    ($open:expr) => {
        #[tokio::test]
        async fn pep_nodes_and_items() {
            $crate::storage::suite::pep_nodes_and_items(&$open).await;
        }
        #[tokio::test]
        async fn personal_data_follows_its_account() {
            $crate::storage::suite::personal_data_follows_its_account(&$open).await;
        }
        #[tokio::test]
        async fn passwordless_accounts_exist_without_keys() {
            $crate::storage::suite::passwordless_accounts_exist_without_keys(&$open).await;
        }
        #[tokio::test]
        async fn imported_accounts_are_whole_or_absent() {
            $crate::storage::suite::imported_accounts_are_whole_or_absent(&$open).await;
        }
        #[tokio::test]
        async fn users_lifecycle() {
            $crate::storage::suite::users_lifecycle(&$open).await;
        }
        #[tokio::test]
        async fn tokens_follow_their_user() {
            $crate::storage::suite::tokens_follow_their_user(&$open).await;
        }
        #[tokio::test]
        async fn credential_changes_move_the_version() {
            $crate::storage::suite::credential_changes_move_the_version(&$open).await;
        }
        #[tokio::test]
        async fn roster_set_update_remove() {
            $crate::storage::suite::roster_set_update_remove(&$open).await;
        }
        #[tokio::test]
        async fn roster_versions_and_split_ownership() {
            $crate::storage::suite::roster_versions_and_split_ownership(&$open).await;
        }
        #[tokio::test]
        async fn subscription_requests_are_kept_until_answered() {
            $crate::storage::suite::subscription_requests_are_kept_until_answered(&$open).await;
        }
        #[tokio::test]
        async fn offline_messages_keep_order() {
            $crate::storage::suite::offline_messages_keep_order(&$open).await;
        }
        #[tokio::test]
        async fn blocklist_block_unblock() {
            $crate::storage::suite::blocklist_block_unblock(&$open).await;
        }
        #[tokio::test]
        async fn offline_quotas_count_messages_and_bytes() {
            $crate::storage::suite::offline_quotas_count_messages_and_bytes(&$open).await;
        }
        #[tokio::test]
        async fn offline_claims_admit_one_holder() {
            $crate::storage::suite::offline_claims_admit_one_holder(&$open).await;
        }
        #[tokio::test]
        async fn account_deletion_removes_im_state() {
            $crate::storage::suite::account_deletion_removes_im_state(&$open).await;
        }
        #[tokio::test]
        async fn outbox_heads_are_per_destination_in_order() {
            $crate::storage::suite::outbox_heads_are_per_destination_in_order(&$open).await;
        }
        #[tokio::test]
        async fn outbox_dead_letters_and_redrive() {
            $crate::storage::suite::outbox_dead_letters_and_redrive(&$open).await;
        }
        #[tokio::test]
        async fn webhook_secrets_are_created_once() {
            $crate::storage::suite::webhook_secrets_are_created_once(&$open).await;
        }
        #[tokio::test]
        async fn webhook_users_follow_their_account() {
            $crate::storage::suite::webhook_users_follow_their_account(&$open).await;
        }
        #[tokio::test]
        async fn archive_pages_forward_and_backward() {
            $crate::storage::suite::archive_pages_forward_and_backward(&$open).await;
        }
        #[tokio::test]
        async fn archive_filters() {
            $crate::storage::suite::archive_filters(&$open).await;
        }
        #[tokio::test]
        async fn archive_follows_its_account() {
            $crate::storage::suite::archive_follows_its_account(&$open).await;
        }
        #[tokio::test]
        async fn archive_purge_takes_the_oldest() {
            $crate::storage::suite::archive_purge_takes_the_oldest(&$open).await;
        }
        #[tokio::test]
        async fn upload_slots_count_against_the_quota() {
            $crate::storage::suite::upload_slots_count_against_the_quota(&$open).await;
        }
        #[tokio::test]
        async fn push_registrations_per_service_and_node() {
            $crate::storage::suite::push_registrations_per_service_and_node(&$open).await;
        }
        #[tokio::test]
        async fn archive_prefs_round_trip() {
            $crate::storage::suite::archive_prefs_round_trip(&$open).await;
        }
        #[tokio::test]
        async fn muc_rooms_and_archives() {
            $crate::storage::suite::muc_rooms_and_archives(&$open).await;
        }
    };
}
