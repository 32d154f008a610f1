//! What can go wrong in a store, by meaning, and how a log line says a
//! failure with every cause under it.

use crate::domain::Side;
use crate::ratelimit;

use super::limit;

/// What can go wrong in a backend, by meaning.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The conversation (or other row) does not exist.
    #[error("not found")]
    NotFound,
    /// An action that cannot go ahead as things stand, in words for its
    /// caller (e.g. a proposal no longer pending, a name already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database refused a row whose key another row holds (e.g. a drawn
    /// id taken meanwhile). The driver's text names tables and columns: it
    /// is for the log and the operator, and the service answers agents
    /// `internal_error` instead.
    #[error("a stored row already holds this key: {0}")]
    Duplicate(Box<dyn std::error::Error + Send + Sync>),
    /// The database stayed locked by other processes past the busy timeout.
    #[error("the database is busy; try again")]
    Busy,
    /// A rate-limit window is full; nothing was done.
    #[error("rate limit reached for the {} window", .0.window.as_str())]
    QuotaExceeded(ratelimit::Refusal),
    /// A resource bound was reached; nothing was done.
    #[error("limit reached: {what} (limit {limit})")]
    LimitReached {
        /// Which bound, in words.
        what: &'static str,
        /// Its value.
        limit: u32,
    },
    /// Recipients of a message already hold `limit` unread messages
    /// (`limits.max_pending_messages`); nothing was done.
    #[error("limit reached: {} (limit {limit})", limit::UNREAD)]
    InboxFull {
        /// Each full inbox: its session id and role.
        full: Vec<(Side, String)>,
        /// The bound.
        limit: u32,
    },
    /// The database was written by a newer mcp-bridge.
    #[error(
        "the database has schema version {found}, newer than the {supported} this mcp-bridge supports; upgrade mcp-bridge"
    )]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Latest version this build knows.
        supported: i64,
    },
    /// Stored data does not decode (hand-edited or corrupt database).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// No connection to the database could be made (refused, or no answer
    /// within the connect timeout). Nothing was sent, so nothing was done:
    /// the caller may retry as it is.
    #[error("the database cannot be reached: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else from the backend.
    #[error("storage failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// `e` and every cause under it, each said once: what a log line needs of a
/// storage failure. The driver's error says only `db error`; PostgreSQL's
/// own reason (`FATAL: remaining connection slots are reserved`, `could not
/// extend file … No space left on device`) is its source, and operators
/// could not tell a full disk from a restart.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod error_chain_tests {
    use std::fmt;

    use super::{StoreError, error_chain};

    #[derive(Debug)]
    struct Server;
    impl fmt::Display for Server {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("FATAL: could not extend file: No space left on device")
        }
    }
    impl std::error::Error for Server {}

    #[derive(Debug)]
    struct Driver(Server);
    impl fmt::Display for Driver {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("db error")
        }
    }
    impl std::error::Error for Driver {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_cause_is_said_once_and_the_databases_reason_is_kept() {
        let e = StoreError::Backend(Box::new(Driver(Server)));
        assert_eq!(
            error_chain(&e),
            "storage failure: db error: FATAL: could not extend file: No space left on device"
        );
    }
}
