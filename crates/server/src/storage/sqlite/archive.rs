//! Message archives and archiving preferences, in SQLite: keyset paging on (ts, seq) so that
//! every page is one index range, whatever its depth in the archive.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::{SqliteStore, limit};
use crate::storage::archive::{
    ArchiveStore, Archived, Criteria, NewArchived, Page, PageRequest, Position, QueryError,
    StoredPrefs, With,
};
use crate::storage::error::StoreError;

/// A message's place in archive order.
type Key = (i64, i64);

/// An archive table: the accounts' archives, or the rooms' (group chat) archives, which share
/// the layout and every query.
#[derive(Clone, Copy)]
pub(super) struct Table {
    name: &'static str,
    /// The column naming whose archive a row is in.
    owner: &'static str,
    /// Rows whose owner is not in this list are skipped on append.
    owners: Option<&'static str>,
}

/// The accounts' archives (XEP-0313 on bare JIDs); owners are usernames.
pub(super) const ACCOUNTS: Table = Table {
    name: "archive",
    owner: "username",
    owners: Some("SELECT username FROM users"),
};

/// The rooms' archives (XEP-0313 on room JIDs); owners are room names.
pub(super) const ROOMS: Table = Table {
    name: "muc_archive",
    owner: "room",
    owners: None,
};

fn micros(at: &DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn from_micros(ts: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(ts)
        .ok_or_else(|| StoreError::Corrupt(format!("archive timestamp {ts} out of range")))
}

/// Where message `id` of `owner` stands in archive order.
async fn key_of(
    conn: &mut SqliteConnection,
    t: Table,
    owner: &str,
    id: &str,
) -> Result<Key, QueryError> {
    let mut q = QueryBuilder::<Sqlite>::new(format!(
        "SELECT ts, seq FROM {} WHERE {} = ",
        t.name, t.owner
    ));
    q.push_bind(owner.to_owned())
        .push(" AND id = ")
        .push_bind(id.to_owned());
    let row = q
        .build()
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::from)?;
    match row {
        Some(row) => Ok((
            row.try_get("ts").map_err(StoreError::from)?,
            row.try_get("seq").map_err(StoreError::from)?,
        )),
        None => Err(QueryError::UnknownId(id.to_owned())),
    }
}

/// The resolved bounds of a query, ids turned into keys.
struct Bounds<'a> {
    table: Table,
    owner: &'a str,
    criteria: &'a Criteria,
    after: Option<Key>,
    before: Option<Key>,
}

impl Bounds<'_> {
    /// `WHERE …` selecting the matching messages.
    fn push_where(&self, q: &mut QueryBuilder<Sqlite>) {
        if self.criteria.ids.is_empty() {
            q.push(format_args!(" WHERE {} = ", self.table.owner))
                .push_bind(self.owner.to_owned());
        } else {
            // Through the id index: a handful of rows, rather than the account's whole
            // archive in order.
            q.push(format_args!(
                " WHERE seq IN (SELECT seq FROM {} WHERE {} = ",
                self.table.name, self.table.owner
            ))
            .push_bind(self.owner.to_owned())
            .push(" AND id IN (");
            let mut ids = q.separated(", ");
            for id in &self.criteria.ids {
                ids.push_bind(id.clone());
            }
            q.push("))");
        }
        match &self.criteria.with {
            Some(With::Bare(bare)) => {
                q.push(" AND with_bare = ").push_bind(bare.clone());
            }
            Some(With::Full { bare, full }) => {
                q.push(" AND with_bare = ").push_bind(bare.clone());
                q.push(" AND with_full = ").push_bind(full.clone());
            }
            None => {}
        }
        if let Some(start) = &self.criteria.start {
            q.push(" AND ts >= ").push_bind(micros(start));
        }
        if let Some(end) = &self.criteria.end {
            q.push(" AND ts <= ").push_bind(micros(end));
        }
        if let Some(key) = self.after {
            push_key(q, ">", key);
        }
        if let Some(key) = self.before {
            push_key(q, "<", key);
        }
    }

    /// How many messages match (those before `below`, with it), unless more than `limit`:
    /// the scan stops there.
    async fn count(
        &self,
        conn: &mut SqliteConnection,
        below: Option<Key>,
        limit: u64,
    ) -> Result<Option<u64>, StoreError> {
        if limit == 0 {
            return Ok(None);
        }
        let mut q = QueryBuilder::new(format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {}",
            self.table.name
        ));
        self.push_where(&mut q);
        if let Some(key) = below {
            push_key(&mut q, "<", key);
        }
        let bound = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
        q.push(" LIMIT ").push_bind(bound).push(")");
        let n: i64 = q.build_query_scalar().fetch_one(&mut *conn).await?;
        let n = u64::try_from(n).unwrap_or_default();
        Ok((n <= limit).then_some(n))
    }
}

