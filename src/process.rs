//! Processes as Linux's `/proc` describes them: a process's parent and its
//! start time, so that a pid reused by another program never passes for the
//! original, and which processes run a bridge server. `serve` records its
//! client (its parent) this way, and `mcp-bridge inbox`, started by the same
//! client's hooks, walks up its own ancestors to the first one with a bridge
//! server as a child. Elsewhere than Linux nothing is found and the inbox
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

/// This process's parent.
pub fn parent() -> Option<ProcessStamp> {
    stamp(std::os::unix::process::parent_id())
}

/// Launchers a client may run the server through, at most, between it and
/// the server (`uvx` → its Python shim, `sh -c` → `pipx run`…).
const MAX_LAUNCHERS: usize = 4;

/// The MCP client of this `serve` on stdio: its parent, or, when the client
/// started it through a launcher that stays as its parent (`uvx
/// mcp-multiagent-bridge serve`, `uv tool run …`, `pipx run …`, `sh -c
/// "… serve"`), the first ancestor above the launchers. The hooks the client
/// runs are its children, never the launcher's: recording the launcher left
/// the hook of every client that starts the bridge through `uvx` silent.
pub fn client() -> Option<ProcessStamp> {
    let mut pid = std::os::unix::process::parent_id();
    for _ in 0..MAX_LAUNCHERS {
        if pid <= 1 || !launches_bridge_server(&cmdline(pid)) {
            break;
        }
        let (ppid, _) = stat(pid)?;
        pid = ppid;
    }
    stamp(pid)
}

/// Programs that start another program and stay its parent: package
/// runners, shells, `env`, an interpreter running a launcher script.
const LAUNCHERS: &[&str] = &[
    "uv", "uvx", "pipx", "npx", "bunx", "pnpx", "pnpm", "npm", "sh", "bash", "dash", "zsh", "env",
    "python", "python3",
];

/// Whether `argv` is a command that runs a bridge server through something
/// else: a launcher program ([`LAUNCHERS`], `python3.12` too) whose
/// arguments name the bridge and, later, `serve` (words of a `sh -c` string
/// count one by one). Only launchers: a client started with a prompt that
/// mentions `mcp-bridge serve` (`codex exec "why does mcp-bridge serve
/// fail"`) is still the client (review).
fn launches_bridge_server(argv: &[String]) -> bool {
    let program = argv.first().map(|p| {
        std::path::Path::new(p)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
    });
    let launcher = program.is_some_and(|p| {
        LAUNCHERS.contains(&p)
            || p.strip_prefix("python3.")
                .is_some_and(|v| v.bytes().all(|b| b.is_ascii_digit()))
    });
    if !launcher {
        return false;
    }
    let mut words = argv[1..].iter().flat_map(|a| a.split_whitespace());
    words.any(|w| {
        std::path::Path::new(w.trim_matches(['"', '\'']))
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| BRIDGE_NAMES.contains(&n))
    }) && words.any(|w| w.trim_matches(['"', '\'']) == "serve")
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

/// The names the bridge's executable goes by: the binary itself, and the
/// launcher the Python wheel puts beside it (named after the package, a
/// script that `exec`s the binary, so for a moment the process is a shell
/// running it).
const BRIDGE_NAMES: &[&str] = &["mcp-bridge", "mcp-multiagent-bridge"];

/// Options of the bridge that come before a subcommand and take a value
/// (clap's global ones), so the value is not taken for the subcommand.
const VALUE_OPTIONS: &[&str] = &["--db", "--config"];

/// Whether the command line `argv` runs a bridge server (`serve`, on stdio
/// or HTTP). `ours` says the process runs this very executable, whatever
/// its name.
fn runs_bridge_server(argv: &[String], ours: bool) -> bool {
    let named = |word: &String| {
        std::path::Path::new(word)
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| BRIDGE_NAMES.contains(&n))
    };
    // The program is argv[0], or argv[1] when argv[0] is the interpreter
    // of the wheel's launcher script.
    let Some(program) = argv.iter().take(2).position(named).or(ours.then_some(0)) else {
        return false;
    };
    let mut words = argv.iter().skip(program + 1);
    while let Some(word) = words.next() {
        if VALUE_OPTIONS.contains(&word.as_str()) {
            words.next();
        } else if !word.starts_with('-') {
            return word == "serve";
        }
    }
    false
}

/// The command line of `pid` (empty for a zombie: it is not running).
fn cmdline(pid: u32) -> Vec<String> {
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    bytes
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect()
}

/// The file a process runs, as (device, inode): equal for every name and
/// link of one executable, and still readable after it was replaced on disk.
fn executable(pid: &str) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(format!("/proc/{pid}/exe")).ok()?;
    Some((meta.dev(), meta.ino()))
}

