//! The frames VFS against SQLite's own reading of the WAL: what one connection
//! commits through it, another sees at once, and a copy of the files taken
//! without a checkpoint recovers whole (recovery checks every frame's header
//! and checksum, so a header written late, twice or not at all loses data).

use rusqlite::{Connection, OpenFlags, params};

use super::{JOINED, vfs};

fn writer(path: &std::path::Path) -> Connection {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags_and_vfs(path, flags, vfs().unwrap()).unwrap();
    conn.execute_batch(
        "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL);
         CREATE INDEX t_by_v ON t (v);",
    )
    .unwrap();
    conn
}

/// Rows as (id, value) in id order.
fn rows(conn: &Connection) -> Vec<(i64, Vec<u8>)> {
    let mut stmt = conn.prepare("SELECT id, v FROM t ORDER BY id").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Like `assert_eq!` on rows, naming the first difference instead of printing
/// hundreds of rows.
fn assert_rows(got: Vec<(i64, Vec<u8>)>, expected: &[(i64, Vec<u8>)], when: &str) {
    let first = got.iter().zip(expected).position(|(a, b)| a != b);
    assert!(
        first.is_none() && got.len() == expected.len(),
        "{when}: {} rows against {} expected, first difference at row {first:?}",
        got.len(),
        expected.len()
    );
}

fn value(i: i64, len: usize) -> Vec<u8> {
    (0..len).map(|k| (i as usize * 31 + k) as u8).collect()
}

#[test]
fn commits_through_the_vfs_read_back_in_another_connection_and_after_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frames.db");
    let conn = writer(&path);
    let reader = Connection::open(&path).unwrap();
    let mut expected = Vec::new();
    // Small commits (one to a few frames each), as a send makes.
    // Checkpointed, so the loop's first commit starts the WAL over.
    conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)")
        .unwrap();
    let joined_before = JOINED.with(|n| n.get());
    for i in 0..300i64 {
        let v = value(i, 40 + (i as usize % 700));
        conn.execute("INSERT INTO t (id, v) VALUES (?1, ?2)", params![i, v])
            .unwrap();
        expected.push((i, v));
        if i % 37 == 0 {
            assert_rows(rows(&reader), &expected, &format!("after commit {i}"));
        }
    }
    // One writer appends every frame right after its last page, so all but
    // the first (after the WAL's own header) are written whole.
    let frames: i64 = conn
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
        .unwrap();
    let joined = JOINED.with(|n| n.get()) - joined_before;
    assert!(
        joined as i64 == frames - 1 && frames >= 300,
        "{joined} of {frames} frames written whole"
    );
    // A transaction larger than the page cache: SQLite spills frames before
    // the commit and, writing a spilled page again, overwrites its frame and
    // rewrites the checksums of every frame after it.
    conn.execute_batch("PRAGMA cache_size = 8").unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for i in 300..700i64 {
        let v = value(i, 300);
        tx.execute("INSERT INTO t (id, v) VALUES (?1, ?2)", params![i, v])
            .unwrap();
        expected.push((i, v));
    }
    tx.execute("UPDATE t SET v = ?1 WHERE id = 1", params![value(7, 90)])
        .unwrap();
    expected[1].1 = value(7, 90);
    tx.commit().unwrap();
    assert_rows(rows(&reader), &expected, "after the spilled transaction");
    assert_recovers(dir.path(), "after the spilled transaction", &expected);
    // A rolled-back transaction leaves nothing.
    let tx = conn.unchecked_transaction().unwrap();
    for i in 700..900i64 {
        tx.execute(
            "INSERT INTO t (id, v) VALUES (?1, ?2)",
            params![i, value(i, 300)],
        )
        .unwrap();
    }
    drop(tx);
    conn.execute(
        "INSERT INTO t (id, v) VALUES (?1, ?2)",
        params![900, value(900, 5)],
    )
    .unwrap();
    expected.push((900, value(900, 5)));
    assert_rows(rows(&reader), &expected, "after the rollback");

    assert_recovers(dir.path(), "at the end", &expected);
}

/// The files as a crash would leave them, copied aside: recovery rebuilds the
/// index from the WAL alone, checking each frame's header and checksum.
fn assert_recovers(dir: &std::path::Path, when: &str, expected: &[(i64, Vec<u8>)]) {
    let copy = dir.join("copy.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("copy.db{suffix}")));
    }
    std::fs::copy(dir.join("frames.db"), &copy).unwrap();
    std::fs::copy(dir.join("frames.db-wal"), dir.join("copy.db-wal")).unwrap();
    let recovered = Connection::open(&copy).unwrap();
    assert_rows(
        rows(&recovered),
        expected,
        &format!("recovered from the WAL {when}"),
    );
    let check: String = recovered
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn a_checkpoint_and_a_restarted_wal_keep_every_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frames.db");
    let conn = writer(&path);
    let mut expected = Vec::new();
    for round in 0..4i64 {
        for i in 0..50i64 {
            let id = round * 100 + i;
            let v = value(id, 200);
            conn.execute("INSERT INTO t (id, v) VALUES (?1, ?2)", params![id, v])
                .unwrap();
            expected.push((id, v));
        }
        // The next commit starts the WAL over from its header.
        let (busy, _, _): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(busy, 0);
    }
    drop(conn);
    let reopened = Connection::open(&path).unwrap();
    assert_rows(rows(&reopened), &expected, "reopened");
}
