//! Opening a SQLite database: private files, connection settings, migrations.
//!
//! The bridge sets the mode of the files it creates (directory 0700, database
//! 0600) and never changes the mode of a file it finds: an existing path must
//! already be a private SQLite database (or an empty private file), else the
//! open is refused with what to do, before SQLite touches it.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::sql_err;
use crate::audit::AuditKey;
use crate::store::patience::{LockPatience, lock_patience};
use crate::store::{StoreError, rekey};
use rusqlite::types::Value;

/// Forward migrations; entry `i` takes the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/sqlite/0001_init.sql"),
    include_str!("../../../migrations/sqlite/0002_yolo.sql"),
    include_str!("../../../migrations/sqlite/0003_delivery_leases.sql"),
    include_str!("../../../migrations/sqlite/0004_keyed_audit.sql"),
    include_str!("../../../migrations/sqlite/0005_teams.sql"),
    include_str!("../../../migrations/sqlite/0006_console.sql"),
    include_str!("../../../migrations/sqlite/0007_data_keys.sql"),
    include_str!("../../../migrations/sqlite/0008_http_tokens.sql"),
    include_str!("../../../migrations/sqlite/0009_console_sessions.sql"),
    include_str!("../../../migrations/sqlite/0010_mcp_sessions.sql"),
    include_str!("../../../migrations/sqlite/0011_http_request_buckets.sql"),
    include_str!("../../../migrations/sqlite/0012_legacy_plaintext.sql"),
    include_str!("../../../migrations/sqlite/0013_keyed_credentials.sql"),
    include_str!("../../../migrations/sqlite/0014_hidden_paths.sql"),
];

/// The version whose migration makes the audit chain keyed: its head must be
/// signed with the key in the migrating transaction.
const KEYED_AUDIT_VERSION: usize = 4;

/// The version whose migration marks plaintext from before encryption at
/// rest as legitimate, if it finds any (see `store::data_keys::legacy_mark`).
const LEGACY_PLAINTEXT_VERSION: usize = 12;

/// The version whose migration keys the stored credential hashes (see
/// `store::rekey`).
const KEYED_CREDENTIALS_VERSION: usize = 13;

/// The oldest schema a backup may have to be restored: the migrations up to
/// it vouch for what they find (see `FileCheck`).
pub const OLDEST_RESTORABLE_SCHEMA: i64 = KEYED_CREDENTIALS_VERSION as i64;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How hard a commit tries to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// WAL with `synchronous=NORMAL`: survives a crash of any process; the
    /// last commits may be lost on power failure.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is fsynced; survives power loss.
    Full,
}

/// Whether a missing database may be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the directory (0700) and database (0600) as needed, and migrate.
    Create,
    /// The database must exist already; still migrated forward.
    Existing,
}

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Why an existing path is not opened.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

fn refused(text: String) -> StoreError {
    StoreError::Backend(Box::new(Refused(text)))
}

/// Checks a path that exists before SQLite opens it: a regular file holding
/// an SQLite database (or nothing yet) that only its owner may read. Reads
/// its first 16 bytes; changes nothing.
///
/// # Errors
/// A refusal naming the path and the fix, or the I/O failure.
pub fn check_existing(path: &Path) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::Backend(Box::new(e));
    let meta = fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(refused(format!(
            "{} is not a regular file, so it is not an SQLite database; give the path of a database file",
            path.display()
        )));
    }
    let mut head = Vec::with_capacity(16);
    fs::File::open(path)
        .map_err(io)?
        .take(16)
        .read_to_end(&mut head)
        .map_err(io)?;
    if !head.is_empty() && head != SQLITE_HEADER {
        return Err(refused(format!(
            "{} is not an SQLite database; mcp-bridge leaves it untouched (give the path of a bridge database, or of a file that does not exist yet)",
            path.display()
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(refused(format!(
            "{path} has mode {mode:03o}; other users could read every message. Run `chmod 600 {path}` (and make its directory private) if it is yours",
            path = path.display()
        )));
    }
    Ok(())
}

/// Creates the directory and an empty database file with private permissions,
/// so SQLite never creates them with the process umask. SQLite gives the
/// `-wal` and `-shm` files the database file's permissions.
pub fn prepare_files(path: &Path) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::Backend(Box::new(e));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check_existing(path),
        Err(e) => Err(io(e)),
    }
}

