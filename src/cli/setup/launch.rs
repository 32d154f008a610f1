//! How a client should start this bridge: the command, its arguments and the
//! tool timeout every client entry gets. Also recognises an existing client
//! entry as one that starts an `mcp-bridge` server, for `doctor`.
//!
//! Pure apart from reading `PATH` entries' metadata: no file is written here.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

use crate::domain::LONG_POLL_CAP_SECONDS;
use crate::store::postgres::is_url;

/// The longest `timeout_s` `enable_yolo_mode` accepts: an `execute_command`
/// call may legitimately run this long. (A unit test checks it against the
/// tool's published schema.)
const MAX_COMMAND_TIMEOUT_S: u64 = 600;

/// Slack on top of the longest legitimate call, for start-up, the sandbox,
/// a git snapshot and the answer's way back.
const TIMEOUT_MARGIN_S: u64 = 30;

/// The tool-call timeout setup writes into each client, in seconds: longer
/// than the longest call the bridge can legitimately take (a long-poll, or a
/// YOLO command at its maximum timeout), so a client never gives up on a
/// call that is still doing what it was asked to.
pub const TOOL_TIMEOUT_S: u64 =
    max(LONG_POLL_CAP_SECONDS, MAX_COMMAND_TIMEOUT_S) + TIMEOUT_MARGIN_S;

const fn max(a: u64, b: u64) -> u64 {
    if a > b { a } else { b }
}

/// The name this binary is installed under.
pub const BINARY_NAME: &str = "mcp-bridge";

/// The Python package (wheel) that ships this binary, and the launcher
/// script of the same name in it.
pub const PACKAGE_NAME: &str = "mcp-multiagent-bridge";

/// Programs that run a Python package's executable from a cache.
const LAUNCHERS: [&str; 3] = ["uvx", "uv", "pipx"];

/// The command line a client runs to start the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// `mcp-bridge` when that name on `PATH` is this very binary, else its absolute path.
    pub command: String,
    /// `serve`, then `--db PATH` when a database was given.
    pub args: Vec<String>,
}

impl Launch {
    /// The launch line for the binary at `exe`, with `db` (made absolute
    /// against `cwd`) if given. `path_var` is the `PATH` to look in.
    ///
    /// # Errors
    /// When a path is not valid UTF-8 (client configuration files are text).
    pub fn resolve(
        exe: &Path,
        path_var: Option<&OsStr>,
        db: Option<&Path>,
        cwd: &Path,
    ) -> anyhow::Result<Launch> {
        let exe = std::fs::canonicalize(exe)
            .with_context(|| format!("cannot resolve this program's path {}", exe.display()))?;
        let mut args = Vec::new();
        // Run by `uvx`, this file lives in uv's cache, which `uv cache clean`
        // empties (and uvx puts it on PATH only for this run): the client
        // should ask uvx each time instead. Checked first for that reason.
        let command = if in_uv_cache(&exe) && find_command("uvx", path_var).is_some() {
            args.push(PACKAGE_NAME.to_owned());
            "uvx".to_owned()
        } else if on_path(path_var).as_deref() == Some(exe.as_path()) {
            BINARY_NAME.to_owned()
        } else {
            utf8(&exe)?.to_owned()
        };
        args.push("serve".to_owned());
        if let Some(url) = db.and_then(Path::to_str).filter(|d| is_url(d)) {
            // A PostgreSQL URL is not a path: made "absolute" against the
            // working directory it would name a file no server can open.
            args.push("--db".to_owned());
            args.push(url.to_owned());
        } else if let Some(db) = db {
            let db = if db.is_absolute() {
                db.to_owned()
            } else {
                cwd.join(db)
            };
            args.push("--db".to_owned());
            args.push(utf8(&normalize(&db))?.to_owned());
        }
        Ok(Launch { command, args })
    }

    /// The command line as a shell would show it.
    pub fn display(&self) -> String {
        std::iter::once(&self.command)
            .chain(&self.args)
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The canonical path of the first executable `mcp-bridge` on `path_var`.
fn on_path(path_var: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path_var?)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(BINARY_NAME))
        .find(|p| is_executable(p))
        .and_then(|p| std::fs::canonicalize(p).ok())
}

/// Whether `exe` sits in uv's cache (`<cache>/archive-v0/<id>/bin/…`, the
/// cache root marked by `CACHEDIR.TAG`), as it does when run by `uvx`.
fn in_uv_cache(exe: &Path) -> bool {
    exe.ancestors().any(|dir| {
        dir.file_name() == Some(OsStr::new("archive-v0"))
            && dir
                .parent()
                .is_some_and(|root| root.join("CACHEDIR.TAG").is_file())
    })
}

/// Whether `path` is an executable regular file (following links).
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Resolves `command` as a client would: a path as it is, a bare name on `path_var`.
pub fn find_command(command: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    if command.contains('/') {
        let p = PathBuf::from(command);
        return is_executable(&p).then_some(p);
    }
    std::env::split_paths(path_var?)
        .map(|dir| dir.join(command))
        .find(|p| is_executable(p))
}

