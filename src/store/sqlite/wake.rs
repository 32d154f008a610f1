//! Cross-process wake-ups for SQLite: a small `<db>-wake` file that a writer
//! touches right after committing a message, watched with inotify.
//!
//! Watching the `-wal` file instead would fire a moment *before* the commit is
//! visible (the WAL frames are written before the WAL index is updated), so a
//! woken reader could miss the message and go back to sleep. Touching a file
//! after `COMMIT` returns orders the event after visibility. Where inotify is
//! unavailable the feed's fallback interval still finds the message.
//!
//! An event only says that *some* process touched the file, this one
//! included, so it is not passed to the waiters as it is: the store first
//! asks SQLite whether another connection committed (see
//! [`SqliteStore::watch_other_writers`]). Otherwise every message this process
//! stored would wake every long-poll it holds, not just its recipients'.

use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{FALLBACK_POLL, SqliteStore, sql_err};

use tokio::sync::Notify;

/// The writer's side: a file to touch after each message commit.
#[derive(Debug)]
pub struct WakeFile {
    path: PathBuf,
    file: Option<File>,
    counter: AtomicU64,
}

impl WakeFile {
    /// Opens (creating, mode 0600) the wake file beside `db`. Failing to open it
    /// only degrades wake-ups to the fallback interval, so it is not an error.
    pub fn open(db: &Path) -> Self {
        let path = wake_path(db);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .inspect_err(|e| tracing::warn!(path = %path.display(), error = %e, "cannot open the wake-up file; long-polls fall back to polling"))
            .ok();
        Self {
            path,
            file,
            counter: AtomicU64::new(0),
        }
    }

    /// Signals other processes; call after a commit that stored a message.
    pub fn touch(&self) {
        if let Some(file) = &self.file {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            // One small positional write: a single IN_MODIFY event, no growth.
            let _ = file.write_at(&n.to_le_bytes(), 0);
        }
    }

    /// Starts signalling `touched` whenever any process touches the wake
    /// file (needs a Tokio runtime).
    pub fn watch(&self, touched: Arc<Notify>) {
        watch(&self.path, touched);
    }
}

fn wake_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push("-wake");
    db.with_file_name(name)
}

#[cfg(target_os = "linux")]
fn watch(path: &Path, touched: Arc<Notify>) {
    use futures_util::StreamExt;
    use inotify::{Inotify, WatchMask};

    let started = Inotify::init().and_then(|inotify| {
        inotify.watches().add(path, WatchMask::MODIFY)?;
        inotify.into_event_stream([0u8; 256])
    });
    match started {
        Ok(mut events) => {
            tokio::spawn(async move {
                while let Some(event) = events.next().await {
                    if event.is_err() {
                        break;
                    }
                    touched.notify_one();
                }
            });
        }
        Err(e) => {
            tracing::warn!(error = %e, "inotify unavailable; long-polls fall back to polling");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn watch(_path: &Path, _touched: Arc<Notify>) {}

impl SqliteStore {
    /// While anyone waits, checks `PRAGMA data_version` whenever the wake
    /// file is touched and every [`FALLBACK_POLL`], and wakes every feed when
    /// another connection committed since the last look: one query per
    /// process instead of one per waiter. This process's own commits (which
    /// touch the file too) do not change this connection's `data_version`,
    /// and have already woken just their recipients' waiters.
    pub(super) fn watch_other_writers(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let touched = Arc::new(tokio::sync::Notify::new());
        self.inner.wake.watch(Arc::clone(&touched));
        let weak = Arc::downgrade(&self.inner);
        drop(runtime.spawn(async move {
            // `None`: not looked since the last time nobody waited, so a
            // commit may have slipped in unseen; the first look wakes everyone.
            let mut last: Option<i64> = None;
            loop {
                tokio::select! {
                    () = tokio::time::sleep(FALLBACK_POLL) => {}
                    () = touched.notified() => {}
                }
                let Some(inner) = weak.upgrade() else { return };
                if !inner.hub.has_feeds() {
                    last = None;
                    continue;
                }
                let store = SqliteStore { inner };
                let version = store
                    .call(|conn| {
                        conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))
                            .map_err(sql_err)
                    })
                    .await;
                match version {
                    Ok(version) if last == Some(version) => {}
                    Ok(version) => {
                        store.inner.hub.notify();
                        last = Some(version);
                    }
                    // Cannot tell: let the waiters look for themselves.
                    Err(_) => {
                        store.inner.hub.notify();
                        last = None;
                    }
                }
            }
        }));
    }
}
