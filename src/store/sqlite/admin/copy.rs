//! Copies of whole databases: the online backup (from one snapshot, while
//! other processes write), restore into a live database, the read-only check
//! of a backup file, and whether another process has a database open.
//!
//! A restore checks its source again on the very connection and snapshot it
//! copies from, so a file swapped or changed after `check_file` cannot slip
//! through.

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::super::sql_err;
use super::{ReadTx, corrupt, count, io_err, schema};
use crate::domain::Timestamp;
use crate::store::StoreError;
use crate::store::admin::{CopyProgress, CopyReport, FileCheck};

/// Pages copied per backup step: small enough for a smooth progress bar,
/// large enough that the per-step overhead does not matter.
const PAGES_PER_STEP: i32 = 1024;

/// Byte ranges SQLite's unix VFS locks: in the database file, the pending,
/// reserved and shared bytes (every open WAL-mode connection holds a shared
/// lock there); in the `-shm` file, the dead-man-switch byte every connection
/// holds while it is open.
const DB_LOCK_RANGE: (i64, i64) = (0x4000_0000, 512);
const SHM_DMS_RANGE: (i64, i64) = (128, 1);

/// The tables every bridge database has.
const CORE_TABLES: [&str; 6] = [
    "conversations",
    "participants",
    "messages",
    "meta",
    "pending_deliveries",
    "audit_log",
];

/// Creates `path` anew with mode 0600. Whatever was there (a leftover, or a
/// symlink planted at the name) is removed, never followed, so no file the
/// bridge did not create is truncated or has its mode changed.
fn private_file(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(e)),
        _ => {}
    }
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(io_err)?;
    Ok(())
}

