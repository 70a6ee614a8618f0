//! Accounts, SCRAM credentials and bearer tokens, in SQLite.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, is_unique_violation, now};
use crate::storage::accounts::{AccountStore, ScramCoverage, TokenGrant, TokenScope};
use crate::storage::error::StoreError;
use switchboard_xmpp::sasl::{ScramHash, ScramKeys, StoredCredentials};

/// A key set an imported account lacks is stored as an iteration count of 0 with empty salt
/// and keys (the columns are `NOT NULL`); no real key set has 0 iterations.
static ABSENT: ScramKeys = ScramKeys {
    salt: Vec::new(),
    iterations: 0,
    stored_key: Vec::new(),
    server_key: Vec::new(),
};

fn keys_from_row(row: &SqliteRow, prefix: &str) -> Result<Option<ScramKeys>, StoreError> {
    let iterations: i64 = row.try_get(format!("{prefix}_iterations").as_str())?;
    if iterations == 0 {
        return Ok(None);
    }
    Ok(Some(ScramKeys {
        salt: row.try_get(format!("{prefix}_salt").as_str())?,
        iterations: u32::try_from(iterations)
            .map_err(|_| StoreError::Corrupt(format!("{prefix}_iterations out of range")))?,
        stored_key: row.try_get(format!("{prefix}_stored_key").as_str())?,
        server_key: row.try_get(format!("{prefix}_server_key").as_str())?,
    }))
}

pub(super) type SqliteQuery<'q> =
    sqlx::query::Query<'q, sqlx::Sqlite, <sqlx::Sqlite as sqlx::Database>::Arguments>;

/// Binds both SCRAM key sets in the column order `users` declares them.
pub(super) fn bind_keys<'q>(
    query: SqliteQuery<'q>,
    creds: &'q StoredCredentials,
) -> SqliteQuery<'q> {
    let sha1 = creds.for_hash(ScramHash::Sha1).unwrap_or(&ABSENT);
    let sha256 = creds.for_hash(ScramHash::Sha256).unwrap_or(&ABSENT);
    query
        .bind(&sha1.salt)
        .bind(i64::from(sha1.iterations))
        .bind(&sha1.stored_key)
        .bind(&sha1.server_key)
        .bind(&sha256.salt)
        .bind(i64::from(sha256.iterations))
        .bind(&sha256.stored_key)
        .bind(&sha256.server_key)
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_user(&self, user: &str, creds: &StoredCredentials) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO users (username, sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,
                sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key, created_at,
                passwordless)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user);
        let result = bind_keys(query, creds)
            .bind(now())
            .bind(creds.is_passwordless())
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_user(&self, user: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM users WHERE username = ?")
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_users(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT username FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get("username").map_err(StoreError::from))
            .collect()
    }

    async fn credentials(&self, user: &str) -> Result<Option<StoredCredentials>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE username = ?")
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            if row.try_get::<bool, _>("passwordless")? {
                return Ok(StoredCredentials::passwordless());
            }
            StoredCredentials::from_keys(
                keys_from_row(&row, "sha1")?,
                keys_from_row(&row, "sha256")?,
            )
            .map_err(|e| StoreError::Corrupt(format!("credentials of {user}: {e}")))
        })
        .transpose()
    }

    async fn set_credentials(
        &self,
        user: &str,
        creds: &StoredCredentials,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query(
            "UPDATE users SET sha1_salt = ?, sha1_iterations = ?, sha1_stored_key = ?, sha1_server_key = ?,
                sha256_salt = ?, sha256_iterations = ?, sha256_stored_key = ?, sha256_server_key = ?,
                passwordless = ?
             WHERE username = ?",
        );
        let done = bind_keys(query, creds)
            .bind(creds.is_passwordless())
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_token(
        &self,
        user: &str,
        token_hash: &[u8],
        scope: TokenScope,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO tokens (token_hash, username, created_at, scope) VALUES (?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user)
        .bind(now())
        .bind(scope.as_str())
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                Err(StoreError::NoSuchUser)
            }
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    async fn revoke_token(&self, token_hash: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM tokens WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn token_owner(&self, token_hash: &[u8]) -> Result<Option<TokenGrant>, StoreError> {
        let row = sqlx::query("SELECT username, scope FROM tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let scope: String = row.try_get("scope")?;
        Ok(Some(TokenGrant {
            user: row.try_get("username")?,
            // The column only ever holds the names written above; anything else grants least.
            scope: TokenScope::parse(&scope).unwrap_or(TokenScope::User),
        }))
    }

    async fn credential_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT version FROM credential_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("version")?)
    }

    async fn scram_coverage(&self) -> Result<ScramCoverage, StoreError> {
        let row = sqlx::query(
            "SELECT NOT EXISTS (SELECT 1 FROM users WHERE sha1_iterations = 0 AND NOT passwordless) AS sha1,
                    NOT EXISTS (SELECT 1 FROM users WHERE sha256_iterations = 0 AND NOT passwordless) AS sha256",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(ScramCoverage {
            sha1: row.try_get("sha1")?,
            sha256: row.try_get("sha256")?,
        })
    }
}
