//! How long this process waits on other processes' locks, whatever the
//! store: servers wait long enough to outlast any other writer's
//! transaction, while a hook (`mcp-bridge inbox`), run on every prompt of an
//! agent, gives up within half a second rather than hold its agent up.
//!
//! Process-wide rather than per connection: rusqlite's busy handler is a
//! plain `fn`, and a command that needs a brief patience needs it for
//! everything it opens.

use std::sync::atomic::{AtomicBool, Ordering};

/// How long this process waits for a lock another process holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockPatience {
    /// About ten seconds (the default): a server's call outlasts any other
    /// writer's transaction rather than fail.
    Patient,
    /// About half a second: a client's hook gives up rather than stall.
    Brief,
}

static BRIEF: AtomicBool = AtomicBool::new(false);

/// Sets how long this process waits for other processes' locks; call it
/// before opening a database. Only a short-lived command that must not stall
/// its caller shortens it; servers keep the default.
pub fn set_lock_patience(patience: LockPatience) {
    BRIEF.store(patience == LockPatience::Brief, Ordering::Relaxed);
}

/// This process's patience.
pub fn lock_patience() -> LockPatience {
    if BRIEF.load(Ordering::Relaxed) {
        LockPatience::Brief
    } else {
        LockPatience::Patient
    }
}
