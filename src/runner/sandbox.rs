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
mod tests {
    use super::*;
    use std::process::{Command, Output};

    fn args_text(spec: &SandboxSpec) -> Vec<String> {
        bwrap_args(spec)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn has_seq(args: &[String], seq: &[&str]) -> bool {
        args.windows(seq.len())
            .any(|w| w.iter().zip(seq).all(|(a, b)| a == b))
    }

    /// The arguments of a writable sandbox that binds `bind` and hides `hidden`.
    fn masking_args(hidden: PathBuf, bind: PathBuf) -> Vec<String> {
        let (hide, binds) = ([hidden], [bind]);
        args_text(&SandboxSpec {
            workspace: Path::new("/srv/ws"),
            writable_workspace: true,
            hide: &hide,
            extra_ro_binds: &binds,
            workspace_fd: None,
            tmp_bytes: 1 << 20,
        })
    }

    #[test]
    fn a_hidden_file_under_a_bind_is_masked_by_dev_null() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tools = dir.path().to_path_buf();
        let config = tools.join("config.toml");
        std::fs::write(&config, "token = 1").expect("write");
        let args = masking_args(config.clone(), tools);
        let config = config.to_string_lossy();
        assert!(has_seq(&args, &["--ro-bind", "/dev/null", &config]));
        assert!(!has_seq(&args, &["--tmpfs", &config]));
    }

