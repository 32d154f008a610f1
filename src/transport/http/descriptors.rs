//! File descriptors for an HTTP server: the process's limit raised to what
//! the system allows, and a connection that cannot be accepted said out loud.
//!
//! Every connection, waiting long-poll and event stream holds a descriptor.
//! Under the usual soft limit of 1 024 (login shells, systemd's default) one
//! token's own bounds (1 000 MCP sessions of 4 streams each) could take them
//! all, and every other client's connection then waited in the kernel's
//! backlog with nothing logged (red team). The soft limit is a default, not a
//! policy: raising it to the hard limit is what servers do at start.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often an accept failure is logged at most (a full descriptor table
/// fails every accept).
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Raises this process's soft limit on open files to its hard limit, and
/// returns the limit now in force (none when it cannot be read).
pub fn raise_open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        }
    }
    Some(limit.rlim_cur)
}

/// What an HTTP server does when it cannot accept a connection: logs it
/// (once per [`LOG_EVERY`]), naming the likely cause.
pub fn accept_failed() -> impl Fn(Option<&std::net::SocketAddr>, &std::io::Error) + Send + Sync {
    let last: Mutex<Option<Instant>> = Mutex::new(None);
    move |_, error| {
        let mut last = last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let full = matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
        if full {
            tracing::error!(%error, "cannot accept connections: every file descriptor is in use (raise `ulimit -n`, or lower http.max_long_polls and the sessions per token)");
        } else {
            tracing::warn!(%error, "cannot accept a connection");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let now = super::raise_open_file_limit().expect("getrlimit");
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: a plain syscall on a local struct.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) },
            0
        );
        assert_eq!((now, limit.rlim_cur), (limit.rlim_max, limit.rlim_max));
    }
}
