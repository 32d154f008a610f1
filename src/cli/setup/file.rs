//! Reading and replacing a client's configuration file: follow a symlink to
//! the real file, write a temporary file beside it with the same permissions,
//! fsync, rename over it. A reader never sees half a file, and a failure
//! leaves the old file as it was; a file changed since it was read is not
//! replaced. A project's file is never reached through a symlink that
//! dangles or leaves the project. Also the unified diff `--dry-run` prints.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A configuration file as found on disk.
#[derive(Debug)]
pub struct Current {
    /// The file that is read and replaced (a symlink's target).
    pub real: PathBuf,
    /// Its text, or `None` when it does not exist yet.
    pub text: Option<String>,
    /// Its permission bits, when it exists.
    pub mode: Option<u32>,
    /// Its owner and group, when it exists: kept, so that `setup` run as
    /// root on a user's file (`sudo -E`) leaves it the user's.
    pub owner: Option<(u32, u32)>,
}

/// The file `path` names, symlinks followed: the one [`read`] reads and
/// [`write`] replaces. With `project` (a project's file) the path must stay
/// inside that directory: a repository decides what its `.mcp.json` is, and
/// a link out of it, or one that dangles (which `write` would create at the
/// target), would have setup write a file outside the project.
///
/// # Errors
/// When the path cannot be resolved, or leaves the project.
pub fn resolve(path: &Path, project: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(root) = project {
        stays_inside(path, root)?;
    }
    match fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling symlink (user scope only, see above): write where it
            // points, so the link stays a link.
            Ok(match fs::read_link(path) {
                Ok(target) => path.parent().unwrap_or(Path::new("/")).join(target),
                Err(_) => path.to_owned(),
            })
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Refuses `path` when a symlink on its way down from `root` dangles or
/// leads out of `root`.
fn stays_inside(path: &Path, root: &Path) -> anyhow::Result<()> {
    let Ok(rel) = path.strip_prefix(root) else {
        return Ok(());
    };
    let root_real = fs::canonicalize(root)
        .with_context(|| format!("cannot read the project directory {}", root.display()))?;
    let mut at = root.to_owned();
    for part in rel.components() {
        at.push(part);
        let meta = match fs::symlink_metadata(&at) {
            Ok(m) => m,
            // Nothing below exists: setup creates it, inside the project.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", at.display())),
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        let target = fs::read_link(&at)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        match fs::canonicalize(&at) {
            Ok(real) if real.starts_with(&root_real) => {}
            Ok(real) => anyhow::bail!(
                "{} is a symlink to {}, outside the project {}; setup writes a project's files only inside it: replace the link with a file, or use --scope user",
                at.display(),
                real.display(),
                root.display()
            ),
            Err(_) => anyhow::bail!(
                "{} is a symlink to {target}, which does not exist; setup would create a file wherever the link points, so it leaves it alone: remove the link (or create its target inside the project) and run setup again",
                at.display()
            ),
        }
    }
    Ok(())
}

/// Reads the file [`resolve`] found.
///
/// # Errors
/// When it exists but cannot be read, or is not UTF-8 text.
pub fn read(real: PathBuf) -> anyhow::Result<Current> {
    match crate::cli::input::read_client_config(&real) {
        Ok(text) => {
            let meta =
                fs::metadata(&real).with_context(|| format!("cannot read {}", real.display()))?;
            Ok(Current {
                real,
                text: Some(text),
                mode: Some(meta.permissions().mode() & 0o7777),
                owner: Some((meta.uid(), meta.gid())),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Current {
            real,
            text: None,
            mode: None,
            owner: None,
        }),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", real.display())),
    }
}

/// Replaces `current.real` with `text` atomically, keeping its mode (or
/// giving a new file `new_mode`), creating missing parent directories with
/// `dir_mode`.
///
/// # Errors
/// When a directory or the file cannot be written; the old file is untouched then.
pub fn write(current: &Current, text: &str, new_mode: u32, dir_mode: u32) -> anyhow::Result<()> {
    let path = &current.real;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(dir_mode)
            .create(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let mode = current.mode.unwrap_or(new_mode);
    if mode & 0o200 == 0 {
        // A rename replaces a file whatever its own write bit says; the user
        // made this one read-only, so it is left alone.
        anyhow::bail!(
            "{} is read-only (mode {mode:o}); make it writable (chmod u+w) and run setup again, or add the entry yourself (--dry-run shows it)",
            path.display()
        );
    }
    let tmp = crate::cli::beside(path, &format!("mcp-bridge-{}.tmp", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have narrowed the mode given to open().
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        if let Some((uid, gid)) = current.owner {
            let meta = file.metadata()?;
            if (meta.uid(), meta.gid()) != (uid, gid) {
                // Only root may give a file away (the case that matters: a
                // user's file written by root). Anyone else writes as before,
                // e.g. a user fixing a file an older `sudo -E setup` left root's.
                let _ = std::os::unix::fs::fchown(&file, Some(uid), Some(gid));
            }
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        // Other setups wait on the lock, but a running client (Claude Code
        // saves ~/.claude.json often) does not: what it wrote since the read
        // would be lost.
        if !unchanged(current) {
            return Err(std::io::Error::other(
                "it changed while setup was editing it (a running client saved it?); nothing was written, run setup again",
            ));
        }
        fs::rename(&tmp, path)?;
        // The rename itself reaches the disk with the directory.
        fs::File::open(dir)?.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// Whether the file still holds what [`read`] found.
fn unchanged(current: &Current) -> bool {
    match crate::cli::input::read_client_config(&current.real) {
        Ok(text) => current.text.as_deref() == Some(text.as_str()),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound && current.text.is_none(),
    }
}

/// A unified diff from `old` (absent: a new file) to `new`, labelled with `path`.
pub fn diff(path: &Path, old: Option<&str>, new: &str) -> String {
    let label = path.display().to_string();
    let (from, old) = match old {
        Some(text) => (format!("a{label}"), text),
        None => ("/dev/null".to_owned(), ""),
    };
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&from, &format!("b{label}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_atomically_keeping_mode_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        fs::write(&real, "{}").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let cur = read(resolve(&link, None).unwrap()).unwrap();
        assert_eq!(cur.text.as_deref(), Some("{}"));
        write(&cur, "{\"a\": 1}\n", 0o600, 0o700).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "{\"a\": 1}\n");
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 2, "no temporary file is left behind");

        let fresh = dir.path().join("new/sub/config.toml");
        let cur = read(resolve(&fresh, None).unwrap()).unwrap();
        assert!(cur.text.is_none());
        write(&cur, "x = 1\n", 0o600, 0o700).unwrap();
        assert_eq!(
            fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let sub = dir.path().join("new/sub");
        assert_eq!(
            fs::metadata(sub).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn diff_is_unified() {
        let d = diff(
            Path::new("/h/.codex/config.toml"),
            Some("a = 1\n"),
            "a = 1\nb = 2\n",
        );
        assert_eq!(
            d,
            "--- a/h/.codex/config.toml\n+++ b/h/.codex/config.toml\n@@ -1 +1,2 @@\n a = 1\n+b = 2\n"
        );
        let d = diff(Path::new("/p/.mcp.json"), None, "{}\n");
        assert!(
            d.starts_with("--- /dev/null\n+++ b/p/.mcp.json\n@@ -0,0 +1 @@\n+{}\n"),
            "{d}"
        );
    }
}
