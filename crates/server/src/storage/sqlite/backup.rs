//! Online copies of the database (`VACUUM INTO`, a consistent snapshot while others write) and
//! the checks a copy passes before it may replace the live database.

use std::path::Path;

use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::{MIGRATOR, SqliteStore};
use crate::storage::error::StoreError;

/// The schema a database file carries: the migrations applied to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    /// The highest migration applied, 0 for none.
    pub version: i64,
    /// Accounts in the file.
    pub accounts: i64,
}

/// The highest migration this build knows.
pub fn known_schema() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

impl SqliteStore {
    /// Writes a consistent snapshot of the database to `dest`, which must not exist. Readers
    /// and writers carry on meanwhile (WAL): the copy is the state at one instant.
    pub async fn backup_into(&self, dest: &Path) -> Result<(), StoreError> {
        let dest = dest
            .to_str()
            .ok_or_else(|| StoreError::Corrupt(format!("{} is not UTF-8", dest.display())))?;
        sqlx::query("VACUUM INTO ?")
            .bind(dest)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Opens `file` read-only and checks that it is an intact Switchboard database whose
/// migrations this build knows (same name and checksum for each applied version).
pub async fn inspect(file: &Path) -> Result<Schema, StoreError> {
    let options = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .create_if_missing(false);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let mut conn = pool.acquire().await?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut *conn)
        .await?;
    if check != "ok" {
        return Err(StoreError::Corrupt(format!(
            "integrity check failed: {check}"
        )));
    }
    let has_migrations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut *conn)
    .await?;
    if has_migrations == 0 {
        return Err(StoreError::Corrupt(
            "not a Switchboard database (no migration table)".into(),
        ));
    }
    let applied = sqlx::query("SELECT version, checksum FROM _sqlx_migrations WHERE success")
        .fetch_all(&mut *conn)
        .await?;
    let mut version = 0;
    for row in applied {
        let (v, checksum): (i64, Vec<u8>) = (row.try_get(0)?, row.try_get(1)?);
        match MIGRATOR.iter().find(|m| m.version == v) {
            None => {
                return Err(StoreError::Corrupt(format!(
                    "schema version {v} is unknown to this build (it knows up to {}): the \
                     file was written by a newer Switchboard",
                    known_schema()
                )));
            }
            Some(m) if *m.checksum != *checksum => {
                return Err(StoreError::Corrupt(format!(
                    "schema version {v} ({}) differs from this build's",
                    m.description
                )));
            }
            Some(_) => version = version.max(v),
        }
    }
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *conn)
        .await?;
    conn.close().await?;
    pool.close().await;
    Ok(Schema { version, accounts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::AccountStore;
    use crate::storage::suite::creds;
    use sqlx::Connection;

    #[tokio::test]
    async fn a_snapshot_passes_inspection_and_a_newer_schema_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        store.create_user("alice", &creds()).await.unwrap();
        let copy = dir.path().join("copy.db");
        store.backup_into(&copy).await.unwrap();
        assert!(store.backup_into(&copy).await.is_err(), "never overwrites");
        assert_eq!(
            inspect(&copy).await.unwrap(),
            Schema {
                version: known_schema(),
                accounts: 1
            }
        );

        let options = SqliteConnectOptions::new().filename(&copy);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (9999, 'future', 1, x'00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        let refused = inspect(&copy).await.unwrap_err().to_string();
        assert!(
            refused.contains("schema version 9999 is unknown"),
            "{refused}"
        );

        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, b"not a database at all, just some text").unwrap();
        assert!(inspect(&garbage).await.is_err());
    }
}
