//! The process's redaction engine, compiled once in the background.
//!
//! Compiling every rule takes longer than the rest of start-up together, and
//! the first message usually arrives well after `initialize`; so the server
//! starts compiling on a thread at launch and the first redaction waits for it
//! only if it comes first. User patterns were already validated when the
//! configuration was loaded, so compiling here cannot fail for a bad regex.

use std::sync::{Arc, OnceLock};

use crate::redact::{RedactionSettings, Redactor};

/// A lazily compiled [`Redactor`] shared by every call.
pub struct SharedRedactor {
    cell: OnceLock<Redactor>,
    settings: RedactionSettings,
}

impl SharedRedactor {
    /// A handle that compiles `settings` on first use.
    pub fn new(settings: RedactionSettings) -> Arc<Self> {
        Arc::new(Self {
            cell: OnceLock::new(),
            settings,
        })
    }

    /// Starts compiling on a background thread.
    pub fn warm_up(self: &Arc<Self>) {
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("redactor".into())
            .spawn(move || {
                me.get();
            });
        if let Err(e) = spawned {
            tracing::debug!(error = %e, "cannot pre-compile the redactor; it compiles on first use");
        }
    }

    /// The engine, compiling it now if nobody has yet.
    pub fn get(&self) -> &Redactor {
        self.cell.get_or_init(|| match Redactor::new(&self.settings) {
            Ok(r) => r,
            Err(e) => {
                // Unreachable after config validation; never run without redaction.
                tracing::error!(error = %e, "user redaction patterns failed to compile; using the built-in rules only");
                Redactor::builtin()
            }
        })
    }
}
