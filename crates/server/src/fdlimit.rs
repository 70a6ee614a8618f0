//! The process's file descriptor budget: at start the soft `RLIMIT_NOFILE` is raised to the hard
//! limit, and the connection caps are compared with what the descriptors allow.

use std::io;

use crate::config::Config;

/// Descriptors kept for everything but client connections: listeners, the database and its
/// journal, the log, callbacks' connections, the certificate watcher.
pub const RESERVED: u64 = 256;

/// Raises the soft descriptor limit to the hard one and returns the limit now in force. Where
/// the hard limit is unlimited, the kernel's `nr_open` ceiling is the most the soft one takes.
pub fn raise_nofile() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit struct, which `limit` is.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let ceiling = if limit.rlim_max == libc::RLIM_INFINITY {
        nr_open().unwrap_or(limit.rlim_cur)
    } else {
        limit.rlim_max
    };
    if limit.rlim_cur >= ceiling {
        return Ok(limit.rlim_cur);
    }
    let raised = libc::rlimit {
        rlim_cur: ceiling,
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit reads one rlimit struct, which `raised` is.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ceiling)
}

fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Descriptors the configured caps may take at once: every client and HTTP connection, plus
/// [`RESERVED`].
pub fn needed(config: &Config) -> u64 {
    (config.limits.max_connections as u64)
        .saturating_add(config.http.max_connections as u64)
        .saturating_add(RESERVED)
}

/// The warning due when the caps need more descriptors than `available`.
pub fn shortfall(config: &Config, available: u64) -> Option<String> {
    let needed = needed(config);
    (needed > available).then(|| {
        format!(
            "limits.max_connections ({}) + http.max_connections ({}) + {RESERVED} reserved need \
             {needed} file descriptors but the process may open {available}: lower those keys or \
             raise the hard RLIMIT_NOFILE (LimitNOFILE= in a systemd unit), or connections will \
             be refused by the kernel before the caps",
            config.limits.max_connections, config.http.max_connections
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> libc::rlimit {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in raise_nofile.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        limit
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let start = current();
        // Lowered first (any process may), so that the raise has something to do.
        let lowered = libc::rlimit {
            rlim_cur: start.rlim_cur.min(start.rlim_max) / 2,
            rlim_max: start.rlim_max,
        };
        // SAFETY: as in raise_nofile.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);
        assert_eq!(current().rlim_cur, lowered.rlim_cur);
        let now = raise_nofile().unwrap();
        assert!(now > lowered.rlim_cur);
        let after = current();
        assert_eq!(after.rlim_cur, now);
        if after.rlim_max != libc::RLIM_INFINITY {
            assert_eq!(after.rlim_cur, after.rlim_max);
        }
        assert_eq!(
            raise_nofile().unwrap(),
            now,
            "raising again changes nothing"
        );
    }

    #[test]
    fn caps_beyond_the_descriptors_are_reported() {
        let config = Config::default();
        assert_eq!(needed(&config), 10_000 + 10_000 + RESERVED);
        assert_eq!(shortfall(&config, 1_048_576), None);
        let warning = shortfall(&config, 1024).unwrap();
        assert!(warning.contains("20256"), "{warning}");
        assert!(warning.contains("1024"), "{warning}");
        assert_eq!(shortfall(&config, 20_256), None);
    }
}
