//! What a backup file must hold before it may replace a database: exactly
//! the schema objects this build's migrations create for its schema version
//! (same type, name, table and SQL) and nothing else — a trigger, view,
//! index or table of anyone else's could divert or leak messages once it is
//! restored — counters small enough that the next message id or audit
//! sequence number cannot run out, and no rows the bridge could not have
//! written (orphans, impossible sides, delivery leases that would hide an
//! inbox for longer than any reader holds one, YOLO activations and
//! approvals lasting longer than any setting allows), which would break reads
//! or deliveries, or keep a command runnable, once restored.

use rusqlite::{Connection, OpenFlags};

use super::super::open::MIGRATIONS;
use super::super::sql_err;
use crate::domain::{MAX_TTL_MICROS, Timestamp};
use crate::store::StoreError;

/// Largest message id, id floor or audit sequence number a backup may hold
/// (2^53, as on import): new ones are one more than the largest used.
const MAX_COUNTER: i64 = 1 << 53;

/// How far past the time of the check a delivery lease in a backup may end.
/// A reader's lease lasts 20 seconds (`service::LEASE`), so one taken just
/// before the backup has lapsed by the time it is restored; a day leaves room
/// for clocks that disagree. A later one hid the recipient's inbox (every
/// message after a leased one waits for it) until it ended: for good, at
/// 9·10^18 µs.
const MAX_LEASE_AHEAD_MICROS: i64 = 24 * 60 * 60 * 1_000_000;

/// One row of `sqlite_master`: type, name, table, SQL.
type Object = (String, String, String, Option<String>);

fn objects(conn: &Connection) -> Result<Vec<Object>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        .map_err(sql_err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(sql_err)?;
    rows.collect::<Result<_, _>>().map_err(sql_err)
}

/// The objects the migrations up to `version` create, from a scratch
/// in-memory database.
fn expected(version: i64) -> Result<Vec<Object>, StoreError> {
    let conn = Connection::open_with_flags(":memory:", OpenFlags::default()).map_err(sql_err)?;
    let upto = usize::try_from(version).unwrap_or(0).min(MIGRATIONS.len());
    for script in &MIGRATIONS[..upto] {
        conn.execute_batch(script).map_err(sql_err)?;
    }
    objects(&conn)
}

/// Every way the schema of `conn` (at `version`) differs from what the
/// bridge creates, each naming the object.
pub(super) fn foreign_objects(conn: &Connection, version: i64) -> Result<Vec<String>, StoreError> {
    let want = expected(version)?;
    let have = objects(conn)?;
    let mut out = Vec::new();
    for object in &have {
        if want.contains(object) {
            continue;
        }
        let (kind, name, _, _) = object;
        if want.iter().any(|w| &w.0 == kind && &w.1 == name) {
            out.push(format!(
                "{kind} `{name}` differs from the one mcp-bridge creates"
            ));
        } else {
            out.push(format!("{kind} `{name}` was not created by mcp-bridge"));
        }
    }
    for (kind, name, _, _) in &want {
        if !have.iter().any(|h| &h.0 == kind && &h.1 == name) {
            out.push(format!("{kind} `{name}` is missing"));
        }
    }
    Ok(out)
}

/// Counters above [`MAX_COUNTER`]; call only on a schema without foreign objects.
pub(super) fn counters_out_of_range(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let checks = [
        ("message id", "SELECT max(id) FROM messages"),
        (
            "message id floor",
            "SELECT max(value) FROM meta WHERE key = 'message_id_floor'",
        ),
        (
            "audit sequence number",
            "SELECT max(seq) FROM audit_log WHERE seq < 9223372036854775807",
        ),
        (
            "audit chain head",
            "SELECT max(count) FROM audit_log WHERE seq = 9223372036854775807",
        ),
    ];
    let mut out = Vec::new();
    for (what, sql) in checks {
        let value: Option<i64> = conn.query_row(sql, [], |r| r.get(0)).map_err(sql_err)?;
        if let Some(v) = value.filter(|v| !(0..=MAX_COUNTER).contains(v)) {
            out.push(format!("holds a {what} of {v}, outside 0 to 2^53"));
        }
    }
    Ok(out)
}

