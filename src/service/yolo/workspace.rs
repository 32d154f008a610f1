//! Which directories may be a YOLO workspace. An agent names the workspace,
//! so it is refused when it could disguise itself on the human's screen
//! (control, bidi or invisible characters, look-alike blanks, combining
//! marks, long runs of spaces) or when commands there could
//! reach far more than a project: `/`, a home directory, a top-level system
//! directory or anything inside the operating system's own trees (its state
//! under `/var` included), and the
//! paths hidden from commands (always the bridge's data directory, with its
//! database, key and passphrase hash, and its configuration file and TLS
//! key): the workspace may not be one, lie inside one or contain one (the runner checks all of it again
//! before every run, `runner::workspace`).

use std::path::{Component, Path, PathBuf};

use crate::display;
use crate::domain::InvalidValue;
use crate::runner::policy;
use crate::service::ServiceError;
use crate::store::Activation;

/// Top-level directories that are never a workspace themselves.
const SYSTEM_TOP: &[&str] = &[
    "bin",
    "boot",
    "dev",
    "etc",
    "home",
    "lib",
    "lib32",
    "lib64",
    "libx32",
    "lost+found",
    "media",
    "mnt",
    "nix",
    "opt",
    "proc",
    "root",
    "run",
    "sbin",
    "snap",
    "srv",
    "sys",
    "tmp",
    "usr",
    "var",
];

/// Top-level directories that nothing inside may be a workspace either: the
/// operating system, its configuration and the kernel's pseudo-filesystems.
const SYSTEM_TREES: &[&str] = &[
    "bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "run", "sbin", "sys",
    "usr",
];

/// Directories under `/var` that hold the operating system's own state —
/// package databases, caches, logs, mail and print queues, backups of its
/// account files — which nothing inside may be a workspace either. Projects
/// do live under `/var` (`/var/www`, `/var/tmp`), so `/var` is not a tree of
/// its own.
const VAR_STATE: &[&str] = &[
    "backups", "cache", "lib", "lock", "log", "mail", "run", "spool",
];

fn refuse(reason: impl Into<String>) -> InvalidValue {
    InvalidValue::new("workspace", reason)
}

/// The home directories of this machine: the server's own (`$HOME`) and
/// every account's in `/etc/passwd`, resolved.
fn home_directories() -> Vec<PathBuf> {
    let mut homes: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        homes.push(PathBuf::from(home));
    }
    if let Ok(passwd) = std::fs::read_to_string("/etc/passwd") {
        homes.extend(
            passwd
                .lines()
                .filter_map(|l| l.split(':').nth(5))
                .filter(|h| h.starts_with('/'))
                .map(PathBuf::from),
        );
    }
    homes
        .into_iter()
        .filter_map(|h| std::fs::canonicalize(h).ok())
        .collect()
}

/// Checks the workspace an agent asked for and returns it resolved.
///
/// # Errors
/// An `invalid_argument` naming the reason: control or invisible characters
/// (in the text given or in the directory it resolves to), not an existing
/// directory, or a directory that is never a workspace.
pub fn check(raw: &str, hidden: &[PathBuf], sandboxed: bool) -> Result<PathBuf, InvalidValue> {
    text_rules(raw)?;
    let path = match std::fs::canonicalize(raw) {
        Ok(p) if p.is_dir() => p,
        _ => return Err(refuse("must be an existing directory")),
    };
    let resolved = path.to_string_lossy();
    if display::has_unsafe(&resolved) {
        return Err(refuse(
            "resolves to a path with control, bidi or invisible characters",
        ));
    }
    if let Some(what) = policy::disguise_in_line(&resolved) {
        return Err(refuse(format!(
            "resolves to a path that holds {what}, which could make it read as another directory on the human's screen (rule disguised-text)"
        )));
    }
    let hidden = crate::runner::hidden_now(hidden);
    check_resolved(&path, &hidden, sandboxed, &home_directories())?;
    Ok(path)
}

/// Checks a stored workspace, resolved when it was asked for, against the
/// same rules again before anything runs in it: the database is only as
/// trustworthy as whoever could write it (a restored backup, an older
/// build's rules), and a workspace these rules refuse must never run a
/// command whatever it says. Paths hidden from commands, and a directory
/// swapped since, are the runner's to check on the directory itself
/// (`runner::check_workspace`).
///
/// # Errors
/// The refusal [`check`] would give.
pub fn recheck(stored: &Path, sandboxed: bool) -> Result<(), InvalidValue> {
    let Some(text) = stored.to_str() else {
        return Err(refuse("is not valid UTF-8"));
    };
    text_rules(text)?;
    check_resolved(stored, &[], sandboxed, &home_directories())
}

/// Whether the workspace an activation holds passes the rules
/// `enable_yolo_mode` applies, checked again before anything is proposed or
/// run there: a row from a restored backup or an older build must not run a
/// command in a workspace those rules refuse (`/etc`), whatever it says.
///
/// # Errors
/// `command_refused` (rule `workspace-not-allowed`) naming the rule.
pub(in crate::service) fn stored_workspace_allowed(
    activation: &Activation,
) -> Result<(), ServiceError> {
    let request = &activation.request;
    recheck(&request.workspace, request.sandbox).map_err(|e| {
        ServiceError::CommandRefused {
            rule: "workspace-not-allowed",
            detail: format!(
                "the activation's {e}; nothing runs there: ask for a new activation with a project directory"
            ),
        }
    })
}

