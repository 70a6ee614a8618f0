//! Whole-account imports in SQLite: one transaction per account.

use async_trait::async_trait;

use super::accounts::bind_keys;
use super::{SqliteStore, is_unique_violation, now, now_ms};
use crate::storage::error::StoreError;
use crate::storage::portable::{PortableAccount, PortableStore};

#[async_trait]
impl PortableStore for SqliteStore {
    async fn import_account(
        &self,
        account: &PortableAccount,
        replace: bool,
    ) -> Result<(), StoreError> {
        let user = account.user.as_str();
        let mut tx = self.pool.begin().await?;
        if replace {
            // ON DELETE CASCADE takes the roster, tokens, requests, offline messages, …
            sqlx::query("DELETE FROM users WHERE username = ?")
                .bind(user)
                .execute(&mut *tx)
                .await?;
        }
        let query = sqlx::query(
            "INSERT INTO users (username, sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,
                sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user);
        match bind_keys(query, &account.credentials)
            .bind(now())
            .execute(&mut *tx)
            .await
        {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict),
            Err(e) => return Err(e.into()),
        }
        for item in &account.roster {
            let groups = serde_json::to_string(&item.groups)
                .map_err(|e| StoreError::Corrupt(format!("roster groups: {e}")))?;
            sqlx::query(
                "INSERT INTO roster_items (username, jid, name, subscription, ask, groups)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(user)
            .bind(&item.jid)
            .bind(&item.name)
            .bind(&item.subscription)
            .bind(&item.ask)
            .bind(groups)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("INSERT INTO roster_versions (username, version) VALUES (?, ?)")
            .bind(user)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        for (jid, stanza) in &account.requests {
            sqlx::query(
                "INSERT INTO subscription_requests (username, jid, stanza, received_at)
                 VALUES (?, ?, ?, ?)",
            )
            .bind(user)
            .bind(jid)
            .bind(stanza)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        for (stanza, stored_at) in &account.offline {
            sqlx::query(
                "INSERT INTO offline_messages (username, stanza, stored_at, bytes) VALUES (?, ?, ?, ?)",
            )
            .bind(user)
            .bind(stanza)
            .bind(stored_at.to_rfc3339())
            .bind(i64::try_from(stanza.len()).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        }
        if let Some(vcard) = &account.vcard {
            sqlx::query("INSERT INTO vcards (username, vcard) VALUES (?, ?)")
                .bind(user)
                .bind(vcard)
                .execute(&mut *tx)
                .await?;
        }
        for (namespace, payload) in &account.private {
            sqlx::query("INSERT INTO private_xml (username, namespace, payload) VALUES (?, ?, ?)")
                .bind(user)
                .bind(namespace)
                .bind(payload)
                .execute(&mut *tx)
                .await?;
        }
        for (node, items) in &account.pep {
            let config = &node.config;
            sqlx::query(
                "INSERT INTO pep_nodes (username, node, access_model, persist_items, max_items,
                 send_last) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(user)
            .bind(&node.node)
            .bind(config.access_model.as_str())
            .bind(config.persist_items)
            .bind(i64::from(config.max_items))
            .bind(config.send_last.as_str())
            .execute(&mut *tx)
            .await?;
            for (seq, item) in (1_i64..).zip(items) {
                sqlx::query(
                    "INSERT INTO pep_items (username, node, item_id, seq, payload)
                     VALUES (?, ?, ?, ?, ?)",
                )
                .bind(user)
                .bind(&node.node)
                .bind(&item.id)
                .bind(seq)
                .bind(&item.payload)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
