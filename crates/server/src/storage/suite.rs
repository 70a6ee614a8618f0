//! The storage test suite, written against the [`Store`] trait so that every backend runs the
//! same tests: a backend instantiates [`store_suite!`] with an expression that opens a store.

use crate::storage::{NewOutboxEntry, OutboxDepth, RosterItem, Store, StoreError, UserCallbackRow};
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
    assert_eq!(s.roster("alice").await.unwrap(), vec![item]);
    assert!(s.roster_remove("alice", "bob@localhost").await.unwrap());
    assert!(s.roster("alice").await.unwrap().is_empty());
}

pub async fn offline_messages_keep_order(s: &dyn Store) {
    s.create_user("alice", &creds()).await.unwrap();
    s.offline_push("alice", "<message>1</message>")
        .await
        .unwrap();
    s.offline_push("alice", "<message>2</message>")
        .await
        .unwrap();
    let list = s.offline_list("alice").await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(list[0].id < list[1].id);
    assert_eq!(list[0].stanza, "<message>1</message>");
    s.offline_delete("alice", &[list[0].id]).await.unwrap();
    assert_eq!(s.offline_list("alice").await.unwrap().len(), 1);
    assert!(matches!(
        s.offline_push("ghost", "<message/>").await,
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
        async fn roster_set_update_remove() {
            $crate::storage::suite::roster_set_update_remove(&$open).await;
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
