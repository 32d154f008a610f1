//! What the tests read back from the database, on either store: counts and
//! rows, the state a refused call must leave unchanged, and the audit trail's
//! integrity and refusals.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::util::{Conv, TestEnv};

/// Runs `sql` (one integer result) on the database `db` names: an SQLite
/// file (read-only) or a PostgreSQL URL.
pub fn count_in(db: &Path, sql: &str) -> i64 {
    let name = db.to_string_lossy();
    if name.starts_with("postgres://") {
        let out = crate::util_pg::sql(&name, sql);
        return out
            .parse()
            .unwrap_or_else(|e| panic!("{sql}: {out:?}: {e}"));
    }
    open_read_only(db)
        .query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// [`TestEnv::query`] on the database `db` names: an SQLite file (opened
/// read-only) or a PostgreSQL URL.
pub fn query_in(db: &Path, sql: &str) -> Vec<Vec<Option<String>>> {
    let name = db.to_string_lossy();
    if name.starts_with("postgres://") {
        return crate::util_pg::rows(&name, sql);
    }
    let db = open_read_only(db);
    let mut stmt = db.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let columns = stmt.column_count();
    stmt.query_map([], |r| {
        (0..columns)
            .map(|i| {
                use rusqlite::types::ValueRef;
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => None,
                    ValueRef::Integer(v) => Some(v.to_string()),
                    ValueRef::Real(v) => Some(v.to_string()),
                    ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
                })
            })
            .collect()
    })
    .and_then(|rows| rows.collect())
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Opens `path` read-only.
pub fn open_read_only(path: &Path) -> rusqlite::Connection {
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    conn.busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    conn
}

/// Counts the rows of `table` (a fixed table name from the schema).
pub fn rows(env: &TestEnv, table: &str) -> i64 {
    env.count(&format!("SELECT count(*) FROM {table}"))
}

/// A snapshot of everything a refused call must leave unchanged.
#[derive(Debug, PartialEq, Eq)]
pub struct StoreState {
    conversations: i64,
    messages: i64,
    pending: i64,
    /// Each participant's heartbeat: conversation, side, status, note, time.
    statuses: Vec<Vec<Option<String>>>,
}

/// Reads the state a refused call must not change (everything but the audit log and quotas).
pub fn store_state(env: &TestEnv) -> StoreState {
    StoreState {
        conversations: rows(env, "conversations"),
        messages: rows(env, "messages"),
        pending: rows(env, "pending_deliveries"),
        statuses: env.query(
            "SELECT conversation_id, side, status, note, status_at FROM participants ORDER BY 1, 2",
        ),
    }
}

/// Asserts that `v` is one of the tests' own ids or names ([A-Za-z0-9_ -]),
/// so it can be inlined into SQL that runs on both stores.
pub fn plain(v: &str) -> &str {
    assert!(
        v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' ')),
        "unexpected characters in {v:?}"
    );
    v
}

/// How many long-polls (`check_messages` calls that spent quota) `side` of
/// `conv` started in the current minute, from the rate-limit counters.
pub fn polls_started(env: &TestEnv, conv: &Conv, side: &str) -> i64 {
    // `window` is a reserved word in PostgreSQL: quoted, it reads on both.
    env.count(&format!(
        "SELECT coalesce(sum(count), 0) FROM rate_buckets
         WHERE conversation_id = '{}' AND side = '{}' AND class = 'check_messages'
           AND \"window\" = 'minute'",
        plain(&conv.id),
        plain(side)
    ))
}

/// Runs `mcp-bridge audit --verify --json` and fails with `context` unless the
/// chain is intact; returns the report.
pub fn assert_audit_intact(env: &TestEnv, context: &str) -> Value {
    let verify = env
        .bridge()
        .args(["audit", "--verify", "--json", "--db"])
        .arg(&env.db)
        .output()
        .expect("run audit --verify");
    let report: Value = serde_json::from_slice(&verify.stdout).expect("audit --verify --json");
    assert!(
        verify.status.success() && report["intact"] == true,
        "{context}: {report}"
    );
    report
}

/// How many refused calls with `code` the audit trail holds for `conv`:
/// one per plain record, plus the count of each summary of folded repeats
/// (`detail` starting with `repeated=`). Read after the servers have exited,
/// since the last summaries are appended then.
pub fn refused_calls(env: &TestEnv, conv: Option<&str>, code: &str) -> i64 {
    // Ids and codes are the tests' own ([a-z0-9_] only), so they are inlined
    // and the same query runs on SQLite and on PostgreSQL.
    let safe = |v: &str| v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    assert!(safe(code) && conv.is_none_or(safe), "unexpected characters");
    let conv_filter = conv.map_or(String::new(), |c| format!(" AND conversation_id = '{c}'"));
    env.count(&format!(
        "SELECT coalesce(sum(CASE WHEN detail LIKE 'repeated=%' THEN count ELSE 1 END), 0)
         FROM audit_log WHERE code = '{code}'{conv_filter} AND seq < 9223372036854775807"
    ))
}

/// Gives a database file made by a test (and its `-wal`/`-shm`, if any) the
/// private mode the bridge insists on: rusqlite creates them with the umask.
pub fn make_private(db: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        if std::path::Path::new(&path).exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .expect("chmod 600");
        }
    }
}

/// The schema version a current server migrates to: one per SQLite migration file.
pub fn migrations() -> i64 {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
    let files = std::fs::read_dir(dir).expect("migrations directory");
    i64::try_from(files.count()).expect("few migrations")
}