thread_local! {
    /// Whether the busy handler may sleep on this thread. Off by default, so an
    /// operation tried on the async runtime's thread fails fast with
    /// `SQLITE_BUSY` instead of stalling every other request.
    static MAY_WAIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with waiting for locks allowed on this thread.
pub fn allow_waiting<T>(f: impl FnOnce() -> T) -> T {
    MAY_WAIT.with(|w| w.set(true));
    let out = f();
    MAY_WAIT.with(|w| w.set(false));
    out
}

/// Tries of [`busy_wait`] a patience allows: its sleeps grow to 2 ms after
/// 40 tries (about 40 ms in all), so each try after that adds 2 ms.
const fn attempts(patience: LockPatience) -> i32 {
    match patience {
        LockPatience::Patient => 5_100,
        LockPatience::Brief => 270,
    }
}

/// How long opening the database is tried again while it answers busy.
const fn opening(patience: LockPatience) -> Duration {
    match patience {
        LockPatience::Patient => Duration::from_secs(10),
        LockPatience::Brief => Duration::from_millis(500),
    }
}

/// Waits on a locked database: short sleeps first (a commit takes tens of
/// microseconds), growing to 2 ms, for as long as this process's
/// [`LockPatience`] allows. SQLite's own busy timeout sleeps in steps of up
/// to 100 ms, which would make a waiting writer miss the lock many times
/// over under contention.
fn busy_wait(attempt: i32) -> bool {
    if attempt >= attempts(lock_patience()) || !MAY_WAIT.with(std::cell::Cell::get) {
        return false;
    }
    std::thread::sleep(pause(attempt));
    true
}

/// How long [`busy_wait`] sleeps before its try number `attempt`.
fn pause(attempt: i32) -> Duration {
    Duration::from_micros((50 * (u64::try_from(attempt).unwrap_or(0) + 1)).min(2_000))
}

/// Opens `path`, configures the connection and brings the schema up to date.
///
/// # Errors
/// [`StoreError::NotFound`] for a missing database in [`OpenMode::Existing`],
/// [`StoreError::SchemaTooNew`] for a database from a newer build, and
/// backend errors for unreadable or corrupt files.
pub fn open(
    path: &Path,
    mode: OpenMode,
    durability: Durability,
    audit_key: &AuditKey,
) -> Result<Connection, StoreError> {
    // Servers started together on a new database (a client launching two at
    // once) race to create it, and some of SQLite's steps there (switching
    // a fresh file to WAL, its first WAL recovery) answer SQLITE_BUSY without
    // consulting the busy handler. Every step is idempotent, so the whole
    // open is tried again for a while.
    let patience = opening(lock_patience());
    let started = std::time::Instant::now();
    loop {
        // Opening happens once, off the hot path: waiting for other processes is fine.
        match allow_waiting(|| open_once(path, mode, durability, audit_key)) {
            Err(StoreError::Busy) if started.elapsed() < patience => {
                std::thread::sleep(Duration::from_millis(20));
            }
            done => return done,
        }
    }
}

fn open_once(
    path: &Path,
    mode: OpenMode,
    durability: Durability,
    audit_key: &AuditKey,
) -> Result<Connection, StoreError> {
    match mode {
        OpenMode::Create => prepare_files(path)?,
        OpenMode::Existing if !path.exists() => return Err(StoreError::NotFound),
        OpenMode::Existing => check_existing(path)?,
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn =
        Connection::open_with_flags_and_vfs(path, flags, super::frames::vfs()?).map_err(sql_err)?;
    conn.busy_handler(Some(busy_wait)).map_err(sql_err)?;
    // Small pages: every commit writes each page it touched to the WAL, and a
    // typical call touches three or four, each holding a few hundred bytes of
    // new data. 1 KiB pages halve the cost of a commit compared with 4 KiB.
    // (Takes effect only when the file is new; WAL mode fixes it afterwards.)
    conn.execute_batch("PRAGMA page_size = 1024")
        .map_err(sql_err)?;
    let journal: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(sql_err)?;
    if !journal.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "cannot switch the database to WAL mode (got {journal})"
        )));
    }
    let synchronous = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"
    ))
    .map_err(sql_err)?;
    // The bundled SQLite has STAT4, whose planner may look at bound values; a
    // statement whose plan depended on one is re-prepared on every new binding,
    // which made each call parse and plan its SQL again. The query-planner
    // stability guarantee keeps plans value-independent, so cached statements
    // stay compiled.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(sql_err)?;
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&conn, audit_key)?;
    Ok(conn)
}

