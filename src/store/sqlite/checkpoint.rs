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

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, OpenFlags};

use super::sql_err;
use crate::store::StoreError;

/// WAL frames (1 KiB pages) after which a checkpoint is run: about 4 MiB.
const CHECKPOINT_FRAMES: i32 = 4000;

/// Tracks the WAL size and whether a checkpoint is already under way.
#[derive(Debug)]
pub struct Checkpointer {
    frames: Arc<AtomicI32>,
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
            running: AtomicBool::new(false),
            path,
            conn: Mutex::new(None),
        })
    }

    /// Whether a checkpoint is due and not yet running; if so, the caller runs
    /// it and calls [`Checkpointer::release`] afterwards.
    pub fn claim(&self) -> bool {
        self.frames.load(Ordering::Relaxed) >= CHECKPOINT_FRAMES
            && !self.running.swap(true, Ordering::AcqRel)
    }

    /// Marks the checkpoint as finished.
    pub fn release(&self) {
        self.frames.store(0, Ordering::Relaxed);
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
            *slot = Some(Connection::open_with_flags(&self.path, flags).map_err(sql_err)?);
        }
        match slot.as_mut() {
            Some(conn) => conn
                .wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE)
                .map(|_| ())
                .map_err(sql_err),
            None => Ok(()),
        }
    }
}
