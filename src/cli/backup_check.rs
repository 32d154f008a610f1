//! Checking a database-file backup with its key file before `restore` lets it
//! replace anything. The backup is copied into a private staging directory
//! beside the target, opened there as a database of its own with the key
//! file that comes with it, and checked (`Bridge::check_restorable`). The
//! restore then copies from that checked copy, so a backup file changed in
//! the meantime cannot slip through. The staging directory is removed
//! whatever happens.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::DbArgs;
use crate::app::{App, AppStore};
use crate::service::{Bridge, ServiceError};
use crate::store::sqlite::OpenMode;

/// A checked copy of a backup, in a private directory removed on drop.
pub(super) struct Staged {
    dir: PathBuf,
    /// The checked copy of the database.
    pub(super) db: PathBuf,
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Copies `src` to `dest`, created new with mode 0600.
fn copy_private(src: &Path, dest: &Path) -> anyhow::Result<()> {
    let what = format!("cannot restore {}", src.display());
    let mut from = super::input::open_regular(src, &what)?;
    let mut to = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dest)
        .with_context(|| format!("cannot write {}", dest.display()))?;
    std::io::copy(&mut from, &mut to).with_context(|| what.clone())?;
    to.flush()?;
    Ok(())
}

/// Stages `backup` beside `target` with `key` (the key file's bytes) and
/// checks it.
///
/// Returns `Ok(Err(why))` when the backup is refused: it fails a check, so
/// nothing may change; `Err` for failures of this machine (the directory
/// cannot be written, the database cannot be read).
pub(super) fn stage(
    db: &DbArgs,
    target: &Path,
    backup: &Path,
    key: &[u8],
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Result<Staged, String>> {
    let dir = super::beside(target, &format!("restore-{}", std::process::id()));
    // A leftover from a killed restore of this same process id is ours to clear.
    let _ = fs::remove_dir_all(&dir);
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let staged = Staged {
        db: dir.join("bridge.db"),
        dir,
    };
    copy_private(backup, &staged.db)?;
    // The copy is what is opened and restored: checked again, or a file
    // swapped after the first check would be migrated with the key.
    if let Err(e) = Bridge::<AppStore>::check_backup_to_restore(&staged.db) {
        return Ok(Err(e.to_string()));
    }
    let key_file = staged.dir.join("bridge.key");
    super::transfer::write_private(&key_file, |w| w.write_all(key))?;
    let mut config = db.config.load()?;
    config.key_file = Some(key_file);
    let app = match App::open(&staged.db, config, OpenMode::Existing) {
        Ok(app) => app,
        // Opening brings an older schema up to date, which signs the chain
        // head: a key file of another database can fail already here.
        Err(e) => return Ok(Err(format!("it does not open with its key file: {e:#}"))),
    };
    match runtime.block_on(app.bridge.check_restorable()) {
        Ok(()) => Ok(Ok(staged)),
        Err(ServiceError::BadBackup(why)) => Ok(Err(why)),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot check {}", backup.display()))),
    }
}
