//! `DATA_DIR/switchboard.pid`: written by a serving process and removed at its exit, so that
//! `switchboard reload` can find it and a second server on the same data is refused.

use std::io;
use std::path::{Path, PathBuf};

use rustix::process::{Pid, Signal};

pub const FILE_NAME: &str = "switchboard.pid";

#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    #[error("a server (pid {pid}) is already running on this data directory ({path})")]
    Running { pid: i32, path: PathBuf },
    #[error("no server is running on this data directory: {path} does not exist")]
    Missing { path: PathBuf },
    #[error(
        "no server is running on this data directory: {path} names pid {pid}, which is gone or \
         is another program (a stale file: remove it)"
    )]
    Stale { pid: i32, path: PathBuf },
    #[error("{path} does not hold a process id")]
    Invalid { path: PathBuf },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// The pid file of this process, removed when dropped.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's id into `data_dir`. A file naming a live server is an error; one
    /// left by a server that is gone is replaced, with a warning.
    pub fn create(data_dir: &Path) -> Result<PidFile, PidFileError> {
        let path = data_dir.join(FILE_NAME);
        match running(&path) {
            Ok(pid) if pid != own_pid() => return Err(PidFileError::Running { pid, path }),
            Ok(_) | Err(PidFileError::Missing { .. }) => {}
            Err(e) => tracing::warn!("replacing the pid file: {e}"),
        }
        std::fs::write(&path, format!("{}\n", own_pid())).map_err(|source| PidFileError::Io {
            action: "write",
            path: path.clone(),
            source,
        })?;
        Ok(PidFile { path })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Only our own: a second server may have replaced a file it judged stale.
        if read_pid(&self.path).is_ok_and(|pid| pid == own_pid()) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Sends SIGHUP to the server running on `data_dir`, which reloads its configuration.
pub fn signal_reload(data_dir: &Path) -> Result<i32, PidFileError> {
    let path = data_dir.join(FILE_NAME);
    let pid = running(&path)?;
    let target = Pid::from_raw(pid).ok_or_else(|| PidFileError::Invalid { path: path.clone() })?;
    rustix::process::kill_process(target, Signal::HUP).map_err(|e| PidFileError::Io {
        action: "signal the process of",
        path,
        source: e.into(),
    })?;
    Ok(pid)
}

fn own_pid() -> i32 {
    rustix::process::getpid().as_raw_nonzero().get()
}

fn read_pid(path: &Path) -> Result<i32, PidFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(PidFileError::Missing {
                path: path.to_owned(),
            });
        }
        Err(source) => {
            return Err(PidFileError::Io {
                action: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|pid| *pid > 0)
        .ok_or_else(|| PidFileError::Invalid {
            path: path.to_owned(),
        })
}

/// The pid in `path` when it names a live process running this same program.
fn running(path: &Path) -> Result<i32, PidFileError> {
    let pid = read_pid(path)?;
    let stale = || PidFileError::Stale {
        pid,
        path: path.to_owned(),
    };
    let target = Pid::from_raw(pid).ok_or_else(stale)?;
    match rustix::process::test_kill_process(target) {
        Ok(()) | Err(rustix::io::Errno::PERM) => {}
        Err(_) => return Err(stale()),
    }
    // A pid reused by another program after a crash is not ours to signal.
    let name = |pid: &str| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok();
    match (name(&pid.to_string()), name("self")) {
        (Some(theirs), Some(ours)) if theirs != ours => Err(stale()),
        _ => Ok(pid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_file_is_written_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let file = PidFile::create(dir.path()).unwrap();
        assert_eq!(read_pid(&path).unwrap(), own_pid());
        drop(file);
        assert!(!path.exists());
        assert!(matches!(
            signal_reload(dir.path()),
            Err(PidFileError::Missing { .. })
        ));
    }

    #[test]
    fn stale_and_invalid_files_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "not a pid\n").unwrap();
        assert!(matches!(
            signal_reload(dir.path()),
            Err(PidFileError::Invalid { .. })
        ));
        // Beyond the kernel's pid_max: no such process.
        std::fs::write(&path, "2147483646\n").unwrap();
        let err = signal_reload(dir.path()).unwrap_err();
        assert!(matches!(err, PidFileError::Stale { .. }), "{err}");
        // A server starting over a stale file takes it over.
        let file = PidFile::create(dir.path()).unwrap();
        assert_eq!(read_pid(&path).unwrap(), own_pid());
        drop(file);
    }
}
