//! When the WAL is folded back into the database file.
//!
//! SQLite's automatic checkpoint runs inside the `COMMIT` that crosses the
//! threshold, so that commit — and the long-poll wake-up that follows it —
//! waits for the checkpoint's page copies and fsyncs (milliseconds). Instead a
//! WAL hook only records the WAL's size, and the store checkpoints (PASSIVE:
//! never blocking other connections) on a separate task after the commit has
//! been announced. Every process does this for its own commits, so the WAL
//! stays bounded as long as any process writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;

use super::sql_err;
use crate::store::StoreError;

/// WAL frames (1 KiB pages) after which a checkpoint is run: about 4 MiB.
const CHECKPOINT_FRAMES: i32 = 4000;

/// Tracks the WAL size and whether a checkpoint is already under way.
#[derive(Debug)]
pub struct Checkpointer {
    frames: Arc<AtomicI32>,
    running: AtomicBool,
}

impl Checkpointer {
    /// Replaces SQLite's automatic checkpoint on `conn` with size tracking.
    ///
    /// # Errors
    /// When the hook cannot be registered.
    pub fn install(conn: &mut Connection) -> Result<Self, StoreError> {
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

/// Runs a passive checkpoint on `conn`.
///
/// # Errors
/// When SQLite reports an error other than being busy.
pub fn run(conn: &mut Connection) -> Result<(), StoreError> {
    conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE)
        .map(|_| ())
        .map_err(sql_err)
}
