//! Bubblewrap (`bwrap`) arguments, the fixed environment and the resource limits for
//! running an approved command. Builds values only (it reads no more than
//! whether a hidden path is a file and where bound paths' symlinks lead); the runner spawns
//! `bwrap ARGS -- ARGV`, applies [`Limits`] with `setrlimit` before exec, caps output
//! and enforces the timeout.
//!
//! The sandbox starts from bwrap's empty root and adds only what programs need:
//!
//! * `/usr` and the `/bin`, `/sbin`, `/lib*` entry points, read-only;
//! * a short list of harmless `/etc` files (dynamic loader, users/groups, name service,
//!   time zone, TLS roots, git/magic/mime defaults, alternatives), read-only. Never
//!   `/etc/shadow`, `/etc/sudoers`, `/etc/ssh` or anything else not listed;
//! * the workspace, at its own path, read-only unless `writable_workspace` (yolo mode),
//!   bound from a directory the runner opened and checked (`--bind-fd`), so a symlink
//!   swapped into its path after it was confirmed cannot point the bind elsewhere;
//! * `extra_ro_binds` (e.g. a toolchain under `/opt` or `~/.rustup`), read-only;
//! * a fresh `/proc`, a minimal read-only `/dev` (null, zero, random, tty …, no disks),
//!   a private writable `/tmp` that is also `$HOME` and a `/dev/shm`, each a tmpfs of at
//!   most `tmp_bytes` (files there are memory the address-space limit does not count).
//!
//! `/root`, `/home`, `/var`, `/run`, `/srv`, `/mnt`, `/media` and the host's `/tmp` are
//! simply not there. Each `hide` path that lies under something bound (an extra bind,
//! `/usr`, a bound `/etc` entry) gets an empty read-only tmpfs over it, or `/dev/null`
//! when it is a file, so the bridge's data directory (database, key), its configuration
//! file and TLS key are invisible there too (a workspace may not hold any of them). Then the root itself is remounted read-only.
//!
//! All namespaces are unshared (`--unshare-all`): no network (only a down `lo`), own
//! PIDs, IPC, UTS and, where the kernel allows, user and cgroup namespaces; all
//! capabilities are dropped; `--new-session` stops terminal-injection via `TIOCSTI`;
//! `--die-with-parent` ends the sandbox with the server; `--clearenv` drops every server
//! variable, and only [`sandbox_env`] is set.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `$HOME` inside the sandbox: the private, writable `/tmp`.
pub const SANDBOX_HOME: &str = "/tmp";

/// System directories bound read-only when they exist on the host.
const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// `/etc` entries bound read-only when they exist: what programs need to start, resolve
/// users, read the time zone and verify TLS, and nothing that holds a secret.
const ETC_ENTRIES: &[&str] = &[
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/os-release",
    "/etc/debian_version",
    "/etc/ssl/certs",
    "/etc/ca-certificates",
    "/etc/gitconfig",
    "/etc/magic",
    "/etc/mime.types",
    "/etc/protocols",
    "/etc/services",
];

/// Where a sandboxed command may look and write.
#[derive(Debug, Clone, Copy)]
pub struct SandboxSpec<'a> {
    /// The workspace (canonical); also the working directory.
    pub workspace: &'a Path,
    /// Bind the workspace read-write (yolo mode) instead of read-only.
    pub writable_workspace: bool,
    /// Directories and files that must be invisible inside (the bridge's data directory
    /// with its database and key, its configuration file), each resolved again
    /// here; one that no longer exists is skipped.
    pub hide: &'a [PathBuf],
    /// More host paths to bind read-only at the same place (a toolchain, a cache).
    /// Missing ones are skipped.
    pub extra_ro_binds: &'a [PathBuf],
    /// An open descriptor of the workspace directory, inherited by `bwrap`, to bind
    /// instead of its path; `None` binds the path.
    pub workspace_fd: Option<i32>,
    /// Largest size of the private `/tmp` and of `/dev/shm`, each.
    pub tmp_bytes: u64,
}