/// The rules on the text of a path, as given or as resolved.
fn text_rules(text: &str) -> Result<(), InvalidValue> {
    if display::has_unsafe(text) {
        return Err(refuse(
            "must not contain control, bidi or invisible characters",
        ));
    }
    if let Some(what) = policy::disguise_in_line(text) {
        return Err(refuse(format!(
            "holds {what}, which could make it read as another directory on the human's screen (rule disguised-text)"
        )));
    }
    Ok(())
}

/// The rules on an already resolved directory.
fn check_resolved(
    path: &Path,
    hidden: &[PathBuf],
    sandboxed: bool,
    homes: &[PathBuf],
) -> Result<(), InvalidValue> {
    let parts: Vec<&str> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => p.to_str(),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [] => return Err(refuse("must not be the root directory /")),
        [top] if SYSTEM_TOP.contains(top) => {
            return Err(refuse(format!(
                "must not be the system directory /{top}; use a project directory"
            )));
        }
        [top, ..] if SYSTEM_TREES.contains(top) => {
            return Err(refuse(format!(
                "must not be inside the system directory /{top}; use a project directory"
            )));
        }
        ["var", state, ..] if VAR_STATE.contains(state) => {
            return Err(refuse(format!(
                "must not be or lie inside /var/{state}, where the operating system keeps its own state; use a project directory"
            )));
        }
        _ => {}
    }
    if homes.iter().any(|h| h == path) {
        return Err(refuse(
            "must not be a home directory (every dotfile, key and credential in it would be in reach); use a project directory inside it",
        ));
    }
    if hidden.iter().any(|h| path.starts_with(h)) {
        return Err(refuse(
            "must not be or lie inside the bridge's data directory (its database, key and passphrase) or another directory hidden from commands",
        ));
    }
    // Not even sandboxed, where the data directory would be masked: the mask
    // covers a path, and a command in a writable workspace can rename a
    // directory above the data directory out from under it.
    if hidden.iter().any(|h| h.starts_with(path)) {
        let how = if sandboxed {
            "a command there could move it out from under the sandbox's mask"
        } else {
            "commands run without the sandbox, which would hide it"
        };
        return Err(refuse(format!(
            "must not contain the bridge's data directory (its database, key and passphrase) or another path it keeps from commands (its configuration file, its TLS key): {how}; use a project directory beside it"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_directories_are_refused_and_projects_are_not() {
        let homes = [PathBuf::from("/home/ann"), PathBuf::from("/root")];
        let data = [PathBuf::from("/home/ann/.local/share/mcp-bridge")];
        let check =
            |p: &str| check_resolved(Path::new(p), &data, false, &homes).map_err(|e| e.to_string());
        // Not even sandboxed: a command could rename `share` and take the
        // data directory out from under the sandbox's mask.
        assert!(check_resolved(Path::new("/home/ann/.local"), &data, true, &homes).is_err());
        assert!(
            check_resolved(
                Path::new("/home/ann/.local/share/mcp-bridge"),
                &data,
                true,
                &homes
            )
            .is_err()
        );
        for refused in [
            "/",
            "/home",
            "/etc",
            "/usr",
            "/tmp",
            "/var",
            "/root",
            "/home/ann",
            "/proc/self",
            "/etc/nginx",
            "/usr/local/src",
            "/dev/shm",
            "/sys/kernel",
            "/home/ann/.local/share/mcp-bridge",
            "/home/ann/.local/share/mcp-bridge/sub",
            "/home/ann/.local",
            "/var/lib",
            "/var/lib/dpkg",
            "/var/lib/apt/lists",
            "/var/cache",
            "/var/log",
            "/var/spool/cron",
            "/var/mail",
            "/var/backups",
            "/var/run",
            "/var/lock",
        ] {
            assert!(check(refused).is_err(), "{refused} was accepted");
        }
        for allowed in [
            "/home/ann/project",
            "/work/repo",
            "/srv/app/src",
            "/tmp/build-1",
            "/var/tmp/x",
            "/var/www/site",
            "/var/library",
        ] {
            assert!(check(allowed).is_ok(), "{allowed}: {:?}", check(allowed));
        }
    }

    #[test]
    fn a_stored_workspace_is_held_to_the_same_rules() {
        for refused in [
            "/etc",
            "/var/lib/dpkg",
            "/srv/\u{5d0}/\u{5d1}",
            "/tmp/x\u{202e}",
        ] {
            assert!(recheck(Path::new(refused), true).is_err(), "{refused}");
        }
        // Not read from the disk: the runner checks the directory itself.
        assert!(recheck(Path::new("/srv/no-such-project"), true).is_ok());
    }

    #[test]
    fn invisible_characters_are_refused_before_anything_else() {
        for raw in [
            "/tmp/x\x1b[2J",
            "/tmp/\u{202e}x",
            "/tmp/a\nmode: safe",
            "/tmp/\u{200b}",
        ] {
            let e = check(raw, &[], true).unwrap_err().to_string();
            assert!(e.contains("control, bidi or invisible"), "{raw:?}: {e}");
        }
    }

    #[test]
    fn look_alike_blanks_and_blank_runs_are_refused_before_the_directory_is_read() {
        for raw in [
            "/tmp/x\u{3000}y",
            "/tmp/x\u{00a0}y",
            "/tmp/r\u{336}m",
            "/tmp/a                 b",
        ] {
            let e = check(raw, &[], true).unwrap_err().to_string();
            assert!(e.contains("disguised-text"), "{raw:?}: {e}");
        }
        assert!(check("/tmp/a b", &[], true).is_err_and(|e| !e.to_string().contains("disguised")));
    }
}
