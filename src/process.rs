//! Processes as Linux's `/proc` describes them: a process's parent and its
//! start time, so that a pid reused by another program never passes for the
//! original. `serve` records its client (its parent) this way, and
//! `mcp-bridge inbox`, started by the same client's hooks, walks up its own
//! ancestors to find it. Elsewhere than Linux nothing is found and the inbox
//! stays silent.

use crate::store::ProcessStamp;

/// Ancestors `inbox` looks at before giving up (hooks run a shell or two
/// below the client; a deeper chain is not the client's).
pub const MAX_ANCESTORS: usize = 16;

/// The parent pid and start time (clock ticks after boot) of `pid`, from
/// `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or
    // parentheses itself: the fields after it start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state (3), ppid (4), …, starttime (22).
    let ppid = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((ppid, start))
}

/// `pid` stamped with its start time, if it is running.
pub fn stamp(pid: u32) -> Option<ProcessStamp> {
    stat(pid).map(|(_, start)| ProcessStamp { pid, start })
}

/// This process.
pub fn current() -> Option<ProcessStamp> {
    stamp(std::process::id())
}

/// This process's parent (for `serve` on stdio: the MCP client).
pub fn parent() -> Option<ProcessStamp> {
    stamp(std::os::unix::process::parent_id())
}

/// Whether the process `p` still runs (same pid, same start time).
pub fn alive(p: ProcessStamp) -> bool {
    stamp(p.pid).is_some_and(|now| now.start == p.start)
}

/// Processes that are everyone's ancestor rather than anyone's MCP client:
/// terminal multiplexers, service managers, remote logins. An agent with a
/// shell could start a `serve` as a child of the tmux server it runs in, and
/// the hook of every other agent there whose own client had no session then
/// walked up to it and read that agent's words as its team's (red team).
const SHARED_PARENTS: &[&str] = &[
    "tmux: server",
    "tmux",
    "screen",
    "SCREEN",
    "zellij",
    "dtach",
    "abduco",
    "systemd",
    "sshd",
    "login",
    "init",
    "supervisord",
    "runsv",
    "runsvdir",
    "s6-supervise",
];

/// The command name (`comm`) of `pid`.
fn name(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(text.trim_end_matches('\n').to_owned())
}

/// `from` and its ancestors, nearest first, up to [`MAX_ANCESTORS`], stopping
/// before pid 1 (init adopts orphans; it is nobody's client) and before any
/// of [`SHARED_PARENTS`].
pub fn ancestors(from: u32) -> Vec<ProcessStamp> {
    let mut out = Vec::new();
    let mut pid = from;
    while pid > 1 && out.len() < MAX_ANCESTORS {
        if !out.is_empty() && name(pid).is_some_and(|n| SHARED_PARENTS.contains(&n.as_str())) {
            break;
        }
        let Some((ppid, start)) = stat(pid) else {
            break;
        };
        out.push(ProcessStamp { pid, start });
        pid = ppid;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_stops_below_a_terminal_multiplexer() {
        // A shell renamed `tmux` stands for the tmux server; its child is
        // where an agent's `serve` would be.
        let dir = tempfile::tempdir().unwrap();
        let tmux = dir.path().join("tmux");
        std::fs::copy("/bin/sh", &tmux).unwrap();
        let mut parent = std::process::Command::new(&tmux)
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        let child = (0..500)
            .find_map(|_| {
                let found = std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
                    let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                    (stat(pid)?.0 == parent.id()).then_some(pid)
                });
                if found.is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                found
            })
            .expect("the child started");
        let chain = ancestors(child);
        let _ = parent.kill();
        let _ = parent.wait();
        if let Ok(pid) = i32::try_from(child) {
            // SAFETY: plain kill(2) of the sleep this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        assert_eq!(chain.len(), 1, "walked past the multiplexer: {chain:?}");
        assert_eq!(chain[0].pid, child);
    }

    #[test]
    fn this_process_and_its_parent_are_found() {
        let me = current().expect("/proc is mounted");
        assert_eq!(me.pid, std::process::id());
        assert!(alive(me));
        assert!(!alive(ProcessStamp {
            pid: me.pid,
            start: me.start + 1
        }));
        let chain = ancestors(me.pid);
        assert_eq!(chain.first(), Some(&me));
        if let Some(p) = parent().filter(|p| p.pid > 1) {
            assert_eq!(chain.get(1), Some(&p));
        }
    }

    #[test]
    fn a_missing_process_has_no_stamp() {
        assert_eq!(stamp(u32::MAX), None);
        assert!(ancestors(u32::MAX).is_empty());
    }
}