/// Drops `.` and resolves `..` lexically, so the path written is the one a
/// human would type; symlinks are left alone (the file may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn utf8(path: &Path) -> anyhow::Result<&str> {
    path.to_str().with_context(|| {
        format!(
            "{} is not valid UTF-8; client configuration files need text paths",
            path.display()
        )
    })
}

/// Quotes `word` for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A client entry that starts an `mcp-bridge` server, as found in a client's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The command as written.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Whether a package launcher (`uvx`, `uv tool run`, `pipx run`) starts
    /// the bridge, rather than the command being the bridge itself.
    pub via_launcher: bool,
    /// The database it names (`--db`, a positional path or `MCP_BRIDGE_DB` in
    /// the entry's environment), if any.
    pub db: Option<PathBuf>,
    /// The arguments after `serve`.
    pub serve_args: Vec<String>,
}

impl Invocation {
    /// Recognises an entry (`command`, `args`, `env` keys, as every client
    /// spells them) that runs `mcp-bridge serve`; `None` for anything else.
    pub fn recognise(entry: &Value) -> Option<Invocation> {
        let command = entry.get("command")?.as_str()?.to_owned();
        let args: Vec<String> = match entry.get("args") {
            None => Vec::new(),
            Some(a) => a
                .as_array()?
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()?,
        };
        let name = Path::new(&command).file_name()?.to_str()?;
        let (serve_args, via_launcher) = if name == BINARY_NAME || name == PACKAGE_NAME {
            (&args[..], false)
        } else if LAUNCHERS.contains(&name) {
            (after_package(&args)?, true)
        } else {
            return None;
        };
        let rest = serve_args.strip_prefix(&["serve".to_owned()])?;
        let db = db_argument(rest).or_else(|| {
            entry
                .get("env")
                .and_then(|e| e.get("MCP_BRIDGE_DB"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        });
        Some(Invocation {
            serve_args: rest.to_vec(),
            command,
            args,
            via_launcher,
            db,
        })
    }
}

/// A launcher's arguments after the package: `uvx [opts] mcp-multiagent-bridge[@v] ARGS`,
/// `uvx --from mcp-multiagent-bridge mcp-bridge ARGS`, `uv tool run …`, `pipx run …`.
fn after_package(args: &[String]) -> Option<&[String]> {
    let is_package = |a: &str| {
        a.strip_prefix(PACKAGE_NAME)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['@', '=', '<', '>', '~', '[']))
    };
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--from" && args.get(i + 1).is_some_and(|p| is_package(p)) {
            let exe = args.get(i + 2)?;
            return (exe == BINARY_NAME || exe == PACKAGE_NAME).then(|| &args[i + 3..]);
        }
        if is_package(a) {
            return Some(&args[i + 1..]);
        }
        i += 1;
    }
    None
}