/// Applies missing migrations in one immediate transaction, re-reading the
/// version under the write lock so two processes starting together migrate once.
fn migrate(conn: &Connection, audit_key: &AuditKey) -> Result<(), StoreError> {
    let version = user_version(conn)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let mut conn_tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(sql_err)?;
    let version = user_version(&conn_tx)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let start = usize::try_from(version).unwrap_or(0);
    for (i, script) in MIGRATIONS.iter().enumerate().skip(start) {
        conn_tx.execute_batch(script).map_err(sql_err)?;
        if i + 1 == KEYED_AUDIT_VERSION {
            super::audit::sign_migrated_head(&conn_tx, audit_key)?;
        }
        if i + 1 == LEGACY_PLAINTEXT_VERSION {
            super::keys::mark_legacy_plaintext(&conn_tx, audit_key)?;
        }
        if i + 1 == KEYED_CREDENTIALS_VERSION {
            rekey_credentials(&conn_tx, audit_key)?;
        }
        tracing::info!(version = i + 1, "database schema migrated");
    }
    conn_tx
        .pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(sql_err)?;
    conn_tx.set_drop_behavior(rusqlite::DropBehavior::Commit);
    conn_tx.commit().map_err(sql_err)
}

/// Replaces every stored credential hash with its keyed form.
fn rekey_credentials(conn: &Connection, key: &AuditKey) -> Result<(), StoreError> {
    let done: i64 = conn
        .query_row("SELECT count(*) FROM keyed_credentials", [], |r| r.get(0))
        .map_err(sql_err)?;
    if done > 0 {
        return Ok(());
    }
    conn.execute(
        "INSERT INTO keyed_credentials (since) VALUES (?1)",
        [SCHEMA_VERSION],
    )
    .map_err(sql_err)?;
    for c in rekey::HASH_COLUMNS {
        let (table, column) = (c.table, c.column);
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {column} FROM {table} WHERE {column} IS NOT NULL"
            ))
            .map_err(sql_err)?;
        let stored = stmt
            .query_map([], |r| r.get::<_, rusqlite::types::Value>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql_err)?;
        let update = format!("UPDATE {table} SET {column} = ?1 WHERE {column} = ?2");
        for old in stored {
            let new = match &old {
                Value::Text(hex) if c.hex => rekey::rekey_hex(key, hex).map(Value::Text),
                Value::Blob(bytes) if !c.hex => {
                    rekey::rekey_bytes(key, bytes).map(|b| Value::Blob(b.to_vec()))
                }
                _ => None,
            };
            if let Some(new) = new {
                conn.execute(&update, rusqlite::params![new, old])
                    .map_err(sql_err)?;
            }
        }
    }
    Ok(())
}

fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_brief_patience_waits_half_a_second_and_a_server_ten() {
        let waited = |p: LockPatience| (0..attempts(p)).map(pause).sum::<Duration>();
        let brief = waited(LockPatience::Brief);
        assert!(
            brief >= Duration::from_millis(450) && brief <= Duration::from_millis(550),
            "{brief:?}"
        );
        let patient = waited(LockPatience::Patient);
        assert!(
            patient >= Duration::from_secs(10) && patient <= Duration::from_millis(10_500),
            "{patient:?}"
        );
    }
}
