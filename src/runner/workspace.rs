//! The workspace a command runs in, checked again at every run.
//!
//! A workspace is checked and resolved when an agent asks for it, and the
//! human confirms that resolved path. A command that ran since (in yolo mode
//! the workspace, and the directories around it, may be writable) can have
//! replaced a directory on that path with a symlink — to the bridge's data
//! directory, say — and bwrap, binding the path, would follow it. So before
//! each run the workspace is opened, the directory actually opened is read
//! back from `/proc/self/fd`, and the run is refused unless it is still the
//! confirmed path and neither lies in nor holds a hidden directory; the
//! sandbox then binds that open directory (`--bind-fd`), not the path.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::RunError;

/// Opens `workspace` (a canonical path) and checks that it is still that
/// directory and clear of every `hide` directory.
///
/// # Errors
/// [`RunError::Workspace`] saying what changed, or [`RunError::HoldsHidden`].
pub(super) fn pin(workspace: &Path, hide: &[PathBuf]) -> Result<File, RunError> {
    let changed = |what: String| RunError::Workspace(what);
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(workspace)
        .map_err(|e| {
            changed(format!(
                "the workspace {} cannot be opened as a directory ({e})",
                workspace.display()
            ))
        })?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&dir);
    let opened = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map_err(|e| changed(format!("the workspace cannot be checked ({e})")))?;
    if opened != workspace {
        return Err(changed(format!(
            "the workspace {} now leads to {} (a directory on its path was replaced or moved since it was confirmed)",
            workspace.display(),
            opened.display()
        )));
    }
    if super::hidden_now(hide)
        .iter()
        .any(|h| h.starts_with(&opened) || opened.starts_with(h))
    {
        return Err(RunError::HoldsHidden(format!(
            "the workspace {} holds or lies in the bridge's data directory or another path it keeps from commands (its configuration, its TLS key)",
            workspace.display()
        )));
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_swapped_for_a_symlink_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical");
        let (ws, elsewhere) = (root.join("ws"), root.join("data"));
        std::fs::create_dir(&ws).expect("mkdir");
        std::fs::create_dir(&elsewhere).expect("mkdir");
        assert!(pin(&ws, &[]).is_ok());
        let hidden = [elsewhere.clone()];
        let inside = pin(&root, &hidden).expect_err("it holds the data directory");
        assert!(inside.to_string().contains("data directory"), "{inside}");

        std::fs::remove_dir(&ws).expect("rmdir");
        std::os::unix::fs::symlink(&elsewhere, &ws).expect("symlink");
        let swapped = pin(&ws, &[]).expect_err("swapped");
        assert!(swapped.to_string().contains("now leads to"), "{swapped}");
        std::fs::remove_file(&ws).expect("rm");
        assert!(pin(&ws, &[]).is_err(), "gone");
    }
}