/// The arguments that go between `bwrap` and `--` + the command's argv.
pub fn bwrap_args(spec: &SandboxSpec) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |items: &[&dyn AsRef<std::ffi::OsStr>]| {
        args.extend(items.iter().map(|i| i.as_ref().to_os_string()));
    };
    push(&[
        &"--die-with-parent",
        &"--new-session",
        &"--unshare-all",
        &"--cap-drop",
        &"ALL",
    ]);
    push(&[&"--clearenv"]);
    for (key, value) in sandbox_env() {
        push(&[&"--setenv", &key, &value]);
    }
    let mut bound: Vec<&Path> = Vec::new();
    for dir in SYSTEM_DIRS.iter().chain(ETC_ENTRIES) {
        push(&[&"--ro-bind-try", dir, dir]);
        bound.push(Path::new(dir));
    }
    let size = spec.tmp_bytes.to_string();
    push(&[&"--proc", &"/proc", &"--dev", &"/dev"]);
    push(&[
        &"--size",
        &size,
        &"--tmpfs",
        &"/dev/shm",
        &"--remount-ro",
        &"/dev",
    ]);
    push(&[&"--size", &size, &"--tmpfs", &"/tmp"]);
    for extra in spec.extra_ro_binds {
        push(&[&"--ro-bind-try", extra, extra]);
        bound.push(extra);
    }
    match (spec.workspace_fd, spec.writable_workspace) {
        (Some(fd), writable) => {
            let bind = if writable {
                "--bind-fd"
            } else {
                "--ro-bind-fd"
            };
            push(&[&bind, &fd.to_string(), &spec.workspace]);
        }
        (None, true) => push(&[&"--bind", &spec.workspace, &spec.workspace]),
        (None, false) => push(&[&"--ro-bind", &spec.workspace, &spec.workspace]),
    }
    bound.push(spec.workspace);
    // Each bind's source as bwrap reads it, resolved once for every hidden path.
    let sources: Vec<(&Path, PathBuf)> = bound
        .iter()
        .map(|&b| {
            (
                b,
                std::fs::canonicalize(b).unwrap_or_else(|_| b.to_path_buf()),
            )
        })
        .collect();
    let mut masked: Vec<PathBuf> = Vec::new();
    for hidden in spec.hide {
        // Resolved now, not when the server started: renewal re-points a TLS
        // key's symlink (certbot's `live/`), and a path gone since shows
        // nothing, while a mask on it would make bwrap fail every run.
        let Ok(hidden) = std::fs::canonicalize(hidden) else {
            continue;
        };
        if masked.contains(&hidden) {
            continue;
        }
        // A file (the configuration, a TLS key) cannot take a tmpfs.
        let file = hidden.is_file();
        for point in mask_points(&sources, &hidden) {
            if file {
                push(&[&"--ro-bind", &"/dev/null", &point]);
            } else {
                push(&[&"--tmpfs", &point, &"--remount-ro", &point]);
            }
        }
        masked.push(hidden);
    }
    push(&[&"--chdir", &spec.workspace, &"--remount-ro", &"/"]);
    args
}

/// Where `hidden` (a canonical path) shows inside the sandbox: below every
/// bind (its path, and its source with symlinks resolved) whose source holds
/// it, since bwrap follows symlinks (a symlinked `~/.config` among
/// `extra_ro_binds`; `/lib` is `/usr/lib` on merged-`/usr` systems).
fn mask_points(binds: &[(&Path, PathBuf)], hidden: &Path) -> Vec<PathBuf> {
    let mut points: Vec<PathBuf> = Vec::new();
    for (bind, resolved) in binds {
        for source in [*bind, resolved.as_path()] {
            if let Ok(inside) = hidden.strip_prefix(source) {
                let point = bind.join(inside);
                if !points.contains(&point) {
                    points.push(point);
                }
            }
        }
    }
    points
}

/// The fixed environment of every command, sandboxed or not: never the server's.
pub fn sandbox_env() -> Vec<(String, String)> {
    [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("HOME", SANDBOX_HOME),
        ("TMPDIR", "/tmp"),
        ("LANG", "C.UTF-8"),
        // No terminal: programs should not emit colour or cursor control.
        ("TERM", "dumb"),
        ("NO_COLOR", "1"),
        ("SHELL", "/bin/sh"),
        // Nobody can answer a pager or a credential prompt.
        ("PAGER", "cat"),
        ("GIT_PAGER", "cat"),
        ("GIT_TERMINAL_PROMPT", "0"),
        // The workspace is read-only outside yolo mode; don't try to write .pyc files.
        ("PYTHONDONTWRITEBYTECODE", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Resource limits the runner applies (`setrlimit`) to the command before exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `RLIMIT_CPU`, per process, in seconds.
    pub cpu_seconds: u64,
    /// `RLIMIT_AS` (address space), per process, in bytes.
    pub memory_bytes: u64,
    /// `RLIMIT_NPROC`: processes and threads of the user.
    pub max_processes: u64,
    /// `RLIMIT_FSIZE`: largest file a process may write, in bytes.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    /// * `cpu_seconds` 600: the wall-clock timeout (at most 600 s) is the real stop; this
    ///   only backs it up, and a single process cannot use more CPU than that on a core.
    /// * `memory_bytes` 4 GiB: enough address space for rustc, node and test runners
    ///   (address space is reserved generously, well above what is resident), small
    ///   enough that a runaway allocation fails instead of pushing a shared 24 GiB machine
    ///   into swap.
    /// * `max_processes` 512: a parallel build or test run needs tens to a couple of
    ///   hundred tasks (threads count); a fork bomb hits the wall quickly. The limit is
    ///   per user, so run the bridge as a dedicated user (and root ignores it).
    /// * `max_file_bytes` 1 GiB: debug binaries and build caches fit; filling the disk
    ///   with one file does not.
    fn default() -> Self {
        Self {
            cpu_seconds: 600,
            memory_bytes: 4 << 30,
            max_processes: 512,
            max_file_bytes: 1 << 30,
        }
    }
}

#[cfg(test)]
mod tests;
