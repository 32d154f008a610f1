//! What SQLite's errors mean to the rest of the crate: busy, missing, a
//! broken constraint, a damaged file. Nothing of rusqlite leaves the backend.

use rusqlite::ErrorCode;

use super::StoreError;

/// Translates rusqlite errors into meanings; nothing rusqlite leaves this module.
pub(crate) fn sql_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Busy,
            ErrorCode::ConstraintViolation => match f.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::NotFound,
                _ => StoreError::Duplicate(Box::new(e)),
            },
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Backend(Box::new(e)),
        },
        _ => StoreError::Backend(Box::new(e)),
    }
}
