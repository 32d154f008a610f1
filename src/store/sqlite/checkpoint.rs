//! When the WAL is folded back into the database file.
//!
//! SQLite's automatic checkpoint runs inside the `COMMIT` that crosses the
//! threshold, so that commit — and the long-poll wake-up that follows it —
//! waits for the checkpoint's page copies and fsyncs (milliseconds). Instead a
//! WAL hook only records the WAL's size, and the store checkpoints (PASSIVE:
//! never blocking other connections) on the blocking pool after the commit
//! has been announced, through a connection of its own so that requests never
//! queue behind the checkpoint's writes and fsyncs. Every process does this
//! for its own commits, so the WAL stays bounded as long as any process writes.
//!
//! A checkpoint copies without blocking anyone (PASSIVE), then has the WAL
//! started over (RESTART) if the write lock is free at that moment. When not,
//! the WAL keeps its size and the next commit would find a checkpoint due
//! again: claims are spaced by [`RETRY_FRAMES`] of growth, or every commit
//! would hand a checkpoint to the blocking pool (a thread wake-up per call).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, OpenFlags};

use super::sql_err;
use crate::store::StoreError;

/// WAL frames (1 KiB pages) after which a checkpoint is run: about 4 MiB.
const CHECKPOINT_FRAMES: i32 = 4000;

/// How much the WAL must grow after a checkpoint that left it in place
/// before the next one is claimed (a few dozen commits).
const RETRY_FRAMES: i32 = 256;

/// At most this many frames are left for the RESTART checkpoint to copy
/// while it holds the write lock (a handful of commits).
const RESTART_FRAMES: i32 = 64;

/// How many non-blocking copies a checkpoint makes to catch up with writers
/// before it leaves the restart to a later claim.
const PASSIVE_ROUNDS: usize = 3;

/// Tracks the WAL size and whether a checkpoint is already under way.
#[derive(Debug)]
pub struct Checkpointer {
    frames: Arc<AtomicI32>,
    /// The WAL's size when the last checkpoint was claimed.
    claimed_at: AtomicI32,
    running: AtomicBool,
    path: PathBuf,
    /// The checkpointing connection, opened on first use.
    conn: Mutex<Option<Connection>>,
}

impl Checkpointer {
    /// Replaces SQLite's automatic checkpoint on `conn` with size tracking.
    ///
    /// # Errors
    /// When the hook cannot be registered.
    pub fn install(conn: &mut Connection, path: PathBuf) -> Result<Self, StoreError> {
        let frames = Arc::new(AtomicI32::new(0));
        let seen = Arc::clone(&frames);
        conn.wal_hook(Some(
            move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
                seen.store(pages, Ordering::Relaxed);
                Ok(())
            },
        ))
        .map_err(sql_err)?;
        Ok(Self {
            frames,
            claimed_at: AtomicI32::new(0),
            running: AtomicBool::new(false),
            path,
            conn: Mutex::new(None),
        })
    }

    /// Whether a checkpoint is due and not yet running; if so, the caller runs
    /// it and calls [`Checkpointer::release`] afterwards.
    pub fn claim(&self) -> bool {
        let frames = self.frames.load(Ordering::Relaxed);
        let mut last = self.claimed_at.load(Ordering::Relaxed);
        if frames < last {
            // Smaller than at the last claim: the WAL was restarted since.
            self.claimed_at.store(0, Ordering::Relaxed);
            last = 0;
        }
        let due = frames >= CHECKPOINT_FRAMES && frames >= last + RETRY_FRAMES;
        if !due || self.running.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.claimed_at.store(frames, Ordering::Relaxed);
        true
    }

    /// Marks the checkpoint as finished.
    pub fn release(&self) {
        self.running.store(false, Ordering::Release);
    }
}

