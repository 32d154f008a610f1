//! An advisory lock around `setup`'s read-modify-write of one client file, on
//! a hidden sidecar file beside it. Two `setup`s run at once (a script
//! configuring several clients, or several names) used to read the same old
//! text and each rename its own version over it, losing the other's entry.
//!
//! The lock cannot live on the client file itself: the atomic rename
//! replaces that inode, so a second process could lock the old one. The
//! sidecar is removed when the holder is done, so none is left beside the
//! user's files; a waiter that then gets the lock on the removed inode sees
//! that the path no longer names it, and opens the new one.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A held lock; released (and its file removed) when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    file: fs::File,
}

/// How many times [`acquire`] opens the sidecar afresh after finding that
/// the file it locked is no longer the one at the path. Each retry means
/// another holder finished (and removed its file) meanwhile, so this bounds
/// only a pathological case instead of spinning forever.
const TRIES: usize = 64;

/// Waits for the lock of the client file `target` (the real file, after
/// symlinks), in `target`'s directory, which must exist. `None` when that
/// directory cannot hold the sidecar (read-only, or not the user's, as a
/// file linked into a system-managed store): setup could not replace the
/// file there either, and still has to say "already configured".
///
/// The sidecar is opened without following a symlink: a cloned repository
/// can ship one at the sidecar's name, and following it created a file
/// wherever it led (and the lock, on that other file, never matched the
/// path, so setup spun forever). A symlink or anything else that is not a
/// regular file there is refused, naming it.
///
/// # Errors
/// When the sidecar is a symlink or not a regular file, cannot be opened or
/// locked for another reason, or keeps being replaced while waited for.
pub fn acquire(target: &Path) -> anyhow::Result<Option<Lock>> {
    let path = crate::cli::beside(target, "mcp-bridge.lock");
    let fail = |e: std::io::Error| {
        anyhow::Error::new(e).context(format!("cannot lock {}", path.display()))
    };
    for _ in 0..TRIES {
        let opened = crate::regular_file::open_lock(&path);
        let file = match opened {
            Ok(file) => file,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => anyhow::bail!(
                "cannot lock {}: it is a symlink; remove it and run setup again",
                path.display()
            ),
            Err(e) if unwritable(&e) => return Ok(None),
            Err(e) => return Err(fail(e)),
        };
        let held = file.metadata().map_err(fail)?;
        if !held.file_type().is_file() {
            anyhow::bail!(
                "cannot lock {}: it is not a regular file; remove it and run setup again",
                path.display()
            );
        }
        file.lock().map_err(fail)?;
        // The previous holder removes the file before it unlocks; a lock on
        // that unlinked inode excludes nobody.
        let current = fs::symlink_metadata(&path).ok();
        if current.is_some_and(|c| (c.dev(), c.ino()) == (held.dev(), held.ino())) {
            return Ok(Some(Lock { path, file }));
        }
    }
    anyhow::bail!(
        "cannot lock {}: it was replaced {TRIES} times while waiting for it; \
         check what else is writing there and run setup again",
        path.display()
    )
}

fn unwritable(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem
    )
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still locked, so no one can lock this inode and
        // believe it current (see `acquire`).
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Opens the lock of `target` for a caller that needs `target`'s directory
/// created first.
///
/// # Errors
/// As [`acquire`], or when the directory cannot be created.
pub fn acquire_creating(target: &Path, dir_mode: u32) -> anyhow::Result<Option<Lock>> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(dir_mode)
            .create(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    acquire(target)
}
