//! Backup and restore of the data directory's database: `backup` writes a consistent copy while
//! the server runs; `restore` replaces the database only while no server holds the directory.

use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use crate::storage::StoreError;
use crate::storage::sqlite::SqliteStore;
use crate::storage::sqlite::backup::{self, Schema};

/// The database in the data directory.
const DB_FILE: &str = "switchboard.db";
/// Held (advisory lock) by a serving process for its whole life.
const LOCK_FILE: &str = "switchboard.lock";
/// The replaced database is kept under this suffix until the next restore.
const KEPT_SUFFIX: &str = ".pre-restore";
/// SQLite's companions of a database file, moved along with it.
const COMPANIONS: [&str; 3] = ["", "-wal", "-shm"];

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; name a new file")]
    Exists(PathBuf),
    #[error("no database in {0} (has a server ever run with this data_dir?)")]
    NoDatabase(PathBuf),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "a server is running on the data directory {0} (it holds {LOCK_FILE} there); stop it first"
    )]
    Running(PathBuf),
    #[error("{path}: {source}")]
    Store { path: PathBuf, source: StoreError },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BackupError {
    let path = path.to_owned();
    move |source| BackupError::Io {
        action,
        path,
        source,
    }
}

fn store_error(path: &Path) -> impl FnOnce(StoreError) -> BackupError {
    let path = path.to_owned();
    move |source| BackupError::Store { path, source }
}

/// Exclusive use of a data directory: taken by `serve` and `restore`, released on drop (or when
/// the process dies, so a crash leaves nothing stale behind).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock (creating the directory if needed), or says that another process holds it.
    pub fn acquire(data_dir: &Path) -> Result<DataDirLock, BackupError> {
        std::fs::create_dir_all(data_dir).map_err(io_error("create", data_dir))?;
        let path = data_dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error("open", &path))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(BackupError::Running(data_dir.to_owned())),
            Err(TryLockError::Error(e)) => Err(io_error("lock", &path)(e)),
        }
    }
}

/// Writes a consistent copy of the database of `data_dir` to `dest` (which must not exist),
/// through a temporary name so that `dest` is either absent or complete.
pub async fn backup(data_dir: &Path, dest: &Path) -> Result<Schema, BackupError> {
    let db = data_dir.join(DB_FILE);
    if !db.is_file() {
        return Err(BackupError::NoDatabase(data_dir.to_owned()));
    }
    if dest.exists() {
        return Err(BackupError::Exists(dest.to_owned()));
    }
    let partial = with_suffix(dest, ".partial");
    if partial.exists() {
        std::fs::remove_file(&partial).map_err(io_error("remove", &partial))?;
    }
    let store = SqliteStore::open(data_dir)
        .await
        .map_err(store_error(&db))?;
    store
        .backup_into(&partial)
        .await
        .map_err(store_error(&partial))?;
    drop(store);
    sync_file(&partial)?;
    std::fs::rename(&partial, dest).map_err(io_error("rename into", dest))?;
    sync_parent(dest)?;
    backup::inspect(dest).await.map_err(store_error(dest))
}

/// What [`restore`] did.
#[derive(Debug)]
pub struct Restored {
    /// The schema and size of the restored file, before any migration of this build.
    pub schema: Schema,
    /// Where the replaced database was moved, if there was one.
    pub kept: Option<PathBuf>,
}

/// Replaces the database of `data_dir` with the backup `src`, after checking that it is an
/// intact database whose schema this build knows; refused while a server runs on `data_dir`.
/// The replaced database is kept next to it; migrations of this build apply to the copy.
pub async fn restore(data_dir: &Path, src: &Path) -> Result<Restored, BackupError> {
    if !src.is_file() {
        return Err(io_error("read", src)(io::Error::from(
            io::ErrorKind::NotFound,
        )));
    }
    let _lock = DataDirLock::acquire(data_dir)?;
    let schema = backup::inspect(src).await.map_err(store_error(src))?;
    let db = data_dir.join(DB_FILE);
    let incoming = with_suffix(&db, ".restoring");
    std::fs::copy(src, &incoming).map_err(io_error("copy into", &incoming))?;
    sync_file(&incoming)?;
    let kept = if db.exists() {
        let kept = with_suffix(&db, KEPT_SUFFIX);
        // The WAL holds committed data not yet in the main file: it moves with it.
        for companion in COMPANIONS {
            let (from, to) = (with_suffix(&db, companion), with_suffix(&kept, companion));
            if to.exists() {
                std::fs::remove_file(&to).map_err(io_error("remove", &to))?;
            }
            if from.exists() {
                std::fs::rename(&from, &to).map_err(io_error("move", &from))?;
            }
        }
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&incoming, &db).map_err(io_error("rename into", &db))?;
    sync_parent(&db)?;
    SqliteStore::open(data_dir)
        .await
        .map_err(store_error(&db))?;
    Ok(Restored { schema, kept })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn sync_file(path: &Path) -> Result<(), BackupError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_error("sync", path))
}

/// Makes a rename durable: the directory entry is on disk, not only the file's data.
fn sync_parent(path: &Path) -> Result<(), BackupError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_file(dir),
        _ => sync_file(Path::new(".")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_exclusive_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let held = DataDirLock::acquire(dir.path()).unwrap();
        assert!(matches!(
            DataDirLock::acquire(dir.path()),
            Err(BackupError::Running(_))
        ));
        drop(held);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