impl Checkpointer {
    /// Runs a passive checkpoint on the checkpointing connection (blocking).
    ///
    /// # Errors
    /// When the connection cannot be opened or SQLite reports an error.
    pub fn run(&self) -> Result<(), StoreError> {
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(&self.path, flags).map_err(sql_err)?;
            // A connection that has not read the database yet does not know
            // it is in WAL mode: its checkpoints return (-1, -1) and copy
            // nothing, and the WAL grew without bound. Reading the journal
            // mode opens the WAL.
            let mode: String = conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .map_err(sql_err)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Corrupt(format!(
                    "the checkpointing connection found journal mode {mode}, not WAL"
                )));
            }
            *slot = Some(conn);
        }
        let Some(conn) = slot.as_mut() else {
            return Ok(());
        };
        // Under steady writes a commit nearly always lands while the copy
        // runs, so no write ever begins on a fully copied WAL, which is when
        // SQLite starts it over: it grew without end. So the copy is repeated
        // (each round shorter) until little is left, and then a RESTART
        // checkpoint copies the rest under the write lock, so the next write
        // starts the WAL over. It holds that lock meanwhile, so it runs only
        // when a few frames remain,
        // and, with no busy handler on this connection, only if the lock is
        // free at once (else `Busy`, and a later claim tries again).
        for _ in 0..PASSIVE_ROUNDS {
            let (log, copied) = conn
                .wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE)
                .map_err(sql_err)?;
            tracing::debug!(log, copied, "checkpoint");
            if self.frames.load(Ordering::Relaxed) - copied > RESTART_FRAMES {
                continue;
            }
            match conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::RESTART) {
                Ok((log, copied)) => {
                    tracing::debug!(log, copied, "WAL copied; the next write starts it over")
                }
                Err(e) => match sql_err(e) {
                    StoreError::Busy => {
                        tracing::debug!("WAL in use; a later checkpoint starts it over")
                    }
                    other => return Err(other),
                },
            }
            break;
        }
        Ok(())
    }
}

impl super::SqliteStore {
    /// Checkpoints the WAL in the background once it has grown past the
    /// threshold — after the commit has been announced and answered, so no
    /// reader or writer waits for the fsyncs a checkpoint does.
    pub(super) fn checkpoint_if_due(&self) {
        if !self.inner.checkpointer.claim() {
            return;
        }
        let inner = Arc::clone(&self.inner);
        let work = move || {
            let done = inner.checkpointer.run();
            inner.checkpointer.release();
            if let Err(e) = done {
                tracing::debug!(error = %e, "checkpoint skipped");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(work)),
            Err(_) => self.inner.checkpointer.release(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_db(path: &std::path::Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             CREATE TABLE t (v BLOB);",
        )
        .unwrap();
        conn
    }

    /// One commit of about `pages` pages of new rows.
    fn grow(conn: &Connection, pages: usize) {
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             INSERT INTO t (v) SELECT zeroblob(900) FROM n",
            [i64::try_from(pages).unwrap()],
        )
        .unwrap();
    }

    #[test]
    fn a_checkpoint_lets_the_wal_start_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = wal_db(&path);
        let checkpointer = Checkpointer::install(&mut conn, path.clone()).unwrap();
        grow(&conn, 4500);
        let before = checkpointer.frames.load(Ordering::Relaxed);
        assert!(before >= CHECKPOINT_FRAMES, "WAL of {before} frames");
        assert!(checkpointer.claim());
        checkpointer.run().unwrap();
        checkpointer.release();
        // Everything was copied back, so the next commit starts the WAL over.
        grow(&conn, 1);
        let after = checkpointer.frames.load(Ordering::Relaxed);
        assert!(after < 100, "WAL still {after} frames after a checkpoint");
        assert!(!checkpointer.claim());
    }

    #[test]
    fn an_unfinished_checkpoint_is_not_retried_on_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = wal_db(&path);
        let checkpointer = Checkpointer::install(&mut conn, path).unwrap();
        // A checkpoint that copied nothing (as when commits keep landing
        // while it runs) leaves the WAL as it was.
        grow(&conn, 4500);
        assert!(checkpointer.claim());
        checkpointer.release();
        grow(&conn, 1);
        assert!(!checkpointer.claim(), "claimed again after a small commit");
        grow(&conn, usize::try_from(RETRY_FRAMES).unwrap());
        assert!(checkpointer.claim(), "not claimed after the WAL grew on");
        checkpointer.release();
    }
}