/// The database named by `serve`'s arguments: `--db PATH`, `--db=PATH` or a positional path.
fn db_argument(args: &[String]) -> Option<PathBuf> {
    let mut iter = args.iter();
    let mut positional = None;
    while let Some(arg) = iter.next() {
        if arg == "--db" {
            return iter.next().map(PathBuf::from);
        } else if let Some(path) = arg.strip_prefix("--db=") {
            return Some(PathBuf::from(path));
        } else if arg == "--config" {
            iter.next();
        } else if !arg.starts_with('-') && positional.is_none() {
            positional = Some(PathBuf::from(arg));
        }
    }
    positional
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timeout_covers_the_longest_call_the_tools_allow() {
        let schema = schemars::schema_for!(crate::mcp::params::EnableYoloModeParams);
        let max = schema
            .get("properties")
            .and_then(|p| p.get("timeout_s"))
            .and_then(|t| t.get("maximum"))
            .and_then(Value::as_u64)
            .expect("timeout_s has a maximum");
        assert_eq!(max, MAX_COMMAND_TIMEOUT_S);
        const { assert!(TOOL_TIMEOUT_S > MAX_COMMAND_TIMEOUT_S) };
        const { assert!(TOOL_TIMEOUT_S > LONG_POLL_CAP_SECONDS) };
    }

    #[test]
    fn command_is_the_bare_name_only_when_path_finds_this_binary() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let exe = bin.join(BINARY_NAME);
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link_dir = dir.path().join("links");
        std::fs::create_dir(&link_dir).unwrap();
        std::os::unix::fs::symlink(&exe, link_dir.join(BINARY_NAME)).unwrap();
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::copy(&exe, other.join(BINARY_NAME)).unwrap();
        let cwd = dir.path();

        let via_link = std::env::join_paths([&link_dir]).unwrap();
        let l = Launch::resolve(&exe, Some(&via_link), None, cwd).unwrap();
        assert_eq!(l.command, "mcp-bridge");
        assert_eq!(l.args, ["serve"]);

        let shadowed = std::env::join_paths([&other, &bin]).unwrap();
        let l = Launch::resolve(&exe, Some(&shadowed), None, cwd).unwrap();
        let canonical = std::fs::canonicalize(&exe).unwrap();
        assert_eq!(l.command, canonical.to_str().unwrap());

        let l = Launch::resolve(&exe, None, Some(Path::new("data/../x/b.db")), cwd).unwrap();
        let db = cwd.join("x/b.db");
        assert_eq!(l.args, ["serve", "--db", db.to_str().unwrap()]);
    }

    #[test]
    fn a_postgres_url_is_written_as_given_not_as_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join(BINARY_NAME);
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        for url in ["postgres://u@db.example:5432/bridge", "postgresql://h/b"] {
            let l = Launch::resolve(&exe, None, Some(Path::new(url)), dir.path()).unwrap();
            assert_eq!(l.args, ["serve", "--db", url]);
        }
    }

    #[test]
    fn a_binary_in_uvs_cache_is_launched_through_uvx() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("uv-cache");
        let bin = cache.join("archive-v0/AbCd/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(
            cache.join("CACHEDIR.TAG"),
            "Signature: 8a477f597d28d172789f06886806bc55",
        )
        .unwrap();
        let exe = bin.join(BINARY_NAME);
        let tools = dir.path().join("tools");
        std::fs::create_dir(&tools).unwrap();
        for f in [&exe, &tools.join("uvx")] {
            std::fs::write(f, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        // uvx puts the tool's own bin directory on PATH while it runs it.
        let path = std::env::join_paths([&tools, &bin]).unwrap();
        let l = Launch::resolve(&exe, Some(&path), Some(Path::new("/d/b.db")), dir.path()).unwrap();
        assert_eq!(l.command, "uvx");
        assert_eq!(
            l.args,
            ["mcp-multiagent-bridge", "serve", "--db", "/d/b.db"]
        );
        let entry = json!({"command": l.command, "args": l.args});
        assert!(Invocation::recognise(&entry).unwrap().via_launcher);
        // Without uvx on PATH, the binary's own path is all there is.
        let l = Launch::resolve(&exe, None, None, dir.path()).unwrap();
        assert_eq!(Path::new(&l.command), std::fs::canonicalize(&exe).unwrap());
    }

    #[test]
    fn recognises_bridge_entries_and_their_database() {
        let e = json!({"command": "/opt/bin/mcp-bridge", "args": ["serve", "--db", "/d/b.db"]});
        let i = Invocation::recognise(&e).unwrap();
        assert_eq!(i.db, Some(PathBuf::from("/d/b.db")));
        let e =
            json!({"command": "mcp-bridge", "args": ["serve", "--config", "/c.toml", "/d/p.db"]});
        assert_eq!(
            Invocation::recognise(&e).unwrap().db,
            Some(PathBuf::from("/d/p.db"))
        );
        let e =
            json!({"command": "mcp-bridge", "args": ["serve"], "env": {"MCP_BRIDGE_DB": "/e.db"}});
        assert_eq!(
            Invocation::recognise(&e).unwrap().db,
            Some(PathBuf::from("/e.db"))
        );
        let e = json!({"command": "mcp-bridge", "args": ["serve"]});
        assert_eq!(Invocation::recognise(&e).unwrap().db, None);
        for (launched, db) in [
            (
                json!({"command": "uvx", "args": ["mcp-multiagent-bridge", "serve"]}),
                None,
            ),
            (
                json!({"command": "uvx", "args": ["mcp-multiagent-bridge@0.1.0", "serve", "--db", "/u.db"]}),
                Some("/u.db"),
            ),
            (
                json!({"command": "uvx", "args": ["--from", "mcp-multiagent-bridge", "mcp-bridge", "serve"]}),
                None,
            ),
            (
                json!({"command": "/usr/bin/uv", "args": ["tool", "run", "mcp-multiagent-bridge", "serve"]}),
                None,
            ),
            (
                json!({"command": "pipx", "args": ["run", "mcp-multiagent-bridge", "serve"]}),
                None,
            ),
        ] {
            let i = Invocation::recognise(&launched).unwrap_or_else(|| panic!("{launched}"));
            assert!(i.via_launcher);
            assert_eq!(i.db, db.map(PathBuf::from));
        }
        for other in [
            json!({"command": "uvx", "args": ["mcp-multiagent-bridge", "demo"]}),
            json!({"command": "uvx", "args": ["other-package", "serve"]}),
            json!({"command": "mcp-bridge", "args": ["demo"]}),
            json!({"command": "npx", "args": ["serve"]}),
            json!({"url": "http://x"}),
            json!({"command": "mcp-bridge", "args": "serve"}),
        ] {
            assert_eq!(Invocation::recognise(&other), None, "{other}");
        }
    }

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("/usr/bin/mcp-bridge"), "/usr/bin/mcp-bridge");
        assert_eq!(shell_quote("/my dir/b.db"), "'/my dir/b.db'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
