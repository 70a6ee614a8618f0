//! The storage test suite, written against the [`Store`] trait so that every backend runs the
//! same tests: a backend instantiates [`store_suite!`] with an expression that opens a store.

use crate::storage::{
    NewOutboxEntry, OfflineQuota, OfflineUsage, OutboxDepth, RosterItem, Store, StoreError,
    UserCallbackRow,
};
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

pub async fn tokens_follow_their_user(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    s.create_token("alice", b"hash1").await.unwrap();
    assert_eq!(
        s.token_owner(b"hash1").await.unwrap().as_deref(),
        Some("alice")
    );
    assert!(matches!(
        s.create_token("nobody", b"hash2").await,
        Err(StoreError::NoSuchUser)
    ));
    assert!(s.revoke_token(b"hash1").await.unwrap());
    assert_eq!(s.token_owner(b"hash1").await.unwrap(), None);
    s.create_token("alice", b"hash3").await.unwrap();
    s.delete_user("alice").await.unwrap();
    assert_eq!(s.token_owner(b"hash3").await.unwrap(), None);
}

pub async fn credential_changes_move_the_version(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    s.create_token("alice", b"hash1").await.unwrap();
    let mut seen = s.credential_version().await.unwrap();
    let mut moved = |now: i64| {
        let changed = now != seen;
        seen = now;
        changed
    };
    s.create_token("alice", b"hash2").await.unwrap();
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

/// One `#[tokio::test]` per suite function, each on a fresh store from `$open`.
#[macro_export]
macro_rules! store_suite {
    ($open:expr) => {
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
    };
}