    #[test]
    fn a_hidden_symlink_is_masked_at_the_target_it_has_at_each_run() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tools = dir.path().canonicalize().expect("canonical");
        let (old, new, live) = (
            tools.join("privkey1.pem"),
            tools.join("privkey2.pem"),
            tools.join("privkey.pem"),
        );
        for key in [&old, &new] {
            std::fs::write(key, "key").expect("write");
        }
        std::os::unix::fs::symlink(&old, &live).expect("symlink");
        let masks = |args: &[String], key: &Path| {
            has_seq(args, &["--ro-bind", "/dev/null", &key.to_string_lossy()])
        };
        let before = masking_args(live.clone(), tools.clone());
        assert!(masks(&before, &old) && !masks(&before, &new), "{before:?}");
        // Renewal re-points the link; the next run hides the new key.
        std::fs::remove_file(&live).expect("rm");
        std::os::unix::fs::symlink(&new, &live).expect("symlink");
        let after = masking_args(live, tools);
        assert!(masks(&after, &new), "{after:?}");
    }

    #[test]
    fn a_hidden_path_gone_since_start_up_is_not_masked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tools = dir.path().canonicalize().expect("canonical");
        let config = tools.join("config.toml");
        let args = masking_args(config.clone(), tools);
        // A mask on a missing path would make bwrap fail every run.
        assert!(
            !args.iter().any(|a| a == &*config.to_string_lossy()),
            "{args:?}"
        );
    }

    #[test]
    fn a_hidden_path_is_masked_where_a_symlinked_bind_shows_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical");
        let (real, link) = (root.join("dotfiles"), root.join("config"));
        std::fs::create_dir_all(real.join("mcp-bridge")).expect("mkdir");
        let config = real.join("mcp-bridge/config.toml");
        std::fs::write(&config, "token = 1").expect("write");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let args = masking_args(config, link.clone());
        let shown = link.join("mcp-bridge/config.toml");
        assert!(
            has_seq(&args, &["--ro-bind", "/dev/null", &shown.to_string_lossy()]),
            "{args:?}"
        );
    }

    #[test]
    fn arguments_isolate_and_bind_the_workspace() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical");
        let (ws, data, elsewhere) = (root.join("ws"), root.join("ws/.bridge"), root.join("lib"));
        for d in [&data, &elsewhere] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let ws_text = ws.to_string_lossy().into_owned();
        let ws = ws.as_path();
        let hide = [data.clone(), elsewhere.clone()];
        let spec = SandboxSpec {
            workspace: ws,
            writable_workspace: false,
            hide: &hide,
            extra_ro_binds: &[],
            workspace_fd: None,
            tmp_bytes: 1 << 20,
        };
        let args = args_text(&spec);
        for flag in [
            "--die-with-parent",
            "--new-session",
            "--unshare-all",
            "--clearenv",
        ] {
            assert!(args.iter().any(|a| a == flag), "{flag} missing");
        }
        assert!(has_seq(&args, &["--cap-drop", "ALL"]));
        assert!(has_seq(&args, &["--ro-bind", &ws_text, &ws_text]));
        assert!(!args.iter().any(|a| a == "--bind"));
        assert!(has_seq(&args, &["--size", "1048576", "--tmpfs", "/tmp"]));
        assert!(has_seq(
            &args,
            &["--size", "1048576", "--tmpfs", "/dev/shm"]
        ));
        assert!(has_seq(&args, &["--remount-ro", "/dev"]));
        assert!(has_seq(&args, &["--dev", "/dev"]));
        assert!(has_seq(&args, &["--proc", "/proc"]));
        assert!(has_seq(&args, &["--chdir", &ws_text]));
        assert!(has_seq(&args, &["--tmpfs", &data.to_string_lossy()]));
        // Not under anything bound, so it is invisible without a mask.
        assert!(!args.iter().any(|a| a == &*elsewhere.to_string_lossy()));
        assert!(
            !has_seq(&args, &["--ro-bind", "/", "/"]) && !has_seq(&args, &["--bind", "/", "/"])
        );
        assert!(
            !args
                .iter()
                .any(|a| a == "/root" || a == "/home" || a == "/etc")
        );
        assert!(
            !args
                .iter()
                .any(|a| a.contains("shadow") || a.contains("sudoers"))
        );
        assert_eq!(
            args.last().map(String::as_str),
            Some("/"),
            "root remounted read-only last"
        );
        let writable = SandboxSpec {
            writable_workspace: true,
            ..spec
        };
        assert!(has_seq(
            &args_text(&writable),
            &["--bind", &ws_text, &ws_text]
        ));
    }

    #[test]
    fn environment_is_fixed() {
        let env = sandbox_env();
        let keys: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        for key in ["PATH", "HOME", "LANG", "TERM"] {
            assert!(keys.contains(&key), "{key} missing");
        }
        assert!(env.contains(&("TERM".into(), "dumb".into())));
        assert!(!keys.iter().any(|k| k.starts_with("MCP_BRIDGE")));
        let args = args_text(&SandboxSpec {
            workspace: Path::new("/w"),
            writable_workspace: false,
            hide: &[],
            extra_ro_binds: &[],
            workspace_fd: None,
            tmp_bytes: 1 << 20,
        });
        assert!(has_seq(&args, &["--setenv", "HOME", SANDBOX_HOME]));
    }

    #[test]
    fn default_limits_are_set() {
        let limits = Limits::default();
        assert!(limits.cpu_seconds >= 600);
        assert!(limits.memory_bytes >= 1 << 30);
        assert!(limits.max_processes >= 64);
        assert!(limits.max_file_bytes >= 1 << 20);
    }

    /// Whether bwrap exists and may create namespaces here; the live tests skip otherwise.
    fn bwrap_works() -> bool {
        let ok = Command::new("bwrap")
            .args(["--ro-bind", "/", "/", "--unshare-all", "--", "/bin/true"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("skipped: bwrap is missing or cannot create namespaces here");
        }
        ok
    }

    fn sandboxed(spec: &SandboxSpec, argv: &[&str]) -> Output {
        Command::new("bwrap")
            .args(bwrap_args(spec))
            .arg("--")
            .args(argv)
            // A server variable that must not leak into the sandbox.
            .env("MCP_BRIDGE_TEST_SECRET", "leaked")
            .output()
            .expect("bwrap runs")
    }

    fn stdout(output: &Output) -> String {
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    #[test]
    fn commands_still_run_after_a_hidden_file_is_removed() {
        if !bwrap_works() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical");
        let (ws, tools) = (root.join("ws"), root.join("tools"));
        std::fs::create_dir(&ws).expect("mkdir");
        std::fs::create_dir(&tools).expect("mkdir");
        let config = tools.join("config.toml");
        std::fs::write(&config, "token = 1").expect("write");
        let (hide, binds) = ([config.clone()], [tools]);
        let spec = SandboxSpec {
            workspace: &ws,
            writable_workspace: false,
            hide: &hide,
            extra_ro_binds: &binds,
            workspace_fd: None,
            tmp_bytes: 1 << 20,
        };
        let path = config.to_string_lossy().into_owned();
        let shown = sandboxed(&spec, &["cat", &path]);
        assert!(!stdout(&shown).contains("token"), "{shown:?}");
        std::fs::remove_file(&config).expect("rm");
        let out = sandboxed(&spec, &["/bin/true"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn bwrap_runs_commands_in_the_sandbox() {
        if !bwrap_works() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let ws = dir.path().canonicalize().expect("canonical");
        std::fs::create_dir(ws.join(".bridge")).expect("mkdir");
        std::fs::write(ws.join(".bridge/key"), "secret").expect("write");
        std::fs::write(ws.join("hello.txt"), "hello").expect("write");
        let hide = [ws.join(".bridge")];
        let spec = SandboxSpec {
            workspace: &ws,
            writable_workspace: false,
            hide: &hide,
            extra_ro_binds: &[],
            workspace_fd: None,
            tmp_bytes: 1 << 20,
        };
        let run = |argv: &[&str]| sandboxed(&spec, argv);

        let out = run(&["/bin/true"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(run(&["cat", "/etc/hostname"]).status.success());
        assert_eq!(stdout(&run(&["cat", "hello.txt"])), "hello");
        assert_eq!(stdout(&run(&["pwd"])).trim(), ws.display().to_string());

        // The hidden directory is an empty mount; its files are gone.
        assert!(!run(&["cat", ".bridge/key"]).status.success());
        assert_eq!(stdout(&run(&["ls", "-A", ".bridge"])), "");

        // Read-only workspace and system; writable private /tmp.
        assert!(!run(&["touch", "new.txt"]).status.success());
        assert!(!run(&["touch", "/usr/x"]).status.success());
        assert!(run(&["touch", "/tmp/x"]).status.success());
        // Files in /tmp and /dev/shm are memory: each is capped (1 MiB here).
        for dir in ["/tmp", "/dev/shm"] {
            let fill = format!("head -c 2097152 /dev/zero > {dir}/big");
            assert!(
                !run(&["sh", "-c", &fill]).status.success(),
                "{dir} is not capped"
            );
        }
        assert!(
            !run(&["touch", "/dev/new"]).status.success(),
            "/dev is writable"
        );

        // Nothing of the host's private places.
        for path in [
            "/root",
            "/home",
            "/etc/shadow",
            "/etc/sudoers",
            "/var",
            "/run",
        ] {
            assert!(!run(&["ls", path]).status.success(), "{path} is visible");
        }

        // Fixed environment only.
        let env = stdout(&run(&["env"]));
        assert!(!env.contains("MCP_BRIDGE_TEST_SECRET"), "{env}");
        assert!(env.contains("TERM=dumb"), "{env}");

        // No network: the only interface is loopback.
        let interfaces = stdout(&run(&["cat", "/proc/net/dev"]));
        let names: Vec<&str> = interfaces
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(str::trim)
            .collect();
        assert_eq!(names, ["lo"], "{interfaces}");

        // Yolo mode may write the workspace, still not the hidden directory.
        let writable = SandboxSpec {
            writable_workspace: true,
            ..spec
        };
        assert!(sandboxed(&writable, &["touch", "new.txt"]).status.success());
        assert!(ws.join("new.txt").exists());
        assert!(
            !sandboxed(&writable, &["touch", ".bridge/other"])
                .status
                .success()
        );
        assert!(!ws.join(".bridge/other").exists());
    }
}