/// ` AND (ts, seq) op (?, ?)`: a row-value comparison, one range of the ordering indexes.
fn push_key(q: &mut QueryBuilder<Sqlite>, op: &str, (ts, seq): Key) {
    q.push(format_args!(" AND (ts, seq) {op} ("))
        .push_bind(ts)
        .push(", ")
        .push_bind(seq)
        .push(")");
}

fn archived(row: &SqliteRow) -> Result<(Archived, Key), StoreError> {
    let ts: i64 = row.try_get("ts")?;
    let message = Archived {
        id: row.try_get("id")?,
        at: from_micros(ts)?,
        with_bare: row.try_get("with_bare")?,
        with_full: row.try_get("with_full")?,
        stanza: row.try_get("stanza")?,
    };
    Ok((message, (ts, row.try_get("seq")?)))
}

/// Fails with the first of `ids` that `owner`'s archive does not hold.
async fn check_ids(
    conn: &mut SqliteConnection,
    t: Table,
    owner: &str,
    ids: &[String],
) -> Result<(), QueryError> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut q = QueryBuilder::new(format!("SELECT id FROM {} WHERE {} = ", t.name, t.owner));
    q.push_bind(owner.to_owned()).push(" AND id IN (");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id.clone());
    }
    q.push(")");
    let found: Vec<String> = q
        .build_query_scalar()
        .fetch_all(&mut *conn)
        .await
        .map_err(StoreError::from)?;
    match ids.iter().find(|id| !found.contains(id)) {
        Some(missing) => Err(QueryError::UnknownId(missing.clone())),
        None => Ok(()),
    }
}

/// Rows per `INSERT` at most: one statement carries many rows, since each statement is a round
/// trip to SQLite's thread.
const ROWS_PER_INSERT: usize = 64;