/// Those of `among` that have a running bridge server (`mcp-bridge serve`)
/// as a child, bound to a conversation or not. Such a process is an MCP
/// client of the bridge: the hooks it runs are about its own sessions,
/// never those of a process further up (an agent that started this one).
///
/// Children are found by scanning `/proc` once for processes whose parent is
/// one of `among` (`/proc/<pid>/task/*/children` needs a kernel option); a
/// process in `among` that has since ended, or whose pid now belongs to
/// another program, has none.
pub fn with_bridge_server_child(among: &[ProcessStamp]) -> Vec<ProcessStamp> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let ours = executable("self");
    let mut serving: Vec<u32> = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Some((ppid, _)) = stat(pid) else {
            continue;
        };
        if serving.contains(&ppid) || !among.iter().any(|p| p.pid == ppid) {
            continue;
        }
        let same_file = ours.is_some() && executable(&pid.to_string()) == ours;
        let argv = cmdline(pid);
        // A launcher between the client and its server (`uvx … serve`)
        // counts as the server: `serve` takes the launcher's parent for its
        // client (see [`client`]).
        if runs_bridge_server(&argv, same_file) || launches_bridge_server(&argv) {
            serving.push(ppid);
        }
    }
    // The stamps were taken before the scan: a process that ended since,
    // its pid reused, is not the one asked about.
    among
        .iter()
        .filter(|p| serving.contains(&p.pid) && alive(**p))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_servers_are_told_by_their_command_line() {
        let argv = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        let cases: &[(&[&str], bool, bool)] = &[
            (&["mcp-bridge", "serve"], false, true),
            (
                &["/usr/local/bin/mcp-bridge", "serve", "--db", "x.db"],
                false,
                true,
            ),
            (&["mcp-bridge", "--db", "serve", "inbox"], false, false),
            (
                &["mcp-bridge", "--db=x.db", "--config", "c.toml", "serve"],
                false,
                true,
            ),
            (
                &["/venv/bin/mcp-multiagent-bridge", "serve", "--http"],
                false,
                true,
            ),
            // The wheel's launcher script, before it `exec`s the binary.
            (
                &["/bin/sh", "/venv/bin/mcp-multiagent-bridge", "serve"],
                false,
                true,
            ),
            (&["mcp-bridge", "inbox", "--hook", "claude"], false, false),
            (&["mcp-bridge"], false, false),
            (&["mcp-bridge", "--version"], false, false),
            (&["node", "serve"], false, false),
            (&["sh", "-c", "mcp-bridge serve"], false, false),
            // A copy of this executable under another name.
            (&["./bridge-copy", "serve"], true, true),
            (&["./bridge-copy", "list"], true, false),
            (&[], true, false),
        ];
        for (words, ours, expected) in cases {
            assert_eq!(
                runs_bridge_server(&argv(words), *ours),
                *expected,
                "{words:?}"
            );
        }
    }

    #[test]
    fn launchers_of_the_bridge_are_told_from_clients() {
        let argv = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        for launcher in [
            &["uvx", "mcp-multiagent-bridge", "serve"][..],
            &[
                "/home/u/.local/bin/uv",
                "tool",
                "run",
                "mcp-multiagent-bridge",
                "serve",
                "--db",
                "x",
            ],
            &["pipx", "run", "mcp-multiagent-bridge", "serve"],
            &[
                "uvx",
                "--from",
                "mcp-multiagent-bridge",
                "mcp-bridge",
                "serve",
            ],
            &[
                "/bin/sh",
                "-c",
                "exec uvx mcp-multiagent-bridge serve --db ~/b.db",
            ],
            &["python3", "/venv/bin/mcp-multiagent-bridge", "serve"],
            &[
                "/usr/bin/python3.12",
                "/venv/bin/mcp-multiagent-bridge",
                "serve",
            ],
            &["npx", "-y", "mcp-bridge", "serve"],
        ] {
            assert!(launches_bridge_server(&argv(launcher)), "{launcher:?}");
        }
        for client in [
            &["claude"][..],
            &[
                "node",
                "/usr/lib/node_modules/@google/gemini-cli/dist/index.js",
            ],
            &["codex", "exec", "review the diff"],
            &["codex", "exec", "why does mcp-bridge serve fail here?"],
            &["claude", "-p", "run mcp-bridge serve"],
            &["uvx", "mcp-multiagent-bridge", "inbox"],
            &["serve", "mcp-bridge"],
            &[],
        ] {
            assert!(!launches_bridge_server(&argv(client)), "{client:?}");
        }
    }

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
    fn the_parent_of_a_bridge_server_is_found_and_a_reused_pid_is_not() {
        // A shell named `mcp-bridge` running a script named `serve` has the
        // command line of a bridge server; the script waits on its stdin
        // with a builtin, so killing the shell leaves nothing behind.
        let dir = tempfile::tempdir().unwrap();
        let bridge = dir.path().join("mcp-bridge");
        std::fs::copy("/bin/sh", &bridge).unwrap();
        std::fs::write(dir.path().join("serve"), "read line\n").unwrap();
        let me = current().expect("/proc is mounted");
        let stranger = ProcessStamp {
            pid: me.pid,
            start: me.start + 1,
        };
        let mut server = std::process::Command::new(&bridge)
            .arg("serve")
            .current_dir(dir.path())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let found = with_bridge_server_child(&[stranger, me]);
        let _ = server.kill();
        let _ = server.wait();
        assert_eq!(found, [me]);
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