/// Rows that no bridge writes and that break reads or deliveries once
/// restored: rows of a conversation that does not exist, deliveries of a
/// message that does not exist or to a side that is not a participant,
/// sides that are not one lowercase letter, an owner other than side `a`.
/// Domain rules that need the key (sealed values) are checked by the service
/// on a staged copy.
pub(super) fn impossible_rows(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let has_kind: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('participants') WHERE name = 'kind'",
            [],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    let mut checks = vec![
        (
            "participants of a conversation that does not exist",
            "SELECT count(*) FROM participants p
             WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = p.conversation_id)",
        ),
        (
            "messages of a conversation that does not exist",
            "SELECT count(*) FROM messages m
             WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = m.conversation_id)",
        ),
        (
            "messages from a side that is not a participant",
            "SELECT count(*) FROM messages m WHERE m.from_side <> 'system' AND NOT EXISTS
             (SELECT 1 FROM participants p
              WHERE p.conversation_id = m.conversation_id AND p.side = m.from_side)",
        ),
        (
            "pending deliveries of a message that does not exist in their conversation",
            "SELECT count(*) FROM pending_deliveries d WHERE NOT EXISTS
             (SELECT 1 FROM messages m WHERE m.id = d.message_id AND m.conversation_id = d.conversation_id)",
        ),
        (
            "pending deliveries to a side that is not a participant",
            "SELECT count(*) FROM pending_deliveries d WHERE NOT EXISTS
             (SELECT 1 FROM participants p
              WHERE p.conversation_id = d.conversation_id AND p.side = d.recipient)",
        ),
        (
            "participants whose side is not one lowercase letter",
            "SELECT count(*) FROM participants WHERE side NOT GLOB '[a-z]'",
        ),
    ];
    if has_kind > 0 {
        checks.push((
            "participants whose kind does not fit their side (the owner is side a, and only side a)",
            "SELECT count(*) FROM participants WHERE (kind = 'owner') <> (side = 'a')",
        ));
    }
    let mut out = Vec::new();
    for (what, sql) in checks {
        let n: i64 = conn.query_row(sql, [], |r| r.get(0)).map_err(sql_err)?;
        if n > 0 {
            out.push(format!("{n} {what}"));
        }
    }
    Ok(out)
}

/// Deliveries leased until more than [`MAX_LEASE_AHEAD_MICROS`] after `now`;
/// call only on a schema without foreign objects (its tables are STRICT, so
/// a lease is an integer or none).
pub(super) fn leases_out_of_range(
    conn: &Connection,
    now: Timestamp,
) -> Result<Vec<String>, StoreError> {
    let bound = now.plus_micros(MAX_LEASE_AHEAD_MICROS);
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM pending_deliveries WHERE lease_until > ?1",
            [bound.as_micros()],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    Ok(if n > 0 {
        vec![format!(
            "{n} pending deliveries leased until after {bound}, more than a day from now (a reader's lease lasts 20 seconds; restored, such a lease hides the recipient's inbox, new messages too, until it ends)"
        )]
    } else {
        Vec::new()
    })
}

/// YOLO rows whose times no configuration could have written: a start
/// (request, confirmation, proposal, decision, use, snapshot) more than a day
/// after `now`, or an activation or approval ending more than the largest
/// `*_minutes` setting ([`MAX_TTL_MICROS`], ten years) after it began. Such a
/// row kept a mode active, or an approval redeemable, for as long as the file
/// said: a backup edited to end both in the year 3000 ran an approved command
/// long after its approval had lapsed. Call only on a schema without foreign
/// objects (STRICT tables: every time is an integer or none).
pub(super) fn yolo_times_out_of_range(
    conn: &Connection,
    now: Timestamp,
) -> Result<Vec<String>, StoreError> {
    let has_yolo: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'yolo_activations'",
            [],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    if has_yolo == 0 {
        return Ok(Vec::new());
    }
    let latest_start = now.plus_micros(MAX_LEASE_AHEAD_MICROS).as_micros();
    let checks = [
        (
            "YOLO activations requested or confirmed more than a day from now",
            "SELECT count(*) FROM yolo_activations WHERE requested_at > ?1 OR confirmed_at > ?1",
        ),
        (
            "YOLO activations ending more than ten years (the longest yolo.activation_minutes) after they began: restored, the mode would stay active that long",
            "SELECT count(*) FROM yolo_activations
             WHERE expires_at > max(requested_at, coalesce(confirmed_at, requested_at)) + ?2",
        ),
        (
            "YOLO proposals created, decided or used more than a day from now",
            "SELECT count(*) FROM yolo_proposals
             WHERE created_at > ?1 OR decided_at > ?1 OR used_at > ?1",
        ),
        (
            "YOLO approvals ending more than ten years (the longest yolo.approval_minutes) after they were given, or never given: restored, the command could run that long",
            "SELECT count(*) FROM yolo_proposals WHERE approval_expires_at IS NOT NULL
             AND (decided_at IS NULL OR approval_expires_at > decided_at + ?2)",
        ),
        (
            "YOLO snapshots taken more than a day from now",
            "SELECT count(*) FROM yolo_snapshots WHERE created_at > ?1",
        ),
    ];
    let mut out = Vec::new();
    for (what, sql) in checks {
        // ?1 is the latest start, ?2 the longest duration; a statement
        // counts parameters up to the highest number it uses.
        let mut stmt = conn.prepare(sql).map_err(sql_err)?;
        let mut args: Vec<i64> = Vec::new();
        for i in 1..=stmt.parameter_count() {
            args.push(if i == 1 { latest_start } else { MAX_TTL_MICROS });
        }
        let n: i64 = stmt
            .query_row(rusqlite::params_from_iter(args), |r| r.get(0))
            .map_err(sql_err)?;
        if n > 0 {
            out.push(format!("{n} {what}"));
        }
    }
    Ok(out)
}