/// Runs an online backup from `from` to `to` step by step, reporting progress.
fn copy(
    from: &Connection,
    to: &mut Connection,
    progress: &CopyProgress,
) -> Result<CopyReport, StoreError> {
    let page_size: i64 = from
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(sql_err)?;
    let backup = Backup::new(from, to).map_err(sql_err)?;
    let mut waited = 0u32;
    loop {
        let step = backup.step(PAGES_PER_STEP).map_err(|e| match &e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ReadOnly => {
                StoreError::Conflict(
                    "the target database has a different page size and is in WAL mode; stop its servers and remove it first"
                        .to_owned(),
                )
            }
            _ => sql_err(e),
        })?;
        let p = backup.progress();
        let total = u64::try_from(p.pagecount).unwrap_or(0);
        let done = total.saturating_sub(u64::try_from(p.remaining).unwrap_or(0));
        progress(done, total);
        match step {
            StepResult::Done => {
                return Ok(CopyReport {
                    pages: total,
                    page_size: count(page_size),
                });
            }
            StepResult::More => waited = 0,
            // Another process holds the lock we need; wait for it (about ten seconds at most).
            _ => {
                waited += 1;
                if waited > 1000 {
                    return Err(StoreError::Busy);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

pub(super) fn backup_to(
    conn: &Connection,
    dest: &Path,
    progress: &CopyProgress,
) -> Result<CopyReport, StoreError> {
    private_file(dest)?;
    let mut target = Connection::open_with_flags(
        dest,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_err)?;
    // Holding a read transaction on the source pins one snapshot for every
    // step: writers in other processes go on (WAL), and the copy never has to
    // restart because of them.
    let snapshot = ReadTx::begin(conn)?;
    snapshot
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(sql_err)?;
    let report = copy(&snapshot, &mut target, progress)?;
    drop(snapshot);
    // A backup is one self-contained file: no `-wal` beside it.
    let mode: String = target
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(sql_err)?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(corrupt(format!(
            "cannot finish the backup file (journal mode {mode})"
        )));
    }
    target.close().map_err(|(_, e)| sql_err(e))?;
    Ok(report)
}

pub(super) fn restore_from(
    conn: &mut Connection,
    src: &Path,
    progress: &CopyProgress,
) -> Result<CopyReport, StoreError> {
    let source = open_read_only(src)?;
    let snapshot = ReadTx::begin(&source)?;
    let check = inspect(&snapshot)?;
    let refusal = check
        .problems
        .first()
        .or(check.unexpected.first())
        .cloned()
        .or_else(|| (!check.is_bridge).then(|| "it is not an mcp-bridge database".to_owned()))
        .or_else(|| {
            (check.schema_version > check.supported_schema_version)
                .then(|| "its schema is newer than this mcp-bridge".to_owned())
        });
    if let Some(why) = refusal {
        return Err(StoreError::Conflict(format!(
            "the backup changed after it was checked: {why}; nothing was restored"
        )));
    }
    copy(&snapshot, conn, progress)
}

fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    if !path.is_file() {
        return Err(StoreError::NotFound);
    }
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_err)
}

pub(super) fn check_file(path: &Path) -> Result<FileCheck, StoreError> {
    let conn = open_read_only(path)?;
    let snapshot = ReadTx::begin(&conn)?;
    inspect(&snapshot)
}

/// Checks an open database: integrity, schema version, the bridge's tables,
/// and anything the bridge would not have written.
fn inspect(conn: &Connection) -> Result<FileCheck, StoreError> {
    let schema_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql_err)?;
    let problems: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>())
        .map_err(sql_err)?;
    let problems = if problems == ["ok"] {
        Vec::new()
    } else {
        problems
    };
    let tables: i64 = conn
        .query_row(
            &format!(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({})",
                CORE_TABLES.map(|t| format!("'{t}'")).join(", ")
            ),
            [],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    let supported_schema_version = super::super::SCHEMA_VERSION;
    let is_bridge = tables == CORE_TABLES.len() as i64;
    let mut unexpected = Vec::new();
    if schema_version <= supported_schema_version {
        unexpected = schema::foreign_objects(conn, schema_version)?;
        if unexpected.is_empty() && is_bridge && problems.is_empty() {
            unexpected = schema::counters_out_of_range(conn)?;
            unexpected.extend(schema::impossible_rows(conn)?);
            // The time of the check, not of a service clock: a file is
            // checked for what it would do once restored now.
            let now = Timestamp::now();
            unexpected.extend(schema::leases_out_of_range(conn, now)?);
            unexpected.extend(schema::yolo_times_out_of_range(conn, now)?);
        }
    }
    Ok(FileCheck {
        problems,
        schema_version,
        supported_schema_version,
        oldest_restorable_schema_version: super::super::OLDEST_RESTORABLE_SCHEMA,
        is_bridge,
        unexpected,
    })
}

/// The process holding a lock on `range` of `path`, if any. Only asks
/// (`F_GETLK`); takes no lock. POSIX locks belong to the process, and closing
/// any descriptor of a file drops all of them, so this must not run while
/// this process has the file open through SQLite.
fn lock_holder(path: &Path, (start, len): (i64, i64)) -> Result<Option<u32>, StoreError> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(e)),
    };
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are valid.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = start as libc::off_t;
    lock.l_len = len as libc::off_t;
    // SAFETY: the descriptor is open for the duration of the call and `lock`
    // is a valid, exclusively borrowed `flock` that F_GETLK fills in.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) };
    if rc != 0 {
        return Err(io_err(std::io::Error::last_os_error()));
    }
    if lock.l_type == libc::F_UNLCK as libc::c_short {
        Ok(None)
    } else {
        Ok(Some(u32::try_from(lock.l_pid).unwrap_or(0)))
    }
}

fn shm_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-shm");
    PathBuf::from(name)
}

/// The id of a process holding the database at `path` open, if any.
pub(super) fn in_use(path: &Path) -> Result<Option<u32>, StoreError> {
    if let Some(pid) = lock_holder(path, DB_LOCK_RANGE)? {
        return Ok(Some(pid));
    }
    lock_holder(&shm_path(path), SHM_DMS_RANGE)
}