/// `entries` cut into statements of power-of-two sizes (64, 32, …, 1): at most seven distinct
/// statements whatever the batch, so that each stays in the connection's statement cache
/// instead of a remainder of any size from 1 to 63 being prepared afresh.
fn statement_chunks(entries: &[NewArchived]) -> impl Iterator<Item = &[NewArchived]> {
    let mut rest = entries;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = ROWS_PER_INSERT.min(1 << rest.len().ilog2());
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// Appends `rows` in one statement, skipping those whose owner's account is gone (deleted while
/// its messages waited in the writer's queue).
async fn insert_rows(
    conn: &mut SqliteConnection,
    t: Table,
    rows: &[NewArchived],
) -> Result<(), StoreError> {
    let mut q = QueryBuilder::<Sqlite>::new(format!(
        "INSERT INTO {} ({}, id, ts, with_bare, with_full, stanza) \
         SELECT column1, column2, column3, column4, column5, column6 FROM (",
        t.name, t.owner
    ));
    q.push_values(rows, |mut row, e| {
        row.push_bind(e.owner.as_str())
            .push_bind(e.id.as_str())
            .push_bind(micros(&e.at))
            .push_bind(e.with_bare.as_str())
            .push_bind(e.with_full.as_str())
            .push_bind(e.stanza.as_str());
    });
    q.push(")");
    if let Some(owners) = t.owners {
        q.push(format_args!(" WHERE column1 IN ({owners})"));
    }
    q.build().execute(&mut *conn).await?;
    Ok(())
}

impl SqliteStore {
    /// Appends `entries` to archive table `t`, in one transaction.
    pub(super) async fn append_to(
        &self,
        t: Table,
        entries: &[NewArchived],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for rows in statement_chunks(entries) {
            insert_rows(&mut tx, t, rows).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A page of `owner`'s messages in archive table `t`.
    pub(super) async fn page_of(
        &self,
        t: Table,
        owner: &str,
        criteria: &Criteria,
        page: &PageRequest,
    ) -> Result<Page, QueryError> {
        // One read transaction: the anchors, the page and the counts see the same archive.
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        let after = match &criteria.after_id {
            Some(id) => Some(key_of(&mut tx, t, owner, id).await?),
            None => None,
        };
        let before = match &criteria.before_id {
            Some(id) => Some(key_of(&mut tx, t, owner, id).await?),
            None => None,
        };
        check_ids(&mut tx, t, owner, &criteria.ids).await?;
        let anchor = match &page.from {
            Position::After(id) | Position::Before(id) => {
                Some(key_of(&mut tx, t, owner, id).await?)
            }
            Position::Oldest | Position::Newest => None,
        };
        let bounds = Bounds {
            table: t,
            owner,
            criteria,
            after,
            before,
        };
        let backward = matches!(page.from, Position::Newest | Position::Before(_));

        let mut q = QueryBuilder::new(format!(
            "SELECT seq, id, ts, with_bare, with_full, stanza FROM {}",
            t.name
        ));
        bounds.push_where(&mut q);
        if let Some(key) = anchor {
            push_key(&mut q, if backward { "<" } else { ">" }, key);
        }
        q.push(if backward {
            " ORDER BY ts DESC, seq DESC LIMIT "
        } else {
            " ORDER BY ts, seq LIMIT "
        });
        // One more than asked tells whether the page reaches the end.
        q.push_bind(limit(page.max).saturating_add(1));
        let rows = q
            .build()
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let mut found = rows.iter().map(archived).collect::<Result<Vec<_>, _>>()?;
        let complete = found.len() <= page.max;
        found.truncate(page.max);
        if backward {
            found.reverse();
        }

        let limit = page.count_limit;
        let count = bounds.count(&mut tx, None, limit).await?;
        let first_index = match (&page.from, found.first(), count) {
            (_, None, _) => None,
            (Position::Oldest, Some(_), _) => Some(0),
            (Position::Newest, Some(_), Some(total)) => {
                Some(total.saturating_sub(found.len() as u64))
            }
            (_, Some((_, first)), _) => bounds.count(&mut tx, Some(*first), limit).await?,
        };
        tx.rollback().await.map_err(StoreError::from)?;
        Ok(Page {
            messages: found.into_iter().map(|(m, _)| m).collect(),
            complete,
            count,
            first_index,
        })
    }
}

#[async_trait]
impl ArchiveStore for SqliteStore {
    async fn archive_append(&self, entries: &[NewArchived]) -> Result<(), StoreError> {
        self.append_to(ACCOUNTS, entries).await
    }

    async fn archive_page(
        &self,
        owner: &str,
        criteria: &Criteria,
        page: &PageRequest,
    ) -> Result<Page, QueryError> {
        self.page_of(ACCOUNTS, owner, criteria, page).await
    }

    async fn archive_purge(&self, cutoff: DateTime<Utc>, max: usize) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM archive WHERE seq IN
                (SELECT seq FROM archive WHERE ts < ? ORDER BY ts LIMIT ?)",
        )
        .bind(micros(&cutoff))
        .bind(limit(max))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn archive_total(&self) -> Result<u64, StoreError> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM archive")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(total).unwrap_or_default())
    }

    async fn archive_prefs(&self, user: &str) -> Result<Option<StoredPrefs>, StoreError> {
        let row = sqlx::query(
            "SELECT default_policy, always, never FROM archive_prefs WHERE username = ?",
        )
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let list = |column: &str| -> Result<Vec<String>, StoreError> {
            let json: String = row.try_get(column)?;
            serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("archive prefs {column}: {e}")))
        };
        Ok(Some(StoredPrefs {
            default: row.try_get("default_policy")?,
            always: list("always")?,
            never: list("never")?,
        }))
    }

    async fn set_archive_prefs(&self, user: &str, prefs: &StoredPrefs) -> Result<(), StoreError> {
        let json = |jids: &Vec<String>| {
            serde_json::to_string(jids)
                .map_err(|e| StoreError::Corrupt(format!("archive prefs: {e}")))
        };
        let result = sqlx::query(
            "INSERT INTO archive_prefs (username, default_policy, always, never) VALUES (?, ?, ?, ?)
             ON CONFLICT (username) DO UPDATE SET default_policy = excluded.default_policy,
                always = excluded.always, never = excluded.never",
        )
        .bind(user)
        .bind(&prefs.default)
        .bind(json(&prefs.always)?)
        .bind(json(&prefs.never)?)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                Err(StoreError::NoSuchUser)
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_into_power_of_two_statements() {
        let entry = NewArchived {
            owner: "a".into(),
            id: "i".into(),
            at: Utc::now(),
            with_bare: "b@x".into(),
            with_full: "b@x/r".into(),
            stanza: "<message/>".into(),
        };
        for (n, sizes) in [
            (0, vec![]),
            (1, vec![1]),
            (7, vec![4, 2, 1]),
            (64, vec![64]),
            (200, vec![64, 64, 64, 8]),
            (127, vec![64, 32, 16, 8, 4, 2, 1]),
        ] {
            let entries = vec![entry.clone(); n];
            let got: Vec<usize> = statement_chunks(&entries).map(<[_]>::len).collect();
            assert_eq!(got, sizes, "{n} entries");
        }
    }
}
